/**
 * The simulated world of one run: clock, network, server, peers, checkers and trace, built from
 * a scenario and a seed. Every random choice comes from a named stream of the root seed:
 * "network" (latencies), "tokens" (server tokens), "graph", "faults", and "peer:<index>" per peer.
 */
import type { Scenario } from '../scenarios/scenario-schema.ts';
import { Checkers, type CheckedWorld } from '../checkers/checkers.ts';
import { describeDist, samplerOf } from './distributions.ts';
import { buildFriendGraph, type FriendGraph } from './friend-graph.ts';
import { type LinkProfile, SimNetwork } from './network.ts';
import { Prng } from './prng.ts';
import { LightClient } from '../drivers/light-client.ts';
import { PeerMachineDriver } from '../drivers/peer-machine-driver.ts';
import type { PeerDriver } from '../drivers/peer-driver.ts';
import type { PeerSlot } from '../drivers/peer-slot.ts';
import { ServerNode } from './server-node.ts';
import { SimClock } from './sim-clock.ts';
import { simPasswordHash } from './sim-hasher.ts';
import { Trace, type TraceLineSink } from './trace.ts';
import { BehaviourRunner, type RunnerHost } from '../drivers/behaviour-runner.ts';
import { arrivalTimes } from './arrivals.ts';
import type { StoreOp } from '../../core/store.ts';

export interface WorldOptions {
  readonly seed: number;
  readonly traceSink?: TraceLineSink | null;
}

