/**
 * Drives a ServerMachine directly, as a tiny simulator: clients are connection ids, frames go in
 * through the real codec, effects are collected per connection, the clock only moves when told.
 * Password hashing is instant and fake ("hash:" + password), answered on `settle()`.
 */
import { encodeControl } from '../../core/codec.ts';
import { isErrorCode } from '../../core/errors.ts';
import { type ClientFrame, type ServerFrame, type ServerFrameOf, type ServerFrameType, serverFrameSchema } from '../../core/frames.ts';
import { type ServerConfig, type ServerEffect, type ServerInput, type ServerMachine } from '../../core/server/machine.ts';
import { MemoryStore } from '../../core/store.ts';
import { newServerMachine, type PlantedBug } from '../../sim/world/planted-bugs.ts';

/**
 * Every frame the machine sends must be one a client accepts (it validates with the same schema),
 * must carry a registered error code, and must fit in a control frame (the host encodes it; an
 * encoding error there would be an exception out of the server). Throws, failing the test, if not.
 */
export function checkServerFrame(frame: ServerFrame): void {
  const parsed = serverFrameSchema.safeParse(frame);
  if (!parsed.success) throw new Error(`server sent a frame its clients reject: ${JSON.stringify(frame).slice(0, 200)}: ${parsed.error.message}`);
  if (frame.type === 'error' && !isErrorCode(frame.code)) throw new Error(`server sent an unregistered error code ${frame.code}`);
  try {
    encodeControl(frame);
  } catch (error) {
    throw new Error(`server sent a ${frame.type} frame that cannot be encoded: ${String(error)}`);
  }
}

/** The password every harness account has unless told otherwise. */
export function passwordOf(username: string): string {
  return `${username}-password`;
}

/** The harness's fake hash: instant and recognisable, never the password itself. */
export function fakeHash(password: string): string {
  return `hash:${password}`;
}

/**
 * A store that already holds accounts (password `passwordOf(name)`, nickname `nickname` or else
 * the username) and friendships: for tests that need many accounts without paying for sign-ups.
 * `store`: the (empty) store to fill, when a test needs its own kind.
 */
export function storeWith<S extends MemoryStore = MemoryStore>(usernames: readonly string[], friendships: ReadonlyArray<readonly [string, string]> = [], nickname?: string, store: S = new MemoryStore() as S): S {
  store.apply(usernames.map((username) => ({ op: 'account.create', username, nickname: nickname ?? username, passwordHash: fakeHash(passwordOf(username)), createdAtMs: 0 })));
  store.apply(friendships.map(([a, b]) => ({ op: 'friendship.add', a, b })));
  return store;
}

export interface HarnessOptions extends Partial<Omit<ServerConfig, 'newToken'>> {
  readonly store?: MemoryStore;
  /** Run a machine with this known bug planted (sim/world/planted-bugs.ts), to prove a test catches it. */
  readonly plantedBug?: PlantedBug;
}

export class ServerHarness {
  readonly store: MemoryStore;
  machine: ServerMachine;
  nowMs = 1_000_000;
  /** Every frame each connection received, in order. */
  readonly inbox = new Map<number, ServerFrame[]>();
  readonly closed = new Set<number>();
  /** Every hash and verify job the machine asked for, in order (a resume must add none). */
  readonly jobLog: ServerEffect[] = [];
  private pending: ServerEffect[] = [];
  private tokenSeq = 0;
  private nextConnId = 1;

  constructor(private readonly options: HarnessOptions = {}) {
    this.store = options.store ?? new MemoryStore();
    this.machine = this.boot();
  }

  /** A new machine from what the store holds: a server restart. */
  restart(): void {
    this.machine = this.boot();
    this.pending = [];
    for (const connId of this.inbox.keys()) this.closed.add(connId);
  }

  private boot(): ServerMachine {
    const { store: _store, plantedBug, ...config } = this.options;
    // Harness clients all come from 10.0.0.1 unless told: the per-address sign-up and connection
    // limits are lifted unless a test sets them (test/core/server/server-abuse.test.ts does).
    const lifted = { signupsPerAddressPerHour: 0, connectionsPerAddressMax: 0, unauthenticatedConnectionsPerAddressMax: 0 };
    return newServerMachine(this.store.load(), { ...lifted, ...config, newToken: () => `tok${++this.tokenSeq}` }, plantedBug);
  }

  open(remoteAddress = '10.0.0.1'): number {
    const connId = this.nextConnId++;
    this.inbox.set(connId, []);
    this.machine.handle({ type: 'open', connId, remoteAddress }, this.nowMs);
    this.collect();
    return connId;
  }

  sendBytes(connId: number, bytes: Uint8Array): void {
    this.machine.handle({ type: 'bytes', connId, bytes }, this.nowMs);
    this.collect();
  }

  send(connId: number, frame: ClientFrame | Record<string, unknown>): void {
    this.sendBytes(connId, encodeControl(frame));
    this.settle();
  }

  /** Sends without answering hash or verify jobs (they stay pending until settle()). */
  sendUnsettled(connId: number, frame: ClientFrame | Record<string, unknown>): void {
    this.sendBytes(connId, encodeControl(frame));
  }

  close(connId: number): void {
    this.machine.handle({ type: 'closed', connId }, this.nowMs);
    this.closed.add(connId);
    this.collect();
  }

  /** An input from outside any connection (another node of a cluster, the host), its effects carried out. */
  input(input: ServerInput): void {
    this.machine.handle(input, this.nowMs);
    this.collect();
  }

  /** The runtime asks the server to stop (SIGTERM). */
  shutdown(): void {
    this.machine.handle({ type: 'shutdown' }, this.nowMs);
    this.collect();
  }

