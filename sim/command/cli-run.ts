/**
 * The runtime of `p2pchat sim` (options live in cli/commands/sim.ts): loads every scenario first
 * (an invalid one exits 2 before anything runs), prints the SEED line with every chosen option,
 * runs, prints a human summary on stderr and, with --json, exactly the report object of
 * docs/SIMULATOR.md on stdout. --swarm runs each scenario with random seeds and faults and saves the first
 * failure, minimized, as YAML.
 */
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { basename, join } from 'node:path';
import { Progress } from './sim-progress.ts';
import type { RunReport } from './sim-report.ts';
import { summarize } from './sim-report.ts';
import { runScenario } from './run-scenario.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE } from '../../cli/exit-codes.ts';
import { type LoadedScenario, ScenarioError, loadScenarioFile } from '../scenarios/scenario-loader.ts';
import type { Scenario } from '../scenarios/scenario-schema.ts';
import { scenarioToYaml } from '../scenarios/scenario-writer.ts';
import { scenarioSize } from '../swarm/shrink.ts';
import { runSwarm } from '../swarm/swarm.ts';
import { type SwarmSummary, writeSimHtml } from '../report-html/sim-html.ts';
import { type SimRunPage, SimRunRecorder } from '../report-html/sim-timeline.ts';

const TRACE_FLUSH_LINES = 4_096;
const SEED_RANGE = 0x1_0000_0000;

export interface SimCommandOptions {
  readonly json: boolean;
  readonly seed?: number;
  readonly tracePath?: string;
  readonly swarmRuns?: number;
  readonly outDir: string;
  /** Run every seed twice; a run whose two traceHashes differ fails (the `deterministic` invariant). */
  readonly checkDeterminism?: boolean;
  /**
   * Also write the runs as one self-contained HTML page here (`--html FILE`); with --swarm, the
   * swarms' table and the replay of each minimized failure.
   */
  readonly htmlPath?: string;
}

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function seedLine(options: Record<string, string | number>): string {
  const { seed, ...rest } = options;
  return `SEED=${seed} ${Object.entries(rest).map(([k, v]) => `${k}=${v}`).join(' ')}`;
}

/** The closing line of a multi-run command, alone on its line: "16 passed, 0 failed". */
export function totalLine(passed: readonly boolean[]): string {
  const ok = passed.filter((p) => p).length;
  return `${ok} passed, ${passed.length - ok} failed`;
}

/** Buffered trace writer: one JSON line per event. */
class TraceFile {
  private readonly fd: number;
  private lines: string[] = [];
  constructor(path: string) {
    this.fd = openSync(path, 'w');
  }
  readonly sink = (line: string): void => {
    this.lines.push(line);
    if (this.lines.length >= TRACE_FLUSH_LINES) this.flush();
  };
  flush(): void {
    if (this.lines.length === 0) return;
    writeSync(this.fd, `${this.lines.join('\n')}\n`);
    this.lines = [];
  }
  close(): void {
    this.flush();
    closeSync(this.fd);
  }
}

