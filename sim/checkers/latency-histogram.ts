/**
 * A latency histogram with 1 ms buckets up to HISTOGRAM_MS_MAX (larger values land in the last
 * bucket): exact percentiles at millisecond resolution in fixed memory, whatever the sample count.
 */
export const HISTOGRAM_MS_MAX = 600_000;

export class Histogram {
  private readonly buckets = new Uint32Array(HISTOGRAM_MS_MAX + 1);
  count = 0;
  maxMs = 0;
  private sumMs = 0;

  record(valueMs: number): void {
    const bucket = Math.min(HISTOGRAM_MS_MAX, Math.max(0, Math.round(valueMs)));
    this.buckets[bucket] = (this.buckets[bucket] ?? 0) + 1;
    this.count += 1;
    this.sumMs += valueMs;
    if (valueMs > this.maxMs) this.maxMs = valueMs;
  }

  /** The smallest value v such that at least q of the samples are <= v; 0 when empty. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let ms = 0; ms <= HISTOGRAM_MS_MAX; ms++) {
      seen += this.buckets[ms] ?? 0;
      if (seen >= rank) return ms;
    }
    return HISTOGRAM_MS_MAX;
  }

  /** Every non-empty bucket as [ms, count], in order (the HTML report's distribution). */
  distribution(): Array<[ms: number, count: number]> {
    const out: Array<[number, number]> = [];
    if (this.count === 0) return out;
    for (let ms = 0; ms <= HISTOGRAM_MS_MAX; ms++) {
      const count = this.buckets[ms] ?? 0;
      if (count > 0) out.push([ms, count]);
    }
    return out;
  }

  get meanMs(): number {
    return this.count === 0 ? 0 : this.sumMs / this.count;
  }
}
