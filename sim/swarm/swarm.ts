/**
 * Swarm testing (after TigerBeetle's VOPR): run one scenario many times, each with a fresh seed and
 * a fault plan drawn from that seed (crashes, partitions, clogs, degradation, resets, pauses, clock
 * drift, store faults and men in the middle at random times). The first run that breaks an invariant,
 * or misses a step's `expect` in a way nothing excuses (unexcusedMismatches), is shrunk (shrink.ts)
 * with its seed and saved as a YAML scenario that replays the failure with `p2pchat sim FILE`.
 */
import { Prng } from '../world/prng.ts';
import { serverLimits } from '../world/world.ts';
import type { RunReport } from '../command/sim-report.ts';
import type { CheckerName, Fault, Scenario } from '../scenarios/scenario-schema.ts';
import { SHRINK_RUNS_MAX, type ShrinkResult, shrinkScenario } from './shrink.ts';
import { runScenario } from '../command/run-scenario.ts';

export const SWARM_FAULTS_MAX = 3;
/** Clock drift the swarm draws (either way): 5 %, well past real oscillators, inside what heartbeats must tolerate. */
const SWARM_CLOCK_DRIFT_PPM_MAX = 50_000;
/** How often a swarm run also randomizes the server's limits (server.randomLimits). */
const SWARM_RANDOM_LIMITS_CHANCE = 0.5;
/** How often a drawn man in the middle strips TLS (proves no key) rather than proving its own key. */
const SWARM_MITM_NO_KEY_CHANCE = 0.3;
/**
 * What a session step ends with when the client refused a man in the middle (chat.failed reason
 * peer-key-mismatch): under a drawn `mitm` fault that is the client doing its job, not a bug.
 */
const MITM_REFUSED_STEP = 'session:peer-key-mismatch';
/**
 * Step outcomes that say a step could not be served, not that it was served wrong: the friend was
 * away (`offline`), an answer did not come in time (`timeout`), the server or the link was not there
 * (`logged-out` or `NOT_LOGGED_IN` after a crash took the login, `SERVER_UNAVAILABLE`,
 * `SERVER_DEGRADED`, `NOT_CONNECTED`), the caller's hello came too late for the token the callee
 * held (`session-token-expired`: a partition held its session.established up). Under a crash,
 * partition, clog, degradation, reset, pause, clock or store fault the swarm drew itself, a step
 * may end so whatever its `expect`: the scenario's author could not plan for that fault. Wrong
 * decisions (`rejected` for a yes, a second outcome, a lost message, `bad-session-token`) stay
 * failures, and the invariant checkers judge the protocol under every fault.
 */
const FAULT_SHAPED_OUTCOMES: ReadonlySet<string> = new Set([
  'offline',
  'timeout',
  'logged-out',
  'NOT_LOGGED_IN',
  'SERVER_UNAVAILABLE',
  'SERVER_DEGRADED',
  'NOT_CONNECTED',
  'session-token-expired',
  // A session request whose link dropped before the server acknowledged it (chat.failed reason).
  'server-unavailable',
]);
/** A session step that ended by the server's session timeout. */
const SESSION_TIMEOUT_OUTCOME = 'timeout';
/** A step of a peer whose program the swarm crashed ends CRASHED. */
const CRASHED_OUTCOME = 'CRASHED';

export interface SwarmFailure {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly report: RunReport;
  readonly shrunk: ShrinkResult;
}

export interface SwarmResult {
  readonly reports: RunReport[];
  readonly failure: SwarmFailure | null;
}

export interface SwarmOptions {
  readonly runs: number;
  readonly rootSeed: number;
  readonly scenarioPath: string;
  /** After each run, with the swarm's verdict on it (judged with the faults it drew). */
  readonly onRun?: (report: RunReport, index: number, failed: boolean) => void;
  readonly shrinkRunsMax?: number;
  /** Run every seed twice (the `deterministic` invariant), shrink runs too. */
  readonly checkDeterminism?: boolean;
  /**
   * Hunt one checker only: a run fails only when it breaks this one, and shrinking keeps it
   * broken (a harness test that plants one bug, so another bug the random faults hit meanwhile
   * does not take its place).
   */
  readonly focus?: CheckerName;
}

/**
 * Whether a swarm run failed: an invariant broke, or a step missed its `expect` in a way neither the
 * scenario nor the faults the swarm drew (`drawn`) excuse (metric thresholds are not bugs).
 */
export function swarmRunFailed(scenario: Scenario, report: RunReport, drawn: readonly Fault[] = []): boolean {
  return report.violations.length > 0 || unexcusedMismatches(scenario, report, drawn).length > 0;
}

