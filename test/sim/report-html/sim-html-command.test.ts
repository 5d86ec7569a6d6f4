/** `p2pchat sim --html`: the page is written, and the `--json` report is what it was without it. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type CliOutcome, runCli } from '../../helpers/run-cli.ts';

const TIMEOUT_MS = 60_000;
const dir = mkdtempSync(join(tmpdir(), 'p2pchat-html-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function p2pchat(args: string[]): Promise<CliOutcome> {
  return runCli(args, TIMEOUT_MS);
}

/** wallMs and the process's peak RSS (peakRssBytes, bytesPerPeer) are what differ between two runs of the same scenario and seed. */
function withoutWallTime(stdout: string): unknown {
  const report = JSON.parse(stdout) as { runs: Array<Record<string, unknown>> };
  return report.runs.map(({ wallMs: _wallMs, peakRssBytes: _peakRssBytes, bytesPerPeer: _bytesPerPeer, ...run }) => run);
}

describe('p2pchat sim --html', () => {
  it('writes the page and leaves the --json report (and the trace hash) as it is without --html', async () => {
    const page = join(dir, 'out', 'sim.html');
    const args = ['sim', 'scenarios/session-accept.yaml', '--seed', '3', '--json'];
    const [plain, drawn] = await Promise.all([p2pchat(args), p2pchat([...args, '--html', page])]);
    expect(drawn.code).toBe(plain.code);
    expect(withoutWallTime(drawn.stdout)).toEqual(withoutWallTime(plain.stdout));
    expect(drawn.stderr).toContain(`HTML report written to ${page}`);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('p2pchat sim scenarios/session-accept.yaml --seed 3');
  }, TIMEOUT_MS);

  it('says so and exits 2 when the page cannot be written, the --json report still on stdout', async () => {
    const { code, stdout, stderr } = await p2pchat(['sim', 'scenarios/session-accept.yaml', '--seed', '3', '--json', '--html', '/dev/null/report.html']);
    expect(code).toBe(2);
    expect(stderr).toContain('cannot write the HTML report /dev/null/report.html');
    expect((JSON.parse(stdout) as { runs: unknown[] }).runs).toHaveLength(1);
  }, TIMEOUT_MS);

  it('with --swarm, lists each swarm and draws the replay of its minimized failure', async () => {
    const page = join(dir, 'swarm.html');
    const out = join(dir, 'swarm-out');
    // The planted bug fails a run whose faults do not hide it (a server crash tells the friends
    // in its own way): root seed 3's one run draws no fault, so the swarm shrinks it and the
    // page draws the replay.
    const { code, stderr } = await p2pchat(['sim', 'test/sim/fixtures/planted-bug-silent.yaml', '--swarm', '1', '--seed', '3', '--out', out, '--html', page]);
    expect(code).toBe(1);
    expect(stderr).toContain(`HTML report written to ${page}`);
    const html = readFileSync(page, 'utf8');
    const minimized = /wrote (\S+\.min\.yaml)/.exec(stderr)?.[1];
    expect(minimized).toBeDefined();
    expect(html).toContain(`p2pchat sim ${minimized} --seed`);
    expect(html).toContain('"rootSeed":3');
  }, TIMEOUT_MS);

  it('with --swarm and no failure, lists the swarm and how to run it again', async () => {
    const page = join(dir, 'swarm-pass.html');
    const { code } = await p2pchat(['sim', 'scenarios/session-accept.yaml', '--swarm', '1', '--seed', '11', '--out', join(dir, 'swarm-pass-out'), '--html', page]);
    const html = readFileSync(page, 'utf8');
    expect(html).toContain('"swarms":[{"scenario":"scenarios/session-accept.yaml","rootSeed":11,"runs":1');
    expect(html).toContain(code === 0 ? '"minimized":null' : '.min.yaml');
  }, TIMEOUT_MS);
});