export function peerAddress(index: number): string {
  const n = index + 1;
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

export class World implements CheckedWorld, RunnerHost {
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  readonly server: ServerNode;
  readonly checkers: Checkers;
  readonly trace: Trace;
  readonly slots: PeerSlot[] = [];
  readonly runners: BehaviourRunner[] = [];
  readonly graph: FriendGraph;
  readonly baseProfile: LinkProfile;
  readonly p2pAvailable: boolean;
  acceptingSteps = true;
  /** Faults that impair links (partition, clog, degradation, server down) in progress. */
  faultsActive = 0;
  lastFaultEndMs = 0;
  readonly stepMismatches: string[] = [];
  stepMismatchCount = 0;
  readonly stepOutcomes = new Map<string, number>();
  private readonly owners = new Map<string, PeerSlot>();

  constructor(
    readonly scenario: Scenario,
    readonly options: WorldOptions,
  ) {
    const seed = options.seed;
    this.p2pAvailable = scenario.driver === 'peer-machine';
    this.trace = new Trace(() => this.clock.nowMs(), options.traceSink ?? null);
    this.baseProfile = { latency: samplerOf(scenario.network.latency), bandwidthBytesPerSec: scenario.network.bandwidthBytesPerSec };
    this.network = new SimNetwork(this.clock, Prng.stream(seed, 'network'), this.baseProfile, {
      onDeliver: (kind, connId, toServer, bytes) => this.trace.delivery(kind, connId, toServer, bytes),
    });
    const { ttlMs, sessionTimeoutMs, connectionsMax, plantedBug, hashCostMs } = scenario.server;
    this.server = new ServerNode(this.clock, this.network, Prng.stream(seed, 'tokens'), { ttlMs, sessionTimeoutMs, connectionsMax, ...(plantedBug === undefined ? {} : { plantedBug }) }, hashCostMs);
    this.checkers = new Checkers(ttlMs, scenario.checks.presenceBoundMs, (v) => this.trace.note('violation', { checker: v.checker, detail: v.detail }));
    this.checkers.attach(this);
    this.createPeers(seed);
    this.graph = buildFriendGraph(scenario.friends, this.slots.map((s) => s.username), new Map([...this.owners].map(([u, s]) => [u, s.index])), Prng.stream(seed, 'graph'));
    for (const slot of this.slots) (slot as { graphFriends: readonly number[] }).graphFriends = this.graph.neighbours[slot.index] ?? [];
    this.seedStore();
  }

  get peerCount(): number {
    return this.slots.length;
  }

  ownerOf(username: string): PeerSlot | undefined {
    return this.owners.get(username);
  }

  linksHealthy(): boolean {
    return this.faultsActive === 0;
  }

  /** Chosen options, for the SEED line. */
  describe(): Record<string, string | number> {
    const s = this.scenario;
    return {
      peers: this.peerCount,
      friendships: this.graph.edges.length,
      durationMs: s.durationMs,
      latency: describeDist(s.network.latency),
      bandwidthBytesPerSec: s.network.bandwidthBytesPerSec,
      ttlMs: s.server.ttlMs,
      sessionTimeoutMs: s.server.sessionTimeoutMs,
      hashCostMs: s.server.hashCostMs,
      driver: s.driver,
      faults: s.faults.map((f) => `${f.kind}@${f.atMs}`).join(',') || 'none',
      ...(s.server.plantedBug === undefined ? {} : { plantedBug: s.server.plantedBug }),
    };
  }

  private createPeers(seed: number): void {
    let index = 0;
    for (const population of this.scenario.populations) {
      const steps = this.scenario.behaviours[population.behaviour] ?? [];
      for (let i = 0; i < population.count; i++, index++) {
        const username = population.count === 1 ? (population.username ?? population.name) : `${population.name}${i}`;
        const address = peerAddress(index);
        const prng = Prng.stream(seed, `peer:${index}`);
        const transport = this.network.transport(address);
        const driver: PeerDriver =
          this.scenario.driver === 'peer-machine'
            ? new PeerMachineDriver({ username, index, address, transport, clock: this.clock, prng, observer: this.checkers, p2p: this.checkers, sessionTimeoutMs: this.scenario.server.sessionTimeoutMs })
            : new LightClient({ username, address, transport, clock: this.clock, prng, observer: this.checkers });
        const slot: PeerSlot = {
          index,
          username,
          password: `pw-${population.name}-${i}`,
          address,
          population: population.name,
          behaviour: population.behaviour,
          driver,
          prng,
          graphFriends: [],
          startAtMs: 0,
        };
        this.slots.push(slot);
        if (!this.owners.has(username)) this.owners.set(username, slot);
        this.runners.push(new BehaviourRunner(slot, steps, this));
      }
    }
    const starts = arrivalTimes(this.scenario.arrivals, this.slots.length);
    for (const slot of this.slots) slot.startAtMs = starts[slot.index] ?? 0;
  }

  /** Seeded accounts and friendships exist before the server first starts, as if created earlier. */
  private seedStore(): void {
    const ops: StoreOp[] = [];
    const seeded = new Set(this.scenario.populations.filter((p) => p.account === 'seeded').map((p) => p.name));
    for (const slot of this.slots) {
      if (!seeded.has(slot.population) || this.owners.get(slot.username) !== slot) continue;
      ops.push({ op: 'account.create', username: slot.username, nickname: slot.username, passwordHash: simPasswordHash(slot.password), createdAtMs: 0 });
    }
    if (this.scenario.friends.mode === 'seeded') {
      const hasAccount = new Set(ops.map((op) => (op.op === 'account.create' ? op.username : '')));
      for (const [a, b] of this.graph.edges) {
        const ua = this.slots[a]?.username;
        const ub = this.slots[b]?.username;
        if (ua !== undefined && ub !== undefined && hasAccount.has(ua) && hasAccount.has(ub)) ops.push({ op: 'friendship.add', a: ua, b: ub });
      }
    }
    this.server.store.apply(ops);
  }

  /** Starts the server and schedules every peer's arrival. */
  start(): void {
    this.server.start();
    this.runners.forEach((runner, index) => {
      const slot = this.slots[index] as PeerSlot;
      this.clock.at(slot.startAtMs, () => runner.start());
    });
  }

  // ---- RunnerHost ------------------------------------------------------------------------------

  nowMs(): number {
    return this.clock.nowMs();
  }

  after(slot: PeerSlot, delayMs: number, fn: () => void): void {
    const driver = slot.driver;
    this.clock.post(this.clock.nowMs() + delayMs, () => {
      if (driver.alive) fn();
    });
  }

  friendUsername(slot: PeerSlot, which: string): string | null {
    if (which !== 'random-friend') return which;
    if (slot.graphFriends.length === 0) return null;
    return this.slots[slot.prng.pick(slot.graphFriends)]?.username ?? null;
  }

  befriendTargets(slot: PeerSlot): string[] {
    return slot.graphFriends.filter((i) => i > slot.index).map((i) => (this.slots[i] as PeerSlot).username);
  }

  onStepMismatch(slot: PeerSlot, step: string, expected: string, got: string): void {
    this.stepMismatchCount += 1;
    if (this.stepMismatches.length < 20) this.stepMismatches.push(`${slot.username} ${step}: expected ${expected}, got ${got} at ${Math.round(this.clock.nowMs())} ms`);
  }

  onStepOutcome(slot: PeerSlot, step: string, outcome: string): void {
    const key = `${step}:${outcome}`;
    this.stepOutcomes.set(key, (this.stepOutcomes.get(key) ?? 0) + 1);
    this.trace.note('step', { peer: slot.index, step, outcome });
  }

  onCrashStep(slot: PeerSlot, downMs: number | undefined): void {
    this.crashPeer(slot, downMs);
  }

  // ---- peer and server faults --------------------------------------------------------------------

  crashPeer(slot: PeerSlot, downMs: number | undefined): void {
    if (!slot.driver.alive) return;
    const wasOnline = slot.driver.truthOnline;
    this.checkers.count('peer_crashes');
    this.trace.note('peer-crash', { peer: slot.index });
    slot.driver.crash();
    if (downMs === undefined) return;
    this.clock.at(this.clock.nowMs() + downMs, () => this.restartPeer(slot, wasOnline));
  }

  restartPeer(slot: PeerSlot, login: boolean): void {
    if (slot.driver.alive) return;
    this.trace.note('peer-restart', { peer: slot.index });
    slot.driver.restart();
    const runner = this.runners[slot.index];
    if (!login) return runner?.resume();
    slot.driver.login(slot.password, () => runner?.resume());
  }

  crashServer(): void {
    if (!this.server.up) return;
    this.trace.note('server-crash', {});
    this.server.crash();
    this.checkers.onServerRestart();
  }

  startServer(): void {
    if (this.server.up) return;
    this.trace.note('server-start', {});
    this.server.start();
    this.checkers.onServerRestart();
    this.checkers.count('server_restarts');
  }
}
