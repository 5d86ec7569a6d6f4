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
import { errorMessage } from '../../../core/errors.ts';
import { Client, WELCOME, loginOk } from './hand-typed-client.ts';

const LOGIN_REF = 41;
const SECOND_LOGIN_REF = 42;
/** The answer to a login typed while the link logs back in by itself: it says what to wait for. */
const LOGGING_BACK_IN = {
  event: 'error',
  code: 'SERVER_UNAVAILABLE',
  message: errorMessage('SERVER_UNAVAILABLE'),
  detail: 'the connection dropped and the client is logging back in by itself: wait for reconnected',
};

describe('a login typed while the link takes its own login back after a drop', () => {
  it('is answered at once, once, with the command\'s ref (SERVER_UNAVAILABLE: the client is logging back in by itself, wait for reconnected), and is never sent', () => {
    const client = new Client().loggedIn();
    const resumeId = client.resuming();
    const loginsBefore = client.sent.filter((f) => f.type === 'login').length;
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: LOGIN_REF });
    expect(client.answersTo(LOGIN_REF)).toEqual([LOGGING_BACK_IN]);
    // The server restarted: the resume is refused and the link logs in with the password, again
    // with a login typed meanwhile answered at once.
    client.frame({ type: 'error', re: resumeId, code: 'BAD_RESUME_TOKEN', message: 'resume token is unknown or expired; log in with the password' });
    const reloginId = client.lastSent('login').id!;
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: SECOND_LOGIN_REF });
    expect(client.answersTo(SECOND_LOGIN_REF)).toEqual([LOGGING_BACK_IN]);
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