/**
 * Missed steps ("kind:outcome") nothing excuses. The scenario's `underFaults.stepsMayFail` excuses
 * a kind of step (any outcome) or one `kind:outcome`. A session refused because a man in the middle
 * answered is excused whenever the plan has a `mitm` fault: the refusal is what the fault tests (the
 * peer-key-refused checker judges what crossed the link), and a scripted session step cannot know
 * whether the swarm's attacker stood in its way. Under the other faults the swarm drew, outcomes
 * that say a step could not be served are excused (FAULT_SHAPED_OUTCOMES), and CRASHED under a
 * drawn peer crash. A session timeout the run drew shorter than the scenario's (server.randomLimits)
 * excuses `timeout`: a script that answers after the scenario's timeout allows, but not the drawn
 * one, meets the limit, not a bug (found with a swarm of incoming-request-replaced.yaml: a drawn
 * 2.3 s timeout against a callee answering after 4 s).
 */
function unexcusedMismatches(scenario: Scenario, report: RunReport, drawn: readonly Fault[]): string[] {
  const mayFail: readonly string[] = scenario.underFaults.stepsMayFail;
  const attacked = scenario.faults.some((fault) => fault.kind === 'mitm');
  const impaired = drawn.some((fault) => fault.kind !== 'mitm' && fault.kind !== 'plant');
  const crashed = drawn.some((fault) => fault.kind === 'peer-crash');
  const timeoutShortened = serverLimits(scenario, report.seed).sessionTimeoutMs < scenario.server.sessionTimeoutMs;
  return report.mismatchedSteps.filter((mismatch) => {
    const outcome = mismatch.slice(mismatch.indexOf(':') + 1);
    if (mayFail.includes(mismatch) || mayFail.includes(mismatch.slice(0, mismatch.indexOf(':')))) return false;
    if (attacked && mismatch === MITM_REFUSED_STEP) return false;
    if (impaired && FAULT_SHAPED_OUTCOMES.has(outcome)) return false;
    if (timeoutShortened && outcome === SESSION_TIMEOUT_OUTCOME) return false;
    return !(crashed && outcome === CRASHED_OUTCOME);
  });
}

/** A random fault plan for one swarm run, from the run's own seed. */
export function randomFaults(scenario: Scenario, seed: number): Fault[] {
  const prng = Prng.stream(seed, 'swarm-faults');
  const horizonMs = scenario.durationMs;
  const faults: Fault[] = [];
  const count = prng.int(SWARM_FAULTS_MAX + 1);
  const at = (): number => Math.round(prng.range(0.1, 0.8) * horizonMs);
  const span = (): number => Math.round(prng.range(1_000, Math.max(1_001, 0.4 * horizonMs)));
  const fraction = (): number => Math.round(prng.range(0.05, 0.5) * 100) / 100;
  for (let i = 0; i < count; i++) {
    switch (prng.int(10)) {
      case 0:
        faults.push({ kind: 'server-crash', atMs: at(), downMs: span() });
        break;
      case 1:
        faults.push(prng.chance(0.5) ? { kind: 'peer-crash', atMs: at(), fraction: fraction() } : { kind: 'peer-crash', atMs: at(), fraction: fraction(), downMs: span() });
        break;
      case 2:
        faults.push(prng.chance(0.3) ? { kind: 'partition', atMs: at(), durationMs: span(), isolate: 'server' } : { kind: 'partition', atMs: at(), durationMs: span(), fraction: fraction() });
        break;
      case 3:
        faults.push({ kind: 'clog', atMs: at(), durationMs: span(), fraction: fraction() });
        break;
      case 4:
        faults.push({ kind: 'degrade', atMs: at(), durationMs: span(), latency: { uniform: [50, Math.round(prng.range(100, 2_000))] } });
        break;
      case 5:
        faults.push({ kind: 'reset', atMs: at(), fraction: fraction() });
        break;
      case 6:
        faults.push(prng.chance(0.3) ? { kind: 'pause', atMs: at(), durationMs: span(), target: 'server' } : { kind: 'pause', atMs: at(), durationMs: span(), fraction: fraction() });
        break;
      case 7: {
        const drift = Math.round(prng.range(-SWARM_CLOCK_DRIFT_PPM_MAX, SWARM_CLOCK_DRIFT_PPM_MAX));
        const skewMs = Math.round(prng.range(0, 2_000));
        faults.push(prng.chance(0.3) ? { kind: 'clock', atMs: at(), driftPpm: drift, skewMs, target: 'server' } : { kind: 'clock', atMs: at(), driftPpm: drift, skewMs, fraction: fraction() });
        break;
      }
      case 8:
        // Only P2P links that open while it lasts end at the attacker: a span, like a partition's.
        faults.push({ kind: 'mitm', atMs: at(), durationMs: span(), presents: prng.chance(SWARM_MITM_NO_KEY_CHANCE) ? 'no-key' : 'attacker-key', fraction: fraction() });
        break;
      default:
        faults.push({ kind: 'store', atMs: at(), durationMs: span(), mode: prng.chance(0.5) ? 'fail' : 'stall', stallMs: Math.round(prng.range(100, 3_000)), downMs: Math.round(prng.range(500, 5_000)) });
    }
  }
  return faults.sort((a, b) => a.atMs - b.atMs);
}

