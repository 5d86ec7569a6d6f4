/** The data behind the simulator's HTML report, without a browser: the run's timeline (sim/report-html/sim-timeline.ts). */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { SimRunRecorder } from '../../../sim/report-html/sim-timeline.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';
import { CHECKER_NAMES } from '../../../sim/scenarios/scenario-schema.ts';

describe('sim timeline recorder', () => {
  it('records fault bands cut at the liveness phase, each crash, the server outage and every step, without changing the run', () => {
    const { scenario } = loadScenarioFile('test/sim/report-html/fixtures/faults-quick.yaml');
    const recorder = new SimRunRecorder(scenario);
    const watched = runScenario(scenario, { seed: 5, onWorld: recorder.attach, onProgress: recorder.sample });
    const page = recorder.finish(watched);
    expect(runScenario(scenario, { seed: 5 }).traceHash).toBe(watched.traceHash);
    expect(page.faultBands).toEqual([
      { kind: 'partition', fromMs: 8_000, toMs: 14_000, label: 'partition (15 peers)' },
      { kind: 'peer-crash', fromMs: 12_000, toMs: 16_000, label: 'peer-crash (6 peers)' },
      { kind: 'server-crash', fromMs: 20_000, toMs: 23_000, label: 'server-crash' },
    ]);
    expect(page.serverDown).toEqual([{ kind: 'server-down', fromMs: 20_000, toMs: 23_000, label: 'server down' }]);
    expect(page.crashes).toBe(watched.metrics.peer_crashes);
    expect(page.crashBands).toHaveLength(watched.metrics.peer_crashes ?? -1);
    const steps = [...page.stepsOk, ...page.stepsNotOk].reduce((a, b) => a + b, 0);
    expect(steps).toBeGreaterThan(0);
    expect(page.presenceDelay.count).toBe(watched.metrics.presence_updates);
    expect(page.presenceDelay.bins.reduce((sum, [, n]) => sum + n, 0)).toBe(watched.metrics.presence_updates);
    expect(page.checkers.map((c) => c.violations)).toEqual(CHECKER_NAMES.map(() => 0));
    // Sampled between slices: every peer online once the arrivals are in, fewer while the partition and crashes last.
    const online = new Map(page.peersOnline.map(([at, truth]) => [at, truth]));
    expect(page.peersOnline.length).toBeGreaterThan(10);
    expect(Math.max(...online.values())).toBe(60);
    expect(Math.min(...[...online].filter(([at]) => at >= 10_000 && at <= 16_000).map(([, n]) => n))).toBeLessThan(60);
    // The server sees no one while it is down (20 s to 23 s).
    expect(page.peersOnline.filter(([at]) => at > 20_000 && at < 23_000).map(([, , server]) => server)).toContain(0);
    expect(page.replay).toBe(`p2pchat sim ${watched.scenario} --seed 5`);
  });
});
