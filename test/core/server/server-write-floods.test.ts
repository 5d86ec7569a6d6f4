/**
 * Requests that write to the store, repeated in a loop by one user: friend requests (asked and
 * withdrawn again and again, each one pushed to the target, who may be a stranger), blocks
 * (blocked and unblocked again and again) and offline messages (sent to a friend whose client
 * acknowledges each at once). Each is a durable write; unbounded, one account held
 * every other user's requests up by seconds on the real server and pushed its target a friend
 * request 1,800 times a second (test/cli/server/abuse-replay.test.ts replays it over TCP). Each
 * has a token bucket per user now; refusals that write nothing take no token.
 */
import { describe, expect, it } from 'vitest';
import {
  BLOCK_CHANGES_PER_USER_BURST,
  BLOCK_CHANGES_PER_USER_PER_HOUR,
  FRIEND_REQUESTS_INCOMING_PER_USER_MAX,
  FRIEND_REQUESTS_PER_USER_BURST,
  FRIEND_REQUESTS_PER_USER_PER_HOUR,
  MAIL_SENDS_PER_USER_BURST,
  MAIL_SENDS_PER_USER_PER_SEC,
} from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

/** A TTL longer than any wait here: users stay logged in without heartbeats. */
const TTL_MS = 3_600_000;

function outcome(h: ServerHarness, connId: number, frame: Record<string, unknown>): string | undefined {
  h.send(connId, frame);
  const reply = h.last(connId);
  return reply?.type === 'error' ? reply.code : reply?.type;
}

/** Asks `username` and withdraws at once; the request's outcome. */
function askAndWithdraw(h: ServerHarness, connId: number, username: string): string | undefined {
  const asked = outcome(h, connId, { type: 'friend.request', username });
  if (asked === 'friend.requested') h.send(connId, { type: 'friend.remove', username });
  return asked;
}

describe('friend requests asked and withdrawn in a loop', () => {
  it(`reach the target ${FRIEND_REQUESTS_PER_USER_BURST} times at once, then RATE_LIMITED: nothing stored, the target told nothing`, () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'victim']) });
    const mallory = h.login('mallory');
    const victim = h.login('victim');
    h.drain(victim);
    const outcomes = Array.from({ length: FRIEND_REQUESTS_PER_USER_BURST + 5 }, () => askAndWithdraw(h, mallory, 'victim'));
    expect(outcomes.slice(0, FRIEND_REQUESTS_PER_USER_BURST).every((o) => o === 'friend.requested')).toBe(true);
    expect(outcomes.slice(FRIEND_REQUESTS_PER_USER_BURST).every((o) => o === 'RATE_LIMITED')).toBe(true);
    expect(h.last(mallory)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: 'too many friend requests: retry later' });
    expect(h.framesOf(victim, 'friend.incoming')).toHaveLength(FRIEND_REQUESTS_PER_USER_BURST);
    expect(h.store.load().requests).toEqual([]);
  });

  it(`come back at ${FRIEND_REQUESTS_PER_USER_PER_HOUR} an hour after the burst: one per interval, none before it`, () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'victim']) });
    const mallory = h.login('mallory');
    for (let i = 0; i < FRIEND_REQUESTS_PER_USER_BURST; i++) askAndWithdraw(h, mallory, 'victim');
    const intervalMs = 3_600_000 / FRIEND_REQUESTS_PER_USER_PER_HOUR;
    h.advance(intervalMs / 2);
    expect(askAndWithdraw(h, mallory, 'victim')).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    expect(askAndWithdraw(h, mallory, 'victim')).toBe('friend.requested');
    expect(askAndWithdraw(h, mallory, 'victim')).toBe('RATE_LIMITED');
  });

  it('are counted per user: another user asks the same target as usual', () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'alice', 'victim']) });
    const mallory = h.login('mallory');
    const alice = h.login('alice');
    for (let i = 0; i <= FRIEND_REQUESTS_PER_USER_BURST; i++) askAndWithdraw(h, mallory, 'victim');
    expect(outcome(h, alice, { type: 'friend.request', username: 'victim' })).toBe('friend.requested');
  });

  it('refusals that store nothing take no token, and asking back (accepting) takes none', () => {
    const users = Array.from({ length: FRIEND_REQUESTS_PER_USER_BURST }, (_, i) => `user${i}`);
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['alice', 'bob', 'carol', ...users]) });
    const alice = h.login('alice');
    const carol = h.login('carol');
    expect(outcome(h, carol, { type: 'friend.request', username: 'alice' })).toBe('friend.requested');
    expect(outcome(h, alice, { type: 'friend.request', username: 'bob' })).toBe('friend.requested');
    for (let i = 0; i < 3 * FRIEND_REQUESTS_PER_USER_BURST; i++) expect(outcome(h, alice, { type: 'friend.request', username: 'bob' })).toBe('ALREADY_REQUESTED');
    for (let i = 0; i < 3 * FRIEND_REQUESTS_PER_USER_BURST; i++) expect(outcome(h, alice, { type: 'friend.request', username: 'nobody' })).toBe('USER_NOT_FOUND');
    // One token went to bob: the rest of the burst is there for others.
    for (const user of users.slice(1)) expect(outcome(h, alice, { type: 'friend.request', username: user })).toBe('friend.requested');
    expect(outcome(h, alice, { type: 'friend.request', username: users[0] })).toBe('RATE_LIMITED');
    // Out of tokens, alice still accepts carol by asking her back: that answers a request, it makes none.
    expect(outcome(h, alice, { type: 'friend.request', username: 'carol' })).toBe('friend.added');
  });
});