export function runSimCommand(files: readonly string[], options: SimCommandOptions): number {
  const loaded: LoadedScenario[] = [];
  for (const file of files) {
    try {
      loaded.push(loadScenarioFile(file));
    } catch (error) {
      if (!(error instanceof ScenarioError)) throw error;
      log(`invalid scenario: ${error.message}`);
      return EXIT_USAGE;
    }
  }
  if (options.swarmRuns !== undefined) return runSwarms(loaded, options, options.swarmRuns);
  let trace: TraceFile | null = null;
  if (options.tracePath !== undefined) {
    try {
      trace = new TraceFile(options.tracePath);
    } catch (error) {
      log(`cannot write the trace file ${options.tracePath}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      return EXIT_USAGE;
    }
  }
  const runs: RunReport[] = [];
  const pages: SimRunPage[] = [];
  try {
    for (const { path, scenario } of loaded) {
      const recorder = options.htmlPath === undefined ? null : new SimRunRecorder(scenario);
      const seed = options.seed ?? scenario.seed ?? randomInt(SEED_RANGE);
      trace?.sink(JSON.stringify({ t: 0, k: 'run', scenario: path, seed }));
      const progress = new Progress(basename(path));
      const report = runScenario(scenario, {
        seed,
        scenarioPath: path,
        traceSink: trace?.sink ?? null,
        checkDeterminism: options.checkDeterminism === true,
        onStart: (chosen) => log(seedLine(chosen)),
        onProgress: (doneMs, totalMs, events) => {
          progress.update(doneMs, totalMs, events);
          recorder?.sample(doneMs);
        },
        ...(recorder === null ? {} : { onWorld: recorder.attach }),
      });
      if (recorder !== null) pages.push(recorder.finish(report));
      progress.done();
      log(summarize(report));
      runs.push(report);
    }
  } finally {
    trace?.close();
  }
  const htmlWritten = options.htmlPath === undefined || writeHtml(options.htmlPath, pages);
  log(totalLine(runs.map((r) => r.passed)));
  if (options.json) process.stdout.write(`${JSON.stringify({ runs })}\n`);
  // An --html file that could not be written is an invalid option (exit 2), as an unwritable --trace is.
  if (!htmlWritten) return EXIT_USAGE;
  return runs.every((r) => r.passed) ? EXIT_OK : EXIT_FAILED;
}

/** Writes the page; false (and says why) when it cannot be written. */
function writeHtml(path: string, pages: readonly SimRunPage[], swarms?: readonly SwarmSummary[]): boolean {
  try {
    writeSimHtml(path, pages, swarms);
    log(`HTML report written to ${path}`);
    return true;
  } catch (error) {
    log(`cannot write the HTML report ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    return false;
  }
}

/** Runs a saved scenario once more with the page's recorder attached (the swarm runs without one). */
function recordReplay(scenario: Scenario, seed: number, scenarioPath: string): SimRunPage {
  const recorder = new SimRunRecorder(scenario);
  const report = runScenario(scenario, { seed, scenarioPath, traceSink: null, onProgress: (doneMs) => recorder.sample(doneMs), onWorld: recorder.attach });
  return recorder.finish(report);
}

function runSwarms(loaded: readonly LoadedScenario[], options: SimCommandOptions, runsPerScenario: number): number {
  const runs: RunReport[] = [];
  const failures: Array<{ scenario: string; seed: number; minimized: string; peers: number; faults: number; steps: number }> = [];
  const verdicts: boolean[] = [];
  const swarms: SwarmSummary[] = [];
  const pages: SimRunPage[] = [];
  for (const { path, scenario } of loaded) {
    const rootSeed = options.seed ?? randomInt(SEED_RANGE);
    let failedRuns = 0;
    log(`SWARM root seed=${rootSeed} runs=${runsPerScenario} scenario=${path}`);
    const result = runSwarm(scenario, {
      runs: runsPerScenario,
      rootSeed,
      scenarioPath: path,
      checkDeterminism: options.checkDeterminism === true,
      onRun: (report, index, failed) => {
        verdicts.push(!failed);
        if (failed) failedRuns++;
        const missed = report.mismatchedSteps.length === 0 ? '' : ` steps-missed=${report.mismatchedSteps.join(',')}`;
        log(`${failed ? 'FAIL' : 'ok  '} run ${index + 1}/${runsPerScenario} SEED=${report.seed} faults=${report.options.faults} violations=${report.violations.length}${missed} trace=${report.traceHash}`);
      },
    });
    runs.push(...result.reports);
    const failure = result.failure;
    if (failure === null) {
      swarms.push({ scenario: path, rootSeed, runs: result.reports.length, failedRuns, minimized: null });
      continue;
    }
    const size = scenarioSize(failure.shrunk.scenario);
    // The replay is about the broken invariants; the original metric thresholds describe the full-size run.
    const broken = [...new Set(failure.shrunk.report.violations.map((v) => v.checker))];
    // A step that missed its expect fails the replay by itself ("steps end as scripted").
    const minimized = { ...failure.shrunk.scenario, seed: failure.seed, expect: { metrics: {}, invariants: broken.length > 0 ? broken : ['no-exception' as const] } };
    mkdirSync(options.outDir, { recursive: true });
    const outPath = join(options.outDir, `${basename(path).replace(/\.ya?ml$/, '')}-seed${failure.seed}.min.yaml`);
    const first = failure.shrunk.report.violations[0] ?? {
      checker: 'steps end as scripted',
      detail: failure.shrunk.report.expectations.find((e) => e.name === 'steps end as scripted')?.detail ?? '',
    };
    writeFileSync(
      outPath,
      scenarioToYaml(minimized, [
        `Minimized by p2pchat sim --swarm from ${path} (seed ${failure.seed}, ${failure.shrunk.runs} shrink runs).`,
        `Replay: p2pchat sim ${outPath}`,
        `First violation: ${first === undefined ? 'none' : `${first.checker}: ${first.detail}`}`,
      ].join('\n')),
    );
    log(`FAILURE seed=${failure.seed}: ${failure.report.violations.length} violations, steps missed: ${failure.report.mismatchedSteps.join(',') || 'none'}; minimized to ${size.peers} peers, ${size.faults} faults, ${size.steps} steps in ${failure.shrunk.runs} runs`);
    log(`  ${first?.checker ?? ''}: ${first?.detail ?? ''}`);
    log(`  wrote ${outPath}; replay: p2pchat sim ${outPath}`);
    failures.push({ scenario: path, seed: failure.seed, minimized: outPath, ...size });
    swarms.push({ scenario: path, rootSeed, runs: result.reports.length, failedRuns, minimized: outPath });
    if (options.htmlPath !== undefined) pages.push(recordReplay(minimized, failure.seed, outPath));
  }
  const htmlWritten = options.htmlPath === undefined || writeHtml(options.htmlPath, pages, swarms);
  log(totalLine(verdicts));
  // Each run also says the swarm's own verdict (`swarmPassed`): its `passed` is the scenario's
  // expect, metric thresholds and all, which a run under drawn faults may miss without failing.
  if (options.json) process.stdout.write(`${JSON.stringify({ runs: runs.map((run, i) => ({ ...run, swarmPassed: verdicts[i] })), swarm: { failures } })}\n`);
  if (!htmlWritten) return EXIT_USAGE;
  return failures.length === 0 ? EXIT_OK : EXIT_FAILED;
}
