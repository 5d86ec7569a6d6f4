/**
 * `p2pchat client --headless`: the JSON-lines client of docs/CLIENT.md. It only maps
 * lines: stdin lines → commands of the ClientRuntime, runtime events → stdout lines. Nothing else
 * ever goes to stdout (logs go to stderr or a file). EOF on stdin is a clean quit.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { QUIT_LOGOUT_WAIT_MS } from '../../core/limits.ts';
import { type CommandRef, parseCommandLine } from '../../core/peer/commands.ts';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.ts';
import { createLogger } from '../log.ts';
import { realClock } from '../net/real-clock.ts';
import { CuttingTransport } from '../net/cutting-transport.ts';
import { checkPlainTcpAllowed } from '../net/insecure.ts';
import { TcpTransport } from '../net/tcp-transport.ts';
import { makeIdentityCertificate, peerTlsTransport } from '../net/identity-certificate.ts';
import { ServerPins } from './known-servers.ts';
import { type ClientIdentity, loadOrCreateIdentity } from './identity-keys.ts';
import { KnownPeers } from './known-peers.ts';
import { LineSplitter } from '../io/line-splitter.ts';
import { ClientRuntime, type TimedEvent } from './client-runtime.ts';
import { CommandQueue } from './command-queue.ts';
import { HISTORY_DATABASE_FILE, SqliteHistory } from './history-store.ts';
import type { LevelWithSilent, Logger } from 'pino';

/** An input line longer than this is refused (BAD_COMMAND) without being buffered whole. */
export const COMMAND_LINE_BYTES_MAX = 1024 * 1024;

export interface HeadlessOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly p2pHost: string;
  readonly p2pPort: number;
  readonly downloadDir: string;
  readonly autoAcceptChat: boolean;
  readonly autoAcceptFile: boolean;
  readonly fileBytesMax: number;
  readonly logFile: string | null;
  readonly logLevel: LevelWithSilent;
  /**
   * Where the client keeps what outlives a run: known-servers (the pinned server certificates),
   * history.sqlite, identity.json (our identity keys), known-peers.json (the friends' keys we have seen).
   */
  readonly dataDir: string;
  /** Tell friends what the user read (chat.read). */
  readonly readReceipts: boolean;
  /** TLS to the server (default); false is --tls off, plain TCP. */
  readonly tls: boolean;
  /** --server-fingerprint, normalized: the server's certificate pinned up front. */
  readonly serverFingerprint: string | null;
  /** With tls off, connect to a non-loopback server anyway. */
  readonly allowInsecure: boolean;
  /** Fault injection for tests (hidden option): reset the first P2P stream after this many received bytes. */
  readonly faultCutP2pAfterBytes: number | null;
}

function writeEvent(event: TimedEvent | (Record<string, unknown> & { event: string; at: string }), ref?: CommandRef): void {
  const { event: name, at, ...fields } = event;
  process.stdout.write(`${JSON.stringify({ event: name, ...fields, ...(ref === undefined ? {} : { ref }), at })}\n`);
}

