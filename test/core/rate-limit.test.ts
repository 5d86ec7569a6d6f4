/**
 * RateLimiter (token buckets), GuessBackoff (password guesses slowed per key) and FairQueue (the
 * password checks' wait line, shared fairly between addresses): the limits hold, time refills
 * them, and the number of keys kept is bounded.
 */
import { describe, expect, it } from 'vitest';
import { FairQueue, GuessBackoff, RateLimiter } from '../../core/rate-limit.ts';

function takeN(limiter: RateLimiter, key: string, n: number, nowMs: number): number {
  let granted = 0;
  for (let i = 0; i < n; i++) if (limiter.take(key, nowMs)) granted++;
  return granted;
}

describe('RateLimiter', () => {
  it('grants the burst, then refuses, then refills at perSec', () => {
    const limiter = new RateLimiter({ burst: 5, perSec: 2, bucketsMax: 10 });
    expect(takeN(limiter, 'k', 10, 0)).toBe(5);
    expect(limiter.take('k', 499)).toBe(false);
    expect(limiter.take('k', 500)).toBe(true);
    expect(limiter.take('k', 500)).toBe(false);
    // A long pause refills to the burst, never beyond it.
    expect(takeN(limiter, 'k', 10, 1_000_000)).toBe(5);
  });

  it('a take of cost n needs n tokens and takes n; a refused one takes none; a cost above the burst costs the burst, so it is slowed, never locked out', () => {
    const limiter = new RateLimiter({ burst: 10, perSec: 10, bucketsMax: 10 });
    expect(limiter.take('k', 0, 4)).toBe(true);
    expect(limiter.take('k', 0, 4)).toBe(true);
    expect(limiter.take('k', 0, 3)).toBe(false);
    expect(limiter.take('k', 0, 2)).toBe(true);
    expect(limiter.take('k', 0)).toBe(false);
    // Refilled to the burst (1 s at 10 a second): a cost of 50 passes, costing all 10.
    expect(limiter.take('k', 1_000, 50)).toBe(true);
    expect(limiter.take('k', 1_000)).toBe(false);
    expect(limiter.take('k', 1_900, 50)).toBe(false);
    expect(limiter.take('k', 2_000, 50)).toBe(true);
  });

  it('keeps separate buckets per key', () => {
    const limiter = new RateLimiter({ burst: 2, perSec: 1, bucketsMax: 10 });
    expect(takeN(limiter, 'a', 5, 0)).toBe(2);
    expect(takeN(limiter, 'b', 5, 0)).toBe(2);
  });

  it('perSec 0 disables the limit', () => {
    const limiter = new RateLimiter({ burst: 1, perSec: 0, bucketsMax: 10 });
    expect(takeN(limiter, 'a', 100, 0)).toBe(100);
  });

  it('a clock that goes backwards never adds tokens', () => {
    const limiter = new RateLimiter({ burst: 1, perSec: 1, bucketsMax: 10 });
    expect(limiter.take('a', 10_000)).toBe(true);
    expect(limiter.take('a', 0)).toBe(false);
  });

  it('bounds the number of buckets, forgetting the least recently touched first', () => {
    const limiter = new RateLimiter({ burst: 1, perSec: 0.001, bucketsMax: 3 });
    const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
    for (let i = 0; i < 1_000; i++) limiter.take(`addr${i}`, 0);
    expect(buckets.size).toBe(3);
    limiter.take('x', 0);
    limiter.take('y', 0);
    limiter.take('z', 0);
    // Touching x makes it the most recent: adding w evicts y, not x.
    expect(limiter.take('x', 0)).toBe(false);
    limiter.take('w', 0);
    expect([...buckets.keys()].sort()).toEqual(['w', 'x', 'z']);
    expect(limiter.take('x', 0)).toBe(false);
  });
});

