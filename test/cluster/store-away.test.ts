/**
 * A node whose database goes away (real PostgreSQL behind a cut proxy, real NATS) never tells a
 * user that a change is done before the database committed it. Before, a batch the database did
 * not commit within STORE_COMMIT_WAIT_MS was left to the worker's retries and answered at once
 * (mail.queued, signup.ok) and published to the other nodes: if the node then died before the
 * database came back, the user had been told "queued" and the message was gone.
 *
 * Now such a batch is withdrawn (it will never commit): the user who asked gets no answer and its
 * connection is closed (the client's rule for a request left unanswered: it may or may not be
 * held, send it again under the same id), a sign-up is answered SERVER_DEGRADED, and once the
 * node knows its database is away every write is answered SERVER_DEGRADED at once.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import type { LooseFrame } from '../../bench/protocol-client.ts';
import { STORE_COMMIT_WAIT_MS } from '../../cli/server/postgres-store.ts';
import type { ClientFrame } from '../../core/frames.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { REPLY_MS, clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../helpers/headless-client.ts';

const services = await clusterServices('cluster tests (a node whose database goes away)');
const current = clusterPerTest(services, { ttlMs: 5_000 });

let proxy: CutProxy | null = null;
const clients: HeadlessClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) {
    client.kill();
    await rm(client.downloadDir, { recursive: true, force: true });
  }
  await proxy?.close();
  proxy = null;
});

function box(tag: string): string {
  return Buffer.from(tag.padEnd(64, '.')).toString('base64');
}

/** The reply to a request, an error frame, or the connection closing: whichever comes. */
function outcome(promise: Promise<LooseFrame>): Promise<{ frame?: LooseFrame; code?: string; closed?: true }> {
  return promise.then(
    (frame) => ({ frame }),
    (error: unknown) => {
      const code = (error as { frame?: { code?: string } }).frame?.code;
      return code === undefined ? { closed: true as const } : { code };
    },
  );
}

