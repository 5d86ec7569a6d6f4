import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { parseScenario } from '../../../sim/scenarios/scenario-loader.ts';

describe('behaviour runner', () => {
  // Found by a swarm of quit.yaml (root seed 4013, seed 3337175757): Erin's program crashed during
  // her think step and came back (logged in again) before the end of the run, but the think's timer,
  // due while the program was down, was dropped, and her script never went on: her quit was never
  // typed and Bob's later session with her was established where the script says offline. A
  // crashed program's user carries on with the script once it is back, whatever step the crash
  // interrupted.
  it('a script whose think step ends while its program is down goes on once the program is restarted', () => {
    const scenario = parseScenario(`version: 1
seed: 5
durationMs: 20000
populations:
  - { name: alice, behaviour: leaver }
  - { name: bob, behaviour: online }
friends:
  pairs: [[alice, bob]]
behaviours:
  leaver:
    - login: { expect: ok }
    - think: 3000
    - logout: { expect: ok }
  online: [login]
faults:
  - { kind: peer-crash, atMs: 1000, downMs: 4000, peers: [alice] }
`);
    const report = runScenario(scenario, { seed: 5 });
    expect(report.violations).toEqual([]);
    expect(report.mismatchedSteps).toEqual([]);
    expect(report.metrics.logouts_ok).toBe(1);
    expect(report.metrics.peers_online_end).toBe(1);
  });
});
