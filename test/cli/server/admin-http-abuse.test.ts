/**
 * The admin-port attack of docs/SECURITY.md, replayed against the admin HTTP port: a request whose headers never finish is
 * closed once the headers timeout passes (it stayed open past 120 s with a 10 s timeout before the
 * fix: node only looks every connectionsCheckingInterval), and one host cannot hold more than
 * ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX connections (it held all ADMIN_HTTP_CONNECTIONS_MAX, and
 * the health check of the supervisor was dropped on accept), nor all hosts together more than
 * ADMIN_HTTP_CONNECTIONS_MAX.
 */
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { ADMIN_HTTP_CONNECTIONS_MAX, ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX, ADMIN_HTTP_HEADERS_TIMEOUT_MS, createAdminServer } from '../../../cli/server/admin-http.ts';

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

function connect(port: number, localAddress = '127.0.0.1'): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(socket));
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

describe('admin HTTP under abuse', () => {
  it('closes a request whose headers never finish soon after the headers timeout', async () => {
    const port = await startAdmin();
    const socket = await connect(port);
    socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // The timeout plus one checking interval, and slack for a busy machine.
    const closedMs = await closedWithin(socket, ADMIN_HTTP_HEADERS_TIMEOUT_MS + 5_000);
    expect(closedMs).not.toBeNull();
    expect(closedMs).toBeGreaterThanOrEqual(ADMIN_HTTP_HEADERS_TIMEOUT_MS - 100);
  }, 30_000);

  it(`holds at most ${ADMIN_HTTP_CONNECTIONS_MAX} connections from all addresses: past it, from addresses holding one each, the next is dropped, and health answers once one goes`, async () => {
    const port = await startAdmin();
    const held = await Promise.all(Array.from({ length: ADMIN_HTTP_CONNECTIONS_MAX }, (_, i) => connect(port, `127.0.1.${10 + i}`)));
    const extra = await connect(port, '127.0.1.200');
    expect(await closedWithin(extra, 5_000)).not.toBeNull();
    held[0]?.destroy();
    await new Promise((resolve) => setTimeout(resolve, 100));
    const response = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(5_000) });
    expect(response.status).toBe(200);
  }, 30_000);

  it(`addresses at their bound (${ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX}) holding all ${ADMIN_HTTP_CONNECTIONS_MAX} cannot keep another's health check out: it pushes out the oldest of the fullest`, async () => {
    const port = await startAdmin();
    const addresses = ADMIN_HTTP_CONNECTIONS_MAX / ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX;
    const held: net.Socket[] = [];
    // One by one, so the oldest is known.
    for (let i = 0; i < ADMIN_HTTP_CONNECTIONS_MAX; i++) held.push(await connect(port, `127.0.0.${11 + (i % addresses)}`));
    const closedFirst = closedWithin(held[0]!, 5_000);
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress: '127.0.0.30', timeout: 5_000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
    expect(await closedFirst).not.toBeNull();
    expect(held.filter((socket) => socket.destroyed)).toEqual([held[0]]);
  }, 30_000);

  it(`holds at most ${ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX} connections from one address: another address's health check still answers`, async () => {
    const port = await startAdmin();
    const hog = await Promise.all(Array.from({ length: ADMIN_HTTP_CONNECTIONS_MAX }, () => connect(port, '127.0.0.40')));
    const dropped = ADMIN_HTTP_CONNECTIONS_MAX - ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX;
    let closed = 0;
    await new Promise<void>((resolve) => {
      for (const socket of hog) {
        socket.on('error', () => {});
        socket.resume();
        socket.once('close', () => {
          closed += 1;
          if (closed === dropped) resolve();
        });
      }
    });
    const status = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port, path: '/healthz', localAddress: '127.0.0.41', timeout: 5_000 }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
    expect(closed).toBe(dropped);
  }, 30_000);
});
