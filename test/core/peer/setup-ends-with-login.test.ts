/**
 * Sessions being set up end with our login, as open ones do (core/peer/machine.ts,
 * endSessionsWithLogin): the peer machine with a server typed by hand (hand-typed-client.ts).
 *
 * Found by the swarm (test/sim/fixtures/mitm-swarm-base.yaml, root seed 18, run seed 2406636415):
 * a session.established (caller) arrived just as the user logged out; the connection to the
 * callee it started outlived the login, hung until the callee's process crashed 3.5 s later, and
 * its chat.failed (unreachable) reached the next login, where it was taken for the outcome of that
 * login's own chat.open to the same friend, whose real outcome then came as a second one.
 */
import { describe, expect, it } from 'vitest';
import { P2P_HELLO_TIMEOUT_MS } from '../../../core/limits.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { Client } from './hand-typed-client.ts';

function failures(client: Client, from = 0): ClientEvent[] {
  return client.events.slice(from).map((e) => e.event).filter((e) => e.event === 'chat.failed');
}

function logout(client: Client): void {
  client.input({ type: 'command', command: { cmd: 'logout' } });
  client.frame({ type: 'logout.ok', re: client.lastSent('logout').id! });
}

describe('a session being set up when our login ends', () => {
  it('caller: the connection to the callee not greeted yet is reset, and fails logged-out then, not later under the next login', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    const re = client.lastSent('session.request').id!;
    client.frame({ type: 'session.pending', re, requestId: 's1', username: 'bob', timeoutMs: 3_000 });
    client.frame({ type: 'session.established', requestId: 's1', token: 't1', username: 'bob', role: 'caller', host: '10.0.0.2', port: 5000 });
    const connect = client.effects.find((e) => e.type === 'p2p.connect');
    expect(connect).toBeDefined();
    const streamId = connect?.type === 'p2p.connect' ? connect.streamId : '';
    const from = client.events.length;
    logout(client);
    expect(failures(client, from)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out' }]);
    expect(client.effects).toContainEqual({ type: 'p2p.reset', streamId });
    // The callee's end of it closing later tells nobody anything, and no hello goes out on it.
    const after = client.events.length;
    client.input({ type: 'p2p.open', streamId, peerKey: null });
    client.input({ type: 'p2p.closed', streamId, error: 'ECONNRESET' });
    client.advance(P2P_HELLO_TIMEOUT_MS);
    expect(failures(client, after)).toEqual([]);
    expect(client.effects.filter((e) => e.type === 'p2p.send')).toEqual([]);
  });

  it('callee: the token held for the caller\'s hello is dropped, and the request fails logged-out (incoming) then, not at the token\'s timeout', () => {
    const client = new Client().loggedIn();
    client.frame({ type: 'session.incoming', requestId: 's2', from: 'carol', timeoutMs: 3_000 });
    client.frame({ type: 'session.answered', re: client.lastSent('session.answer').id!, requestId: 's2', accept: true });
    client.frame({ type: 'session.established', requestId: 's2', token: 't2', username: 'carol', role: 'callee' });
    const from = client.events.length;
    logout(client);
    expect(failures(client, from)).toEqual([{ event: 'chat.failed', username: 'carol', reason: 'logged-out', incoming: true }]);
    const after = client.events.length;
    client.advance(P2P_HELLO_TIMEOUT_MS);
    expect(failures(client, after)).toEqual([]);
  });
});
