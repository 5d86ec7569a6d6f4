/**
 * RateLimiter (token buckets) and FailureWindow (failures per key in a fixed window): the
 * limits hold, time refills them, and the number of keys kept is bounded.
 */
import { describe, expect, it } from 'vitest';
import { FailureWindow, RateLimiter } from '../../core/rate-limit.ts';

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

describe('FailureWindow', () => {
  it('blocks a key after max failures until the window that began with the first failure ends', () => {
    const window = new FailureWindow(3, 1_000, 10);
    window.fail('u', 0);
    window.fail('u', 100);
    expect(window.blocked('u', 200)).toBe(false);
    window.fail('u', 200);
    expect(window.blocked('u', 300)).toBe(true);
    expect(window.blocked('u', 999)).toBe(true);
    expect(window.blocked('u', 1_000)).toBe(false);
  });

  it('failures in an expired window start a new one', () => {
    const window = new FailureWindow(2, 1_000, 10);
    window.fail('u', 0);
    window.fail('u', 1_500);
    expect(window.blocked('u', 1_600)).toBe(false);
    window.fail('u', 1_700);
    expect(window.blocked('u', 1_800)).toBe(true);
  });

  it('clear forgets a key (a successful login)', () => {
    const window = new FailureWindow(1, 1_000, 10);
    window.fail('u', 0);
    expect(window.blocked('u', 1)).toBe(true);
    window.clear('u');
    expect(window.blocked('u', 1)).toBe(false);
  });

  it('keys are independent', () => {
    const window = new FailureWindow(1, 1_000, 10);
    window.fail('u', 0);
    expect(window.blocked('v', 1)).toBe(false);
  });

  it('bounds the number of keys it keeps', () => {
    const window = new FailureWindow(1, 60_000, 5);
    const windows = (window as unknown as { windows: Map<string, unknown> }).windows;
    for (let i = 0; i < 1_000; i++) window.fail(`user${i}`, i);
    expect(windows.size).toBeLessThanOrEqual(5);
    expect(window.blocked('user999', 1_000)).toBe(true);
    expect(window.blocked('user0', 1_000)).toBe(false);
  });
});
