/**
 * The fault schedule: faults are data (scenario.faults), turned into events on the queue. Targets
 * given as a fraction are drawn from the "faults" stream. Faults that impair links (partition,
 * clog, degradation, server outage) count in world.faultsActive while they last, so checkers
 * judge presence only on healthy links; heal() ends them all for the liveness phase.
 */
import type { Prng } from './prng.ts';
import type { PeerSlot } from '../drivers/peer-slot.ts';
import type { Fault } from '../scenarios/scenario-schema.ts';
import { samplerOf } from './distributions.ts';
import { SERVER_ADDRESS, type ServerNode } from './server-node.ts';
import type { World } from './world.ts';

/** The addresses a fault aimed at "the server" hits: the one server's, or every node's. */
function serverAddresses(world: World): string[] {
  return world.cluster?.addresses ?? [SERVER_ADDRESS];
}

/**
 * Runs in this process so far: the `nondeterminism` planted bug puts it in the trace, so the same
 * seed gives another traceHash on its second run (what --check-determinism must notice).
 */
let runsInProcess = 0;

export class FaultSchedule {
  /** Ends of faults still in progress, run early by healAll(). */
  private readonly pendingEnds = new Map<number, () => void>();
  private nextFaultId = 1;

  constructor(
    private readonly world: World,
    private readonly prng: Prng,
  ) {}

  /** The peers each fault hit (by its index in the schedule), for pinning a failure's targets. */
  readonly chosenTargets: string[][] = [];

  schedule(faults: readonly Fault[]): void {
    faults.forEach((fault, index) => {
      this.chosenTargets[index] = [];
      this.world.clock.at(fault.atMs, () => this.begin(fault, index));
    });
  }

  /** The liveness phase starts: every fault in progress ends now, crashed peers stay as they are. */
  healAll(): void {
    // Each end removes itself from pendingEnds as it runs.
    for (const end of [...this.pendingEnds.values()]) end();
    this.world.network.heal();
    this.world.startServer();
  }

  private targets(fault: { peers?: string[] | undefined; fraction?: number | undefined }, index: number): PeerSlot[] {
    const world = this.world;
    let chosen: PeerSlot[];
    if (fault.peers !== undefined) {
      chosen = fault.peers.map((u) => world.ownerOf(u)).filter((s): s is PeerSlot => s !== undefined);
    } else {
      const count = Math.round((fault.fraction ?? 0) * world.slots.length);
      chosen = this.prng.shuffle([...world.slots]).slice(0, count);
    }
    this.chosenTargets[index] = chosen.map((slot) => slot.username);
    return chosen;
  }

  /** Runs `restart` after downMs, or at healAll(), whichever comes first; not an active fault meanwhile. */
  private restartLater(downMs: number, restart: () => void): void {
    const id = this.nextFaultId++;
    const run = (): void => {
      if (this.pendingEnds.delete(id)) restart();
    };
    this.pendingEnds.set(id, run);
    this.world.clock.at(this.world.clock.nowMs() + downMs, run);
  }

  /** Runs `end` after durationMs, or at healAll(), whichever comes first; counts as an active fault meanwhile. */
  private during(durationMs: number, end: () => void): void {
    const world = this.world;
    const id = this.nextFaultId++;
    world.faultsActive += 1;
    const finish = (): void => {
      if (!this.pendingEnds.delete(id)) return;
      end();
      world.faultsActive -= 1;
      world.lastFaultEndMs = world.clock.nowMs();
    };
    this.pendingEnds.set(id, finish);
    world.clock.at(world.clock.nowMs() + durationMs, finish);
  }

