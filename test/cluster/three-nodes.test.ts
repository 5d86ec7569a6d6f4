/**
 * Three server nodes (MongooseIM's production minimum) on real PostgreSQL and the real NATS bus:
 * a login on one node reaches friends held on both others; a node that joins late learns who is
 * online; when one node dies, the two others each tell their own users, once.
 */
import { describe, expect, it } from 'vitest';
import type { LooseFrame } from '../../bench/protocol-client.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { REPLY_MS, clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';

const services = await clusterServices('cluster tests (three nodes)');
const TTL_MS = 2_000;

const current = clusterPerTest(services, { ttlMs: TTL_MS });

describe.skipIf(!services.available)('three nodes', () => {
  it('carol on C: her login reaches alice on A and bob on B; C dies and both see her offline, once', async () => {
    const cluster = current();
    const { nodes: [a, b, c], users: [alice, bob, carol] } = await cluster.usersOnNodes(['alice', 'bob', 'carol'], [['carol', 'alice'], ['carol', 'bob']]);

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
    const cluster = current();
    await cluster.usersOnNodes(['dave', 'erin'], [['dave', 'erin']]);

    const c = await cluster.addNode();
    await eventually(() => c.machine.isOnline('dave') && c.machine.isOnline('erin'), 'C learned dave and erin from A and B');
    const erinOnC = await cluster.connect(c);
    const ok = await erinOnC.request({ type: 'login', username: 'erin', password: 'correct horse' }, 'login.ok', REPLY_MS);
    expect(ok.friends).toEqual([expect.objectContaining({ username: 'dave', status: 'online' })]);
  });
});
