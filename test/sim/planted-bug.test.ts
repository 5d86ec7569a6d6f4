import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { scenarioSize } from '../../sim/swarm/shrink.ts';
import { runSwarm } from '../../sim/swarm/swarm.ts';

const FIXTURES = 'test/sim/fixtures';

describe('a planted protocol bug (ServerConfig.plantedBug, test-only)', () => {
  it('is caught by the presence checker when a silent peer times out', () => {
    const { scenario } = loadScenarioFile(`${FIXTURES}/planted-bug-silent.yaml`);
    const report = runScenario(scenario, { seed: 21 });
    expect(report.passed).toBe(false);
    expect(report.violations.map((v) => v.checker)).toContain('presence-matches-truth');
    const healthy = runScenario({ ...scenario, server: { ...scenario.server, plantedBug: undefined } }, { seed: 21 });
    expect(healthy.violations).toEqual([]);
  });

  it('is found by the swarm and shrunk to a short scenario that still fails on replay', () => {
    const { scenario } = loadScenarioFile(`${FIXTURES}/planted-bug-swarm-base.yaml`);
    // Without faults the workload passes: only the swarm's random faults expose the bug.
    expect(runScenario(scenario, { seed: 22 }).violations).toEqual([]);
    const result = runSwarm(scenario, { runs: 40, rootSeed: 2, scenarioPath: 'planted-bug-swarm-base.yaml' });
    const failure = result.failure;
    expect(failure, 'the swarm found no failure in 40 runs').not.toBeNull();
    if (failure === null) return;
    const before = scenarioSize(failure.scenario);
    const after = scenarioSize(failure.shrunk.scenario);
    expect(after.peers).toBeLessThanOrEqual(3);
    expect(after.faults).toBeLessThanOrEqual(1);
    expect(after.steps).toBeLessThanOrEqual(3);
    expect(after.peers + after.faults + after.steps).toBeLessThan(before.peers + before.faults + before.steps);
    const replay = runScenario(failure.shrunk.scenario, { seed: failure.seed });
    expect(replay.violations.length).toBeGreaterThan(0);
    expect(replay.traceHash).toBe(failure.shrunk.report.traceHash);
  });
});
