/**
 * The benchmark report of docs/BENCHMARKS.md: `{machine, results: [RESULT...]}`, each RESULT
 * with name, value, unit, baseline, ratio, threshold and passed (plus fields of our own). A figure
 * that could not be measured is still listed, with value null, passed false and a note saying why,
 * so a missing figure is never mistaken for a good one.
 */
import os from 'node:os';
import { RESULT_NAMES, RESULT_UNITS, type ResultName } from './names.ts';
import { type BenchMode, meets, thresholdFor } from './thresholds.ts';
import type { PeerSection } from './peers/peer-report.ts';

export interface BenchResult {
  readonly name: ResultName;
  /** null when the figure could not be measured (see `note`). */
  readonly value: number | null;
  readonly unit: string;
  /** What the same run measured for the reference this figure is held against, or null. */
  readonly baseline: number | null;
  /** value / baseline, or null. */
  readonly ratio: number | null;
  /** The ratio or value it must reach, or null when it has no target. */
  readonly threshold: number | null;
  /** Which side of `threshold` is good, and whether it applies to the ratio or the value. */
  readonly thresholdOn: 'ratio' | 'value' | null;
  readonly thresholdDirection: 'min' | 'max' | null;
  readonly passed: boolean;
  readonly missing: boolean;
  readonly note?: string;
  /** Extra figures of the phase (percentiles, sizes, durations). */
  readonly details?: Record<string, number | string>;
}

export interface MachineInfo {
  readonly hostname: string;
  readonly platform: string;
  readonly arch: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly totalMemoryMb: number;
  readonly node: string;
  readonly uvThreadpoolSize: number;
  readonly mode: BenchMode;
  readonly startedAt: string;
  readonly finishedAt?: string;
  readonly wallMs?: number;
  readonly server: string;
}

export interface BenchReport {
  readonly machine: MachineInfo;
  readonly results: BenchResult[];
  /** Only in a run with --peers: each figure beside ejabberd's and Prosody's (bench/peers/). */
  readonly peers?: PeerSection[];
}

export interface Measurement {
  readonly value: number;
  readonly baseline?: number | null;
  readonly note?: string;
  readonly details?: Record<string, number | string>;
}

/** Rounds for the report: enough digits to compare runs, not float noise. */
export function roundFigure(value: number): number {
  if (!Number.isFinite(value)) return value;
  const magnitude = Math.abs(value);
  const digits = magnitude >= 1000 ? 0 : magnitude >= 10 ? 1 : magnitude >= 1 ? 2 : 4;
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

export function makeResult(name: ResultName, mode: BenchMode, measurement: Measurement): BenchResult {
  const threshold = thresholdFor(name, mode);
  const baseline = measurement.baseline ?? null;
  const usable = Number.isFinite(measurement.value) && (baseline === null || (Number.isFinite(baseline) && baseline > 0));
  const ratio = baseline !== null && baseline > 0 ? measurement.value / baseline : null;
  let passed = usable;
  if (usable && threshold !== null) {
    const checked = threshold.on === 'ratio' ? ratio : measurement.value;
    passed = checked !== null && meets(threshold, checked);
  }
  return {
    name,
    value: roundFigure(measurement.value),
    unit: RESULT_UNITS[name],
    baseline: baseline === null ? null : roundFigure(baseline),
    ratio: ratio === null ? null : roundFigure(ratio),
    threshold: threshold?.limit ?? null,
    thresholdOn: threshold?.on ?? null,
    thresholdDirection: threshold?.direction ?? null,
    passed,
    missing: false,
    ...(measurement.note === undefined ? {} : { note: measurement.note }),
    ...(measurement.details === undefined ? {} : { details: measurement.details }),
  };
}

/** A figure the run could not measure: listed, failed, and explained. */
export function missingResult(name: ResultName, mode: BenchMode, note: string): BenchResult {
  const threshold = thresholdFor(name, mode);
  return {
    name,
    value: null,
    unit: RESULT_UNITS[name],
    baseline: null,
    ratio: null,
    threshold: threshold?.limit ?? null,
    thresholdOn: threshold?.on ?? null,
    thresholdDirection: threshold?.direction ?? null,
    passed: false,
    missing: true,
    note,
  };
}

/** Results in contract order; any name the run never reached is added as missing. */
export function completeResults(results: readonly BenchResult[], mode: BenchMode): BenchResult[] {
  const byName = new Map(results.map((result) => [result.name, result]));
  return RESULT_NAMES.map((name) => byName.get(name) ?? missingResult(name, mode, 'not measured: the run ended before this phase'));
}

export function machineInfo(mode: BenchMode, server: string, startedAt: Date): MachineInfo {
  const cpus = os.cpus();
  return {
    hostname: os.hostname(),
    platform: `${os.platform()} ${os.release()}`,
    arch: os.arch(),
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    totalMemoryMb: Math.round(os.totalmem() / (1024 * 1024)),
    node: process.version,
    uvThreadpoolSize: uvThreadpoolSize(),
    mode,
    startedAt: startedAt.toISOString(),
    server,
  };
}

/** libuv's pool size as every process of the run gets it (node's default is 4). */
export function uvThreadpoolSize(): number {
  const fromEnv = Number(process.env.UV_THREADPOOL_SIZE);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 4;
}

export function failedResults(report: BenchReport): BenchResult[] {
  return report.results.filter((result) => !result.passed);
}

function cell(value: number | null): string {
  return value === null ? '-' : String(value);
}

function thresholdText(result: BenchResult): string {
  if (result.threshold === null) return '-';
  const sign = result.thresholdDirection === 'min' ? '>=' : '<=';
  return `${result.thresholdOn} ${sign} ${result.threshold}`;
}

/** The readable table printed without --json. */
export function formatTable(report: BenchReport): string {
  const header = ['name', 'value', 'unit', 'baseline', 'ratio', 'threshold', 'passed'];
  const rows = report.results.map((r) => [
    r.name,
    r.missing ? 'MISSING' : cell(r.value),
    r.unit,
    cell(r.baseline),
    cell(r.ratio),
    thresholdText(r),
    r.passed ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((text, i) => text.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const m = report.machine;
  const lines = [
    `p2pchat bench (${m.mode}) on ${m.cpus} x ${m.cpuModel}, ${m.totalMemoryMb} MB, node ${m.node}, UV_THREADPOOL_SIZE=${m.uvThreadpoolSize}`,
    `server: ${m.server}`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
  ];
  const notes = report.results.filter((r) => r.note !== undefined);
  if (notes.length > 0) lines.push('', 'notes:', ...notes.map((r) => `  ${r.name}: ${r.note}`));
  return `${lines.join('\n')}\n`;
}
