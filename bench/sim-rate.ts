/**
 * sim_events_rate through the simulator's own benchmark entry (sim/bench-api.ts, issue 5): a
 * 10,000-peer presence storm, its events per second, and the simulator's bare binary-heap loop at
 * the same pending-event count as the baseline. Imported by path at run time, so a tree without
 * the simulator still type-checks and the figure is reported missing, not faked.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.ts';

interface SimBenchApi {
  measureSimEventsRate(
    peers: number,
    durationMs: number,
    seed: number,
  ): {
    readonly report: { readonly events: number; readonly wallMs: number; readonly peers: number; readonly virtualMs: number; readonly violations: readonly unknown[] };
    readonly eventsPerSec: number;
    readonly pendingMax: number;
    readonly baseline: { readonly events: number; readonly wallMs: number; readonly eventsPerSec: number };
  };
}

export interface SimRateFigures {
  readonly eventsPerSec: number;
  readonly baselineEventsPerSec: number;
  readonly events: number;
  readonly wallMs: number;
  readonly virtualMs: number;
  readonly peers: number;
  readonly pendingMax: number;
  readonly violations: number;
}

export async function measureSim(peers: number, virtualMs: number, seed: number): Promise<SimRateFigures> {
  const modulePath = join(REPO_ROOT, 'sim', 'bench-api.ts');
  const api = (await import(pathToFileURL(modulePath).href)) as Partial<SimBenchApi>;
  if (typeof api.measureSimEventsRate !== 'function') throw new Error('sim/bench-api.ts has no measureSimEventsRate');
  const result = api.measureSimEventsRate(peers, virtualMs, seed);
  return {
    eventsPerSec: result.eventsPerSec,
    baselineEventsPerSec: result.baseline.eventsPerSec,
    events: result.report.events,
    wallMs: result.report.wallMs,
    virtualMs: result.report.virtualMs,
    peers: result.report.peers,
    pendingMax: result.pendingMax,
    violations: result.report.violations.length,
  };
}
