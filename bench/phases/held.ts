/**
 * connections_held and rss_per_connection_kb: one server process (its own, with a TTL whose
 * heartbeats fall inside the hold) gets `held` logged-in clients from several worker processes,
 * each worker on its own 127.0.0.x source address; every client heartbeats at the interval the
 * welcome asked for. After the hold, the figure is the number of clients still logged in on both
 * sides (client sockets open, server onlineUsers). RSS growth per connection is then held against
 * a bare node:net server that the same workers fill with the same number of plain sockets; a bare
 * node:tls server filled the same way says, in the details, how much of the figure is TLS itself.
 */
import { join } from 'node:path';
import { loadTlsIdentity } from '../../cli/net/tls-identity.ts';
import { startBaselineProcess } from '../baselines.ts';
import type { PipeTls } from '../baselines/bare-servers.ts';
import { SOCKETS_PER_WORKER_MAX, loopbackAddresses } from '../config.ts';
import { type IntervalCounts, sumIntervalCounts } from '../interval-counts.ts';
import { progress } from '../progress.ts';
import type { RpcChild } from '../rpc.ts';
import { BENCH_PASSWORD, names, seedStore } from '../seed.ts';
import { startBenchServer } from '../server-launcher.ts';
import { errorsText, mergeErrors, split, startWorkers, stopWorkers, totalCounts } from '../workers.ts';
import { type PhaseContext, sleep } from './context.ts';

/** Logins in flight per worker while filling up. */
const LOGINS_IN_FLIGHT_PER_WORKER = 200;
/**
 * Before RSS is first read, each side is warmed up with this share of the count (at least
 * WARM_UP_MIN), connected and then released: the code paths get compiled and the heap grows to its
 * working size once, so the figure is the marginal memory of a connection, not start-up costs
 * divided by however many connections the mode holds.
 */
const WARM_UP_SHARE = 0.05;
const WARM_UP_MIN = 200;
/** Time for the allocator and GC to settle before RSS is read. */
const RSS_SETTLE_MS = 1_500;
const FILL_TIMEOUT_MS = 240_000;
/** Source addresses for the held clients start here (resume_rate uses 127.0.0.100 to .123). */
const FIRST_SOURCE_ADDRESS = 20;

