/**
 * Sizes and durations of each phase, per mode. The quick run (CI) keeps every figure but at a
 * smaller size so it ends in well under five minutes on two shared cores; the full run has the
 * sizes the targets are stated for (19,000 held clients, ten-second windows).
 */
import { type BenchMode, CLUSTER_CONNECTIONS_HELD_FULL, CLUSTER_CONNECTIONS_HELD_QUICK, CONNECTIONS_HELD_FULL, CONNECTIONS_HELD_QUICK } from './thresholds.ts';

export interface BenchConfig {
  readonly mode: BenchMode;
  /** The whole run stops at this age (processes killed, what was measured is reported). */
  readonly deadlineMs: number;
  /** Measuring window of the rate phases (login, resume, presence, echo, scrypt). */
  readonly windowMs: number;
  /** Logins (and scrypt calls) in flight at once. */
  readonly loginConcurrency: number;
  readonly resumeUsers: number;
  /** Presence: each flapper is a friend of every observer (at most FRIENDS_PER_USER_MAX). */
  readonly observers: number;
  readonly flappers: number;
  /** Messages in flight per connection on the bare echo server. */
  readonly echoWindow: number;
  readonly sessionPairs: number;
  readonly sessionRequestsPerCaller: number;
  readonly httpSeconds: number;
  readonly held: number;
  /** How long the held clients stay after the last one logged in (at least one heartbeat round). */
  readonly holdMs: number;
  /** TTL of the held-connections server: heartbeats at a third of it. */
  readonly heldTtlMs: number;
  readonly loadWorkers: number;
  readonly fileBytes: number;
  readonly simPeers: number;
  /** Virtual time of the simulated storm (its wall time is what the figure measures). */
  readonly simVirtualMs: number;
  /**
   * sim_peers_max: the largest storm tried. The quick run takes the sim_events_rate storm (10,000
   * peers); the full run also tries the million-peer storm in a process with a 20 GB heap.
   */
  readonly simPeersMax: number;
  /** The cluster phase (phases/cluster.ts): server processes sharing PostgreSQL and NATS (`--cluster N`). */
  readonly clusterNodes: number;
  /** Logged-in users the cluster holds, spread evenly over the nodes. */
  readonly clusterUsers: number;
  /** Friend pairs timing presence (one login, one friend), each pair once across nodes and once on one node per round. */
  readonly clusterProbePairs: number;
  readonly clusterProbeRounds: number;
  /** How long the cluster holds its users after the last logged in (at least one heartbeat round). */
  readonly clusterHoldMs: number;
  /** TTL of the cluster's nodes: heartbeats at a third of it, node leases at a quarter. */
  readonly clusterTtlMs: number;
}

/** Sockets one worker process holds at most (the fd limit is 20,000 per process). */
export const SOCKETS_PER_WORKER_MAX = 9_800;

export function benchConfig(mode: BenchMode): BenchConfig {
  if (mode === 'quick') {
    return {
      mode,
      deadlineMs: 280_000,
      windowMs: 4_000,
      loginConcurrency: 16,
      resumeUsers: 64,
      observers: 800,
      flappers: 12,
      echoWindow: 4,
      sessionPairs: 300,
      sessionRequestsPerCaller: 6,
      httpSeconds: 3,
      held: CONNECTIONS_HELD_QUICK,
      holdMs: 11_000,
      heldTtlMs: 30_000,
      loadWorkers: 2,
      fileBytes: 128 * 1024 * 1024,
      simPeers: 10_000,
      simVirtualMs: 20_000,
      simPeersMax: 10_000,
      clusterNodes: 2,
      clusterUsers: CLUSTER_CONNECTIONS_HELD_QUICK,
      clusterProbePairs: 20,
      clusterProbeRounds: 5,
      clusterHoldMs: 5_000,
      clusterTtlMs: 30_000,
    };
  }
  return {
    mode,
    deadlineMs: 900_000,
    windowMs: 10_000,
    loginConcurrency: 16,
    resumeUsers: 128,
    observers: 800,
    flappers: 24,
    echoWindow: 4,
    sessionPairs: 500,
    sessionRequestsPerCaller: 10,
    httpSeconds: 10,
    held: CONNECTIONS_HELD_FULL,
    holdMs: 25_000,
    heldTtlMs: 30_000,
    loadWorkers: 2,
    fileBytes: 256 * 1024 * 1024,
    simPeers: 10_000,
    simVirtualMs: 60_000,
    simPeersMax: 1_000_000,
    clusterNodes: 3,
    clusterUsers: CLUSTER_CONNECTIONS_HELD_FULL,
    clusterProbePairs: 50,
    clusterProbeRounds: 10,
    clusterHoldMs: 25_000,
    // Heartbeats every 20 s: 50,000 users beat 2,500 times a second on two shared cores.
    clusterTtlMs: 60_000,
  };
}

/** Loopback source addresses: 127.0.0.0/8 all reaches lo, and each has its own ephemeral ports. */
export function loopbackAddresses(first: number, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `127.0.0.${first + i}`);
}
