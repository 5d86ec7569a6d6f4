/**
 * Bus messages larger than the NATS server takes (its max_payload, 1 MB by default): a node
 * holding many users names them all in one message when it answers a hello or says its own.
 * Here a NATS server of our own with a small max_payload stands in for a node holding some
 * ten thousand users on the default one (about 100 bytes a name, resume token and epoch).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { splitMessage } from '../../cli/server/nats-bus.ts';
import type { ClusterItem, ClusterMessage } from '../../core/server/cluster.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';
import { TestCluster, eventually } from '../helpers/cluster-nodes.ts';

const services = await clusterServices('cluster tests (bus messages past max_payload)');
/** Small enough that a hello answer naming USERS users is several times over it. */
const MAX_PAYLOAD_BYTES = 2_048;
const USERS = 60;

const cleanups: (() => Promise<void> | void)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function smallNats(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'p2pchat-nats-'));
  const port = await freePort();
  const config = join(dir, 'nats.conf');
  writeFileSync(config, `listen: 127.0.0.1:${port}\nmax_payload: ${MAX_PAYLOAD_BYTES}\n`);
  const child: ChildProcess = spawn('nats-server', ['-c', config], { stdio: 'ignore' });
  cleanups.push(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `nats://127.0.0.1:${port}`;
  const { connect } = await import('nats');
  await eventually(async () => {
    try {
      await (await connect({ servers: `127.0.0.1:${port}`, timeout: 500 })).close();
      return true;
    } catch {
      return false;
    }
  }, 'our NATS server answers');
  return url;
}

describe.skipIf(!services.available)('bus messages past the NATS max_payload', { timeout: 180_000 }, () => {
  it("a node joining hears every user of a node holding many: the answer to its hello is split, and no user flaps", async () => {
    const cluster = await TestCluster.create({ ...services, natsUrl: await smallNats() }, { ttlMs: 10_000 });
    cleanups.push(() => cluster.close());
    const proxy = await CutProxy.start(Number(new URL(cluster.busUrl).port));
    cleanups.push(() => proxy.close());
    const a = await cluster.addNode({ busUrl: proxy.via(cluster.busUrl) });
    const names = Array.from({ length: USERS }, (_, i) => `user${String(i).padStart(3, '0')}_${'x'.repeat(20)}`);
    for (const name of names) await cluster.signup(a, name);
    for (const name of names) await cluster.login(a, name);
    const b = await cluster.addNode();
    await eventually(() => names.every((name) => b.machine.isOnline(name)), 'B sees every user of A online', 15_000);
    // A loses the bus and comes back within its lease: its hello names its users in several
    // messages; B marks those the first one does not name and the next ones name them again.
    const health = async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status;
    await proxy.cutAll();
    await eventually(async () => (await health()) === 503, 'A reports the lost bus');
    await proxy.mend();
    await eventually(async () => (await health()) === 200, 'A back on the bus');
    // A lease beat (TTL / 4) and some: a user still unnamed would have gone offline on B by now.
    await new Promise((resolve) => setTimeout(resolve, 4_000));
    expect(names.filter((name) => !b.machine.isOnline(name))).toEqual([]);
    expect(a.machine.isOnline(names[0] ?? '')).toBe(true);
  });

  it('splitMessage: parts in order, each within the limit, the envelope on each; one item larger than the limit goes alone', () => {
    const items: ClusterItem[] = [{ kind: 'held' }, ...Array.from({ length: 50 }, (_, i): ClusterItem => ({ kind: 'attached', username: `u${i}`, resumeToken: 'é'.repeat(20), epoch: i }))];
    const message: ClusterMessage = { from: 'node1', to: 'node2', items };
    const parts = splitMessage(message, 500);
    expect(parts.length).toBeGreaterThan(1);
    expect(parts.flatMap((part) => part.items)).toEqual(items);
    for (const part of parts) {
      expect(Buffer.byteLength(JSON.stringify(part))).toBeLessThanOrEqual(500);
      expect(part).toMatchObject({ from: 'node1', to: 'node2' });
    }
    const big: ClusterItem = { kind: 'attached', username: 'big', resumeToken: 'x'.repeat(600), epoch: 1 };
    expect(splitMessage({ from: 'n', to: null, items: [{ kind: 'held' }, big, { kind: 'lease' }] }, 500).map((part) => part.items)).toEqual([[{ kind: 'held' }], [big], [{ kind: 'lease' }]]);
    expect(splitMessage({ from: 'n', to: null, items: [] }, 500)).toEqual([{ from: 'n', to: null, items: [] }]);
  });
});
