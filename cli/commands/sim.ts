/**
 * `p2pchat sim FILE...`: options only; the simulator (sim/command/cli-run.ts) is imported when it runs.
 *
 * stdout carries the report only with --json (docs/SIMULATOR.md); the SEED line, the human
 * summary and the progress bar go to stderr. Exit 0 when every expectation passed and no
 * invariant was violated, 1 otherwise, 2 when a scenario file (or an option) is invalid.
 */
import { Command, Option } from 'commander';
import { integerIn } from './option-parsers.ts';

const SEED_MAX = 0xffff_ffff;
const SWARM_RUNS_MAX = 100_000;

export function simCommand(): Command {
  return new Command('sim')
    .description('replay YAML scenarios in the deterministic simulator (real server machine, in-memory network, virtual time)')
    .exitOverride()
    .argument('<files...>', 'scenario files (see scenarios/README.md)')
    .addOption(new Option('--seed <n>', 'root seed of every run (default: the scenario\'s seed, else random)').env('P2PCHAT_SIM_SEED').argParser(integerIn('--seed', 0, SEED_MAX)))
    .addOption(new Option('--json', 'print only the JSON report on stdout').env('P2PCHAT_SIM_JSON'))
    .addOption(new Option('--trace <file>', 'write one JSON line per event to this file (diff two runs)').env('P2PCHAT_SIM_TRACE'))
    .addOption(new Option('--swarm <n>', 'run each scenario n times with random seeds and random faults; shrink and save the first failure (with --html: the swarms and each minimized failure drawn)').env('P2PCHAT_SIM_SWARM').argParser(integerIn('--swarm', 1, SWARM_RUNS_MAX)))
    .addOption(new Option('--html <file>', 'also write the runs as one self-contained HTML page (timeline, presence delays, checkers; opens offline)').env('P2PCHAT_SIM_HTML'))
    .addOption(new Option('--out <dir>', 'where --swarm writes minimized failing scenarios').env('P2PCHAT_SIM_OUT').default('sim-failures'))
    .addOption(new Option('--check-determinism', 'run every seed twice; fail when the two traceHashes differ').env('P2PCHAT_SIM_CHECK_DETERMINISM'))
    .action(async (files: string[], opts: { seed?: number; json?: boolean; trace?: string; swarm?: number; out: string; html?: string; checkDeterminism?: boolean }) => {
      const { runSimCommand } = await import('../../sim/command/cli-run.ts');
      const code = runSimCommand(files, {
        json: opts.json === true,
        outDir: opts.out,
        checkDeterminism: opts.checkDeterminism === true,
        ...(opts.seed === undefined ? {} : { seed: opts.seed }),
        ...(opts.trace === undefined ? {} : { tracePath: opts.trace }),
        ...(opts.swarm === undefined ? {} : { swarmRuns: opts.swarm }),
        ...(opts.html === undefined ? {} : { htmlPath: opts.html }),
      });
      process.exitCode = code;
    });
}