describe('GuessBackoff', () => {
  const options = { free: 3, delayMsMin: 1_000, delayMsMax: 8_000, forgetMs: 60_000, keysMax: 10 };

  it('lets the free attempts through, then makes each further one wait twice as long, up to the cap', () => {
    const backoff = new GuessBackoff(options);
    for (let i = 0; i < 2; i++) {
      expect(backoff.waitMs('u', 0)).toBe(0);
      backoff.attempt('u', 0);
    }
    expect(backoff.waitMs('u', 0)).toBe(0);
    backoff.attempt('u', 0);
    expect(backoff.waitMs('u', 0)).toBe(1_000);
    expect(backoff.waitMs('u', 999)).toBe(1);
    expect(backoff.waitMs('u', 1_000)).toBe(0);
    backoff.attempt('u', 1_000);
    expect(backoff.waitMs('u', 1_000)).toBe(2_000);
    let nowMs = 1_000;
    for (let i = 0; i < 10; i++) {
      nowMs += backoff.waitMs('u', nowMs);
      backoff.attempt('u', nowMs);
    }
    // Slowed, never blocked: the wait stops growing at the cap.
    expect(backoff.waitMs('u', nowMs)).toBe(8_000);
  });

  it('keys are independent; clear and a quiet forgetMs start a key from scratch', () => {
    const backoff = new GuessBackoff(options);
    for (let i = 0; i < 5; i++) backoff.attempt('u', 0);
    expect(backoff.waitMs('v', 0)).toBe(0);
    expect(backoff.waitMs('u', 0)).toBeGreaterThan(0);
    expect(backoff.waitMs('u', 60_000)).toBe(0);
    for (let i = 0; i < 5; i++) backoff.attempt('w', 0);
    backoff.clear('w');
    expect(backoff.waitMs('w', 0)).toBe(0);
  });

  it('bounds the number of keys it keeps', () => {
    const backoff = new GuessBackoff({ ...options, keysMax: 5 });
    const attempts = (backoff as unknown as { attempts: Map<string, unknown> }).attempts;
    for (let i = 0; i < 1_000; i++) for (let j = 0; j < 5; j++) backoff.attempt(`user${i}`, i);
    expect(attempts.size).toBeLessThanOrEqual(5);
    expect(backoff.waitMs('user999', 999)).toBeGreaterThan(0);
  });
});

describe('FairQueue', () => {
  it('serves the key served longest ago first: a newcomer goes ahead of keys that keep the line full', () => {
    const queue = new FairQueue<string>(100, 100);
    for (let i = 0; i < 5; i++) queue.push('flood-a', `a${i}`);
    for (let i = 0; i < 5; i++) queue.push('flood-b', `b${i}`);
    expect(queue.shift()).toBe('a0');
    expect(queue.shift()).toBe('b0');
    queue.push('newcomer', 'n0');
    expect(queue.shift()).toBe('n0');
    expect(queue.shift()).toBe('a1');
    // A key whose line emptied keeps its place: refilling it does not jump ahead.
    queue.push('newcomer', 'n1');
    expect(queue.shift()).toBe('b1');
    expect(queue.shift()).toBe('n1');
    expect(queue.size).toBe(6);
  });

  it('when full, a newcomer pushes out the newest item of the fullest key; a key holding its share is refused', () => {
    const queue = new FairQueue<string>(4, 100);
    for (let i = 0; i < 4; i++) expect(queue.push('flood', `f${i}`)).toBeNull();
    expect(queue.push('legit', 'l0')).toBe('f3');
    expect(queue.push('legit', 'l1')).toBe('f2');
    // Now 2 and 2: pushing out would only move the unfairness, so the newcomer is refused.
    expect(queue.push('legit', 'l2')).toBe('l2');
    expect(queue.push('flood', 'f9')).toBe('f9');
    expect(queue.size).toBe(4);
  });

  it('remove takes a waiting item out (its client left)', () => {
    const queue = new FairQueue<number>(10, 10);
    queue.push('k', 1);
    queue.push('k', 2);
    expect(queue.remove('k', (x) => x === 1)).toBe(true);
    expect(queue.remove('k', (x) => x === 1)).toBe(false);
    expect(queue.shift()).toBe(2);
    expect(queue.shift()).toBeNull();
  });
});
