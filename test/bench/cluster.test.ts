/**
 * The cluster phase of the benchmark (bench/phases/cluster.ts) at a small size: two real server
 * processes on PostgreSQL and NATS, a few hundred users, a few presence probes. The full size
 * (50,000 users over three nodes) is `p2pchat bench --phases cluster --cluster 3`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { benchConfig } from '../../bench/config.ts';
import { PhaseContext } from '../../bench/phases/context.ts';
import { runClusterPhase } from '../../bench/phases/cluster.ts';
import { clusterServices } from '../helpers/cluster-services.ts';

const services = await clusterServices('cluster bench phase');

let tmpDir: string | null = null;
afterEach(async () => {
  if (tmpDir !== null) await rm(tmpDir, { recursive: true, force: true });
  tmpDir = null;
});

async function context(overrides: Partial<ReturnType<typeof benchConfig>>): Promise<PhaseContext> {
  tmpDir = await mkdtemp(join(os.tmpdir(), 'p2pchat-cluster-bench-test-'));
  return new PhaseContext({ ...benchConfig('quick'), ...overrides }, tmpDir);
}

describe('cluster bench phase', () => {
  it('reports both figures missing, with the reason, when the services do not answer (never a pass)', async () => {
    const ctx = await context({});
    // Port 1 on loopback: nothing listens there; the phase may not start services for this test.
    await runClusterPhase(ctx, { postgresUrl: 'postgres://p2pchat:p2pchat@127.0.0.1:1/p2pchat', natsUrl: 'nats://127.0.0.1:1', start: false });
    for (const name of ['cluster_connections_held', 'cluster_presence_p99_ms'] as const) {
      const result = ctx.results.get(name);
      expect(result).toMatchObject({ missing: true, passed: false, value: null });
      expect(result?.note).toMatch(/PostgreSQL at 127\.0\.0\.1:1 and NATS at 127\.0\.0\.1:1 not answering/);
    }
  });

  it.skipIf(!services.available)(
    'two nodes hold every user, and presence is timed across nodes beside one node',
    async () => {
      const ctx = await context({ clusterNodes: 2, clusterUsers: 300, clusterProbePairs: 4, clusterProbeRounds: 3, clusterHoldMs: 1_000 });
      await runClusterPhase(ctx, { postgresUrl: services.postgresUrl, natsUrl: services.natsUrl, start: false });
      const held = ctx.results.get('cluster_connections_held');
      expect(held).toMatchObject({ value: 300, missing: false, threshold: 2_000 });
      // Each node counts its own users: 150 each, and knows the other 150 as remote.
      expect(held?.details).toMatchObject({ nodes: 2, loggedIn: 300, openClientSide: 300, nodesLocalUsers: 300, nodesConnections: 300, nodesOnlineUsersEach: '300 300' });
      const presence = ctx.results.get('cluster_presence_p99_ms');
      expect(presence?.missing).toBe(false);
      expect(presence?.details).toMatchObject({ crossSamples: 12, localSamples: 12 });
      expect(presence?.value).toBeGreaterThan(0);
      expect(presence?.baseline).toBeGreaterThan(0);
      expect(presence?.note).toBeUndefined();
    },
    120_000,
  );
});
