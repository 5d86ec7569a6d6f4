/**
 * Drives one `p2pchat client --headless` process through its JSON-lines contract (docs/CLIENT.md):
 * commands on stdin, events on stdout, both in the vocabulary of core/peer/commands.ts and
 * core/peer/events.ts (each stdout line is validated with it). Used for the P2P file-transfer
 * figure.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { UserCommand } from '../core/peer/commands.ts';
import { type ClientEventLine as ClientEvent, parseEventLine } from '../core/peer/events.ts';
import { progress } from './progress.ts';
import { spawnCli, stopChild } from './processes.ts';

interface EventWaiter {
  readonly match: (event: ClientEvent) => boolean;
  readonly resolve: (event: ClientEvent) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class HeadlessClient {
  private readonly waiters: EventWaiter[] = [];
  /** Called with every event, before the waiters (see watch). */
  private readonly watchers = new Set<(event: ClientEvent) => void>();
  private exitError: Error | null = null;

  private constructor(
    private readonly child: ChildProcess,
    readonly label: string,
  ) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => this.onLine(line));
    child.stderr?.on('data', () => {});
    child.once('exit', (code, signal) => {
      this.exitError = new Error(`${label} exited (code ${code}, signal ${signal})`);
      for (const waiter of this.waiters.splice(0)) {
        clearTimeout(waiter.timer);
        waiter.reject(this.exitError);
      }
    });
  }

  /** The server link is TLS, pinned up front to `serverFingerprint`; the data dir sits beside the downloads. */
  static async start(label: string, serverPort: number, serverFingerprint: string, downloadDir: string, timeoutMs: number): Promise<HeadlessClient> {
    const child = spawnCli(
      ['client', '--headless', '--server', `127.0.0.1:${serverPort}`, '--server-fingerprint', serverFingerprint, '--data-dir', `${downloadDir}-data`, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--download-dir', downloadDir, '--auto-accept', 'chat,file', '--log-level', 'warn'],
      {},
      'pipe',
    );
    const client = new HeadlessClient(child, label);
    await client.waitFor((e) => e.event === 'ready', timeoutMs, 'ready');
    return client;
  }

  send(command: UserCommand): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  /** The next event matching; an `error` event rejects instead when `failOnError` is set. */
  waitFor<Matched extends ClientEvent>(match: (event: ClientEvent) => event is Matched, timeoutMs: number, what: string, failOnError?: boolean): Promise<Matched>;
  waitFor(match: (event: ClientEvent) => boolean, timeoutMs: number, what: string, failOnError?: boolean): Promise<ClientEvent>;
  waitFor(match: (event: ClientEvent) => boolean, timeoutMs: number, what: string, failOnError = true): Promise<ClientEvent> {
    if (this.exitError !== null) return handledLater(Promise.reject(this.exitError));
    return handledLater(new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter: EventWaiter = {
        match: (event) => match(event) || (failOnError && event.event === 'error'),
        resolve: (event) => (event.event === 'error' && !match(event) ? reject(new Error(`${this.label}: ${event.code} ${event.message} while waiting for ${what}`)) : resolve(event)),
        reject,
        timer,
      };
      this.waiters.push(waiter);
    }));
  }

  /** Every event from now on goes to `watcher` too (a throughput series); returns how to stop. */
  watch(watcher: (event: ClientEvent) => void): () => void {
    this.watchers.add(watcher);
    return () => this.watchers.delete(watcher);
  }

  stop(): Promise<void> {
    this.send({ cmd: 'quit' });
    this.child.stdin?.end();
    return stopChild(this.child, 5_000);
  }

  private onLine(line: string): void {
    const parsed = parseEventLine(line);
    if (!parsed.ok) {
      progress(`${this.label}: ${parsed.reason} on stdout: ${line.slice(0, 200)}`);
      return;
    }
    const event = parsed.event;
    for (const watcher of this.watchers) watcher(event);
    const index = this.waiters.findIndex((w) => w.match(event));
    if (index < 0) return;
    const [waiter] = this.waiters.splice(index, 1);
    if (waiter === undefined) return;
    clearTimeout(waiter.timer);
    waiter.resolve(event);
  }
}

/**
 * Marks a waiter's rejection as handled now, and returns it unchanged: whoever awaits it still
 * gets the error. A phase often starts two waiters and awaits one first (the receiver's
 * file.received before the sender's file.sent); when the other client exits meanwhile (the bench's
 * deadline stops every process), the second waiter's rejection had no handler yet, and node ended
 * the whole run on it as an unhandled rejection, with no report (a CI run on 2026-12-07 at load 10).
 */
function handledLater<T>(promise: Promise<T>): Promise<T> {
  promise.catch(() => {});
  return promise;
}
