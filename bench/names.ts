/**
 * The benchmark figures of docs/BENCHMARKS.md: names and units are a public contract (scripts
 * and CI read them), so they live here once and everything else refers to them.
 */
export const RESULT_NAMES = [
  'login_rate',
  'resume_rate',
  'presence_fanout_rate',
  'session_broker_p99_ms',
  'connections_held',
  'rss_per_connection_kb',
  'file_transfer_mb_s',
  'http_healthz_rps',
  'http_healthz_p99_under_load_ms',
  'sim_events_rate',
  'login_under_attack_p99_ms',
  'sim_peers_max',
  'cluster_connections_held',
  'cluster_presence_p99_ms',
] as const;

export type ResultName = (typeof RESULT_NAMES)[number];

export const RESULT_UNITS: Record<ResultName, string> = {
  login_rate: 'logins/s',
  resume_rate: 'resumes/s',
  presence_fanout_rate: 'notifications/s',
  session_broker_p99_ms: 'ms',
  connections_held: 'connections',
  rss_per_connection_kb: 'KB',
  file_transfer_mb_s: 'MB/s',
  http_healthz_rps: 'req/s',
  http_healthz_p99_under_load_ms: 'ms',
  sim_events_rate: 'events/s',
  login_under_attack_p99_ms: 'ms',
  sim_peers_max: 'peers',
  cluster_connections_held: 'connections',
  cluster_presence_p99_ms: 'ms',
};
