/**
 * Drives a ServerMachine directly, as a tiny simulator: clients are connection ids, frames go in
 * through the real codec, effects are collected per connection, the clock only moves when told.
 * Password hashing is instant and fake ("hash:" + password), answered on `settle()`.
 */
import { encodeControl } from '../../core/codec.ts';
import type { ClientFrame, ServerFrame, ServerFrameOf, ServerFrameType } from '../../core/frames.ts';
import { type ServerConfig, type ServerEffect, ServerMachine } from '../../core/server/machine.ts';
import { MemoryStore } from '../../core/store.ts';

export interface HarnessOptions extends Partial<Omit<ServerConfig, 'newToken'>> {
  readonly store?: MemoryStore;
}

export class ServerHarness {
  readonly store: MemoryStore;
  machine: ServerMachine;
  nowMs = 1_000_000;
  /** Every frame each connection received, in order. */
  readonly inbox = new Map<number, ServerFrame[]>();
  readonly closed = new Set<number>();
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
    const { store: _store, ...config } = this.options;
    return new ServerMachine(this.store.load(), { ...config, newToken: () => `tok${++this.tokenSeq}` });
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
  sendUnsettled(connId: number, frame: ClientFrame): void {
    this.sendBytes(connId, encodeControl(frame));
  }

  close(connId: number): void {
    this.machine.handle({ type: 'closed', connId }, this.nowMs);
    this.closed.add(connId);
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

  /** Answers every pending hash and verify job. */
  settle(): void {
    for (let round = 0; round < 10 && this.pending.length > 0; round++) {
      const jobs = this.pending;
      this.pending = [];
      for (const effect of jobs) {
        if (effect.type === 'hash') this.machine.handle({ type: 'hashed', jobId: effect.jobId, passwordHash: `hash:${effect.password}` }, this.nowMs);
        if (effect.type === 'verify') {
          const ok = effect.passwordHash !== null && effect.passwordHash === `hash:${effect.password}`;
          this.machine.handle({ type: 'verified', jobId: effect.jobId, ok }, this.nowMs);
        }
        this.collect();
      }
    }
  }

  private collect(): void {
    const effects = this.machine.takeEffects();
    const ops = [];
    for (const effect of effects) {
      switch (effect.type) {
        case 'send':
          this.inbox.get(effect.connId)?.push(effect.frame);
          break;
        case 'close':
          this.closed.add(effect.connId);
          break;
        case 'persist':
          ops.push(effect.op);
          break;
        default:
          this.pending.push(effect);
      }
    }
    this.store.apply(ops);
  }

  frames(connId: number): ServerFrame[] {
    return this.inbox.get(connId) ?? [];
  }

  /** Frames of one type a connection received, oldest first. */
  framesOf<T extends ServerFrameType>(connId: number, type: T): ServerFrameOf<T>[] {
    return this.frames(connId).filter((f): f is ServerFrameOf<T> => f.type === type);
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

  signup(username: string, password = `${username}-password`): void {
    const connId = this.open();
    this.send(connId, { type: 'signup', username, password });
    const reply = this.last(connId);
    if (reply?.type !== 'signup.ok') throw new Error(`signup ${username} failed: ${JSON.stringify(reply)}`);
    this.close(connId);
  }

  /** Opens a connection and logs in; returns the connection id. */
  login(username: string, password = `${username}-password`): number {
    const connId = this.open();
    this.send(connId, { type: 'login', username, password });
    const reply = this.last(connId);
    if (reply?.type !== 'login.ok') throw new Error(`login ${username} failed: ${JSON.stringify(reply)}`);
    return connId;
  }

  befriend(a: string, connA: number, b: string, connB: number): void {
    this.send(connA, { type: 'friend.request', username: b });
    this.send(connB, { type: 'friend.accept', username: a });
  }
}
