/** What every phase gets: the configuration, a scratch directory, and where to put its results. */
import type { BenchConfig } from '../config.ts';
import type { ResultName } from '../names.ts';
import { type BenchResult, type Measurement, makeResult, missingResult } from '../report.ts';
import { progress } from '../progress.ts';
import { BenchCharts } from '../report-html/bench-charts.ts';
import type { PeerSection } from '../peers/peer-report.ts';

export class PhaseContext {
  readonly results = new Map<ResultName, BenchResult>();
  /** Latency curves and throughput over time for `--html` (not in the JSON report). */
  readonly charts = new BenchCharts();
  /** With --peers: p2pchat beside each peer server (phases/peers.ts). */
  readonly peers: PeerSection[] = [];

  constructor(
    readonly config: BenchConfig,
    readonly tmpDir: string,
  ) {}

  record(name: ResultName, measurement: Measurement): void {
    const result = makeResult(name, this.config.mode, measurement);
    this.results.set(name, result);
    const ratio = result.ratio === null ? '' : ` (baseline ${result.baseline}, ratio ${result.ratio})`;
    progress(`${name} = ${result.value} ${result.unit}${ratio}${result.passed ? '' : ' -- target missed'}`);
  }

  missing(name: ResultName, note: string): void {
    this.results.set(name, missingResult(name, this.config.mode, note));
    progress(`${name}: missing (${note})`);
  }

  /** Runs one phase; if it throws, each of its figures not yet recorded is listed as missing, with why. */
  async phase(title: string, names: readonly ResultName[], body: () => Promise<void>): Promise<void> {
    progress(`phase ${title}: start`);
    const startedMs = Date.now();
    try {
      await body();
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      progress(`phase ${title}: failed: ${message}`);
      for (const name of names) if (!this.results.has(name)) this.missing(name, `phase ${title} failed: ${message}`);
    }
    progress(`phase ${title}: done in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
