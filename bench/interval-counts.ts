/**
 * Completions counted per fixed interval: the throughput-over-time series of the HTML report
 * (`p2pchat bench --html`). One array slot per interval, one addition per completion, so it
 * costs the load loops nothing measurable; intervals are aligned to the wall clock's epoch so
 * series counted in different processes add up slot by slot.
 */

/** Width of one interval: fine enough to see a stall, coarse enough to stay a small array. */
export const THROUGHPUT_INTERVAL_MS = 250;
/** Intervals one counter keeps (four hours at 250 ms, longer than any run): later ones are dropped. */
export const THROUGHPUT_INTERVALS_MAX = 57_600;

/** Completions per interval from `startMs` on (epoch-aligned, wall-clock ms). */
export interface IntervalCounts {
  readonly startMs: number;
  readonly intervalMs: number;
  readonly counts: number[];
}

export class IntervalCounter {
  private readonly firstSlot: number;
  private readonly counts: number[] = [];

  /** `startMs`: wall-clock ms (Date.now()) of the first interval. */
  constructor(
    startMs: number,
    readonly intervalMs: number = THROUGHPUT_INTERVAL_MS,
  ) {
    this.firstSlot = Math.floor(startMs / intervalMs);
  }

  /** Counts `n` completions at wall-clock `atMs` (Date.now()). */
  add(atMs: number, n = 1): void {
    const index = Math.floor(atMs / this.intervalMs) - this.firstSlot;
    if (index < 0 || index >= THROUGHPUT_INTERVALS_MAX) return;
    while (this.counts.length <= index) this.counts.push(0);
    this.counts[index] = (this.counts[index] ?? 0) + n;
  }

  /**
   * Counts `n` completions spread evenly over wall-clock [fromMs, toMs]: for work that reports
   * its progress in batches (the simulator, between slices) rather than one completion at a time.
   */
  addSpread(fromMs: number, toMs: number, n: number): void {
    if (n <= 0) return;
    if (toMs <= fromMs) return this.add(toMs, n);
    for (let slotStartMs = Math.floor(fromMs / this.intervalMs) * this.intervalMs; slotStartMs < toMs; slotStartMs += this.intervalMs) {
      const overlapMs = Math.min(toMs, slotStartMs + this.intervalMs) - Math.max(fromMs, slotStartMs);
      this.add(slotStartMs, (n * overlapMs) / (toMs - fromMs));
    }
  }

  /** The intervals overlapping [fromMs, toMs] (all when omitted), zeros included. */
  take(fromMs?: number, toMs?: number): IntervalCounts {
    const from = fromMs === undefined ? 0 : Math.max(0, Math.floor(fromMs / this.intervalMs) - this.firstSlot);
    const to = toMs === undefined ? this.counts.length : Math.max(from, Math.floor(toMs / this.intervalMs) - this.firstSlot + 1);
    const counts = Array.from({ length: Math.min(to, THROUGHPUT_INTERVALS_MAX) - from }, (_, i) => this.counts[from + i] ?? 0);
    return { startMs: (this.firstSlot + from) * this.intervalMs, intervalMs: this.intervalMs, counts };
  }
}

/** Adds up series counted in several processes (same interval width), slot by slot. */
export function sumIntervalCounts(series: readonly IntervalCounts[]): IntervalCounts | null {
  const first = series[0];
  if (first === undefined) return null;
  const intervalMs = first.intervalMs;
  const startMs = Math.min(...series.map((s) => s.startMs));
  const counts: number[] = [];
  for (const s of series) {
    const offset = Math.round((s.startMs - startMs) / intervalMs);
    s.counts.forEach((count, i) => {
      while (counts.length <= offset + i) counts.push(0);
      counts[offset + i] = (counts[offset + i] ?? 0) + count;
    });
  }
  return { startMs, intervalMs, counts: counts.slice(0, THROUGHPUT_INTERVALS_MAX) };
}
