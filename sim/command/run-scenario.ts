/**
 * Runs one scenario with one seed and returns its report. The loop: start the world, run the
 * workload phase in slices of checks.sweepEveryMs (sweeping checkers between slices), heal
 * everything, run the liveness phase, check liveness, evaluate expectations.
 *
 * Nothing inside the loop reads the wall clock; wallMs is measured around it by the caller's
 * `wallClockMs` (default performance.now), so it never influences the run.
 */
import { performance } from 'node:perf_hooks';
import { FaultSchedule } from '../world/faults.ts';
import { Prng } from '../world/prng.ts';
import type { Expectation, RunReport } from './sim-report.ts';
import { CHECKER_NAMES, type Scenario, type Step } from '../scenarios/scenario-schema.ts';
import { COUNTER_NAMES, type CounterName } from '../checkers/counter-names.ts';
import { TRANSFER_RESUME_WAIT_MS } from '../../core/limits.ts';
import type { TraceLineSink } from '../world/trace.ts';
import { World } from '../world/world.ts';
import type { ServerStats } from '../../core/server/machine.ts';

/** Upper bound on events in one run: a runaway loop fails loudly instead of spinning forever. */
export const RUN_EVENTS_MAX = 2_000_000_000;

export interface RunOptions {
  readonly seed: number;
  /** Shown as the report's `scenario` (the file path). */
  readonly scenarioPath?: string;
  readonly traceSink?: TraceLineSink | null;
  /** Called with the options the run chose before it starts (the SEED line). */
  readonly onStart?: (options: Record<string, string | number>) => void;
  /** Called between slices: virtual ms done, total virtual ms, events so far. */
  readonly onProgress?: (doneMs: number, totalMs: number, events: number) => void;
  /**
   * Call onProgress every this many virtual ms instead of once per sweep slice (the bench's
   * throughput-over-time chart wants finer points than checks.sweepEveryMs). Sweeps stay where
   * they were; the events run in the same order either way.
   */
  readonly progressEveryMs?: number;
  /**
   * Run the seed a second time (no trace, no progress, no onWorld) and break the `deterministic`
   * invariant if the two traceHashes or event counts differ (after madsim, which re-runs every seed).
   */
  readonly checkDeterminism?: boolean;
  /** Called with the world once it exists, before it starts (sim --html watches its trace). */
  readonly onWorld?: (world: World) => void;
}

export function livenessMsOf(scenario: Scenario): number {
  if (scenario.livenessMs !== undefined) return scenario.livenessMs;
  const sessionsAndPresence = scenario.server.ttlMs + scenario.server.sessionTimeoutMs + scenario.checks.presenceBoundMs;
  // A transfer a dropped connection suspended waits TRANSFER_RESUME_WAIT_MS for a new session
  // before it fails: the healed phase outlasts that wait, so liveness judges its end, not its wait.
  return sendsFiles(scenario) ? TRANSFER_RESUME_WAIT_MS + sessionsAndPresence : sessionsAndPresence;
}

function sendsFiles(scenario: Scenario): boolean {
  const inSteps = (steps: readonly Step[]): boolean => steps.some((step) => typeof step === 'object' && ('sendFile' in step || ('repeat' in step && inSteps(step.repeat.steps))));
  return Object.values(scenario.behaviours).some(inSteps);
}

export function runScenario(scenario: Scenario, options: RunOptions): RunReport {
  const report = runOnce(scenario, options);
  if (options.checkDeterminism !== true) return report;
  const again = runOnce(scenario, { seed: options.seed, ...(options.scenarioPath === undefined ? {} : { scenarioPath: options.scenarioPath }) });
  if (again.traceHash === report.traceHash && again.events === report.events) return report;
  const detail = `seed ${options.seed} ran twice: traceHash ${report.traceHash} then ${again.traceHash}, ${report.events} then ${again.events} events`;
  const violation = { checker: 'deterministic' as const, atMs: report.virtualMs, detail };
  const expectations = report.expectations.map((e) => (e.name === 'invariant deterministic' ? { ...e, passed: false, detail } : e));
  return { ...report, violations: [...report.violations, violation], expectations, passed: false };
}

