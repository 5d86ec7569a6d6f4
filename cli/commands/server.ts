/** `p2pchat server`: not built yet (see the open issues). */
import { Command } from 'commander';

export function serverCommand(): Command {
  return new Command('server').description('(server: not built yet)').action(() => {
    process.stderr.write('p2pchat server is not built yet\n');
    process.exit(2);
  });
}
