/**
 * The HTTP admin port (node:http): health for load balancers and process supervisors, Prometheus
 * metrics, and a JSON view of the server's counters. Read-only; nothing here changes state.
 *
 *   GET /healthz       200 "ok" while serving, 503 "shutting down" once shutdown began
 *   GET /metrics       Prometheus text format
 *   GET /api/v1/stats  JSON: the machine's stats plus uptime and ports
 *   anything else      404
 */
import http from 'node:http';
import type { Registry } from 'prom-client';

export interface AdminSource {
  /** False once shutdown began. */
  isServing(): boolean;
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
      return source.isServing() ? reply(res, 200, TEXT, 'ok\n') : reply(res, 503, TEXT, 'shutting down\n');
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

export function createAdminServer(source: AdminSource): http.Server {
  const server = http.createServer((req, res) => handleAdminRequest(source, req, res));
  // Bound what a slow or idle admin client can hold.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return server;
}
