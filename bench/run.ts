/**
 * `p2pchat bench`: runs every phase, bounded by a global deadline, then prints the report
 * (docs/BENCHMARKS.md) as JSON (--json) or a table, writes it under bench/results/, and picks
 * the exit code:
 *
 *   full run, or quick run outside CI:  0 every target met, 3 a target missed or a figure missing
 *   quick run in CI (CI=true or --ci):  the regression gate against bench/results/reference.json:
 *                                       1 a figure missing or more than a third worse than the
 *                                       reference, confirmed by measuring its phases again,
 *                                       else 0 (missed targets are printed)
 *
 * Every process it starts is stopped at the end, on failure, at the deadline and on Ctrl-C.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchConfig, benchConfig } from './config.ts';
import { RESULT_NAMES, type ResultName } from './names.ts';
import { OPT_IN_RESULTS } from './thresholds.ts';
import { PhaseContext } from './phases/context.ts';
import { runHeldPhase } from './phases/held.ts';
import { runServerLoadPhases } from './phases/server-load.ts';
import { runFilePhase } from './phases/file-transfer.ts';
import { runLoginAttackPhase } from './phases/login-attack.ts';
import { runSimPhase } from './phases/sim.ts';
import { runPeersPhase } from './phases/peers.ts';
import { CLUSTER_RESULTS, runClusterPhase } from './phases/cluster.ts';
import { type PeerSection, formatPeers, missingPeerSection, PEER_NAMES } from './peers/peer-report.ts';
import { progress } from './progress.ts';
import { beginStopping, stopAllChildren } from './processes.ts';
import { CONFIRM_ROUNDS_MAX, confirmRegressions, formatGate, regressionGate } from './regression.ts';
import { type BenchReport, type BenchResult, completeResults, failedResults, formatTable, machineInfo } from './report.ts';
import { parseReport } from './report-schema.ts';
import { EXIT_FAILED, EXIT_OK, EXIT_THRESHOLD } from '../cli/exit-codes.ts';
import type { BenchCharts } from './report-html/bench-charts.ts';
import { writeBenchHtml } from './report-html/bench-html.ts';

export const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));
export const REFERENCE_FILE = join(RESULTS_DIR, 'reference.json');

export const PHASES = ['server', 'held', 'file', 'sim', 'attack', 'cluster'] as const;
export type PhaseName = (typeof PHASES)[number];
/**
 * What a run measures when no phases are named: the quick run (CI) leaves the cluster out (it
 * needs PostgreSQL and NATS and minutes of TLS logins; `--cluster N` asks for it); the full run
 * has it.
 */
export const DEFAULT_PHASES: Record<'quick' | 'full', readonly PhaseName[]> = {
  quick: ['server', 'held', 'file', 'sim', 'attack'],
  full: ['server', 'held', 'file', 'sim', 'attack', 'cluster'],
};

const PHASE_RESULTS: Record<PhaseName, readonly ResultName[]> = {
  server: ['login_rate', 'resume_rate', 'presence_fanout_rate', 'session_broker_p99_ms', 'http_healthz_rps', 'http_healthz_p99_under_load_ms'],
  held: ['connections_held', 'rss_per_connection_kb'],
  file: ['file_transfer_mb_s'],
  sim: ['sim_events_rate', 'sim_peers_max'],
  attack: ['login_under_attack_p99_ms'],
  cluster: CLUSTER_RESULTS,
};

const PHASE_RUNNERS: Record<PhaseName, (ctx: PhaseContext) => Promise<void>> = {
  server: runServerLoadPhases,
  held: runHeldPhase,
  file: runFilePhase,
  sim: runSimPhase,
  attack: runLoginAttackPhase,
  cluster: runClusterPhase,
};

export interface BenchOptions {
  readonly quick: boolean;
  readonly json: boolean;
  readonly ci: boolean;
  readonly phases: readonly PhaseName[];
  readonly reference: string;
  /** Also write this run as the reference (bench/results/reference.json by default). */
  readonly writeReference: boolean;
  /** Also write the run as one self-contained HTML page here (`--html FILE`). */
  readonly html?: string;
  /** After the phases, ejabberd and Prosody side by side (phases/peers.ts); full run only. */
  readonly peers?: boolean;
  /** Held clients instead of the mode's count (`--held N`: a smaller run on a shared machine; the target stays the mode's). */
  readonly held?: number;
  /** Server processes of the cluster phase instead of the mode's (`--cluster N`). */
  readonly clusterNodes?: number;
}

