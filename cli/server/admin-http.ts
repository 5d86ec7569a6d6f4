/**
 * The HTTP admin port (node:http): health for load balancers and process supervisors, Prometheus
 * metrics, and a JSON view of the server's counters. Read-only; nothing here changes state.
 *
 *   GET /healthz       200 "ok" while serving; 503 "shutting down" once shutdown began, or 503
 *                      with the reason while a shared database or bus is lost (docs/CLUSTER.md)
 *   GET /metrics       Prometheus text format
 *   GET /api/v1/stats  JSON: the machine's stats plus uptime and ports
 *   anything else      404
 */
import http from 'node:http';
import type net from 'node:net';
import { FairPlaces } from '../net/address-counts.ts';
import type { Registry } from 'prom-client';

export interface AdminSource {
  /** False once shutdown began. */
  isServing(): boolean;
  /** Why the server cannot serve new logins right now (its database or bus is lost), or null. */
  unhealthyReason?(): string | null;
  readonly registry: Registry;
  /** The JSON body of /api/v1/stats. */
  stats(): object;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

function reply(res: http.ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

export function handleAdminRequest(source: AdminSource, req: http.IncomingMessage, res: http.ServerResponse): void {
  const url = req.url ?? '/';
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  if (req.method !== 'GET' && req.method !== 'HEAD') return reply(res, 404, TEXT, 'not found\n');
  switch (path) {
    case '/healthz':
    {
      if (!source.isServing()) return reply(res, 503, TEXT, 'shutting down\n');
      const reason = source.unhealthyReason?.() ?? null;
      return reason === null ? reply(res, 200, TEXT, 'ok\n') : reply(res, 503, TEXT, `unhealthy: ${reason}\n`);
    }
    case '/metrics':
      source.registry.metrics().then(
        (body) => reply(res, 200, source.registry.contentType, body),
        (error: unknown) => reply(res, 500, TEXT, `metrics failed: ${String(error)}\n`),
      );
      return;
    case '/api/v1/stats':
      return reply(res, 200, JSON_TYPE, JSON.stringify(source.stats()));
    default:
      return reply(res, 404, TEXT, 'not found\n');
  }
}

/** A request's headers must be complete within this long, the whole request within the next. */
export const ADMIN_HTTP_HEADERS_TIMEOUT_MS = 10_000;
export const ADMIN_HTTP_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How often node looks for requests past those timeouts. Its default, 30 s, lets a request that
 * never finishes its headers stay three times as long as the timeout says (an attack measured
 * more than 120 s; docs/SECURITY.md); once a second costs one walk over at most ADMIN_HTTP_CONNECTIONS_MAX sockets.
 */
export const ADMIN_HTTP_CHECK_INTERVAL_MS = 1_000;
/**
 * Connections the admin port holds at once, shared fairly by address key (limitConnections).
 * Scrapers, health checks and an operator need a handful (the benchmark's load uses 14); hosts
 * must not be able to pile up sockets on the port the supervisor's health check depends on.
 */
export const ADMIN_HTTP_CONNECTIONS_MAX = 64;
/**
 * Of those, connections one address key (core/net-address.ts) may hold; more are dropped on
 * accept. One host holding all 64 (each renewed as its 10 s run out) had the supervisor's health
 * check dropped on accept, and a supervisor that restarts an unhealthy server would have done the
 * attacker's work. Half: the other half stays for every other host, and the benchmark's load
 * (14 at once from one address, with its stats reads) keeps room to spare.
 */
export const ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX = 32;
/** An idle keep-alive connection is closed after this long (node's default, stated). */
const ADMIN_HTTP_KEEP_ALIVE_MS = 5_000;

export function createAdminServer(source: AdminSource): http.Server {
  const server = http.createServer(
    { connectionsCheckingInterval: ADMIN_HTTP_CHECK_INTERVAL_MS, headersTimeout: ADMIN_HTTP_HEADERS_TIMEOUT_MS, requestTimeout: ADMIN_HTTP_REQUEST_TIMEOUT_MS, keepAliveTimeout: ADMIN_HTTP_KEEP_ALIVE_MS },
    (req, res) => handleAdminRequest(source, req, res),
  );
  limitConnections(server, ADMIN_HTTP_CONNECTIONS_PER_ADDRESS_MAX, ADMIN_HTTP_CONNECTIONS_MAX);
  return server;
}

/**
 * Drops a connection on accept when its address key already holds `perAddressMax`; with
 * `totalMax` held in all, a newcomer pushes out the oldest connection of the address holding the
 * most, or is dropped (FairPlaces). node's own maxConnections would drop every newcomer past the
 * total, so two addresses at their bound (32 each) kept the supervisor's health check out.
 */
function limitConnections(server: http.Server, perAddressMax: number, totalMax: number): void {
  const places = new FairPlaces(perAddressMax, totalMax);
  server.on('connection', (socket: net.Socket) => {
    const release = places.take(socket.remoteAddress, () => socket.destroy());
    if (release === null) {
      socket.destroy();
      return;
    }
    socket.once('close', release);
  });
}
