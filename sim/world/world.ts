/**
 * The simulated world of one run: clock, network, server, peers, checkers and trace, built from
 * a scenario and a seed. Every random choice comes from a named stream of the root seed:
 * "network" (latencies), "tokens" (server tokens), "graph", "faults", and "peer:<index>" per peer.
 */
import type { Scenario, SimPlantedBug } from '../scenarios/scenario-schema.ts';
import { CHECKED_SERVER_FRAME_TYPES, Checkers, type CheckedWorld } from '../checkers/checkers.ts';
import { describeDist, samplerOf } from './distributions.ts';
import { buildFriendGraph, type FriendGraph } from './friend-graph.ts';
import { type LinkProfile, SimNetwork } from './network.ts';
import { Prng } from './prng.ts';
import { LightClient } from '../drivers/light-client.ts';
import { PeerMachineDriver } from '../drivers/peer-machine-driver.ts';
import type { PeerDriver } from '../drivers/peer-driver.ts';
import type { PeerSlot } from '../drivers/peer-slot.ts';
import { SERVER_ADDRESS, SERVER_PORT, ServerNode } from './server-node.ts';
import { FrameTap, type ServerLinkListener, type WireMessage } from './frame-tap.ts';
import { NodeClockRate, SimClock } from './sim-clock.ts';
import { simPasswordHash } from './sim-hasher.ts';
import { Trace, type TraceLineSink } from './trace.ts';
import { BehaviourRunner, type RunnerHost } from '../drivers/behaviour-runner.ts';
import { arrivalTimes } from './arrivals.ts';
import type { StoreOp } from '../../core/store.ts';
import { PASSWORD_CHECKS_WAITING_MAX, TTL_MS_MIN } from '../../core/limits.ts';
import { anyStep, HostileActions, isHostileSendFile } from './hostile-world.ts';
import { ClusterWorld } from './cluster-world.ts';
import { SimKeys } from './sim-keys.ts';
import { ConnectDeadline, type ConnectTimerOf } from '../drivers/connect-deadline.ts';
import { RateLimitChecker } from '../checkers/rate-limit-checker.ts';
import type { StoredPasswords } from '../checkers/password-truth-checker.ts';

export interface WorldOptions {
  readonly seed: number;
  readonly traceSink?: TraceLineSink | null;
}

/**
 * The simulated hasher costs time, not CPU: as many checks run side by side as are asked for, so
 * the server's bound on running checks (one per core in cli/) would only slow virtual time here.
 */
const SIM_PASSWORD_CHECKS_RUNNING_MAX = 1_000_000;

/**
 * The address of member `member` of the `site`-th site (scenario populations sharing a `site`): one
 * IPv6 /64 per site, fd00:0:0:<site>::/64 (a unique local prefix), each member its own host in it.
 */
export function siteAddress(site: number, member: number): string {
  return `fd00:0:0:${(site + 1).toString(16)}::${(member + 1).toString(16)}`;
}

