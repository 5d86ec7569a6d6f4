/**
 * The befriend step with a target that is offline when asked: the request waits in the server's
 * store, the target is told at its next login (login.ok lists it, and the client says
 * friend.request), accepts, and the two are friends. Before, the target only heard of requests
 * pushed while it was online, so such scenarios silently never made friends.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { parseScenario } from '../../sim/scenarios/scenario-loader.ts';

function scenarioText(driver: 'light' | 'peer-machine'): string {
  return `
version: 1
name: befriend an offline user
seed: 3
durationMs: 40000
${driver === 'peer-machine' ? 'driver: peer-machine' : ''}
populations:
  - { name: asker, count: 1, username: alice, behaviour: asker, account: none }
  - { name: sleeper, count: 1, username: bob, behaviour: sleeper, account: none }
friends:
  mode: requested
  pairs: [[alice, bob]]
behaviours:
  asker:
    - signup: { expect: ok }
    - login: { expect: ok }
    - think: 5000
    - befriend
    - think: 20000
    - session: { with: bob, expect: established }
  sleeper:
    - answer: accept
    - signup: { expect: ok }
    - think: 10000
    - login: { expect: ok }
    - think: 25000
`;
}

describe('sim: befriend with an offline target', () => {
  for (const driver of ['light', 'peer-machine'] as const) {
    it(`${driver} driver: the target accepts at its next login, and a session between them is established`, () => {
      const report = runScenario(parseScenario(scenarioText(driver)), { seed: 3 });
      expect(report.violations).toEqual([]);
      expect(report.metrics.sessions_established).toBeGreaterThanOrEqual(1);
      expect(report.expectations.filter((e) => !e.passed)).toEqual([]);
      expect(report.passed).toBe(true);
    });
  }
});
