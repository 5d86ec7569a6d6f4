/**
 * The simulator finds, on its own, each class of bug issue 14 names: a bug of the class is
 * planted through the simulator's own `plant` fault (sim/world/planted-output.ts and the peer
 * machine driver's ports: nothing in core/ changes), a small swarm over the corpus scenario that
 * exercises the class finds it, and the shrinker cuts it to at most 10 steps and faults that
 * still fail the same checker on replay. The classes already shown elsewhere: one final outcome
 * per session request, presence only to friends and a dropped session.failed
 * (test/sim/harness.test.ts), hostile file names (test/sim/hostile.test.ts), a TTL expiry that
 * forgets the friends (test/sim/swarm/planted-bug.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import type { CheckerName, Scenario, SimPlantedBug } from '../../sim/scenarios/scenario-schema.ts';
import { scenarioSize } from '../../sim/swarm/shrink.ts';
import { runSwarm } from '../../sim/swarm/swarm.ts';

const SWARM_TEST_TIMEOUT_MS = 120_000;
/** Swarm runs per class: each of these bugs shows in the first run or two. */
const SWARM_RUNS = 2;

function planted(scenario: Scenario, bug: SimPlantedBug): Scenario {
  return { ...scenario, faults: [...scenario.faults, { kind: 'plant', atMs: 0, bug }] };
}

/**
 * The client ends a logout whose answer never comes when its link drops (docs/PROTOCOL.md: a logout
 * is answered once, at once when the server cannot take it), and the server closes a connection
 * that is not logged in after its idle limit (30 s): with logout.ok dropped, that close answered
 * the logout inside logout.yaml's healed phase. An idle limit past the run keeps the connection
 * open, so the logout that never ends shows.
 */
const IDLE_PAST_THE_RUN_MS = 600_000;

const CASES: ReadonlyArray<{ what: string; bug: SimPlantedBug; file: string; checker: CheckerName; adjust?: (scenario: Scenario) => Scenario }> = [
  { what: 'one final outcome per transfer', bug: 'duplicate-transfer-outcome', file: 'scenarios/p2p-chat-and-file.yaml', checker: 'one-final-outcome' },
  { what: 'a transfer cancelled mid-way ends once', bug: 'duplicate-transfer-outcome', file: 'scenarios/cancel-mid-transfer.yaml', checker: 'one-final-outcome' },
  {
    what: 'every script finishes by the end of the healed phase',
    bug: 'drop-logout-ok',
    file: 'scenarios/logout.yaml',
    checker: 'steps-finish',
    adjust: (scenario) => ({ ...scenario, server: { ...scenario.server, unauthenticatedIdleMs: IDLE_PAST_THE_RUN_MS } }),
  },
  { what: 'a logout on a run with no fault is answered by the server', bug: 'drop-logout-ok', file: 'scenarios/logout.yaml', checker: 'logout-answered' },
  { what: 'unfriending mid-session ends the friendship on both sides', bug: 'drop-friend-removed', file: 'scenarios/unfriend-mid-session.yaml', checker: 'liveness' },
  { what: 'a duplicate login displaces the first program', bug: 'drop-logged-in-elsewhere', file: 'scenarios/login-hammering.yaml', checker: 'liveness' },
  { what: 'login hammering never locks the owner out', bug: 'lock-out-guessed-user', file: 'scenarios/password-guessers.yaml', checker: 'served-within-bound' },
  // Every guess is still answered (BAD_CREDENTIALS instead of RATE_LIMITED): only the documented delays tell.
  { what: 'password guesses slow down as documented', bug: 'guesses-never-slowed', file: 'scenarios/rate-limits.yaml', checker: 'rate-limit-honoured' },
  { what: 'a replayed or guessed P2P token is refused', bug: 'greet-any-hello', file: 'scenarios/p2p-token-replay.yaml', checker: 'hostile-refused' },
  { what: 'a man in the middle of a P2P link is refused', bug: 'skip-peer-key-check', file: 'scenarios/p2p-man-in-the-middle.yaml', checker: 'peer-key-refused' },
  { what: 'a size lie never makes a file other than the offer declared', bug: 'trust-sent-size', file: 'scenarios/hostile-files.yaml', checker: 'size-as-offered' },
  { what: 'a framing error closes the connection that sent it', bug: 'keep-open-after-framing-error', file: 'scenarios/malformed-input.yaml', checker: 'bad-input-answered' },
  // Bob says no at once: a chat.failed `timeout` 300 ms after the chat.open names no cause the world gave (its deadline is 35 s off).
  { what: 'a chat.failed names the cause the world gave the client', bug: 'chat-failed-says-timeout', file: 'scenarios/session-reject.yaml', checker: 'chat-failed-cause' },
  // Bob ignores Alice: the server withdraws her request, and his chat.failed must say it was hers (`incoming`), not his own.
  { what: "a callee's chat.failed says incoming", bug: 'chat-failed-not-incoming', file: 'scenarios/session-timeout.yaml', checker: 'chat-failed-cause' },
  // Bob's yes and Carol's silence: node3's word that both requests ended is lost with its bus, and the callers ask again; a client that drops the old request without a word leaves it past its deadline.
  { what: "a friend's request a newer one of theirs replaced still ends for the user", bug: 'incoming-replaced-silently', file: 'test/sim/fixtures/incoming-request-replaced.yaml', checker: 'ends-by-deadline' },
  // Bob says yes and stops (a pause) before Alice's connection reaches him: her hello is never answered and his token runs out unused; a client whose P2P timers never fire leaves both requests open past their hello deadline.
  { what: 'a P2P set-up that runs out of time still ends for the user, on both sides', bug: 'p2p-timeout-silent', file: 'test/sim/fixtures/p2p-setup-times-out.yaml', checker: 'ends-by-deadline' },
  // Alice's server refuses two of her session requests (one late, after she gave it up): a client that also shows her those refusals as errors.
  { what: 'no error event the user did not cause', bug: 'show-session-replies', file: 'scenarios/session-outcome-lost.yaml', checker: 'no-stray-error' },
];

