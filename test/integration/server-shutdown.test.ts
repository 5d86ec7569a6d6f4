/**
 * Graceful shutdown of the embedded server: clients are told, a sign-up whose hash is running is
 * still committed, a client that never hangs up is reset after the grace period, the ports close,
 * and closing twice is harmless.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../cli/server/sqlite-store.ts';
import { TcpTestClient, loggedInClient } from '../helpers/tcp-test-client.ts';
import { type TestServer, startTestServer } from './server-fixture.ts';

const GRACE_MS = 300;
const POLL_ROUNDS_MAX = 200;

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < POLL_ROUNDS_MAX; round++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`gave up waiting for ${what}`);
}

function connectRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

const servers: TestServer[] = [];
afterAll(async () => {
  for (const server of servers) await server.stop();
});

describe('real server: graceful shutdown', () => {
  it('tells clients, commits a sign-up in flight, closes both ports, and is idempotent', async () => {
    const server = await startTestServer({ shutdownGraceMs: GRACE_MS });
    servers.push(server);
    const { client } = await loggedInClient(server.tcpPort, 'stayer');
    const signer = await TcpTestClient.open(server.tcpPort);
    const framesBefore = server.machine.stats().framesIn;
    signer.send({ type: 'signup', username: 'latecomer', password: 'latecomer-password' });
    await until(() => server.machine.stats().framesIn > framesBefore, 'the sign-up frame to arrive');

    const closing = server.close();
    expect(server.close()).toBe(closing);
    await client.waitError('SERVER_SHUTTING_DOWN');
    await client.waitClosed();
    await closing;

    expect(await connectRefused(server.tcpPort)).toBe(true);
    expect(await connectRefused(server.httpPort)).toBe(true);
    const store = new SqliteStore({ dataDir: server.dataDir });
    expect(store.load().accounts.map((a) => a.username).sort()).toEqual(['latecomer', 'stayer']);
    store.close();
    signer.close();
  });

  it('resets a client that never hangs up once the grace period is over', async () => {
    const server = await startTestServer({ shutdownGraceMs: GRACE_MS });
    servers.push(server);
    // allowHalfOpen: this socket keeps its side open after the server's FIN, as a stuck client would.
    // allowHalfOpen is passed on to the socket by node, though its TLS typings leave it out.
    const stubborn = tls.connect({ host: '127.0.0.1', port: server.tcpPort, allowHalfOpen: true, rejectUnauthorized: false } as tls.ConnectionOptions);
    stubborn.on('error', () => {});
    // It reads (so it sees the FIN and the reset) but never ends its own side.
    stubborn.resume();
    const closed = new Promise<void>((resolve) => stubborn.once('close', () => resolve()));
    await new Promise<void>((resolve) => stubborn.once('secureConnect', () => resolve()));
    await until(() => server.machine.stats().connections === 1, 'the server to see the connection');
    await server.close();
    // After its EOF the client no longer reads, so it learns of the reset on its next write.
    stubborn.write(Uint8Array.of(0x01));
    await closed;
    expect(stubborn.destroyed).toBe(true);
  });
});
