import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { floodHealthz, probeHealthz } from '../../bench/http-load.ts';

let server: Server | null = null;

async function healthzServer(): Promise<number> {
  server = createServer((_req, res) => res.end('ok'));
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
  server = null;
});

describe('the HTTP load counts its replies over time', () => {
  it('a flood counts every reply in some interval, and the intervals cover the run', async () => {
    const port = await healthzServer();
    const figures = await floodHealthz(port, 1);
    const counted = figures.intervalCounts.counts.reduce((a, b) => a + b, 0);
    expect(figures.requests).toBeGreaterThan(0);
    // autocannon's total counts replies completed inside its window; the listener sees each reply once.
    expect(counted).toBeGreaterThanOrEqual(figures.requests);
    expect(counted).toBeLessThanOrEqual(figures.requests + 10 * 2);
    expect(figures.intervalCounts.counts.length).toBeGreaterThanOrEqual(2);
  });

  it('a rate-limited probe counts about its rate per second', async () => {
    const port = await healthzServer();
    const figures = await probeHealthz(port, 1);
    const counted = figures.intervalCounts.counts.reduce((a, b) => a + b, 0);
    expect(counted).toBeGreaterThan(0);
    expect(counted).toBeGreaterThanOrEqual(figures.requests);
  });
});
