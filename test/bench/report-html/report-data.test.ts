/** The data behind the bench's HTML report, without a browser: interval counts, the phases' charts, HDR curves. */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../bench/histogram.ts';
import { IntervalCounter, THROUGHPUT_INTERVALS_MAX, sumIntervalCounts } from '../../../bench/interval-counts.ts';
import { BenchCharts } from '../../../bench/report-html/bench-charts.ts';

describe('interval counts (throughput over time)', () => {
  it('counts completions into epoch-aligned intervals, zeros included, and sums series from several processes slot by slot', () => {
    const a = new IntervalCounter(10_100, 250);
    for (const at of [10_100, 10_240, 10_260, 10_900]) a.add(at);
    expect(a.take()).toEqual({ startMs: 10_000, intervalMs: 250, counts: [2, 1, 0, 1] });
    const b = new IntervalCounter(10_300, 250);
    b.add(10_300, 5);
    b.add(10_800);
    expect(sumIntervalCounts([a.take(), b.take()])).toEqual({ startMs: 10_000, intervalMs: 250, counts: [2, 6, 0, 2] });
    expect(a.take(10_250, 10_500)).toEqual({ startMs: 10_250, intervalMs: 250, counts: [1, 0] });
    expect(sumIntervalCounts([])).toBeNull();
  });

  it('spreads a batch reported between two samples over the intervals it spans, in proportion to the time in each', () => {
    const counter = new IntervalCounter(10_000, 250);
    counter.addSpread(10_125, 10_625, 100);
    counter.addSpread(10_700, 10_700, 3);
    counter.addSpread(10_700, 10_800, 0);
    expect(counter.take()).toEqual({ startMs: 10_000, intervalMs: 250, counts: [25, 50, 28] });
  });

  it('drops completions before its start and past its bound instead of growing without end', () => {
    const counter = new IntervalCounter(1_000_000, 250);
    counter.add(999_000);
    counter.add(1_000_000 + 250 * THROUGHPUT_INTERVALS_MAX);
    expect(counter.take().counts).toEqual([]);
  });
});

describe('bench charts (what the phases hand the page)', () => {
  it('turns interval counts into per-second rates, skips empty input, and bounds the curves per figure', () => {
    const charts = new BenchCharts();
    charts.throughputOf('login', 'logins', { startMs: 0, intervalMs: 250, counts: [1, 0, 3] });
    charts.throughputOf('login', 'nothing', { startMs: 0, intervalMs: 250, counts: [] });
    charts.throughputOf('login', 'nothing', null);
    expect(charts.phases()).toEqual([{ phase: 'login', series: [{ label: 'logins', perSec: [4, 0, 12], intervalMs: 250, startMs: 0 }] }]);
    for (let i = 0; i < 20; i++) charts.latencyCurve('login_rate', `round ${i}`, [[0, 1], [100, 2]]);
    charts.latencyCurve('resume_rate', 'empty', []);
    expect(charts.latency.get('login_rate')?.length).toBeLessThan(20);
    expect(charts.latency.has('resume_rate')).toBe(false);
  });

  it('takes the curves and series of phases measured again in place of the first ones', () => {
    const first = new BenchCharts();
    first.latencyCurve('login_rate', 'first', [[0, 1]]);
    first.latencyCurve('resume_rate', 'kept', [[0, 1]]);
    first.throughputOf('login', 'first', { startMs: 0, intervalMs: 1000, counts: [1] });
    const again = new BenchCharts();
    again.latencyCurve('login_rate', 'again', [[0, 2]]);
    again.throughputOf('login', 'again', { startMs: 0, intervalMs: 1000, counts: [2] });
    first.replaceFrom(again);
    expect(first.latency.get('login_rate')?.map((c) => c.label)).toEqual(['again']);
    expect(first.latency.get('resume_rate')?.map((c) => c.label)).toEqual(['kept']);
    expect(first.phases().map((p) => p.series.map((s) => s.label))).toEqual([['again']]);
  });
});

describe('HDR percentile curve', () => {
  it('runs from the minimum at 0% to the maximum at 100%, never falling, and stops where the tail holds no sample', () => {
    const histogram = new LatencyHistogram();
    for (let i = 1; i <= 1_000; i++) histogram.recordMs(i);
    const curve = histogram.percentileCurve();
    expect(curve[0]).toEqual([0, 1]);
    // HDR keeps 3 significant figures.
    expect(curve[curve.length - 1]?.[0]).toBe(100);
    expect(curve[curve.length - 1]?.[1]).toBeCloseTo(1000, -1);
    for (let i = 1; i < curve.length; i++) {
      expect(curve[i]?.[0]).toBeGreaterThan(curve[i - 1]?.[0] ?? 0);
      expect(curve[i]?.[1]).toBeGreaterThanOrEqual(curve[i - 1]?.[1] ?? 0);
    }
    // 1,000 samples: the last point before the max is past 99.9% (a tail of one sample), none past that.
    expect(curve[curve.length - 2]?.[0]).toBeGreaterThan(99.8);
    expect(curve[curve.length - 2]?.[0]).toBeLessThan(99.95);
    expect(new LatencyHistogram().percentileCurve()).toEqual([]);
  });
});
