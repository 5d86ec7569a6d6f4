/**
 * BLOCKED: what the blocker hears when it asks for something its own block forbids. The block
 * stays silent to the blocked user (test/core/server/server-abuse.test.ts); the blocker is told.
 */
import { describe, expect, it } from 'vitest';
import { BLOCKS_PER_USER_MAX, FRIEND_REQUESTS_INCOMING_PER_USER_MAX } from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

describe('BLOCKED, to the blocker', () => {
  it('a friend request to a user we blocked is refused with BLOCKED; after friend.unblock it goes', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.send(alice, { type: 'friend.block', id: 1, username: 'bob' });
    h.drain(alice);
    h.drain(bob);
    h.send(alice, { type: 'friend.request', id: 2, username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'BLOCKED', re: 2 });
    expect(h.frames(bob)).toEqual([]);
    expect(h.store.load().requests).toEqual([]);
    h.send(alice, { type: 'friend.unblock', id: 3, username: 'bob' });
    h.send(alice, { type: 'friend.request', id: 4, username: 'bob' });
    expect(h.last(alice)).toEqual({ type: 'friend.requested', re: 4, username: 'bob' });
  });

  it('offline mail to a friend we blocked is refused with BLOCKED and nothing is held', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.block', id: 1, username: 'bob' });
    h.drain(alice);
    h.send(alice, { type: 'mail.send', id: 2, username: 'bob', messageId: 'm1', sealed: Buffer.from('x'.repeat(64)).toString('base64') });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'BLOCKED', re: 2 });
    const bob = h.login('bob');
    expect(h.frames(bob).some((f) => f.type === 'mail.deliver')).toBe(false);
  });

  it('the blocked user asking the blocker still learns nothing: no BLOCKED for them', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.send(alice, { type: 'friend.block', id: 1, username: 'bob' });
    h.drain(bob);
    h.send(bob, { type: 'friend.request', id: 2, username: 'alice' });
    expect(h.last(bob)).toEqual({ type: 'friend.requested', re: 2, username: 'alice' });
  });
});