  advance(ms: number): void {
    const targetMs = this.nowMs + ms;
    for (let next = this.machine.nextTimeoutMs(); next !== null && next <= targetMs; next = this.machine.nextTimeoutMs()) {
      this.nowMs = Math.max(this.nowMs, next);
      this.machine.handleTimeout(this.nowMs);
      this.collect();
    }
    this.nowMs = targetMs;
  }

  /** Answers every pending hash job with a failure (as if the hashing pool broke). */
  failHashes(): void {
    const jobs = this.pending;
    this.pending = [];
    for (const effect of jobs) {
      if (effect.type === 'hash') this.machine.handle({ type: 'hashed', jobId: effect.jobId, passwordHash: null }, this.nowMs);
      else this.pending.push(effect);
      this.collect();
    }
  }

  /** Hash and verify jobs asked for and not yet answered. */
  get pendingJobs(): number {
    return this.pending.length;
  }

  /** Answers the oldest pending hash or verify job only (a thread finishing); false when none. */
  settleOne(): boolean {
    const effect = this.pending.shift();
    if (effect === undefined) return false;
    this.answer(effect);
    this.collect();
    return true;
  }

  private answer(effect: ServerEffect): void {
    if (effect.type === 'hash') this.machine.handle({ type: 'hashed', jobId: effect.jobId, passwordHash: fakeHash(effect.password) }, this.nowMs);
    if (effect.type === 'verify') {
      const ok = effect.passwordHash !== null && effect.passwordHash === fakeHash(effect.password);
      this.machine.handle({ type: 'verified', jobId: effect.jobId, ok }, this.nowMs);
    }
  }

  /** Answers every pending hash and verify job. */
  settle(): void {
    // Each round may start checks that were waiting for a thread: enough rounds for a full line.
    for (let round = 0; round < 1_000 && this.pending.length > 0; round++) {
      const jobs = this.pending;
      this.pending = [];
      for (const effect of jobs) {
        this.answer(effect);
        this.collect();
      }
    }
  }

  /** Carries out the machine's effects until it is quiet (a commit's answer makes more). */
  private collect(): void {
    for (let effects = this.machine.takeEffects(); effects.length > 0; effects = this.machine.takeEffects()) {
      const ops = [];
      for (const effect of effects) {
        switch (effect.type) {
          case 'send':
            checkServerFrame(effect.frame);
            this.inbox.get(effect.connId)?.push(effect.frame);
            break;
          case 'close':
            this.closed.add(effect.connId);
            break;
          case 'persist':
            ops.push(effect.op);
            break;
          case 'commit': {
            // As the host: what was persisted before it first, then its own batch, then the answer.
            this.store.apply(ops.splice(0));
            const refused = this.store.apply(effect.ops) !== null;
            this.machine.handle({ type: 'committed', jobId: effect.jobId, refused }, this.nowMs);
            break;
          }
          default:
            this.jobLog.push(effect);
            this.pending.push(effect);
        }
      }
      this.store.apply(ops);
    }
  }

  frames(connId: number): ServerFrame[] {
    return this.inbox.get(connId) ?? [];
  }

  /** Frames of one type a connection received, oldest first. */
  framesOf<T extends ServerFrameType>(connId: number, type: T): ServerFrameOf<T>[] {
    return this.frames(connId).filter((f): f is ServerFrameOf<T> => f.type === type);
  }

  /** Error codes a connection received, oldest first. */
  errors(connId: number): string[] {
    return this.framesOf(connId, 'error').map((f) => f.code);
  }

  isClosed(connId: number): boolean {
    return this.closed.has(connId);
  }

  last(connId: number): ServerFrame | undefined {
    return this.frames(connId).at(-1);
  }

  /** Removes and returns what a connection received so far. */
  drain(connId: number): ServerFrame[] {
    const frames = this.frames(connId).splice(0);
    return frames;
  }

  // ---- common flows ---------------------------------------------------------------------------

  signup(username: string, password = passwordOf(username)): void {
    const connId = this.open();
    this.send(connId, { type: 'signup', username, password });
    const reply = this.last(connId);
    if (reply?.type !== 'signup.ok') throw new Error(`signup ${username} failed: ${JSON.stringify(reply)}`);
    this.close(connId);
  }

  /** Opens a connection and logs in; returns the connection id. */
  login(username: string, password = passwordOf(username), remoteAddress?: string): number {
    const connId = this.open(remoteAddress);
    this.send(connId, { type: 'login', username, password });
    // Pushes may follow the login.ok (held mail): the reply is the first frame after the welcome.
    const reply = this.frames(connId).find((f) => f.type !== 'welcome');
    if (reply?.type !== 'login.ok') throw new Error(`login ${username} failed: ${JSON.stringify(reply)}`);
    return connId;
  }

  befriend(a: string, connA: number, b: string, connB: number): void {
    this.send(connA, { type: 'friend.request', username: b });
    this.send(connB, { type: 'friend.accept', username: a });
  }

  /** Signs each user up, logs each in (in order) and returns their connection ids by name. */
  online(...usernames: string[]): Record<string, number> {
    for (const username of usernames) if (!this.machine.hasAccount(username)) this.signup(username);
    const conns: Record<string, number> = {};
    for (const username of usernames) conns[username] = this.login(username);
    return conns;
  }

  /** Resumes a user on a new connection with a token; returns the connection id. */
  resume(username: string, token: string): number {
    const connId = this.open();
    this.send(connId, { type: 'resume', username, token });
    return connId;
  }

  /** The resume token from the last login.ok a connection received. */
  tokenOf(connId: number): string {
    const ok = this.framesOf(connId, 'login.ok').at(-1);
    if (ok === undefined) throw new Error(`connection ${connId} has no login.ok`);
    return ok.resumeToken;
  }
}
