/**
 * Requests that only read, repeated in a loop by one user. friends.list is the costly one: the
 * whole friend list with every friend's keys, about 1.6 ms of the server's event loop at 1,000
 * friends. One user asking 600 times a second on the real server held a bystander's heartbeat up
 * from 1 ms to 26 ms (at worst 109 ms); a token bucket per user bounds it now.
 */
import { describe, expect, it } from 'vitest';
import { FRIENDS_LISTS_PER_USER_BURST, FRIENDS_LISTS_PER_USER_PER_SEC } from '../../../core/limits.ts';
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
