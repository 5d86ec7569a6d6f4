/**
 * autocannon through its programmatic API: a flood for req/s (http_healthz_rps, the same
 * settings against the server's admin port and a bare node:http server) and a rate-limited probe
 * for latency while the TCP load runs (http_healthz_p99_under_load_ms).
 */
import autocannon, { type AutocannonResult } from 'autocannon';

export interface HttpFigures {
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
}

function figures(result: AutocannonResult): HttpFigures {
  return {
    rps: result.requests.average,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    p999Ms: result.latency.p99_9,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}

/** Settings of the req/s flood: identical for the server and the bare baseline. */
export const FLOOD_CONNECTIONS = 10;
export const FLOOD_PIPELINING = 1;
/** The probe: a steady trickle, like a supervisor or load balancer polling hard. */
export const PROBE_CONNECTIONS = 4;
export const PROBE_RATE_PER_SEC = 200;

export async function floodHealthz(port: number, durationSec: number): Promise<HttpFigures> {
  return figures(await autocannon({ url: `http://127.0.0.1:${port}/healthz`, connections: FLOOD_CONNECTIONS, pipelining: FLOOD_PIPELINING, duration: durationSec, timeout: 10 }));
}

export async function probeHealthz(port: number, durationSec: number): Promise<HttpFigures> {
  return figures(
    await autocannon({ url: `http://127.0.0.1:${port}/healthz`, connections: PROBE_CONNECTIONS, overallRate: PROBE_RATE_PER_SEC, duration: durationSec, timeout: 10 }),
  );
}
