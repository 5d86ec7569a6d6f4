/**
 * The bench's HTML report as a person opens it: Debian's Chromium (driven by playwright-core)
 * loads the page from disk with every request but the file itself refused, and every chart must
 * be drawn (a series' colour on its canvas) with no console error, no page error and no request
 * (test/helpers/report-browser.ts). The simulator's: test/sim/report-html/reports-in-browser.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeBenchHtml } from '../../../bench/report-html/bench-html.ts';
import { missingPeerSection, peerFigure, peerSection } from '../../../bench/peers/peer-report.ts';
import { browserForTests, expectCleanPage, openReport } from '../../helpers/report-browser.ts';
import { REFERENCE_PATH, referenceReport, syntheticRun } from '../../helpers/synthetic-bench.ts';

const BROWSER_TEST_TIMEOUT_MS = 90_000;

describe('the bench\'s HTML report in a real browser', () => {
  const open = browserForTests('p2pchat-html-', BROWSER_TEST_TIMEOUT_MS);

  it('the browser check itself sees an empty chart, a console error and a request (so a broken report fails)', async () => {
    const path = join(open.dir(), 'broken.html');
    // Port 9 on loopback (discard): the route refuses the request before it leaves the page anyway.
    writeFileSync(path, '<!doctype html><body><div class="chart" data-chart="empty"><canvas width="50" height="50"></canvas></div><img src="http://127.0.0.1:9/x.png"><script>console.error("boom"); document.body.setAttribute("data-ready", "true");</script></body>');
    const seen = await openReport(open.browser(), path);
    expect(seen.charts).toEqual([{ title: 'empty', canvasWidth: 50, canvasHeight: 50, colouredPixels: 0 }]);
    expect(seen.consoleErrors.join('\n')).toContain('boom');
    expect(seen.otherRequests).toEqual(['http://127.0.0.1:9/x.png']);
  }, BROWSER_TEST_TIMEOUT_MS);

  it('bench: a recorded run draws every figure, the comparison, the latency curves and the throughput', async () => {
    const { report, charts } = syntheticRun();
    const path = join(open.dir(), 'bench.html');
    await writeBenchHtml(path, { report, reference: referenceReport(), referencePath: REFERENCE_PATH, charts });
    const seen = await openReport(open.browser(), path);
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
    const path = join(open.dir(), 'bench-bare.html');
    await writeBenchHtml(path, { report: { ...report, results, peers }, reference: null, referencePath: 'no/such/reference.json', charts: null });
    const seen = await openReport(open.browser(), path);
    expectCleanPage(seen, results.filter((r) => !r.missing).length);
    expect(readFileSync(path, 'utf8')).not.toContain(hostile);
    expect(seen.text).toContain(`login_rate: ${hostile}`);
    expect(seen.text).toContain('none: no/such/reference.json could not be read');
    expect(seen.text).toContain('Peer: ejabberd');
    expect(seen.text).toContain('Peer: Prosody');
    expect(seen.text).toContain('MISSING prosody not found on PATH');
  }, BROWSER_TEST_TIMEOUT_MS);
});
