/**
 * Bugs the simulator found in code outside sim/, kept as failing expectations (`it.fails`): each
 * states what should hold. When the bug is fixed the test starts passing, vitest reports the
 * `.fails` as broken, and the marker comes off.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenario-loader.ts';

describe('known server bugs found by the simulator', () => {
  it.fails('a user with FRIENDS_PER_USER_MAX friends can log in (login.ok must fit the control-frame limit)', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/hub-login-ok-overflow.yaml');
    const report = runScenario(scenario, { seed: 31 });
    expect(report.violations).toEqual([]);
  });
});
