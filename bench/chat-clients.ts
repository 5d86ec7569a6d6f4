/**
 * Real clients inside a bench process, for session_broker_p99_ms: each one a ClientRuntime (the
 * core `p2pchat client --headless` runs, cli/client/client-runtime.ts) over TcpTransport and the
 * real clock, with its own P2P listener and its own server connection. A caller's `chat.open`
 * goes through everything a user's does: session.request, the server's brokering
 * (session.incoming to the callee, which accepts on its own with the runtime's auto-accept, then
 * session.established to both), the caller's TCP connection to the callee's P2P listener and the
 * one-time-token hello handshake, until the caller's `chat.opened` event.
 *
 * The latency is taken from just before the command goes in to the moment the runtime emits
 * `chat.opened` (event listeners are called synchronously from the runtime's effect loop).
 */
import { performance } from 'node:perf_hooks';
import { ClientRuntime, type TimedEvent } from '../cli/client/client-runtime.ts';
import { FixedServerPin } from '../cli/client/known-servers.ts';
import { createLogger } from '../cli/log.ts';
import { realClock } from '../cli/net/real-clock.ts';
import { makeIdentity } from '../cli/client/identity-keys.ts';
import { makeIdentityCertificate, peerTlsTransport } from '../cli/net/identity-certificate.ts';
import { SampleReservoir } from './histogram.ts';
import { type IntervalCounts, IntervalCounter } from './interval-counts.ts';
import { inPool } from './protocol-client.ts';

/** How long a login, an open or a close may take before it counts as failed. */
export const CHAT_STEP_TIMEOUT_MS = 15_000;
/** How long a client may take to log out and exit when released, before it is reset. */
const QUIT_TIMEOUT_MS = 5_000;
/** Events one client may have waiters for at once: one step at a time, so a few are plenty. */
const WAITERS_PER_CLIENT_MAX = 8;

/**
 * One shared silent logger: hundreds of runtimes in one process must not each open a log
 * destination, and failures are counted and reported by the driver, not logged.
 */
const silentLogger = createLogger({ level: 'silent', destination: 'stderr', format: 'json' });

interface Waiter {
  readonly match: (event: TimedEvent) => boolean;
  readonly resolve: (event: TimedEvent, atMs: number) => void;
}

/** Error events name the friend they are about in an extra field (core/peer/machine.ts emitError). */
function usernameOf(event: TimedEvent): unknown {
  return (event as { username?: unknown }).username;
}

/** Why a step did not reach its event: a `chat.failed` reason, an error code, or `timeout`. */
export class ChatStepError extends Error {}

/** One real client in this process, and a way to wait for its next matching event. */
export class BenchChatClient {
  private readonly waiters: Waiter[] = [];
  private exited = false;
  private readonly exitedPromise: Promise<void>;

  private constructor(
    readonly username: string,
    private readonly runtime: ClientRuntime,
    /** The P2P transport's TLS handshakes as caller, full and resumed (the figure's details). */
    readonly handshakes: { readonly full: number; readonly resumed: number },
  ) {
    runtime.onEvent((event) => {
      const atMs = performance.now();
      const index = this.waiters.findIndex((w) => w.match(event));
      if (index < 0) return;
      const [waiter] = this.waiters.splice(index, 1);
      waiter?.resolve(event, atMs);
    });
    this.exitedPromise = new Promise((resolve) =>
      runtime.onExit(() => {
        this.exited = true;
        resolve();
      }),
    );
  }

