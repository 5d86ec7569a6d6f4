/**
 * `p2pchat client` as a command: without --headless and without a terminal it says the dashboard
 * needs one and exits 2 (usage), bad options exit 2, and nothing but JSON ever reaches stdout in
 * headless mode. (The dashboard itself is driven in a real terminal by test/cli/dashboard/tmux-e2e.test.ts.)
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const DOWNLOAD_DIR = join(tmpdir(), `p2pchat-client-command-${process.pid}`);

function withoutHeadlessEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.P2PCHAT_HEADLESS;
  return env;
}

function run(args: string[], input = ''): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'cli/main.ts', 'client', ...args], {
    cwd: ROOT,
    input,
    encoding: 'utf8',
    timeout: 20_000,
    env: withoutHeadlessEnv(),
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('p2pchat client command', () => {
  afterAll(() => rmSync(DOWNLOAD_DIR, { recursive: true, force: true }));

  it('without --headless and without a terminal explains that the dashboard needs one and exits 2', () => {
    const result = run([]);
    expect(result.status).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/dashboard needs a terminal/);
  });

  it('refuses a malformed --server with exit 2', () => {
    expect(run(['--headless', '--server', 'nowhere']).status).toBe(2);
  });

  it('with no server reachable, still says ready, answers with JSON errors and quits 0 on EOF', () => {
    // Port 1 on loopback refuses connections at once.
    const result = run(['--headless', '--server', '127.0.0.1:1', '--p2p-host', '127.0.0.1', '--download-dir', DOWNLOAD_DIR], '{"cmd":"friends"}\nnot json\n');
    expect(result.status).toBe(0);
    const lines = result.stdout.trim().split('\n').map((line) => JSON.parse(line) as { event: string; code?: string; at: string });
    expect(lines[0]?.event).toBe('ready');
    expect(lines.map((line) => line.code).filter((code) => code !== undefined)).toEqual(['SERVER_UNAVAILABLE', 'BAD_COMMAND']);
    for (const line of lines) expect(typeof line.at).toBe('string');
  });
});

describe('p2pchat client --help', () => {
  it('says of every option what it does and its default, and where the commands and keys are documented', async () => {
    const { Help } = await import('commander');
    const { clientCommand } = await import('../../../cli/commands/client.ts');
    const command = clientCommand();
    const help = new Help();
    const shown = command.options.filter((option) => !option.hidden);
    expect(shown.length).toBeGreaterThan(10);
    for (const option of shown) {
      const text = help.optionDescription(option);
      expect(text, option.flags).toMatch(/default: /);
      // More than a name: at least a few words on what it does.
      expect(text.split(' (default')[0]!.split(/\s+/).length, option.flags).toBeGreaterThanOrEqual(3);
    }
    const { stdout, status } = run(['--help']);
    expect(status).toBe(0);
    expect(stdout).toContain('docs/CLIENT.md');
    expect(stdout).toContain('docs/DASHBOARD.md');
  });
});
