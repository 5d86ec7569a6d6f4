/**
 * What the phases hand the HTML report beyond the JSON figures: latency percentile curves (from
 * the HDR histograms) and throughput over time per phase. Collected in the orchestrator on the
 * PhaseContext (ctx.charts); never part of the `--json` report, whose shape stays as CONTRACTS.md
 * section 3 fixes it.
 */
import type { PercentilePoint } from '../histogram.ts';
import type { IntervalCounts } from '../interval-counts.ts';
import type { ResultName } from '../names.ts';

export interface LatencyCurve {
  /** What was measured, e.g. "login" or "bare node:http during presence". */
  readonly label: string;
  readonly points: readonly PercentilePoint[];
}

export interface ThroughputSeries {
  /** What was counted, e.g. "logins". */
  readonly label: string;
  /** Completions per second in each interval, from the first interval of the series. */
  readonly perSec: readonly number[];
  readonly intervalMs: number;
  /** Wall-clock ms of the series' first interval. */
  readonly startMs: number;
}

export interface PhaseThroughput {
  readonly phase: string;
  readonly series: ThroughputSeries[];
}

/** Curves per figure at most: each probe adds two (server and bare), and there are three probes. */
const CURVES_PER_FIGURE_MAX = 8;
/** Series per phase at most. */
const SERIES_PER_PHASE_MAX = 8;

export class BenchCharts {
  readonly latency = new Map<ResultName, LatencyCurve[]>();
  readonly throughput = new Map<string, ThroughputSeries[]>();

  /** A latency percentile curve for figure `name` (empty curves are skipped). */
  latencyCurve(name: ResultName, label: string, points: readonly PercentilePoint[]): void {
    if (points.length === 0) return;
    const curves = this.latency.get(name) ?? [];
    if (curves.length >= CURVES_PER_FIGURE_MAX) return;
    curves.push({ label, points });
    this.latency.set(name, curves);
  }

  /** Completions per interval during `phase`, counted as `label` (null or empty series are skipped). */
  throughputOf(phase: string, label: string, counts: IntervalCounts | null | undefined): void {
    if (counts === null || counts === undefined || counts.counts.length === 0) return;
    const series = this.throughput.get(phase) ?? [];
    if (series.length >= SERIES_PER_PHASE_MAX) return;
    const perSecond = 1000 / counts.intervalMs;
    series.push({ label, perSec: counts.counts.map((n) => n * perSecond), intervalMs: counts.intervalMs, startMs: counts.startMs });
    this.throughput.set(phase, series);
  }

  /**
   * Takes every curve and series of `other` (phases measured again, e.g. to confirm a gate
   * failure), replacing what this run had for the same figure or phase.
   */
  replaceFrom(other: BenchCharts): void {
    for (const [name, curves] of other.latency) this.latency.set(name, curves);
    for (const [phase, series] of other.throughput) this.throughput.set(phase, series);
  }

  phases(): PhaseThroughput[] {
    return [...this.throughput].map(([phase, series]) => ({ phase, series }));
  }
}
