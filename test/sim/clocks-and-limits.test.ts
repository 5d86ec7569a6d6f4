/**
 * Per-node clocks (fault kind `clock`: drift and forward steps) and per-seed server limits
 * (server.randomLimits): each node's time runs at its own rate without going back, timers fire
 * when the node's own clock reads their deadline, and the drawn limits stay within their ranges.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { NodeClockRate, Scope, SimClock } from '../../sim/world/sim-clock.ts';
import { serverLimits } from '../../sim/world/world.ts';

describe('per-node clocks', () => {
  it('a drifting clock runs at its own rate, steps only forward, and its timers fire when it reads their deadline', () => {
    const clock = new SimClock();
    const rate = new NodeClockRate();
    const node = clock.scoped(new Scope(), rate);
    clock.runUntil(1_000);
    rate.change(1_000, 100_000, 500); // 10 % fast, after a 0.5 s step forward
    expect(node.nowMs()).toBe(1_500);
    let firedLocal = -1;
    node.at(2_600, () => {
      firedLocal = node.nowMs();
    });
    clock.runUntil(3_000);
    expect(firedLocal).toBeGreaterThanOrEqual(2_600);
    expect(firedLocal).toBeLessThan(2_600.01);
    // 1,100 local ms at 1.1x is 1,000 true ms.
    rate.change(clock.nowMs(), -100_000, 0);
    const before = node.nowMs();
    clock.runUntil(4_000);
    expect(node.nowMs()).toBeCloseTo(before + 900, 6);
  });

  it('the corpus scenario passes with the server and peers drifting apart', () => {
    const { scenario } = loadScenarioFile('scenarios/clock-drift.yaml');
    const report = runScenario(scenario, { seed: 17 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
  });
});

describe('randomized limits', () => {
  const { scenario } = loadScenarioFile('scenarios/clock-drift.yaml');

  it('are drawn per seed between a quarter of the scenario value (or a floor) and the value, the same for the same seed', () => {
    const seen = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const limits = serverLimits(scenario, seed);
      expect(limits).toEqual(serverLimits(scenario, seed));
      expect(limits.ttlMs).toBeGreaterThanOrEqual(Math.max(1_000, scenario.server.ttlMs / 4));
      expect(limits.ttlMs).toBeLessThanOrEqual(scenario.server.ttlMs);
      expect(limits.sessionTimeoutMs).toBeLessThanOrEqual(scenario.server.sessionTimeoutMs);
      expect(limits.unauthenticatedIdleMs).toBeGreaterThanOrEqual(2_000);
      seen.add(limits.ttlMs);
    }
    expect(seen.size).toBeGreaterThan(10);
    const fixed = serverLimits({ ...scenario, server: { ...scenario.server, randomLimits: false } }, 3);
    expect(fixed).toEqual({ ttlMs: scenario.server.ttlMs, sessionTimeoutMs: scenario.server.sessionTimeoutMs, unauthenticatedIdleMs: scenario.server.unauthenticatedIdleMs });
  });

  it('never draw a TTL under two password checks: the client would drop every password login before its answer', () => {
    // password-change-refused.yaml: checks of 3 s, a TTL of 10 s (a quarter of it, 2.5 s, is under one check).
    // The swarm turns on randomLimits in half its runs.
    const { scenario: file } = loadScenarioFile('scenarios/password-change-refused.yaml');
    const slowChecks = { ...file, server: { ...file.server, randomLimits: true } };
    const drawn = new Set<number>();
    for (let seed = 1; seed <= 50; seed++) {
      const { ttlMs } = serverLimits(slowChecks, seed);
      expect(ttlMs).toBeGreaterThanOrEqual(2 * slowChecks.server.hashCostMs);
      expect(ttlMs).toBeLessThanOrEqual(slowChecks.server.ttlMs);
      drawn.add(ttlMs);
    }
    expect(drawn.size).toBeGreaterThan(10);
    // A scenario's own TTL under two checks is its author's choice: drawn no higher than it.
    const shortTtl = { ...slowChecks, server: { ...slowChecks.server, ttlMs: 4_000 } };
    expect(serverLimits(shortTtl, 7).ttlMs).toBe(4_000);
  });

  it('a user whose relogin a server crash made waits out a 3 s password check and comes back', () => {
    // A swarm of password-change-refused.yaml (root seed 18391, seed 4133788848) drew a TTL of
    // 2,772 ms: each relogin after the crash was dropped as silent before its answer, and liveness
    // found ivy still disconnected at the end.
    const { scenario: found } = loadScenarioFile('test/sim/fixtures/relogin-outlasting-drawn-ttl.yaml');
    const report = runScenario(found, { seed: 4133788848 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
  });
});
