/**
 * The incremental mutation pass CI runs after `npm test` (docs/TESTING.md, "Mutation testing"):
 * `npm run mutate:changed`.
 *
 * Which code: the lines of core/ that changed since the recorded base commit
 * (.ci/mutation-record.json, `baseCommit`: the commit whose core/ the recorded scores were
 * measured on). Only those lines are mutated, so a small change costs a small run however large
 * its file is.
 *
 * The gate: for every touched file, the score of the mutants on its changed lines must reach the
 * file's target: TARGET_PERCENT, or the file's recorded score when that is documented lower (a
 * file whose survivors are explained one by one). A file below its target fails the run.
 *
 * The budget: a pass that would not fit (too many files, too many mutants, or a Stryker run
 * longer than its minutes) is not run, or is stopped, with a SKIPPED banner that says so and how
 * to run it by hand: it never passes silently.
 *
 * Options: `--base REV` (or MUTATE_BASE) diffs against REV instead of the recorded base, e.g.
 * `--base $(git merge-base HEAD main)` on a branch. Budget overrides: MUTATE_FILES_MAX,
 * MUTATE_MUTANTS_MAX, MUTATE_MINUTES_MAX.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Instrumenter } from '@stryker-mutator/instrumenter';
import type { Logger } from '@stryker-mutator/api/logging';

/** The score every file of core/ is held to (issue 17). */
export const TARGET_PERCENT = 90;

/**
 * The default budget, sized for CI's 90 minutes: `npm test` takes 2-8, the quick bench about 3,
 * and on two cores Stryker judges roughly 20-40 mutants a minute with the unit suite of core/.
 */
export const DEFAULT_BUDGET: Budget = { filesMax: 8, mutantsMax: 500, minutesMax: 25 };

export const RECORD_PATH = '.ci/mutation-record.json';
/** Where stryker.changed.config.mjs writes its JSON report. */
const REPORT_PATH = 'reports/mutation-changed/mutation.json';

export interface Budget {
  readonly filesMax: number;
  readonly mutantsMax: number;
  readonly minutesMax: number;
}

/** An inclusive range of 1-based line numbers in the new version of a file. */
export interface LineRange {
  readonly startLine: number;
  readonly endLine: number;
}

export interface MutationRecord {
  /** The commit whose core/ the recorded scores were measured on: the default diff base. */
  readonly baseCommit: string;
  /** Recorded whole-file scores (percent) under `npm run mutate`, for the files measured. */
  readonly scores: Readonly<Record<string, number>>;
}

/** A file's target: TARGET_PERCENT, or its recorded score when that is lower. */
export function targetPercent(file: string, record: MutationRecord): number {
  const recorded = record.scores[file];
  return recorded === undefined ? TARGET_PERCENT : Math.min(TARGET_PERCENT, recorded);
}

/**
 * The new-side line ranges of a `git diff --unified=0` of one file: every hunk that adds or
 * changes lines. A hunk that only deletes lines leaves nothing to mutate and gives no range.
 */
export function changedRanges(unifiedDiff: string): LineRange[] {
  const ranges: LineRange[] = [];
  for (const match of unifiedDiff.matchAll(/^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@/gm)) {
    const startLine = Number(match[1]);
    const count = match[2] === undefined ? 1 : Number(match[2]);
    if (count > 0) ranges.push({ startLine, endLine: startLine + count - 1 });
  }
  return ranges;
}

/** Whether Stryker's `npm run mutate` mutates this path (stryker.config.mjs: core/**, no .d.ts). */
export function isMutable(file: string): boolean {
  return file.startsWith('core/') && file.endsWith('.ts') && !file.endsWith('.d.ts');
}

/** Stryker's `--mutate` argument for one file's ranges: `core/x.ts:10-20`. */
export function mutateArgument(file: string, range: LineRange): string {
  return `${file}:${range.startLine}-${range.endLine}`;
}

export interface MutantResult {
  readonly status: string;
}

export interface FileVerdict {
  readonly file: string;
  readonly killed: number;
  readonly survived: number;
  /** null when no mutant on the changed lines counts (all ignored, or none at all). */
  readonly scorePercent: number | null;
  readonly targetPercent: number;
  readonly pass: boolean;
}

/**
 * One file's verdict from its mutants' statuses, by Stryker's own rule: Killed and Timeout are
 * found, Survived and NoCoverage are not, the rest (Ignored, CompileError, RuntimeError,
 * Pending) do not count.
 */