describe('a server that never answers a logout', () => {
  it('shows in logout.yaml as a logout the client answered itself with no fault on its link (logouts_ended_here, and the logout-answered checker)', () => {
    const { scenario } = loadScenarioFile('scenarios/logout.yaml');
    const seed = scenario.seed ?? 1;
    expect(runScenario(scenario, { seed }).metrics.logouts_ended_here).toBe(0);
    const report = runScenario(planted(scenario, 'drop-logout-ok'), { seed });
    expect(report.metrics.logouts_ended_here).toBe(1);
    expect(report.passed).toBe(false);
    expect(report.expectations.filter((e) => !e.passed).map((e) => e.name)).toEqual(['logouts_ended_here <= 0', 'invariant logout-answered']);
  });
});

describe('a P2P set-up whose timers never fire', () => {
  it('shows in p2p-setup-times-out.yaml as both requests open past their hello deadline, each side judged on its own clock (ends-by-deadline)', () => {
    const file = 'test/sim/fixtures/p2p-setup-times-out.yaml';
    const { scenario } = loadScenarioFile(file);
    const seed = scenario.seed ?? 1;
    // The correct client ends both at their deadline: Alice's hello times out, Bob's token as he resumes.
    const correct = runScenario(scenario, { seed });
    expect(correct.violations).toEqual([]);
    expect(correct.metrics.session_outcome_timeout).toBe(1);
    const report = runScenario(planted(scenario, 'p2p-timeout-silent'), { seed });
    expect(report.violations.filter((v) => v.checker === 'ends-by-deadline').map((v) => v.detail)).toEqual([
      expect.stringMatching(/^alice's request \S+ to bob has not ended 50 ms after its deadline .*the hello to the callee times out then/),
      // Bob's check waited out his pause with him, and gave him the slack again from his resume.
      expect.stringMatching(/^alice's request \S+ to bob has not ended \d+ ms after its deadline .*the token held for the caller's hello expires then/),
    ]);
  });
});

describe('each bug class is caught by a swarm over the corpus and shrunk', () => {
  for (const { what, bug, file, checker, adjust } of CASES) {
    it(`${what}: ${checker} catches the planted ${bug}, shrunk to at most 10 steps and faults`, () => {
      const loaded = loadScenarioFile(file).scenario;
      const scenario = adjust === undefined ? loaded : adjust(loaded);
      const seed = scenario.seed ?? 1;
      // The correct code passes the same scenario and seed.
      expect(runScenario(scenario, { seed }).violations).toEqual([]);
      const result = runSwarm(planted(scenario, bug), { runs: SWARM_RUNS, rootSeed: 1, scenarioPath: file, focus: checker });
      const failure = result.failure;
      expect(failure, `the swarm did not find ${bug}`).not.toBeNull();
      if (failure === null) return;
      const size = scenarioSize(failure.shrunk.scenario);
      expect(size.steps + size.faults).toBeLessThanOrEqual(10);
      expect(failure.shrunk.scenario.faults.some((f) => f.kind === 'plant' && f.bug === bug)).toBe(true);
      const replay = runScenario(failure.shrunk.scenario, { seed: failure.seed });
      expect(replay.violations.map((v) => v.checker)).toContain(checker);
    }, SWARM_TEST_TIMEOUT_MS);
  }
});
