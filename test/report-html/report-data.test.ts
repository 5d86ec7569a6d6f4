/** The data behind the HTML reports, without a browser: interval counts, HDR curves, sim timelines, the page shell. */
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../bench/histogram.ts';
import { IntervalCounter, THROUGHPUT_INTERVALS_MAX, sumIntervalCounts } from '../../bench/interval-counts.ts';
import { BenchCharts } from '../../bench/report-html/bench-charts.ts';
import { renderReportPage } from '../../cli/report-html/page-shell.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { SimRunRecorder } from '../../sim/report-html/sim-timeline.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { CHECKER_NAMES } from '../../sim/scenarios/scenario-schema.ts';

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

describe('sim timeline recorder', () => {
  it('records fault bands cut at the liveness phase, each crash, the server outage and every step, without changing the run', () => {
    const { scenario } = loadScenarioFile('test/report-html/fixtures/faults-quick.yaml');
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

describe('report page shell', () => {
  it('inlines the chart library and the data, and links nothing outside the file', () => {
    const html = renderReportPage({ title: 'a <title>', data: { text: '</script><img src=x>' }, pageScript: 'ReportKit.run(function () {});' });
    expect(html).toContain('uPlot');
    expect(html).toContain('a &#60;title&#62;');
    expect(html).not.toMatch(/<script[^>]+src=/i);
    expect(html).not.toMatch(/<link[^>]+href=/i);
    expect(html).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/\bfetch\(|XMLHttpRequest|import\(/);
    expect(html).not.toContain('</script><img');
  });
});
