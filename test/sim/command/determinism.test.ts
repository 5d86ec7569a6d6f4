import { describe, expect, it } from 'vitest';
import { runScenario } from '../../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../../sim/scenarios/scenario-loader.ts';

describe('determinism', () => {
  // Faults, crashes, reconnects with random backoff and random friend graphs: everything that
  // draws randomness is exercised.
  const { scenario } = loadScenarioFile('scenarios/server-crash-restart.yaml');
  const small = { ...scenario, populations: scenario.populations.map((p) => ({ ...p, count: 60 })) };

  it('same scenario and seed give the same traceHash, event count and metrics, and the same trace lines', () => {
    const linesA: string[] = [];
    const linesB: string[] = [];
    const a = runScenario(small, { seed: 99, traceSink: (l) => linesA.push(l) });
    const b = runScenario(small, { seed: 99, traceSink: (l) => linesB.push(l) });
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.events).toBe(a.events);
    expect(b.metrics).toEqual(a.metrics);
    expect(linesB).toEqual(linesA);
    expect(linesA.length).toBeGreaterThan(1_000);
  });

  it('another seed gives another traceHash', () => {
    const a = runScenario(small, { seed: 99 });
    const c = runScenario(small, { seed: 100 });
    expect(c.traceHash).not.toBe(a.traceHash);
  });

  it('finer progress calls (for the bench chart) do not change the run, and sweeps stay where they were', () => {
    const coarse: number[] = [];
    const fine: number[] = [];
    const a = runScenario(small, { seed: 7, onProgress: (doneMs) => coarse.push(doneMs) });
    const b = runScenario(small, { seed: 7, progressEveryMs: 250, onProgress: (doneMs) => fine.push(doneMs) });
    expect(b.traceHash).toBe(a.traceHash);
    expect(b.metrics).toEqual(a.metrics);
    expect(fine.length).toBeGreaterThan(coarse.length * 4);
    expect(coarse.every((t) => fine.includes(t))).toBe(true);
    expect(fine).toEqual([...fine].sort((x, y) => x - y));
  });

  it('writing a trace does not change the run', () => {
    const silent = runScenario(small, { seed: 5 });
    const traced = runScenario(small, { seed: 5, traceSink: () => {} });
    expect(traced.traceHash).toBe(silent.traceHash);
  });
});
