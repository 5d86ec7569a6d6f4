/** Load-generator worker processes (load-worker.ts), each driven over rpc.ts. */
import { fileURLToPath } from 'node:url';
import { histogramOfSamples, type LatencySummary } from './histogram.ts';
import { forkTs } from './processes.ts';
import { RpcChild } from './rpc.ts';

const WORKER_MODULE = fileURLToPath(new URL('./load-worker.ts', import.meta.url));

export function startWorkers(count: number, label: string): RpcChild[] {
  return Array.from({ length: count }, (_, i) => new RpcChild(forkTs(WORKER_MODULE), `${label} worker ${i}`));
}

export async function stopWorkers(workers: readonly RpcChild[]): Promise<void> {
  await Promise.all(workers.map((worker) => worker.stop()));
}

/** Splits items into `parts` nearly equal slices, in order. */
export function split<T>(items: readonly T[], parts: number): T[][] {
  const size = Math.ceil(items.length / parts);
  return Array.from({ length: parts }, (_, i) => items.slice(i * size, (i + 1) * size));
}

/** One latency summary over every worker's samples. */
export function mergeLatencies(sampleSets: ReadonlyArray<readonly number[]>): LatencySummary {
  return histogramOfSamples(sampleSets.flat()).summary();
}

export interface WorkerCounts {
  readonly held: number;
  readonly open: number;
  readonly heartbeatAcks: number;
  readonly presenceReceived: number;
  readonly sessionIncomingAnswered: number;
  readonly bareOpen: number;
}

export async function totalCounts(workers: readonly RpcChild[]): Promise<WorkerCounts> {
  const all = await Promise.all(workers.map((worker) => worker.call<WorkerCounts>('counts', {}, 30_000)));
  const sum = (key: keyof WorkerCounts): number => all.reduce((total, counts) => total + counts[key], 0);
  return {
    held: sum('held'),
    open: sum('open'),
    heartbeatAcks: sum('heartbeatAcks'),
    presenceReceived: sum('presenceReceived'),
    sessionIncomingAnswered: sum('sessionIncomingAnswered'),
    bareOpen: sum('bareOpen'),
  };
}

/** Adds up per-worker error tallies for a note. */
export function mergeErrors(tallies: ReadonlyArray<Record<string, number>>): Record<string, number> {
  const merged: Record<string, number> = {};
  for (const tally of tallies) for (const [key, count] of Object.entries(tally)) merged[key] = (merged[key] ?? 0) + count;
  return merged;
}

export function errorsText(errors: Record<string, number>): string {
  const entries = Object.entries(errors);
  return entries.length === 0 ? '' : entries.map(([key, count]) => `${key} x${count}`).join(', ');
}

/** How often a draining counter is read. */
const DRAIN_POLL_MS = 150;

/**
 * Waits until a counter (presence delivered, summed over the workers) stops growing between two
 * reads, at most `maxMs`; returns its last value and when it last grew (after `startMs`).
 */
export async function drainedCount(read: () => Promise<number>, startMs: number, maxMs: number): Promise<{ delivered: number; lastGrowthMs: number }> {
  let last = await read();
  let lastGrowthMs = Date.now();
  const giveUpMs = Date.now() + maxMs;
  while (Date.now() < giveUpMs) {
    await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    const now = await read();
    if (now === last) break;
    last = now;
    lastGrowthMs = Date.now();
  }
  return { delivered: last, lastGrowthMs: Math.max(lastGrowthMs, startMs + 1) };
}
