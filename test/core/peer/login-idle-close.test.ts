/**
 * A login typed just as the server closes the idle, not-logged-in connection (its
 * unauthenticatedIdleMs) crosses the close: the login reaches a closed connection. Through
 * PeerHost and the real server host on the in-memory network (host-rig.ts), with the login sent
 * at the very moment the server's idle timer fires: the client sends it again on a fresh
 * connection, and the user's command is answered login.ok (not SERVER_UNAVAILABLE). And a sign-up
 * whose password hash runs past the idle limit is never cut by it: the server answers first.
 */
import { describe, expect, it } from 'vitest';
import { Rig } from './host-rig.ts';

/** The server's idle limit for a connection that has not logged in. */
const IDLE_MS = 5_000;
/** The in-memory network's one-way latency in the rig. */
const LATENCY_MS = 1;
const LOGIN_REF = 7;

describe('the server\'s idle close, seen from the client', () => {
  it('a login crossing it is sent again on a fresh connection and answered login.ok, with the command\'s ref', () => {
    const rig = new Rig({ unauthenticatedIdleMs: IDLE_MS });
    // The server closes bob's connection IDLE_MS after it answered the sign-up (a sign-up does not
    // log in; the answer starts the idle window again).
    const bob = rig.addUser('bob');
    rig.waitFor(bob, (e) => e.event === 'ready');
    rig.command(bob, { cmd: 'signup', username: 'bob', password: 'correct horse' }, (e) => e.event === 'signup.ok');
    const signupOkAtMs = bob.eventAtMs[bob.events.findIndex((e) => e.event === 'signup.ok')]!;
    const idleCloseAtMs = signupOkAtMs - LATENCY_MS + IDLE_MS;
    rig.clock.runUntil(idleCloseAtMs);
    const from = bob.events.length;
    bob.host.input({ type: 'command', command: { cmd: 'login', username: 'bob', password: 'correct horse' }, ref: LOGIN_REF });
    const answer = rig.waitFor(bob, (e) => e.event === 'login.ok' || e.event === 'error', from);
    expect(answer).toMatchObject({ event: 'login.ok', username: 'bob' });
    expect(bob.eventRefs[bob.events.indexOf(answer)]).toBe(LOGIN_REF);
    // The idle close is no outage: nothing about it reached the user.
    expect(bob.events.slice(from).map((e) => e.event)).toEqual(['login.ok']);
    // The connection the login crossed was really closed under it: the host opened another.
    expect(bob.notes.filter((n) => n.event === 'server.connected').length).toBeGreaterThanOrEqual(2);
  });

  it('a sign-up whose password hash runs past the idle limit is answered signup.ok on the same connection, and the login after it login.ok', () => {
    // Before the fix the server closed the connection under the hash (its idle limit counted from
    // the connection's opening): the user got SERVER_UNAVAILABLE, and the account was made anyway.
    const hashCostMs = 3_000;
    const rig = new Rig({ unauthenticatedIdleMs: IDLE_MS }, hashCostMs);
    const bob = rig.addUser('bob');
    rig.waitFor(bob, (e) => e.event === 'ready');
    const readyAtMs = bob.eventAtMs[bob.events.findIndex((e) => e.event === 'ready')]!;
    rig.clock.runUntil(readyAtMs - LATENCY_MS + IDLE_MS - hashCostMs / 2);
    const from = bob.events.length;
    const answer = rig.command(bob, { cmd: 'signup', username: 'bob', password: 'correct horse' }, (e) => e.event === 'signup.ok' || e.event === 'error');
    expect(answer).toMatchObject({ event: 'signup.ok', username: 'bob' });
    rig.command(bob, { cmd: 'login', username: 'bob', password: 'correct horse' }, (e) => e.event === 'login.ok');
    expect(bob.events.slice(from).map((e) => e.event)).toEqual(['signup.ok', 'login.ok']);
    // One connection throughout: nothing was cut.
    expect(bob.notes.filter((n) => n.event === 'server.connected')).toHaveLength(1);
  });
});
