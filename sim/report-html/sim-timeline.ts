/**
 * What `p2pchat sim --html` draws beyond the JSON report, recorded while a run goes: the world
 * events of its trace (crashes, restarts, steps) folded into a bounded timeline, and, once the
 * run is over, the presence-convergence delays and each checker's verdict. Watching costs one
 * call per world event and never touches the trace hash.
 */
import type { Violation } from '../checkers/checkers.ts';
import type { RunReport } from '../command/sim-report.ts';
import { livenessMsOf } from '../command/run-scenario.ts';
import { CHECKER_NAMES, type Fault, type Scenario } from '../scenarios/scenario-schema.ts';
import type { World } from '../world/world.ts';

/** Buckets the run's virtual time is cut into for step counts: a smooth bar chart at any length. */
const TIMELINE_BUCKETS = 200;
/** Step outcomes that mean the step did what it was for (a session step ends `established`). */
const SUCCESS_OUTCOMES: ReadonlySet<string> = new Set(['ok', 'established']);
/** Crash bands kept per run (one per crashed peer and crash); past that they are only counted. */
const CRASH_BANDS_MAX = 200;
/** Violations marked on the timeline; past that they are only counted. */
const VIOLATION_MARKS_MAX = 500;
/** Bins of the presence-delay histogram. */
const DELAY_BINS_MAX = 60;

export interface Band {
  readonly kind: string;
  readonly fromMs: number;
  readonly toMs: number;
  readonly label: string;
}

export interface CheckerVerdict {
  readonly checker: string;
  readonly expected: boolean;
  readonly violations: number;
  readonly first: string | null;
}

export interface SimRunPage {
  readonly report: Omit<RunReport, 'violations' | 'faultTargets'>;
  readonly description: string | null;
  readonly replay: string;
  readonly workloadMs: number;
  readonly totalMs: number;
  readonly bucketMs: number;
  readonly stepsOk: number[];
  readonly stepsNotOk: number[];
  /**
   * Sampled between slices, at most once per bucket: [virtual ms, peers online by their own
   * truth, users online at the server (0 while it is down)].
   */
  readonly peersOnline: Array<[number, number, number]>;
  readonly faultBands: Band[];
  readonly serverDown: Band[];
  readonly crashBands: Band[];
  readonly crashes: number;
  readonly violationMarks: Violation[];
  readonly violations: number;
  readonly checkers: CheckerVerdict[];
  /** Presence-convergence delays: [ms, count] bins, and the percentiles the metrics quote. */
  readonly presenceDelay: { readonly bins: Array<[number, number]>; readonly binMs: number; readonly count: number; readonly p50Ms: number; readonly p99Ms: number; readonly maxMs: number };
}

/** How long a fault impairs the run: its own duration, cut at the liveness phase (which heals links and the server). */
function faultBand(fault: Fault, targets: readonly string[], workloadMs: number, endMs: number): Band {
  const lasting = 'durationMs' in fault ? fault.durationMs : 'downMs' in fault ? fault.downMs : undefined;
  const healed = fault.kind !== 'peer-crash' && fault.kind !== 'reset' && fault.atMs < workloadMs;
  let toMs = lasting === undefined ? (fault.kind === 'peer-crash' ? endMs : fault.atMs) : fault.atMs + lasting;
  if (healed) toMs = Math.min(toMs, workloadMs);
  const who = targets.length === 0 ? '' : ` (${targets.length} peer${targets.length === 1 ? '' : 's'})`;
  return { kind: fault.kind, fromMs: fault.atMs, toMs: Math.min(toMs, endMs), label: `${fault.kind}${who}` };
}

export class SimRunRecorder {
  private readonly workloadMs: number;
  private readonly totalMs: number;
  private readonly bucketMs: number;
  private readonly stepsOk: number[];
  private readonly stepsNotOk: number[];
  private readonly crashedAt = new Map<number, number>();
  private readonly crashBands: Band[] = [];
  private crashes = 0;
  private serverDownSinceMs: number | null = null;
  private readonly serverDown: Band[] = [];
  private world: World | null = null;
  private readonly peersOnline: Array<[number, number, number]> = [];
  private nextSampleMs = 0;

  constructor(private readonly scenario: Scenario) {
    this.workloadMs = scenario.durationMs;
    this.totalMs = scenario.durationMs + livenessMsOf(scenario);
    this.bucketMs = Math.max(1, Math.ceil(this.totalMs / TIMELINE_BUCKETS));
    const buckets = Math.ceil(this.totalMs / this.bucketMs) + 1;
    this.stepsOk = new Array<number>(buckets).fill(0);
    this.stepsNotOk = new Array<number>(buckets).fill(0);
  }

  /** Pass as runScenario's onWorld: watches the world's events from the start. */
  readonly attach = (world: World): void => {
    this.world = world;
    world.trace.noteObserver = (atMs, kind, detail) => this.onNote(atMs, kind, detail);
  };

