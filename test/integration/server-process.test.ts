/**
 * The real `p2pchat server` as a child process: the listening line and ready file a parent reads,
 * kill -9 losing no committed account, SIGTERM telling clients and exiting 0, and bad options
 * exiting 2.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TcpTestClient } from '../helpers/tcp-test-client.ts';
import { tempDataDir } from './server-fixture.ts';

/** Starting node, tsx and the server on a loaded two-core machine (load 15) took over 20 s: a bound, not a sleep. */
const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 10_000;
/** These tests spawn real processes and hash with the production scrypt cost: give them room on a busy CI. */
const PROCESS_TEST_TIMEOUT_MS = 120_000;

interface ServerProcess {
  readonly child: ChildProcess;
  readonly tcpPort: number;
  readonly httpPort: number;
  /** Every stdout line so far (JSON logs). */
  readonly lines: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const children = new Set<ChildProcess>();
const dirs: string[] = [];

function serverArgs(extra: string[]): string[] {
  return ['--import', 'tsx', 'cli/main.ts', 'server', ...extra];
}

function spawnServer(dataDir: string, extra: string[] = []): Promise<ServerProcess> {
  const child = spawn(
    process.execPath,
    serverArgs(['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir, '--log-format', 'json', '--ready-file', join(dataDir, 'ready.json'), ...extra]),
    // Every test client signs up from 127.0.0.1: the per-address sign-up limit is not under test here.
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, P2PCHAT_LOG_LEVEL: 'info', P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR: '0' } },
  );
  children.add(child);
  const lines: string[] = [];
  let stderr = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve({ code, signal });
    });
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not listen in time; stderr: ${stderr}`)), START_TIMEOUT_MS);
    let buffered = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        lines.push(line);
        const entry = JSON.parse(line) as { event?: string; tcpPort?: number; httpPort?: number };
        if (entry.event === 'listening') {
          clearTimeout(timer);
          resolve({ child, tcpPort: entry.tcpPort ?? 0, httpPort: entry.httpPort ?? 0, lines, exited });
        }
      }
    });
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code} before listening; stderr: ${stderr}`));
    });
  });
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what} timed out`)), ms))]);
}

afterAll(() => {
  for (const child of children) child.kill('SIGKILL');
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('p2pchat server as a process', { timeout: PROCESS_TEST_TIMEOUT_MS }, () => {
  it('loses no committed account to kill -9: every sign-up logs in after a restart', async () => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const first = await spawnServer(dataDir);
    const ready = JSON.parse(readFileSync(join(dataDir, 'ready.json'), 'utf8')) as { tcpPort: number; httpPort: number; pid: number };
    expect(ready).toMatchObject({ tcpPort: first.tcpPort, httpPort: first.httpPort, pid: first.child.pid });

    const names = ['acct0', 'acct1', 'acct2', 'acct3', 'acct4'];
    const signer = await TcpTestClient.open(first.tcpPort);
    for (const name of names) expect(await signer.signup(name)).toMatchObject({ type: 'signup.ok', username: name });
    // A friendship too: two logins on two connections, request and accept.
    const a = await TcpTestClient.open(first.tcpPort);
    const b = await TcpTestClient.open(first.tcpPort);
    expect(await a.login('acct0')).toMatchObject({ type: 'login.ok' });
    expect(await b.login('acct1')).toMatchObject({ type: 'login.ok' });
    expect(await a.request({ type: 'friend.request', username: 'acct1' })).toMatchObject({ type: 'friend.requested' });
    expect(await b.request({ type: 'friend.accept', username: 'acct0' })).toMatchObject({ type: 'friend.added' });

    first.child.kill('SIGKILL');
    expect(await withTimeout(first.exited, EXIT_TIMEOUT_MS, 'exit after kill -9')).toMatchObject({ signal: 'SIGKILL' });
    for (const client of [signer, a, b]) client.close();

    const second = await spawnServer(dataDir);
    try {
      for (const name of names) {
        const client = await TcpTestClient.open(second.tcpPort);
        const login = await client.login(name);
        expect(login, name).toMatchObject({ type: 'login.ok', username: name });
        if (name === 'acct0' && login.type === 'login.ok') expect(login.friends.map((f) => f.username)).toEqual(['acct1']);
        client.close();
      }
    } finally {
      second.child.kill('SIGKILL');
      await withTimeout(second.exited, EXIT_TIMEOUT_MS, 'exit');
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('on %s tells clients SERVER_SHUTTING_DOWN, logs its stop and exits 0', async (signal) => {
    const dataDir = tempDataDir();
    dirs.push(dataDir);
    const server = await spawnServer(dataDir);
    const client = await TcpTestClient.open(server.tcpPort);
    expect(await client.signup('leaver')).toMatchObject({ type: 'signup.ok' });
    expect(await client.login('leaver')).toMatchObject({ type: 'login.ok' });
    server.child.kill(signal);
    await client.waitError('SERVER_SHUTTING_DOWN');
    await client.waitClosed();
    expect(await withTimeout(server.exited, EXIT_TIMEOUT_MS, `exit after ${signal}`)).toEqual({ code: 0, signal: null });
    const events = server.lines.map((line) => (JSON.parse(line) as { event?: string }).event);
    expect(events).toEqual(expect.arrayContaining(['listening', 'signup', 'login', 'signal', 'shutdown', 'stopped']));
    // The clean stop folded the WAL back into the database file.
    expect(existsSync(join(dataDir, 'p2pchat.sqlite'))).toBe(true);
    // Nothing secret reached the log.
    const log = server.lines.join('\n');
    expect(log).not.toContain('leaver-password');
    expect(log).not.toContain('scrypt$');
  });

  it('exits 2 with a clear message on an invalid option or environment value', async () => {
    const run = (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, serverArgs(args), { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
        let stderr = '';
        child.stderr?.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
        });
        child.once('exit', (code) => resolve({ code, stderr }));
      });
    const badPort = await run(['--port', 'seventy']);
    expect(badPort.code).toBe(2);
    expect(badPort.stderr).toContain('--port must be an integer from 0 to 65535');
    const badTtl = await run([], { P2PCHAT_TTL_MS: '5' });
    expect(badTtl.code).toBe(2);
    expect(badTtl.stderr).toContain('P2PCHAT_TTL_MS');
    const badLevel = await run(['--log-level', 'loud']);
    expect(badLevel.code).toBe(2);
    expect(badLevel.stderr).toContain('--log-level must be one of');
  });
});
