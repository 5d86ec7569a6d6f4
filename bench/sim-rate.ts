/**
 * sim_events_rate through the simulator's own benchmark entry (sim/events-rate/bench-api.ts): a
 * 10,000-peer presence storm, its events per second, and the simulator's bare binary-heap loop at
 * the same pending-event count as the baseline. Imported by path at run time, so a tree without
 * the simulator still type-checks and the figure is reported missing, not faked.
 */
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import { REPO_ROOT } from './processes.ts';
import { IntervalCounter, type IntervalCounts } from './interval-counts.ts';

/**
 * The bare loop runs at least this many events: the storm's own count takes it a fraction of a
 * second, and so short a measurement swings with every hiccup of a shared machine.
 */
const BARE_LOOP_EVENTS_MIN = 3_000_000;

interface SimBenchApi {
  runBareLoop(pendingCount: number, eventsTotal: number, seed: number): { readonly events: number; readonly wallMs: number; readonly eventsPerSec: number };
  measureSimEventsRate(
    peers: number,
    durationMs: number,
    seed: number,
    driver?: 'protocol-client' | 'peer-machine',
    onProgress?: (events: number) => void,
  ): {
    readonly report: { readonly events: number; readonly wallMs: number; readonly peers: number; readonly virtualMs: number; readonly violations: readonly unknown[] };
    readonly eventsPerSec: number;
    readonly pendingMax: number;
    readonly baseline: { readonly events: number; readonly wallMs: number; readonly eventsPerSec: number };
  };
  measureScale?(peers: number, seed: number): SimScaleFigures;
}

/** One storm at scale (sim_peers_max): did it converge, and what it cost. */
export interface SimScaleFigures {
  readonly peers: number;
  readonly passed: boolean;
  readonly violations: number;
  readonly events: number;
  readonly wallMs: number;
  readonly peakRssBytes: number;
  readonly bytesPerPeer: number;
}

export async function measureSimScale(peers: number, seed: number): Promise<SimScaleFigures> {
  const api = (await import(pathToFileURL(join(REPO_ROOT, 'sim', 'events-rate', 'bench-api.ts')).href)) as Partial<SimBenchApi>;
  if (typeof api.measureScale !== 'function') throw new Error('sim/events-rate/bench-api.ts has no measureScale');
  return api.measureScale(peers, seed);
}

export interface SimRateFigures {
  readonly eventsPerSec: number;
  readonly baselineEventsPerSec: number;
  readonly baselineEvents: number;
  readonly events: number;
  readonly wallMs: number;
  readonly virtualMs: number;
  readonly peers: number;
  readonly pendingMax: number;
  readonly violations: number;
  /** The storm's events processed per wall-clock interval (the HTML report's throughput chart). */
  readonly overTime: IntervalCounts;
  /** The same storm with the real peer machine as every user (details only; about twice the cost per event). */
  readonly peerMachine: { readonly eventsPerSec: number; readonly events: number; readonly violations: number };
}

export async function measureSim(peers: number, virtualMs: number, seed: number): Promise<SimRateFigures> {
  const modulePath = join(REPO_ROOT, 'sim', 'events-rate', 'bench-api.ts');
  const api = (await import(pathToFileURL(modulePath).href)) as Partial<SimBenchApi>;
  if (typeof api.measureSimEventsRate !== 'function') throw new Error('sim/events-rate/bench-api.ts has no measureSimEventsRate');
  // The figure: the storm as scenarios/storms/presence-storm-10k.yaml runs it (the light protocol client).
  const overTime = new IntervalCounter(Date.now());
  let lastEvents = 0;
  let lastAtMs = Date.now();
  const result = api.measureSimEventsRate(peers, virtualMs, seed, 'protocol-client', (events) => {
    const nowMs = Date.now();
    overTime.addSpread(lastAtMs, nowMs, events - lastEvents);
    lastEvents = events;
    lastAtMs = nowMs;
  });
  // For the details: the same world with the real peer machine as every user.
  const peerMachine = api.measureSimEventsRate(peers, virtualMs, seed, 'peer-machine');
  const baseline =
    typeof api.runBareLoop === 'function' && result.baseline.events < BARE_LOOP_EVENTS_MIN
      ? api.runBareLoop(result.pendingMax, BARE_LOOP_EVENTS_MIN, seed)
      : result.baseline;
  return {
    eventsPerSec: result.eventsPerSec,
    baselineEventsPerSec: baseline.eventsPerSec,
    baselineEvents: baseline.events,
    events: result.report.events,
    wallMs: result.report.wallMs,
    virtualMs: result.report.virtualMs,
    peers: result.report.peers,
    pendingMax: result.pendingMax,
    violations: result.report.violations.length,
    overTime: overTime.take(),
    peerMachine: { eventsPerSec: peerMachine.eventsPerSec, events: peerMachine.report.events, violations: peerMachine.report.violations.length },
  };
}
