/**
 * The HTTP admin port of the real server: health, Prometheus metrics with p2pchat_ names that
 * follow what the machine counted, the JSON stats, 404 for anything else, 503 once shutting down.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdminServer } from '../../cli/server/admin-http.ts';
import { TcpTestClient, loggedInClient } from '../helpers/tcp-test-client.ts';
import { type TestServer, startTestServer } from './server-fixture.ts';

async function get(port: number, path: string): Promise<{ status: number; body: string; contentType: string }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text(), contentType: response.headers.get('content-type') ?? '' };
}

describe('real server: HTTP admin port', () => {
  let server: TestServer;
  const clients: TcpTestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ processMetrics: true });
    const { client } = await loggedInClient(server.tcpPort, 'metered');
    clients.push(client);
    expect(await client.login('metered', 'wrong-password-here')).toMatchObject({ type: 'error', code: 'ALREADY_LOGGED_IN' });
    const stranger = await TcpTestClient.open(server.tcpPort);
    clients.push(stranger);
    expect(await stranger.login('metered', 'wrong-password-here')).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('GET /healthz answers 200 ok while serving', async () => {
    expect(await get(server.httpPort, '/healthz')).toMatchObject({ status: 200, body: 'ok\n' });
  });

  it('GET /metrics is Prometheus text with p2pchat_ metrics that follow the machine', async () => {
    const { status, body, contentType } = await get(server.httpPort, '/metrics');
    expect(status).toBe(200);
    expect(contentType).toContain('text/plain');
    for (const name of ['p2pchat_connections', 'p2pchat_online_users', 'p2pchat_accounts', 'p2pchat_logins_total', 'p2pchat_logins_failed_total', 'p2pchat_resumes_total', 'p2pchat_frames_in_total', 'p2pchat_frames_out_total', 'p2pchat_nodejs_eventloop_lag_seconds']) {
      expect(body, name).toMatch(new RegExp(`^${name} `, 'm'));
    }
    expect(body).toMatch(/^p2pchat_online_users 1$/m);
    expect(body).toMatch(/^p2pchat_accounts 1$/m);
    expect(body).toMatch(/^p2pchat_logins_total 1$/m);
    expect(body).toMatch(/^p2pchat_logins_failed_total 1$/m);
    expect(body).toMatch(/^p2pchat_errors_total\{code="BAD_CREDENTIALS"\} 1$/m);
    // A second scrape does not count the same logins again.
    const again = await get(server.httpPort, '/metrics');
    expect(again.body).toMatch(/^p2pchat_logins_total 1$/m);
  });

  it('GET /api/v1/stats is JSON with the machine stats, uptime, ports and the TLS certificate fingerprint', async () => {
    const { status, body, contentType } = await get(server.httpPort, '/api/v1/stats');
    expect(status).toBe(200);
    expect(contentType).toContain('application/json');
    const stats = JSON.parse(body) as Record<string, unknown>;
    expect(stats).toMatchObject({ accounts: 1, onlineUsers: 1, logins: 1, loginsFailed: 1, tcpPort: server.tcpPort, httpPort: server.httpPort });
    expect(typeof stats.uptimeMs).toBe('number');
    expect(stats.tls).toEqual({ enabled: true, fingerprint: server.tlsFingerprint });
    expect(server.tlsFingerprint).toMatch(/^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('anything else is 404', async () => {
    expect((await get(server.httpPort, '/')).status).toBe(404);
    expect((await get(server.httpPort, '/healthz/extra')).status).toBe(404);
    const post = await fetch(`http://127.0.0.1:${server.httpPort}/healthz`, { method: 'POST', signal: AbortSignal.timeout(5_000) });
    expect(post.status).toBe(404);
  });
});

describe('admin HTTP handler', () => {
  let serving = true;
  const admin = createAdminServer({ isServing: () => serving, registry: new Registry(), stats: () => ({}) });
  let port = 0;

  beforeAll(async () => {
    await new Promise<void>((resolve) => admin.listen(0, '127.0.0.1', resolve));
    port = (admin.address() as AddressInfo).port;
  });

  afterAll(async () => {
    admin.closeAllConnections();
    await new Promise<void>((resolve) => admin.close(() => resolve()));
  });

  it('GET /healthz answers 503 once shutdown began', async () => {
    expect((await get(port, '/healthz')).status).toBe(200);
    serving = false;
    expect(await get(port, '/healthz')).toMatchObject({ status: 503, body: 'shutting down\n' });
  });

  it('HEAD /healthz answers without a body', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/healthz', method: 'HEAD', timeout: 5_000 }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(503);
  });
});