export function runSwarm(base: Scenario, options: SwarmOptions): SwarmResult {
  const seeds = Prng.stream(options.rootSeed, 'swarm-seeds');
  const reports: RunReport[] = [];
  const checkDeterminism = options.checkDeterminism === true;
  for (let i = 0; i < options.runs; i++) {
    const seed = seeds.nextU32();
    const randomLimits = base.server.randomLimits || Prng.stream(seed, 'swarm-limits').chance(SWARM_RANDOM_LIMITS_CHANCE);
    const drawn = randomFaults(base, seed);
    const scenario: Scenario = { ...base, seed, server: { ...base.server, randomLimits }, faults: [...base.faults, ...drawn] };
    const run = (candidate: Scenario): RunReport => runScenario(candidate, { seed, scenarioPath: options.scenarioPath, checkDeterminism });
    const report = run(scenario);
    reports.push(report);
    const focus = options.focus;
    const failed = focus === undefined ? swarmRunFailed(scenario, report, drawn) : report.violations.some((v) => v.checker === focus);
    options.onRun?.(report, i, failed);
    if (!failed) continue;
    const fails = withScriptControl(sameFailure(scenario, report, focus, drawn), report, run, focus);
    const budget = options.shrinkRunsMax ?? SHRINK_RUNS_MAX;
    // First with fractions (a smaller population re-draws its targets), then with the targets of
    // that result pinned by name, so single peers can be dropped from a fault.
    const loose = shrinkScenario(scenario, report, run, fails, budget);
    const pinned = pinFaultTargets(loose.scenario, loose.report.faultTargets);
    const pinnedReport = run(pinned);
    let shrunk = loose;
    if (fails(pinnedReport, pinned)) {
      const tight = shrinkScenario(pinned, pinnedReport, run, fails, Math.max(0, budget - loose.runs));
      shrunk = { ...tight, runs: loose.runs + 1 + tight.runs };
    }
    return { reports, failure: { seed, scenario, report, shrunk } };
  }
  return { reports, failure: null };
}

/**
 * Whether a shrink candidate's run still fails in the class the swarm found: shrinking keeps a
 * change only then. A run that broke invariants keeps that class: one of the same checkers must
 * still fire, and a step mismatch alone does not count (a shrink once drifted from a liveness
 * failure to a session step that ended `offline` because its fault had become a crash). Only a
 * run that broke no invariant is judged by its missed steps: the same kind of step must still miss
 * in the same way (a session step that ends NOT_LOGGED_IN once its login was deleted is another
 * failure, the script's own), and no invariant may break (a shrink of password-guessers.yaml,
 * root seed 9301, deleted a logout between two logins: the second broke served-within-bound, and
 * the minimized file named that as its failure).
 */
export function sameFailure(scenario: Scenario, report: RunReport, focus?: CheckerName, drawn: readonly Fault[] = []): (candidate: RunReport) => boolean {
  if (focus !== undefined || report.violations.length > 0) {
    const checkers = new Set<CheckerName>(focus === undefined ? report.violations.map((v) => v.checker) : [focus]);
    return (r) => r.violations.some((v) => checkers.has(v.checker));
  }
  const steps = new Set(unexcusedMismatches(scenario, report, drawn));
  return (r) => r.violations.length === 0 && r.mismatchedSteps.some((kind) => steps.has(kind));
}

/**
 * For a failure of missed steps only: a shrink candidate counts only if the same miss needs its
 * faults. Deleting steps can break the script itself (a callee whose login was deleted makes the
 * caller's session end `offline` with no fault at all); such a candidate fails "the same way" for
 * the script's own reason, and a shrink that kept it once ended at 2 peers, 0 faults and a scenario
 * that proved nothing. So an accepted candidate is run once more without any fault, and rejected
 * when that run misses the same way. Invariants hold for every script: those failures need no control.
 */
export function withScriptControl(
  fails: (candidate: RunReport) => boolean,
  report: RunReport,
  run: (scenario: Scenario) => RunReport,
  focus?: CheckerName,
): (candidate: RunReport, scenario: Scenario) => boolean {
  if (focus !== undefined || report.violations.length > 0) return (candidate) => fails(candidate);
  return (candidate, scenario) => fails(candidate) && !fails(run({ ...scenario, faults: [] }));
}

/** Replaces each fault's fraction by the peers it actually hit in a run. */
export function pinFaultTargets(scenario: Scenario, targets: readonly string[][]): Scenario {
  const faults = scenario.faults.map((fault, index): Fault => {
    if (!('fraction' in fault) || fault.fraction === undefined || ('peers' in fault && fault.peers !== undefined)) return fault;
    const { fraction: _fraction, ...rest } = fault;
    return { ...rest, peers: [...(targets[index] ?? [])] } as Fault;
  });
  return { ...scenario, faults };
}
