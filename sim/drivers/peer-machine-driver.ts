/**
 * PeerDriver over the real peer machine (core/peer/machine.ts, issue 3): each incarnation of a
 * simulated user is a PeerHost (core/peer/host.ts, the same one cli/client/client-runtime.ts runs
 * over TCP) on the in-memory network and the virtual clock, with an in-memory file port
 * (SimFiles); this driver is its event sink, turning the machine's client events into step
 * outcomes and checker observations.
 *
 * Files are synthetic: a sent file's bytes are a deterministic function of its path and offset,
 * so nothing is stored on the sending side; the receiver keeps what it writes in memory, and the
 * p2p-integrity checker compares those bytes' SHA-256 with the sender's.
 */
import { createHash } from 'node:crypto';
import type { PresenceStatus } from '../../core/frames.ts';
import type { PeerCommand, PreparedFile } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import { type PeerFiles, PeerHost } from '../../core/peer/host.ts';
import { PeerMachine } from '../../core/peer/machine.ts';
import type { Clock, Transport } from '../../core/transport.ts';
import type { AnswerPolicy, PeerDriver, PeerObserver, SessionOutcome, StepOutcome } from './peer-driver.ts';
import type { Prng } from '../world/prng.ts';
import { Scope, type SimClock } from '../world/sim-clock.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../world/server-node.ts';
import { SIM_FILE_BYTES_MAX } from '../scenarios/scenario-schema.ts';

export const P2P_PORT = 5000;
/** Virtual time a simulated disk operation takes. */
const FILE_IO_MS = 1;

/** What the p2p-integrity checker hears about chat and files. */
export interface P2pObserver {
  onFileOffered(sender: string, transferId: string, sha256: string, size: number): void;
  onFileReceived(receiver: string, from: string, transferId: string, sha256: string, bytesSha256: string, size: number): void;
  onChatSent(from: string, to: string, text: string): void;
  onChatReceived(to: string, from: string, text: string): void;
}

/** Byte i of the synthetic file at `path`. */
function syntheticBytes(path: string, offset: number, length: number): Uint8Array {
  let seed = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) seed = Math.imul(seed ^ path.charCodeAt(i), 0x01000193);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.imul((offset + i) ^ seed, 0x9e3779b1) >>> 24;
  return out;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * The simulator's file port: reads answer synthetic bytes, downloads are kept in memory (the
 * p2p-integrity checker hashes them), every operation takes FILE_IO_MS of virtual time.
 */
class SimFiles implements PeerFiles {
  readonly received = new Map<string, { buffer: Uint8Array; size: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly username: string,
  ) {}

  read(_transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    this.later(() => done(syntheticBytes(path, offset, bytes)));
  }

  closeSource(): void {}

  open(transferId: string): void {
    this.received.set(transferId, { buffer: new Uint8Array(0), size: 0 });
  }

  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    const file = this.received.get(transferId);
    if (file === undefined) return this.later(() => done(new Error('no such incoming file')));
    const end = offset + bytes.byteLength;
    if (end > file.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(end, file.buffer.byteLength * 2));
      grown.set(file.buffer.subarray(0, file.size));
      file.buffer = grown;
    }
    file.buffer.set(bytes, offset);
    file.size = Math.max(file.size, end);
    this.later(() => done(null));
  }

  finish(transferId: string, done: (result: string | Error) => void): void {
    const file = this.received.get(transferId);
    if (file === undefined) return this.later(() => done(new Error('no such incoming file')));
    const sha256 = sha256Hex(file.buffer.subarray(0, file.size));
    this.later(() => done(sha256));
  }

  commit(_transferId: string, name: string, done: (result: string | Error) => void): void {
    const path = `sim:${this.username}/downloads/${name}`;
    this.later(() => done(path));
  }

  discard(transferId: string): void {
    this.received.delete(transferId);
  }

  closeAll(): void {
    this.received.clear();
  }

  /** The SHA-256 of a download's bytes, then forgets it. */
  take(transferId: string): string {
    const file = this.received.get(transferId);
    this.received.delete(transferId);
    return file === undefined ? 'missing' : sha256Hex(file.buffer.subarray(0, file.size));
  }

  private later(fn: () => void): void {
    this.clock.at(this.clock.nowMs() + FILE_IO_MS, fn);
  }
}

