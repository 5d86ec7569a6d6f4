/**
 * The simulator alone as a test suite, for the harness kill rate (stryker.harness.config.mjs):
 * every corpus scenario once, then a bounded swarm (random faults) over the small ones, failing on
 * the swarm's own verdict (an invariant broken, or a step ending otherwise than the scenario allows
 * under the faults drawn; before 2026-12-06 only invariants counted here). Stryker
 * counts a core mutant as found by the harness when this suite fails on it; the unit tests are not
 * run, so the score says what the simulator catches on its own. Not part of `npm test` (the corpus
 * already runs there, in test/sim/command/corpus.test.ts); run by `npm run mutate:harness`.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import type { Scenario } from '../../sim/scenarios/scenario-schema.ts';
import { runSwarm } from '../../sim/swarm/swarm.ts';

const DIR = 'scenarios';
/** Storm-sized scenarios are left out: one mutant run must stay in seconds, not minutes. */
const HARNESS_PEERS_MAX = 200;
/** Swarm runs per scenario: enough random fault schedules to shake each scenario a little. */
const SWARM_RUNS_PER_SCENARIO = 4;
const ROOT_SEED = 7;

const peersOf = (scenario: Scenario): number => scenario.populations.reduce((sum, p) => sum + p.count, 0);
const scenarios = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort()
  .map((file) => ({ file, scenario: loadScenarioFile(join(DIR, file)).scenario }))
  .filter(({ scenario }) => peersOf(scenario) <= HARNESS_PEERS_MAX);

describe('the simulator alone', () => {
  for (const { file, scenario } of scenarios) {
    it(`${file}: every expectation and invariant holds, also under a small swarm`, () => {
      const report = runScenario(scenario, { seed: scenario.seed ?? ROOT_SEED, scenarioPath: join(DIR, file) });
      expect(report.violations).toEqual([]);
      expect(report.passed).toBe(true);
      const swarm = runSwarm(scenario, { runs: SWARM_RUNS_PER_SCENARIO, rootSeed: ROOT_SEED, scenarioPath: join(DIR, file), shrinkRunsMax: 0 });
      // The swarm's own verdict: an invariant broken, or a step that ended otherwise than its
      // scenario allows under the faults drawn (not only violations: a mutant that only makes a
      // step fail is found too).
      const failure = swarm.failure;
      expect(failure === null ? null : { seed: failure.seed, violations: failure.report.violations, mismatchedSteps: failure.report.mismatchedSteps }).toBeNull();
    });
  }
});
