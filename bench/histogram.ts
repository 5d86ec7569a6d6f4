/**
 * Latency histograms on perf_hooks.createHistogram (an HDR histogram in native code: recording
 * is cheap on a hot path and percentiles are exact to 3 significant figures).
 *
 * Samples are recorded in microseconds. Worker processes cannot send a native histogram over IPC,
 * so they keep a bounded reservoir of raw samples too (SampleReservoir) and the parent rebuilds
 * one histogram from every worker's reservoir.
 */
import { type RecordableHistogram, createHistogram } from 'node:perf_hooks';

/** Longest latency a histogram holds: anything slower is clamped (a minute is "broken" anyway). */
const LATENCY_US_MAX = 60_000_000;
/** Raw samples one reservoir keeps; past that each new sample replaces a random kept one. */
export const RESERVOIR_SAMPLES_MAX = 50_000;

/** One point of a percentile curve: [percentile (0-100), latency ms at or under which it falls]. */
export type PercentilePoint = readonly [percentile: number, ms: number];

/** Curve points per halving of the tail (50%, 75%, 87.5%...): even steps on an HDR plot's log axis. */
const CURVE_STEPS_PER_HALVING = 4;
/** Halvings of the tail at most (down to about one sample in a million). */
const CURVE_HALVINGS_MAX = 20;

export interface LatencySummary {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  readonly meanMs: number;
  /** The percentile curve (for the HTML report's latency charts; not in the JSON report). */
  readonly curve: readonly PercentilePoint[];
}

export class LatencyHistogram {
  private readonly histogram: RecordableHistogram = createHistogram({ lowest: 1, highest: LATENCY_US_MAX, figures: 3 });

  /** Records one latency given in milliseconds (fractions kept to the microsecond). */
  recordMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    this.recordUs(Math.round(ms * 1000));
  }

  recordUs(us: number): void {
    this.histogram.record(Math.min(LATENCY_US_MAX, Math.max(1, Math.round(us))));
  }

  get count(): number {
    return this.histogram.count;
  }

  summary(): LatencySummary {
    const h = this.histogram;
    if (h.count === 0) return { count: 0, p50Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0, curve: [] };
    const ms = (us: number): number => Math.round(us) / 1000;
    return {
      count: h.count,
      p50Ms: ms(h.percentile(50)),
      p99Ms: ms(h.percentile(99)),
      p999Ms: ms(h.percentile(99.9)),
      maxMs: ms(h.max),
      meanMs: ms(h.mean),
      curve: this.percentileCurve(),
    };
  }

  /**
   * The HDR percentile curve: the latency at 0%, then CURVE_STEPS_PER_HALVING points per halving
   * of the tail for as long as the tail still holds a sample, then the maximum.
   */
  percentileCurve(): PercentilePoint[] {
    const h = this.histogram;
    if (h.count === 0) return [];
    const ms = (us: number): number => Math.round(us) / 1000;
    const points: PercentilePoint[] = [[0, ms(h.min)]];
    for (let step = 1; step <= CURVE_STEPS_PER_HALVING * CURVE_HALVINGS_MAX; step++) {
      const tail = 2 ** (-step / CURVE_STEPS_PER_HALVING);
      if (tail * h.count < 1) break;
      const percentile = 100 * (1 - tail);
      points.push([percentile, ms(h.percentile(percentile))]);
    }
    points.push([100, ms(h.max)]);
    return points;
  }
}

/** A bounded uniform sample of latencies (algorithm R), sendable over IPC as plain numbers. */
export class SampleReservoir {
  private readonly samplesUs: number[] = [];
  private seen = 0;

  constructor(
    private readonly capacity: number = RESERVOIR_SAMPLES_MAX,
    private readonly random: () => number = Math.random,
  ) {}

  recordMs(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const us = Math.round(ms * 1000);
    this.seen += 1;
    if (this.samplesUs.length < this.capacity) {
      this.samplesUs.push(us);
      return;
    }
    const slot = Math.floor(this.random() * this.seen);
    if (slot < this.capacity) this.samplesUs[slot] = us;
  }

  /** How many samples were offered (not only kept). */
  get offered(): number {
    return this.seen;
  }

  take(): number[] {
    return this.samplesUs.slice();
  }
}

export function histogramOfSamples(samplesUs: readonly number[]): LatencyHistogram {
  const histogram = new LatencyHistogram();
  for (const us of samplesUs) histogram.recordUs(us);
  return histogram;
}
