/**
 * The counts a simulated run keeps besides the checkers' verdicts (reported as metrics). A run
 * reports every one of them, 0 where it never happened, so a scenario can expect `{max: 0}` or
 * `{min: 1}` of any of them without knowing whether the run got that far; a name outside this
 * list (and outside the per-kind families, `faults_<kind>`) is a typo, and `count` will not take it.
 */
export const COUNTER_NAMES = [
  'chat_received',
  'chat_sent',
  'fair_line_lost',
  'fair_line_served',
  'file_bytes_received',
  'files_offered',
  'files_received',
  'hostile_hellos',
  'incoming_requests_replaced',
  'logouts_ended_here',
  'mail_queued',
  'mail_repeated_after_crash',
  'mail_sent',
  'mail_shown',
  'malformed_probes',
  'malformed_probes_excused',
  'outcomes_after_end',
  'outcomes_unattributed',
  'p2p_handshakes_full',
  'p2p_handshakes_resumed',
  'p2p_links_intercepted',
  'peer_crashes',
  'peer_key_mismatch',
  'protocol_errors',
  'rate_limit_attempts_judged',
  'rate_limited_address',
  'rate_limited_busy',
  'rate_limited_guess',
  'rate_limited_signups',
  'reconnects',
  'server_restarts',
  'session_frames_lost',
  'session_requests',
  'session_requests_refused',
  'sessions_established',
  'timed_steps',
] as const;

/** One fault kind's count: how many faults of that kind the run injected. */
export type FaultCounterName = `faults_${string}`;

export type CounterName = (typeof COUNTER_NAMES)[number] | FaultCounterName;
