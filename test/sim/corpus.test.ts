import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import type { Scenario } from '../../sim/scenarios/scenario-schema.ts';

const DIR = 'scenarios';
/** The quick corpus (scenarios/*.yaml) and the storms kept apart in scenarios/storms/ (run here scaled down). */
const files = [
  ...readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort(),
  ...readdirSync(join(DIR, 'storms')).filter((f) => f.endsWith('.yaml')).sort().map((f) => join('storms', f)),
];
/**
 * Storms run here with at most this many peers and a shorter workload phase (arrivals compressed
 * to fit), so the suite stays quick; the full sizes run in bench and as documented in
 * docs/SIMULATOR.md.
 */
const STORM_PEERS_IN_TESTS = 10_000;
const STORM_DURATION_MS_IN_TESTS = 15_000;
/** A storm's test run is slow on a loaded two-core machine: generous, but bounded. */
const STORM_TEST_TIMEOUT_MS = 180_000;
const STORM_PEERS_MIN = 2_001;
const SCALE_RUN_PEERS_IN_TESTS = 2_000;

function forTests(scenario: Scenario): Scenario {
  const peers = scenario.populations.reduce((a, p) => a + p.count, 0);
  if (peers < STORM_PEERS_MIN) return scenario;
  // Beyond 10,000 peers the file is the scale run (documented in docs/SIMULATOR.md); here it only
  // has to prove its scenario works, at a small size.
  const peerScale = peers > STORM_PEERS_IN_TESTS ? SCALE_RUN_PEERS_IN_TESTS / peers : 1;
  const timeScale = Math.min(1, STORM_DURATION_MS_IN_TESTS / scenario.durationMs);
  const expectMetrics = Object.fromEntries(
    Object.entries(scenario.expect.metrics).map(([k, t]) => [k, k === 'peers_online_end' && t.min !== undefined ? { ...t, min: Math.floor(t.min * peerScale) } : t]),
  );
  return {
    ...scenario,
    durationMs: Math.round(scenario.durationMs * timeScale),
    // The healed phase only has to outlast one TTL plus the presence bound to judge convergence.
    livenessMs: scenario.server.ttlMs + scenario.checks.presenceBoundMs + 5_000,
    populations: scenario.populations.map((p) => ({ ...p, count: Math.max(1, Math.round(p.count * peerScale)) })),
    arrivals: scenario.arrivals?.map((a) => ({
      durationMs: a.durationMs * timeScale,
      rate: (a.rate * peerScale) / timeScale,
      ...(a.rampTo === undefined ? {} : { rampTo: (a.rampTo * peerScale) / timeScale }),
    })),
    faults: scenario.faults.map((f) => ({ ...f, atMs: Math.round(f.atMs * timeScale) })),
    expect: { ...scenario.expect, metrics: expectMetrics },
  };
}

describe('scenario corpus', () => {
  it('holds at least 12 scenarios', () => {
    expect(files.length).toBeGreaterThanOrEqual(12);
  });

  for (const file of files) {
    const { scenario } = loadScenarioFile(join(DIR, file));
    it(`${file} passes every expectation and invariant`, () => {
      const report = runScenario(forTests(scenario), { seed: scenario.seed ?? 1, scenarioPath: file });
      const failed = report.expectations.filter((e) => !e.passed);
      expect({ failed, violations: report.violations.slice(0, 5) }).toEqual({ failed: [], violations: [] });
      expect(report.passed).toBe(true);
    }, STORM_TEST_TIMEOUT_MS);
  }

  it('P2P steps on a driver without a P2P channel are reported as not run, never faked', () => {
    const { scenario } = loadScenarioFile(join(DIR, 'p2p-chat-and-file.yaml'));
    const report = runScenario({ ...scenario, requires: [], driver: 'protocol-client' }, { seed: 1 });
    expect(report.metrics.p2p_steps_not_run).toBe(2);
    expect(report.metrics.chat_received).toBe(0);
    expect(report.passed).toBe(false);
  });
});
