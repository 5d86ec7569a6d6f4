/**
 * A logout is the user's wish to be gone: it gets one answer, at once when the server cannot take
 * it. When the link drops before the server's logout.ok, or the user logs out while the link is
 * down holding a login to take back, the client ends the login here: logout.ok with the command's
 * ref and a detail saying the server was not reachable, the sessions end as with any logout, and
 * the login is not taken back (no resume, no relogin, nothing more sent for it). The server ends
 * it when its TTL passes without a heartbeat. Seen from the peer machine (core/peer/machine.ts
 * over core/peer/server-link.ts), the server typed by hand (hand-typed-client.ts).
 *
 * Before: a logout the link dropped under was answered SERVER_UNAVAILABLE ("retrying") at the
 * drop, and once the link had taken the login back the logout went out again and its logout.ok
 * came as a second answer, with no ref; if the take-back was refused, it never went out.
 */
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { Client, WELCOME, loginOk } from './hand-typed-client.ts';

const LOGOUT_REF = 51;
const PASSWORD_REF = 70;

const LOGGED_OUT_HERE = { event: 'logout.ok', detail: expect.stringContaining('not reachable') };

/** The frames the machine sent of these types. */
function sentOf(client: Client, ...types: string[]): number {
  return client.sent.filter((f) => types.includes(f.type)).length;
}

/** The next link comes up and is welcomed. */
function nextLinkWelcomed(client: Client): ClientEvent[] {
  client.untilConnect();
  const from = client.events.length;
  client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
  client.frame(WELCOME);
  return client.events.slice(from).map((e) => e.event);
}

describe('a logout the server cannot take', () => {
  it('dropped under before its logout.ok: answered at the drop, once, logout.ok with its ref; the session being set up ends; the next link takes nothing back', () => {
    const client = new Client().loggedIn();
    // A session being set up (we call bob): it ends with the login, as with a logout the server answers.
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 60 });
    client.frame({ type: 'session.pending', re: client.lastSent('session.request').id!, requestId: 's1', username: 'bob', timeoutMs: 30_000 });
    client.frame({ type: 'session.established', requestId: 's1', username: 'bob', role: 'caller', token: 't', host: '127.0.0.1', port: 7002 });
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(sentOf(client, 'logout')).toBe(1);
    const from = client.events.length;
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(LOGOUT_REF)).toEqual([LOGGED_OUT_HERE]);
    expect(client.events.slice(from).map((e) => e.event)).toContainEqual({ event: 'chat.failed', username: 'bob', reason: 'logged-out' });
    expect(client.effects).toContainEqual({ type: 'p2p.reset', streamId: 'out:1' });
    expect(client.machine.loggedIn).toBe(false);
    expect(client.machine.username).toBeNull();

    const sentBefore = client.sent.length;
    expect(nextLinkWelcomed(client)).toContainEqual({ event: 'reconnected' });
    expect(client.sent.length).toBe(sentBefore);
    expect(sentOf(client, 'resume', 'logout')).toBe(1);
    expect(client.machine.linkState).toBe('ExpectLogin');
    expect(client.answersTo(LOGOUT_REF)).toHaveLength(1);

    // Logged out: another logout has nothing to end, and a login is sent as usual.
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: 52 });
    expect(client.answersTo(52)).toEqual([expect.objectContaining({ event: 'error', code: 'NOT_LOGGED_IN' })]);
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: 53 });
    client.frame(loginOk(client.lastSent('login').id!, 'tok2'));
    expect(client.answersTo(53)).toEqual([expect.objectContaining({ event: 'login.ok' })]);
  });

  it('dropped under by a link silent for a TTL: answered the same way', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    // No byte for a whole TTL (WELCOME's 9 s), seen at the next 3 s tick.
    client.advance(9_000 + 3_000);
    expect(client.answersTo(LOGOUT_REF)).toEqual([LOGGED_OUT_HERE]);
    expect(client.machine.username).toBeNull();
  });

  it('typed while the link is down and the login waits to be taken back: answered at once, logout.ok with its ref; nothing sent, no resume on the next link', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.machine.username).toBe('alice');
    const sentBefore = client.sent.length;
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([LOGGED_OUT_HERE]);
    expect(client.machine.username).toBeNull();
    expect(nextLinkWelcomed(client)).toContainEqual({ event: 'reconnected' });
    expect(client.sent.length).toBe(sentBefore);
    expect(client.answersTo(LOGOUT_REF)).toHaveLength(1);
  });

  it('typed while the resume is on its way: answered at once, logout.ok with its ref; that link is closed, and its login.ok takes nothing back', () => {
    const client = new Client().loggedIn();
    const resumeId = client.resuming();
    const resumeLinkId = client.linkId;
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([LOGGED_OUT_HERE]);
    expect(client.effects).toContainEqual({ type: 'server.close', linkId: resumeLinkId });
    expect(sentOf(client, 'logout')).toBe(0);
    const from = client.events.length;
    // The resume's answer, on the link that was closed (the runtime may still deliver it).
    client.linkId = resumeLinkId;
    client.frame(loginOk(resumeId, 'tok2'));
    expect(client.events.slice(from)).toEqual([]);
    expect(client.machine.username).toBeNull();
    expect(client.answersTo(LOGOUT_REF)).toHaveLength(1);
  });

  it('a password change whose answer waited for the take-back is answered too (not known whether it happened), once', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'new-password' }, ref: PASSWORD_REF });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(PASSWORD_REF)).toEqual([]);
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([LOGGED_OUT_HERE]);
    // It says what is not known, and what to do: try the new password, then the old one.
    expect(client.answersTo(PASSWORD_REF)).toEqual([
      expect.objectContaining({ event: 'error', code: 'SERVER_UNAVAILABLE', detail: expect.stringContaining('could learn whether it happened: log in with the new password, or the old one if that fails') }),
    ]);
    nextLinkWelcomed(client);
    expect(client.answersTo(PASSWORD_REF)).toHaveLength(1);
  });
});
