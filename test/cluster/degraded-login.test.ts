/**
 * The real client against a cluster node that lost its bus (real PostgreSQL and NATS): the node
 * refuses the login with SERVER_DEGRADED; the client says so (`server.degraded`), backs off and
 * logs in by itself once the node has its bus back, answering the user's one login command.
 */
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { HeadlessClient } from '../helpers/headless-client.ts';
import { clusterServices } from '../helpers/cluster-services.ts';
import { clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';

const services = await clusterServices('cluster tests (a degraded node and the client)');
const current = clusterPerTest(services, { ttlMs: 5_000 });

let client: HeadlessClient | null = null;
let proxy: CutProxy | null = null;
afterEach(async () => {
  client?.kill();
  if (client !== null) await rm(client.downloadDir, { recursive: true, force: true });
  client = null;
  await proxy?.close();
  proxy = null;
});

describe.skipIf(!services.available)('a login refused with SERVER_DEGRADED', { timeout: 120_000 }, () => {
  it('the client says why, retries after the backoff and is logged in once the node has its bus back', async () => {
    const cluster = current();
    proxy = await CutProxy.start(Number(new URL(services.natsUrl).port));
    const node = await cluster.addNode({ busUrl: proxy.via(cluster.busUrl), tls: true });
    client = await HeadlessClient.start('carol', { server: node.address });
    await client.request({ cmd: 'signup', username: 'carol', password: 'correct horse' }, 'signup.ok');
    const health = async () => (await fetch(`http://127.0.0.1:${node.httpPort}/healthz`)).status;
    await proxy.cutAll();
    await eventually(async () => (await health()) === 503, 'the node reports the lost bus');

    client.send({ cmd: 'login', username: 'carol', password: 'correct horse', id: 'the-login' });
    const degraded = await client.waitFor('server.degraded');
    expect(degraded.retryInMs).toBeGreaterThan(0);
    await proxy.mend();
    // One answer to the one command, after the node is whole again (at most LOGIN_RESENDS_MAX tries).
    const ok = await client.waitFor('login.ok', { username: 'carol' });
    expect(ok).toMatchObject({ ref: 'the-login' });
    expect(client.seen('error')).toEqual([]);
  });
});
