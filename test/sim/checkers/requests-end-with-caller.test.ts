/**
 * requests-end-with-caller (sim/checkers/checkers.ts): a callee told its caller went offline holds
 * no request of hers past the presence bound; the server withdraws them as she goes. Before this
 * checker a server that kept a leaving caller's requests until their own timeout passed the whole
 * corpus and a swarm of 132 runs (planted by hand in core/server/machine.ts goOffline, 2026-12-08).
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

const { scenario } = loadScenarioFile('scenarios/caller-leaves-while-asking.yaml');

describe('requests-end-with-caller', () => {
  it('holds when the server withdraws the requests of a caller who crashed or froze past her TTL', () => {
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
  });

  it('fires for each callee when no session.withdrawn leaves the server (planted)', () => {
    const planted = { ...scenario, faults: [...scenario.faults, { kind: 'plant' as const, atMs: 0, bug: 'drop-session-withdrawn' as const }] };
    const report = runScenario(planted, { seed: scenario.seed ?? 1 });
    const fired = report.violations.filter((v) => v.checker === 'requests-end-with-caller').map((v) => v.detail.split(' ')[0]);
    expect(fired.sort()).toEqual(['bob', 'dave']);
  });

  describe('on two server nodes (test/sim/fixtures/caller-leaves-while-asking-cluster.yaml: the withdrawal crosses the bus)', () => {
    const cluster = loadScenarioFile('test/sim/fixtures/caller-leaves-while-asking-cluster.yaml').scenario;

    it('holds', () => {
      const report = runScenario(cluster, { seed: cluster.seed ?? 1 });
      expect(report.violations).toEqual([]);
    });

    it('fires for each callee when no node sends session.withdrawn (planted)', () => {
      const planted = { ...cluster, faults: [...cluster.faults, { kind: 'plant' as const, atMs: 0, bug: 'drop-session-withdrawn' as const }] };
      const report = runScenario(planted, { seed: cluster.seed ?? 1 });
      const fired = report.violations.filter((v) => v.checker === 'requests-end-with-caller').map((v) => v.detail.split(' ')[0]);
      expect(fired.sort()).toEqual(['bob', 'dave']);
    });
  });
});