describe.skipIf(!services.available)('a node whose database goes away', { timeout: 120_000 }, () => {
  it('mail sent just as the database goes away is not answered queued unless committed: the node dies, the mail was not promised', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl) });
    const b = await cluster.addNode();
    await cluster.signup(a, 'alice');
    await cluster.signup(b, 'bob');
    const alice = await cluster.login(a, 'alice');
    const bob = await cluster.login(b, 'bob');
    await cluster.befriend({ connection: alice.connection, username: 'alice' }, { connection: bob.connection, username: 'bob' });
    await bob.connection.request({ type: 'logout' }, 'logout.ok', REPLY_MS);
    await eventually(() => !a.machine.isOnline('bob'), 'A sees bob offline');

    // Cut before A's health check noticed: the batch is the first to find the database away.
    await proxy.cutAll();
    const first = await outcome(alice.connection.request({ type: 'mail.send', id: 1, username: 'bob', messageId: 'm1', sealed: box('first') } as ClientFrame, 'mail.queued', REPLY_MS));
    expect(first).toEqual({ code: 'SERVER_DEGRADED' });

    // Once A knows, a write is refused at once, never held in the node's memory.
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 503, 'A reports the lost database');
    const startedMs = Date.now();
    const second = await outcome(alice.connection.request({ type: 'mail.send', id: 2, username: 'bob', messageId: 'm2', sealed: box('second') } as ClientFrame, 'mail.queued', REPLY_MS));
    expect(second).toEqual({ code: 'SERVER_DEGRADED' });
    expect(Date.now() - startedMs).toBeLessThan(STORE_COMMIT_WAIT_MS);

    // A dies with whatever it held; the database comes back; bob logs in on B.
    await cluster.stopNode(a);
    await proxy.mend();
    const rows = await cluster.sql('SELECT message_id_json FROM mail');
    expect(rows).toEqual([]);
    const bobAgain = await cluster.connect(b);
    const delivered: LooseFrame[] = [];
    bobAgain.onPush('mail.deliver', (frame) => delivered.push(frame));
    await bobAgain.request({ type: 'login', username: 'bob', password: 'correct horse' }, 'login.ok', REPLY_MS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(delivered).toEqual([]);
  });

  it('once the database is back the node forgets what it did not commit, and the mail sent again under its id is held once', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl) });
    await cluster.signup(a, 'alice');
    await cluster.signup(a, 'bob');
    const alice = await cluster.login(a, 'alice');
    const bob = await cluster.login(a, 'bob');
    await cluster.befriend({ connection: alice.connection, username: 'alice' }, { connection: bob.connection, username: 'bob' });
    await bob.connection.request({ type: 'logout' }, 'logout.ok', REPLY_MS);

    await proxy.cutAll();
    const send = { type: 'mail.send', id: 1, username: 'bob', messageId: 'm1', sealed: box('first') } as ClientFrame;
    expect(await outcome(alice.connection.request(send, 'mail.queued', REPLY_MS))).toEqual({ code: 'SERVER_DEGRADED' });
    await proxy.mend();
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 200, 'A has its database back', 20_000);
    // Read again before it took writes again: the withdrawn mail is not in its memory either (if
    // it were, the send again would be answered as a retry, and nothing stored).
    await alice.connection.request(send, 'mail.queued', REPLY_MS);
    expect(await cluster.sql('SELECT message_id_json FROM mail')).toEqual([{ message_id_json: '"m1"' }]);
    await alice.connection.request(send, 'mail.queued', REPLY_MS);
    expect(await cluster.sql('SELECT message_id_json FROM mail')).toEqual([{ message_id_json: '"m1"' }]);
  });

  it('a database back within STORE_COMMIT_WAIT_MS still commits the batch: the change is answered as done', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl) });
    await cluster.signup(a, 'alice');
    const alice = await cluster.login(a, 'alice');
    await proxy.cutAll();
    // The node's thread (this process's) waits for the commit while the worker retries every
    // STORE_RETRY_MS: the proxy, in its own process, mends meanwhile.
    await proxy.mendAfter(STORE_COMMIT_WAIT_MS / 4);
    const reply = alice.connection.request({ type: 'account.nickname', id: 1, nickname: 'Al' } as ClientFrame, 'account.updated', REPLY_MS);
    expect(await outcome(reply)).toMatchObject({ frame: { type: 'account.updated', nickname: 'Al' } });
    expect(await cluster.sql('SELECT nickname FROM accounts')).toEqual([{ nickname: 'Al' }]);
  });

  it('a database that goes silent (no reset, no answer) is reported lost, and a change is answered SERVER_DEGRADED', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl) });
    await cluster.signup(a, 'alice');
    const alice = await cluster.login(a, 'alice');
    await proxy.hold();
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 503, 'A reports the silent database', 15_000);
    const reply = await outcome(alice.connection.request({ type: 'account.nickname', id: 1, nickname: 'Al' } as ClientFrame, 'account.updated', REPLY_MS));
    expect(reply).toEqual({ code: 'SERVER_DEGRADED' });
    await proxy.release();
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 200, 'A has its database back', 20_000);
    await alice.connection.request({ type: 'account.nickname', id: 2, nickname: 'Al' } as ClientFrame, 'account.updated', REPLY_MS);
    expect(await cluster.sql('SELECT nickname FROM accounts')).toEqual([{ nickname: 'Al' }]);
  });

  it('the shipped client: a message sent while the database is away is refused SERVER_DEGRADED, not queued; sent again once it is back, it is held once and read once', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl), tls: true });
    const alice = await HeadlessClient.start('alice', { server: a.address });
    const bob = await HeadlessClient.start('bob', { server: a.address });
    clients.push(alice, bob);
    await signupAndLogin(alice, 'alice');
    await signupAndLogin(bob, 'bob');
    await befriend(alice, 'alice', bob, 'bob');
    await bob.request({ cmd: 'logout' }, 'logout.ok');
    await proxy.cutAll();
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 503, 'A reports the lost database');
    const refused = await alice.request({ cmd: 'chat.send', username: 'bob', text: 'are you there?', id: 'm1' }, 'error', { id: 'm1' });
    expect(refused).toMatchObject({ code: 'SERVER_DEGRADED', username: 'bob' });
    expect(alice.seen('chat.queued')).toEqual([]);
    await proxy.mend();
    await eventually(async () => (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).status === 200, 'A has its database back', 20_000);
    await alice.request({ cmd: 'chat.send', username: 'bob', text: 'are you there?', id: 'm1' }, 'chat.queued', { id: 'm1' });
    await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    expect(await bob.waitFor('chat.message', { id: 'm1' })).toMatchObject({ from: 'alice', text: 'are you there?', offline: true });
    await alice.waitFor('chat.delivered', { id: 'm1' });
    expect(bob.seen('chat.message')).toHaveLength(1);
  });

  it('a sign-up whose account the database does not commit in time is answered SERVER_DEGRADED, not signup.ok', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    const a = await cluster.addNode({ storeUrl: proxy.via(cluster.storeUrl) });
    const carol = await cluster.connect(a);
    await proxy.cutAll();
    const reply = await outcome(carol.request({ type: 'signup', username: 'carol', password: 'correct horse' }, 'signup.ok', REPLY_MS));
    expect(reply).toEqual({ code: 'SERVER_DEGRADED' });
    await cluster.stopNode(a);
    await proxy.mend();
    expect(await cluster.sql('SELECT username FROM accounts')).toEqual([]);
  });
});
