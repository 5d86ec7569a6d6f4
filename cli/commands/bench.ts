/** `p2pchat bench`: not built yet (see the open issues). */
import { Command } from 'commander';

export function benchCommand(): Command {
  return new Command('bench').description('(bench: not built yet)').action(() => {
    process.stderr.write('p2pchat bench is not built yet\n');
    process.exit(2);
  });
}