describe('friend.block and friend.unblock, edges', () => {
  it('blocking an unknown user is USER_NOT_FOUND, blocking oneself SELF_REQUEST; nothing is stored', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.block', id: 1, username: 'nobody' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'USER_NOT_FOUND', re: 1 });
    h.send(alice, { type: 'friend.block', id: 2, username: 'alice' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'SELF_REQUEST', re: 2 });
    expect(h.store.load().blocks).toEqual([]);
  });

  it(`at ${BLOCKS_PER_USER_MAX} blocks one more is BLOCKS_LIMIT; blocking one already blocked still answers friend.blocked`, () => {
    const others = Array.from({ length: BLOCKS_PER_USER_MAX + 1 }, (_, i) => `user${i}`);
    const store = storeWith(['alice', ...others]);
    store.apply(others.slice(0, BLOCKS_PER_USER_MAX).map((blocked) => ({ op: 'block.add' as const, blocker: 'alice', blocked })));
    const h = new ServerHarness({ store });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.block', id: 1, username: others[BLOCKS_PER_USER_MAX]! });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'BLOCKS_LIMIT', re: 1 });
    h.send(alice, { type: 'friend.block', id: 2, username: 'user0' });
    expect(h.last(alice)).toEqual({ type: 'friend.blocked', re: 2, username: 'user0' });
    expect(h.store.load().blocks).toHaveLength(BLOCKS_PER_USER_MAX);
  });

  it('blocking a user we asked to be friends withdraws our request', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.request', username: 'bob' });
    expect(h.store.load().requests).toEqual([['alice', 'bob']]);
    h.send(alice, { type: 'friend.block', id: 1, username: 'bob' });
    expect(h.store.load().requests).toEqual([]);
    const bob = h.login('bob');
    expect(h.last(bob)).toMatchObject({ type: 'login.ok', incoming: [] });
  });

  it('blocking a friend whose session request waits on us: we hear session.withdrawn (cancelled) at once, they hear nothing until their timeout', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]), sessionTimeoutMs: 5_000 });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.send(bob, { type: 'session.request', username: 'alice' });
    const incoming = h.last(alice);
    expect(incoming).toMatchObject({ type: 'session.incoming', from: 'bob' });
    const requestId = incoming?.type === 'session.incoming' ? incoming.requestId : '';
    h.drain(bob);
    h.send(alice, { type: 'friend.block', id: 1, username: 'bob' });
    expect(h.frames(alice).slice(-2)).toEqual([
      { type: 'session.withdrawn', requestId, from: 'bob', reason: 'cancelled' },
      { type: 'friend.blocked', re: 1, username: 'bob' },
    ]);
    expect(h.frames(bob)).toEqual([]);
    // The withdrawn request is gone on our side: it can no longer be answered.
    h.send(alice, { type: 'session.answer', requestId, accept: true, port: 7000 });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'NO_SUCH_SESSION_REQUEST' });
    h.advance(5_000);
    expect(h.last(bob)).toMatchObject({ type: 'session.failed', reason: 'timeout' });
  });

  it('blocking a friend we are asking for a session leaves our own request alone: no session.withdrawn to us, and its outcome still comes', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]), sessionTimeoutMs: 5_000 });
    const alice = h.login('alice');
    h.login('bob');
    h.send(alice, { type: 'session.request', username: 'bob' });
    h.drain(alice);
    h.send(alice, { type: 'friend.block', id: 2, username: 'bob' });
    expect(h.frames(alice)).toEqual([{ type: 'friend.blocked', re: 2, username: 'bob' }]);
    h.advance(5_000);
    expect(h.last(alice)).toMatchObject({ type: 'session.failed', reason: 'timeout' });
  });

  it('unblocking an unknown user is USER_NOT_FOUND; unblocking one not blocked answers friend.unblocked and stores nothing', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.unblock', id: 1, username: 'nobody' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'USER_NOT_FOUND', re: 1 });
    h.send(alice, { type: 'friend.unblock', id: 2, username: 'bob' });
    expect(h.last(alice)).toEqual({ type: 'friend.unblocked', re: 2, username: 'bob' });
    expect(h.store.load().blocks).toEqual([]);
  });

  it('unblocking a user whose request the block hid pushes that request to us (friend.incoming) right after friend.unblocked; nothing when there was none or it was never hidden', () => {
    // Before: the request only showed in the next friends list, and a script or person waiting
    // for friend.request (as after a login, where each pending one is told) never heard of it.
    const h = new ServerHarness({ store: storeWith(['victim', 'pest', 'carol', 'dave']) });
    const victim = h.login('victim');
    const pest = h.login('pest');
    h.send(victim, { type: 'friend.block', id: 1, username: 'pest' });
    h.send(pest, { type: 'friend.request', id: 2, username: 'victim' });
    h.drain(victim);
    h.send(victim, { type: 'friend.unblock', id: 3, username: 'pest' });
    expect(h.drain(victim)).toEqual([
      { type: 'friend.unblocked', re: 3, username: 'pest' },
      { type: 'friend.incoming', from: 'pest', nickname: 'pest' },
    ]);
    // Blocked and unblocked with no request of theirs: only the answer.
    h.send(victim, { type: 'friend.block', id: 4, username: 'carol' });
    h.drain(victim);
    h.send(victim, { type: 'friend.unblock', id: 5, username: 'carol' });
    expect(h.drain(victim)).toEqual([{ type: 'friend.unblocked', re: 5, username: 'carol' }]);
    // A request we saw (never hidden) and an unblock of someone not blocked: not told again.
    const dave = h.login('dave');
    h.send(dave, { type: 'friend.request', id: 6, username: 'victim' });
    h.drain(victim);
    h.send(victim, { type: 'friend.unblock', id: 7, username: 'dave' });
    expect(h.drain(victim)).toEqual([{ type: 'friend.unblocked', re: 7, username: 'dave' }]);
  });

  it('unblocking a user whose hidden request would pass the incoming quota drops that request silently; under the quota it shows', () => {
    const askers = Array.from({ length: FRIEND_REQUESTS_INCOMING_PER_USER_MAX }, (_, i) => `asker${i}`);
    const store = storeWith(['victim', 'pest', ...askers]);
    store.apply([{ op: 'request.add', from: 'pest', to: 'victim' }, { op: 'block.add', blocker: 'victim', blocked: 'pest' }]);
    store.apply(askers.map((from) => ({ op: 'request.add' as const, from, to: 'victim' })));
    const h = new ServerHarness({ store });
    const victim = h.login('victim');
    h.send(victim, { type: 'friend.unblock', id: 1, username: 'pest' });
    expect(h.drain(victim).slice(-1)).toEqual([{ type: 'friend.unblocked', re: 1, username: 'pest' }]);
    expect(h.store.load().requests).not.toContainEqual(['pest', 'victim']);
    h.send(victim, { type: 'friends.list', id: 2 });
    const list = h.last(victim);
    expect(list?.type === 'friends' ? list.incoming : []).toHaveLength(FRIEND_REQUESTS_INCOMING_PER_USER_MAX);
    // A request hidden by a block and shown again that brings the list exactly to the quota stays.
    h.send(victim, { type: 'friend.block', username: 'asker1' });
    h.send(victim, { type: 'friend.unblock', id: 3, username: 'asker1' });
    expect(h.store.load().requests).toContainEqual(['asker1', 'victim']);
    expect(h.last(victim)).toEqual({ type: 'friend.incoming', from: 'asker1', nickname: 'asker1' });
  });
});
