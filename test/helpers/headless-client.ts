/**
 * Drives `p2pchat client --headless` as a child process, through its stdin and stdout only, as an
 * outside script would. Commands and events are the vocabulary of core/peer/commands.ts and
 * core/peer/events.ts: every stdout line must parse as one of its events, `at` included; anything
 * else is recorded in `badLines` and fails every wait, pending or later, naming the line.
 * `waitFor` takes the first not-yet-taken event that matches, or the next one to arrive, within a
 * timeout; stderr is kept for the failure message.
 * TEST_CLIENT_LOG_LEVEL=debug makes the clients log their P2P control frames to that stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandRef, UserCommand } from '../../core/peer/commands.ts';
import { type ClientEventLine, type ClientEventName, parseEventLine } from '../../core/peer/events.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** A bound on each event wait (the wait ends at the event): generous, for a loaded two-core machine. */
export const EVENT_WAIT_MS = 20_000;
/**
 * How long a child may take to print `ready`: starting node and tsx on a loaded two-core machine
 * takes seconds (load 15 once made it miss 10 s). A bound on an event wait, not a sleep.
 */
export const START_WAIT_MS = 60_000;

export type Event = ClientEventLine;
/** A command as a script writes it: any command of the vocabulary, with the optional `id` its answers carry back as `ref`. */
export type ScriptCommand = UserCommand & { readonly id?: CommandRef };
/** One event of the vocabulary, by its name: `EventOf<'file.received'>`. */
export type EventOf<Name extends ClientEventName> = Extract<ClientEventLine, { event: Name }>;

interface Waiter {
  readonly match: (event: Event) => boolean;
  readonly resolve: (event: Event) => void;
  readonly reject: (error: Error) => void;
}

export interface HeadlessOptions {
  readonly server: string;
  readonly autoAccept?: string;
  readonly downloadDir?: string;
  readonly maxFileBytes?: number;
  /** Reset the first P2P stream after this many received bytes (the hidden --fault-cut-p2p-after-bytes). */
  readonly cutP2pAfterBytes?: number;
  readonly extraArgs?: readonly string[];
  /** The client's data dir (known-servers); default: a fresh temporary one. */
  readonly dataDir?: string;
  /** Lines written to stdin at once, before `ready` (a block pasted while the client starts). */
  readonly pasteBeforeReady?: readonly Record<string, unknown>[];
}

