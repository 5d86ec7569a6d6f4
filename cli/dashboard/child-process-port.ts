/**
 * A ClientPort that runs `p2pchat client --headless` as a child process and speaks its JSON-lines
 * contract (docs/CLIENT.md) over the child's stdin and stdout. It depends on nothing but
 * that contract, so the dashboard works with whatever runtime the headless client has inside.
 *
 * Bounded: an stdout line longer than EVENT_LINE_BYTES_MAX is dropped (and logged) without being
 * buffered whole; stderr is logged line by line, each cut to STDERR_LINE_CHARS_MAX.
 * close() sends `quit` (the client logs out and exits 0), then escalates to SIGTERM and SIGKILL if
 * the child does not go within its deadlines.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type ClientCommand, type ClientEvent, type ClientPort, type PortClosed, parseClientEvent } from './client-port.ts';
import { LineSplitter } from '../io/line-splitter.ts';

export const EVENT_LINE_BYTES_MAX = 1024 * 1024;
export const STDERR_LINE_CHARS_MAX = 2_000;
/** How long `quit` may take (a logout round trip) before the child is terminated. */
export const QUIT_TIMEOUT_MS = 5_000;
/** How long SIGTERM may take before SIGKILL. */
export const TERMINATE_TIMEOUT_MS = 2_000;

export interface PortLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface HeadlessClientOptions {
  /** HOST:PORT of the server. */
  readonly server: string;
  readonly p2pHost?: string;
  readonly p2pPort?: number;
  readonly downloadDir?: string;
  /** The child logs here (appending); without it, its logs (stderr) go to `logger`. */
  readonly logFile?: string | null;
  readonly logLevel?: string;
}

export interface ChildProcessPortOptions {
  /** The program and arguments to run; headlessClientCommand() gives the real one. */
  readonly command: { readonly file: string; readonly args: readonly string[] };
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
  readonly logger?: PortLogger;
  readonly quitTimeoutMs?: number;
  readonly terminateTimeoutMs?: number;
}

const here = dirname(fileURLToPath(import.meta.url));

/** `node --import tsx cli/main.ts client --headless ...`, with absolute paths (any cwd works). */
export function headlessClientCommand(options: HeadlessClientOptions): { file: string; args: string[] } {
  const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  const args = ['--import', tsxLoader, join(here, '..', 'main.ts'), 'client', '--headless', '--server', options.server];
  if (options.p2pHost !== undefined) args.push('--p2p-host', options.p2pHost);
  if (options.p2pPort !== undefined) args.push('--p2p-port', String(options.p2pPort));
  if (options.downloadDir !== undefined) args.push('--download-dir', options.downloadDir);
  if (options.logFile) args.push('--log-file', options.logFile);
  if (options.logLevel !== undefined) args.push('--log-level', options.logLevel);
  return { file: process.execPath, args };
}

const SILENT: PortLogger = { info: () => {}, warn: () => {} };

/** Splits a stream into lines, dropping (and reporting) any line over `bytesMax`. */
function lineSplitter(bytesMax: number, onLine: (line: string) => void, onOverlong: () => void): (chunk: Buffer) => void {
  const lines = new LineSplitter(bytesMax, onLine, onOverlong);
  return (chunk) => lines.push(chunk);
}

export class ChildProcessClientPort implements ClientPort {
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly logger: PortLogger;
  private readonly eventListeners = new Set<(event: ClientEvent) => void>();
  private readonly closedListeners = new Set<(closed: PortClosed) => void>();
  private closed: PortClosed | null = null;
  private closing: Promise<void> | null = null;
  private readonly exited: Promise<void>;

  constructor(private readonly options: ChildProcessPortOptions) {
    this.logger = options.logger ?? SILENT;
    this.child = spawn(options.command.file, [...options.command.args], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    this.exited = new Promise((resolve) => {
      // 'close', not 'exit': it comes after stdout is drained, so no last event is lost.
      this.child.once('close', (code, signal) => {
        const reason = signal ? `the client process was killed (${signal})` : `the client process exited with code ${code}`;
        this.logger.info({ code, signal }, 'client process exited');
        this.finish({ reason, requested: this.closing !== null });
        resolve();
      });
      this.child.once('error', (error) => {
        // Spawn failed (no exit will follow) or a kill failed: either way the port is dead.
        this.logger.warn({ err: error.message }, 'client process error');
        this.finish({ reason: `could not run the client: ${error.message}`, requested: false });
        resolve();
      });
    });
    this.child.stdin.on('error', (error) => this.logger.warn({ err: error.message }, 'client stdin error'));
    this.child.stdout.on(
      'data',
      lineSplitter(EVENT_LINE_BYTES_MAX, (line) => this.onStdoutLine(line), () => this.logger.warn({ bytesMax: EVENT_LINE_BYTES_MAX }, 'overlong client output line dropped')),
    );
    this.child.stderr.on(
      'data',
      lineSplitter(EVENT_LINE_BYTES_MAX, (line) => {
        if (line.trim() !== '') this.logger.info({ stderr: line.slice(0, STDERR_LINE_CHARS_MAX) }, 'client stderr');
      }, () => {}),
    );
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  send(command: ClientCommand): void {
    if (this.closed || this.closing || !this.child.stdin.writable) return;
    this.child.stdin.write(`${JSON.stringify(command)}\n`);
  }

  onEvent(listener: (event: ClientEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onClosed(listener: (closed: PortClosed) => void): () => void {
    if (this.closed) {
      const closed = this.closed;
      queueMicrotask(() => listener(closed));
      return () => {};
    }
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    if (this.closed) return;
    if (this.child.stdin.writable) {
      this.child.stdin.write(`${JSON.stringify({ cmd: 'quit' } satisfies ClientCommand)}\n`);
      this.child.stdin.end();
    }
    if (await this.exitsWithin(this.options.quitTimeoutMs ?? QUIT_TIMEOUT_MS)) return;
    this.logger.warn({}, 'client did not quit in time; terminating it');
    this.child.kill('SIGTERM');
    if (await this.exitsWithin(this.options.terminateTimeoutMs ?? TERMINATE_TIMEOUT_MS)) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  private async exitsWithin(timeoutMs: number): Promise<boolean> {
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const result = await Promise.race([this.exited.then(() => true as const), timedOut]);
    clearTimeout(timer);
    return result;
  }

  private onStdoutLine(line: string): void {
    if (line.trim() === '') return;
    const parsed = parseClientEvent(line);
    if (!parsed.ok) {
      this.logger.warn({ reason: parsed.reason, line: line.slice(0, STDERR_LINE_CHARS_MAX) }, 'client output line ignored');
      return;
    }
    for (const listener of [...this.eventListeners]) listener(parsed.event);
  }

  private finish(closed: PortClosed): void {
    if (this.closed) return;
    this.closed = closed;
    for (const listener of [...this.closedListeners]) listener(closed);
    this.closedListeners.clear();
  }
}
