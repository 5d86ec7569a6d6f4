/**
 * The outage-reported checker (sim/checkers/outage-checker.ts): the outages docs/PROTOCOL.md
 * describes pass, told as it says; each way of telling them wrong is caught, once.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type LinkAction, ServerLink } from '../../../core/peer/server-link.ts';
import { OutageReports } from '../../../sim/checkers/outage-checker.ts';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

function reports(): { checker: OutageReports; violations: string[] } {
  const violations: string[] = [];
  return { checker: new OutageReports('alice', (detail) => violations.push(detail)), violations };
}

/** The client settles in each state in turn. */
function through(checker: OutageReports, ...states: string[]): void {
  for (const state of states) checker.settled(state);
}

describe('outage-reported checker', () => {
  it('passes outages told as the protocol says: lost logged in, a failed attempt, the login taken back', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'ExpectLogin', 'ExpectLoginOk', 'LoggedIn');
    checker.disconnected(1_000);
    through(checker, 'ExpectReconnect', 'ExpectOpen', 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', 'ExpectLoginOk');
    // Lost again while its resume was on its way: the same outage, not told again.
    through(checker, 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', 'ExpectLoginOk');
    checker.reconnected();
    through(checker, 'LoggedIn');
    // A second outage, with no login held: back once welcomed.
    checker.disconnected(5_000);
    through(checker, 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome');
    checker.reconnected();
    through(checker, 'ExpectLogin');
    expect(violations).toEqual([]);
    expect(checker.unfinished()).toBeNull();
  });

  it('passes a server that never answered: links that drop before their welcome are no outage', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', 'ExpectLogin');
    expect(violations).toEqual([]);
  });

  it('passes a link the server closed for idleness, taken back at once without a word', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'ExpectLogin', 'ExpectOpen', 'ExpectWelcome', 'ExpectLogin');
    expect(violations).toEqual([]);
  });

  it('catches a second disconnected in one outage', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'LoggedIn');
    checker.disconnected(1_000);
    through(checker, 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', 'ExpectLoginOk');
    checker.disconnected(2_500);
    expect(violations).toEqual(['alice said disconnected twice in one outage (the first at 1000 ms, no reconnected between)']);
  });

  it('catches a disconnected with no welcomed link to lose', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen');
    checker.disconnected(100);
    expect(violations).toEqual(['alice said disconnected while it had no welcomed link to lose (its server link in ExpectOpen)']);
  });

  it('catches a reconnected with no outage told', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'ExpectLoginOk');
    checker.reconnected();
    expect(violations).toEqual(['alice said reconnected with no outage told (its server link was in ExpectLoginOk)']);
  });

  it('catches a welcomed link lost without a word', () => {
    const { checker, violations } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'LoggedIn', 'ExpectReconnect');
    expect(violations).toEqual(['alice lost its server link (in LoggedIn) and waits to reconnect, but never said disconnected']);
  });

  it('catches a client back on its link, logged in or not, that never says reconnected; once per outage', () => {
    for (const back of ['LoggedIn', 'ExpectLogin']) {
      const { checker, violations } = reports();
      through(checker, 'ExpectOpen', 'ExpectWelcome', 'LoggedIn');
      checker.disconnected(1_000);
      through(checker, 'ExpectReconnect', 'ExpectOpen', 'ExpectWelcome', back, back);
      expect(violations).toEqual([`alice is back on its server link (${back}) but never said reconnected after the outage it told at 1000 ms`]);
    }
  });

  it('names an outage still told at the end (liveness)', () => {
    const { checker } = reports();
    through(checker, 'ExpectOpen', 'ExpectWelcome', 'LoggedIn');
    checker.disconnected(1_000);
    through(checker, 'ExpectReconnect');
    expect(checker.unfinished()).toBe('still says disconnected (since 1000 ms, its server link in ExpectReconnect)');
  });
});

// The storms' light client (sim/drivers/light-client.ts) runs the same server link, whose
// `disconnected` and `reconnected` actions are what the peer machine tells its user: until
// 2026-12-07 only the peer machine's driver fed them to this checker, so a light-client run
// judged nothing of them.
describe('outage-reported judges the light client too', () => {
  const crash = loadScenarioFile('test/sim/fixtures/light-clients-server-crash.yaml').scenario;

  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('passes its clients through a server crash, each outage told and ended', () => {
    const report = runScenario(crash, { seed: 5 });
    expect({ violations: report.violations, reconnects: report.metrics.reconnects }).toEqual({ violations: [], reconnects: 3 });
  });

  it('catches a server link that never says reconnected (planted: its reconnected actions dropped)', () => {
    const takeActions = ServerLink.prototype.takeActions;
    vi.spyOn(ServerLink.prototype, 'takeActions').mockImplementation(function (this: ServerLink): LinkAction[] {
      return takeActions.call(this).filter((action) => action.type !== 'reconnected');
    });
    const report = runScenario(crash, { seed: 5 });
    const checkers = new Set(report.violations.map((v) => v.checker));
    expect(checkers).toEqual(new Set(['outage-reported']));
  });
});