export async function runHeldPhase(ctx: PhaseContext): Promise<void> {
  const c = ctx.config;
  const usernames = names('h', c.held);
  const warmUpCount = Math.max(WARM_UP_MIN, Math.round(c.held * WARM_UP_SHARE));
  const warmUpNames = names('w', warmUpCount);
  const workerCount = Math.max(c.loadWorkers, Math.ceil(c.held / SOCKETS_PER_WORKER_MAX));
  const dataDir = join(ctx.tmpDir, 'server-held');
  progress(`seeding ${c.held} accounts for the held-connections server`);
  await seedStore(dataDir, { realAccounts: [], cheapAccounts: [...usernames, ...warmUpNames], friendships: [] });
  const workers = startWorkers(workerCount, 'held');
  try {
    const server = await startBenchServer({ dataDir, ttlMs: c.heldTtlMs, label: 'held server' });
    let serverGrowthKb = 0;
    let held = 0;
    try {
      progress(`held: warming up with ${warmUpCount} clients (logged in, then out)`);
      const warmSlices = split(warmUpNames, workerCount);
      await Promise.all(
        workers.map((worker, i) =>
          worker.call('holdLogins', { port: server.tcpPort, localAddresses: loopbackAddresses(FIRST_SOURCE_ADDRESS + i, 1), usernames: warmSlices[i], password: BENCH_PASSWORD, concurrency: LOGINS_IN_FLIGHT_PER_WORKER }, FILL_TIMEOUT_MS),
        ),
      );
      await Promise.all(workers.map((worker) => worker.call('releaseAll', { logout: true }, 60_000)));
      await sleep(RSS_SETTLE_MS);
      const rssBeforeKb = await server.rssKb();
      const slices = split(usernames, workerCount);
      progress(`held: ${c.held} clients logging in from ${workerCount} worker processes`);
      const fillStartMs = Date.now();
      const fills = await Promise.all(
        workers.map((worker, i) =>
          worker.call<{ loggedIn: number; errors: Record<string, number>; intervalCounts?: IntervalCounts }>(
            'holdLogins',
            { port: server.tcpPort, localAddresses: loopbackAddresses(FIRST_SOURCE_ADDRESS + i, 1), usernames: slices[i], password: BENCH_PASSWORD, concurrency: LOGINS_IN_FLIGHT_PER_WORKER },
            FILL_TIMEOUT_MS,
          ),
        ),
      );
      const fillMs = Date.now() - fillStartMs;
      ctx.charts.throughputOf('held', 'clients logged in and held', sumIntervalCounts(fills.flatMap((f) => (f.intervalCounts === undefined ? [] : [f.intervalCounts]))));
      const loggedIn = fills.reduce((sum, f) => sum + f.loggedIn, 0);
      progress(`held: ${loggedIn} logged in after ${(fillMs / 1000).toFixed(1)} s; holding ${c.holdMs} ms with heartbeats`);
      await sleep(c.holdMs);
      const counts = await totalCounts(workers);
      const stats = await server.stats();
      const onlineUsers = Number(stats.onlineUsers ?? 0);
      const serverConnections = Number(stats.connections ?? 0);
      await sleep(RSS_SETTLE_MS);
      const rssAfterKb = await server.rssKb();
      held = Math.min(counts.open, onlineUsers, serverConnections);
      serverGrowthKb = (rssAfterKb - rssBeforeKb) / Math.max(1, held);
      const errors = errorsText(mergeErrors(fills.map((f) => f.errors)));
      ctx.record('connections_held', {
        value: held,
        details: { target: c.held, loggedIn, openClientSide: counts.open, onlineUsers, serverConnections, heartbeatAcks: counts.heartbeatAcks, fillMs, holdMs: c.holdMs, workers: workerCount, rssBeforeKb, rssAfterKb },
        ...(counts.heartbeatAcks === 0 ? { note: 'no heartbeat was acknowledged during the hold' } : errors === '' ? {} : { note: `login errors: ${errors}` }),
      });
      await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, 60_000)));
    } finally {
      await server.stop();
    }
    if (held === 0) throw new Error('no connection was held');

    progress(`bare node:net server: ${held} plain sockets from the same workers`);
    const bare = await measureBareHold(workers, held, warmUpCount, FIRST_SOURCE_ADDRESS + workerCount);
    // The same again over node:tls with the kind of certificate the server makes: how much of the
    // server's figure is TLS itself (details only; the target stays against plain sockets).
    progress(`bare node:tls server: ${held} TLS 1.3 sockets from the same workers`);
    const identity = await loadTlsIdentity({ dataDir: join(ctx.tmpDir, 'hold-tls') });
    const bareTls = await measureBareHold(workers, held, warmUpCount, FIRST_SOURCE_ADDRESS + 3 * workerCount, { cert: identity.cert, key: identity.key });
    ctx.record('rss_per_connection_kb', {
      value: serverGrowthKb,
      baseline: bare.growthKb,
      details: {
        connections: held,
        warmUpConnections: warmUpCount,
        bareConnections: bare.connections,
        bareRssBeforeKb: bare.rssBeforeKb,
        bareRssAfterKb: bare.rssAfterKb,
        bareTlsKb: round2(bareTls.growthKb),
        bareTlsConnections: bareTls.connections,
        ratioToBareTls: bareTls.growthKb > 0 ? round2(serverGrowthKb / bareTls.growthKb) : 'n/a',
      },
    });
  } finally {
    await stopWorkers(workers);
  }
}

interface BareHold {
  readonly growthKb: number;
  readonly connections: number;
  readonly rssBeforeKb: number;
  readonly rssAfterKb: number;
}

/**
 * RSS growth per socket of a bare hold server in its own process, filled by the same workers
 * with `held` sockets after the same warm-up, from source addresses `firstAddress` on (fresh ones:
 * the sockets just closed leave their ports in TIME_WAIT, and binding a source address searches
 * past every one of them). Over node:tls with `tls`.
 */
async function measureBareHold(workers: readonly RpcChild[], held: number, warmUpCount: number, firstAddress: number, tls?: PipeTls): Promise<BareHold> {
  const workerCount = workers.length;
  const bare = startBaselineProcess(tls === undefined ? 'hold baseline' : 'tls hold baseline');
  const fill = (count: number, fromAddress: number) => {
    const slices = split(Array.from({ length: count }, (_, i) => i), workerCount);
    return Promise.all(
      workers.map((worker, i) =>
        worker.call('bareHold', { port, localAddresses: loopbackAddresses(fromAddress + i, 1), count: slices[i]?.length ?? 0, concurrency: LOGINS_IN_FLIGHT_PER_WORKER, tls: tls !== undefined }, FILL_TIMEOUT_MS),
      ),
    );
  };
  let port = 0;
  try {
    ({ port } = await bare.call<{ port: number }>('hold', tls === undefined ? {} : { tls }, 60_000));
    await fill(warmUpCount, firstAddress + workerCount);
    await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, 60_000)));
    await sleep(RSS_SETTLE_MS);
    const before = await bare.call<{ rssKb: number }>('rss', {}, 60_000);
    await fill(held, firstAddress);
    await sleep(RSS_SETTLE_MS);
    const after = await bare.call<{ rssKb: number; connections: number }>('rss', {}, 60_000);
    return { growthKb: (after.rssKb - before.rssKb) / Math.max(1, after.connections), connections: after.connections, rssBeforeKb: before.rssKb, rssAfterKb: after.rssKb };
  } finally {
    await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, 60_000).catch(() => null)));
    await bare.stop();
  }
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export type { RpcChild };