/**
 * The peers phase adds to the global deadline: two more servers brought up, filled with accounts
 * and rosters, then loaded like ours (held, presence, logins), plus our logins at matched costs.
 */
const PEERS_DEADLINE_EXTRA_MS = 900_000;
/**
 * The cluster phase adds to the global deadline: its users (50,000 in the full run) log in over
 * TLS on two shared cores, then the presence probe and the hold; a quick cluster run is smaller.
 */
const CLUSTER_DEADLINE_EXTRA_MS: Record<'quick' | 'full', number> = { quick: 240_000, full: 1_200_000 };

/** How long after the deadline the run waits for phases to notice before it reports anyway. */
const DEADLINE_GRACE_MS = 15_000;

interface Measured {
  readonly results: Map<ResultName, BenchResult>;
  readonly deadlinePassed: boolean;
  /** Latency curves and throughput series for --html. */
  readonly charts: BenchCharts;
  /** The peers section, when the run compared with them. */
  readonly peers: PeerSection[];
}

/** Runs the phases in order, each round bounded by the mode's global deadline, in its own scratch directory. */
async function measurePhases(config: BenchConfig, phases: readonly PhaseName[], withPeers = false): Promise<Measured> {
  const tmpDir = await mkdtemp(join(os.tmpdir(), 'p2pchat-bench-'));
  const ctx = new PhaseContext(config, tmpDir);
  progress(`mode ${config.mode}, phases ${phases.join(', ')}, deadline ${config.deadlineMs / 1000} s, scratch ${tmpDir}`);

  let deadlinePassed = false;
  let deadlineTimer: NodeJS.Timeout | undefined;
  const deadline = new Promise<void>((resolve) => {
    deadlineTimer = setTimeout(() => {
      deadlinePassed = true;
      progress(`deadline of ${config.deadlineMs / 1000} s passed: stopping every process`);
      void beginStopping();
      setTimeout(resolve, DEADLINE_GRACE_MS).unref();
    }, config.deadlineMs);
  });
  const running = (async () => {
    for (const phase of phases) {
      if (deadlinePassed) break;
      try {
        await PHASE_RUNNERS[phase](ctx);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        progress(`phase ${phase} failed: ${message}`);
        for (const name of PHASE_RESULTS[phase]) if (!ctx.results.has(name)) ctx.missing(name, `phase ${phase} failed: ${message}`);
      }
    }
    if (withPeers && !deadlinePassed) await runPeersPhase(ctx);
  })();
  try {
    await Promise.race([running, deadline]);
  } finally {
    clearTimeout(deadlineTimer);
    await stopAllChildren();
    await rm(tmpDir, { recursive: true, force: true }).catch(() => {});
  }
  // A peer the run never reached is missing, never a pass.
  const peers = withPeers ? PEER_NAMES.map((peer) => ctx.peers.find((section) => section.peer === peer) ?? missingPeerSection(peer, deadlinePassed ? 'not measured: the global deadline passed first' : 'not measured')) : [];
  return { results: ctx.results, deadlinePassed, charts: ctx.charts, peers };
}

