/**
 * Adversarial behaviours as data: the attackers of scenarios/ (token replay and guessing, hostile
 * file names and size lies, password guessers, sybils, connection and slot hoarders, unfriending
 * mid-session) and the checkers that judge them (hostile-refused, safe-file-names,
 * served-within-bound); a swarm that mixes them with faults; and the shrinker keeping the class of
 * failure it started from.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl, FrameDecoder } from '../../core/codec.ts';
import { FILE_NAME_CHARS_MAX } from '../../core/limits.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import type { RunReport } from '../../sim/command/sim-report.ts';
import { probeP2pHello, unsafeFileNameReason } from '../../sim/drivers/hostile.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { runSwarm, sameFailure } from '../../sim/swarm/swarm.ts';
import { scenarioSize } from '../../sim/swarm/shrink.ts';
import { SimNetwork } from '../../sim/world/network.ts';
import { Prng } from '../../sim/world/prng.ts';
import { SimClock } from '../../sim/world/sim-clock.ts';

const SWARM_TEST_TIMEOUT_MS = 120_000;

function load(path: string) {
  return loadScenarioFile(path).scenario;
}

describe('adversarial scenarios', () => {
  it('a replayed or guessed P2P token is refused, and the friends are served meanwhile', () => {
    const report = runScenario(load('scenarios/p2p-token-replay.yaml'), { seed: 21 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.hostile_hellos).toBe(11);
    expect(report.passed).toBe(true);
  });

  it('a hello the callee answers with hello.ok is reported as accepted (what hostile-refused judges)', () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock, new Prng(1), { latency: () => 5, bandwidthBytesPerSec: 1e9 });
    // A careless callee that greets anyone.
    net.transport('10.0.0.1').listen('10.0.0.1', 5000, (stream) => {
      const decoder = new FrameDecoder();
      stream.setEvents({
        onOpen() {},
        onData: (bytes) => {
          decoder.push(bytes);
          if (decoder.next() !== null) stream.write(encodeControl({ type: 'hello.ok', username: 'alice' }));
        },
        onDrain() {},
        onClose() {},
      });
    }, () => {});
    const outcomes: string[] = [];
    probeP2pHello(net.transport('10.0.0.2'), clock, '10.0.0.1', 5000, { username: 'mallory', token: 'x' }, (o) => outcomes.push(o));
    probeP2pHello(net.transport('10.0.0.2'), clock, '10.0.0.9', 5000, { username: 'mallory', token: 'x' }, (o) => outcomes.push(o));
    clock.runUntil(60_000);
    expect(outcomes.sort()).toEqual(['ECONNREFUSED', 'accepted']);
  });

  it('hostile file names are written under plain names and size lies never make a file', () => {
    const report = runScenario(load('scenarios/hostile-files.yaml'), { seed: 22 });
    expect(report.violations).toEqual([]);
    // Each lie ended as its step expects (protocol-error, hash-mismatch): nothing else was asked of it.
    expect(report.mismatchedSteps).toEqual([]);
    // Five hostile names and Alice's file arrive; the three lies about sizes and the digest do not.
    expect(report.metrics.files_received).toBe(6);
    expect(report.metrics.files_offered).toBe(9);
  });

  // On the light client (no P2P channel) the file steps are not run: the run says so and fails,
  // but Alice's timed sendFile was not served late or wrong, and served-within-bound once said it was.
  it('a timed step the driver cannot run is reported as not run, not as served wrong', () => {
    const scenario = load('scenarios/hostile-files.yaml');
    const report = runScenario({ ...scenario, requires: [], driver: 'protocol-client' }, { seed: 22 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.p2p_steps_not_run).toBe(9);
    expect(report.passed).toBe(false);
  });

  it('a receiver that sizes downloads by the bytes that come takes both size lies, and size-as-offered says so', () => {
    const scenario = load('scenarios/hostile-files.yaml');
    const report = runScenario({ ...scenario, faults: [...scenario.faults, { kind: 'plant', atMs: 0, bug: 'trust-sent-size' }] }, { seed: 22 });
    const lies = report.violations.filter((v) => v.checker === 'size-as-offered').map((v) => v.detail.replace(/ of \S+ from/, ' of T from'));
    expect(lies).toEqual(['bob took 100000 bytes (reported 100000) of T from mallory, whose offer declared 50000', 'bob took 1000 bytes (reported 1000) of T from mallory, whose offer declared 5000']);
    // The bytes are the file's own: p2p-integrity alone would have passed them.
    expect(report.violations.filter((v) => v.checker === 'p2p-integrity')).toEqual([]);
  });

  it('the file-name judge is independent of the sanitizer and refuses what it must', () => {
    for (const [name, reason] of [
      ['../x', 'a path separator'],
      ['a\\b', 'a path separator'],
      ['..', 'a directory name'],
      ['CON', 'a Windows device name'],
      ['nul.txt', 'a Windows device name'],
      ['a\u0007b', 'a control character'],
      ['a\uD800b', 'a lone surrogate'],
      ['', 'empty'],
      ['x'.repeat(FILE_NAME_CHARS_MAX + 1), `longer than ${FILE_NAME_CHARS_MAX} characters`],
    ] as const) {
      expect(unsafeFileNameReason(name, FILE_NAME_CHARS_MAX), name).toBe(reason);
    }
    expect(unsafeFileNameReason('report (1).pdf', FILE_NAME_CHARS_MAX)).toBeNull();
    expect(unsafeFileNameReason('console.txt', FILE_NAME_CHARS_MAX)).toBeNull();
  });

  it('password guessers on four addresses never lock the owner out', () => {
    const report = runScenario(load('scenarios/password-guessers.yaml'), { seed: 24 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.timed_steps).toBe(3);
    expect(report.passed).toBe(true);
  });

  it('a sybil flood does not keep a friend or the victim\'s own request out', () => {
    const report = runScenario(load('scenarios/sybil-friend-requests.yaml'), { seed: 25 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.sessions_established).toBe(2);
  });

  it('connection hoarders do not keep users from logging in within bound', () => {
    const report = runScenario(load('scenarios/connection-hoarders.yaml'), { seed: 26 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.hoarded_connections_opened).toBeGreaterThan(100);
    expect(report.metrics.logins_ok).toBe(20);
  });

  // A friend's offers that never move take at most TRANSFERS_IN_PER_PEER_MAX of the receiver's
  // slots, so another friend's file gets through within bound, and the hoarded transfers end as
  // `stalled` (served-within-bound and liveness caught both before).
  it('a slot hoarder does not starve another friend\'s transfer, and stalled transfers end', () => {
    const report = runScenario(load('test/sim/fixtures/slot-hoarder.yaml'), { seed: 27 });
    expect(report.violations).toEqual([]);
  });

  // Found by scenarios/unfriend-mid-session.yaml: neither client closed an open P2P session on
  // friend.removed, so the ex-friend's next chat.open was answered from it, not by the server.
  it('a P2P session does not outlive the friendship', () => {
    const report = runScenario(load('test/sim/fixtures/session-survives-unfriend.yaml'), { seed: 23 });
    expect(report.mismatchedSteps).toEqual([]);
    expect(report.violations).toEqual([]);
  });

  it('a swarm mixing every attacker with random faults finds nothing on the correct code', () => {
    const result = runSwarm(load('test/sim/fixtures/adversarial-swarm.yaml'), { runs: 4, rootSeed: 1, scenarioPath: 'adversarial-swarm.yaml', shrinkRunsMax: 0 });
    expect(result.failure?.report.violations ?? []).toEqual([]);
    expect(result.failure?.report.mismatchedSteps ?? []).toEqual([]);
    expect(result.reports).toHaveLength(4);
  }, SWARM_TEST_TIMEOUT_MS);
});

describe('a planted hostile-name bug is found and shrunk', () => {
  it('safe-file-names fires on unsafe-download-name, and a swarm over hostile-files.yaml shrinks it to at most 10 steps and faults', () => {
    const scenario = load('scenarios/hostile-files.yaml');
    const planted = { ...scenario, faults: [...scenario.faults, { kind: 'plant' as const, atMs: 0, bug: 'unsafe-download-name' as const }] };
    const report = runScenario(planted, { seed: 22 });
    expect(report.violations.map((v) => v.checker)).toContain('safe-file-names');
    const result = runSwarm(planted, { runs: 2, rootSeed: 2, scenarioPath: 'hostile-files.yaml', focus: 'safe-file-names' });
    const failure = result.failure;
    expect(failure).not.toBeNull();
    if (failure === null) return;
    const size = scenarioSize(failure.shrunk.scenario);
    expect(size.steps + size.faults).toBeLessThanOrEqual(10);
    expect(runScenario(failure.shrunk.scenario, { seed: failure.seed }).violations.some((v) => v.checker === 'safe-file-names')).toBe(true);
  }, SWARM_TEST_TIMEOUT_MS);
});

describe('the shrinker keeps the failure class it started from', () => {
  const scenario = load('test/sim/fixtures/harness-base.yaml');
  const report = (violations: string[], mismatchedSteps: string[]): RunReport =>
    ({ violations: violations.map((checker) => ({ checker, atMs: 0, detail: '' })), mismatchedSteps }) as unknown as RunReport;

  it('a liveness failure does not drift into a session step that ended offline', () => {
    // The run the swarm found broke liveness, and a session step also missed (a crash made it offline).
    const fails = sameFailure(scenario, report(['liveness'], ['session:offline']));
    expect(fails(report([], ['session:offline']))).toBe(false);
    expect(fails(report(['liveness'], []))).toBe(true);
    expect(fails(report(['presence-matches-truth'], ['session:offline']))).toBe(false);
  });

  it('a run with missed steps only is judged by the same kind of step missing the same way', () => {
    const fails = sameFailure(scenario, report([], ['session:offline']));
    expect(fails(report([], ['session:offline']))).toBe(true);
    expect(fails(report([], ['session:NOT_LOGGED_IN']))).toBe(false);
  });

  // A swarm of password-guessers.yaml (root seed 9301, seed 968045033) missed a session step
  // (`unreachable`: the callee crashed during the P2P hello) and broke no invariant; the shrink
  // deleted the owner's logout between her two logins, the second ended ALREADY_LOGGED_IN, and the
  // minimized file named served-within-bound as its failure, a breakage of the shrink's own making.
  it('a run with missed steps only does not drift into one that breaks an invariant', () => {
    const fails = sameFailure(scenario, report([], ['session:unreachable']));
    expect(fails(report(['served-within-bound'], ['session:unreachable']))).toBe(false);
    expect(fails(report([], ['session:unreachable', 'login:ALREADY_LOGGED_IN']))).toBe(true);
  });

  it('a focused hunt keeps its checker only', () => {
    const fails = sameFailure(scenario, report(['liveness'], []), 'one-final-outcome');
    expect(fails(report(['liveness'], []))).toBe(false);
    expect(fails(report(['one-final-outcome'], []))).toBe(true);
  });
});
