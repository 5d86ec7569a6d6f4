/**
 * Shrinks a failing scenario by deletion (greedy delta debugging): try removing a fault or half of
 * its targets, halving or dropping a population, deleting or unwrapping a step, thinning the friend
 * graph, halving the duration; keep any change after which the run (same seed) still fails the
 * same way and walk on, pass after pass, until a whole pass keeps nothing or the run budget is
 * spent.
 */
import type { RunReport } from '../command/sim-report.ts';
import { type Scenario, type Step, scenarioSchema } from '../scenarios/scenario-schema.ts';

export const SHRINK_RUNS_MAX = 300;
/** Fault spans and start times are halved down to about this, no further (finer adds nothing to a replay). */
const FAULT_SPAN_MS_MIN = 500;

export interface ShrinkResult {
  readonly scenario: Scenario;
  readonly report: RunReport;
  readonly runs: number;
}

export function scenarioSize(scenario: Scenario): { peers: number; faults: number; steps: number } {
  let steps = 0;
  const count = (list: readonly Step[]): void => {
    for (const step of list) {
      steps += 1;
      if (typeof step === 'object' && 'choose' in step) for (const branch of step.choose) count(branch.steps);
      if (typeof step === 'object' && 'repeat' in step) count(step.repeat.steps);
    }
  };
  for (const steps of Object.values(scenario.behaviours)) count(steps);
  return { peers: scenario.populations.reduce((a, p) => a + p.count, 0), faults: scenario.faults.length, steps };
}

export function shrinkScenario(
  failing: Scenario,
  report: RunReport,
  run: (scenario: Scenario) => RunReport,
  /** Whether a candidate's run (and the candidate itself, for a control run) still fails the same way. */
  stillFails: (report: RunReport, candidate: Scenario) => boolean,
  runsMax = SHRINK_RUNS_MAX,
): ShrinkResult {
  let best = failing;
  let bestReport = report;
  let runs = 0;
  // A run is a pure function of its scenario and seed: a candidate met again is not run again.
  const tried = new Set<string>();
  // Passes over the candidates until one keeps nothing. After a kept candidate the walk goes on
  // from the same place in the new scenario's candidates rather than from the top: starting over
  // re-ran every earlier (already refused) deletion after each success, most of a 300-run budget
  // on a failure that needed many single deletions.
  for (let improved = true; improved && runs < runsMax; ) {
    improved = false;
    let resumeAt = 0;
    for (let kept = true; kept && runs < runsMax; ) {
      kept = false;
      let index = 0;
      for (const candidate of candidates(best)) {
        if (index++ < resumeAt) continue;
        if (runs >= runsMax) break;
        const parsed = scenarioSchema.safeParse(candidate);
        if (!parsed.success) continue;
        const key = JSON.stringify(parsed.data);
        if (tried.has(key)) continue;
        tried.add(key);
        runs += 1;
        let result: RunReport;
        try {
          result = run(parsed.data);
        } catch {
          continue;
        }
        if (!stillFails(result, parsed.data)) continue;
        best = parsed.data;
        bestReport = result;
        improved = true;
        kept = true;
        resumeAt = index - 1;
        break;
      }
    }
  }
  return { scenario: best, report: bestReport, runs };
}

function clone(scenario: Scenario): Scenario {
  return structuredClone(scenario);
}

