/**
 * The reconnect-backoff checker (sim/checkers/reconnect-backoff-checker.ts) against the shipped
 * backoff (core/peer/backoff.ts): every delay the client can draw passes, and a client that comes
 * back sooner, or later, than its attempt allows is caught.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff } from '../../../core/peer/backoff.ts';
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../../../core/limits.ts';
import { ReconnectPacing, longestReconnectDelayMs, shortestReconnectDelayMs } from '../../../sim/checkers/reconnect-backoff-checker.ts';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

function pacing(): { checker: ReconnectPacing; violations: string[] } {
  const violations: string[] = [];
  return { checker: new ReconnectPacing('alice', (detail) => violations.push(detail)), violations };
}

/** A connect on a true clock, by a process never paused. */
const connect = (nowMs: number, more: { clockTrue?: boolean; pausedUntilMs?: number } = {}) => ({
  nowMs,
  clockTrue: more.clockTrue ?? true,
  pausedUntilMs: more.pausedUntilMs ?? 0,
});

/** The link the last connect made (or the one before) went down at `nowMs`: the client waits to reconnect. */
function down(checker: ReconnectPacing, nowMs: number): void {
  checker.settled('ExpectOpen', nowMs);
  checker.settled('ExpectReconnect', nowMs);
}

describe('reconnect-backoff checker', () => {
  it('the allowed wait doubles from 125-250 ms up to 2.5-5 s', () => {
    expect([0, 1, 2, 3, 4, 5, 40].map(shortestReconnectDelayMs)).toEqual([125, 250, 500, 1_000, 2_000, 2_500, 2_500]);
    expect([0, 1, 4, 5, 40].map(longestReconnectDelayMs)).toEqual([RECONNECT_DELAY_MS_MIN, 500, 4_000, RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MAX]);
  });

  it('passes every delay the shipped backoff draws, over failed attempts in a row, a link that opens and a login between', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const backoff = new Backoff(seed);
      const { checker, violations } = pacing();
      let nowMs = 0;
      checker.connecting(connect(nowMs));
      for (let attempt = 0; attempt < 16; attempt++) {
        if (attempt === 6) {
          // A link opened but the login did not come back (the client keeps counting).
          checker.linkOpened();
        }
        if (attempt === 10) {
          // Logged in again: the client and both counts start again.
          checker.linkOpened();
          checker.loggedIn();
          backoff.reset();
        }
        down(checker, nowMs);
        nowMs += backoff.nextDelayMs();
        checker.connecting(connect(nowMs));
      }
      expect(violations, `seed ${seed}`).toEqual([]);
    }
  });

  it("catches a client back sooner than its attempt allows: the first at once, the third at the first attempt's pace", () => {
    const { checker, violations } = pacing();
    checker.connecting(connect(0));
    down(checker, 1_000);
    checker.connecting(connect(1_000));
    down(checker, 1_200);
    checker.connecting(connect(1_450));
    down(checker, 2_000);
    checker.connecting(connect(2_200));
    expect(violations).toEqual([
      'alice reconnected 0.0 ms after its link went down, attempt 1 in a row: the backoff allows no less than 125 ms',
      'alice reconnected 200.0 ms after its link went down, attempt 3 in a row: the backoff allows no less than 500 ms',
    ]);
  });

  it('catches a client back later than its attempt allows, as one that kept counting after it logged in', () => {
    const { checker, violations } = pacing();
    checker.connecting(connect(0));
    down(checker, 1_000);
    checker.connecting(connect(1_200));
    checker.linkOpened();
    checker.loggedIn();
    down(checker, 5_000);
    checker.connecting(connect(5_400));
    expect(violations).toEqual(['alice reconnected 400.0 ms after its link went down, attempt 1 at most since its last login: the backoff allows less than 250 ms']);
  });

  it('does not judge how late a wait was when the process was paused in it or its clock was faulted; how soon, still', () => {
    const { checker, violations } = pacing();
    checker.connecting(connect(0));
    down(checker, 1_000);
    checker.connecting(connect(9_000, { pausedUntilMs: 8_990 }));
    down(checker, 10_000);
    checker.connecting(connect(19_000, { clockTrue: false }));
    down(checker, 20_000);
    checker.connecting(connect(20_010, { clockTrue: false }));
    expect(violations).toEqual(['alice reconnected 10.0 ms after its link went down, attempt 3 in a row: the backoff allows no less than 500 ms']);
  });

  it('a connect that ends no wait to reconnect is not judged nor counted: a link closed before login taken back at once, a login after a logout', () => {
    const { checker, violations } = pacing();
    checker.connecting(connect(0));
    checker.linkOpened();
    checker.settled('ExpectLogin', 30_000);
    checker.connecting(connect(30_000));
    down(checker, 30_010);
    checker.connecting(connect(30_140));
    checker.settled('LoggedIn', 31_000);
    checker.settled('Closed', 40_000);
    checker.connecting(connect(70_000));
    expect(violations).toEqual([]);
  });

  it('a first connection, or one with no drop before it, is not judged', () => {
    const { checker, violations } = pacing();
    checker.connecting(connect(0));
    checker.connecting(connect(60_000));
    expect(violations).toEqual([]);
  });
});

// The storms' light client (sim/drivers/light-client.ts) runs the same server link, backoff and
// all: until 2026-12-07 only the peer machine's driver fed this checker, so a light-client run
// judged none of its reconnects.
describe('reconnect-backoff judges the light client too', () => {
  const crash = loadScenarioFile('test/sim/fixtures/light-clients-server-crash.yaml').scenario;

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('passes its clients coming back through a server crash at the shipped backoff', () => {
    const report = runScenario(crash, { seed: 5 });
    expect({ violations: report.violations, reconnects: report.metrics.reconnects }).toEqual({ violations: [], reconnects: 3 });
  });

  it('catches a link whose delays never grow (planted: each drawn as the first attempt\'s)', () => {
    const nextDelayMs = Backoff.prototype.nextDelayMs;
    vi.spyOn(Backoff.prototype, 'nextDelayMs').mockImplementation(function (this: Backoff): number {
      this.reset();
      return nextDelayMs.call(this);
    });
    const report = runScenario(crash, { seed: 5 });
    const checkers = new Set(report.violations.map((v) => v.checker));
    expect(checkers).toEqual(new Set(['reconnect-backoff']));
  });
});
