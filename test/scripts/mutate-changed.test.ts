// The incremental mutation pass CI runs (scripts/mutate-changed.ts): which lines it mutates, when it
// refuses to run, and when it fails the build. Stryker itself is not run here (that is
// `npm run mutate:changed`); its report is given as data.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_BUDGET,
  RECORD_PATH,
  TARGET_PERCENT,
  changedRanges,
  checkBudget,
  countMutants,
  judgeReport,
  skippedBanner,
  touchedCore,
  type MutationRecord,
} from '../../scripts/mutate-changed.ts';

const record: MutationRecord = { baseCommit: 'abc', scores: { 'core/low.ts': 80 } };

function report(statuses: Record<string, string[]>) {
  return { files: Object.fromEntries(Object.entries(statuses).map(([file, list]) => [file, { mutants: list.map((status) => ({ status })) }])) };
}

describe('mutate:changed judges the touched files', () => {
  it('fails a touched file whose changed lines score below 90%', () => {
    const nine = Array<string>(8).fill('Killed');
    const [verdict] = judgeReport(report({ 'core/x.ts': [...nine, 'Survived', 'NoCoverage'] }), ['core/x.ts'], record);
    expect(verdict).toMatchObject({ killed: 8, survived: 2, scorePercent: 80, targetPercent: TARGET_PERCENT, pass: false });
  });

  it('passes a file at exactly its target, counting a timeout as found and an ignored mutant not at all', () => {
    const [verdict] = judgeReport(report({ 'core/x.ts': [...Array<string>(8).fill('Killed'), 'Timeout', 'Survived', 'Ignored', 'CompileError'] }), ['core/x.ts'], record);
    expect(verdict).toMatchObject({ killed: 9, survived: 1, scorePercent: 90, pass: true });
  });

  it('holds a file with a lower recorded score to that score, not to 90%', () => {
    const eightyOf100 = [...Array<string>(4).fill('Killed'), 'Survived'];
    expect(judgeReport(report({ 'core/low.ts': eightyOf100 }), ['core/low.ts'], record)[0]?.pass).toBe(true);
    const seventyFive = [...Array<string>(3).fill('Killed'), 'Survived'];
    expect(judgeReport(report({ 'core/low.ts': seventyFive }), ['core/low.ts'], record)[0]?.pass).toBe(false);
  });

  it('passes a touched file whose mutants were all ignored (static code)', () => {
    expect(judgeReport(report({ 'core/x.ts': ['Ignored'] }), ['core/x.ts'], record)[0]).toMatchObject({ scorePercent: null, pass: true });
  });

  it('fails a file sent to Stryker that its report does not hold (it was not tested)', () => {
    expect(judgeReport(report({ 'core/y.ts': ['Killed'] }), ['core/x.ts'], record)[0]).toMatchObject({ pass: false });
  });
});

describe('mutate:changed stays within its budget, loudly', () => {
  it('refuses a pass with too many files or mutants, and says which', () => {
    expect(checkBudget(DEFAULT_BUDGET.filesMax, DEFAULT_BUDGET.mutantsMax, DEFAULT_BUDGET)).toEqual({ fits: true });
    expect(checkBudget(DEFAULT_BUDGET.filesMax + 1, 1, DEFAULT_BUDGET)).toMatchObject({ fits: false, reason: expect.stringContaining('touched core files') });
    expect(checkBudget(1, DEFAULT_BUDGET.mutantsMax + 1, DEFAULT_BUDGET)).toMatchObject({ fits: false, reason: expect.stringContaining('mutants') });
  });

  it('the SKIPPED banner says the code was not tested and how to run it by hand', () => {
    const banner = skippedBanner('501 mutants on the changed lines, budget 500', ['core/codec.ts:10-20']);
    expect(banner).toMatch(/SKIPPED.*NOT mutation-tested/);
    expect(banner).toContain('--mutate core/codec.ts:10-20');
  });

  it('the default budget leaves CI inside its 90 minutes (npm test up to 8, the quick bench about 3, setup)', () => {
    expect(DEFAULT_BUDGET.minutesMax + 8 + 3 + 15).toBeLessThanOrEqual(60);
  });
});

describe('mutate:changed mutates only the lines a change touched', () => {
  it('reads the new-side line ranges of a unified diff, and none for a pure deletion', () => {
    const diff = ['@@ -3,0 +4,2 @@', '+a', '+b', '@@ -10 +12 @@', '-x', '+y', '@@ -20,3 +22,0 @@', '-gone'].join('\n');
    expect(changedRanges(diff)).toEqual([
      { startLine: 4, endLine: 5 },
      { startLine: 12, endLine: 12 },
    ]);
  });

  const root = mkdtempSync(path.join(tmpdir(), 'mutate-changed-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', ...args], { cwd: root, encoding: 'utf8' });
  const write = (file: string, text: string) => {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  };

  it('in a repository: only changed lines of core/ .ts files count (not tests, not .d.ts, not deleted files)', async () => {
    git('init', '-q');
    const lines = (n: number, changed?: number) => Array.from({ length: n }, (_, i) => `export const v${i} = ${i === changed ? 'a > b' : i};`).join('\n') + '\n';
    write('core/a.ts', lines(10));
    write('core/gone.ts', lines(3));
    write('core/t.d.ts', 'export declare const x: number;\n');
    git('add', '.');
    git('commit', '-qm', 'base');
    const base = git('rev-parse', 'HEAD').trim();
    write('core/a.ts', lines(10, 6));
    write('core/b.ts', 'export const b = 1 + 2;\n');
    write('core/t.d.ts', 'export declare const y: number;\n');
    write('test/a.test.ts', 'x\n');
    rmSync(path.join(root, 'core/gone.ts'));
    git('add', '-A');
    git('commit', '-qm', 'change');
    const touched = touchedCore(base, root);
    expect([...touched.keys()].sort()).toEqual(['core/a.ts', 'core/b.ts']);
    expect(touched.get('core/a.ts')).toEqual([{ startLine: 7, endLine: 7 }]);
    // Line 7 of a.ts, `a > b`, holds Stryker's four mutants (>=, <=, true, false); its neighbours none.
    const counts = await countMutants(touched, root);
    expect(Object.fromEntries(counts)).toEqual({ 'core/a.ts': 4, 'core/b.ts': 1 });
    const count = async (startLine: number, endLine: number) => (await countMutants(new Map([['core/a.ts', [{ startLine, endLine }]]]), root)).get('core/a.ts');
    expect(await count(1, 10)).toBe(4);
    expect(await count(6, 6)).toBe(0);
    expect(await count(8, 8)).toBe(0);
  });
});

describe('the mutation record', () => {
  const recorded = JSON.parse(readFileSync(RECORD_PATH, 'utf8')) as MutationRecord;

  it('its base commit is a full commit id and every recorded score is a core/ file listed with that score in docs/TESTING.md', () => {
    expect(recorded.baseCommit).toMatch(/^[0-9a-f]{40}$/);
    const testing = readFileSync('docs/TESTING.md', 'utf8');
    for (const [file, score] of Object.entries(recorded.scores)) {
      expect(testing).toContain(`| ${file} | ${score.toFixed(1)}% |`);
    }
  });

  it('CI runs the pass right after npm test', () => {
    const ci = readFileSync('.ci/run', 'utf8');
    expect(ci).toMatch(/\nnpm test\n(?:#[^\n]*\n)*npm run mutate:changed\n/);
  });
});