describe('blocks and unblocks in a loop', () => {
  it(`change ${BLOCK_CHANGES_PER_USER_BURST} times at once (a full incoming quota of ${FRIEND_REQUESTS_INCOMING_PER_USER_MAX} can be blocked), then RATE_LIMITED, nothing stored`, () => {
    expect(BLOCK_CHANGES_PER_USER_BURST).toBe(FRIEND_REQUESTS_INCOMING_PER_USER_MAX);
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'victim']) });
    const mallory = h.login('mallory');
    const changes = Array.from({ length: BLOCK_CHANGES_PER_USER_BURST }, (_, i) => outcome(h, mallory, { type: i % 2 === 0 ? 'friend.block' : 'friend.unblock', username: 'victim' }));
    expect(changes.every((o, i) => o === (i % 2 === 0 ? 'friend.blocked' : 'friend.unblocked'))).toBe(true);
    // The burst is even: the last change that went through was an unblock.
    expect(outcome(h, mallory, { type: 'friend.block', username: 'victim' })).toBe('RATE_LIMITED');
    expect(h.last(mallory)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: 'too many blocks and unblocks: retry later' });
    expect(h.store.load().blocks).toEqual([]);
  });

  it('an unblock is refused too once the tokens are gone, and the block stays', () => {
    const store = storeWith(['mallory', 'victim']);
    store.apply([{ op: 'block.add', blocker: 'mallory', blocked: 'victim' }]);
    const h = new ServerHarness({ ttlMs: TTL_MS, store });
    const mallory = h.login('mallory');
    // Blocked from the start: the burst's changes are unblock, block, ..., block.
    for (let i = 0; i < BLOCK_CHANGES_PER_USER_BURST; i++) outcome(h, mallory, { type: i % 2 === 0 ? 'friend.unblock' : 'friend.block', username: 'victim' });
    expect(outcome(h, mallory, { type: 'friend.unblock', username: 'victim' })).toBe('RATE_LIMITED');
    expect(h.last(mallory)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: 'too many blocks and unblocks: retry later' });
    expect(h.store.load().blocks).toEqual([['mallory', 'victim']]);
  });

  it(`come back at ${BLOCK_CHANGES_PER_USER_PER_HOUR} an hour; blocking the blocked or unblocking the unblocked changes nothing and takes no token; counted per user`, () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'alice', 'victim']) });
    const mallory = h.login('mallory');
    const alice = h.login('alice');
    for (let i = 0; i < BLOCK_CHANGES_PER_USER_BURST; i++) outcome(h, mallory, { type: i % 2 === 0 ? 'friend.block' : 'friend.unblock', username: 'victim' });
    // Not blocked now: unblocking again, many times, is answered and costs nothing.
    for (let i = 0; i < 5; i++) expect(outcome(h, mallory, { type: 'friend.unblock', username: 'victim' })).toBe('friend.unblocked');
    const intervalMs = 3_600_000 / BLOCK_CHANGES_PER_USER_PER_HOUR;
    h.advance(intervalMs / 2);
    expect(outcome(h, mallory, { type: 'friend.block', username: 'victim' })).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    expect(outcome(h, mallory, { type: 'friend.block', username: 'victim' })).toBe('friend.blocked');
    // Blocked now: blocking again is answered and costs nothing; a real change has no token left.
    for (let i = 0; i < 5; i++) expect(outcome(h, mallory, { type: 'friend.block', username: 'victim' })).toBe('friend.blocked');
    expect(outcome(h, mallory, { type: 'friend.unblock', username: 'victim' })).toBe('RATE_LIMITED');
    expect(outcome(h, alice, { type: 'friend.block', username: 'victim' })).toBe('friend.blocked');
  });
});

