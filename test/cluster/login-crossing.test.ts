/**
 * One user's logout on one node and next login on another, crossing on the bus (real PostgreSQL
 * and NATS). Node B's bus is slowed by a proxy that holds back what NATS sends it, so B logs the
 * user in before it hears of the user's login and logout on A. Before the fix, B's late hearing
 * of A's `attached` ended the new login with LOGGED_IN_ELSEWHERE, A's `offline` then took the user
 * offline on B, and A kept the user online (held by B) for good: the nodes disagreed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { clusterServices } from '../helpers/cluster-services.ts';
import { REPLY_MS, clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';

const services = await clusterServices('cluster tests (a logout and a login crossing on the bus)');
const current = clusterPerTest(services, { ttlMs: 5_000 });

let proxy: CutProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  proxy = null;
});

describe.skipIf(!services.available)('a logout on one node and a login on another, crossing on the bus', { timeout: 60_000 }, () => {
  it('the newer login wins on every node: the user stays logged in where it logged in last, and its friend sees it online', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.natsUrl).port));
    const a = await cluster.addNode();
    const b = await cluster.addNode({ busUrl: proxy.via(cluster.busUrl) });
    await cluster.signup(a, 'alice');
    await cluster.signup(a, 'bob');
    const bob = await cluster.login(a, 'bob');
    const alice = await cluster.login(a, 'alice');
    await cluster.befriend({ connection: bob.connection, username: 'bob' }, { connection: alice.connection, username: 'alice' });
    await alice.connection.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
    await eventually(() => !b.machine.isOnline('alice'), 'B sees alice offline');

    // From here B hears the bus late: alice logs in on A and out again, then in on B, before B
    // hears either.
    await proxy.hold();
    const onA = await cluster.connect(a);
    await onA.request({ type: 'login', username: 'alice', password: 'correct horse' }, 'login.ok', REPLY_MS);
    await onA.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
    const onB = await cluster.connect(b);
    const errorsOnB: unknown[] = [];
    onB.onPush('error', (frame) => errorsOnB.push(frame));
    await onB.request({ type: 'login', username: 'alice', password: 'correct horse' }, 'login.ok', REPLY_MS);
    onB.startHeartbeat();
    expect(b.machine.isOnline('alice')).toBe(true);
    await proxy.release();

    // A hears B's login after its own logout; B hears A's login and logout after its own login.
    await eventually(() => a.machine.isOnline('alice'), 'A sees alice online (held by B)');
    // A sign-up on A now reaches B after what was held back (one publisher's order): once B knows
    // the account, it has heard alice's login and logout on A.
    await cluster.signup(a, 'carol');
    expect(errorsOnB).toEqual([]);
    expect(onB.open).toBe(true);
    expect(b.machine.isOnline('alice')).toBe(true);
    expect(a.machine.isOnline('alice')).toBe(true);
    const ping = await onB.request({ type: 'friends.list' }, 'friends', REPLY_MS);
    expect(ping.friends).toEqual([expect.objectContaining({ username: 'bob', status: 'online' })]);
  });
});
