/**
 * One peer machine (core/peer/machine.ts over core/peer/server-link.ts) and a server typed by hand,
 * so that a command can come at the exact moment a swarm found: what the machine sent, and what it
 * told its user, with each event's command ref.
 */
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { type PeerConfig, type PeerEffect, type PeerInput, PeerMachine } from '../../../core/peer/machine.ts';

export const WELCOME: ServerFrame = { type: 'welcome', protocol: 1, ttlMs: 9_000, heartbeatMs: 3_000, sessionTimeoutMs: 30_000 };
export function loginOk(re: number, resumeToken: string): ServerFrame {
  return { type: 'login.ok', re, username: 'alice', nickname: 'alice', friends: [], incoming: [], outgoing: [], resumeToken, resumed: false };
}

/** One peer machine and a hand-typed server: what the machine sent, and what it told its user. */
export class Client {
  readonly machine = new PeerMachine({ idPrefix: 'alice', jitterSeed: 7, autoAcceptChat: true });
  nowMs = 1_000;
  linkId = 0;
  readonly sent: ClientFrame[] = [];
  readonly events: Array<{ event: ClientEvent; ref: number | undefined }> = [];
  /** Every effect, in order (the server sends and events are also kept apart above). */
  readonly effects: PeerEffect[] = [];

  input(input: PeerInput): void {
    this.machine.handle(input, this.nowMs);
    this.drain();
  }

  frame(frame: ServerFrame): void {
    this.input({ type: 'server.bytes', linkId: this.linkId, bytes: encodeControl(frame) });
  }

  lastSent(type: string): ClientFrame & { id?: number } {
    const frame = this.sent.filter((f) => f.type === type).at(-1);
    if (frame === undefined) throw new Error(`no ${type} sent`);
    return frame as ClientFrame & { id?: number };
  }

  /** Moves the clock on by `ms` and runs the machine's timers once. */
  advance(ms: number): void {
    this.nowMs += ms;
    this.machine.handleTimeout(this.nowMs);
    this.drain();
  }

  /** Runs the machine's timers until it asks to connect again. */
  untilConnect(): void {
    for (let i = 0; i < 100; i++) {
      const at = this.machine.nextTimeoutMs();
      if (at === null) throw new Error('no timer to wait for');
      const before = this.linkId;
      this.nowMs = Math.max(this.nowMs, at);
      this.machine.handleTimeout(this.nowMs);
      this.drain();
      if (this.linkId !== before) return;
    }
    throw new Error('the machine never connected again');
  }

  private drain(): void {
    for (const effect of this.machine.takeEffects() as PeerEffect[]) {
      this.effects.push(effect);
      if (effect.type === 'server.connect') this.linkId = effect.linkId;
      else if (effect.type === 'server.send') this.sent.push(effect.frame);
      else if (effect.type === 'event') this.events.push({ event: effect.event, ref: effect.ref });
    }
  }

  /** Connected and welcomed, not logged in. */
  welcomed(): this {
    this.input({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    this.input({ type: 'server.open', linkId: this.linkId, localAddress: '127.0.0.1' });
    this.frame(WELCOME);
    return this;
  }

  /** Connected, welcomed and logged in as alice (resume token tok1). */
  loggedIn(): this {
    this.welcomed();
    this.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    this.frame(loginOk(this.lastSent('login').id!, 'tok1'));
    return this;
  }

  /** The link dropped (a server crash) and is back, welcomed, with its resume on its way. */
  resuming(): number {
    this.input({ type: 'server.closed', linkId: this.linkId, error: 'ECONNRESET' });
    this.untilConnect();
    this.input({ type: 'server.open', linkId: this.linkId, localAddress: '127.0.0.1' });
    this.frame(WELCOME);
    return this.lastSent('resume').id!;
  }

  answersTo(ref: number): ClientEvent[] {
    return this.events.filter((e) => e.ref === ref).map((e) => e.event);
  }
}

/** A hand-typed client whose machine has `config` over the shared one's (autoAcceptChat off, say). */
export class ConfiguredClient extends Client {
  override readonly machine: PeerMachine;
  constructor(config: Partial<PeerConfig>) {
    super();
    this.machine = new PeerMachine({ idPrefix: 'alice', jitterSeed: 7, autoAcceptChat: true, ...config });
  }
}
