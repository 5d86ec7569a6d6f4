/**
 * `p2pchat bench`: options only; the benchmark itself (bench/run.ts) is imported when it runs.
 * stdout carries the report (with --json only the JSON); progress goes to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

const PHASE_NAMES = ['server', 'held', 'file', 'sim', 'attack', 'cluster'];
/** What runs when no phases are named: the quick run leaves the cluster out unless --cluster asks for it. */
const DEFAULT_PHASES = { quick: ['server', 'held', 'file', 'sim', 'attack'], full: PHASE_NAMES };

function phaseList(value: string): string[] {
  const phases = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const unknown = phases.filter((p) => !PHASE_NAMES.includes(p));
  if (phases.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`phases are ${PHASE_NAMES.join(', ')}; got "${value}"`);
  return phases;
}

/** Held clients: at least one, at most what one server process can hold (the fd limit is 20,000). */
const HELD_COUNT_MAX = 19_900;

/** Cluster nodes: at least two (one is not a cluster); at most what two cores can start and fill. */
const CLUSTER_NODES_MIN = 2;
const CLUSTER_NODES_MAX = 8;

function clusterNodes(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < CLUSTER_NODES_MIN || count > CLUSTER_NODES_MAX) throw new InvalidArgumentError(`--cluster is a count of nodes from ${CLUSTER_NODES_MIN} to ${CLUSTER_NODES_MAX}; got "${value}"`);
  return count;
}

function heldCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > HELD_COUNT_MAX) throw new InvalidArgumentError(`--held is a count from 1 to ${HELD_COUNT_MAX}; got "${value}"`);
  return count;
}

export function benchCommand(): Command {
  return new Command('bench')
    .description('load benchmarks of the real server and clients on loopback, each figure beside a baseline measured in the same run')
    .exitOverride()
    .addOption(new Option('--quick', 'every figure at a smaller size (under five minutes); the CI regression gate').env('P2PCHAT_BENCH_QUICK'))
    .addOption(new Option('--json', 'print only the JSON report on stdout').env('P2PCHAT_BENCH_JSON'))
    .addOption(new Option('--ci', 'compare with the reference run and fail (exit 1) on a missing or regressed figure; default when CI=true').env('P2PCHAT_BENCH_CI'))
    .addOption(new Option('--phases <list>', `run only these phases (${PHASE_NAMES.join(',')}); the others are reported missing`).env('P2PCHAT_BENCH_PHASES').argParser(phaseList))
    .addOption(new Option('--reference <file>', 'the reference run the CI gate compares with').env('P2PCHAT_BENCH_REFERENCE').default('bench/results/reference.json'))
    .addOption(new Option('--write-reference', 'also save this run as the reference run').env('P2PCHAT_BENCH_WRITE_REFERENCE'))
    .addOption(new Option('--html <file>', 'also write the run as one self-contained HTML page (charts; opens offline)').env('P2PCHAT_BENCH_HTML'))
    .addOption(new Option('--peers', 'also run ejabberd and Prosody (when installed) under the same load, each figure side by side; default in a full run of every phase').env('P2PCHAT_BENCH_PEERS'))
    .addOption(new Option('--no-peers', 'leave the peers out of a full run'))
    .addOption(
      new Option('--cluster <nodes>', 'also run the cluster phase: this many server processes sharing PostgreSQL and NATS (scripts/services.sh), holding 50,000 users in a full run (docs/CLUSTER.md)')
        .env('P2PCHAT_BENCH_CLUSTER')
        .argParser(clusterNodes),
    )
    .addOption(new Option('--held <count>', "held clients instead of the mode's count, for our held phase and the peers' (the target stays the mode's)").env('P2PCHAT_BENCH_HELD').argParser(heldCount))
    .action(async function (this: Command, opts: { quick?: boolean; json?: boolean; ci?: boolean; phases?: string[]; reference: string; writeReference?: boolean; html?: string; peers?: boolean; held?: number; cluster?: number }) {
      const quick = opts.quick === true;
      const named = opts.phases !== undefined;
      const chosen = opts.phases ?? DEFAULT_PHASES[quick ? 'quick' : 'full'];
      // --cluster N adds the phase to whatever runs (alone with --phases cluster).
      const phases = opts.cluster !== undefined && !chosen.includes('cluster') ? [...chosen, 'cluster'] : chosen;
      if (quick && opts.peers === true) this.error('error: --peers is part of the full run, not of --quick');
      // A full run of every phase compares with the peers unless told not to; a run of some phases only when asked.
      const peers = !quick && (opts.peers ?? !named);
      const { runBench } = await import('../../bench/run.ts');
      const code = await runBench({
        quick: opts.quick === true,
        json: opts.json === true,
        ci: opts.ci === true || process.env.CI === 'true',
        phases: phases as Array<'server' | 'held' | 'file' | 'sim' | 'attack' | 'cluster'>,
        reference: opts.reference,
        writeReference: opts.writeReference === true,
        ...(opts.html === undefined ? {} : { html: opts.html }),
        peers,
        ...(opts.held === undefined ? {} : { held: opts.held }),
        ...(opts.cluster === undefined ? {} : { clusterNodes: opts.cluster }),
      });
      process.exit(code);
    });
}
