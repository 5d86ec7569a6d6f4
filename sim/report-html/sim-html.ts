/**
 * `p2pchat sim FILE... --html FILE`: the runs as one self-contained page (the shell is
 * cli/report-html/page-shell.ts, the drawing sim-page.js): per run its timeline (faults, crashes
 * and server outages as bands, steps and violations as marks), the presence-convergence delay
 * distribution, each checker's verdict, the seed and the command that replays it. With --swarm,
 * a table of each scenario's swarm comes first, and the runs drawn are the minimized failures'
 * replays (a passing swarm run has no file that replays it, so it is listed, not drawn).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { readBrowserScript, renderReportPage } from '../../cli/report-html/page-shell.ts';
import type { SimRunPage } from './sim-timeline.ts';

const PAGE_SCRIPT = readBrowserScript(new URL('./sim-page.js', import.meta.url));

/** One scenario's swarm (`--swarm N --html FILE`): the page lists it, then draws its minimized failure's replay. */
export interface SwarmSummary {
  readonly scenario: string;
  readonly rootSeed: number;
  readonly runs: number;
  readonly failedRuns: number;
  /** The minimized YAML the swarm saved (its replay is drawn below), or null when every run passed. */
  readonly minimized: string | null;
}

export function simHtml(runs: readonly SimRunPage[], swarms?: readonly SwarmSummary[]): string {
  const failed = runs.filter((r) => !r.report.passed).length;
  const title =
    swarms !== undefined
      ? `p2pchat sim --swarm: ${swarms.length} scenario${swarms.length === 1 ? '' : 's'}, ${swarms.filter((s) => s.minimized !== null).length} failed`
      : runs.length === 1
        ? `p2pchat sim: ${runs[0]?.report.name ?? runs[0]?.report.scenario}`
        : `p2pchat sim: ${runs.length} runs${failed > 0 ? `, ${failed} failed` : ''}`;
  return renderReportPage({ title, data: { runs, swarms: swarms ?? null }, pageScript: PAGE_SCRIPT });
}

export function writeSimHtml(path: string, runs: readonly SimRunPage[], swarms?: readonly SwarmSummary[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, simHtml(runs, swarms));
}