export async function runBench(options: BenchOptions): Promise<number> {
  const mode = options.quick ? 'quick' : 'full';
  const base = benchConfig(mode);
  const sized = { ...base, ...(options.held === undefined ? {} : { held: options.held }), ...(options.clusterNodes === undefined ? {} : { clusterNodes: options.clusterNodes }) };
  const withPeers = options.peers === true ? { ...sized, deadlineMs: sized.deadlineMs + PEERS_DEADLINE_EXTRA_MS } : sized;
  const config = options.phases.includes('cluster') ? { ...withPeers, deadlineMs: withPeers.deadlineMs + CLUSTER_DEADLINE_EXTRA_MS[mode] } : withPeers;
  const startedAt = new Date();
  if (options.peers === true && options.quick) throw new Error('--peers is part of the full run, not of --quick');
  const first = await measurePhases(config, options.phases, options.peers === true);
  const results = first.results;
  const charts = first.charts;
  let deadlinePassed = first.deadlinePassed;

  // Figures of a phase only run when asked for (the cluster) are judged only when it was.
  const judged = RESULT_NAMES.filter((name) => !OPT_IN_RESULTS.has(name) || options.phases.some((p) => PHASE_RESULTS[p].includes(name)));
  const skippedNote = (name: ResultName): string =>
    deadlinePassed
      ? 'not measured: the global deadline passed first'
      : options.phases.some((p) => PHASE_RESULTS[p].includes(name))
        ? 'not measured'
        : OPT_IN_RESULTS.has(name)
          ? 'not measured: the cluster phase runs when asked (--cluster N, or --phases cluster)'
          : 'not measured: phase not selected';
  const reportOf = (): BenchReport => {
    const finishedAt = new Date();
    return {
      machine: { ...machineInfo(mode, 'p2pchat server (cli/main.ts server), own process', startedAt), finishedAt: finishedAt.toISOString(), wallMs: finishedAt.getTime() - startedAt.getTime() },
      results: completeResults([...results.values()], mode).map((r) => (r.missing && r.note?.startsWith('not measured') ? { ...r, note: skippedNote(r.name) } : r)),
      ...(options.peers === true ? { peers: first.peers } : {}),
    };
  };

  const gated = options.ci && options.quick;
  const reference = gated ? await loadReference(options.reference) : null;
  const judge = () => regressionGate(reportOf(), reference ?? emptyReference(reportOf()), judged);
  const outcome = !gated
    ? null
    : deadlinePassed
      ? judge()
      : await confirmRegressions({
          results,
          judge,
          phasesOf: (names) => options.phases.filter((phase) => PHASE_RESULTS[phase].some((name) => names.includes(name))),
          remeasure: async (phases, round) => {
            progress(`regression gate failed; confirming: phases ${phases.join(', ')} again (round ${round} of ${CONFIRM_ROUNDS_MAX})`);
            const again = await measurePhases(config, phases as PhaseName[]);
            deadlinePassed = again.deadlinePassed;
            charts.replaceFrom(again.charts);
            return { results: again.results, stop: again.deadlinePassed };
          },
        });

  const report = reportOf();
  await saveReport(report, options.writeReference);
  if (options.html !== undefined) {
    // The run took minutes and its JSON is saved: a page that cannot be written is said, not fatal.
    try {
      const htmlReference = gated ? reference : (await readReference(options.reference)).report;
      await writeBenchHtml(options.html, { report, reference: htmlReference, referencePath: options.reference, charts });
      progress(`HTML report written to ${options.html}`);
    } catch (error) {
      progress(`could not write the HTML report ${options.html}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (options.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(formatTable(report) + (report.peers === undefined ? '' : `${formatPeers(report.peers).join('\n')}\n`));
  if (outcome !== null) {
    process.stderr.write(formatGate(outcome));
    return outcome.passed ? EXIT_OK : EXIT_FAILED;
  }
  const failed = [...failedResults(report).filter((r) => judged.includes(r.name)).map((r) => r.name), ...(report.peers ?? []).filter((p) => !p.passed).map((p) => `peer ${p.peer}`)];
  if (failed.length > 0) progress(`targets missed: ${failed.join(', ')}`);
  return failed.length > 0 ? EXIT_THRESHOLD : EXIT_OK;
}

/** The reference run, checked; null (with why) when it is missing or unreadable. */
async function readReference(path: string): Promise<{ report: BenchReport | null; problem: string }> {
  try {
    return { report: parseReport(JSON.parse(await readFile(path, 'utf8'))), problem: '' };
  } catch (error) {
    return { report: null, problem: error instanceof Error ? error.message : String(error) };
  }
}

/** The reference run for the CI gate, saying so when there is none. */
async function loadReference(path: string): Promise<BenchReport | null> {
  const { report, problem } = await readReference(path);
  if (report === null) progress(`no usable reference run at ${path} (${problem}): only missing figures fail the gate`);
  return report;
}

/** With no reference, only missing figures fail the gate. */
function emptyReference(report: BenchReport): BenchReport {
  return { machine: report.machine, results: [] };
}

async function saveReport(report: BenchReport, asReference: boolean): Promise<void> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = report.machine.startedAt.replace(/[:.]/g, '-');
  const text = `${JSON.stringify(report, null, 2)}\n`;
  const path = join(RESULTS_DIR, `${report.machine.mode}-${stamp}.json`);
  await writeFile(path, text);
  await writeFile(join(RESULTS_DIR, `latest-${report.machine.mode}.json`), text);
  progress(`report written to ${path}`);
  if (asReference) {
    await writeFile(REFERENCE_FILE, text);
    progress(`reference run written to ${REFERENCE_FILE}`);
  }
}
