/** `p2pchat sim`: not built yet (see the open issues). */
import { Command } from 'commander';

export function simCommand(): Command {
  return new Command('sim').description('(sim: not built yet)').action(() => {
    process.stderr.write('p2pchat sim is not built yet\n');
    process.exit(2);
  });
}