export interface PeerMachineDriverOptions {
  readonly username: string;
  readonly index: number;
  readonly address: string;
  readonly transport: Transport;
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly observer: PeerObserver;
  readonly p2p: P2pObserver;
  /** The server's session-request timeout: how long a chat.open may wait for its answer. */
  readonly sessionTimeoutMs: number;
}

type Waiter = (event: ClientEvent) => boolean;

export class PeerMachineDriver implements PeerDriver {
  readonly username: string;
  readonly presenceView = new Map<string, PresenceStatus>();
  alive = true;
  /** This incarnation's host, machine and files (a restart makes new ones, as a new process would). */
  private host!: PeerHost;
  private files!: SimFiles;
  private scope = new Scope();
  /** This incarnation's clock: its timers vanish with the scope when the process crashes. */
  private clock!: Clock;
  private silent = false;
  private truth = false;
  private incarnation = 0;
  private readonly waiters: Waiter[] = [];
  private answerPolicy: AnswerPolicy = 'accept';
  private answerDelayMs: () => number = () => 0;
  private nextFile = 1;
  private outgoing = new Set<string>();
  /** The machine said `ready` (its first link is up): before that, commands wait here. */
  private ready = false;
  private beforeReady: PeerCommand[] = [];

  constructor(private readonly options: PeerMachineDriverOptions) {
    this.username = options.username;
    this.boot();
  }

  get truthOnline(): boolean {
    return this.truth;
  }

  private get machine(): PeerMachine {
    return this.host.machine;
  }

  private boot(): void {
    this.incarnation += 1;
    this.ready = false;
    this.beforeReady = [];
    this.scope = new Scope();
    this.clock = this.options.clock.scoped(this.scope);
    const machine = new PeerMachine({
      serverHost: SERVER_ADDRESS,
      serverPort: SERVER_PORT,
      autoAcceptChat: false,
      autoAcceptFile: true,
      fileBytesMax: SIM_FILE_BYTES_MAX,
      jitterSeed: this.options.prng.nextU32(),
      idPrefix: `p${this.options.index}i${this.incarnation}t`,
      p2pAdvertiseHost: this.options.address,
    });
    this.files = new SimFiles(this.clock, this.username);
    const address = this.options.address;
    this.host = new PeerHost({
      machine,
      transport: this.options.transport,
      clock: this.clock,
      files: this.files,
      sink: {
        onEvent: (event) => this.onEvent(event),
        onSettled: () => this.updateTruth(),
      },
      hooks: { localAddressOf: () => address },
    });
    this.host.listen(address, P2P_PORT, (result) => {
      if (result instanceof Error) throw result;
    });
  }

  // ---- steps ------------------------------------------------------------------------------------

  signup(password: string, done: (outcome: StepOutcome) => void): void {
    this.command({ cmd: 'signup', username: this.username, password }, (e) => (e.event === 'signup.ok' ? 'ok' : errorOf(e)), done);
  }

  login(password: string, done: (outcome: StepOutcome) => void): void {
    this.command({ cmd: 'login', username: this.username, password }, (e) => (e.event === 'login.ok' ? 'ok' : errorOf(e)), done);
  }

  logout(done: (outcome: StepOutcome) => void): void {
    if (!this.machine.loggedIn) return done('NOT_LOGGED_IN');
    this.setTruth(false);
    this.command({ cmd: 'logout' }, (e) => (e.event === 'logout.ok' ? 'ok' : errorOf(e)), done);
  }

  friendRequest(username: string, done: (outcome: StepOutcome) => void): void {
    this.command({ cmd: 'friend.request', username }, (e) => (e.event === 'friend.requested' || (e.event === 'friend.added' && e.username === username) ? 'ok' : errorOf(e)), done);
  }