/** A stand-in sealed box: opaque base64 (the server never looks inside). */
function box(tag: string): string {
  return Buffer.from(tag.padEnd(32, '.')).toString('base64');
}

/** Alice sends bob one offline message; bob, online, acknowledges what reached him (an auto-answering client): alice's answer, and how many bob was handed. */
function mailAndAck(h: ServerHarness, alice: number, bob: number, messageId: number): { answer: string | undefined; handed: number } {
  const answer = outcome(h, alice, { type: 'mail.send', id: messageId, username: 'bob', messageId, sealed: box(`m${messageId}`) });
  let handed = 0;
  for (const deliver of h.drain(bob)) {
    if (deliver.type !== 'mail.deliver') continue;
    handed += 1;
    h.send(bob, { type: 'mail.ack', seq: deliver.seq });
  }
  return { answer, handed };
}

describe('offline messages sent and acknowledged in a loop', () => {
  function friends(): { h: ServerHarness; alice: number; bob: number } {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['alice', 'bob', 'carol'], [['alice', 'bob'], ['carol', 'bob']]) });
    return { h, alice: h.login('alice'), bob: h.login('bob') };
  }

  it(`are stored ${MAIL_SENDS_PER_USER_BURST} at once, then RATE_LIMITED: nothing stored, the friend handed nothing more`, () => {
    const { h, alice, bob } = friends();
    const rounds = Array.from({ length: MAIL_SENDS_PER_USER_BURST + 5 }, (_, n) => mailAndAck(h, alice, bob, n));
    const answers = rounds.map((r) => r.answer);
    expect(answers.slice(0, MAIL_SENDS_PER_USER_BURST).every((a) => a === 'mail.delivered' || a === 'mail.queued')).toBe(true);
    expect(answers.slice(MAIL_SENDS_PER_USER_BURST)).toEqual(Array(5).fill('RATE_LIMITED'));
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', re: MAIL_SENDS_PER_USER_BURST + 4, detail: 'too many offline messages: retry later' });
    expect(rounds.reduce((sum, r) => sum + r.handed, 0)).toBe(MAIL_SENDS_PER_USER_BURST);
    expect(h.store.mailRecords).toEqual([]);
  });

  it(`come back at ${MAIL_SENDS_PER_USER_PER_SEC} a second after the burst; counted per user`, () => {
    const { h, alice, bob } = friends();
    for (let n = 0; n < MAIL_SENDS_PER_USER_BURST; n++) mailAndAck(h, alice, bob, n);
    const intervalMs = 1_000 / MAIL_SENDS_PER_USER_PER_SEC;
    h.advance(intervalMs / 2);
    expect(mailAndAck(h, alice, bob, 1_000).answer).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    expect(mailAndAck(h, alice, bob, 1_001)).toEqual({ answer: 'mail.queued', handed: 1 });
    expect(mailAndAck(h, alice, bob, 1_002).answer).toBe('RATE_LIMITED');
    const carol = h.login('carol');
    expect(outcome(h, carol, { type: 'mail.send', id: 1, username: 'bob', messageId: 'c1', sealed: box('c1') })).toBe('mail.queued');
  });

  it('a resend of a message still held, and mail a block swallows, store nothing and take no token', () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['alice', 'bob', 'carol'], [['alice', 'bob'], ['alice', 'carol']]) });
    const alice = h.login('alice');
    const carol = h.login('carol');
    h.send(carol, { type: 'friend.block', id: 1, username: 'alice' });
    for (let n = 0; n < MAIL_SENDS_PER_USER_BURST; n++) {
      expect(outcome(h, alice, { type: 'mail.send', id: n, username: 'carol', messageId: n, sealed: box(`${n}`) })).toBe('mail.queued');
    }
    // Bob is offline: the first one is held; sending it again under its id is answered as queued.
    for (let n = 0; n < MAIL_SENDS_PER_USER_BURST; n++) {
      expect(outcome(h, alice, { type: 'mail.send', id: 1_000 + n, username: 'bob', messageId: 'held', sealed: box('held') })).toBe('mail.queued');
    }
    expect(h.store.mailRecords).toHaveLength(1);
    expect(outcome(h, alice, { type: 'mail.send', id: 2_000, username: 'bob', messageId: 'next', sealed: box('next') })).toBe('mail.queued');
  });
});
