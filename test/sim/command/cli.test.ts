import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliOutcome, runCli } from '../../helpers/run-cli.ts';

/**
 * Each test starts up to three `p2pchat sim` processes, one a swarm that shrinks (about 15 s alone
 * on a quiet machine); on a machine busy with other work the swarm test once took 60.6 s.
 */
const TIMEOUT_MS = 180_000;
const dir = mkdtempSync(join(tmpdir(), 'p2pchat-sim-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sim(args: string[]): Promise<CliOutcome> {
  return runCli(['sim', ...args], TIMEOUT_MS);
}

describe('p2pchat sim', () => {
  it('--check-determinism runs each seed twice and passes when the traceHashes agree', async () => {
    const { code, stdout } = await sim(['scenarios/session-reject.yaml', '--check-determinism', '--json', '--seed', '3']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout) as { runs: Array<{ expectations: Array<{ name: string; passed: boolean }> }> };
    expect(report.runs[0]?.expectations.find((e) => e.name === 'invariant deterministic')?.passed).toBe(true);
  }, TIMEOUT_MS);

  it('--json prints exactly the contract object on stdout, SEED first on stderr, exit 0', async () => {
    const trace = join(dir, 'trace.jsonl');
    const { code, stdout, stderr } = await sim(['scenarios/session-accept.yaml', 'scenarios/logout.yaml', '--json', '--seed', '5', '--trace', trace]);
    expect(code).toBe(0);
    expect(stderr.split('\n').find((l) => l.trim() !== '' && !l.startsWith('npm warn'))).toMatch(/^SEED=5 /);
    expect(stderr.trim().split('\n').at(-1)).toBe('2 passed, 0 failed');
    const report = JSON.parse(stdout) as { runs: Array<Record<string, unknown>> };
    expect(report.runs).toHaveLength(2);
    for (const run of report.runs) {
      for (const field of ['scenario', 'seed', 'peers', 'events', 'virtualMs', 'wallMs', 'traceHash', 'expectations', 'violations', 'metrics']) expect(run).toHaveProperty(field);
      expect(run.seed).toBe(5);
      expect(run.violations).toEqual([]);
    }
    const lines = readFileSync(trace, 'utf8').trim().split('\n');
    expect(lines.length).toBeGreaterThan(50);
    for (const line of lines.slice(0, 20)) expect(JSON.parse(line)).toHaveProperty('t');
  }, TIMEOUT_MS);

  it('exits 2 on an invalid scenario, naming file, line and column and what was expected', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'version: 1\ndurationMs: 1000\npopulations:\n  - name: alice\n    behaviour: talker\nbehaviours:\n  talker:\n    - think: {uniform: [1, "x"]}\n');
    const { code, stdout, stderr } = await sim([bad, '--json']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr).toContain(`${bad}:8:28:`);
    expect(stderr).toContain('expected number');
  }, TIMEOUT_MS);

  it('exits 1 when an invariant breaks, and --swarm writes a minimized scenario that replays the failure', async () => {
    const direct = await sim(['test/sim/fixtures/planted-bug-silent.yaml']);
    expect(direct.code).toBe(1);
    expect(direct.stderr).toContain('VIOLATION presence-matches-truth');
    const out = join(dir, 'failures');
    // Root seed 2 finds the planted bug at its first run (root seed 1 once found a real client bug
    // instead, now fixed: the swarm found nothing in its 20 runs then).
    const swarm = await sim(['--swarm', '20', '--seed', '2', '--out', out, '--json', 'test/sim/fixtures/planted-bug-swarm-base.yaml']);
    expect(swarm.code).toBe(1);
    // The swarm's verdict on each run beside the run's own `passed` (its scenario's expect).
    const report = JSON.parse(swarm.stdout) as { runs: Array<{ swarmPassed: boolean }>; swarm: { failures: unknown[] } };
    expect(report.runs.map((run) => run.swarmPassed)).toEqual([false]);
    expect(report.swarm.failures).toHaveLength(1);
    expect(swarm.stderr).toMatch(/FAILURE seed=\d+/);
    expect(swarm.stderr).toContain('presence-matches-truth');
    const [written] = readdirSync(out);
    expect(written).toMatch(/\.min\.yaml$/);
    const replay = await sim([join(out, written!)]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toContain('VIOLATION presence-matches-truth');
  }, TIMEOUT_MS);
});
