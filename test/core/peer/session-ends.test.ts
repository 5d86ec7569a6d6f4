/**
 * How an open session's end reaches the friend (core/peer/machine.ts, closeSession's bye): our
 * side tells it over the session itself, with the reason, so a friend whose own server link is
 * down (who hears nothing from the server) still closes the chat for the right reason instead of
 * seeing a dropped connection and waiting to resume; and a session ends only for the reasons that
 * end it (a friend coming online or going away ends nothing). In the pure world (peer-world.ts).
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { Client } from './hand-typed-client.ts';
import { twoFriends } from './peer-world.ts';

function inSession(): ReturnType<typeof twoFriends> {
  const world = twoFriends();
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.peer('bob').openSessions()).toEqual(['alice']);
  return world;
}

describe('the friend hears why the session ended, over the session', () => {
  it('we remove the friend while its server link is down: it closes the chat unfriended, and its transfer fails, not suspended', () => {
    const world = inSession();
    world.sources.set('/a.bin', new Uint8Array(4096));
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/a.bin', name: 'a.bin', size: 4096 }] });
    world.pausedReaders.delete('bob');
    world.readSome('bob', 1_000_000);
    world.serverUp = false;
    world.cutServerLink('bob');
    world.command('alice', { cmd: 'friend.remove', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'unfriended' }]);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'unfriended' }]);
    expect(world.eventsOf('bob', 'file.failed')).toMatchObject([{ reason: 'unfriended' }]);
    expect(world.peer('bob').transferCount()).toBe(0);
    // Nothing was being set up: no chat.failed with it.
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
  });

  it('we log out while the friend\'s server link is down: it closes the chat offline, not error (a connection lost)', () => {
    const world = inSession();
    world.serverUp = false;
    world.cutServerLink('bob');
    world.command('alice', { cmd: 'logout' });
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'offline' }]);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'offline' }]);
    expect(world.peer('alice').openSessions()).toEqual([]);
  });
});

describe('presence ends a session only when the friend goes offline', () => {
  it('a friend seen online keeps its session; seen offline, the session closes offline', () => {
    const client = new Client().loggedIn();
    // bob asks, the client says yes by itself, and bob's hello brings the token it was given.
    client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
    client.frame({ type: 'session.established', requestId: 'r1', username: 'bob', role: 'callee', token: 'token-1' });
    client.input({ type: 'p2p.accepted', streamId: 'in:1', remoteAddress: '10.0.0.2', peerKey: null });
    client.input({ type: 'p2p.bytes', streamId: 'in:1', bytes: encodeControl({ type: 'hello', username: 'bob', token: 'token-1' }) });
    expect(client.machine.openSessions()).toEqual(['bob']);
    client.frame({ type: 'presence', username: 'bob', status: 'online' });
    client.frame({ type: 'presence', username: 'carol', status: 'offline' });
    expect(client.machine.openSessions()).toEqual(['bob']);
    expect(client.events.filter((e) => e.event.event === 'presence').map((e) => e.event)).toEqual([
      { event: 'presence', username: 'bob', status: 'online' },
      { event: 'presence', username: 'carol', status: 'offline' },
    ]);
    client.frame({ type: 'presence', username: 'bob', status: 'offline' });
    expect(client.machine.openSessions()).toEqual([]);
    expect(client.events.at(-1)?.event).toEqual({ event: 'chat.closed', username: 'bob', reason: 'offline' });
  });
});
