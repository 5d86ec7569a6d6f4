/**
 * The simulated server process: the real ServerMachine run by the real ServerHost over the
 * in-memory network and the virtual clock, with a MemoryStore and a simulated password hasher.
 *
 * A crash kills the process: its streams vanish, its timers and hashing jobs never fire. Only the
 * MemoryStore survives (as the SQLite file would); a restart builds a new machine from
 * store.load(), so everything else (who is online, resume tokens, pending session requests) is
 * lost, exactly as in the real server.
 */
import { type ServerConfig, type ServerMachine, type ServerStats } from '../../core/server/machine.ts';
import { ServerHost } from '../../core/server/host.ts';
import { MAIL_SEQ_NODE_SLOTS } from '../../core/server/mailbox.ts';
import type { SimNetwork } from './network.ts';
import { newServerMachine, plantFirstComeLine, plantGuessSlowDownBug, type PlantedBug } from './planted-bugs.ts';
import type { Prng } from './prng.ts';
import { NodeClockRate, Scope, type SimClock } from './sim-clock.ts';
import { type CheckObserver, SimHasher } from './sim-hasher.ts';
import { PlantedOutput } from './planted-output.ts';
import { SimStore } from './sim-store.ts';
import { ClusterRouter, type ClusterBus } from '../../core/server/cluster.ts';
import type { AccountStore } from '../../core/store.ts';

export const SERVER_ADDRESS = '10.255.255.254';
export const SERVER_PORT = 7000;
const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_LENGTH = 24;
/** newToken's scratch: one token's character codes (the run is single-threaded, and the string is copied out). */
const TOKEN_CODES: number[] = new Array<number>(TOKEN_LENGTH).fill(0);

/** The server's configuration, and a planted bug (sim/world/planted-bugs.ts) when a scenario asks for one. */
export type ServerTuning = Partial<Omit<ServerConfig, 'newToken'>> & { readonly plantedBug?: PlantedBug };

/**
 * Where a server process runs. One server: SERVER_ADDRESS with a store of its own. One node of a
 * cluster (sim/world/cluster-world.ts): its own address, the store all nodes share, and the bus.
 */
export interface ServerSite {
  readonly address: string;
  readonly store: SimStore;
  readonly planted?: PlantedOutput;
  readonly cluster?: ClusterSite;
}

/** What a node of a cluster needs from the simulated bus, again at each start (a new process, a new connection). */
export interface ClusterSite {
  readonly nodeId: string;
  /** A node not heard from for this long is dead (the shipped server uses its user TTL). */
  readonly leaseTtlMs: number;
  /** This incarnation's bus connection: it dies with `scope`, and its deliveries wait while the process is paused. */
  connect(scope: Scope): ClusterBus & { onStatus(listener: (connected: boolean) => void): void };
  /** The process is applying a batch to the shared store now (a store fault hits this node). */
  applying(node: ServerNode): void;
  /** A number no start of any node had before (the database's node_boots sequence in the shipped server). */
  nextBoot(): number;
  /** A login epoch no login on any node had before, larger than all before it (the database's login_epochs sequence). */
  nextLoginEpoch(): number;
}

export class ServerNode {
  readonly store: SimStore;
  readonly address: string;
  host: ServerHost | null = null;
  /** The node's cluster router while it runs as one node of several; null otherwise. */
  router: ClusterRouter | null = null;
  /** This incarnation's bus connection (a node of a cluster), else null. */
  private bus: ClusterBus | null = null;
  /** Counts restarts, so checkers can tell one incarnation's request ids from the next. */
  incarnation = 0;
  private scope: Scope | null = null;
  /** Stats of incarnations that crashed, summed into the report. */
  readonly pastStats: ServerStats[] = [];
  /** The server machine's own clock (fault kind `clock`: drift and forward steps). */
  readonly clockRate = new NodeClockRate();
  /** TEST-ONLY bugs the simulator plants in what the server sends (fault kind `plant`). */
  readonly planted: PlantedOutput;
  /** Hears the password checks of each incarnation start and end (rate-limit-honoured's fair line), if set before start. */
  checkObserver: ((node: ServerNode) => CheckObserver) | null = null;

  constructor(
    private readonly clock: SimClock,
    private readonly network: SimNetwork,
    private readonly tokens: Prng,
    private readonly tuning: ServerTuning,
    private readonly hashCostMs: number,
    private readonly site: ServerSite = { address: SERVER_ADDRESS, store: new SimStore() },
  ) {
    this.store = site.store;
    this.address = site.address;
    this.planted = site.planted ?? new PlantedOutput();
  }

  /** What this node's own clock reads at world time `trueMs` (its machine's `nowMs`). */
  localNowMs(trueMs: number): number {
    return this.clockRate.identity ? trueMs : this.clockRate.local(trueMs);
  }

  get up(): boolean {
    return this.host !== null;
  }

  get machine(): ServerMachine | null {
    return this.host?.machine ?? null;
  }