  sessionRequest(username: string, done: (outcome: SessionOutcome) => void): void {
    if (!this.machine.loggedIn) return done('NOT_LOGGED_IN');
    this.options.observer.onCounter('session_requests');
    this.outgoing.add(username);
    this.options.observer.onSessionPending(this, `${this.username}>${username}`, username, this.options.sessionTimeoutMs);
    this.command(
      { cmd: 'chat.open', username },
      (e) => {
        if (e.event === 'chat.opened' && e.username === username) return 'established';
        if (e.event === 'chat.failed' && e.username === username) return e.reason;
        return errorOf(e);
      },
      (outcome) => {
        this.outgoing.delete(username);
        done(outcome);
      },
    );
  }

  /** Sends `count` messages over the open session and waits for every acknowledgement. */
  chat(username: string, count: number, done: (outcome: StepOutcome) => void): void {
    let left = count;
    const base = `${this.options.index}-${this.incarnation}-${this.nextFile++}`;
    this.waiters.push((e) => {
      if (e.event === 'chat.sent' && e.username === username) {
        left -= 1;
        if (left === 0) done('ok');
        return left === 0;
      }
      if ((e.event === 'chat.failed' || e.event === 'chat.closed') && e.username === username) {
        done(`chat-${e.reason}`);
        return true;
      }
      if (e.event === 'error') {
        done(e.code);
        return true;
      }
      return false;
    });
    for (let i = 0; i < count; i++) {
      const text = `m${base}-${i}`;
      this.options.p2p.onChatSent(this.username, username, text);
      this.send({ cmd: 'chat.send', username, text });
    }
  }

  sendFile(username: string, bytes: number, done: (outcome: StepOutcome) => void): void {
    const n = this.nextFile++;
    const path = `sim:${this.username}:${this.incarnation}:${n}`;
    const size = Math.min(bytes, SIM_FILE_BYTES_MAX);
    const file: PreparedFile = { path, name: `file-${n}.bin`, size, sha256: sha256Hex(syntheticBytes(path, 0, size)) };
    let transferId: string | null = null;
    this.waiters.push((e) => {
      if (e.event === 'file.offered' && e.username === username && transferId === null) {
        transferId = e.transferId;
        this.options.p2p.onFileOffered(this.username, e.transferId, e.sha256, e.size);
        return false;
      }
      if (e.event === 'file.sent' && e.transferId === transferId) return settle('ok');
      if (e.event === 'file.failed' && e.transferId === transferId) return settle(`file-${e.reason}`);
      if (e.event === 'error' && transferId === null) return settle(e.code);
      return false;
    });
    const settle = (outcome: string): boolean => {
      done(outcome);
      return true;
    };
    this.send({ cmd: 'file.send', username, files: [file] });
  }

  setAnswerPolicy(policy: AnswerPolicy, delayMs: () => number): void {
    this.answerPolicy = policy;
    this.answerDelayMs = delayMs;
  }

  goSilent(): void {
    this.setTruth(false);
    this.silent = true;
    this.host.freeze();
  }

  crash(): void {
    if (!this.alive) return;
    this.setTruth(false);
    this.alive = false;
    this.scope.kill();
    this.host.abort();
    this.presenceView.clear();
    this.options.observer.onViewReset(this);
    const waiters = this.waiters.splice(0);
    for (const waiter of waiters) waiter({ event: 'error', code: 'CRASHED', message: 'crashed' });
  }

  /** Work that should have ended by now (for the liveness check), or null. */
  unfinishedWork(): string | null {
    if (!this.alive || this.silent) return null;
    const transfers = this.machine.transferCount();
    const requests = this.machine.sessionRequestCount;
    const open = [transfers === 0 ? null : `${transfers} file transfers`, requests === 0 ? null : `${requests} session requests`].filter((s) => s !== null);
    return open.length === 0 ? null : `${open.join(' and ')} still open`;
  }

  restart(): void {
    if (this.alive) return;
    this.alive = true;
    this.silent = false;
    this.boot();
  }

  // ---- commands to the machine ----------------------------------------------------------------------