export async function runHeadless(options: HeadlessOptions): Promise<void> {
  const logger = createLogger({
    level: options.logLevel,
    destination: options.logFile ?? 'stderr',
    format: 'json',
    base: { component: 'client' },
  });
  if (!options.tls) {
    try {
      checkPlainTcpAllowed('connect to', options.serverHost, options.allowInsecure);
    } catch (error) {
      logger.fatal({ event: 'start.failed', err: error }, 'the client could not start');
      writeEvent({ event: 'error', code: 'INSECURE_ADDRESS', message: (error as Error).message, at: new Date().toISOString() });
      process.stdout.write('', () => process.exit(1));
      return;
    }
    logger.warn({ event: 'tls.off', server: `${options.serverHost}:${options.serverPort}` }, 'TLS is off: the password and everything else go to the server in clear');
  }
  let identity: ClientIdentity;
  try {
    const loaded = loadOrCreateIdentity(options.dataDir);
    identity = loaded.identity;
    logger.info({ event: loaded.created ? 'identity.created' : 'identity.loaded', dataDir: options.dataDir }, loaded.created ? 'identity keys made' : 'identity keys read');
  } catch (error) {
    logger.fatal({ event: 'start.failed', err: error }, 'the client could not read its identity keys');
    writeEvent({ event: 'error', code: 'IDENTITY_FAILED', message: `cannot read the identity keys in ${options.dataDir}: ${(error as Error).message}`, at: new Date().toISOString() });
    process.stdout.write('', () => process.exit(EXIT_FAILED));
    return;
  }
  // Peer-to-peer links are TLS 1.3 with a certificate over the identity key; plain TCP only
  // with --tls off (a loopback lab), where no link proves a key and none is checked.
  const p2pTransport = options.tls ? peerTlsTransport(await makeIdentityCertificate(identity.signPrivateKey)) : new TcpTransport();
  const history = openHistory(options.dataDir, logger);
  const runtime = new ClientRuntime({
    identity,
    knownPeers: new KnownPeers(options.dataDir),
    serverHost: options.serverHost,
    serverPort: options.serverPort,
    p2pHost: options.p2pHost,
    p2pPort: options.p2pPort,
    downloadDir: options.downloadDir,
    machine: {
      autoAcceptChat: options.autoAcceptChat,
      autoAcceptFile: options.autoAcceptFile,
      fileBytesMax: options.fileBytesMax,
      jitterSeed: randomBytes(4).readUInt32BE(0),
      idPrefix: randomBytes(4).toString('hex'),
      readReceipts: options.readReceipts,
      checkPeerKeys: options.tls,
    },
    history: history.store,
    transport:
      options.faultCutP2pAfterBytes === null
        ? p2pTransport
        : new CuttingTransport(p2pTransport, { host: options.serverHost, port: options.serverPort }, options.faultCutP2pAfterBytes),
    serverPins: options.tls ? new ServerPins({ dataDir: options.dataDir, expectedFingerprint: options.serverFingerprint }) : null,
    clock: realClock,
    logger,
  });
  const fail = (code: string, message: string, ref?: CommandRef): void => writeEvent({ event: 'error', code, message, at: new Date().toISOString() }, ref);
  // Lines wait here until `ready`, then run in order (see command-queue.ts).
  const queue = new CommandQueue({
    run: (command, tag) => runtime.command(command, tag),
    refuse: fail,
    serverLinkComing: () => runtime.serverLinkComing,
    nowMs: () => Date.now(),
  });
  let deadlineTimer: NodeJS.Timeout | null = null;
  const pump = (): void => {
    queue.pump(Date.now());
    const dueMs = queue.nextDeadlineMs();
    if (deadlineTimer !== null) clearTimeout(deadlineTimer);
    deadlineTimer = dueMs === null ? null : setTimeout(pump, Math.max(0, dueMs - Date.now()));
    deadlineTimer?.unref();
  };
  let historyFailureTold = false;
  runtime.onEvent((event, tag) => {
    writeEvent(event, queue.onEvent(event, tag));
    // A history that could not be opened is said right after `ready` (the first line), once: a
    // script or person learns at the start that nothing is kept, not at its first `history`.
    if (event.event === 'ready' && history.failure !== null && !historyFailureTold) {
      historyFailureTold = true;
      fail('HISTORY_UNAVAILABLE', history.failure);
    }
    // After the answer is printed: the commands it releases come next.
    pump();
  });
  // A server link that came up releases the commands waiting for it.
  runtime.onSettled(pump);
  runtime.onExit((code) => {
    // Let stdout drain before the process ends, so the last events are not lost.
    process.stdout.write('', () => process.exit(code));
  });

  try {
    await runtime.start();
  } catch (error) {
    logger.fatal({ event: 'start.failed', err: error }, 'the client could not start');
    fail('INTERNAL', `could not start: ${(error as Error).message}`);
    process.stdout.write('', () => process.exit(EXIT_FAILED));
    return;
  }

  // A reader that went away (EPIPE) cannot be told anything more: leave quietly.
  process.stdout.on('error', () => process.exit(EXIT_OK));
  // A signal is a quit too (logout first), bounded in case the server does not answer.
  let signalled = false;
  const onSignal = (): void => {
    if (signalled) process.exit(EXIT_FAILED);
    signalled = true;
    setTimeout(() => process.exit(EXIT_FAILED), QUIT_LOGOUT_WAIT_MS + 1_000).unref();
    runtime.command({ cmd: 'quit' });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  readLines(
    (line) => {
      if (line.trim().length === 0) return;
      const parsed = parseCommandLine(line);
      if (!parsed.ok) queue.push({ kind: 'refused', code: parsed.code, message: parsed.message, ref: parsed.ref }, Date.now());
      else queue.push({ kind: 'command', command: parsed.command, ref: parsed.ref }, Date.now());
      pump(); // (re)arms the queue's deadline timer too
    },
    () => {
      queue.push({ kind: 'refused', code: 'BAD_COMMAND', message: `input line longer than ${COMMAND_LINE_BYTES_MAX} bytes`, ref: undefined }, Date.now());
      pump();
    },
    // End of input: a quit in its turn, after the commands before it.
    () => {
      queue.push({ kind: 'command', command: { cmd: 'quit' }, ref: undefined }, Date.now());
      pump();
    },
  );
}

/** Splits stdin into lines, bounded: an overlong line is reported and skipped, not buffered. */
function readLines(onLine: (line: string) => void, onOverlong: () => void, onEnd: () => void): void {
  const lines = new LineSplitter(COMMAND_LINE_BYTES_MAX, onLine, onOverlong);
  process.stdin.on('data', (chunk: Buffer) => lines.push(chunk));
  process.stdin.on('end', () => {
    lines.end();
    onEnd();
  });
}

/**
 * The history store in the data dir; one that cannot be opened (unwritable, not a database) is
 * logged and left out: the client runs, and history commands answer HISTORY_UNAVAILABLE.
 * failure: what to tell the user after `ready`.
 */
function openHistory(dataDir: string, logger: Logger): { readonly store: SqliteHistory | null; readonly failure: string | null } {
  try {
    return { store: new SqliteHistory({ dataDir }), failure: null };
  } catch (error) {
    logger.error({ event: 'history.unavailable', dataDir, err: error }, 'the history store could not be opened; nothing is kept this run');
    const path = join(dataDir, HISTORY_DATABASE_FILE);
    return { store: null, failure: `${path} cannot be opened (${(error as Error).message}): nothing said this run is kept` };
  }
}
