/**
 * Three server nodes (MongooseIM's production minimum) on real PostgreSQL and the real NATS bus:
 * a login on one node reaches friends held on both others; a node that joins late learns who is
 * online; when one node dies, the two others each tell their own users, once.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LooseFrame } from '../../bench/protocol-client.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { REPLY_MS, TestCluster, eventually } from '../helpers/cluster-nodes.ts';

const services = await clusterServices('cluster tests (three nodes)');
const TTL_MS = 2_000;

let cluster: TestCluster;
beforeEach(async () => {
  if (services.available) cluster = await TestCluster.create(services, { ttlMs: TTL_MS });
});
afterEach(async () => {
  await cluster?.close();
});

describe.skipIf(!services.available)('three nodes', () => {
  it('carol on C: her login reaches alice on A and bob on B; C dies and both see her offline, once', async () => {
    const [a, b, c] = [await cluster.addNode(), await cluster.addNode(), await cluster.addNode()];
    if (a === undefined || b === undefined || c === undefined) throw new Error('three nodes');
    await cluster.signup(a, 'alice');
    await cluster.signup(b, 'bob');
    await cluster.signup(c, 'carol');
    const alice = await cluster.login(a, 'alice');
    const bob = await cluster.login(b, 'bob');
    const carol = await cluster.login(c, 'carol');
    await cluster.befriend({ connection: carol.connection, username: 'carol' }, { connection: alice.connection, username: 'alice' });
    await cluster.befriend({ connection: carol.connection, username: 'carol' }, { connection: bob.connection, username: 'bob' });

    const seen: Record<string, LooseFrame[]> = { alice: [], bob: [] };
    alice.connection.onPush('presence', (frame) => seen.alice?.push(frame));
    bob.connection.onPush('presence', (frame) => seen.bob?.push(frame));
    await carol.connection.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
    const again = await cluster.connect(c);
    await again.request({ type: 'login', username: 'carol', password: 'correct horse' }, 'login.ok', REPLY_MS);
    again.startHeartbeat();
    await eventually(() => seen.alice?.length === 2 && seen.bob?.length === 2, 'carol offline then online at alice and bob');
    for (const frames of Object.values(seen)) expect(frames.map((f) => f.status)).toEqual(['offline', 'online']);

    await cluster.stopNode(c);
    await eventually(() => seen.alice?.length === 3 && seen.bob?.length === 3, 'carol offline after C died', TTL_MS * 3);
    for (const frames of Object.values(seen)) expect(frames[2]).toMatchObject({ username: 'carol', status: 'offline' });
    // Each survivor told its own user, and nobody was told twice.
    await new Promise((resolve) => setTimeout(resolve, TTL_MS / 2));
    expect(seen.alice).toHaveLength(3);
    expect(seen.bob).toHaveLength(3);
    expect(a.machine.isOnline('carol') || b.machine.isOnline('carol')).toBe(false);
  });

  it('a node that joins late learns who is online elsewhere, and its users see them', async () => {
    const a = await cluster.addNode();
    const b = await cluster.addNode();
    await cluster.signup(a, 'dave');
    await cluster.signup(b, 'erin');
    const dave = await cluster.login(a, 'dave');
    const erin = await cluster.login(b, 'erin');
    await cluster.befriend({ connection: dave.connection, username: 'dave' }, { connection: erin.connection, username: 'erin' });

    const c = await cluster.addNode();
    await eventually(() => c.machine.isOnline('dave') && c.machine.isOnline('erin'), 'C learned dave and erin from A and B');
    const erinOnC = await cluster.connect(c);
    const ok = await erinOnC.request({ type: 'login', username: 'erin', password: 'correct horse' }, 'login.ok', REPLY_MS);
    expect(ok.friends).toEqual([expect.objectContaining({ username: 'dave', status: 'online' })]);
  });
});