  /** Starts the runtime (P2P listener on 127.0.0.1, port 0), waits for `ready`, logs in. */
  static async start(options: { serverPort: number; serverFingerprint: string; username: string; password: string; downloadDir: string; seed: number }): Promise<BenchChatClient> {
    // As the shipped client: identity keys (registered at this login), and P2P over TLS with a
    // certificate over them, so the file and session phases pay for the handshakes and the cipher.
    const identity = makeIdentity();
    const certificate = await makeIdentityCertificate(identity.signPrivateKey);
    const transport = peerTlsTransport(certificate);
    const runtime = new ClientRuntime({
      identity,
      serverHost: '127.0.0.1',
      serverPort: options.serverPort,
      p2pHost: '127.0.0.1',
      p2pPort: 0,
      downloadDir: options.downloadDir,
      machine: { autoAcceptChat: true, autoAcceptFile: false, jitterSeed: options.seed, idPrefix: `b${options.seed}` },
      transport,
      serverPins: new FixedServerPin(options.serverFingerprint),
      clock: realClock,
      logger: silentLogger,
    });
    const client = new BenchChatClient(options.username, runtime, transport.handshakes);
    const ready = client.next((e) => e.event === 'ready', CHAT_STEP_TIMEOUT_MS);
    try {
      await runtime.start();
      await ready;
      const loggedIn = client.next((e) => e.event === 'login.ok' || e.event === 'error', CHAT_STEP_TIMEOUT_MS);
      runtime.command({ cmd: 'login', username: options.username, password: options.password });
      const { event } = await loggedIn;
      if (event.event === 'error') throw new ChatStepError(event.code);
      return client;
    } catch (error) {
      runtime.stop();
      throw error;
    }
  }

  /** The next event matching, with the performance.now() at which it was emitted. */
  next(match: (event: TimedEvent) => boolean, timeoutMs: number): Promise<{ event: TimedEvent; atMs: number }> {
    if (this.exited) return Promise.reject(new ChatStepError('exited'));
    if (this.waiters.length >= WAITERS_PER_CLIENT_MAX) return Promise.reject(new ChatStepError('too many waiters'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new ChatStepError('timeout'));
      }, timeoutMs);
      const waiter: Waiter = {
        match,
        resolve: (event, atMs) => {
          clearTimeout(timer);
          resolve({ event, atMs });
        },
      };
      this.waiters.push(waiter);
    });
  }

  /**
   * `chat.open` to a friend until `chat.opened`; returns the milliseconds it took. A
   * `chat.failed` (or an error event about that friend) rejects with its reason.
   */
  async open(friend: string, timeoutMs: number = CHAT_STEP_TIMEOUT_MS): Promise<number> {
    const outcome = this.next(
      (e) => ((e.event === 'chat.opened' || e.event === 'chat.failed') && e.username === friend) || (e.event === 'error' && usernameOf(e) === friend),
      timeoutMs,
    );
    const sentMs = performance.now();
    this.runtime.command({ cmd: 'chat.open', username: friend });
    const { event, atMs } = await outcome;
    if (event.event === 'chat.failed') throw new ChatStepError(event.reason);
    if (event.event === 'error') throw new ChatStepError(event.code);
    return atMs - sentMs;
  }

  /** `chat.close` until this side's `chat.closed` (the friend is told with a bye). */
  async close(friend: string, timeoutMs: number = CHAT_STEP_TIMEOUT_MS): Promise<void> {
    const closed = this.next((e) => (e.event === 'chat.closed' || e.event === 'error') && usernameOf(e) === friend, timeoutMs);
    this.runtime.command({ cmd: 'chat.close', username: friend });
    const { event } = await closed;
    if (event.event === 'error') throw new ChatStepError(event.code);
  }

  /** Logs out and exits, bounded; resets everything if that takes too long. */
  async quit(): Promise<void> {
    if (this.exited) return;
    this.runtime.command({ cmd: 'quit' });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exitedPromise, new Promise((resolve) => (timer = setTimeout(resolve, QUIT_TIMEOUT_MS)))]);
    clearTimeout(timer);
    if (!this.exited) this.runtime.stop();
    this.exited = true;
  }
}

export interface ChatLoginResult {
  readonly loggedIn: number;
  readonly errors: Record<string, number>;
}

export interface ChatOpenResult {
  /** Sessions that reached chat.opened. */
  readonly opened: number;
  /** Opens that did not, by reason (a chat.failed reason, an error code, or `timeout`). */
  readonly failures: Record<string, number>;
  readonly wallMs: number;
  readonly samplesUs: number[];
  /** Chats opened per interval (the HTML report's throughput chart). */
  readonly intervalCounts: IntervalCounts;
  /** This process's CPU (user + system) over the round: its callers' and its callees' share of every session it took part in. */
  readonly cpuMs: number;
  /** The callers' P2P handshakes over the round: full ones (a certificate and a signature each way) and resumed ones. */
  readonly handshakes: { readonly full: number; readonly resumed: number };
}

function reasonOf(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 80);
}