export function judgeFile(file: string, mutants: readonly MutantResult[], record: MutationRecord): FileVerdict {
  let killed = 0;
  let survived = 0;
  for (const { status } of mutants) {
    if (status === 'Killed' || status === 'Timeout') killed++;
    else if (status === 'Survived' || status === 'NoCoverage') survived++;
  }
  const target = targetPercent(file, record);
  const counted = killed + survived;
  const scorePercent = counted === 0 ? null : (100 * killed) / counted;
  return { file, killed, survived, scorePercent, targetPercent: target, pass: scorePercent === null || scorePercent >= target };
}

/** The verdicts of every touched file in a Stryker JSON report (mutation-testing-report-schema). */
export function judgeReport(report: { files: Record<string, { mutants: MutantResult[] }> }, touched: readonly string[], record: MutationRecord): FileVerdict[] {
  return touched.map((file) => {
    const entry = Object.entries(report.files).find(([name]) => path.resolve(name) === path.resolve(file));
    // A file sent to Stryker for its mutants that is not in the report was not tested at all.
    if (entry === undefined) return { file, killed: 0, survived: 0, scorePercent: null, targetPercent: targetPercent(file, record), pass: false };
    return judgeFile(file, entry[1].mutants, record);
  });
}

export type BudgetCheck = { readonly fits: true } | { readonly fits: false; readonly reason: string };

export function checkBudget(files: number, mutants: number, budget: Budget): BudgetCheck {
  if (files > budget.filesMax) return { fits: false, reason: `${files} touched core files, budget ${budget.filesMax}` };
  if (mutants > budget.mutantsMax) return { fits: false, reason: `${mutants} mutants on the changed lines, budget ${budget.mutantsMax}` };
  return { fits: true };
}

export function skippedBanner(reason: string, mutateArgs: readonly string[]): string {
  const line = '='.repeat(78);
  return [
    line,
    'MUTATION PASS SKIPPED: the touched core code was NOT mutation-tested.',
    `Over budget: ${reason}.`,
    'Run it by hand (it takes as long as it takes):',
    `  npx stryker run stryker.changed.config.mjs --mutate ${mutateArgs.join(',')}`,
    `or re-measure the files and move baseCommit in ${RECORD_PATH} (docs/TESTING.md).`,
    line,
  ].join('\n');
}

function git(args: readonly string[], cwd: string): string {
  const result = spawnSync('git', args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`git ${args.join(' ')} failed: ${result.stderr.trim()}`);
  return result.stdout;
}

/** The touched mutable files of core/ between `base` and HEAD of the repository at `root`, with their changed lines. */
export function touchedCore(base: string, root = '.'): Map<string, LineRange[]> {
  const touched = new Map<string, LineRange[]>();
  const names = git(['diff', '--name-only', '--diff-filter=AMR', base, 'HEAD', '--', 'core'], root).split('\n').filter(isMutable);
  for (const file of names) {
    const ranges = changedRanges(git(['diff', '--unified=0', base, 'HEAD', '--', file], root));
    if (ranges.length > 0) touched.set(file, ranges);
  }
  return touched;
}

/** Stryker's instrumenter wants a logger; counting mutants has nothing worth logging. */
const silentLogger = new Proxy({} as Logger, { get: (_target, key) => (String(key).startsWith('is') ? () => false : () => undefined) });

/** How many mutants Stryker would make on these lines, per file (its own instrumenter, without running a test). */
export async function countMutants(touched: ReadonlyMap<string, readonly LineRange[]>, root = '.'): Promise<Map<string, number>> {
  const files = [...touched].map(([name, ranges]) => ({
    name,
    content: readFileSync(path.join(root, name), 'utf8'),
    // Stryker's own reading of `file:10-20`: 0-based lines, the last line to its end.
    mutate: ranges.map((r) => ({ start: { line: r.startLine - 1, column: 0 }, end: { line: r.endLine - 1, column: Number.MAX_SAFE_INTEGER } })),
  }));
  const counts = new Map<string, number>(files.map((f) => [f.name, 0]));
  if (files.length === 0) return counts;
  const result = await new Instrumenter(silentLogger).instrument(files, { plugins: null, excludedMutations: [], ignorers: [] });
  for (const mutant of result.mutants) counts.set(mutant.fileName, (counts.get(mutant.fileName) ?? 0) + 1);
  return counts;
}