  start(): void {
    if (this.host !== null) return;
    this.incarnation += 1;
    const address = this.address;
    this.network.restartNode(address);
    const scope = new Scope();
    const clock = this.clock.scoped(scope, this.clockRate);
    const { plantedBug, ...config } = this.tuning;
    const cluster = this.site.cluster;
    // As the shipped server: request ids `<node>.<boot>.s<n>` and the mail seq slot from the boot number.
    const boot = cluster?.nextBoot() ?? 0;
    const clustered =
      cluster === undefined
        ? {}
        : { clustered: true, sessionRequestIdPrefix: `${cluster.nodeId}.${boot}.s`, mailSeqSlot: boot % MAIL_SEQ_NODE_SLOTS, mailSeqSlots: MAIL_SEQ_NODE_SLOTS };
    const machine = newServerMachine(this.store.load(), { ...config, ...clustered, newToken: () => this.newToken() }, plantedBug);
    const planted = this.planted;
    if (planted.wrapsServer) {
      plantGuessSlowDownBug(machine, () => planted.active.has('guesses-never-slowed'));
      plantFirstComeLine(machine, () => planted.active.has('password-checks-first-come'));
    }
    const bus = cluster?.connect(scope);
    // The router and the host need each other: the router feeds this incarnation's host.
    let hostRef: ServerHost | null = null;
    const router =
      cluster === undefined || bus === undefined
        ? null
        : new ClusterRouter({
            nodeId: cluster.nodeId,
            bus,
            leaseTtlMs: cluster.leaseTtlMs,
            input: (input) => hostRef?.input(input),
            heldUsers: (visit) => machine.heldUsers(visit),
            nowMs: () => clock.nowMs(),
            nextLoginEpoch: () => cluster.nextLoginEpoch(),
            // As cli/server/run.ts: a node that says hello may have committed things while off the
            // bus that this one never heard; they are in the shared store. (The shipped node's
            // nodeLost is a log line only, and the simulator has no log.)
            readStore: () => this.store.load(),
          });
    const host = new ServerHost({
      machine,
      transport: this.planted.wrapsServer ? this.planted.wrap(this.network.transport(address)) : this.network.transport(address),
      store: cluster === undefined ? this.store : this.nodeStore(cluster),
      hasher: new SimHasher(clock, this.hashCostMs, this.checkObserver?.(this) ?? null),
      clock,
      ...(router === null ? {} : { cluster: router }),
    });
    hostRef = host;
    this.scope = scope;
    this.host = host;
    this.router = router;
    this.bus = bus ?? null;
    host.listen(address, SERVER_PORT, (result) => {
      if (result instanceof Error) throw result;
    });
    if (bus === undefined) return;
    // As cli/server/run.ts wires a node: a bus lost makes the node refuse logins; a bus back makes
    // it read the store again (what others committed meanwhile) and join the cluster again.
    bus.onStatus((connected) => {
      if (connected) {
        host.input({ type: 'remote.snapshot', snapshot: this.store.load() });
        host.joinCluster();
      }
      host.input({ type: 'cluster.health', healthy: connected });
    });
    if (!bus.connected) host.input({ type: 'cluster.health', healthy: false });
    host.joinCluster();
  }

  /** Whether the node runs and hears the bus: what a load balancer's health check (/healthz) sees. */
  get healthy(): boolean {
    return this.host !== null && (this.bus === null || this.bus.connected);
  }

  /** The shared store as this node writes it: a store fault knows which process it hits. */
  private nodeStore(cluster: ClusterSite): AccountStore {
    const store = this.store;
    return {
      load: () => store.load(),
      apply: (ops) => {
        cluster.applying(this);
        return store.apply(ops);
      },
      close: () => {},
    };
  }

  /** The process stops until `untilMs` (SIGSTOP, a GC pause, a stalled disk): it hears nothing, its timers fire late. */
  pause(untilMs: number): void {
    if (this.scope === null) return;
    this.scope.pausedUntilMs = Math.max(this.scope.pausedUntilMs, untilMs);
    this.network.pauseNode(this.address, this.scope.pausedUntilMs);
  }

  crash(): void {
    if (this.host === null) return;
    this.pastStats.push(this.host.machine.stats());
    this.scope?.kill();
    this.scope = null;
    this.host = null;
    this.router = null;
    this.bus = null;
    this.network.crashNode(this.address);
  }

  /**
   * The same draws and characters as appending one at a time, made as one string: appended, a
   * 24-character token was a chain of some twenty intermediate strings (about 840 bytes of
   * garbage per login, and a flattening when it is first used as a key).
   */
  private newToken(): string {
    const codes = TOKEN_CODES;
    for (let i = 0; i < TOKEN_LENGTH; i++) codes[i] = TOKEN_CHARS.charCodeAt(this.tokens.int(TOKEN_CHARS.length));
    return String.fromCharCode.apply(null, codes);
  }
}
