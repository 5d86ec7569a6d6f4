/**
 * The benchmark figures of CONTRACTS.md section 3: names and units are a public contract (scripts
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
};

/** What each baseline is, for the table and the docs. null: the figure has no baseline. */
export const BASELINE_LABELS: Record<ResultName, string | null> = {
  login_rate: 'raw crypto.scrypt hashes/s, same parameters and pool',
  resume_rate: null,
  presence_fanout_rate: 'bare length-prefixed echo server, messages/s',
  session_broker_p99_ms: null,
  connections_held: null,
  rss_per_connection_kb: 'bare node:net server holding the same count, KB/connection',
  file_transfer_mb_s: 'bare node:net pipe on loopback, MB/s',
  http_healthz_rps: 'bare node:http server, same autocannon settings',
  http_healthz_p99_under_load_ms: null,
  sim_events_rate: 'bare binary-heap event loop, same pending count',
  login_under_attack_p99_ms: null,
};

export function isResultName(value: string): value is ResultName {
  return (RESULT_NAMES as readonly string[]).includes(value);
}
