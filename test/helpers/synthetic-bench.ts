/**
 * A recorded benchmark run for the HTML report's tests: the committed reference run's figures,
 * moved by a fixed amount so the page has something to compare, with latency curves from HDR
 * histograms of generated samples and throughput series of generated counts. No benchmark runs.
 */
import { readFileSync } from 'node:fs';
import { LatencyHistogram } from '../../bench/histogram.ts';
import { BenchCharts } from '../../bench/report-html/bench-charts.ts';
import type { BenchReport, BenchResult } from '../../bench/report.ts';
import { parseReport } from '../../bench/report-schema.ts';
import { Prng } from '../../sim/world/prng.ts';

export const REFERENCE_PATH = 'bench/results/reference.json';

export function referenceReport(): BenchReport {
  return parseReport(JSON.parse(readFileSync(new URL('../../bench/results/reference.json', import.meta.url), 'utf8')));
}

/** The reference's figures, each moved by a seeded factor, one of them missing (as a failed phase leaves it). */
export function syntheticRun(seed = 7): { report: BenchReport; charts: BenchCharts } {
  const reference = referenceReport();
  const prng = new Prng(seed);
  const results: BenchResult[] = reference.results.map((r) => {
    if (r.name === 'file_transfer_mb_s') return { ...r, value: null, baseline: null, ratio: null, passed: false, missing: true, note: 'phase file failed: synthetic' };
    if (r.value === null) return r;
    const factor = 0.7 + prng.float() * 0.6;
    const value = Math.round(r.value * factor * 100) / 100;
    return { ...r, value, ratio: r.baseline === null || r.baseline === 0 ? null : Math.round((value / r.baseline) * 1000) / 1000 };
  });
  const charts = new BenchCharts();
  const curve = (medianMs: number, tailMs: number, count: number): LatencyHistogram => {
    const histogram = new LatencyHistogram();
    for (let i = 0; i < count; i++) histogram.recordMs(medianMs * (0.5 + prng.float()) + (prng.float() < 0.02 ? tailMs * prng.float() : 0));
    return histogram;
  };
  charts.latencyCurve('login_rate', 'login', curve(40, 400, 5_000).percentileCurve());
  charts.latencyCurve('session_broker_p99_ms', 'chat.open to chat.opened', curve(3, 30, 2_000).percentileCurve());
  charts.latencyCurve('http_healthz_p99_under_load_ms', 'server during login', curve(2, 60, 3_000).percentileCurve());
  charts.latencyCurve('http_healthz_p99_under_load_ms', 'bare node:http during login', curve(1, 20, 3_000).percentileCurve());
  const startMs = Date.UTC(2026, 0, 1);
  const counts = (intervals: number, mean: number, dipAt: number): number[] =>
    Array.from({ length: intervals }, (_, i) => Math.round(mean * (0.85 + 0.3 * prng.float()) * (i === dipAt ? 0.3 : 1)));
  charts.throughputOf('login', 'logins', { startMs, intervalMs: 250, counts: counts(12, 11, 5) });
  charts.throughputOf('presence', 'flapper logins', { startMs, intervalMs: 250, counts: counts(12, 40, 8) });
  charts.throughputOf('presence', 'presence notifications delivered', { startMs, intervalMs: 250, counts: counts(14, 900, 8) });
  return { report: { machine: { ...reference.machine, startedAt: '2026-01-01T00:00:00.000Z' }, results }, charts };
}