function runOnce(scenario: Scenario, options: RunOptions): RunReport {
  const wallStartMs = performance.now();
  const world = new World(scenario, { seed: options.seed, traceSink: options.traceSink ?? null });
  options.onWorld?.(world);
  const faults = new FaultSchedule(world, Prng.stream(options.seed, 'faults'));
  const livenessMs = livenessMsOf(scenario);
  const totalMs = scenario.durationMs + livenessMs;
  const chosen = { seed: options.seed, ...world.describe(), livenessMs };
  options.onStart?.(chosen);
  world.start();
  faults.schedule(scenario.faults);
  const sliceMs = scenario.checks.sweepEveryMs;
  let pendingMax = 0;
  const stepMs = Math.max(1, Math.min(sliceMs, options.progressEveryMs ?? sliceMs));
  const runTo = (untilMs: number): void => {
    let sweepAtMs = Math.min(untilMs, world.clock.nowMs() + sliceMs);
    for (let t = Math.min(sweepAtMs, world.clock.nowMs() + stepMs); ; t = Math.min(sweepAtMs, t + stepMs)) {
      world.clock.runUntil(t, RUN_EVENTS_MAX - world.clock.processed);
      if (world.clock.processed >= RUN_EVENTS_MAX) throw new Error(`run exceeded ${RUN_EVENTS_MAX} events`);
      if (t >= sweepAtMs) {
        world.checkers.sweep();
        pendingMax = Math.max(pendingMax, world.clock.queue.size);
        if (t >= untilMs) {
          options.onProgress?.(t, totalMs, world.clock.processed);
          return;
        }
        sweepAtMs = Math.min(untilMs, t + sliceMs);
      }
      options.onProgress?.(t, totalMs, world.clock.processed);
    }
  };
  try {
    runTo(scenario.durationMs);
    world.acceptingSteps = false;
    world.trace.note('liveness-phase', {});
    faults.healAll();
    runTo(totalMs);
    world.checkers.checkLiveness();
    world.checkStepsFinished();
  } catch (error) {
    // The system under test threw: the world is no longer trustworthy, so the run ends here.
    const text = error instanceof Error ? `${error.name}: ${error.message} (${(error.stack ?? '').split('\n')[1]?.trim() ?? '?'})` : String(error);
    world.checkers.violate('no-exception', text);
  }
  const metrics = { ...collectMetrics(world), queue_pending_max: pendingMax };
  const violations = world.checkers.violations;
  const expectations = evaluate(scenario, world, metrics);
  const passed = violations.length === 0 && expectations.every((e) => e.passed);
  // Read after the run, never inside it: maxRSS is in KiB.
  const peakRssBytes = process.resourceUsage().maxRSS * 1024;
  return {
    scenario: options.scenarioPath ?? scenario.name ?? '<scenario>',
    name: scenario.name ?? null,
    seed: options.seed,
    peers: world.peerCount,
    events: world.clock.processed,
    virtualMs: world.clock.nowMs(),
    wallMs: Math.round(performance.now() - wallStartMs),
    peakRssBytes,
    bytesPerPeer: Math.round(peakRssBytes / Math.max(1, world.peerCount)),
    traceHash: world.trace.hash.hex(),
    expectations,
    violations,
    metrics,
    options: chosen,
    passed,
    faultTargets: faults.chosenTargets,
    mismatchedSteps: [...world.mismatchedStepKinds],
  };
}

function collectMetrics(world: World): Record<string, number> {
  const checkers = world.checkers;
  const counter = (name: CounterName): number => checkers.counters.get(name) ?? 0;
  const outcome = (key: string): number => world.stepOutcomes.get(key) ?? 0;
  let sessionOutcomes = 0;
  const sessions: Record<string, number> = {};
  for (const [key, count] of world.stepOutcomes) {
    if (!key.startsWith('session:')) continue;
    sessionOutcomes += count;
    const name = key.slice('session:'.length).toLowerCase().replace(/[^a-z0-9]+/g, '_');
    sessions[`session_outcome_${name}`] = (sessions[`session_outcome_${name}`] ?? 0) + count;
  }
  const established = outcome('session:established');
  // Every server process's figures, its crashed incarnations' included (one node, or all of a cluster).
  const sum = (pick: (s: ServerStats) => number): number =>
    world.servers.reduce((total, node) => {
      const stats = node.machine?.stats();
      return node.pastStats.reduce((acc, s) => acc + pick(s), total + (stats === undefined ? 0 : pick(stats)));
    }, 0);
  const delay = checkers.presenceDelay;
  let onlineEnd = 0;
  for (const slot of world.slots) if (slot.driver.truthOnline) onlineEnd += 1;
  const net = world.network.stats;
  const metrics: Record<string, number> = {
    presence_delay_p50_ms: delay.quantile(0.5),
    presence_delay_p99_ms: delay.quantile(0.99),
    presence_delay_max_ms: Math.round(delay.maxMs),
    presence_updates: delay.count,
    session_requests: sessionOutcomes,
    // Sessions, each once (checkers.ts onChatOpenChanged); not the session steps that ended
    // `established`, which a session already open answers too (session_outcome_established).
    sessions_established: counter('sessions_established'),
    session_success_rate: sessionOutcomes === 0 ? 0 : established / sessionOutcomes,
    ...sessions,
    signups_ok: outcome('signup:ok'),
    signups_failed: sumPrefix(world.stepOutcomes, 'signup:') - outcome('signup:ok'),
    logins_ok: outcome('login:ok'),
    logins_failed: sumPrefix(world.stepOutcomes, 'login:') - outcome('login:ok'),
    logouts_ok: outcome('logout:ok'),
    // Logouts the client answered itself (the link dropped before logout.ok): with no fault on the
    // link, a server that never answered them (a healthy run has none).
    logouts_ended_here: counter('logouts_ended_here'),
    server_logins: sum((s) => s.logins),
    server_logins_failed: sum((s) => s.loginsFailed),
    server_signups: sum((s) => s.signups),
    // The server's count: the same whichever driver plays the users.
    resumes: sum((s) => s.resumes),
    reconnects: counter('reconnects'),
    peer_crashes: counter('peer_crashes'),
    server_restarts: counter('server_restarts'),
    p2p_steps_not_run: outcome('chat:NO_P2P_CHANNEL') + outcome('sendFile:NO_P2P_CHANNEL'),
    chat_steps_ok: outcome('chat:ok'),
    chat_sent: counter('chat_sent'),
    chat_received: counter('chat_received'),
    file_steps_ok: outcome('sendFile:ok'),
    files_offered: counter('files_offered'),
    files_received: counter('files_received'),
    file_bytes_received: counter('file_bytes_received'),
    step_mismatches: world.stepMismatchCount,
    peers_online_end: onlineEnd,
    messages_delivered: net.messagesDelivered,
    bytes_delivered: net.bytesDelivered,
    connects: net.connects,
    connects_refused: net.refused,
    connects_timed_out: net.timedOut,
    violations: [...checkers.violationCounts.values()].reduce((a, b) => a + b, 0),
    outcomes_unattributed: counter('outcomes_unattributed'),
    outcomes_after_end: counter('outcomes_after_end'),
    ...world.hostile.hoardMetrics(),
    ...clusterMetrics(world, sum),
  };
  // Every count the simulator keeps, 0 if it never happened, and the per-kind ones the run kept
  // (faults_<kind>); durations in whole ms.
  for (const name of COUNTER_NAMES) if (!(name in metrics)) metrics[name] = counter(name);
  for (const [name, value] of checkers.counters) if (!(name in metrics)) metrics[name] = value;
  for (const name of Object.keys(metrics)) if (name.endsWith('_ms')) metrics[name] = Math.round(metrics[name] as number);
  return metrics;
}

