/**
 * `p2pchat bench --html FILE`: the benchmark run as one self-contained page (the shell is
 * cli/report-html/page-shell.ts, the drawing bench-page.js): every figure against its baseline and
 * threshold, this run against the reference run (bench/results/reference.json), latency percentile
 * curves from the HDR histograms and throughput over time per phase (bench-charts.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { readBrowserScript, renderReportPage } from '../../cli/report-html/page-shell.ts';
import { isLowerBetter, regressionGate } from '../regression.ts';
import type { BenchReport } from '../report.ts';
import type { BenchCharts } from './bench-charts.ts';

export interface BenchHtmlInput {
  readonly report: BenchReport;
  /** The reference run this one is held against, or null when there is none (or it is unreadable). */
  readonly reference: BenchReport | null;
  /** Where the reference came from (shown on the page). */
  readonly referencePath: string;
  /** Curves and series the phases collected (ctx.charts), or null for none. */
  readonly charts: BenchCharts | null;
}

const PAGE_SCRIPT = readBrowserScript(new URL('./bench-page.js', import.meta.url));

/** What the page script draws from: the report, the reference's figures and the gate's verdict. */
export function benchPageData(input: BenchHtmlInput): unknown {
  const { report, reference, charts } = input;
  const gate = reference === null ? null : regressionGate(report, reference);
  return {
    machine: report.machine,
    referencePath: input.referencePath,
    reference: reference === null ? null : { machine: reference.machine, results: reference.results },
    gate: gate === null ? null : { passed: gate.passed, regressions: gate.regressions, unjudged: gate.unjudged },
    results: report.results.map((r) => ({ ...r, lowerIsBetter: isLowerBetter(r.name) })),
    latency: charts === null ? [] : [...charts.latency].map(([name, curves]) => ({ name, curves })),
    throughput: charts === null ? [] : charts.phases(),
    peers: report.peers ?? [],
  };
}

export function benchHtml(input: BenchHtmlInput): string {
  return renderReportPage({ title: `p2pchat bench (${input.report.machine.mode})`, data: benchPageData(input), pageScript: PAGE_SCRIPT });
}

export async function writeBenchHtml(path: string, input: BenchHtmlInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, benchHtml(input));
}
