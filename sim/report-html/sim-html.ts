/**
 * `p2pchat sim FILE... --html FILE`: the runs as one self-contained page (the shell is
 * cli/report-html/page-shell.ts, the drawing sim-page.js): per run its timeline (faults, crashes
 * and server outages as bands, steps and violations as marks), the presence-convergence delay
 * distribution, each checker's verdict, the seed and the command that replays it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readBrowserScript, renderReportPage } from '../../cli/report-html/page-shell.ts';
import type { SimRunPage } from './sim-timeline.ts';

const PAGE_SCRIPT = readBrowserScript(new URL('./sim-page.js', import.meta.url));

export function simHtml(runs: readonly SimRunPage[]): string {
  const failed = runs.filter((r) => !r.report.passed).length;
  const title = runs.length === 1 ? `p2pchat sim: ${runs[0]?.report.name ?? runs[0]?.report.scenario}` : `p2pchat sim: ${runs.length} runs${failed > 0 ? `, ${failed} failed` : ''}`;
  return renderReportPage({ title, data: { runs }, pageScript: PAGE_SCRIPT });
}

export function writeSimHtml(path: string, runs: readonly SimRunPage[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, simHtml(runs));
}
