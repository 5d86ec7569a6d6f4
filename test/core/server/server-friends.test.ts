/**
 * Friends by request and acceptance (mutual), their limits, and presence only between mutual
 * friends: a non-friend never learns anyone's status.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import {
  CONTROL_FRAME_BYTES_MAX,
  FRIEND_REQUESTS_INCOMING_PER_USER_MAX,
  FRIEND_REQUESTS_OUTGOING_PER_USER_MAX,
  FRIENDS_PER_USER_MAX,
  LIST_FRAME_BYTES_WORST,
  NICKNAME_CHARS_MAX,
} from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

function twoStrangers(): { h: ServerHarness; alice: number; bob: number } {
  const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol']) });
  const alice = h.login('alice');
  const bob = h.login('bob');
  h.drain(alice);
  h.drain(bob);
  return { h, alice, bob };
}

describe('friend requests', () => {
  it('request: friend.requested to the asker, friend.incoming to the asked; no presence yet', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', id: 1, username: 'bob' });
    expect(h.frames(alice)).toEqual([{ type: 'friend.requested', re: 1, username: 'bob' }]);
    expect(h.frames(bob)).toEqual([{ type: 'friend.incoming', from: 'alice', nickname: 'alice' }]);
    expect(h.store.load().requests).toEqual([['alice', 'bob']]);
    h.send(alice, { type: 'friends.list', id: 2 });
    expect(h.last(alice)).toEqual({ type: 'friends', re: 2, friends: [], incoming: [], outgoing: ['bob'] });
  });

  it('accept: friend.added to both, each with the other one status; then presence flows both ways', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(bob, { type: 'friend.accept', id: 3, username: 'alice' });
    // Both hear when the friendship began, as it is stored.
    const [[, , since]] = h.store.load().friendships as [[string, string, number]];
    expect(typeof since).toBe('number');
    expect(h.framesOf(bob, 'friend.added')).toEqual([{ type: 'friend.added', re: 3, username: 'alice', nickname: 'alice', status: 'online', since }]);
    expect(h.framesOf(alice, 'friend.added')).toEqual([{ type: 'friend.added', username: 'bob', nickname: 'bob', status: 'online', since }]);
    expect(h.machine.friendsOf('alice').has('bob')).toBe(true);
    expect(h.store.load()).toMatchObject({ friendships: [['bob', 'alice', since]], requests: [] });
    h.send(alice, { type: 'logout' });
    expect(h.framesOf(bob, 'presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
  });

  it('a friendship ended and made again reads as another: a later since, in friend.added and in the login list, even within one millisecond, and kept across a restart', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    const first = h.framesOf(alice, 'friend.added')[0]?.since ?? 0;
    h.send(bob, { type: 'friend.remove', username: 'alice' });
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    const second = h.framesOf(alice, 'friend.added')[1]?.since ?? 0;
    expect(second).toBeGreaterThan(first);
    h.restart();
    expect(h.framesOf(h.login('alice'), 'login.ok')[0]?.friends).toEqual([expect.objectContaining({ username: 'bob', since: second })]);
  });

  it('accepting a request from an offline user tells the acceptor that the new friend is offline', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(alice, { type: 'logout' });
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    expect(h.framesOf(bob, 'friend.added')).toMatchObject([{ username: 'alice', status: 'offline' }]);
  });

  it('asking back is accepting: a request to someone who already asked us makes us friends', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(bob, { type: 'friend.request', id: 4, username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'friend.added', re: 4, username: 'alice' });
    expect(h.framesOf(alice, 'friend.added')).toMatchObject([{ username: 'bob' }]);
    expect(h.machine.friendsOf('bob').has('alice')).toBe(true);
    expect(h.store.load().requests).toEqual([]);
  });

  it('decline: friend.declined to both, no friendship; the asker may not ask again at once, the decliner may ask', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(bob, { type: 'friend.decline', id: 5, username: 'alice' });
    expect(h.last(bob)).toEqual({ type: 'friend.declined', re: 5, username: 'alice' });
    expect(h.last(alice)).toEqual({ type: 'friend.declined', username: 'bob' });
    expect(h.machine.friendsOf('alice').size).toBe(0);
    expect(h.store.load().requests).toEqual([]);
    h.send(alice, { type: 'friend.request', username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
    h.send(bob, { type: 'friend.request', username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'friend.requested' });
  });

  it('remove: friend.removed to both, and no presence flows afterwards', () => {
    const { h, alice, bob } = twoStrangers();
    h.befriend('alice', alice, 'bob', bob);
    h.send(bob, { type: 'friend.remove', id: 6, username: 'alice' });
    expect(h.last(bob)).toEqual({ type: 'friend.removed', re: 6, username: 'alice' });
    expect(h.last(alice)).toEqual({ type: 'friend.removed', username: 'bob' });
    h.drain(bob);
    h.send(alice, { type: 'logout' });
    h.send(alice, { type: 'login', username: 'alice', password: 'alice-password' });
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    expect(h.framesOf(alice, 'login.ok').at(-1)).toMatchObject({ friends: [] });
  });

  it('remove also withdraws our own pending request', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(alice, { type: 'friend.remove', username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'friend.removed', username: 'bob' });
    // bob saw the request come in, so he sees it go.
    expect(h.last(bob)).toEqual({ type: 'friend.removed', username: 'alice' });
    expect(h.store.load().requests).toEqual([]);
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    expect(h.errors(bob)).toEqual(['NO_SUCH_REQUEST']);
  });

  it('a request waiting for an offline user reaches it at its next login', () => {
    const { h, alice } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'carol' });
    const carol = h.login('carol');
    expect(h.framesOf(carol, 'login.ok')[0]).toMatchObject({ incoming: ['alice'] });
  });

  it('each misuse gets its own code and leaves the connection open (accepting someone unknown: no such request)', () => {
    const { h, alice, bob } = twoStrangers();
    h.send(alice, { type: 'friend.request', username: 'nobody' });
    h.send(alice, { type: 'friend.request', username: 'alice' });
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(alice, { type: 'friend.request', username: 'bob' });
    h.send(alice, { type: 'friend.accept', username: 'carol' });
    h.send(alice, { type: 'friend.accept', username: 'nobody' });
    h.send(alice, { type: 'friend.decline', username: 'carol' });
    h.send(alice, { type: 'friend.remove', username: 'carol' });
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    h.send(alice, { type: 'friend.request', username: 'bob' });
    expect(h.errors(alice)).toEqual([
      'USER_NOT_FOUND',
      'SELF_REQUEST',
      'ALREADY_REQUESTED',
      'NO_SUCH_REQUEST',
      'NO_SUCH_REQUEST',
      'NO_SUCH_REQUEST',
      'NOT_FRIENDS',
      'ALREADY_FRIENDS',
    ]);
    expect(h.isClosed(alice)).toBe(false);
  });
});

describe('friend limits', () => {
  it(`a user with ${FRIEND_REQUESTS_OUTGOING_PER_USER_MAX} outgoing requests cannot ask more (REQUESTS_LIMIT), but can still be asked`, () => {
    const others = Array.from({ length: FRIEND_REQUESTS_OUTGOING_PER_USER_MAX + 1 }, (_, i) => `user${i}`);
    const store = storeWith(['alice', 'bob', ...others]);
    store.apply(others.slice(0, FRIEND_REQUESTS_OUTGOING_PER_USER_MAX).map((to) => ({ op: 'request.add', from: 'alice', to })));
    const h = new ServerHarness({ store });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.send(alice, { type: 'friend.request', username: others.at(-1)! });
    expect(h.errors(alice)).toEqual(['REQUESTS_LIMIT']);
    h.send(bob, { type: 'friend.request', username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'friend.requested' });
    // Withdrawing one request makes room again.
    h.send(alice, { type: 'friend.remove', username: 'user0' });
    h.send(alice, { type: 'friend.request', username: others.at(-1)! });
    expect(h.last(alice)).toMatchObject({ type: 'friend.requested' });
  });

  it(`a user with ${FRIEND_REQUESTS_INCOMING_PER_USER_MAX} incoming requests cannot be asked more (REQUESTS_LIMIT)`, () => {
    const others = Array.from({ length: FRIEND_REQUESTS_INCOMING_PER_USER_MAX }, (_, i) => `user${i}`);
    const store = storeWith(['alice', 'bob', ...others]);
    store.apply(others.map((from) => ({ op: 'request.add', from, to: 'alice' })));
    const h = new ServerHarness({ store });
    const bob = h.login('bob');
    h.send(bob, { type: 'friend.request', username: 'alice' });
    expect(h.errors(bob)).toEqual(['REQUESTS_LIMIT']);
  });

  it(`a user with ${FRIENDS_PER_USER_MAX} friends cannot add more (FRIENDS_LIMIT), asking or accepting, on either side`, () => {
    const others = Array.from({ length: FRIENDS_PER_USER_MAX }, (_, i) => `user${i}`);
    const store = storeWith(['alice', 'bob', 'carol', 'dave', ...others], others.map((o) => ['alice', o] as const));
    store.apply([{ op: 'request.add', from: 'carol', to: 'alice' }]);
    store.apply([{ op: 'request.add', from: 'alice', to: 'bob' }]);
    const h = new ServerHarness({ store });
    const alice = h.login('alice');
    const bob = h.login('bob');
    expect(h.framesOf(alice, 'login.ok')[0]!.friends).toHaveLength(FRIENDS_PER_USER_MAX);
    // Asking someone new, asking back someone who asked (carol), accepting.
    h.send(alice, { type: 'friend.request', username: 'dave' });
    h.send(alice, { type: 'friend.request', username: 'carol' });
    h.send(alice, { type: 'friend.accept', username: 'carol' });
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    expect(h.errors(alice)).toEqual(['FRIENDS_LIMIT', 'FRIENDS_LIMIT', 'FRIENDS_LIMIT']);
    expect(h.framesOf(alice, 'friend.requested')).toEqual([]);
    expect(h.errors(bob)).toEqual(['FRIENDS_LIMIT']);
    expect(h.machine.friendsOf('alice').size).toBe(FRIENDS_PER_USER_MAX);
  });
});

describe('presence only between mutual friends', () => {
  it('a non-friend never gets presence: not a stranger, not someone with a pending request, not a declined or removed friend', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'stranger', 'asker', 'asked', 'declined', 'removed', 'friend']) });
    const conns = Object.fromEntries(['stranger', 'asker', 'asked', 'declined', 'removed', 'friend'].map((u) => [u, h.login(u)]));
    const alice = h.login('alice');
    h.send(conns.asker!, { type: 'friend.request', username: 'alice' });
    h.send(alice, { type: 'friend.request', username: 'asked' });
    h.send(conns.declined!, { type: 'friend.request', username: 'alice' });
    h.send(alice, { type: 'friend.decline', username: 'declined' });
    h.befriend('alice', alice, 'removed', conns.removed!);
    h.send(alice, { type: 'friend.remove', username: 'removed' });
    h.befriend('alice', alice, 'friend', conns.friend!);
    // Every way of coming and going: logout, login, dropped connection, resume, duplicate login, TTL.
    let conn = alice;
    for (let round = 0; round < 3; round++) {
      h.send(conn, { type: 'logout' });
      h.send(conn, { type: 'login', username: 'alice', password: 'alice-password' });
      h.close(conn);
      h.advance(1_000);
      conn = h.resume('alice', h.tokenOf(conn));
      expect(h.framesOf(conn, 'login.ok')).toHaveLength(1);
      conn = h.login('alice');
      for (const c of Object.values(conns)) h.send(c, { type: 'heartbeat' });
    }
    h.advance(40_000);
    expect(h.machine.isOnline('alice')).toBe(false);
    for (const who of ['stranger', 'asker', 'asked', 'declined', 'removed']) {
      expect(h.framesOf(conns[who]!, 'presence'), who).toEqual([]);
    }
    expect(h.framesOf(conns.friend!, 'presence').length).toBeGreaterThan(0);
    // No login.ok shows a non-friend's status either.
    const listed = h.framesOf(conn, 'login.ok').flatMap((ok) => ok.friends.map((f) => f.username));
    expect(listed).toEqual(['friend']);
  });

  it('presence to a friend alternates strictly online/offline: never the same status twice in a row', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const bob = h.login('bob');
    let alice = h.login('alice');
    for (let i = 0; i < 5; i++) {
      h.send(alice, { type: 'logout' });
      alice = h.login('alice');
      alice = h.login('alice');
      h.close(alice);
      alice = h.resume('alice', h.tokenOf(alice));
      h.send(bob, { type: 'heartbeat' });
    }
    const statuses = h.framesOf(bob, 'presence').map((f) => f.status);
    expect(statuses).toEqual(['online', ...Array.from({ length: 5 }, () => ['offline', 'online']).flat()]);
  });
});

describe('friend lists at the limit', () => {
  it('a user at FRIENDS_PER_USER_MAX friends with the longest names gets a login.ok within the control-frame limit', () => {
    // Worst case per entry: 32-character usernames and 64-character nicknames of 3-byte characters.
    const others = Array.from({ length: FRIENDS_PER_USER_MAX }, (_, i) => `f${String(i).padStart(31, '0')}`);
    const store = storeWith(['alice', ...others], others.map((o) => ['alice', o] as const), '\u20ac'.repeat(NICKNAME_CHARS_MAX));
    // Every friend with identity keys (their base64 is always 60 characters).
    const identity = { signKey: `MCowBQYDK2VwAyEA${'A'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'A'.repeat(43)}=` };
    store.apply(others.map((username) => ({ op: 'account.identity', username, identity })));
    // And when each friendship began, as a 16-digit millisecond time (the year 2286 and on).
    store.apply(others.map((b) => ({ op: 'friendship.add', a: 'alice', b, sinceMs: 9_999_999_999_999_999 })));
    const h = new ServerHarness({ store });
    // The harness encodes every frame the machine sends, as the host does: it would throw here.
    const alice = h.login('alice');
    const ok = h.framesOf(alice, 'login.ok')[0]!;
    expect(ok.friends).toHaveLength(FRIENDS_PER_USER_MAX);
    expect(ok.friends[0]).toHaveProperty('identity');
    expect(ok.friends[0]).toHaveProperty('since');
    expect(encodeControl(ok).byteLength).toBeLessThanOrEqual(LIST_FRAME_BYTES_WORST);
    expect(LIST_FRAME_BYTES_WORST).toBeLessThanOrEqual(CONTROL_FRAME_BYTES_MAX);
  });

  it('nicknames with lone surrogates are refused (JSON would escape each to six bytes)', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'signup', username: 'carol', password: 'carol-password', nickname: 'a\ud800b' });
    expect(h.last(c)).toMatchObject({ type: 'error', code: 'NICKNAME_INVALID' });
  });
});
