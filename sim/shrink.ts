/**
 * Shrinks a failing scenario by deletion (greedy delta debugging): try removing a fault, halving
 * or dropping a population, deleting or unwrapping a step, thinning the friend graph, halving the
 * duration; keep any change after which the run (same seed) still fails the same way, and start
 * over, until no single deletion keeps the failure or the run budget is spent.
 */
import type { RunReport } from './report.ts';
import { type Scenario, type Step, scenarioSchema } from './scenario-schema.ts';

export const SHRINK_RUNS_MAX = 300;

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
  stillFails: (report: RunReport) => boolean,
  runsMax = SHRINK_RUNS_MAX,
): ShrinkResult {
  let best = failing;
  let bestReport = report;
  let runs = 0;
  for (let improved = true; improved && runs < runsMax; ) {
    improved = false;
    for (const candidate of candidates(best)) {
      if (runs >= runsMax) break;
      const parsed = scenarioSchema.safeParse(candidate);
      if (!parsed.success) continue;
      runs += 1;
      let result: RunReport;
      try {
        result = run(parsed.data);
      } catch {
        continue;
      }
      if (!stillFails(result)) continue;
      best = parsed.data;
      bestReport = result;
      improved = true;
      break;
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
      for (const count of [1, Math.ceil(population.count / 2)]) {
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
}

function namesOf(population: Scenario['populations'][number]): string[] {
  if (population.count === 1) return [population.username ?? population.name];
  return Array.from({ length: population.count }, (_, i) => `${population.name}${i}`);
}
