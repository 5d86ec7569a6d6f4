/**
 * A logout the link dropped under (core/peer/server-link.ts, Account.logoutOwed) is sent again,
 * under the same id, once the login is taken back: its one answer is that logout's logout.ok,
 * with the command's ref, not a SERVER_UNAVAILABLE first (docs/PROTOCOL.md). The server played by hand.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import { type PeerEffect, type PeerInput, PeerMachine } from '../../../core/peer/machine.ts';
import { RECONNECT_DELAY_MS_MAX } from '../../../core/limits.ts';

const WELCOME: ServerFrame = { type: 'welcome', protocol: 1, ttlMs: 9_000, heartbeatMs: 3_000, sessionTimeoutMs: 30_000 };

function client() {
  const machine = new PeerMachine({ idPrefix: 'alice', jitterSeed: 1, autoAcceptChat: false });
  const out: PeerEffect[] = [];
  let nowMs = 1_000;
  let linkId = 1;
  const step = (input: PeerInput): void => {
    machine.handle(input, nowMs);
    out.push(...machine.takeEffects());
  };
  const server = (frame: ServerFrame): void => step({ type: 'server.bytes', linkId, bytes: encodeControl(frame) });
  const sent = (): ClientFrame[] => out.flatMap((e) => (e.type === 'server.send' ? [e.frame] : []));
  const loginOk = (re: number | undefined, resumeToken: string): void =>
    server({ type: 'login.ok', re, username: 'alice', nickname: 'alice', friends: [], incoming: [], outgoing: [], resumeToken, resumed: false });
  step({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
  step({ type: 'server.open', linkId, localAddress: null });
  server(WELCOME);
  step({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'pw' }, ref: 100 });
  loginOk(sent().at(-1)?.id, 't1');
  return {
    step,
    server,
    sent,
    loginOk,
    /** The link drops, and the next one is up and welcomed after the backoff. */
    dropAndReconnect(): void {
      step({ type: 'server.closed', linkId, error: null });
      nowMs += RECONNECT_DELAY_MS_MAX;
      machine.handleTimeout(nowMs);
      out.push(...machine.takeEffects());
      const connect = out.filter((e) => e.type === 'server.connect').at(-1);
      linkId = connect?.type === 'server.connect' ? connect.linkId : -1;
      step({ type: 'server.open', linkId, localAddress: null });
      server(WELCOME);
    },
    answers: (ref: number) => out.flatMap((e) => (e.type === 'event' && e.ref === ref ? [e.event] : [])),
  };
}

describe('a logout the link dropped under', () => {
  it('is answered once, by the logout.ok of the logout sent again, with its ref (also when the link drops again meanwhile)', () => {
    const alice = client();
    alice.step({ type: 'command', command: { cmd: 'logout' }, ref: 101 });
    const logout = alice.sent().at(-1);
    expect(logout?.type).toBe('logout');
    alice.dropAndReconnect();
    expect(alice.sent().at(-1)?.type).toBe('resume');
    // Lost again before the resume's answer.
    alice.dropAndReconnect();
    const resume = alice.sent().at(-1);
    expect(resume?.type).toBe('resume');
    alice.loginOk(resume?.id, 't2');
    expect(alice.sent().at(-1)).toEqual({ type: 'logout', id: logout?.id });
    expect(alice.answers(101)).toEqual([]);
    alice.server({ type: 'logout.ok', re: logout?.id });
    expect(alice.answers(101)).toEqual([{ event: 'logout.ok' }]);
  });

  it('is answered logout.ok when the login cannot be taken back (the password no longer works): the login it was to end is gone', () => {
    const alice = client();
    alice.step({ type: 'command', command: { cmd: 'logout' }, ref: 101 });
    alice.dropAndReconnect();
    const resume = alice.sent().at(-1);
    alice.server({ type: 'error', re: resume?.id, code: 'BAD_RESUME_TOKEN', message: 'bad token' });
    const relogin = alice.sent().at(-1);
    expect(relogin?.type).toBe('login');
    alice.server({ type: 'error', re: relogin?.id, code: 'BAD_CREDENTIALS', message: 'bad credentials' });
    expect(alice.answers(101)).toEqual([{ event: 'logout.ok' }]);
  });
});
