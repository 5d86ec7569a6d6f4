/**
 * The multi-node world (scenario key `cluster`, docs/CLUSTER.md): several server processes, each
 * the shipped ServerMachine run by the shipped ServerHost with the shipped ClusterRouter, sharing
 * one simulated store (the SimStore every node writes, as PostgreSQL) and one simulated bus
 * (sim-bus.ts, core's MemoryBusHub on the simulator's queue).
 *
 * Users belong to a node (the population's `node`, else round robin by peer): their programs dial
 * the cluster's address (SERVER_ADDRESS) and the clients' transport sends that dial to a node:
 * - `balanced` (default): a TCP load balancer health-checking each node as /healthz does (the
 *   process runs and hears the bus) sends each new connection to the user's own node when healthy,
 *   else to the next healthy one in order; connections already open stay where they are;
 * - `pinned`: the user always dials its own node (a dead node's users stay away until it is back).
 *
 * Faults: `node-crash` (the process dies, restarting after downMs), `bus-partition` (a node loses
 * the bus: it keeps its clients, reports degraded and refuses logins; the others bury its users
 * when its lease runs out), and the `store` fault on the shared store hits the node whose process
 * applies the batch (a stall stops that process, a failure kills it).
 *
 * Random streams: "tokens" for the first node (as one server), "tokens:<node>" for the others,
 * "bus" for bus latencies.
 */
import type { Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import type { Scenario } from '../scenarios/scenario-schema.ts';
import { samplerOf } from './distributions.ts';
import type { SimNetwork } from './network.ts';
import { PlantedOutput } from './planted-output.ts';
import { Prng } from './prng.ts';
import { SERVER_ADDRESS, SERVER_PORT, ServerNode, type ServerTuning } from './server-node.ts';
import { SimBus } from './sim-bus.ts';
import type { SimClock } from './sim-clock.ts';
import { SimStore } from './sim-store.ts';

/** Node i listens at 10.255.254.(i+1): beside the one-server address, far above any peer's (10.x.y.z by index). */
export function nodeAddress(index: number): string {
  return `10.255.254.${index + 1}`;
}

export class ClusterWorld {
  readonly nodes: ServerNode[] = [];
  readonly nodeIds: readonly string[];
  readonly bus: SimBus;
  /** What every node writes: accounts, friendships, requests, held mail (PostgreSQL's part). */
  readonly store = new SimStore();
  /** TEST-ONLY bugs planted in every node's output and in the bus (fault kind `plant`). */
  readonly planted = new PlantedOutput();
  /** The node whose process is applying a batch to the shared store right now. */
  applyingNode: ServerNode | null = null;
  /** Node starts so far, cluster-wide: the shared store's boot sequence. */
  private boots = 1;
  /** The shared database's login_epochs sequence. */
  private loginEpochs = 0;
  private readonly byAddress = new Map<string, ServerNode>();
  private readonly byId = new Map<string, ServerNode>();
  private readonly pinned: boolean;

  constructor(
    private readonly scenario: Scenario & { readonly cluster: NonNullable<Scenario['cluster']> },
    clock: SimClock,
    network: SimNetwork,
    seed: number,
    tuning: ServerTuning,
    hashCostMs: number,
  ) {
    const cluster = scenario.cluster;
    this.nodeIds = cluster.nodes;
    this.pinned = cluster.clients === 'pinned';
    this.bus = new SimBus(clock, Prng.stream(seed, 'bus'), samplerOf(cluster.busLatency), this.planted.active);
    cluster.nodes.forEach((nodeId, index) => {
      const address = nodeAddress(index);
      const tokens = Prng.stream(seed, index === 0 ? 'tokens' : `tokens:${nodeId}`);
      const node = new ServerNode(clock, network, tokens, tuning, hashCostMs, {
        address,
        store: this.store,
        planted: this.planted,
        cluster: {
          nodeId,
          // As the shipped server: a dead node's users go offline elsewhere within one user TTL.
          leaseTtlMs: tuning.ttlMs ?? scenario.server.ttlMs,
          connect: (scope) => this.bus.connect(nodeId, scope),
          applying: (applying) => {
            this.applyingNode = applying;
          },
          nextBoot: () => this.boots++,
          nextLoginEpoch: () => ++this.loginEpochs,
        },
      });
      this.nodes.push(node);
      this.byAddress.set(address, node);
      this.byId.set(nodeId, node);
    });
  }

  get addresses(): string[] {
    return this.nodes.map((node) => node.address);
  }

  nodeById(nodeId: string): ServerNode | undefined {
    return this.byId.get(nodeId);
  }

  nodeAt(address: string): ServerNode | undefined {
    return this.byAddress.get(address);
  }

  /** The index of the node a user belongs to: the population's, else round robin by peer index. */
  homeOf(peerIndex: number, node: string | undefined): number {
    const named = node === undefined ? -1 : this.nodeIds.indexOf(node);
    return named >= 0 ? named : peerIndex % this.nodes.length;
  }

  /** A user's transport: its dials to the cluster's address go to a node (see the file comment). */
  clientTransport(inner: Transport, home: number): Transport {
    return new BalancedTransport(inner, this, home);
  }

  /** Where a new connection of a user of node `home` goes. */
  pick(home: number): string {
    const count = this.nodes.length;
    const own = this.nodes[home] as ServerNode;
    if (this.pinned || own.healthy) return own.address;
    for (let step = 1; step < count; step++) {
      const node = this.nodes[(home + step) % count] as ServerNode;
      if (node.healthy) return node.address;
    }
    return own.address;
  }

  /**
   * The incarnation of the node whose machine made a session request id (`<node>.<boot>.s<n>`):
   * the checkers key requests by it. 0 for ids of no node.
   */
  incarnationOfRequest(requestId: string): number {
    const dot = requestId.indexOf('.');
    return dot < 0 ? 0 : (this.byId.get(requestId.slice(0, dot))?.incarnation ?? 0);
  }
}

/** A user's transport behind the cluster's load balancer (or pinned to its node). */
class BalancedTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly cluster: ClusterWorld,
    private readonly home: number,
  ) {}

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, onAccept, onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    if (host !== SERVER_ADDRESS || port !== SERVER_PORT) return this.inner.connect(host, port, events);
    return this.inner.connect(this.cluster.pick(this.home), port, events);
  }
}
