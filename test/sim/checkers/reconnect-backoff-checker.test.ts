/**
 * The reconnect-backoff checker (sim/checkers/reconnect-backoff-checker.ts) against the shipped
 * backoff (core/peer/backoff.ts): every delay the client can draw passes, and a client that comes
 * back sooner than its attempt allows is caught.
 */
import { describe, expect, it } from 'vitest';
import { Backoff } from '../../../core/peer/backoff.ts';
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../../../core/limits.ts';
import { ReconnectPacing, shortestReconnectDelayMs } from '../../../sim/checkers/reconnect-backoff-checker.ts';

function pacing(): { pacing: ReconnectPacing; violations: string[] } {
  const violations: string[] = [];
  return { pacing: new ReconnectPacing('alice', (detail) => violations.push(detail)), violations };
}

describe('reconnect-backoff checker', () => {
  it('the shortest wait doubles from half the first delay up to half the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 40].map(shortestReconnectDelayMs)).toEqual([125, 250, 500, 1_000, 2_000, 2_500, 2_500, RECONNECT_DELAY_MS_MAX / 2]);
    expect(shortestReconnectDelayMs(0)).toBe(RECONNECT_DELAY_MS_MIN / 2);
  });

  it('passes every delay the shipped backoff draws, over failed attempts in a row and a link that opens between', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const backoff = new Backoff(seed);
      const { pacing: checker, violations } = pacing();
      let nowMs = 0;
      checker.connecting(nowMs, false);
      for (let attempt = 0; attempt < 12; attempt++) {
        if (attempt === 6) {
          // The link came back for good: both start counting again.
          checker.linkOpened();
          backoff.reset();
        }
        checker.linkDown(nowMs);
        nowMs += backoff.nextDelayMs();
        checker.connecting(nowMs, true);
      }
      expect(violations, `seed ${seed}`).toEqual([]);
    }
  });

  it('catches a client back sooner than its attempt allows: the first at once, the third at the first attempt\'s pace', () => {
    const { pacing: checker, violations } = pacing();
    checker.connecting(0, false);
    checker.linkDown(1_000);
    checker.connecting(1_000, true);
    checker.linkDown(1_200);
    checker.connecting(1_450, true);
    checker.linkDown(2_000);
    checker.connecting(2_200, true);
    expect(violations).toEqual([
      'alice reconnected 0.0 ms after its link went down, attempt 1 in a row: the backoff allows no less than 125 ms',
      'alice reconnected 200.0 ms after its link went down, attempt 3 in a row: the backoff allows no less than 500 ms',
    ]);
  });

  it('a link closed before login is taken back at once, and counts as no attempt', () => {
    const { pacing: checker, violations } = pacing();
    checker.connecting(0, false);
    checker.linkOpened();
    checker.linkDown(30_000);
    checker.connecting(30_000, false);
    checker.linkDown(30_010);
    checker.connecting(30_140, false);
    expect(violations).toEqual([]);
  });

  it('a first connection, or one with no drop before it, is not judged', () => {
    const { pacing: checker, violations } = pacing();
    checker.connecting(0, true);
    checker.connecting(5, true);
    expect(violations).toEqual([]);
  });
});