  /**
   * Pass from runScenario's onProgress (called between slices): counts the peers online, at most
   * once per bucket, so a long run with short slices still costs at most TIMELINE_BUCKETS scans.
   */
  readonly sample = (atMs: number): void => {
    const world = this.world;
    if (world === null || atMs < this.nextSampleMs) return;
    let online = 0;
    for (const slot of world.slots) if (slot.driver.truthOnline) online += 1;
    this.peersOnline.push([atMs, online, world.server.machine?.stats().onlineUsers ?? 0]);
    this.nextSampleMs = atMs + this.bucketMs;
  };

  private onNote(atMs: number, kind: string, detail: Readonly<Record<string, string | number | boolean>>): void {
    switch (kind) {
      case 'step': {
        const bucket = Math.min(this.stepsOk.length - 1, Math.floor(atMs / this.bucketMs));
        const counts = SUCCESS_OUTCOMES.has(String(detail.outcome)) ? this.stepsOk : this.stepsNotOk;
        counts[bucket] = (counts[bucket] ?? 0) + 1;
        return;
      }
      case 'peer-crash':
        this.crashes += 1;
        this.crashedAt.set(Number(detail.peer), atMs);
        return;
      case 'peer-restart': {
        const peer = Number(detail.peer);
        const fromMs = this.crashedAt.get(peer);
        this.crashedAt.delete(peer);
        if (fromMs !== undefined && this.crashBands.length < CRASH_BANDS_MAX) this.crashBands.push({ kind: 'peer-down', fromMs, toMs: atMs, label: `peer ${peer} down` });
        return;
      }
      case 'server-crash':
        this.serverDownSinceMs = atMs;
        return;
      case 'server-start':
        if (this.serverDownSinceMs !== null) this.serverDown.push({ kind: 'server-down', fromMs: this.serverDownSinceMs, toMs: atMs, label: 'server down' });
        this.serverDownSinceMs = null;
        return;
      default:
        return;
    }
  }

  /** The page's data for this run, once runScenario has returned its report. */
  finish(report: RunReport): SimRunPage {
    const endMs = report.virtualMs;
    for (const [peer, fromMs] of this.crashedAt) {
      if (this.crashBands.length < CRASH_BANDS_MAX) this.crashBands.push({ kind: 'peer-down', fromMs, toMs: endMs, label: `peer ${peer} down (never restarted)` });
    }
    if (this.serverDownSinceMs !== null) this.serverDown.push({ kind: 'server-down', fromMs: this.serverDownSinceMs, toMs: endMs, label: 'server down' });
    const faultBands = this.scenario.faults.filter((f) => f.atMs <= endMs).map((f) => faultBand(f, report.faultTargets[this.scenario.faults.indexOf(f)] ?? [], this.workloadMs, endMs));
    const expected = new Set<string>(this.scenario.expect.invariants.length > 0 ? this.scenario.expect.invariants : CHECKER_NAMES);
    const checkers = CHECKER_NAMES.map((checker) => {
      const broken = report.violations.filter((v) => v.checker === checker);
      return { checker, expected: expected.has(checker), violations: broken.length, first: broken[0] === undefined ? null : `at ${Math.round(broken[0].atMs)} ms: ${broken[0].detail}` };
    });
    const { violations: allViolations, faultTargets: _targets, ...rest } = report;
    return {
      report: rest,
      description: this.scenario.description ?? null,
      replay: `p2pchat sim ${report.scenario} --seed ${report.seed}`,
      workloadMs: this.workloadMs,
      totalMs: Math.max(this.totalMs, endMs),
      bucketMs: this.bucketMs,
      stepsOk: this.stepsOk,
      stepsNotOk: this.stepsNotOk,
      peersOnline: this.peersOnline,
      faultBands,
      serverDown: this.serverDown,
      crashBands: this.crashBands,
      crashes: this.crashes,
      violationMarks: allViolations.slice(0, VIOLATION_MARKS_MAX),
      violations: allViolations.length,
      checkers,
      presenceDelay: this.presenceDelay(report),
    };
  }

  private presenceDelay(report: RunReport): SimRunPage['presenceDelay'] {
    const histogram = this.world?.checkers.presenceDelay;
    const pairs = histogram?.distribution() ?? [];
    const last = pairs[pairs.length - 1]?.[0] ?? 0;
    const binMs = Math.max(1, Math.ceil((last + 1) / DELAY_BINS_MAX));
    const bins = new Map<number, number>();
    for (const [ms, count] of pairs) {
      const bin = Math.floor(ms / binMs) * binMs;
      bins.set(bin, (bins.get(bin) ?? 0) + count);
    }
    return {
      bins: [...bins],
      binMs,
      count: histogram?.count ?? 0,
      p50Ms: report.metrics.presence_delay_p50_ms ?? 0,
      p99Ms: report.metrics.presence_delay_p99_ms ?? 0,
      maxMs: report.metrics.presence_delay_max_ms ?? 0,
    };
  }
}