/** A cluster's own figures: what crossed the bus, and logins its degraded nodes refused. */
function clusterMetrics(world: World, sum: (pick: (s: ServerStats) => number) => number): Record<string, number> {
  const cluster = world.cluster;
  if (cluster === null) return {};
  const bus = cluster.bus.stats;
  return {
    nodes: cluster.nodes.length,
    bus_messages_published: bus.published,
    bus_messages_delivered: bus.delivered,
    bus_items_dropped: bus.itemsDropped,
    logins_refused_degraded: sum((s) => s.errors.SERVER_DEGRADED ?? 0),
  };
}

/**
 * Metric families whose members exist only once something happened (one per session outcome, per
 * fault kind, per step kind): an expectation on a member that never occurred reads 0. Every other
 * metric, counters included (COUNTER_NAMES), is in every report; an unknown name is a typo and
 * fails with the list of known metrics.
 */
const ZERO_WHEN_ABSENT_PREFIXES = ['session_outcome_', 'faults_', 'steps_'] as const;

export function metricValue(metrics: Readonly<Record<string, number>>, name: string): number | undefined {
  const value = metrics[name];
  if (value !== undefined) return value;
  return ZERO_WHEN_ABSENT_PREFIXES.some((prefix) => name.startsWith(prefix)) ? 0 : undefined;
}

function sumPrefix(map: ReadonlyMap<string, number>, prefix: string): number {
  let total = 0;
  for (const [key, count] of map) if (key.startsWith(prefix)) total += count;
  return total;
}

function evaluate(scenario: Scenario, world: World, metrics: Record<string, number>): Expectation[] {
  const out: Expectation[] = [];
  for (const [metric, threshold] of Object.entries(scenario.expect.metrics)) {
    const value = metricValue(metrics, metric);
    const bounds = [threshold.min === undefined ? null : `>= ${threshold.min}`, threshold.max === undefined ? null : `<= ${threshold.max}`].filter((b) => b !== null).join(' and ');
    if (value === undefined) {
      out.push({ name: `${metric} ${bounds}`, passed: false, detail: `no such metric (known: ${Object.keys(metrics).join(', ')})` });
      continue;
    }
    const passed = (threshold.min === undefined || value >= threshold.min) && (threshold.max === undefined || value <= threshold.max);
    out.push({ name: `${metric} ${bounds}`, passed, detail: `${metric} = ${value}` });
  }
  for (const checker of scenario.expect.invariants.length > 0 ? scenario.expect.invariants : CHECKER_NAMES) {
    const count = world.checkers.violationCounts.get(checker) ?? 0;
    out.push({ name: `invariant ${checker}`, passed: count === 0, detail: count === 0 ? 'held' : `${count} violations` });
  }
  if (world.stepOutcomes.size > 0 && hasExpectSteps(scenario)) {
    out.push({
      name: 'steps end as scripted',
      passed: world.stepMismatchCount === 0,
      detail: world.stepMismatchCount === 0 ? 'every step with expect ended as expected' : `${world.stepMismatchCount} mismatches: ${world.stepMismatches.join('; ')}`,
    });
  }
  if (scenario.requires.includes('p2p') && !world.p2pAvailable) {
    out.push({ name: 'requires p2p', passed: false, detail: 'chat and file steps need driver: peer-machine (the core/peer/ machine)' });
  }
  return out;
}

function hasExpectSteps(scenario: Scenario): boolean {
  return JSON.stringify(scenario.behaviours).includes('"expect"');
}
