/**
 * The simulator's HTML report as a person opens it: Debian's Chromium (driven by playwright-core)
 * loads the page from disk with every request but the file itself refused, and every chart must
 * be drawn, with no console error, no page error and no request (test/helpers/report-browser.ts).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { writeSimHtml } from '../../../sim/report-html/sim-html.ts';
import { SimRunRecorder } from '../../../sim/report-html/sim-timeline.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';
import { browserForTests, expectCleanPage, openReport } from '../../helpers/report-browser.ts';

const BROWSER_TEST_TIMEOUT_MS = 90_000;
const FAULTS_SCENARIO = 'test/sim/report-html/fixtures/faults-quick.yaml';
const VIOLATION_SCENARIO = 'test/sim/fixtures/planted-bug-silent.yaml';

describe('the simulator\'s HTML report in a real browser', () => {
  const open = browserForTests('p2pchat-sim-html-', BROWSER_TEST_TIMEOUT_MS);

  it('sim: a quick scenario with faults and one with violations draw their timelines and presence delays', async () => {
    const pages = [FAULTS_SCENARIO, VIOLATION_SCENARIO].map((file) => {
      const { scenario } = loadScenarioFile(file);
      const recorder = new SimRunRecorder(scenario);
      return recorder.finish(runScenario(scenario, { seed: scenario.seed ?? 1, scenarioPath: file, onWorld: recorder.attach, onProgress: recorder.sample }));
    });
    expect(pages[0]?.faultBands.map((b) => b.kind)).toEqual(['partition', 'peer-crash', 'server-crash']);
    expect(pages[1]?.violations).toBeGreaterThan(0);
    const path = join(open.dir(), 'sim.html');
    writeSimHtml(path, pages);
    const seen = await openReport(open.browser(), path);
    // Per run: the timeline and the presence-delay distribution.
    expectCleanPage(seen, 4);
    expect(readFileSync(path, 'utf8')).toContain(`p2pchat sim ${FAULTS_SCENARIO} --seed 5`);
  }, BROWSER_TEST_TIMEOUT_MS);

  it('sim --swarm: the swarms table, then the minimized failure drawn; a swarm with no failure is listed, not drawn', async () => {
    const { scenario } = loadScenarioFile(VIOLATION_SCENARIO);
    const recorder = new SimRunRecorder(scenario);
    const replay = recorder.finish(runScenario(scenario, { seed: scenario.seed ?? 1, scenarioPath: 'out/planted-bug-silent-seed9.min.yaml', onWorld: recorder.attach, onProgress: recorder.sample }));
    const path = join(open.dir(), 'sim-swarm.html');
    writeSimHtml(path, [replay], [
      { scenario: VIOLATION_SCENARIO, rootSeed: 4, runs: 3, failedRuns: 3, minimized: 'out/planted-bug-silent-seed9.min.yaml' },
      { scenario: FAULTS_SCENARIO, rootSeed: 4, runs: 3, failedRuns: 0, minimized: null },
    ]);
    const seen = await openReport(open.browser(), path);
    expectCleanPage(seen, 2);
    expect(seen.text).toContain(`p2pchat sim ${FAULTS_SCENARIO} --swarm 3 --seed 4`);
    expect(seen.text).toContain(`p2pchat sim out/planted-bug-silent-seed9.min.yaml --seed ${scenario.seed ?? 1}`);
  }, BROWSER_TEST_TIMEOUT_MS);
});
