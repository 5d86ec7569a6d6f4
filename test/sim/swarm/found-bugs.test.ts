/**
 * Regressions for bugs the simulator found in code outside sim/, each replaying the scenario that
 * exposed it.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

describe('bugs found by the simulator stay fixed', () => {
  it('a user with FRIENDS_PER_USER_MAX friends can log in (login.ok fits the control-frame limit)', () => {
    // Found by the 100,000-peer storm: a power-law hub's login.ok overflowed the 64 KiB control
    // frame and encodeControl threw inside the server host.
    const { scenario } = loadScenarioFile('test/sim/fixtures/hub-login-ok-overflow.yaml');
    const report = runScenario(scenario, { seed: 31 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.logins_ok).toBe(1001);
  });

  it('frames in flight when the server crashes are judged against the incarnation that sent them', () => {
    // Found by the swarm in the simulator's own checker (a false session-needs-yes).
    const { scenario } = loadScenarioFile('test/sim/fixtures/server-crash-inflight-established.yaml');
    const report = runScenario(scenario, { seed: 3244477465 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.sessions_established).toBeGreaterThan(0);
  });

  // Found by the steps-finish checker: a chat.open already pending at the server was not failed
  // when the link dropped, so a request the crashed server forgot never ended on the caller's
  // side. Fixed by the session broker (core/peer/session-broker.ts): a request ends with its login.
  it('a session request the server forgot in a crash ends on the caller\'s side', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/session-request-lost-with-server.yaml');
    const report = runScenario(scenario, { seed: 1 });
    expect(report.violations).toEqual([]);
  });

  // Found by a bounded swarm over clock-drift.yaml (npm run mutate:harness's suite, 4 runs): under
  // drifting clocks and a fault, one peer's logout step never ends. Not yet explained or fixed;
  // kept as a known failure so it is neither lost nor silently passing. Drop `.fails` once fixed.
  it.fails('a logout under drifting clocks ends (open)', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/logout-never-ends-under-drift.yaml');
    const report = runScenario(scenario, { seed: 307045152 });
    expect(report.violations).toEqual([]);
  });
});
