/**
 * cluster_connections_held and cluster_presence_p99_ms (`p2pchat bench --cluster N`): N real
 * server processes (`p2pchat server --store postgres://... --bus nats://... --node-id ...`, TLS on
 * as shipped) share PostgreSQL and NATS, which scripts/services.sh runs on loopback; the phase
 * finds them or starts them, and reports both figures missing with the reason when it cannot.
 *
 * - The run gets a fresh schema in the database and a cluster name of its own on NATS, so other
 *   users of the same services never see it; the schema is dropped at the end.
 * - `clusterUsers` accounts, logged in round-robin over the nodes (user i on node i mod N), each a
 *   friend of the next (a ring): neighbours sit on different nodes, so every login fans presence
 *   out over the bus. No node gets more than NODE_USERS_MAX (one process's descriptor limit).
 * - Load workers: as many per node as it takes to stay under SOCKETS_PER_WORKER_MAX each, every
 *   worker on its own 127.0.0.x source address; every client heartbeats as the welcome asks.
 * - With everyone held, the presence probe: pairs of friends seeded for it, with no other friend.
 *   Half the pairs have the observer on one node and the flapper on the next ('cross'); half have
 *   both on the same node ('local', the baseline). Each round a flapper logs in and the time from
 *   its login frame sent to its friend's `presence online` is one sample; both kinds run side by
 *   side, from one worker process, under the same load (load-worker.ts presenceProbe).
 * - After the hold, the figure is the smaller of the clients still open and the users the nodes
 *   hold themselves (each node's onlineUsers less the remote users it knows of) and their
 *   connections. Node RSS before and after is reported beside it (TLS costs memory per client).
 */
import { join } from 'node:path';
import { SOCKETS_PER_WORKER_MAX, loopbackAddresses } from '../config.ts';
import { BENCH_SERVICES, type ServiceUrls, benchBusUrl, ensureServices, freshBenchSchema, seedPostgres } from '../cluster-services.ts';
import { type IntervalCounts, sumIntervalCounts } from '../interval-counts.ts';
import type { ResultName } from '../names.ts';
import { progress } from '../progress.ts';
import { rssKbOf } from '../processes.ts';
import type { RpcChild } from '../rpc.ts';
import { BENCH_PASSWORD, names } from '../seed.ts';
import { type BenchServer, startBenchServer } from '../server-launcher.ts';
import { CONNECTIONS_HELD_FULL } from '../thresholds.ts';
import { errorsText, mergeErrors, mergeLatencies, split, startWorkers, stopWorkers, totalCounts } from '../workers.ts';
import { type PhaseContext, sleep } from './context.ts';

export const CLUSTER_RESULTS: readonly ResultName[] = ['cluster_connections_held', 'cluster_presence_p99_ms'];

/** Users one node is given at most: one process holds about 19,900 sockets here (fd limit 20,000). */
export const NODE_USERS_MAX = CONNECTIONS_HELD_FULL;
/** Logins in flight per worker while filling up (TLS handshakes: the servers' CPU is the bound). */
const LOGINS_IN_FLIGHT_PER_WORKER = 100;
/** A worker's whole fill may take this long: 50,000 TLS logins on two shared cores take minutes. */
const FILL_TIMEOUT_MS = 900_000;
/** The probe's rounds start at random points of this gap, so its logins do not come in waves. */
const PROBE_GAP_MS = 500;
const PROBE_TIMEOUT_MS = 300_000;
/** Held clients connect from 127.0.0.140 up (the held phase uses 20+, resume 100-123). */
const FIRST_SOURCE_ADDRESS = 140;
/** Time for the allocator and GC to settle before RSS is read. */
const RSS_SETTLE_MS = 1_500;
const RELEASE_TIMEOUT_MS = 120_000;

interface NodeStats {
  readonly connections: number;
  readonly onlineUsers: number;
  readonly remoteUsers: number;
}

async function nodeStats(server: BenchServer): Promise<NodeStats> {
  const stats = await server.stats();
  const cluster = (stats.cluster ?? {}) as { remoteUsers?: unknown };
  return { connections: Number(stats.connections ?? 0), onlineUsers: Number(stats.onlineUsers ?? 0), remoteUsers: Number(cluster.remoteUsers ?? 0) };
}

