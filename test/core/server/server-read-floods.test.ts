/**
 * Requests that only read, repeated in a loop by one user. friends.list is the costly one: the
 * whole friend list with every friend's keys, about 1.6 ms of the server's event loop at 1,000
 * friends. One user asking 600 times a second on the real server held a bystander's heartbeat up
 * from 1 ms to 26 ms (at worst 109 ms); a token bucket per user bounds it now. A resume answers
 * with the same list in its login.ok: one user with 1,000 friends resuming in a loop on fresh
 * connections (64 to 118 a second) held a bystander's heartbeat up from 1 ms to 2 to 7 ms, at
 * worst 142 ms; resumes are bounded per user by the friend-list entries they carry.
 */
import { describe, expect, it } from 'vitest';
import { FRIENDS_LISTS_PER_USER_BURST, FRIENDS_LISTS_PER_USER_PER_SEC, FRIENDS_PER_USER_MAX, RESUME_LIST_ENTRIES_PER_USER_BURST, RESUME_LIST_ENTRIES_PER_USER_PER_SEC } from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

/** A TTL longer than any wait here: users stay logged in without heartbeats. */
const TTL_MS = 3_600_000;

function outcome(h: ServerHarness, connId: number, frame: Record<string, unknown>): string | undefined {
  h.send(connId, frame);
  const reply = h.last(connId);
  return reply?.type === 'error' ? reply.code : reply?.type;
}

describe('friends.list asked in a loop', () => {
  it(`is answered ${FRIENDS_LISTS_PER_USER_BURST} times at once, then RATE_LIMITED, then ${FRIENDS_LISTS_PER_USER_PER_SEC} a second`, () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'alice'], [['mallory', 'alice']]) });
    const mallory = h.login('mallory');
    const outcomes = Array.from({ length: FRIENDS_LISTS_PER_USER_BURST + 5 }, (_, i) => outcome(h, mallory, { type: 'friends.list', id: i + 100 }));
    expect(outcomes.slice(0, FRIENDS_LISTS_PER_USER_BURST).every((o) => o === 'friends')).toBe(true);
    expect(outcomes.slice(FRIENDS_LISTS_PER_USER_BURST).every((o) => o === 'RATE_LIMITED')).toBe(true);
    expect(h.last(mallory)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', re: FRIENDS_LISTS_PER_USER_BURST + 104, detail: 'too many friend lists: retry later' });
    const intervalMs = 1_000 / FRIENDS_LISTS_PER_USER_PER_SEC;
    h.advance(intervalMs / 2);
    expect(outcome(h, mallory, { type: 'friends.list', id: 1 })).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    expect(outcome(h, mallory, { type: 'friends.list', id: 2 })).toBe('friends');
    expect(outcome(h, mallory, { type: 'friends.list', id: 3 })).toBe('RATE_LIMITED');
  });

  it('is counted per user: another user still gets its list, and heartbeats are never limited', () => {
    const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'alice'], [['mallory', 'alice']]) });
    const mallory = h.login('mallory');
    const alice = h.login('alice');
    for (let i = 0; i <= FRIENDS_LISTS_PER_USER_BURST; i++) outcome(h, mallory, { type: 'friends.list', id: i });
    expect(outcome(h, alice, { type: 'friends.list', id: 1 })).toBe('friends');
    for (let i = 0; i < 5 * FRIENDS_LISTS_PER_USER_BURST; i++) expect(outcome(h, mallory, { type: 'heartbeat', id: i })).toBe('heartbeat.ack');
  });
});

/** `mallory` with `friends` friends (f0, f1, ...), logged in; returns the harness and her connection. */
function withFriends(friends: number): { h: ServerHarness; conn: number } {
  const names = Array.from({ length: friends }, (_, i) => `f${i}`);
  const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['mallory', 'alice', ...names], names.map((f) => ['mallory', f] as const)) });
  return { h, conn: h.login('mallory') };
}

