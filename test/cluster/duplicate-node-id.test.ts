/**
 * An operator's mistake: two node processes given one --node-id (a copied unit file). Each drops
 * the other's bus words as its own, so the users of one were never seen by the other, and the
 * other nodes got two whole lists under one name, each taking the other's users offline. Now
 * the process that started later hears the earlier one (every message carries its start number)
 * and stops, saying why; the earlier one goes on serving.
 */
import { describe, expect, it } from 'vitest';
import { clusterServices } from '../helpers/cluster-services.ts';
import { clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';

const services = await clusterServices('cluster tests (two processes with one node id)');
const current = clusterPerTest(services, { ttlMs: 5_000 });

async function healthz(port: number): Promise<number | 'closed'> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
  } catch {
    return 'closed';
  }
}

describe.skipIf(!services.available)('two processes with one node id', { timeout: 60_000 }, () => {
  it('the one started later stops; the earlier one goes on serving its users', async () => {
    const cluster = current();
    const first = await cluster.addNode({ nodeId: 'same' });
    await cluster.signup(first, 'alice');
    const alice = await cluster.login(first, 'alice');
    const second = await cluster.addNode({ nodeId: 'same' });
    await eventually(async () => (await healthz(second.httpPort)) === 'closed', 'the later process stopped', 15_000);
    expect(await healthz(first.httpPort)).toBe(200);
    await alice.connection.request({ type: 'friends.list', id: 1 } as never, 'friends', 5_000);
    expect(first.machine.isOnline('alice')).toBe(true);
  });
});
