/**
 * sessions_established counts sessions, each once, not the session steps a session answered: a
 * chat.open typed with the session already open is answered chat.opened at once (no request goes
 * to the server), and the metric counted that step's `established` as a second session.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';

describe('sessions_established', () => {
  it('counts a session once when a chat.open typed after it opened is answered by it', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/session-asked-when-open.yaml');
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.session_outcome_established).toBe(2);
    expect(report.metrics.sessions_established).toBe(1);
    expect(report.passed).toBe(true);
  });

  it('counts a session again once both ends lost it and it opened anew', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/session-asked-when-open.yaml');
    // Bob's program crashes and restarts before he asks again: his chat.open opens a second session.
    const behaviours = {
      ...scenario.behaviours,
      'callee-asks-later': [
        { answer: { policy: 'accept' as const, delay: 200 } },
        'login' as const,
        { think: 4000 },
        { crash: { downMs: 1000 } },
        { think: 3000 },
        { session: { with: 'alice', expect: 'established' } },
      ],
    };
    const report = runScenario({ ...scenario, behaviours, expect: { ...scenario.expect, metrics: {} } } as typeof scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.session_outcome_established).toBe(2);
    expect(report.metrics.sessions_established).toBe(2);
  });
});

describe('sessions_established with requests crossing', () => {
  it('counts the one session two crossing requests leave, though both steps end established', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/session-asked-when-open.yaml');
    // Alice and Bob ask each other in the same instant: two requests, two P2P streams, and both
    // clients keep the one the server brokered last: one session.
    const asks = (friend: string) => [{ answer: { policy: 'accept' as const, delay: 50 } }, 'login' as const, { think: 2000 }, { session: { with: friend, expect: 'established' } }];
    const crossing = {
      ...scenario,
      network: { ...scenario.network, latency: { constant: 10 } },
      behaviours: { caller: asks('bob'), 'callee-asks-later': asks('alice') },
      expect: { ...scenario.expect, metrics: {} },
    } as typeof scenario;
    const report = runScenario(crossing, { seed: 1 });
    expect(report.violations).toEqual([]);
    // Two server links and two P2P streams.
    expect(report.metrics.connects).toBe(4);
    expect(report.metrics.session_outcome_established).toBe(2);
    expect(report.metrics.sessions_established).toBe(1);
  });
});
