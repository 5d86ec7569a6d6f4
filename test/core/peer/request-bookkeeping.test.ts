/**
 * What the peer machine keeps per request to the server (core/peer/machine.ts: `pending`, the
 * commands' refs, the new password in flight) goes when nothing can read it any more: at the
 * reply, when the link the request went on drops, or when the session broker gives up on the
 * request. Otherwise a server that never answers, or a long-lived link, grows it without bound.
 * Read through `requestsAwaitingReply`, which the simulator's liveness check reads too.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_ACK_WAIT_MS } from '../../../core/limits.ts';
import { Client, WELCOME, loginOk } from './hand-typed-client.ts';

/** Moves the clock on by `ms` a second at a time, the server answering each heartbeat: the link stays up. */
function advanceLinkUp(client: Client, ms: number): void {
  for (let elapsed = 0; elapsed < ms; elapsed += 1_000) {
    const heartbeats = client.sent.filter((f) => f.type === 'heartbeat').length;
    client.advance(1_000);
    if (client.sent.filter((f) => f.type === 'heartbeat').length > heartbeats) client.frame({ type: 'heartbeat.ack' });
  }
  expect(client.machine.linkState).toBe('LoggedIn');
}

describe('the machine keeps nothing for a request once nothing can answer it', () => {
  it('a chat.open the server never acknowledges: at the deadline it fails with timeout, and nothing is kept for its reply', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 91 });
    expect(client.machine.requestsAwaitingReply).toBe(1);
    advanceLinkUp(client, SESSION_ACK_WAIT_MS);
    expect(client.events.filter((e) => e.event.event === 'chat.failed').map((e) => e.event)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
    expect(client.machine.requestsAwaitingReply).toBe(0);
  });

  it('the late reply to that chat.open still answers nothing', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 92 });
    const re = client.lastSent('session.request').id!;
    advanceLinkUp(client, SESSION_ACK_WAIT_MS);
    const told = client.events.length;
    client.frame({ type: 'session.failed', re, username: 'bob', reason: 'offline' });
    expect(client.events.slice(told)).toEqual([]);
    expect(client.machine.requestsAwaitingReply).toBe(0);
  });

  it('a link that drops with a session request and a user request in flight keeps nothing for either once it is back', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 93 });
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 94 });
    expect(client.machine.requestsAwaitingReply).toBe(2);
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.machine.requestsAwaitingReply).toBe(0);
    client.untilConnect();
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    client.frame(WELCOME);
    // The link's own resume is the link's, not a user's request.
    client.frame(loginOk(client.lastSent('resume').id!, 'tok2'));
    expect(client.machine.requestsAwaitingReply).toBe(0);
  });

  it('a password change the server answered keeps neither its ref nor the new password', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 95 });
    expect(client.machine.requestsAwaitingReply).toBe(1);
    const re = client.lastSent('account.password').id!;
    client.frame({ type: 'account.updated', re, username: 'alice', nickname: 'alice', resumeToken: 'tok-new' });
    expect(client.answersTo(95)).toEqual([{ event: 'account.updated', username: 'alice', nickname: 'alice' }]);
    expect(client.machine.requestsAwaitingReply).toBe(0);
  });

  it('a password change the server refused keeps nothing either', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'wrong-password', new: 'alice-new-password' }, ref: 96 });
    const re = client.lastSent('account.password').id!;
    client.frame({ type: 'error', re, code: 'BAD_CREDENTIALS', message: 'wrong password' });
    expect(client.answersTo(96).map((e) => e.event)).toEqual(['error']);
    expect(client.machine.requestsAwaitingReply).toBe(0);
  });
});
