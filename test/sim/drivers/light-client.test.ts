/**
 * The light client (sim/drivers/light-client.ts, driver protocol-client) composes the shipped
 * server link and the shipped session broker as the peer machine does, less the P2P channel. Its
 * session steps end as the real client's chat.open does: the client's own deadlines end a request
 * whose answer the server lost, and a link drop ends only a request the server had not yet
 * acknowledged.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

const SCENARIO_TEST_TIMEOUT_MS = 60_000;

function onLightClient(path: string) {
  const { scenario } = loadScenarioFile(path);
  return runScenario({ ...scenario, requires: [], driver: 'protocol-client' }, { seed: scenario.seed ?? 1, scenarioPath: path });
}

describe('the light client ends session requests as the shipped client does', () => {
  // Until 2026-12-08 the driver ended a session step on the server's frames alone: a lost
  // session.pending (or a refusal that came after the session opened) left the step pending for
  // ever (steps-finish), and a link drop ended acknowledged requests DISCONNECTED, where the client
  // keeps them for the resume and ends them at their deadline (`timeout`) or with the server's
  // replayed outcome.
  for (const file of [
    'scenarios/session-outcome-lost.yaml',
    'scenarios/session-glare-pending-lost.yaml',
    'scenarios/session-deadlines-offline.yaml',
    'scenarios/server-crash-during-brokering.yaml',
  ]) {
    it(`${file}: every step ends as scripted, no invariant broken`, () => {
      const report = onLightClient(file);
      expect({ violations: report.violations.slice(0, 3), mismatched: report.mismatchedSteps.slice(0, 3) }).toEqual({ violations: [], mismatched: [] });
      expect(report.passed).toBe(true);
    }, SCENARIO_TEST_TIMEOUT_MS);
  }
});

describe('the light client carries out what the broker asked before its step ends', () => {
  it('a crossed request is withdrawn before the logout typed after the session opened', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/light-client-withdraw-before-logout.yaml');
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
  }, SCENARIO_TEST_TIMEOUT_MS);
});
