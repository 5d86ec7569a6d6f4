/**
 * The `p2pchat` command. Each subcommand's options live in a light file under cli/commands/;
 * its runtime is imported only when that subcommand runs, so start-up stays fast.
 *
 * Exit codes: cli/exit-codes.ts.
 */
import { Command, CommanderError } from 'commander';
import { benchCommand } from './commands/bench.ts';
import { clientCommand } from './commands/client.ts';
import { serverCommand } from './commands/server.ts';
import { simCommand } from './commands/sim.ts';
import { EXIT_OK, EXIT_USAGE } from './exit-codes.ts';

const program = new Command('p2pchat')
  .description('Peer-to-peer chat with a central presence server, a deterministic simulator and a load harness')
  .version('0.1.0')
  .showHelpAfterError()
  .exitOverride();

for (const command of [serverCommand(), clientCommand(), simCommand(), benchCommand()]) {
  // addCommand() does not pass these settings down: without them a bad option exits 1, not 2.
  program.addCommand(command.exitOverride().showHelpAfterError());
}

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // --help and --version exit 0; every other parse failure is a usage error.
    process.exit(error.exitCode === 0 ? EXIT_OK : EXIT_USAGE);
  }
  throw error;
}
