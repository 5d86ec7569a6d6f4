/**
 * What bench/ calls to measure sim_events_rate: a generated presence-storm scenario of any size,
 * the simulator's events per second on it, and the bare event loop (bare-loop.ts) at the same
 * pending-event count as the baseline.
 */
import { runBareLoop, type LoopRate } from './bare-loop.ts';
import type { RunReport } from '../command/sim-report.ts';
import { runScenario } from '../command/run-scenario.ts';
import { type DRIVERS, type Scenario, scenarioSchema } from '../scenarios/scenario-schema.ts';
import { loadScenarioFile } from '../scenarios/scenario-loader.ts';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Driver = (typeof DRIVERS)[number];

export { runBareLoop, type LoopRate } from './bare-loop.ts';
export { runScenario } from '../command/run-scenario.ts';

/**
 * The storm of scenarios/storms/presence-storm-10k.yaml, at any peer count and duration. Its users are
 * the light protocol client, as in that file (storms are what it is for); `driver` runs the same
 * storm on the real peer machine instead.
 */
export function presenceStormScenario(peers = 10_000, durationMs = 60_000, driver: Driver = 'protocol-client'): Scenario {
  const arrivalMs = Math.min(10_000, Math.max(1_000, Math.floor(durationMs / 3)));
  return scenarioSchema.parse({
    version: 1,
    name: `presence storm, ${peers} peers (${driver})`,
    driver,
    durationMs,
    server: { connectionsMax: Math.max(peers * 2, 100), hashCostMs: 5 },
    checks: { sweepEveryMs: 10_000 },
    populations: [{ name: 'user', count: peers, behaviour: 'social' }],
    friends: { powerLaw: { meanDegree: 8, exponent: 2.5 } },
    arrivals: [{ durationMs: arrivalMs, rate: peers / (arrivalMs / 1000) }],
    behaviours: {
      social: [
        { answer: { policy: 'accept', delay: { exponential: 500 } } },
        'login',
        { think: { exponential: 10_000 } },
        {
          choose: [
            { p: 0.3, steps: [{ session: { with: 'random-friend' } }] },
            { p: 0.1, steps: ['logout', { think: { uniform: [1_000, 5_000] } }, 'login'] },
          ],
        },
      ],
    },
  });
}

/** The million-peer storm's file: sim_peers_max runs it at the size asked for. */
const SCALE_STORM_FILE = 'scenarios/storms/presence-storm-1m.yaml';

/** scenarios/storms/presence-storm-1m.yaml at `peers` peers (arrivals scaled with them, over the same 20 s). */
export function scaleStormScenario(peers: number): Scenario {
  const { scenario } = loadScenarioFile(join(REPO_ROOT, SCALE_STORM_FILE));
  const full = scenario.populations.reduce((sum, p) => sum + p.count, 0);
  const scale = peers / full;
  return scenarioSchema.parse({
    ...scenario,
    populations: scenario.populations.map((p) => ({ ...p, count: Math.max(1, Math.round(p.count * scale)) })),
    arrivals: scenario.arrivals?.map((a) => ({ ...a, rate: a.rate * scale, ...(a.rampTo === undefined ? {} : { rampTo: a.rampTo * scale }) })),
    expect: { ...scenario.expect, metrics: { peers_online_end: { min: Math.floor(peers * 0.99) } } },
  });
}

/** sim_peers_max: runs the scale storm at `peers` and says whether it converged (passed), with its cost. */
export function measureScale(peers: number, seed: number): { peers: number; passed: boolean; violations: number; events: number; wallMs: number; peakRssBytes: number; bytesPerPeer: number } {
  const report = runScenario(scaleStormScenario(peers), { seed });
  return { peers: report.peers, passed: report.passed, violations: report.violations.length, events: report.events, wallMs: report.wallMs, peakRssBytes: report.peakRssBytes, bytesPerPeer: report.bytesPerPeer };
}

const BARE_LOOP_RUNS = 3;

export interface SimRate {
  readonly report: RunReport;
  readonly eventsPerSec: number;
  /** Most events pending in the queue at once (sampled between slices). */
  readonly pendingMax: number;
  readonly baseline: LoopRate;
}

/** Virtual ms between progress calls: about a quarter second of wall time at the storm's pace. */
const PROGRESS_EVERY_MS = 250;

/**
 * Runs the storm and the bare loop at the same pending count; ratio = eventsPerSec / baseline.eventsPerSec.
 * `onProgress` hears the events processed so far every PROGRESS_EVERY_MS of virtual time.
 */
export function measureSimEventsRate(peers = 10_000, durationMs = 60_000, seed = 1, driver: Driver = 'protocol-client', onProgress?: (events: number) => void): SimRate {
  const report = runScenario(presenceStormScenario(peers, durationMs, driver), {
    seed,
    ...(onProgress === undefined ? {} : { progressEveryMs: PROGRESS_EVERY_MS, onProgress: (_doneMs: number, _totalMs: number, events: number) => onProgress(events) }),
  });
  const eventsPerSec = report.events / Math.max(report.wallMs / 1000, 1e-9);
  const pendingMax = report.metrics.queue_pending_max ?? peers;
  // The bare loop is short and noisy (GC, other load): the median of a few runs.
  const runs = Array.from({ length: BARE_LOOP_RUNS }, () => runBareLoop(pendingMax, report.events, seed)).sort((a, b) => a.eventsPerSec - b.eventsPerSec);
  const baseline = runs[Math.floor(runs.length / 2)] as LoopRate;
  return { report, eventsPerSec, pendingMax, baseline };
}
