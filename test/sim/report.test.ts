/** What a run reports: metrics that never occurred read 0, durations in whole ms, a total line. */
import { describe, expect, it } from 'vitest';
import { totalLine } from '../../sim/command/cli-run.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { COUNTER_NAMES } from '../../sim/checkers/counter-names.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';

describe('the run report', () => {
  const { scenario } = loadScenarioFile('scenarios/logout.yaml');

  it('an expectation on a metric that never occurred reads 0; an unknown name is still an error', () => {
    const report = runScenario(
      { ...scenario, expect: { invariants: [], metrics: { session_outcome_rejected: { max: 0 }, faults_partition: { max: 0 }, no_such_thing: { max: 0 } } } },
      { seed: 4 },
    );
    const byName = new Map(report.expectations.map((e) => [e.name.split(' ')[0], e]));
    expect(byName.get('session_outcome_rejected')).toMatchObject({ passed: true, detail: 'session_outcome_rejected = 0' });
    expect(byName.get('faults_partition')?.passed).toBe(true);
    expect(byName.get('no_such_thing')?.passed).toBe(false);
    expect(byName.get('no_such_thing')?.detail).toMatch(/^no such metric/);
  });

  it('every count the simulator keeps is in the report, 0 when nothing happened (logout.yaml probes nothing, hoards nothing)', () => {
    const report = runScenario({ ...scenario, expect: { invariants: [], metrics: { malformed_probes_excused: { max: 0 }, hoarded_connections_opened: { max: 0 } } } }, { seed: 4 });
    for (const name of COUNTER_NAMES) expect(report.metrics[name], name).toBeTypeOf('number');
    expect(report.metrics).toMatchObject({ malformed_probes: 0, malformed_probes_excused: 0, session_frames_lost: 0, hoarded_connections_opened: 0, hoarded_connections_closed: 0 });
    expect(report.expectations.filter((e) => !e.passed)).toEqual([]);
  });

  it('durations are whole milliseconds', () => {
    const report = runScenario(scenario, { seed: 4 });
    for (const [name, value] of Object.entries(report.metrics)) if (name.endsWith('_ms')) expect(Number.isInteger(value), name).toBe(true);
  });

  it('a multi-run command closes with "N passed, N failed"', () => {
    expect(totalLine([true, true, false])).toBe('2 passed, 1 failed');
    expect(totalLine([])).toBe('0 passed, 0 failed');
  });
});