function readRecord(): MutationRecord {
  return JSON.parse(readFileSync(RECORD_PATH, 'utf8')) as MutationRecord;
}

function budgetFromEnv(): Budget {
  const read = (name: string, fallback: number) => (process.env[name] === undefined ? fallback : Number(process.env[name]));
  return {
    filesMax: read('MUTATE_FILES_MAX', DEFAULT_BUDGET.filesMax),
    mutantsMax: read('MUTATE_MUTANTS_MAX', DEFAULT_BUDGET.mutantsMax),
    minutesMax: read('MUTATE_MINUTES_MAX', DEFAULT_BUDGET.minutesMax),
  };
}

/** Runs Stryker on the changed lines; resolves false when it ran past its minutes and was stopped. */
function runStryker(mutateArgs: readonly string[], minutesMax: number): Promise<boolean> {
  // One comma-separated list: a second `--mutate` flag would replace the first.
  const args = ['stryker', 'run', 'stryker.changed.config.mjs', '--mutate', mutateArgs.join(',')];
  return new Promise((resolve, reject) => {
    // Its own process group, so the stop reaches Stryker's test runner processes too.
    const child = spawn('npx', args, { stdio: 'inherit', detached: true });
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      process.kill(-(child.pid as number), 'SIGTERM');
    }, minutesMax * 60_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (stopped) resolve(false);
      else if (code === 0) resolve(true);
      else reject(new Error(`stryker exited with ${code}`));
    });
  });
}

function baseArgument(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('--base');
  return at >= 0 ? argv[at + 1] : process.env.MUTATE_BASE;
}

async function main(): Promise<number> {
  const record = readRecord();
  const base = baseArgument(process.argv.slice(2)) ?? record.baseCommit;
  if (spawnSync('git', ['cat-file', '-e', `${base}^{commit}`]).status !== 0) {
    console.error(`mutate:changed: base commit ${base} is not in this clone (a shallow clone?); fetch the history or pass --base.`);
    return 2;
  }
  const changed = touchedCore(base);
  if (changed.size === 0) {
    console.log(`mutate:changed: no line of core/ changed since ${base}; nothing to mutate.`);
    return 0;
  }
  const counts = await countMutants(changed);
  // Files whose changed lines hold no mutant (types, comments, imports) have nothing to judge.
  const touched = new Map([...changed].filter(([file]) => (counts.get(file) ?? 0) > 0));
  const mutants = [...counts.values()].reduce((sum, n) => sum + n, 0);
  const mutateArgs = [...touched].flatMap(([file, ranges]) => ranges.map((r) => mutateArgument(file, r)));
  const budget = budgetFromEnv();
  console.log(`mutate:changed: ${changed.size} core file(s) touched since ${base}, ${touched.size} with mutants, ${mutants} mutant(s) on the changed lines`);
  const fit = checkBudget(touched.size, mutants, budget);
  if (!fit.fits) {
    console.log(skippedBanner(fit.reason, mutateArgs));
    return 0;
  }
  if (mutants === 0) {
    console.log('mutate:changed: the changed lines hold no mutant; nothing to judge.');
    return 0;
  }
  // A report left by an earlier run must not stand in for this one.
  rmSync(REPORT_PATH, { force: true });
  const finished = await runStryker(mutateArgs, budget.minutesMax);
  if (!finished || !existsSync(REPORT_PATH)) {
    console.log(skippedBanner(`the run took longer than ${budget.minutesMax} minutes and was stopped`, mutateArgs));
    return 0;
  }
  const verdicts = judgeReport(JSON.parse(readFileSync(REPORT_PATH, 'utf8')), [...touched.keys()], record);
  for (const v of verdicts) {
    const score = v.scorePercent === null ? 'no mutant counted' : `${v.scorePercent.toFixed(1)}%`;
    console.log(`${v.pass ? 'ok  ' : 'FAIL'} ${v.file}: ${score} on the changed lines (${v.killed} found, ${v.survived} survived), target ${v.targetPercent}%`);
  }
  const failed = verdicts.filter((v) => !v.pass);
  if (failed.length > 0) {
    console.log(`mutate:changed: ${failed.length} touched file(s) below target: pin the survivors listed above with tests, or explain each in docs/TESTING.md and mark it for Stryker.`);
    return 1;
  }
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(error);
      process.exit(2);
    },
  );
}