function tally(counts: Record<string, number>, key: string, count = 1): void {
  counts[key] = (counts[key] ?? 0) + count;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The real clients one process holds, by username. */
export class ChatClientPool {
  private readonly clients = new Map<string, BenchChatClient>();
  private nextSeed = 1;

  get size(): number {
    return this.clients.size;
  }

  /** Starts and logs in a client for each username, `concurrency` at a time. */
  async loginAll(args: { serverPort: number; serverFingerprint: string; usernames: readonly string[]; password: string; downloadDir: string; concurrency: number }): Promise<ChatLoginResult> {
    const errors: Record<string, number> = {};
    await inPool([...args.usernames], args.concurrency, async (username) => {
      try {
        const client = await BenchChatClient.start({ serverPort: args.serverPort, serverFingerprint: args.serverFingerprint, username, password: args.password, downloadDir: args.downloadDir, seed: this.nextSeed++ });
        this.clients.set(username, client);
      } catch (error) {
        tally(errors, `login: ${reasonOf(error)}`);
      }
    });
    return { loggedIn: this.clients.size, errors };
  }

  /**
   * Each caller (held here) opens a chat with its callee (held here or in another process)
   * `opensPerCaller` times, one open every `paceMs`, and closes it again once opened, so every
   * open is a whole new session. Each caller starts at a random point of its first period, so
   * the load is steady rather than a thundering herd. The server allows one session request per
   * second per user after a burst of 10: a pace over a second never meets that limit.
   *
   * No open starts after `windowMs` (when given): when opens time out, a caller would otherwise
   * run up to two step timeouts per open and hold the phase's answer far past its RPC bound,
   * losing every figure; the opens not started are counted as failures instead.
   */
  async openChats(args: { pairs: ReadonlyArray<readonly [string, string]>; opensPerCaller: number; paceMs: number; windowMs?: number }): Promise<ChatOpenResult> {
    const reservoir = new SampleReservoir();
    const failures: Record<string, number> = {};
    let opened = 0;
    const startedMs = performance.now();
    const lastStartMs = startedMs + (args.windowMs ?? Number.POSITIVE_INFINITY);
    const perInterval = new IntervalCounter(performance.timeOrigin + startedMs);
    const handshakesBefore = this.handshakeCounts();
    const cpuBefore = process.cpuUsage();
    await Promise.all(
      args.pairs.map(async ([caller, callee]) => {
        const client = this.clients.get(caller);
        if (client === undefined) return tally(failures, 'caller not logged in here');
        let nextMs = performance.now() + Math.random() * args.paceMs;
        for (let i = 0; i < args.opensPerCaller; i++) {
          await sleep(Math.max(0, nextMs - performance.now()));
          nextMs += args.paceMs;
          if (performance.now() > lastStartMs) {
            tally(failures, 'not started: the window had passed', args.opensPerCaller - i);
            break;
          }
          try {
            reservoir.recordMs(await client.open(callee));
            opened += 1;
            perInterval.add(performance.timeOrigin + performance.now());
          } catch (error) {
            tally(failures, reasonOf(error));
            continue;
          }
          try {
            await client.close(callee);
          } catch (error) {
            tally(failures, `close: ${reasonOf(error)}`);
          }
        }
      }),
    );
    const cpu = process.cpuUsage(cpuBefore);
    const handshakesAfter = this.handshakeCounts();
    return {
      opened,
      failures,
      wallMs: performance.now() - startedMs,
      samplesUs: reservoir.take(),
      intervalCounts: perInterval.take(),
      cpuMs: (cpu.user + cpu.system) / 1_000,
      handshakes: { full: handshakesAfter.full - handshakesBefore.full, resumed: handshakesAfter.resumed - handshakesBefore.resumed },
    };
  }

  private handshakeCounts(): { full: number; resumed: number } {
    let full = 0;
    let resumed = 0;
    for (const client of this.clients.values()) {
      full += client.handshakes.full;
      resumed += client.handshakes.resumed;
    }
    return { full, resumed };
  }

  /** Every client logs out and exits (bounded). */
  async releaseAll(): Promise<void> {
    const clients = [...this.clients.values()];
    this.clients.clear();
    await inPool(clients, 200, (client) => client.quit());
  }
}
