import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchConnection, inPool } from '../../bench/protocol-client.ts';
import { BENCH_PASSWORD, CHEAP_SCRYPT_PARAMS, names, seedStore } from '../../bench/seed.ts';
import { type RunningServer, startServer } from '../../cli/server/run.ts';

const TIMEOUT_MS = 5_000;

describe('the load generator speaks the real protocol to the real server', () => {
  let dir: string;
  let server: RunningServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'p2pchat-bench-test-'));
    // Seeded through the store, as the benchmark does: no protocol sign-ups needed.
    await seedStore(dir, { realAccounts: [], cheapAccounts: ['alice', 'bob', ...names('u', 20)], friendships: [['alice', 'bob']] });
    server = await startServer({ host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: 0, dataDir: dir, scrypt: CHEAP_SCRYPT_PARAMS, authRatePerAddress: 0 });
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs seeded accounts in, heartbeats at the welcome interval, and sees a friend come online', async () => {
    const alice = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
    expect(alice.heartbeatMs).toBeGreaterThan(0);
    const ok = await alice.request({ type: 'login', username: 'alice', password: BENCH_PASSWORD }, 'login.ok', TIMEOUT_MS);
    expect(ok).toMatchObject({ username: 'alice', friends: [{ username: 'bob', status: 'offline' }] });
    const presence = alice.expect('presence', TIMEOUT_MS);
    const bob = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
    await bob.request({ type: 'login', username: 'bob', password: BENCH_PASSWORD }, 'login.ok', TIMEOUT_MS);
    expect(await presence).toMatchObject({ username: 'bob', status: 'online' });
    const ack = alice.expect('heartbeat.ack', TIMEOUT_MS);
    alice.send({ type: 'heartbeat' });
    await ack;
    alice.destroy();
    bob.destroy();
  });

  it('brokers a session request answered by the callee, and rejects a wrong password with the server error', async () => {
    const caller = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
    const callee = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
    await caller.request({ type: 'login', username: 'alice', password: BENCH_PASSWORD }, 'login.ok', TIMEOUT_MS);
    await callee.request({ type: 'login', username: 'bob', password: BENCH_PASSWORD }, 'login.ok', TIMEOUT_MS);
    callee.onPush('session.incoming', (frame) => callee.send({ type: 'session.answer', requestId: String(frame.requestId), accept: true, host: '127.0.0.1', port: 9 }));
    caller.onPush('session.pending', () => {});
    const outcome = caller.expectOneOf(['session.established', 'session.failed'], TIMEOUT_MS);
    caller.send({ type: 'session.request', username: 'bob' });
    expect(await outcome).toMatchObject({ type: 'session.established', role: 'caller', port: 9 });

    const stranger = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
    await expect(stranger.request({ type: 'login', username: 'u00', password: 'wrong password' }, 'login.ok', TIMEOUT_MS)).rejects.toThrow(/BAD_CREDENTIALS/);
    for (const c of [caller, callee, stranger]) c.destroy();
  });

  it('holds many logins with a bounded pool', async () => {
    const connections: BenchConnection[] = [];
    await inPool(names('u', 20), 5, async (username) => {
      const connection = await BenchConnection.connect({ port: server.tcpPort, timeoutMs: TIMEOUT_MS });
      await connection.request({ type: 'login', username, password: BENCH_PASSWORD }, 'login.ok', TIMEOUT_MS);
      connections.push(connection);
    });
    expect(connections).toHaveLength(20);
    expect(server.machine.stats().onlineUsers).toBeGreaterThanOrEqual(20);
    for (const c of connections) c.destroy();
  });
});
