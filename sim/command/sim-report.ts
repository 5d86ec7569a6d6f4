/**
 * The run report: the JSON contract of docs/SIMULATOR.md (field names fixed: scenario, seed,
 * peers, events, virtualMs, wallMs, traceHash, expectations, violations, metrics), plus a human
 * summary for stderr.
 */
import type { Violation } from '../checkers/checkers.ts';

export interface Expectation {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface RunReport {
  readonly scenario: string;
  readonly name: string | null;
  readonly seed: number;
  readonly peers: number;
  readonly events: number;
  readonly virtualMs: number;
  readonly wallMs: number;
  /** The process's peak resident set size when the run ended (bytes; the whole process, so it covers earlier runs in it too). */
  readonly peakRssBytes: number;
  /** peakRssBytes per simulated peer: what a peer costs, world and run together. */
  readonly bytesPerPeer: number;
  readonly traceHash: string;
  readonly expectations: Expectation[];
  readonly violations: Violation[];
  readonly metrics: Record<string, number>;
  /** Everything the run chose, as on the SEED line. */
  readonly options: Record<string, string | number>;
  readonly passed: boolean;
  /** The usernames each scheduled fault hit, by fault index (swarm shrinking pins them). */
  readonly faultTargets: string[][];
  /** "step:outcome" for each kind of step that ended otherwise than its `expect`, and how (the swarm fails on them too). */
  readonly mismatchedSteps: string[];
}

export function summarize(report: RunReport): string {
  const lines: string[] = [];
  const verdict = report.passed ? 'PASS' : 'FAIL';
  lines.push(`${verdict} ${report.scenario} seed=${report.seed} peers=${report.peers} events=${report.events} virtual=${(report.virtualMs / 1000).toFixed(1)}s wall=${report.wallMs}ms events/s=${Math.round(report.events / Math.max(report.wallMs / 1000, 1e-3))} peakRSS=${(report.peakRssBytes / 1_048_576).toFixed(0)}MiB bytes/peer=${report.bytesPerPeer} trace=${report.traceHash}`);
  for (const e of report.expectations) lines.push(`  ${e.passed ? 'ok  ' : 'FAIL'} ${e.name}: ${e.detail}`);
  const shown = report.violations.slice(0, 10);
  for (const v of shown) lines.push(`  VIOLATION ${v.checker} at ${Math.round(v.atMs)} ms: ${v.detail}`);
  if (report.violations.length > shown.length) lines.push(`  ... and ${report.violations.length - shown.length} more violations`);
  const m = report.metrics;
  const keys = ['presence_delay_p50_ms', 'presence_delay_p99_ms', 'session_success_rate', 'logins_ok', 'reconnects', 'resumes', 'peers_online_end'];
  lines.push(`  metrics: ${keys.filter((k) => k in m).map((k) => `${k}=${m[k]}`).join(' ')}`);
  if (!report.passed) lines.push(`  replay: p2pchat sim ${report.scenario} --seed ${report.seed}`);
  return lines.join('\n');
}
