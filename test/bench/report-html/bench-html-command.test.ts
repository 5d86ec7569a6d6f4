/** `p2pchat bench --html`: the option is there (a run writes its page: see reports-in-browser.test.ts). */
import { describe, expect, it } from 'vitest';
import { runCli } from '../../helpers/run-cli.ts';

const TIMEOUT_MS = 60_000;

describe('p2pchat bench --html', () => {
  it('is an option of the bench command', async () => {
    const { code, stdout } = await runCli(['bench', '--help'], TIMEOUT_MS);
    expect(code).toBe(0);
    expect(stdout).toContain('--html <file>');
  }, TIMEOUT_MS);
});
