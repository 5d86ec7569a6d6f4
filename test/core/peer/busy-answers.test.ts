/**
 * The words of a login or logout answered at once (core/peer/machine.ts, onLogin and onLogout):
 * BUSY says which of the user's own requests (the login or the logout) still awaits the server,
 * so the user knows what to wait for; NOT_LOGGED_IN says there is nothing to log out of. One peer
 * machine and a server typed by hand (hand-typed-client.ts).
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../core/errors.ts';
import type { PeerCommand } from '../../../core/peer/commands.ts';
import { Client } from './hand-typed-client.ts';

const LOGIN: PeerCommand = { cmd: 'login', username: 'alice', password: 'alice-password' };
const LOGOUT: PeerCommand = { cmd: 'logout' };

function busy(what: 'login' | 'logout'): object {
  return { event: 'error', code: 'BUSY', message: errorMessage('BUSY'), detail: `the ${what} before this one still awaits the server's answer: retry once it has come` };
}

describe('BUSY names the request that still awaits the server', () => {
  it('a login or a logout typed while the user\'s login awaits its answer: "the login before this one"', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: LOGIN });
    client.input({ type: 'command', command: LOGIN, ref: 1 });
    client.input({ type: 'command', command: LOGOUT, ref: 2 });
    expect(client.answersTo(1)).toEqual([busy('login')]);
    expect(client.answersTo(2)).toEqual([busy('login')]);
  });

  it('a login or a logout typed while the user\'s logout awaits its answer: "the logout before this one"', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: LOGOUT });
    client.input({ type: 'command', command: LOGIN, ref: 3 });
    client.input({ type: 'command', command: LOGOUT, ref: 4 });
    expect(client.answersTo(3)).toEqual([busy('logout')]);
    expect(client.answersTo(4)).toEqual([busy('logout')]);
  });

  it('a logout while the link is down and the user\'s login waits to be sent again: "the login before this one"', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: LOGIN });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: LOGOUT, ref: 5 });
    expect(client.answersTo(5)).toEqual([busy('login')]);
  });
});

describe('NOT_LOGGED_IN: nothing to log out of', () => {
  it('before any login, and after the user\'s own logout, it says just that', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: LOGOUT, ref: 6 });
    const plain = { event: 'error', code: 'NOT_LOGGED_IN', message: errorMessage('NOT_LOGGED_IN'), detail: 'not logged in: there is nothing to log out of' };
    expect(client.answersTo(6)).toEqual([plain]);
    client.input({ type: 'command', command: LOGIN });
    client.frame({ type: 'login.ok', re: client.lastSent('login').id!, username: 'alice', nickname: 'alice', friends: [], incoming: [], outgoing: [], resumeToken: 'tok1', resumed: false });
    client.input({ type: 'command', command: LOGOUT });
    client.frame({ type: 'logout.ok', re: client.lastSent('logout').id! });
    client.input({ type: 'command', command: LOGOUT, ref: 7 });
    expect(client.answersTo(7)).toEqual([plain]);
  });

  it('while the link is down or coming up holding no login (connecting, awaiting the welcome, waiting to reconnect): NOT_LOGGED_IN, and nothing is sent', () => {
    const plain = { event: 'error', code: 'NOT_LOGGED_IN', message: errorMessage('NOT_LOGGED_IN'), detail: 'not logged in: there is nothing to log out of' };
    const client = new Client();
    client.input({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    expect(client.machine.linkState).toBe('ExpectOpen');
    client.input({ type: 'command', command: LOGOUT, ref: 9 });
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    expect(client.machine.linkState).toBe('ExpectWelcome');
    client.input({ type: 'command', command: LOGOUT, ref: 10 });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.machine.linkState).toBe('ExpectReconnect');
    client.input({ type: 'command', command: LOGOUT, ref: 11 });
    for (const ref of [9, 10, 11]) expect(client.answersTo(ref)).toEqual([plain]);
    expect(client.sent).toEqual([]);
  });

  it('before the link was ever started: NOT_LOGGED_IN, not BUSY', () => {
    const client = new Client();
    client.input({ type: 'command', command: LOGOUT, ref: 8 });
    expect(client.answersTo(8)).toEqual([{ event: 'error', code: 'NOT_LOGGED_IN', message: errorMessage('NOT_LOGGED_IN'), detail: 'not logged in: there is nothing to log out of' }]);
  });
});
