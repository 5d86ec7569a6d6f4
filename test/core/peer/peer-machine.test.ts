/**
 * The peer machine against the real server machine, both pure, wired by a tiny in-memory world
 * with a virtual clock (the quinn-proto way: step the machines, jump the clock to the next
 * deadline). Proves the server-link behaviour that is hard to time over real TCP: a short network
 * blip resumes with the token and causes no offline/online flap at the friends; heartbeats keep
 * an idle user online; reconnect delays are bounded and jittered; quit logs out first.
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN, SESSION_REQUEST_TIMEOUT_MS_DEFAULT } from '../../../core/limits.ts';
import { Backoff } from '../../../core/peer/backoff.ts';
import { clientEventSchema } from '../../../core/peer/events.ts';
import { TTL_MS, World, twoFriends } from './peer-world.ts';

describe('peer machine with the server machine, in memory', () => {
  it('says ready, signs up, logs in and befriends', () => {
    const world = twoFriends();
    expect(world.eventsOf('alice', 'ready')).toHaveLength(1);
    expect(world.eventsOf('alice', 'login.ok')).toHaveLength(1);
    expect(world.eventsOf('alice', 'friend.added')).toEqual([{ event: 'friend.added', username: 'bob', nickname: 'bob', status: 'online' }]);
  });

  it('a short blip resumes with the token: disconnected, reconnected, and no presence flap at the friend', () => {
    const world = twoFriends();
    const presenceBefore = world.eventsOf('bob', 'presence').length;
    world.cutServerLink('alice');
    expect(world.eventsOf('alice', 'disconnected')).toHaveLength(1);
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    // The resumed login's friend list is handed over, so what changed during the blip shows.
    expect(world.eventsOf('alice', 'friends').at(-1)).toMatchObject({ friends: [{ username: 'bob', status: 'online' }] });
    expect(world.eventsOf('bob', 'presence')).toHaveLength(presenceBefore);
    expect(world.server.stats().resumes).toBe(1);
    expect(world.server.isOnline('alice')).toBe(true);
  });

  it('a blip keeps the P2P session and its messages flowing', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    world.cutServerLink('alice');
    world.cutServerLink('bob');
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'during the blip', id: 1 });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([{ event: 'chat.message', from: 'alice', text: 'during the blip', id: 1 }]);
    expect(world.eventsOf('alice', 'chat.sent')).toEqual([{ event: 'chat.sent', username: 'bob', id: 1 }]);
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
  });

  it('a login a degraded server refuses says server.degraded with the wait in ms, and logs in by itself once the server is back', () => {
    const world = new World();
    world.addPeer('alice', 7001);
    world.command('alice', { cmd: 'signup', username: 'alice', password: 'alice-password' });
    world.server.handle({ type: 'cluster.health', healthy: false }, world.nowMs);
    world.command('alice', { cmd: 'login', username: 'alice', password: 'alice-password' });
    const said = world.eventsOf('alice', 'server.degraded');
    expect(said).toHaveLength(1);
    // An event of the client's JSON-lines contract (core/peer/events.ts), as a front end reads it.
    expect(clientEventSchema.parse(said[0])).toEqual(said[0]);
    const retryInMs = said[0]?.event === 'server.degraded' ? said[0].retryInMs : -1;
    // The first wait of the backoff: RECONNECT_DELAY_MS_MIN with 50-100% jitter, whole ms.
    expect(Number.isInteger(retryInMs)).toBe(true);
    expect(retryInMs).toBeGreaterThanOrEqual(RECONNECT_DELAY_MS_MIN / 2);
    expect(retryInMs).toBeLessThan(RECONNECT_DELAY_MS_MIN);
    expect(world.eventsOf('alice', 'login.ok')).toEqual([]);
    world.server.handle({ type: 'cluster.health', healthy: true }, world.nowMs);
    world.advance(retryInMs);
    expect(world.eventsOf('alice', 'login.ok')).toHaveLength(1);
  });

  it('heartbeats keep an idle user online for many TTLs', () => {
    const world = twoFriends();
    world.advance(TTL_MS * 5);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.eventsOf('bob', 'presence').filter((e) => 'status' in e && e.status === 'offline')).toEqual([]);
  });

  it('retries a server that is down with bounded delays, then logs back in', () => {
    const world = twoFriends();
    world.serverUp = false;
    world.cutServerLink('alice');
    world.advance(60_000);
    expect(world.eventsOf('alice', 'disconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(0);
    world.serverUp = true;
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.server.isOnline('alice')).toBe(true);
  });

  it('after a server restart, a password login refused as BUSY or RATE_LIMITED is retried after the backoff, not given up', () => {
    const world = twoFriends();
    // One login per second from the shared address: the second peer is refused at first.
    world.restartServer({ authAttemptsPerAddressBurst: 1, authAttemptsPerAddressPerSec: 1 });
    world.advance(2 * RECONNECT_DELAY_MS_MAX);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.server.isOnline('bob')).toBe(true);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('bob', 'reconnected')).toHaveLength(1);
  });

  it('a friend cannot pass one of our own error codes off to the script: its error frame is PEER_ERROR', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    world.injectP2p('bob', 'alice', { type: 'error', code: 'SERVER_UNAVAILABLE', message: 'not connected to the server; retrying' });
    const errors = world.eventsOf('alice', 'error');
    expect(errors.map((e) => 'code' in e && e.code)).toEqual(['PEER_ERROR']);
    expect(errors[0]).toMatchObject({ detail: expect.stringContaining('from bob: SERVER_UNAVAILABLE') });
  });

  it('friend.block from the client: the blocked friend chat requests never reach us and time out on their side; friend.unblock lets them through', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'friend.block', username: 'bob' });
    expect(world.eventsOf('alice', 'friend.blocked')).toEqual([{ event: 'friend.blocked', username: 'bob' }]);
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.advance(SESSION_REQUEST_TIMEOUT_MS_DEFAULT);
    expect(world.eventsOf('bob', 'chat.failed')).toMatchObject([{ username: 'alice', reason: 'timeout' }]);
    expect(world.eventsOf('alice', 'chat.request')).toEqual([]);
    world.command('alice', { cmd: 'friend.unblock', username: 'bob' });
    expect(world.eventsOf('alice', 'friend.unblocked')).toEqual([{ event: 'friend.unblocked', username: 'bob' }]);
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('alice', 'chat.request')).toEqual([{ event: 'chat.request', from: 'bob', timeoutMs: expect.any(Number) }]);
  });

  it('quit logs out first, then exits 0', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'quit' });
    expect(world.eventsOf('alice', 'logout.ok')).toHaveLength(1);
    expect(world.exits.get('alice')).toBe(0);
    expect(world.eventsOf('bob', 'presence').at(-1)).toEqual({ event: 'presence', username: 'alice', status: 'offline' });
  });

  it('backoff delays grow, stay within [min/2, max] and differ between seeds', () => {
    const a = new Backoff(1);
    const b = new Backoff(2);
    const delaysA = Array.from({ length: 12 }, () => a.nextDelayMs());
    const delaysB = Array.from({ length: 12 }, () => b.nextDelayMs());
    for (const delay of [...delaysA, ...delaysB]) {
      expect(delay).toBeGreaterThanOrEqual(125);
      expect(delay).toBeLessThanOrEqual(RECONNECT_DELAY_MS_MAX);
    }
    expect(delaysA.at(-1)).toBeGreaterThan(delaysA[0]!);
    expect(delaysA).not.toEqual(delaysB);
  });
});

describe('reconnect backoff', () => {
  it('counts one attempt per delay asked for, and reset starts the count and the delays again from the minimum', () => {
    const backoff = new Backoff(7, 100, 10_000);
    expect(backoff.attemptCount).toBe(0);
    const first = [backoff.nextDelayMs(), backoff.nextDelayMs(), backoff.nextDelayMs()];
    expect(backoff.attemptCount).toBe(3);
    // 100, 200, 400 ms, each jittered into [50%, 100%).
    first.forEach((delay, i) => {
      expect(delay).toBeGreaterThanOrEqual(50 * 2 ** i);
      expect(delay).toBeLessThan(100 * 2 ** i);
    });
    backoff.reset();
    expect(backoff.attemptCount).toBe(0);
    const again = backoff.nextDelayMs();
    expect(again).toBeGreaterThanOrEqual(50);
    expect(again).toBeLessThan(100);
  });
});
