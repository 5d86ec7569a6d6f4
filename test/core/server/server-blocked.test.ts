/**
 * BLOCKED: what the blocker hears when it asks for something its own block forbids. The block
 * stays silent to the blocked user (test/core/server/server-abuse.test.ts); the blocker is told.
 */
import { describe, expect, it } from 'vitest';
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
