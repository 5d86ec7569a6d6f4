/**
 * The real server on PostgreSQL (`--store postgres://...`): accounts made by one server process are
 * there for another that starts on the same database, and a server whose database goes away says
 * so on /healthz (503) until it answers again.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BenchConnection } from '../../../bench/protocol-client.ts';
import { PostgresStore } from '../../../cli/server/postgres-store.ts';
import { clusterServices, freshPostgresSchema } from '../../helpers/cluster-services.ts';
import { CutProxy } from '../../helpers/cut-proxy.ts';
import { TEST_SCRYPT, TestServer } from '../../helpers/in-process-server.ts';

const services = await clusterServices('server on PostgreSQL tests');
const REPLY_MS = 10_000;
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function schemaUrl(): Promise<string> {
  const schema = await freshPostgresSchema(services.postgresUrl);
  cleanups.push(schema.drop);
  return schema.url;
}

async function server(storeUrl: string): Promise<TestServer> {
  const started = await TestServer.start({ storeUrl, tls: false, scrypt: TEST_SCRYPT });
  cleanups.push(() => started.close());
  return started;
}

async function connect(target: TestServer): Promise<BenchConnection> {
  const connection = await BenchConnection.connect({ port: target.tcpPort, tls: false, timeoutMs: REPLY_MS });
  cleanups.push(() => connection.destroy());
  return connection;
}

async function healthz(target: TestServer): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://127.0.0.1:${target.httpPort}/healthz`);
  return { status: response.status, body: await response.text() };
}

/** Polls a condition the server reaches on its own (a health check's period); bounded. */
async function eventually(check: () => Promise<boolean>, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not reached within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(!services.available)('the server on PostgreSQL', () => {
  it('an account signed up on one server logs in on another that starts on the same database', async () => {
    const url = await schemaUrl();
    const first = await server(url);
    const alice = await connect(first);
    await alice.request({ type: 'signup', username: 'alice', password: 'correct horse' }, 'signup.ok', REPLY_MS);
    expect(first.running.store).toBeInstanceOf(PostgresStore);
    expect(await healthz(first)).toEqual({ status: 200, body: 'ok\n' });

    const second = await server(url);
    const again = await connect(second);
    const ok = await again.request({ type: 'login', username: 'alice', password: 'correct horse' }, 'login.ok', REPLY_MS);
    expect(ok).toMatchObject({ username: 'alice' });
  });

  it('a lost database turns /healthz to 503 and refuses sign-ups (SERVER_DEGRADED), and 200 again once it answers; writes go on after it', async () => {
    const url = await schemaUrl();
    const proxy = await CutProxy.start(Number(new URL(services.postgresUrl).port));
    cleanups.push(() => proxy.close());
    const node = await server(proxy.via(url));
    const bob = await connect(node);
    await proxy.cutAll();
    await eventually(async () => (await healthz(node)).status === 503, REPLY_MS);
    expect((await healthz(node)).body).toMatch(/database/);
    // Refused rather than accepted into a memory the database may never see.
    const refused = await bob.request({ type: 'signup', username: 'bobby', password: 'correct horse' }, 'signup.ok', REPLY_MS).catch((error: unknown) => error);
    expect((refused as { frame?: { code?: string } }).frame?.code).toBe('SERVER_DEGRADED');

    await proxy.mend();
    await eventually(async () => (await healthz(node)).status === 200, REPLY_MS);
    await bob.request({ type: 'signup', username: 'bobby', password: 'correct horse' }, 'signup.ok', REPLY_MS);
    const reader = new PostgresStore({ url });
    cleanups.push(() => reader.close());
    expect(reader.load().accounts.map((a) => a.username)).toEqual(['bobby']);
  });
});