export function peerAddress(index: number): string {
  const n = index + 1;
  return `10.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** The server's timeouts for this run: the scenario's, or with `randomLimits` drawn per seed within valid ranges. */
export interface ServerLimits {
  readonly ttlMs: number;
  readonly sessionTimeoutMs: number;
  readonly unauthenticatedIdleMs: number;
}

/**
 * Lowest a randomized limit goes: a fraction of the scenario's value, and never under these floors
 * (the TTL's is the server's own lowest valid TTL, TTL_MS_MIN).
 */
const RANDOM_LIMIT_FRACTION_MIN = 0.25;
const SESSION_TIMEOUT_MS_FLOOR = 100;
/** Peers connect and log in within a few hashing costs: an idle limit under this would be a misconfiguration, not a bug. */
const UNAUTHENTICATED_IDLE_MS_FLOOR = 2_000;

/**
 * BUGGIFY-style limits (FoundationDB): with `server.randomLimits`, each seed draws the server's
 * TTL, session timeout and unauthenticated-idle limit anywhere between a quarter of the scenario's
 * value (or a floor) and the value itself, so bugs that hide behind one tuning show under another.
 * Never larger: the checkers' bounds are computed from the scenario's values.
 */
export function serverLimits(scenario: Scenario, seed: number): ServerLimits {
  const { ttlMs, sessionTimeoutMs } = scenario.server;
  const idleMs = scenario.server.unauthenticatedIdleMs;
  if (!scenario.server.randomLimits) return { ttlMs, sessionTimeoutMs, unauthenticatedIdleMs: idleMs };
  const prng = Prng.stream(seed, 'limits');
  const draw = (value: number, floor: number): number => Math.round(prng.range(Math.max(floor, value * RANDOM_LIMIT_FRACTION_MIN), Math.max(floor, value)));
  return { ttlMs: draw(ttlMs, TTL_MS_MIN), sessionTimeoutMs: draw(sessionTimeoutMs, SESSION_TIMEOUT_MS_FLOOR), unauthenticatedIdleMs: draw(idleMs, UNAUTHENTICATED_IDLE_MS_FLOOR) };
}

export class World implements CheckedWorld, RunnerHost {
  readonly clock = new SimClock();
  readonly network: SimNetwork;
  /** The server; with `cluster`, the first node (`cluster.nodes` has them all). */
  readonly server: ServerNode;
  /** The nodes, store and bus of a multi-node scenario (`cluster`); null with one server. */
  readonly cluster: ClusterWorld | null;
  readonly checkers: Checkers;
  readonly trace: Trace;
  readonly slots: PeerSlot[] = [];
  readonly runners: BehaviourRunner[] = [];
  readonly graph: FriendGraph;
  readonly baseProfile: LinkProfile;
  readonly p2pAvailable: boolean;
  /** The server's timeouts in this run (see serverLimits). */
  readonly limits: ServerLimits;
  acceptingSteps = true;
  /** Faults that impair links (partition, clog, degradation, server down) in progress. */
  faultsActive = 0;
  lastFaultEndMs = 0;
  /** When the last fault (other than a planted bug) began; -Infinity before any. */
  lastFaultBeganMs = Number.NEGATIVE_INFINITY;
  /** When the first fault (other than a planted bug) began; Infinity before any. */
  firstFaultBeganMs = Number.POSITIVE_INFINITY;
  /** The kinds of fault that have begun so far (what may explain an error a client tells). */
  readonly faultKindsBegun = new Set<string>();
  /** The adversarial steps' world side (hostile-world.ts). */
  readonly hostile: HostileActions;
  /** rate-limit-honoured (sim/checkers/rate-limit-checker.ts), fed by the frame tap. */
  readonly rateLimits: RateLimitChecker;
  readonly stepMismatches: string[] = [];
  stepMismatchCount = 0;
  /** "step:outcome" for every kind of step (login, session, ...) that ended otherwise than its `expect`, and how. */
  readonly mismatchedStepKinds = new Set<string>();
  readonly stepOutcomes = new Map<string, number>();
  /** Users' identity keys and the links' handshakes (sim-keys.ts). */
  readonly keys: SimKeys;
  private readonly owners = new Map<string, PeerSlot>();
  private readonly byAddress = new Map<string, PeerSlot>();
  /** Slots after the first that play the same username (a second program of one user). */
  private readonly duplicates = new Map<string, PeerSlot[]>();

  constructor(
    readonly scenario: Scenario,
    readonly options: WorldOptions,
  ) {
    const seed = options.seed;
    this.p2pAvailable = scenario.driver === 'peer-machine';
    this.trace = new Trace(() => this.clock.nowMs(), options.traceSink ?? null);
    this.baseProfile = { latency: samplerOf(scenario.network.latency), bandwidthBytesPerSec: scenario.network.bandwidthBytesPerSec };
    this.network = new SimNetwork(this.clock, Prng.stream(seed, 'network'), this.baseProfile, {
      onDeliver: (kind, connId, toServer, bytes) => {
        this.trace.delivery(kind, connId, toServer, bytes);
        this.checkers.peerKeys.onDelivery(connId, toServer, bytes);
      },
    });
    const { connectionsMax, plantedBug, hashCostMs } = scenario.server;
    this.limits = serverLimits(scenario, seed);
    const passwordChecksRunningMax = scenario.server.passwordChecksRunningMax ?? SIM_PASSWORD_CHECKS_RUNNING_MAX;
    const { passwordChecksWaitingMax } = scenario.server;
    const tuning = {
      ...this.limits,
      connectionsMax,
      passwordChecksRunningMax,
      ...(passwordChecksWaitingMax === undefined ? {} : { passwordChecksWaitingMax }),
      ...(plantedBug === undefined ? {} : { plantedBug }),
    };
    const cluster = scenario.cluster;
    this.cluster = cluster === undefined ? null : new ClusterWorld({ ...scenario, cluster }, this.clock, this.network, seed, tuning, hashCostMs);
    this.server = this.cluster?.nodes[0] ?? new ServerNode(this.clock, this.network, Prng.stream(seed, 'tokens'), tuning, hashCostMs);
    const losesSessions = scenario.faults.some((f) => f.kind === 'session-loss');
    this.server.planted.wrapsServer = losesSessions || scenario.faults.some((f) => f.kind === 'plant');
    this.checkers = new Checkers(scenario.server.ttlMs, scenario.checks.presenceBoundMs, (v) => this.trace.note('violation', { checker: v.checker, detail: v.detail }));
    this.checkers.attach(this);
    this.rateLimits = new RateLimitChecker(
      {
        serverClock: (address) => {
          const node = this.serverAt(address);
          return node === undefined ? null : { process: `${address}#${node.incarnation}`, nowMs: node.localNowMs(this.clock.nowMs()) };
        },
        worldNowMs: () => this.clock.nowMs(),
        nameAt: (address) => this.byAddress.get(address)?.population ?? null,
        checkLimits: { runningMax: passwordChecksRunningMax, waitingMax: passwordChecksWaitingMax ?? PASSWORD_CHECKS_WAITING_MAX },
        clustered: this.cluster !== null,
      },
      (detail) => this.checkers.violate('rate-limit-honoured', detail),
      (metric) => this.checkers.count(metric),
    );
    if (losesSessions) {
      const planted = this.server.planted;
      planted.watchesSessions = true;
      planted.later = (delayMs, fn) => this.clock.at(this.clock.nowMs() + delayMs, fn);
      planted.observer = this.checkers;
    }
    const network = this.network;
    const { handshake } = scenario.network;
    this.keys = new SimKeys({
      seed,
      handshake: { roundTrips: handshake.roundTrips, cpuMs: samplerOf(handshake.cpuMs), resumedCpuShare: handshake.resumedCpuShare, serverLink: handshake.serverLink },
      serverAddresses: this.cluster?.addresses ?? [SERVER_ADDRESS],
      usernameAt: (address) => this.byAddress.get(address)?.username ?? null,
      oneWayMs: (prng) => Math.max(0, network.profile.latency(prng)),
      prng: Prng.stream(seed, 'handshakes'),
      skipsPeerKeyCheck: () => this.server.planted.active.has('skip-peer-key-check'),
      observer: this.checkers,
    });
    this.network.handshakes = this.keys;
    const behaviours = Object.values(scenario.behaviours);
    this.hostile = new HostileActions(this, behaviours.some((steps) => anyStep(steps, (step) => typeof step === 'object' && 'p2pHello' in step && step.p2pHello.token === 'replay')));
    this.createPeers(seed);
    this.graph = buildFriendGraph(scenario.friends, this.slots.map((s) => s.username), new Map([...this.owners].map(([u, s]) => [u, s.index])), Prng.stream(seed, 'graph'));
    for (const slot of this.slots) (slot as { graphFriends: readonly number[] }).graphFriends = this.graph.neighbours[slot.index] ?? [];
    this.seedStore();
    this.network.tap = new FrameTap(this.cluster?.addresses ?? SERVER_ADDRESS, SERVER_PORT, this.frameListener(), this.serverFrameTypesRead());
    if (this.serverFrameTypesRead() === null) {
      // rate-limit-honoured's fair line: what servers write as they write it, the closes they
      // handle, and their password checks starting and ending (sim/checkers/rate-limit-checker.ts).
      const rateLimits = this.rateLimits;
      this.network.serverWrites = (connId, bytes) => rateLimits.onServerWrite(connId, bytes);
      this.network.serverClosed = (connId) => rateLimits.onServerClosed(connId);
      for (const node of this.servers) {
        node.checkObserver = (started) => {
          const process = `${started.address}#${started.incarnation}`;
          return { started: (password) => rateLimits.onCheckStarted(process, password), ended: (password) => rateLimits.onCheckEnded(process, password) };
        };
      }
    }
  }

  /**
   * The server-frame types the frame listener's readers look at: the checkers' and the hostile
   * world's (a caller's token); every type when a driver reads the frames too (the peer machine
   * driver matches every reply's `re`).
   */
  private serverFrameTypesRead(): readonly string[] | null {
    if (this.slots.some((slot) => slot.driver.onServerFrames !== undefined)) return null;
    return [...CHECKED_SERVER_FRAME_TYPES, ...HostileActions.SERVER_FRAME_TYPES];
  }

  /**
   * Where the frame tap's server-link frames go: the peer's driver (which request a reply answers)
   * and the checkers. rate-limit-honoured reads both directions, so it runs only where every server
   * frame is parsed anyway (the peer-machine driver): a storm's light clients would pay a parse of
   * every frame for it.
   */
  private frameListener(): ServerLinkListener {
    const byAddress = this.byAddress;
    const checkers = this.checkers;
    const hostile = this.hostile;
    const rateLimits = this.serverFrameTypesRead() === null ? this.rateLimits : null;
    return {
      ...(rateLimits === null
        ? {}
        : {
            onClientFrames: (address: string, messages: readonly WireMessage[], connId: number, serverAddress: string) => rateLimits.onClientFrames(address, messages, connId, serverAddress),
            onClientFramesHandled: () => rateLimits.onClientFramesHandled(),
          }),
      onServerFrames: (address: string, messages: readonly WireMessage[], connId: number, serverAddress?: string) => {
        rateLimits?.onServerFrames(messages, connId);
        const slot = byAddress.get(address);
        if (slot === undefined) return;
        slot.driver.onServerFrames?.(messages);
        hostile.noteServerFrames(slot, messages);
        checkers.onServerFrames(slot, messages, connId, serverAddress);
      },
      onServerFramesHandled: (address: string) => byAddress.get(address)?.driver.onServerFramesHandled?.(),
      onConnectionClosed: (connId: number) => {
        rateLimits?.onConnectionClosed(connId);
        checkers.onConnectionClosed(connId);
      },
    };
  }

  /** The server's store as the password-truth checker asks it (one store: a cluster's nodes share theirs). */
  private readonly storedPasswords: StoredPasswords = {
    holds: (username, password) => this.server.store.passwordHashOf(username) === simPasswordHash(password),
  };

  get peerCount(): number {
    return this.slots.length;
  }

  ownerOf(username: string): PeerSlot | undefined {
    return this.owners.get(username);
  }

  otherSlotsOf(username: string): readonly PeerSlot[] {
    return this.duplicates.get(username) ?? [];
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
      ttlMs: this.limits.ttlMs,
      sessionTimeoutMs: this.limits.sessionTimeoutMs,
      ...(s.server.randomLimits ? { unauthenticatedIdleMs: this.limits.unauthenticatedIdleMs } : {}),
      hashCostMs: s.server.hashCostMs,
      driver: s.driver,
      faults: s.faults.map((f) => `${f.kind}@${f.atMs}`).join(',') || 'none',
      ...(s.server.plantedBug === undefined ? {} : { plantedBug: s.server.plantedBug }),
      ...(s.cluster === undefined ? {} : { nodes: s.cluster.nodes.join(','), clients: s.cluster.clients }),
    };
  }

  private createPeers(seed: number): void {
    let index = 0;
    /** Site name → its number and how many addresses it handed out (populations sharing an IPv6 /64). */
    const sites = new Map<string, { readonly number: number; members: number }>();
    // TEST-ONLY: peers' own transports are wrapped only when the scenario plants a careless peer.
    const plants = (bug: SimPlantedBug): boolean => this.scenario.faults.some((f) => f.kind === 'plant' && f.bug === bug);
    const careless = { greets: plants('greet-any-hello'), trustsSize: plants('trust-sent-size') };
    // The connect timer of each link (connect-deadline.ts): the server link's is its TLS handshake
    // timer when it speaks TLS (not bare TCP, roundTrips 0 and cpuMs 0, and only with
    // `serverLink`), else the plain connect timer; a P2P link has none (the hello timer ends it).
    const { handshake } = this.scenario.network;
    const bare = handshake.roundTrips === 0 && (handshake.cpuMs === 0 || (typeof handshake.cpuMs === 'object' && 'constant' in handshake.cpuMs && handshake.cpuMs.constant === 0));
    const servers = new Set([SERVER_ADDRESS, ...(this.cluster?.addresses ?? [])]);
    const connectTimerOf: ConnectTimerOf = (host) => (!servers.has(host) ? null : !bare && handshake.serverLink ? 'tls' : 'plain');
    const sizeLies = this.checkers.sizeLies;
    for (const population of this.scenario.populations) {
      const steps = this.scenario.behaviours[population.behaviour] ?? [];
      const hostileOffers = anyStep(steps, isHostileSendFile);
      for (let i = 0; i < population.count; i++, index++) {
        const username = population.count === 1 ? (population.username ?? population.name) : `${population.name}${i}`;
        let address = peerAddress(index);
        if (population.site !== undefined) {
          let site = sites.get(population.site);
          if (site === undefined) sites.set(population.site, (site = { number: sites.size, members: 0 }));
          address = siteAddress(site.number, site.members++);
        }
        const prng = Prng.stream(seed, `peer:${index}`);
        const wire = this.cluster === null ? this.network.transport(address) : this.cluster.clientTransport(this.network.transport(address), this.cluster.homeOf(index, population.node));
        const transport = careless.greets || careless.trustsSize ? this.server.planted.wrapPeer(wire, username, SERVER_ADDRESS, careless, sizeLies) : wire;
        const clockRate = new NodeClockRate();
        const driver: PeerDriver =
          this.scenario.driver === 'peer-machine'
            ? new PeerMachineDriver({ username, index, address, transport, clock: this.clock, prng, observer: this.checkers, p2p: this.checkers, sessionTimeoutMs: this.scenario.server.sessionTimeoutMs, clockRate, hostileOffers, sizeLies, planted: this.server.planted.active, identity: this.keys.identityOf(username), storedPasswords: this.storedPasswords, connectTimerOf })
            : new LightClient({ username, address, transport: new ConnectDeadline(transport, this.clock, connectTimerOf), clock: this.clock, prng, observer: this.checkers });
        const slot: PeerSlot = {
          index,
          username,
          password: `pw-${population.name}-${i}`,
          address,
          population: population.name,
          behaviour: population.behaviour,
          driver,
          prng,
          clockRate,
          graphFriends: [],
          startAtMs: 0,
        };
        this.slots.push(slot);
        this.byAddress.set(address, slot);
        if (!this.owners.has(username)) this.owners.set(username, slot);
        else this.duplicates.set(username, [...(this.duplicates.get(username) ?? []), slot]);
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
      // The real client registers its identity keys at sign-up: a seeded account has them too (peer machines use them).
      const identity = this.scenario.driver === 'peer-machine' ? { identity: this.keys.identityOf(slot.username) } : {};
      ops.push({ op: 'account.create', username: slot.username, nickname: slot.username, passwordHash: simPasswordHash(slot.password), createdAtMs: 0, ...identity });
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

  /** Starts the server (every node of a cluster) and schedules every peer's arrival. */
  start(): void {
    for (const node of this.servers) node.start();
    this.runners.forEach((runner, index) => {
      const slot = this.slots[index] as PeerSlot;
      // Nobody cancels an arrival: post, not at (no cancel closure per peer).
      this.clock.post(slot.startAtMs, () => runner.start());
    });
  }

  // ---- RunnerHost ------------------------------------------------------------------------------

  nowMs(): number {
    return this.clock.nowMs();
  }

  after(_slot: PeerSlot, delayMs: number, fn: () => void): void {
    // Runs even when the peer's program is down by then: the runner parks until its restart. A
    // think that ended during a crash, dropped, left the script stuck for good once the program
    // was back (a swarm of quit.yaml, root seed 4013: the quit after it was never typed).
    this.clock.post(this.clock.nowMs() + delayMs, fn);
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
    this.mismatchedStepKinds.add(`${step}:${got}`);
    if (this.stepMismatches.length < 20) this.stepMismatches.push(`${slot.username} ${step}: expected ${expected}, got ${got} at ${Math.round(this.clock.nowMs())} ms`);
  }

  onStepOutcome(slot: PeerSlot, step: string, outcome: string): void {
    const key = `${step}:${outcome}`;
    this.stepOutcomes.set(key, (this.stepOutcomes.get(key) ?? 0) + 1);
    this.trace.note('step', { peer: slot.index, step, outcome });
  }

  /**
   * steps-finish, at the end of the healed phase: a step that started must have ended, unless its
   * peer crashed for good or went silent (a frozen process answers nothing). Steps the workload
   * phase's end kept from starting are not pending.
   */
  checkStepsFinished(): void {
    const stuck: string[] = [];
    let count = 0;
    this.runners.forEach((runner, index) => {
      const pending = runner.pendingStep;
      const slot = this.slots[index] as PeerSlot;
      if (pending === null || !slot.driver.alive || runner.silenced) return;
      count += 1;
      if (stuck.length < 10) stuck.push(`${slot.username}'s ${pending.step} step (started at ${Math.round(pending.sinceMs)} ms) never ended`);
    });
    if (count > 0) this.checkers.violate('steps-finish', `${count} steps still pending after the healed phase: ${stuck.join('; ')}`);
  }

  onCrashStep(slot: PeerSlot, downMs: number | undefined): void {
    this.crashPeer(slot, downMs);
  }

  onTimedStep(slot: PeerSlot, step: string, expected: string, outcome: string, sinceMs: number, withinMs: number): void {
    this.hostile.onTimedStep(slot, step, expected, outcome, sinceMs, withinMs);
  }

  p2pHello(slot: PeerSlot, to: string, token: 'guess' | 'replay', as: string | undefined, done: (outcome: string) => void): void {
    this.hostile.p2pHello(slot, to, token, as, done);
  }

  hoardConnections(slot: PeerSlot, count: number, renew: boolean, done: (outcome: string) => void): void {
    this.hostile.hoardConnections(slot, count, renew, done);
  }

  malformedFrames(slot: PeerSlot, rounds: number, done: (outcome: string) => void): void {
    this.hostile.malformedFrames(slot, rounds, done);
  }

  // ---- peer and server faults --------------------------------------------------------------------

  crashPeer(slot: PeerSlot, downMs: number | undefined): void {
    if (!slot.driver.alive) return;
    const wasOnline = slot.driver.truthOnline;
    this.checkers.count('peer_crashes');
    this.trace.note('peer-crash', { peer: slot.index });
    slot.driver.crash();
    // Its link went with the process, and with it the session requests it was waiting on: the
    // outcome of one may still reach its next incarnation's login (the server held the user
    // within the TTL), which never asked and rightly drops it. The checkers judge them no more.
    this.checkers.onLinkLost(slot.driver);
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

  /** A peer's process stops until `untilMs`: what reaches it waits; the peer machine's timers wait too. */
  pausePeer(slot: PeerSlot, untilMs: number): void {
    if (!slot.driver.alive) return;
    this.trace.note('peer-pause', { peer: slot.index, untilMs });
    this.network.pauseNode(slot.address, untilMs);
    slot.driver.pause?.(untilMs);
  }

  /** The server crashes: with `cluster`, every node at once (the whole service, as a power cut). */
  crashServer(): void {
    if (this.cluster !== null) {
      for (const node of this.servers) this.crashNode(node);
      return;
    }
    if (!this.server.up) return;
    this.trace.note('server-crash', {});
    this.server.crash();
    this.checkers.onServerRestart();
  }

  /** The server starts again: with `cluster`, every node that is down. */
  startServer(): void {
    if (this.cluster !== null) {
      for (const node of this.servers) this.startNode(node);
      return;
    }
    if (this.server.up) return;
    this.trace.note('server-start', {});
    this.server.start();
    this.checkers.onServerRestart();
    this.checkers.count('server_restarts');
  }

  // ---- the nodes of a cluster (cluster-world.ts) ---------------------------------------------------

  /** Every server process: the nodes of a cluster, or the one server. */
  get servers(): readonly ServerNode[] {
    return this.cluster?.nodes ?? [this.server];
  }

  /** The server process listening at an address (a node of a cluster), if any. */
  serverAt(address: string): ServerNode | undefined {
    return this.cluster === null ? (address === SERVER_ADDRESS ? this.server : undefined) : this.cluster.nodeAt(address);
  }

  /** The incarnation that numbered a session request id: the server's, or the node's that made it. */
  requestIncarnation(requestId: string): number {
    return this.cluster === null ? this.server.incarnation : this.cluster.incarnationOfRequest(requestId);
  }

  crashNode(node: ServerNode): void {
    if (!node.up) return;
    this.trace.note('node-crash', { address: node.address });
    node.crash();
    // Session requests the node held died with it; others' judged again from here.
    this.checkers.onServerRestart();
  }

  startNode(node: ServerNode): void {
    if (node.up) return;
    this.trace.note('node-start', { address: node.address });
    node.start();
    this.checkers.onServerRestart();
    this.checkers.count('server_restarts');
  }
}
