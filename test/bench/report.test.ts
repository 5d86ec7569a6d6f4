import { describe, expect, it } from 'vitest';
import { RESULT_NAMES } from '../../bench/names.ts';
import { completeResults, formatTable, machineInfo, makeResult, missingResult } from '../../bench/report.ts';
import { parseReport } from '../../bench/report-schema.ts';
import { thresholdFor } from '../../bench/thresholds.ts';

describe('bench report', () => {
  it('has every contract field on a measured result, with ratio = value / baseline', () => {
    const result = makeResult('login_rate', 'quick', { value: 45, baseline: 50 });
    expect(result).toMatchObject({ name: 'login_rate', value: 45, unit: 'logins/s', baseline: 50, ratio: 0.9, threshold: 0.85, passed: true });
    expect(Object.keys(result)).toEqual(expect.arrayContaining(['name', 'value', 'unit', 'baseline', 'ratio', 'threshold', 'passed']));
  });

  it('fails a ratio below its minimum and a value above its maximum', () => {
    expect(makeResult('login_rate', 'full', { value: 40, baseline: 50 }).passed).toBe(false);
    expect(makeResult('session_broker_p99_ms', 'full', { value: 20.5 }).passed).toBe(false);
    expect(makeResult('session_broker_p99_ms', 'full', { value: 19 }).passed).toBe(true);
    expect(makeResult('rss_per_connection_kb', 'full', { value: 31, baseline: 10 }).passed).toBe(false);
  });

  it('passes a figure without target when measured, with null baseline, ratio and threshold', () => {
    expect(makeResult('resume_rate', 'quick', { value: 1234 })).toMatchObject({ baseline: null, ratio: null, threshold: null, passed: true });
  });

  it('fails a figure whose baseline could not be measured', () => {
    expect(makeResult('http_healthz_rps', 'quick', { value: 1000, baseline: 0 }).passed).toBe(false);
  });

  it('holds connections_held against the count of the mode', () => {
    expect(thresholdFor('connections_held', 'full')?.limit).toBe(19_000);
    expect(makeResult('connections_held', 'full', { value: 18_999 }).passed).toBe(false);
    expect(makeResult('connections_held', 'quick', { value: thresholdFor('connections_held', 'quick')!.limit }).passed).toBe(true);
  });

  it('lists a missing figure as failed with value null and a note', () => {
    expect(missingResult('sim_events_rate', 'quick', 'no simulator')).toMatchObject({ value: null, passed: false, missing: true, note: 'no simulator' });
  });

  it('completes the results with every contract name, in contract order', () => {
    const results = completeResults([makeResult('resume_rate', 'quick', { value: 1 })], 'quick');
    expect(results.map((r) => r.name)).toEqual([...RESULT_NAMES]);
    expect(results.filter((r) => r.missing)).toHaveLength(RESULT_NAMES.length - 1);
  });

  it('round-trips through JSON and the report schema, and prints a table naming every figure', () => {
    const report = { machine: machineInfo('quick', 'test', new Date(0)), results: completeResults([makeResult('login_rate', 'quick', { value: 1, baseline: 2 })], 'quick') };
    expect(parseReport(JSON.parse(JSON.stringify(report)))).toEqual(report);
    const table = formatTable(report);
    for (const name of RESULT_NAMES) expect(table).toContain(name);
    expect(table).toContain('MISSING');
  });
});
