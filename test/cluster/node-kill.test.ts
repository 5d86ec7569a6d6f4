/**
 * Real node processes (`p2pchat server --store postgres://... --bus nats://...`), one killed with
 * SIGKILL: no goodbye, no closing of its bus connection, only the lease running out. Its users
 * are shown offline by the surviving node (within the TTL: the in-process suites and the
 * simulator hold that bound), and log in there again.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { BenchConnection } from '../../bench/protocol-client.ts';
import { clusterServices, freshPostgresSchema } from '../helpers/cluster-services.ts';
import { eventually } from '../helpers/eventually.ts';
import { tempDataDir } from '../helpers/in-process-server.ts';

const services = await clusterServices('cluster tests (killed node process)');
const TTL_MS = 2_000;
const REPLY_MS = 20_000;
const START_TIMEOUT_MS = 60_000;

const children = new Set<ChildProcess>();
const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const child of children) child.kill('SIGKILL');
  for (const cleanup of cleanups.reverse()) await cleanup();
});

/** A node's log entries, as they come (JSON lines on its stdout). */
type LogEntry = { event?: string } & Record<string, unknown>;

function startNode(storeUrl: string, busUrl: string, nodeId: string): Promise<{ child: ChildProcess; tcpPort: number; entries: LogEntry[] }> {
  const dataDir = tempDataDir();
  cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const args = ['--import', 'tsx', 'cli/main.ts', 'server', '--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--data-dir', dataDir, '--tls', 'off'];
  args.push('--store', storeUrl, '--bus', busUrl, '--node-id', nodeId, '--ttl', String(TTL_MS), '--log-format', 'json');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, P2PCHAT_LOG_LEVEL: 'info', P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR: '0' } });
  children.add(child);
  child.once('exit', () => children.delete(child));
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`node did not listen in time; stderr: ${stderr}`)), START_TIMEOUT_MS);
    let buffered = '';
    const entries: LogEntry[] = [];
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const entry = JSON.parse(buffered.slice(0, newline)) as LogEntry & { tcpPort?: number };
        buffered = buffered.slice(newline + 1);
        entries.push(entry);
        if (entry.event === 'listening') {
          clearTimeout(timer);
          resolve({ child, tcpPort: entry.tcpPort ?? 0, entries });
        }
      }
    });
    child.once('exit', (code) => reject(new Error(`node exited with ${code} before listening; stderr: ${stderr}`)));
  });
}

async function connect(port: number): Promise<BenchConnection> {
  const connection = await BenchConnection.connect({ port, tls: false, timeoutMs: REPLY_MS });
  cleanups.push(() => connection.destroy());
  return connection;
}

describe.skipIf(!services.available)('a killed node process', { timeout: 180_000 }, () => {
  // Every step waits on an event (a reply, a push, a log line), never on time: node B starts only
  // after the accounts and the friendship are committed, so it reads them from the database at
  // start instead of racing their bus messages. (It was flaky once under load when it retried on
  // a timer and bounded the lease's delay by wall time.)
  it('SIGKILL on node B: alice on node A sees bob offline (only the lease tells), and bob logs in on A', async () => {
    const schema = await freshPostgresSchema(services.postgresUrl);
    cleanups.push(schema.drop);
    const busUrl = `${services.natsUrl.replace(/\/+$/, '')}/kill_${randomBytes(6).toString('hex')}`;
    const a = await startNode(schema.url, busUrl, 'nodeA');

    const alice = await connect(a.tcpPort);
    await alice.request({ type: 'signup', username: 'alice', password: 'correct horse' }, 'signup.ok', REPLY_MS);
    await alice.request({ type: 'login', username: 'alice', password: 'correct horse' }, 'login.ok', REPLY_MS);
    alice.startHeartbeat();
    const bobOnA = await connect(a.tcpPort);
    await bobOnA.request({ type: 'signup', username: 'bob', password: 'correct horse' }, 'signup.ok', REPLY_MS);
    await bobOnA.request({ type: 'login', username: 'bob', password: 'correct horse' }, 'login.ok', REPLY_MS);
    const incoming = alice.expect('friend.incoming', REPLY_MS);
    await bobOnA.request({ type: 'friend.request', username: 'alice' }, 'friend.requested', REPLY_MS);
    await incoming;
    const added = bobOnA.expect('friend.added', REPLY_MS);
    await alice.request({ type: 'friend.accept', username: 'bob' }, 'friend.added', REPLY_MS);
    await added;
    const left = alice.expect('presence', REPLY_MS);
    await bobOnA.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
    expect(await left).toMatchObject({ username: 'bob', status: 'offline' });

    const b = await startNode(schema.url, busUrl, 'nodeB');
    const online = alice.expect('presence', REPLY_MS);
    const bob = await connect(b.tcpPort);
    await bob.request({ type: 'login', username: 'bob', password: 'correct horse' }, 'login.ok', REPLY_MS);
    bob.startHeartbeat();
    expect(await online).toMatchObject({ username: 'bob', status: 'online' });

    // No goodbye and no closed bus connection: only B's lease running out on A tells alice.
    const offline = alice.expect('presence', REPLY_MS);
    b.child.kill('SIGKILL');
    expect(await offline).toMatchObject({ username: 'bob', status: 'offline' });
    // The operator reads why on A: which node, and how many users went with it.
    await eventually(() => a.entries.some((entry) => entry.event === 'cluster.node-lost'), "A logs B's lost lease", REPLY_MS);
    expect(a.entries.filter((entry) => entry.event === 'cluster.node-lost')).toEqual([expect.objectContaining({ level: 40, node: 'nodeB', users: 1 })]);
    // And B's start before: A read the store again when B said hello.
    expect(a.entries).toContainEqual(expect.objectContaining({ event: 'cluster.hello', node: 'nodeB' }));

    const backOnline = alice.expect('presence', REPLY_MS);
    const bobBack = await connect(a.tcpPort);
    await bobBack.request({ type: 'login', username: 'bob', password: 'correct horse' }, 'login.ok', REPLY_MS);
    expect(await backOnline).toMatchObject({ username: 'bob', status: 'online' });
  });
});
