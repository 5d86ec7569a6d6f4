/**
 * Prometheus metrics of the server, in a registry of its own (never prom-client's global one, so
 * several servers in one process, as in the tests, do not collide).
 *
 * The machine already counts everything in `stats()`; nothing is counted twice on the hot path.
 * At scrape time each metric's collect() reads the stats: gauges are set, counters are advanced
 * by the growth since the previous scrape (the machine's counters only grow).
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { ServerStats } from '../../core/server/machine.ts';

export const METRIC_PREFIX = 'p2pchat_';

type StatsCounterKey = 'signups' | 'logins' | 'loginsFailed' | 'resumes' | 'framesIn' | 'framesOut';

const COUNTERS: ReadonlyArray<{ readonly name: string; readonly help: string; readonly key: StatsCounterKey }> = [
  { name: 'signups_total', help: 'Accounts created', key: 'signups' },
  { name: 'logins_total', help: 'Successful password logins', key: 'logins' },
  { name: 'logins_failed_total', help: 'Password logins refused (wrong or unknown credentials)', key: 'loginsFailed' },
  { name: 'resumes_total', help: 'Sessions resumed with a resume token', key: 'resumes' },
  { name: 'frames_in_total', help: 'Frames received from clients', key: 'framesIn' },
  { name: 'frames_out_total', help: 'Frames sent to clients', key: 'framesOut' },
];

const GAUGES: ReadonlyArray<{ readonly name: string; readonly help: string; readonly read: (stats: ServerStats) => number }> = [
  { name: 'connections', help: 'Open client connections', read: (s) => s.connections },
  { name: 'connected_addresses', help: 'Distinct client addresses (an IPv6 /64 counts as one) with an open connection', read: (s) => s.connectedAddresses },
  { name: 'online_users', help: 'Users online (attached or detached within the TTL)', read: (s) => s.onlineUsers },
  { name: 'accounts', help: 'Registered accounts', read: (s) => s.accounts },
  { name: 'pending_session_requests', help: 'Chat-session requests waiting for an answer', read: (s) => s.pendingSessionRequests },
];

export interface ServerMetricsOptions {
  /** Node process metrics (event-loop lag, heap, GC) under the same prefix. */
  readonly processMetrics?: boolean;
}

export function createServerMetrics(readStats: () => ServerStats, options: ServerMetricsOptions = {}): Registry {
  const registry = new Registry();
  if (options.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });

  for (const gauge of GAUGES) {
    new Gauge({
      name: METRIC_PREFIX + gauge.name,
      help: gauge.help,
      registers: [registry],
      collect() {
        this.set(gauge.read(readStats()));
      },
    });
  }

  for (const counter of COUNTERS) {
    let seen = 0;
    new Counter({
      name: METRIC_PREFIX + counter.name,
      help: counter.help,
      registers: [registry],
      collect() {
        const value = readStats()[counter.key];
        if (value > seen) this.inc(value - seen);
        seen = value;
      },
    });
  }

  labelledCounter(registry, readStats, 'sessions_total', 'Chat-session requests by outcome', 'outcome', (s) => s.sessions);
  labelledCounter(registry, readStats, 'errors_total', 'Error frames sent, by error code', 'code', (s) => s.errors);
  return registry;
}

function labelledCounter(
  registry: Registry,
  readStats: () => ServerStats,
  name: string,
  help: string,
  label: string,
  read: (stats: ServerStats) => Readonly<Record<string, number>>,
): void {
  const seen = new Map<string, number>();
  new Counter({
    name: METRIC_PREFIX + name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      for (const [value, count] of Object.entries(read(readStats()))) {
        const before = seen.get(value) ?? 0;
        if (count > before) this.inc({ [label]: value }, count - before);
        seen.set(value, count);
      }
    },
  });
}
