/**
 * The session_broker_p99_ms driver: real clients (ClientRuntime over TCP) against the real server
 * in this process open whole chat sessions (brokering, P2P connect, token hello) and report a
 * latency for each; a failed open is counted by its reason, never recorded as a latency.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClientPool } from '../../bench/chat-clients.ts';
import { BENCH_PASSWORD, CHEAP_SCRYPT_PARAMS, seedStore } from '../../bench/seed.ts';
import { type RunningServer, startServer } from '../../cli/server/run.ts';

describe('the chat-session driver of the benchmark', () => {
  let dir: string;
  let server: RunningServer;
  const pool = new ChatClientPool();

  beforeAll(async () => {
    dir = await mkdtemp(join(os.tmpdir(), 'p2pchat-bench-chat-'));
    await seedStore(dir, { realAccounts: [], cheapAccounts: ['alice', 'bob', 'carol'], friendships: [['alice', 'bob']] });
    server = await startServer({ host: '127.0.0.1', port: 0, httpHost: '127.0.0.1', httpPort: 0, dataDir: dir, scrypt: CHEAP_SCRYPT_PARAMS, authRatePerAddress: 0, processMetrics: false, shutdownGraceMs: 500 });
  });

  afterAll(async () => {
    await pool.releaseAll();
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs real clients in, then opens and closes a chat twice, reporting one latency per opened session', async () => {
    const login = await pool.loginAll({ serverPort: server.tcpPort, serverFingerprint: server.tlsFingerprint!, usernames: ['alice', 'bob', 'carol'], password: BENCH_PASSWORD, downloadDir: join(dir, 'downloads'), concurrency: 3 });
    expect(login).toEqual({ loggedIn: 3, errors: {} });
    const result = await pool.openChats({ pairs: [['alice', 'bob']], opensPerCaller: 2, paceMs: 0 });
    expect(result.failures).toEqual({});
    expect(result.opened).toBe(2);
    expect(result.samplesUs).toHaveLength(2);
    for (const us of result.samplesUs) expect(us).toBeGreaterThan(0);
    // The server brokered both sessions.
    expect(server.machine.stats().sessions.established).toBe(2);
  });

  it('counts an open the server refuses by its reason, without a latency', async () => {
    const result = await pool.openChats({ pairs: [['carol', 'alice'], ['nobody', 'alice']], opensPerCaller: 1, paceMs: 0 });
    expect(result.opened).toBe(0);
    expect(result.samplesUs).toEqual([]);
    expect(result.failures).toEqual({ 'not-friends': 1, 'caller not logged in here': 1 });
  });

  it('starts no open after its window, counting those not started instead of holding the answer', async () => {
    const result = await pool.openChats({ pairs: [['alice', 'bob']], opensPerCaller: 3, paceMs: 0, windowMs: -1 });
    expect(result.opened).toBe(0);
    expect(result.failures).toEqual({ 'not started: the window had passed': 3 });
  });
});
