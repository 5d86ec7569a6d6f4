/**
 * Session requests end, whatever their state, when the link or the login they belong to ends
 * (core/peer/session-broker.ts). The peer machine against the real server machine, in memory.
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_DELAY_MS_MAX, SESSION_OUTCOME_GRACE_MS, SESSION_REQUEST_TIMEOUT_MS_DEFAULT } from '../../../core/limits.ts';
import { TTL_MS, twoFriends } from './peer-world.ts';

function failedFor(world: ReturnType<typeof twoFriends>, name: string, friend: string): unknown[] {
  return world.eventsOf(name, 'chat.failed').filter((e) => 'username' in e && e.username === friend);
}

describe('session requests end with the link or the login they belong to', () => {
  it('a request the server acknowledged ends with chat.failed when the login ends while the caller is away (TTL), and the next chat.open is sent again', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.request')).toHaveLength(1);
    expect(world.server.stats().pendingSessionRequests).toBe(1);
    // Alice is away longer than the TTL: the server logs her out and forgets her request.
    world.serverUp = false;
    world.cutServerLink('alice');
    world.advance(TTL_MS + 1_000);
    expect(world.server.isOnline('alice')).toBe(false);
    expect(world.server.stats().pendingSessionRequests).toBe(0);
    world.serverUp = true;
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out' }]);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'error').filter((e) => 'code' in e && e.code === 'SESSION_PENDING')).toEqual([]);
    expect(world.server.stats().pendingSessionRequests).toBe(1);
  });

  it('an acknowledged request survives a short blip (the server replays its outcome on resume)', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.cutServerLink('alice');
    world.command('bob', { cmd: 'chat.answer', username: 'alice', accept: true });
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
  });

  it('a request still waiting for its acknowledgement ends with chat.failed server-unavailable when its link drops', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.serverUp = false;
    // The request leaves, the link drops before the server's answer comes back.
    world.peers.get('alice')!.handle({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } }, world.nowMs);
    world.cutServerLink('alice');
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'server-unavailable' }]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
  });

  it('the callee is asked again after a blip without a second chat.request, and its request ends with its login', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.cutServerLink('bob');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('bob', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('bob', 'chat.request')).toHaveLength(1);
    world.command('bob', { cmd: 'logout' });
    expect(failedFor(world, 'bob', 'alice')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'logged-out' }]);
    expect(world.peers.get('bob')!.sessionRequestCount).toBe(0);
  });

  it('every request ends by its deadline even if its outcome never arrives', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // The server's own timeout ends it first; past that plus the grace nothing is left anywhere.
    world.advance(SESSION_REQUEST_TIMEOUT_MS_DEFAULT + SESSION_OUTCOME_GRACE_MS + 1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
    expect(world.peers.get('bob')!.sessionRequestCount).toBe(0);
  });
});
