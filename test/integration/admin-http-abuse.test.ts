/**
 * Issue #11 item 7, replayed against the admin HTTP port: a request whose headers never finish is
 * closed once the headers timeout passes (it stayed open past 120 s with a 10 s timeout before the
 * fix: node only looks every connectionsCheckingInterval), and one host cannot hold more than
 * ADMIN_HTTP_CONNECTIONS_MAX connections.
 */
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_HTTP_CONNECTIONS_MAX, ADMIN_HTTP_HEADERS_TIMEOUT_MS, createAdminServer } from '../../cli/server/admin-http.ts';

const sockets: net.Socket[] = [];
let close: (() => Promise<void>) | null = null;

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await close?.();
  close = null;
});

async function startAdmin(): Promise<number> {
  const server = createAdminServer({ isServing: () => true, registry: new Registry(), stats: () => ({}) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => resolve(socket));
    socket.on('error', reject);
    sockets.push(socket);
  });
}

/** Milliseconds until the server ends the socket (or `limitMs` passed: null). */
function closedWithin(socket: net.Socket, limitMs: number): Promise<number | null> {
  const startedMs = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), limitMs);
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - startedMs);
    });
    socket.resume();
  });
}

describe('admin HTTP under abuse (#11.7)', () => {
  it('closes a request whose headers never finish soon after the headers timeout', async () => {
    const port = await startAdmin();
    const socket = await connect(port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // The timeout plus one checking interval, and slack for a busy machine.
    const closedMs = await closedWithin(socket, ADMIN_HTTP_HEADERS_TIMEOUT_MS + 5_000);
    expect(closedMs).not.toBeNull();
    expect(closedMs).toBeGreaterThanOrEqual(ADMIN_HTTP_HEADERS_TIMEOUT_MS - 100);
  }, 30_000);

  it(`holds at most ${ADMIN_HTTP_CONNECTIONS_MAX} connections; the next is dropped, and health still answers once one goes`, async () => {
    const port = await startAdmin();
    const held = await Promise.all(Array.from({ length: ADMIN_HTTP_CONNECTIONS_MAX }, () => connect(port)));
    const extra = await connect(port);
    expect(await closedWithin(extra, 5_000)).not.toBeNull();
    held[0]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(200);
  }, 30_000);
});