export async function runClusterPhase(ctx: PhaseContext, urls: ServiceUrls = BENCH_SERVICES): Promise<void> {
  const c = ctx.config;
  const services = await ensureServices(urls);
  if (!services.ok) {
    for (const name of CLUSTER_RESULTS) ctx.missing(name, `the cluster needs PostgreSQL and NATS: ${services.reason}`);
    return;
  }
  const nodeCount = c.clusterNodes;
  const perNodeWanted = Math.ceil(c.clusterUsers / nodeCount);
  const perNode = Math.min(perNodeWanted, NODE_USERS_MAX);
  const userCount = Math.min(c.clusterUsers, perNode * nodeCount);
  const capped = userCount < c.clusterUsers;
  if (capped) progress(`cluster: ${nodeCount} nodes hold at most ${NODE_USERS_MAX} users each: ${userCount} of ${c.clusterUsers}`);
  const users = names('c', userCount);
  const pairs = c.clusterProbePairs;
  const probeObservers = names('po', 2 * pairs);
  const probeFlappers = names('pf', 2 * pairs);

  const schema = await freshBenchSchema(urls.postgresUrl);
  const busUrl = benchBusUrl(urls.natsUrl, schema.name);
  const servers: BenchServer[] = [];
  let workers: RpcChild[] = [];
  try {
    progress(`cluster: seeding ${userCount + 4 * pairs} accounts in PostgreSQL schema ${schema.name}`);
    const ring = users.map((name, i): [string, string] => [name, users[(i + 1) % users.length] as string]).filter(([a, b]) => a !== b);
    const probePairs = probeObservers.map((observer, i): [string, string] => [observer, probeFlappers[i] as string]);
    await seedPostgres(schema.url, { accounts: [...users, ...probeObservers, ...probeFlappers], friendships: [...new Map(ring.map((pair) => [[...pair].sort().join(' '), pair])).values(), ...probePairs] });

    progress(`cluster: starting ${nodeCount} server processes on the shared store and bus`);
    const started = await Promise.allSettled(
      Array.from({ length: nodeCount }, (_, i) =>
        startBenchServer({
          dataDir: join(ctx.tmpDir, `cluster-node${i + 1}`),
          ttlMs: c.clusterTtlMs,
          label: `cluster node${i + 1}`,
          extraArgs: ['--store', schema.url, '--bus', busUrl, '--node-id', `bench${i + 1}`],
        }),
      ),
    );
    for (const outcome of started) if (outcome.status === 'fulfilled') servers.push(outcome.value);
    const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failed !== undefined) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
    const rssBeforeKb = await Promise.all(servers.map((server) => server.rssKb()));

    // Users by node (user i on node i mod N), then each node's share over its own workers.
    const byNode = servers.map((_, node) => users.filter((_, i) => i % nodeCount === node));
    const plan = byNode.flatMap((nodeUsers, node) => split(nodeUsers, Math.max(1, Math.ceil(nodeUsers.length / SOCKETS_PER_WORKER_MAX))).map((slice) => ({ node, slice })));
    workers = startWorkers(plan.length + 1, 'cluster');
    const probeWorker = workers[plan.length] as RpcChild;
    progress(`cluster: ${userCount} users logging in over ${nodeCount} nodes from ${plan.length} worker processes`);
    const fillStartMs = Date.now();
    const fills = await Promise.all(
      plan.map(({ node, slice }, w) =>
        (workers[w] as RpcChild).call<{ loggedIn: number; errors: Record<string, number>; intervalCounts?: IntervalCounts }>(
          'holdLogins',
          { port: (servers[node] as BenchServer).tcpPort, localAddresses: loopbackAddresses(FIRST_SOURCE_ADDRESS + w, 1), usernames: slice, password: BENCH_PASSWORD, concurrency: LOGINS_IN_FLIGHT_PER_WORKER },
          FILL_TIMEOUT_MS,
        ),
      ),
    );
    const fillMs = Date.now() - fillStartMs;
    ctx.charts.throughputOf('cluster', 'users logged in and held (all nodes)', sumIntervalCounts(fills.flatMap((f) => (f.intervalCounts === undefined ? [] : [f.intervalCounts]))));
    const loggedIn = fills.reduce((sum, f) => sum + f.loggedIn, 0);
    progress(`cluster: ${loggedIn} logged in after ${(fillMs / 1000).toFixed(1)} s; timing presence across nodes and on one node`);

    // Pair i: observer on node i mod N; the cross flapper on the next node, the local one beside it.
    const probeStartMs = Date.now();
    const probe = await probeWorker.call<{ samplesUs: Record<string, number[]>; errors: Record<string, number> }>(
      'presenceProbe',
      {
        pairs: probeObservers.map((observer, i) => {
          const node = i % nodeCount;
          const cross = i < pairs;
          const flapperNode = cross ? (node + 1) % nodeCount : node;
          return { observer, observerPort: (servers[node] as BenchServer).tcpPort, flapper: probeFlappers[i], flapperPort: (servers[flapperNode] as BenchServer).tcpPort, label: cross ? 'cross' : 'local' };
        }),
        rounds: c.clusterProbeRounds,
        gapMs: PROBE_GAP_MS,
        password: BENCH_PASSWORD,
        localAddresses: loopbackAddresses(FIRST_SOURCE_ADDRESS + plan.length, 1),
      },
      PROBE_TIMEOUT_MS,
    );
    const probeMs = Date.now() - probeStartMs;
    await sleep(Math.max(0, c.clusterHoldMs - probeMs));

    const counts = await totalCounts(workers);
    const stats = await Promise.all(servers.map((server) => nodeStats(server)));
    await sleep(RSS_SETTLE_MS);
    const rssAfterKb = await Promise.all(servers.map((server) => server.rssKb()));
    const workerRssKb = await Promise.all(workers.map((worker) => rssKbOf(worker.pid).catch(() => 0)));
    const localUsers = stats.reduce((sum, s) => sum + s.onlineUsers - s.remoteUsers, 0);
    const serverConnections = stats.reduce((sum, s) => sum + s.connections, 0);
    const held = Math.min(counts.open, localUsers, serverConnections);
    const sum = (values: readonly number[]): number => values.reduce((total, v) => total + v, 0);
    const growthKb = sum(rssAfterKb) - sum(rssBeforeKb);
    const fillErrors = errorsText(mergeErrors(fills.map((f) => f.errors)));
    const notes = [
      ...(capped ? [`${nodeCount} nodes of at most ${NODE_USERS_MAX} users each (the descriptor limit): ${userCount} of the ${c.clusterUsers} wanted; run with more nodes`] : []),
      ...(counts.heartbeatAcks === 0 ? ['no heartbeat was acknowledged during the hold'] : []),
      ...(fillErrors === '' ? [] : [`login errors: ${fillErrors}`]),
    ];
    ctx.record('cluster_connections_held', {
      value: held,
      details: {
        target: c.clusterUsers,
        nodes: nodeCount,
        usersPerNode: perNode,
        loggedIn,
        openClientSide: counts.open,
        nodesLocalUsers: localUsers,
        nodesConnections: serverConnections,
        nodesOnlineUsersEach: stats.map((s) => s.onlineUsers).join(' '),
        heartbeatAcks: counts.heartbeatAcks,
        fillMs,
        holdMs: Math.max(c.clusterHoldMs, probeMs),
        loadWorkers: plan.length,
        nodesRssBeforeKb: sum(rssBeforeKb),
        nodesRssAfterKb: sum(rssAfterKb),
        nodesRssEachAfterKb: rssAfterKb.join(' '),
        nodesRssGrowthPerUserKb: Math.round((growthKb / Math.max(1, held)) * 10) / 10,
        workersRssKb: sum(workerRssKb),
      },
      ...(notes.length === 0 ? {} : { note: notes.join('; ') }),
    });

    const cross = mergeLatencies([probe.samplesUs.cross ?? []]);
    const local = mergeLatencies([probe.samplesUs.local ?? []]);
    ctx.charts.latencyCurve('cluster_presence_p99_ms', 'login on one node, friend on another', cross.curve);
    ctx.charts.latencyCurve('cluster_presence_p99_ms', 'login and friend on one node (baseline)', local.curve);
    const probeErrors = errorsText(probe.errors);
    if (cross.count === 0 || local.count === 0) throw new Error(`the presence probe took no ${cross.count === 0 ? 'cross-node' : 'one-node'} sample${probeErrors === '' ? '' : ` (${probeErrors})`}`);
    ctx.record('cluster_presence_p99_ms', {
      value: cross.p99Ms,
      baseline: local.p99Ms,
      details: {
        crossSamples: cross.count,
        crossP50Ms: cross.p50Ms,
        crossMaxMs: cross.maxMs,
        localSamples: local.count,
        localP50Ms: local.p50Ms,
        localMaxMs: local.maxMs,
        pairsEach: pairs,
        rounds: c.clusterProbeRounds,
        heldMeanwhile: loggedIn,
      },
      ...(probeErrors === '' ? {} : { note: `probe errors: ${probeErrors}` }),
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RELEASE_TIMEOUT_MS).catch(() => null)));
    await stopWorkers(workers);
    await Promise.all(servers.map((server) => server.stop()));
    await schema.drop().catch((error: unknown) => progress(`cluster: could not drop schema ${schema.name}: ${error instanceof Error ? error.message : String(error)}`));
  }
}
