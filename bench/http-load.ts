/**
 * autocannon through its programmatic API: a flood for req/s (http_healthz_rps, the same
 * settings against the server's admin port and a bare node:http server) and a rate-limited probe
 * for latency while the TCP load runs (http_healthz_p99_under_load_ms).
 */
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon';
import type { PercentilePoint } from './histogram.ts';
import { IntervalCounter, type IntervalCounts } from './interval-counts.ts';

export interface HttpFigures {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
  /** The latency percentile curve autocannon's HDR histogram reports (for the HTML report). */
  readonly curve: readonly PercentilePoint[];
  /** Replies per interval over the run (the HTML report's throughput over time). */
  readonly intervalCounts: IntervalCounts;
}

/** The percentiles autocannon reports (its latency stat has p0_001 ... p99_999). */
const AUTOCANNON_PERCENTILES = [0.001, 0.01, 0.1, 1, 2.5, 10, 25, 50, 75, 90, 97.5, 99, 99.9, 99.99, 99.999];

function latencyCurve(result: AutocannonResult): PercentilePoint[] {
  const points: PercentilePoint[] = [];
  for (const percentile of AUTOCANNON_PERCENTILES) {
    const ms = result.latency[`p${String(percentile).replace('.', '_')}`];
    if (typeof ms === 'number' && Number.isFinite(ms)) points.push([percentile, ms]);
  }
  if (Number.isFinite(result.latency.max)) points.push([100, result.latency.max]);
  return points;
}

function figures(result: AutocannonResult, intervalCounts: IntervalCounts): HttpFigures {
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    p999Ms: result.latency.p99_9,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    curve: latencyCurve(result),
    intervalCounts,
  };
}

/** Runs autocannon, counting its replies per interval as they arrive (one array add per reply). */
async function run(options: AutocannonOptions): Promise<HttpFigures> {
  const counter = new IntervalCounter(Date.now());
  const instance = autocannon(options);
  instance.on('response', () => counter.add(Date.now()));
  const result = await instance;
  return figures(result, counter.take());
}

/** Settings of the req/s flood: identical for the server and the bare baseline. */
export const FLOOD_CONNECTIONS = 10;
export const FLOOD_PIPELINING = 1;
/** The probe: a steady trickle, like a supervisor or load balancer polling hard. */
export const PROBE_CONNECTIONS = 4;
export const PROBE_RATE_PER_SEC = 200;

export async function floodHealthz(port: number, durationSec: number): Promise<HttpFigures> {
  return run({ url: `http://127.0.0.1:${port}/healthz`, connections: FLOOD_CONNECTIONS, pipelining: FLOOD_PIPELINING, duration: durationSec, timeout: 10 });
}

export async function probeHealthz(port: number, durationSec: number): Promise<HttpFigures> {
  return run({ url: `http://127.0.0.1:${port}/healthz`, connections: PROBE_CONNECTIONS, overallRate: PROBE_RATE_PER_SEC, duration: durationSec, timeout: 10 });
}

/** The server's event-loop delay, as its /metrics reports it (prom-client resets it on each scrape). */
export interface LoopDelay {
  readonly p99Ms: number;
  readonly maxMs: number;
}

const LAG_LINE = /^p2pchat_nodejs_eventloop_lag_(p99|max)_seconds (\S+)$/gm;

/**
 * Scrapes the server's /metrics for its event-loop delay since the previous scrape. Scrape once
 * before a load to start the window, once after to read it. Null when the metrics are off.
 */
export async function scrapeLoopDelay(port: number): Promise<LoopDelay | null> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  const text = await response.text();
  const found: Record<string, number> = {};
  for (const match of text.matchAll(LAG_LINE)) found[match[1] as string] = Number(match[2]) * 1000;
  if (found.p99 === undefined || found.max === undefined) return null;
  return { p99Ms: Math.round(found.p99 * 10) / 10, maxMs: Math.round(found.max * 10) / 10 };
}
