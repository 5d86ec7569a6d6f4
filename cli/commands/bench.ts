/**
 * `p2pchat bench`: options only; the benchmark itself (bench/run.ts) is imported when it runs.
 * stdout carries the report (with --json only the JSON); progress goes to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';

const PHASE_NAMES = ['server', 'held', 'file', 'sim', 'attack'];

function phaseList(value: string): string[] {
  const phases = value.split(',').map((p) => p.trim()).filter((p) => p !== '');
  const unknown = phases.filter((p) => !PHASE_NAMES.includes(p));
  if (phases.length === 0 || unknown.length > 0) throw new InvalidArgumentError(`phases are ${PHASE_NAMES.join(', ')}; got "${value}"`);
  return phases;
}

/** Held clients: at least one, at most what one server process can hold (the fd limit is 20,000). */
const HELD_COUNT_MAX = 19_900;

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
    .addOption(new Option('--phases <list>', `run only these phases (${PHASE_NAMES.join(',')}); the others are reported missing`).env('P2PCHAT_BENCH_PHASES').argParser(phaseList).default(PHASE_NAMES, PHASE_NAMES.join(',')))
    .addOption(new Option('--reference <file>', 'the reference run the CI gate compares with').env('P2PCHAT_BENCH_REFERENCE').default('bench/results/reference.json'))
    .addOption(new Option('--write-reference', 'also save this run as the reference run').env('P2PCHAT_BENCH_WRITE_REFERENCE'))
    .addOption(new Option('--html <file>', 'also write the run as one self-contained HTML page (charts; opens offline)').env('P2PCHAT_BENCH_HTML'))
    .addOption(new Option('--peers', 'also run ejabberd and Prosody (when installed) under the same load, each figure side by side; default in a full run of every phase').env('P2PCHAT_BENCH_PEERS'))
    .addOption(new Option('--no-peers', 'leave the peers out of a full run'))
    .addOption(new Option('--held <count>', "held clients instead of the mode's count, for our held phase and the peers' (the target stays the mode's)").env('P2PCHAT_BENCH_HELD').argParser(heldCount))
    .action(async function (this: Command, opts: { quick?: boolean; json?: boolean; ci?: boolean; phases: string[]; reference: string; writeReference?: boolean; html?: string; peers?: boolean; held?: number }) {
      const quick = opts.quick === true;
      if (quick && opts.peers === true) this.error('error: --peers is part of the full run, not of --quick');
      // A full run of every phase compares with the peers unless told not to; a run of some phases only when asked.
      const peers = !quick && (opts.peers ?? this.getOptionValueSource('phases') === 'default');
      const { runBench } = await import('../../bench/run.ts');
      const code = await runBench({
        quick: opts.quick === true,
        json: opts.json === true,
        ci: opts.ci === true || process.env.CI === 'true',
        phases: opts.phases as Array<'server' | 'held' | 'file' | 'sim' | 'attack'>,
        reference: opts.reference,
        writeReference: opts.writeReference === true,
        ...(opts.html === undefined ? {} : { html: opts.html }),
        peers,
        ...(opts.held === undefined ? {} : { held: opts.held }),
      });
      process.exit(code);
    });
}