  private command(command: PeerCommand, outcomeOf: (e: ClientEvent) => string | null, done: (outcome: string) => void): void {
    if (!this.alive || this.silent) return done('NOT_CONNECTED');
    this.waiters.push((e) => {
      const outcome = outcomeOf(e);
      if (outcome === null) return false;
      done(outcome);
      return true;
    });
    this.send(command);
  }

  /** A command to the machine, held until it is ready (a client types only once it shows ready). */
  private send(command: PeerCommand): void {
    if (!this.ready) {
      this.beforeReady.push(command);
      return;
    }
    this.host.input({ type: 'command', command });
  }

  // ---- events -------------------------------------------------------------------------------------

  private onEvent(event: ClientEvent): void {
    const observer = this.options.observer;
    switch (event.event) {
      case 'ready': {
        this.ready = true;
        const held = this.beforeReady;
        this.beforeReady = [];
        for (const command of held) this.host.input({ type: 'command', command });
        break;
      }
      case 'login.ok':
      case 'friends':
        this.presenceView.clear();
        for (const friend of event.friends) this.presenceView.set(friend.username, friend.status);
        observer.onViewReset(this);
        this.setTruth(true);
        break;
      case 'logout.ok':
        this.presenceView.clear();
        observer.onViewReset(this);
        break;
      case 'presence':
        this.presenceView.set(event.username, event.status);
        observer.onPresenceView(this, event.username, event.status);
        break;
      case 'friend.added':
        this.presenceView.set(event.username, event.status);
        observer.onPresenceView(this, event.username, event.status);
        break;
      case 'friend.removed':
        this.presenceView.delete(event.username);
        observer.onPresenceView(this, event.username, null);
        break;
      case 'friend.request':
        this.host.input({ type: 'command', command: { cmd: 'friend.accept', username: event.from } });
        break;
      case 'chat.request':
        this.onChatRequest(event.from);
        break;
      case 'chat.opened': {
        const caller = this.outgoing.has(event.username);
        const key = caller ? `${this.username}>${event.username}` : `${event.username}>${this.username}`;
        observer.onSessionEstablished(this, key, caller ? 'caller' : 'callee', event.username);
        break;
      }
      case 'chat.failed':
        if (this.outgoing.has(event.username)) observer.onSessionFailed(this, `${this.username}>${event.username}`, event.username, event.reason);
        break;
      case 'chat.message':
        this.options.p2p.onChatReceived(this.username, event.from, event.text);
        break;
      case 'file.received': {
        const bytesSha256 = this.files.take(event.transferId);
        this.options.p2p.onFileReceived(this.username, event.from, event.transferId, event.sha256, bytesSha256, event.size);
        break;
      }
      case 'disconnected':
        observer.onLinkLost(this);
        observer.onCounter('reconnects');
        break;
      case 'error':
        if (event.code === 'HEARTBEAT_TIMEOUT' || event.code === 'LOGGED_IN_ELSEWHERE') this.updateTruth();
        break;
      default:
        break;
    }
    for (let i = 0; i < this.waiters.length; i++) {
      const waiter = this.waiters[i] as Waiter;
      if (waiter(event)) {
        this.waiters.splice(i, 1);
        break;
      }
    }
  }

  private onChatRequest(from: string): void {
    const policy = this.answerPolicy;
    if (policy === 'ignore') return;
    const accept = policy === 'accept';
    this.clock.at(this.clock.nowMs() + this.answerDelayMs(), () => {
      if (!this.machine.loggedIn || this.silent) return;
      this.options.observer.onSessionAnswer(this, `${from}>${this.username}`, accept);
      this.host.input({ type: 'command', command: { cmd: 'chat.answer', username: from, accept } });
    });
  }

  /** The truth is "logged in by its own choice": the machine holds an account, alive and speaking. */
  private updateTruth(): void {
    if (!this.truth) return;
    if (this.machine.username === null && !this.silent) this.setTruth(false);
  }

  private setTruth(online: boolean): void {
    if (this.truth === online) return;
    this.truth = online;
    this.options.observer.onTruthChange(this, online);
  }
}

function errorOf(event: ClientEvent): string | null {
  return event.event === 'error' ? event.code : null;
}