/** Resumes mallory on a fresh connection with the newest token held; the outcome and the connection now holding her. */
function resumeAgain(h: ServerHarness, holder: number): { outcome: string | undefined; holder: number } {
  const conn = h.resume('mallory', h.tokenOf(holder));
  const reply = h.frames(conn).find((f) => f.type !== 'welcome');
  const outcome = reply?.type === 'error' ? reply.code : reply?.type;
  return { outcome, holder: outcome === 'login.ok' ? conn : holder };
}

describe('resumes in a loop', () => {
  const fullList = FRIENDS_PER_USER_MAX + 1;

  it(`of a user with ${FRIENDS_PER_USER_MAX} friends: ${RESUME_LIST_ENTRIES_PER_USER_BURST / fullList} at once, then RATE_LIMITED, then one a second; the refused one leaves her logged in where she was`, () => {
    const { h, conn } = withFriends(FRIENDS_PER_USER_MAX);
    let holder = conn;
    const outcomes: Array<string | undefined> = [];
    for (let i = 0; i < RESUME_LIST_ENTRIES_PER_USER_BURST / fullList + 3; i++) {
      const next = resumeAgain(h, holder);
      outcomes.push(next.outcome);
      holder = next.holder;
    }
    const burst = RESUME_LIST_ENTRIES_PER_USER_BURST / fullList;
    expect(outcomes.slice(0, burst).every((o) => o === 'login.ok')).toBe(true);
    expect(outcomes.slice(burst)).toEqual(['RATE_LIMITED', 'RATE_LIMITED', 'RATE_LIMITED']);
    const refused = h.resume('mallory', h.tokenOf(holder));
    expect(h.last(refused)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: 'too many resumes: retry later' });
    // The refusal took nothing over: the last connection still holds her, heartbeats answered.
    h.send(holder, { type: 'heartbeat', id: 7 });
    expect(h.last(holder)).toMatchObject({ type: 'heartbeat.ack', re: 7 });
    const intervalMs = (1_000 * fullList) / RESUME_LIST_ENTRIES_PER_USER_PER_SEC;
    h.advance(intervalMs / 2);
    expect(resumeAgain(h, holder).outcome).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    const next = resumeAgain(h, holder);
    expect(next.outcome).toBe('login.ok');
    expect(resumeAgain(h, next.holder).outcome).toBe('RATE_LIMITED');
  });

  it('a resume costs one plus its friends: a user with no friends resumes hundreds of times at once (a restart, the bench\'s resume loop)', () => {
    const { h, conn } = withFriends(0);
    let holder = conn;
    for (let i = 0; i < RESUME_LIST_ENTRIES_PER_USER_BURST; i++) {
      const next = resumeAgain(h, holder);
      expect(next.outcome).toBe('login.ok');
      holder = next.holder;
    }
    expect(resumeAgain(h, holder).outcome).toBe('RATE_LIMITED');
  });

  it('is counted per user, and only once the token matched: bad tokens in her name spend none of her resumes', () => {
    const { h, conn } = withFriends(FRIENDS_PER_USER_MAX);
    const alice = h.login('alice');
    for (let i = 0; i < 50; i++) {
      const bad = h.resume('mallory', `wrong-${i}`);
      expect(h.last(bad)).toMatchObject({ type: 'error', code: 'BAD_RESUME_TOKEN' });
    }
    let holder = conn;
    for (let i = 0; i < RESUME_LIST_ENTRIES_PER_USER_BURST / fullList; i++) holder = resumeAgain(h, holder).holder;
    expect(resumeAgain(h, holder).outcome).toBe('RATE_LIMITED');
    // Another user resumes as ever.
    const aliceAgain = h.resume('alice', h.tokenOf(alice));
    expect(h.frames(aliceAgain).find((f) => f.type !== 'welcome')?.type).toBe('login.ok');
  });
});
