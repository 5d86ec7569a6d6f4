/**
 * A logout gets its one answer whatever the link is doing when it is typed, seen from the peer
 * machine (core/peer/machine.ts over core/peer/server-link.ts) with the server's frames typed by
 * hand (hand-typed-client.ts).
 *
 * Found by the swarm (scenarios/cluster-three-nodes.yaml, root seed 11, run seed 3087827802;
 * test/sim/fixtures/logout-while-paused.yaml): the user typed logout while the client's process
 * was paused. Meanwhile the server ended the login (no heartbeat within the TTL) and then closed
 * the connection, which no longer logged in, for idleness. On resuming, the machine heard
 * HEARTBEAT_TIMEOUT and UNAUTHENTICATED_TIMEOUT and then handled the logout before the close: the
 * link sent it on the closing connection, lost it with the connection, and had no login to take
 * back, so nothing sent it again. The user was told SERVER_UNAVAILABLE ("retrying"), which was
 * not so, and the simulator's ledger, which waits for a lost logout to be sent again, waited
 * forever. The logout is now answered at once, NOT_LOGGED_IN, and not sent.
 *
 * Its siblings: a logout sent beside the link's own resume had its logout.ok reach a link that
 * had just taken its login back (a protocol error): no answer, and a client that thought itself
 * logged in. One logout, or login, at a time now (and a logout typed while the login is being
 * taken back ends it here: logout-server-unreachable.test.ts).
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../../core/frames.ts';
import { Client, WELCOME, loginOk } from './hand-typed-client.ts';

const LOGOUT_REF = 51;
const SECOND_LOGOUT_REF = 52;

const HEARTBEAT_TIMEOUT: ServerFrame = { type: 'error', code: 'HEARTBEAT_TIMEOUT', message: 'no heartbeat within the TTL: logged out' };
const IDLE_CLOSE: ServerFrame = { type: 'error', code: 'UNAUTHENTICATED_TIMEOUT', message: 'no login before the idle limit' };

function logouts(client: Client): number {
  return client.sent.filter((f) => f.type === 'logout').length;
}

describe('a logout typed after the server ended the login', () => {
  it('is answered at once, once, with its ref: NOT_LOGGED_IN, saying the login had ended (HEARTBEAT_TIMEOUT); nothing is sent, and the close that follows adds nothing', () => {
    const client = new Client().loggedIn();
    // What a paused process hears when it resumes, in order: the server ended the login, then
    // closed the connection for idleness; the logout typed during the pause comes before the close.
    client.frame(HEARTBEAT_TIMEOUT);
    client.frame(IDLE_CLOSE);
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'NOT_LOGGED_IN', detail: expect.stringContaining('HEARTBEAT_TIMEOUT') })]);
    expect(logouts(client)).toBe(0);
    client.input({ type: 'server.closed', linkId: client.linkId, error: null });
    expect(client.answersTo(LOGOUT_REF)).toHaveLength(1);
    expect(client.machine.loggedIn).toBe(false);
  });

  it('typed while the link is down holding no login, it is answered NOT_LOGGED_IN at once, not SERVER_UNAVAILABLE ("retrying": nothing would be retried)', () => {
    const client = new Client().welcomed();
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'NOT_LOGGED_IN' })]);
    client.untilConnect();
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    client.frame(WELCOME);
    expect(logouts(client)).toBe(0);
  });

  it('typed while the link is down with the user\'s own login waiting to be sent again, it is answered BUSY', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'BUSY' })]);
    expect(logouts(client)).toBe(0);
  });

  it('typed before any login, it is answered NOT_LOGGED_IN at once, and not sent', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'NOT_LOGGED_IN' })]);
    expect(logouts(client)).toBe(0);
  });
});

describe('one logout at a time', () => {
  it('a logout typed while the link takes its own login back after a drop is not sent beside the resume: it ends the login here at once, logout.ok (logout-server-unreachable.test.ts), and no logout.ok of the server\'s ever comes unasked', () => {
    const client = new Client().loggedIn();
    client.resuming();
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'logout.ok' })]);
    expect(logouts(client)).toBe(0);
    expect(client.machine.loggedIn).toBe(false);
    expect(client.events.map((e) => e.event)).not.toContainEqual(expect.objectContaining({ code: 'UNEXPECTED_FRAME' }));
  });

  it('a logout typed while the user\'s login awaits its answer is answered BUSY and not sent; the login gets its own answer', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: 40 });
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    expect(client.answersTo(LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'BUSY' })]);
    expect(logouts(client)).toBe(0);
    client.frame(loginOk(client.lastSent('login').id!, 'tok1'));
    expect(client.answersTo(40)).toEqual([expect.objectContaining({ event: 'login.ok' })]);
  });

  it('a second logout while the first awaits its answer is answered BUSY and not sent; the first ends with logout.ok', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: LOGOUT_REF });
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: SECOND_LOGOUT_REF });
    expect(client.answersTo(SECOND_LOGOUT_REF)).toEqual([expect.objectContaining({ event: 'error', code: 'BUSY' })]);
    expect(logouts(client)).toBe(1);
    client.frame({ type: 'logout.ok', re: client.lastSent('logout').id! });
    expect(client.answersTo(LOGOUT_REF)).toEqual([{ event: 'logout.ok' }]);
    expect(client.answersTo(SECOND_LOGOUT_REF)).toHaveLength(1);
  });
});
