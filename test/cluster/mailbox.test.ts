/**
 * Held offline mail across nodes on real PostgreSQL and NATS: the database is the truth. Mail
 * queued through node A for an offline friend is handed over when the friend logs in on node B,
 * once; the friend's acknowledgement on B deletes it in the database and the sender on A gets the
 * receipt. Mail the database holds that B never heard of over the bus (a lost message, a node
 * that missed a commit) is handed over at login all the same: the node reads the user's mail from
 * the store when the user attaches.
 */
import { describe, expect, it } from 'vitest';
import type { LooseFrame } from '../../bench/protocol-client.ts';
import type { ClientFrame } from '../../core/frames.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { REPLY_MS, type TestCluster, clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';

const services = await clusterServices('cluster tests (mailbox)');
const TTL_MS = 5_000;

const current = clusterPerTest(services, { ttlMs: TTL_MS });

function box(tag: string): string {
  return Buffer.from(tag.padEnd(64, '.')).toString('base64');
}

function mailRows(): Promise<Record<string, unknown>[]> {
  return current().sql('SELECT to_user, message_id_json FROM mail ORDER BY seq');
}

/** alice on A and bob on B, friends; bob then logs out (his mail is held). */
async function aliceOnAWithBobAway() {
  const cluster = current();
  const { nodes: [a, b], users: [alice, bob] } = await cluster.usersOnNodes(['alice', 'bob'], [['alice', 'bob']]);
  await bob.connection.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
  await eventually(() => cluster.nodes.every((node) => !node.machine.isOnline('bob')), 'bob offline everywhere');
  return { a, b, alice };
}

/** bob logs in on `node`; every mail.deliver he gets is collected. */
async function bobLogsIn(node: Parameters<TestCluster['connect']>[0]) {
  const connection = await current().connect(node);
  const delivered: LooseFrame[] = [];
  connection.onPush('mail.deliver', (frame) => delivered.push(frame));
  await connection.request({ type: 'login', username: 'bob', password: 'correct horse' }, 'login.ok', REPLY_MS);
  connection.startHeartbeat();
  return { connection, delivered };
}

describe.skipIf(!services.available)('held mail across nodes', () => {
  it('mail queued via node A is handed over once at login on node B; the ack on B deletes it in the store and tells alice on A', async () => {
    const { b, alice } = await aliceOnAWithBobAway();
    await alice.connection.request({ type: 'mail.send', id: 1, username: 'bob', messageId: 'm1', sealed: box('hello bob') } as ClientFrame, 'mail.queued', REPLY_MS);
    expect(await mailRows()).toEqual([{ to_user: 'bob', message_id_json: '"m1"' }]);

    const bob = await bobLogsIn(b);
    await eventually(() => bob.delivered.length > 0, 'bob gets the mail on B');
    expect(bob.delivered[0]).toMatchObject({ from: 'alice', messageId: 'm1', sealed: box('hello bob') });
    const receipt = alice.connection.expect('mail.delivered', REPLY_MS);
    bob.connection.send({ type: 'mail.ack', seq: Number(bob.delivered[0]?.seq) } as ClientFrame);
    expect(await receipt).toMatchObject({ username: 'bob', messageId: 'm1' });
    await eventually(async () => (await mailRows()).length === 0, 'the mail deleted in the store');
    // Held in B's memory (heard over the bus) and read from the store at login: handed over once.
    expect(bob.delivered).toHaveLength(1);
  });

  it('mail the store holds that node B never heard of (a lost bus message) is handed over at login on B', async () => {
    const { b, alice } = await aliceOnAWithBobAway();
    // As a node would commit it whose bus message never reached B (nor A).
    const seq = Date.now() * 1000;
    await current().sql('INSERT INTO mail (seq, from_user, to_user, message_id_json, sealed, sent_at_ms) VALUES ($1, $2, $3, $4, $5, $6)', [seq, 'alice', 'bob', '"lost-1"', box('lost on the bus'), Date.now()]);

    const bob = await bobLogsIn(b);
    await eventually(() => bob.delivered.length > 0, 'bob gets the stored mail on B');
    expect(bob.delivered).toEqual([expect.objectContaining({ seq, from: 'alice', messageId: 'lost-1', sealed: box('lost on the bus') })]);
    const receipt = alice.connection.expect('mail.delivered', REPLY_MS);
    bob.connection.send({ type: 'mail.ack', seq } as ClientFrame);
    expect(await receipt).toMatchObject({ username: 'bob', messageId: 'lost-1' });
    await eventually(async () => (await mailRows()).length === 0, 'the mail deleted in the store');
  });
});
