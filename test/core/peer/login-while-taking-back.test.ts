/**
 * One login at a time on the server link, seen from the peer machine (core/peer/machine.ts over
 * core/peer/server-link.ts), with the server's frames typed by hand so that the user's login can
 * come at the moment the swarm found: after the link dropped, while the link's own login (the
 * resume, then the password) is on its way to the server.
 *
 * Found by the swarm (test/sim/fixtures/mitm-swarm-base.yaml, root seed 4, run seed 3634445173;
 * test/sim/fixtures/login-while-taking-back.yaml): the server crashed and came back, the user
 * typed login while the link's resume was on its way, and the link sent that login too. The
 * server refused the resume (it had restarted), logged the user's login in, and refused the
 * link's own password login (ALREADY_LOGGED_IN); the link took the user's login.ok for the answer
 * to its own login, said `friends` and `reconnected`, and the user's command never got an answer.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { type PeerEffect, type PeerInput, PeerMachine } from '../../../core/peer/machine.ts';

const WELCOME: ServerFrame = { type: 'welcome', protocol: 1, ttlMs: 9_000, heartbeatMs: 3_000, sessionTimeoutMs: 30_000 };
const LOGIN_REF = 41;
const SECOND_LOGIN_REF = 42;

function loginOk(re: number, resumeToken: string): ServerFrame {
  return { type: 'login.ok', re, username: 'alice', nickname: 'alice', friends: [], incoming: [], outgoing: [], resumeToken, resumed: false };
}

/** One peer machine and a hand-typed server: what the machine sent, and what it told its user. */
class Client {
  readonly machine = new PeerMachine({ idPrefix: 'alice', jitterSeed: 7, autoAcceptChat: true });
  nowMs = 1_000;
  linkId = 0;
  readonly sent: ClientFrame[] = [];
  readonly events: Array<{ event: ClientEvent; ref: number | undefined }> = [];

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
      if (effect.type === 'server.connect') this.linkId = effect.linkId;
      else if (effect.type === 'server.send') this.sent.push(effect.frame);
      else if (effect.type === 'event') this.events.push({ event: effect.event, ref: effect.ref });
    }
  }

  /** Connected, welcomed and logged in as alice (resume token tok1). */
  loggedIn(): this {
    this.input({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    this.input({ type: 'server.open', linkId: this.linkId, localAddress: '127.0.0.1' });
    this.frame(WELCOME);
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

describe('a login typed while the link takes its own login back after a drop', () => {
  it('is answered at once, once, with the command\'s ref (SERVER_UNAVAILABLE: the client is logging back in by itself), and is never sent', () => {
    const client = new Client().loggedIn();
    const resumeId = client.resuming();
    const loginsBefore = client.sent.filter((f) => f.type === 'login').length;
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: LOGIN_REF });
    expect(client.answersTo(LOGIN_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'SERVER_UNAVAILABLE' })]);
    // The server restarted: the resume is refused and the link logs in with the password, again
    // with a login typed meanwhile answered at once.
    client.frame({ type: 'error', re: resumeId, code: 'BAD_RESUME_TOKEN', message: 'resume token is unknown or expired; log in with the password' });
    const reloginId = client.lastSent('login').id!;
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: SECOND_LOGIN_REF });
    expect(client.answersTo(SECOND_LOGIN_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'SERVER_UNAVAILABLE' })]);
    // The only login on the wire is the link's own: its answer cannot be taken for another's.
    expect(client.sent.filter((f) => f.type === 'login')).toHaveLength(loginsBefore + 1);
    const from = client.events.length;
    client.frame(loginOk(reloginId, 'tok2'));
    expect(client.events.slice(from).map((e) => e.event.event)).toEqual(['friends', 'reconnected']);
    expect(client.machine.loggedIn).toBe(true);
    expect(client.answersTo(LOGIN_REF)).toHaveLength(1);
    expect(client.answersTo(SECOND_LOGIN_REF)).toHaveLength(1);
  });

  it('once the link is logged in again, a login goes to the server, which says ALREADY_LOGGED_IN to that command', () => {
    const client = new Client().loggedIn();
    const resumeId = client.resuming();
    client.frame(loginOk(resumeId, 'tok2'));
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: LOGIN_REF });
    const loginId = client.lastSent('login').id!;
    expect(client.answersTo(LOGIN_REF)).toEqual([]);
    client.frame({ type: 'error', re: loginId, code: 'ALREADY_LOGGED_IN', message: 'this connection is already logged in' });
    expect(client.answersTo(LOGIN_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'ALREADY_LOGGED_IN' })]);
  });

  it('a second login while the user\'s first awaits its answer is answered BUSY with its ref and not sent; the first gets its own answer', () => {
    const client = new Client();
    client.input({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    client.frame(WELCOME);
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'wrong-password' }, ref: LOGIN_REF });
    const firstId = client.lastSent('login').id!;
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: SECOND_LOGIN_REF });
    expect(client.answersTo(SECOND_LOGIN_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'BUSY' })]);
    expect(client.sent.filter((f) => f.type === 'login')).toHaveLength(1);
    client.frame({ type: 'error', re: firstId, code: 'BAD_CREDENTIALS', message: 'wrong username or password' });
    expect(client.answersTo(LOGIN_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'BAD_CREDENTIALS' })]);
    expect(client.answersTo(SECOND_LOGIN_REF)).toHaveLength(1);
  });
});