export class HeadlessClient {
  readonly events: Event[] = [];
  readonly badLines: string[] = [];
  private readonly taken = new Set<Event>();
  private waiters: Waiter[] = [];
  private stderr = '';
  private stdoutRest = '';
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly downloadDir: string,
  ) {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => this.onStdout(chunk));
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.exited = new Promise((done) => child.once('exit', (code) => done(code)));
  }

  static async start(name: string, options: HeadlessOptions): Promise<HeadlessClient> {
    const downloadDir = options.downloadDir ?? (await mkdtemp(join(tmpdir(), `p2pchat-${name}-`)));
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), `p2pchat-${name}-data-`)));
    const args = ['--import', 'tsx', 'cli/main.ts', 'client', '--headless', '--server', options.server, '--data-dir', dataDir, '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--download-dir', downloadDir];
    if (options.autoAccept !== undefined) args.push('--auto-accept', options.autoAccept);
    if (options.maxFileBytes !== undefined) args.push('--max-file-bytes', String(options.maxFileBytes));
    if (options.cutP2pAfterBytes !== undefined) args.push('--fault-cut-p2p-after-bytes', String(options.cutP2pAfterBytes));
    args.push('--log-level', process.env.TEST_CLIENT_LOG_LEVEL ?? 'warn', ...(options.extraArgs ?? []));
    const child = spawn(process.execPath, args, { cwd: ROOT, env: process.env, stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new HeadlessClient(name, child, downloadDir);
    if (options.pasteBeforeReady !== undefined) client.sendRaw(options.pasteBeforeReady.map((line) => `${JSON.stringify(line)}\n`).join(''));
    await client.waitFor('ready', {}, START_WAIT_MS);
    return client;
  }

  send(command: ScriptCommand): void {
    this.child.stdin?.write(`${JSON.stringify(command)}\n`);
  }

  sendRaw(text: string): void {
    this.child.stdin?.write(text);
  }

  /** Sends a command, then waits for the named event (matching `match` if given). */
  async request<Name extends ClientEventName>(command: ScriptCommand, event: Name, match: Partial<EventOf<Name>> = {}, timeoutMs = EVENT_WAIT_MS): Promise<EventOf<Name>> {
    this.send(command);
    return this.waitFor(event, match, timeoutMs);
  }

  waitFor<Name extends ClientEventName>(event: Name, match: Partial<EventOf<Name>> = {}, timeoutMs = EVENT_WAIT_MS): Promise<EventOf<Name>> {
    return this.waitForAny([event], match, timeoutMs);
  }

  /** The first not-yet-taken event with one of these names (matching `match` if given). */
  waitForAny<Name extends ClientEventName>(events: readonly Name[], match: Partial<EventOf<Name>> = {}, timeoutMs = EVENT_WAIT_MS): Promise<EventOf<Name>> {
    const event = events.join(' or ');
    const matches = (candidate: Event): candidate is EventOf<Name> =>
      (events as readonly string[]).includes(candidate.event) && Object.entries(match).every(([key, value]) => (candidate as Record<string, unknown>)[key] === value);
    const found = this.events.find((candidate) => !this.taken.has(candidate) && matches(candidate));
    if (found !== undefined) {
      this.taken.add(found);
      return Promise.resolve(found as EventOf<Name>);
    }
    if (this.badLines.length > 0) return Promise.reject(this.outsideVocabulary());
    return new Promise((resolveEvent, reject) => {
      const waiter: Waiter = {
        match: matches,
        resolve: (value) => {
          clearTimeout(timer);
          resolveEvent(value as EventOf<Name>);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`${this.name}: no "${event}" ${JSON.stringify(match)} within ${timeoutMs} ms.\nevents: ${this.events.map((e) => JSON.stringify(e)).slice(-15).join('\n')}\nstderr: ${this.stderr.slice(-3000)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Events of a name seen so far (taken or not). */
  seen<Name extends ClientEventName>(event: Name): EventOf<Name>[] {
    return this.events.filter((candidate): candidate is EventOf<Name> => candidate.event === event);
  }

  /** Quits through stdin EOF and waits for the exit code. */
  async quit(): Promise<number | null> {
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }

  private outsideVocabulary(): Error {
    return new Error(`${this.name}: stdout lines outside the event vocabulary of core/peer/events.ts:\n${this.badLines.slice(0, 5).join('\n')}`);
  }

  private onStdout(chunk: string): void {
    const text = this.stdoutRest + chunk;
    const lines = text.split('\n');
    this.stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = parseEventLine(line);
      if (!parsed.ok) {
        // The client printed something outside the vocabulary (core/peer/events.ts): fail now.
        this.badLines.push(`${line} (${parsed.reason})`);
        for (const waiter of this.waiters.splice(0)) waiter.reject(this.outsideVocabulary());
        continue;
      }
      const event = parsed.event;
      this.events.push(event);
      const waiter = this.waiters.find((w) => w.match(event));
      if (waiter !== undefined) {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        this.taken.add(event);
        waiter.resolve(event);
      }
    }
  }
}

/** Signs up and logs in; returns the login.ok event. */
export async function signupAndLogin(client: HeadlessClient, username: string, password = `${username}-secret-pw`): Promise<EventOf<'login.ok'>> {
  await client.request({ cmd: 'signup', username, password }, 'signup.ok');
  return client.request({ cmd: 'login', username, password }, 'login.ok');
}

/** Makes two logged-in clients friends. */
export async function befriend(a: HeadlessClient, aName: string, b: HeadlessClient, bName: string): Promise<void> {
  await a.request({ cmd: 'friend.request', username: bName }, 'friend.requested', { username: bName });
  await b.waitFor('friend.request', { from: aName });
  await b.request({ cmd: 'friend.accept', username: aName }, 'friend.added', { username: aName });
  await a.waitFor('friend.added', { username: bName });
}
