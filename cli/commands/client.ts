/** `p2pchat client`: not built yet (see the open issues). */
import { Command } from 'commander';

export function clientCommand(): Command {
  return new Command('client').description('(client: not built yet)').action(() => {
    process.stderr.write('p2pchat client is not built yet\n');
    process.exit(2);
  });
}
