/**
 * The shrinker's search (sim/swarm/shrink.ts), driven by a stand-in for the simulator: a run is a
 * pure function of the scenario, so these tests say what it keeps and how many runs it spends.
 *
 * Found on a real shrink (server-crash-restart.yaml, root seed 11): a failure that needed one
 * crashed peer among 126 pinned targets spent its 300-run budget dropping targets one at a time and
 * re-running the four refused fault deletions after each success, and stopped at 300 peers.
 */
import { describe, expect, it } from 'vitest';
import type { RunReport } from '../../../sim/command/sim-report.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';
import type { Scenario } from '../../../sim/scenarios/scenario-schema.ts';
import { shrinkScenario } from '../../../sim/swarm/shrink.ts';

const PEERS = 100;
const CULPRIT = 'peer73';

const base = loadScenarioFile('test/sim/fixtures/harness-base.yaml').scenario;
const names = Array.from({ length: PEERS }, (_, i) => `peer${i}`);
const failing: Scenario = {
  ...base,
  populations: base.populations.map((p) => (p.name === 'peer' ? { ...p, count: PEERS } : p)),
  faults: [
    { kind: 'peer-crash', atMs: 5_000, peers: names },
    { kind: 'clog', atMs: 6_000, durationMs: 2_000, peers: ['peer1', 'peer2'] },
    { kind: 'reset', atMs: 7_000, peers: ['peer3'] },
  ],
};

/** Fails (one violation) exactly when the culprit's program is crashed: the stand-in bug. */
function standIn(scenario: Scenario): RunReport {
  const crashed = scenario.faults.some((f) => f.kind === 'peer-crash' && 'peers' in f && f.peers?.includes(CULPRIT) === true);
  return { violations: crashed ? [{ checker: 'liveness', atMs: 0, detail: '' }] : [], mismatchedSteps: [] } as unknown as RunReport;
}

describe('the shrinker', () => {
  it('finds the one target a failure needs among a hundred in halves, not one run per target', () => {
    const seen: string[] = [];
    const run = (scenario: Scenario): RunReport => {
      seen.push(JSON.stringify(scenario));
      return standIn(scenario);
    };
    const result = shrinkScenario(failing, standIn(failing), run, (r) => r.violations.length > 0);
    expect(result.scenario.faults).toEqual([{ kind: 'peer-crash', atMs: expect.any(Number), peers: [CULPRIT] }]);
    // About log2(100) halvings plus the other deletions; one at a time took over a hundred.
    expect(result.runs).toBeLessThan(PEERS);
    // No scenario is run twice: a run depends on nothing but its scenario and seed.
    expect(new Set(seen).size).toBe(seen.length);
  });

  it('stops at its run budget with the smallest failing scenario found so far', () => {
    const result = shrinkScenario(failing, standIn(failing), standIn, (r) => r.violations.length > 0, 5);
    expect(result.runs).toBe(5);
    expect(standIn(result.scenario).violations).toHaveLength(1);
    expect(result.scenario.faults.length).toBeLessThan(failing.faults.length);
  });

  it('keeps the scenario when no deletion keeps the failure', () => {
    const result = shrinkScenario(failing, standIn(failing), standIn, () => false, 50);
    expect(result.scenario).toBe(failing);
    expect(result.runs).toBe(50);
  });
});
