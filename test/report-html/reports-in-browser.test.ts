/**
 * The HTML reports as a person opens them: Debian's Chromium (driven by playwright-core) loads
 * each page from disk with every request but the file itself refused, and every chart must be
 * drawn (a series' colour on its canvas) with no console error, no page error and no request.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeBenchHtml } from '../../bench/report-html/bench-html.ts';
import { missingPeerSection, peerFigure, peerSection } from '../../bench/peers/peer-report.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { writeSimHtml } from '../../sim/report-html/sim-html.ts';
import { SimRunRecorder } from '../../sim/report-html/sim-timeline.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { type ReportSeen, launchChromium, openReport } from '../helpers/report-browser.ts';
import { REFERENCE_PATH, referenceReport, syntheticRun } from '../helpers/synthetic-bench.ts';

const BROWSER_TEST_TIMEOUT_MS = 90_000;
const FAULTS_SCENARIO = 'test/report-html/fixtures/faults-quick.yaml';
const VIOLATION_SCENARIO = 'test/sim/fixtures/planted-bug-silent.yaml';

function expectCleanPage(seen: ReportSeen, chartsExpected: number): void {
  expect(seen.errorBanner).toBe('');
  expect(seen.ready).toBe('true');
  expect(seen.consoleErrors).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
  expect(seen.otherRequests).toEqual([]);
  expect(seen.failedRequests).toEqual([]);
  expect(seen.charts).toHaveLength(chartsExpected);
  for (const chart of seen.charts) {
    expect(chart.canvasWidth, chart.title).toBeGreaterThan(0);
    expect(chart.colouredPixels, `chart "${chart.title}" has nothing drawn`).toBeGreaterThan(50);
  }
}

describe('HTML reports in a real browser', () => {
  let browser: Browser;
  let dir: string;

  beforeAll(async () => {
    browser = await launchChromium();
    dir = mkdtempSync(join(os.tmpdir(), 'p2pchat-html-'));
  }, BROWSER_TEST_TIMEOUT_MS);

  afterAll(async () => {
    await browser?.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('the browser check itself sees an empty chart, a console error and a request (so a broken report fails)', async () => {
    const path = join(dir, 'broken.html');
    // Port 9 on loopback (discard): the route refuses the request before it leaves the page anyway.
    writeFileSync(path, '<!doctype html><body><div class="chart" data-chart="empty"><canvas width="50" height="50"></canvas></div><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); document.body.setAttribute("data-ready", "true");</script></body>');
    const seen = await openReport(browser, path);
    expect(seen.charts).toEqual([{ title: 'empty', canvasWidth: 50, canvasHeight: 50, colouredPixels: 0 }]);
    expect(seen.consoleErrors.join('\n')).toContain('boom');
    expect(seen.otherRequests).toEqual(['http://127.0.0.1:9/x.png']);
  }, BROWSER_TEST_TIMEOUT_MS);

  it('bench: a recorded run draws every figure, the comparison, the latency curves and the throughput', async () => {
    const { report, charts } = syntheticRun();
    const path = join(dir, 'bench.html');
    await writeBenchHtml(path, { report, reference: referenceReport(), referencePath: REFERENCE_PATH, charts });
    const seen = await openReport(browser, path);
    const measured = report.results.filter((r) => !r.missing).length;
    // One card per measured figure, one against the reference, one per latency figure and per phase.
    expectCleanPage(seen, measured + 1 + charts.latency.size + charts.throughput.size);
    expect(seen.charts.map((c) => c.title)).toEqual(expect.arrayContaining(['login_rate', 'presence', 'relative to the reference (higher is better)']));
  }, BROWSER_TEST_TIMEOUT_MS);

  it('bench: with no reference, no curves, a note that looks like markup and the peers (one missing), the page still draws and shows the note as text', async () => {
    const { report } = syntheticRun(3);
    const hostile = '</script><script>console.error("injected")</script>';
    const results = report.results.map((r) => (r.name === 'login_rate' ? { ...r, note: hostile } : r));
    const peers = [
      peerSection({ peer: 'ejabberd', version: '23.01-1', settings: { passwordScheme: 'SCRAM-SHA-1' }, figures: [peerFigure('login_rate', { value: 80 }, { value: 160, details: { p99Ms: 40 } })] }),
      missingPeerSection('prosody', 'prosody not found on PATH'),
    ];
    const path = join(dir, 'bench-bare.html');
    await writeBenchHtml(path, { report: { ...report, results, peers }, reference: null, referencePath: 'no/such/reference.json', charts: null });
    const seen = await openReport(browser, path);
    expectCleanPage(seen, results.filter((r) => !r.missing).length);
    expect(readFileSync(path, 'utf8')).not.toContain(hostile);
    expect(seen.text).toContain(`login_rate: ${hostile}`);
    expect(seen.text).toContain('none: no/such/reference.json could not be read');
    expect(seen.text).toContain('Peer: ejabberd');
    expect(seen.text).toContain('Peer: Prosody');
    expect(seen.text).toContain('MISSING prosody not found on PATH');
  }, BROWSER_TEST_TIMEOUT_MS);

  it('sim: a quick scenario with faults and one with violations draw their timelines and presence delays', async () => {
    const pages = [FAULTS_SCENARIO, VIOLATION_SCENARIO].map((file) => {
      const { scenario } = loadScenarioFile(file);
      const recorder = new SimRunRecorder(scenario);
      return recorder.finish(runScenario(scenario, { seed: scenario.seed ?? 1, scenarioPath: file, onWorld: recorder.attach, onProgress: recorder.sample }));
    });
    expect(pages[0]?.faultBands.map((b) => b.kind)).toEqual(['partition', 'peer-crash', 'server-crash']);
    expect(pages[1]?.violations).toBeGreaterThan(0);
    const path = join(dir, 'sim.html');
    writeSimHtml(path, pages);
    const seen = await openReport(browser, path);
    // Per run: the timeline and the presence-delay distribution.
    expectCleanPage(seen, 4);
    expect(readFileSync(path, 'utf8')).toContain(`p2pchat sim ${FAULTS_SCENARIO} --seed 5`);
  }, BROWSER_TEST_TIMEOUT_MS);

  it('sim --swarm: the swarms table, then the minimized failure drawn; a swarm with no failure is listed, not drawn', async () => {
    const { scenario } = loadScenarioFile(VIOLATION_SCENARIO);
    const recorder = new SimRunRecorder(scenario);
    const replay = recorder.finish(runScenario(scenario, { seed: scenario.seed ?? 1, scenarioPath: 'out/planted-bug-silent-seed9.min.yaml', onWorld: recorder.attach, onProgress: recorder.sample }));
    const path = join(dir, 'sim-swarm.html');
    writeSimHtml(path, [replay], [
      { scenario: VIOLATION_SCENARIO, rootSeed: 4, runs: 3, failedRuns: 3, minimized: 'out/planted-bug-silent-seed9.min.yaml' },
      { scenario: FAULTS_SCENARIO, rootSeed: 4, runs: 3, failedRuns: 0, minimized: null },
    ]);
    const seen = await openReport(browser, path);
    expectCleanPage(seen, 2);
    expect(seen.text).toContain(`p2pchat sim ${FAULTS_SCENARIO} --swarm 3 --seed 4`);
    expect(seen.text).toContain(`p2pchat sim out/planted-bug-silent-seed9.min.yaml --seed ${scenario.seed ?? 1}`);
  }, BROWSER_TEST_TIMEOUT_MS);
});