  private begin(fault: Fault, index: number): void {
    const world = this.world;
    const network = world.network;
    world.trace.note('fault', { kind: fault.kind });
    world.faultKindsBegun.add(fault.kind);
    world.checkers.count(`faults_${fault.kind}`);
    if (fault.kind !== 'plant') {
      world.lastFaultBeganMs = world.clock.nowMs();
      world.firstFaultBeganMs = Math.min(world.firstFaultBeganMs, world.lastFaultBeganMs);
    }
    switch (fault.kind) {
      case 'server-crash':
        world.crashServer();
        return this.during(fault.downMs, () => world.startServer());
      case 'peer-crash':
        for (const slot of this.targets(fault, index)) world.crashPeer(slot, fault.downMs);
        return;
      case 'partition': {
        const side = fault.isolate === 'server' ? serverAddresses(world) : this.targets(fault, index).map((s) => s.address);
        network.partition([side]);
        return this.during(fault.durationMs, () => network.heal());
      }
      case 'clog': {
        const nodes = fault.target === 'server' ? serverAddresses(world) : this.targets(fault, index).map((s) => s.address);
        for (const address of nodes) network.clog(address);
        return this.during(fault.durationMs, () => {
          for (const address of nodes) network.unclog(address);
        });
      }
      case 'degrade':
        network.profile = { latency: samplerOf(fault.latency), bandwidthBytesPerSec: fault.bandwidthBytesPerSec ?? world.baseProfile.bandwidthBytesPerSec };
        return this.during(fault.durationMs, () => {
          network.profile = world.baseProfile;
        });
      case 'reset':
        for (const slot of this.targets(fault, index)) network.resetNode(slot.address);
        return;
      case 'pause': {
        // A pause that would outlast the workload phase ends when the healed phase starts, as every
        // fault does (healAll): what reaches the process and its timers are posted for its end,
        // so it ends there from the start. A swarm's pause of a peer ran past the healed phase of
        // rate-limits-over-time.yaml, which then judged a client still stopped (root seed 641).
        const nowMs = world.clock.nowMs();
        const healAtMs = world.scenario.durationMs;
        const untilMs = nowMs < healAtMs ? Math.min(nowMs + fault.durationMs, healAtMs) : nowMs + fault.durationMs;
        if (fault.target === 'server') world.server.pause(untilMs);
        else for (const slot of this.targets(fault, index)) world.pausePeer(slot, untilMs);
        // A stopped process stops speaking: presence is not judged until it runs again.
        return this.during(untilMs - nowMs, () => {});
      }
      case 'store': {
        const store = world.server.store;
        const cluster = world.cluster;
        store.fault = { mode: fault.mode, stallMs: fault.stallMs };
        // With a cluster the store is shared: a stall or a failure hits the node applying the batch.
        const applying = (): ServerNode => cluster?.applyingNode ?? world.server;
        store.onStall = (stallMs) => applying().pause(world.clock.nowMs() + stallMs);
        store.onFail = () => {
          store.fault = null;
          if (cluster === null) {
            world.crashServer();
            return this.during(fault.downMs, () => world.startServer());
          }
          const node = applying();
          world.crashNode(node);
          this.during(fault.downMs, () => world.startNode(node));
        };
        // A stalled store stops the server now and then: presence is not judged meanwhile.
        return this.during(fault.durationMs, () => {
          store.fault = null;
        });
      }
      case 'clock': {
        const nowMs = world.clock.nowMs();
        const rates = fault.target === 'server' ? [world.server.clockRate] : this.targets(fault, index).map((slot) => slot.clockRate);
        for (const rate of rates) rate.change(nowMs, fault.driftPpm, fault.skewMs);
        if (fault.durationMs !== undefined) {
          world.clock.at(nowMs + fault.durationMs, () => {
            for (const rate of rates) rate.change(world.clock.nowMs(), 0, 0);
          });
        }
        return;
      }
      case 'node-crash': {
        const node = world.cluster?.nodeById(fault.node);
        if (node === undefined) return;
        world.crashNode(node);
        // Its users' friends elsewhere are judged meanwhile (the lease must bury them, the balancer
        // moves them to another node), unless clients are pinned to it and cannot come back.
        if (world.scenario.cluster?.clients === 'pinned') return this.during(fault.downMs ?? world.scenario.durationMs, () => world.startNode(node));
        if (fault.downMs !== undefined) this.restartLater(fault.downMs, () => world.startNode(node));
        return;
      }
      case 'bus-partition': {
        const cluster = world.cluster;
        if (cluster === null) return;
        cluster.bus.partition(fault.node, true);
        return this.during(fault.durationMs, () => cluster.bus.partition(fault.node, false));
      }
      case 'mitm': {
        const stop = world.keys.intercept(this.targets(fault, index).map((slot) => slot.username), fault.presents);
        if (fault.durationMs !== undefined) world.clock.at(world.clock.nowMs() + fault.durationMs, stop);
        return;
      }
      case 'session-loss': {
        // Not a link fault: presence and links stay judged; the checkers hear each loss (planted-output.ts).
        const losses = world.server.planted.sessionLoss;
        const users = this.targets(fault, index).map((slot) => slot.username);
        for (const username of users) losses.set(username, { mode: fault.mode, frames: new Set(fault.mode === 'drop' ? fault.frames : fault.requests), left: fault.count, code: fault.code, lateMs: fault.lateMs });
        if (fault.durationMs !== undefined) {
          world.clock.at(world.clock.nowMs() + fault.durationMs, () => {
            for (const username of users) losses.delete(username);
          });
        }
        return;
      }
      case 'plant': {
        if (fault.bug === 'nondeterminism') return world.trace.note('planted', { bug: fault.bug, run: ++runsInProcess });
        const planted = world.server.planted.active;
        planted.add(fault.bug);
        if (fault.durationMs !== undefined) world.clock.at(world.clock.nowMs() + fault.durationMs, () => planted.delete(fault.bug));
        return;
      }
    }
  }
}