/** Every one-deletion variant of a scenario, the most reducing first. */
function* candidates(s: Scenario): Generator<Scenario> {
  for (let i = 0; i < s.faults.length; i++) {
    const c = clone(s);
    c.faults.splice(i, 1);
    yield c;
  }
  for (let i = 0; i < s.faults.length; i++) {
    const fault = s.faults[i];
    const peers = fault !== undefined && 'peers' in fault ? fault.peers : undefined;
    if (peers === undefined || peers.length < 2) continue;
    // Halves first (delta debugging): one bug-making target among a hundred is found in a few
    // runs, where dropping one target at a time took a run per target.
    if (peers.length >= 4) {
      const half = Math.floor(peers.length / 2);
      for (const keep of [peers.slice(0, half), peers.slice(half)]) {
        const c = clone(s);
        const target = c.faults[i];
        if (target !== undefined && 'peers' in target) target.peers = [...keep];
        yield c;
      }
    }
    for (let p = 0; p < peers.length; p++) {
      const c = clone(s);
      const target = c.faults[i];
      if (target !== undefined && 'peers' in target && target.peers !== undefined) target.peers.splice(p, 1);
      yield c;
    }
  }
  for (let i = 0; i < s.populations.length; i++) {
    if (s.populations.length > 1) {
      const c = clone(s);
      const [removed] = c.populations.splice(i, 1);
      const gone = new Set(removed === undefined ? [] : namesOf(removed));
      c.friends.pairs = c.friends.pairs.filter(([a, b]) => !gone.has(a) && !gone.has(b));
      yield c;
    }
    const population = s.populations[i];
    if (population !== undefined && population.count > 1) {
      // The fewest peers that keep every peer the scenario names (pinned fault targets, pairs).
      const named = namedIndexMax(s, population.name) + 1;
      for (const count of new Set([1, Math.max(1, named), Math.ceil(population.count / 2), population.count - 1])) {
        if (count >= population.count) continue;
        const c = clone(s);
        const target = c.populations[i];
        if (target !== undefined) target.count = count;
        yield c;
      }
    }
  }
  if (s.friends.random !== undefined || s.friends.powerLaw !== undefined) {
    const c = clone(s);
    delete c.friends.random;
    delete c.friends.powerLaw;
    if (c.friends.pairs.length === 0) c.friends.pairs = [];
    yield c;
  }
  for (const name of Object.keys(s.behaviours)) {
    const steps = s.behaviours[name] ?? [];
    for (let i = 0; i < steps.length; i++) {
      const c = clone(s);
      (c.behaviours[name] ?? []).splice(i, 1);
      yield c;
      const step = steps[i];
      if (typeof step === 'object' && 'choose' in step) {
        for (const branch of step.choose) {
          const u = clone(s);
          (u.behaviours[name] ?? []).splice(i, 1, ...structuredClone(branch.steps));
          yield u;
        }
      }
      if (typeof step === 'object' && 'repeat' in step) {
        const u = clone(s);
        (u.behaviours[name] ?? []).splice(i, 1, ...structuredClone(step.repeat.steps));
        yield u;
      }
    }
  }
  if (s.server.randomLimits) {
    const c = clone(s);
    c.server.randomLimits = false;
    yield c;
  }
  if (s.arrivals !== undefined) {
    const c = clone(s);
    delete c.arrivals;
    yield c;
  }
  if (s.durationMs > 1_000) {
    const c = clone(s);
    c.durationMs = Math.ceil(s.durationMs / 2);
    c.faults = c.faults.filter((f) => f.atMs < c.durationMs);
    yield c;
  }
  yield* faultScheduleCandidates(s);
}

/** Shorter faults, and faults that start earlier: the schedule shrinks too, not only its length. */
function* faultScheduleCandidates(s: Scenario): Generator<Scenario> {
  for (let i = 0; i < s.faults.length; i++) {
    const fault = s.faults[i] as Scenario['faults'][number];
    for (const field of ['durationMs', 'downMs'] as const) {
      const value = (fault as Partial<Record<typeof field, number>>)[field];
      if (value === undefined || value < FAULT_SPAN_MS_MIN * 2) continue;
      const c = clone(s);
      (c.faults[i] as Partial<Record<typeof field, number>>)[field] = Math.round(value / 2);
      yield c;
    }
    if (fault.atMs >= FAULT_SPAN_MS_MIN * 2) {
      const c = clone(s);
      (c.faults[i] as { atMs: number }).atMs = Math.round(fault.atMs / 2);
      c.faults.sort((a, b) => a.atMs - b.atMs);
      yield c;
    }
  }
}

function namesOf(population: Scenario['populations'][number]): string[] {
  if (population.count === 1) return [population.username ?? population.name];
  return Array.from({ length: population.count }, (_, i) => `${population.name}${i}`);
}

/** The highest index of a peer of this population that the scenario names, or -1. */
function namedIndexMax(scenario: Scenario, populationName: string): number {
  const names: string[] = [...scenario.friends.pairs.flat()];
  for (const fault of scenario.faults) if ('peers' in fault && fault.peers !== undefined) names.push(...fault.peers);
  let max = -1;
  for (const name of names) {
    if (!name.startsWith(populationName)) continue;
    const suffix = name.slice(populationName.length);
    if (/^(0|[1-9][0-9]*)$/.test(suffix)) max = Math.max(max, Number(suffix));
  }
  return max;
}
