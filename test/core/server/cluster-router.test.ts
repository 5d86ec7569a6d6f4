/**
 * The cluster's routing as pure code: three ServerHosts with their own machines, one shared
 * MemoryStore and the in-memory bus (MemoryBusHub), fake streams and a manual clock. No
 * services needed: what the two- and three-node suites prove against PostgreSQL and NATS, here
 * step by step, plus what those cannot reach cheaply (stale words from an old holder, a node cut
 * off past its lease, coming back).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeControl } from '../../../core/codec.ts';
import type { ClientFrame } from '../../../core/frames.ts';
import { type ClusterItem, type ClusterMessage, ClusterRouter, LEASE_BEATS_PER_TTL, LOGIN_EPOCHS_OFFLINE_MAX, LOST_NODES_MAX, MemoryBusHub, UNNAMED_USER_GRACE_BEATS } from '../../../core/server/cluster.ts';
import { type PasswordHasher, ServerHost } from '../../../core/server/host.ts';
import { type ServerInput, ServerMachine } from '../../../core/server/machine.ts';
import { MAIL_SEQ_NODE_SLOTS } from '../../../core/server/mailbox.ts';
import { MemoryStore, type StoreSnapshot } from '../../../core/store.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../../core/transport.ts';
import { replay } from '../../helpers/fc-replay.ts';

const TTL_MS = 10_000;

/**
 * Work that must not run inside the caller (bus deliveries, hashing), run by settle(). Each task
 * has a lane: one publisher's bus messages keep their order (as NATS keeps them), anything else
 * may overtake. First in, first out unless `pick` chooses which lane runs next.
 */
class Tasks {
  private readonly queue: { readonly lane: string; readonly run: () => void }[] = [];
  /** Chooses the lane to run next among `laneCount` waiting ones (a property's random schedule). */
  pick: ((laneCount: number) => number) | null = null;
  /** Lanes whose tasks wait until taken out of here (a bus slow to deliver one node's words). */
  readonly held = new Set<string>();
  push(run: () => void, lane = 'main'): void {
    this.queue.push({ lane, run });
  }
  get waiting(): number {
    return this.queue.length;
  }
  /** Runs one task; false when none waits. */
  step(): boolean {
    let index = this.queue.findIndex((task) => !this.held.has(task.lane));
    if (index < 0) return false;
    if (this.pick !== null) {
      const lanes = [...new Set(this.queue.map((task) => task.lane))].filter((lane) => !this.held.has(lane));
      const lane = lanes[this.pick(lanes.length) % lanes.length];
      index = this.queue.findIndex((task) => task.lane === lane);
    }
    const [task] = this.queue.splice(index, 1);
    task?.run();
    return true;
  }
  settle(): void {
    for (let i = 0; i < 10_000 && this.step(); i++);
    if (this.queue.some((task) => !this.held.has(task.lane))) throw new Error('tasks did not settle');
  }
}

class ManualClock implements Clock {
  private now = 1_000_000;
  private timers: { atMs: number; fn: () => void; live: boolean }[] = [];
  nowMs(): number {
    return this.now;
  }
  at(atMs: number, fn: () => void): () => void {
    const timer = { atMs, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  advance(ms: number, tasks: Tasks): void {
    const end = this.now + ms;
    for (;;) {
      tasks.settle();
      const due = this.timers.filter((t) => t.live && t.atMs <= end).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      due.live = false;
      this.now = Math.max(this.now, due.atMs);
      due.fn();
    }
    this.now = end;
    this.timers = this.timers.filter((t) => t.live);
    tasks.settle();
  }
}

class Client implements Stream {
  events: StreamEvents | null = null;
  readonly remotePort = 40_000;
  readonly bufferedBytes = 0;
  closed = false;
  private readonly decoder = new FrameDecoder();
  readonly frames: Record<string, unknown>[] = [];
  constructor(readonly remoteAddress: string) {}
  setEvents(events: StreamEvents): void {
    this.events = events;
  }
  write(bytes: Uint8Array): boolean {
    this.decoder.push(bytes);
    for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
      if (frame.kind === 'control') this.frames.push(frame.message as Record<string, unknown>);
    }
    return true;
  }
  close(): void {
    this.closed = true;
  }
  reset(): void {
    this.closed = true;
  }
  send(frame: ClientFrame): void {
    this.events?.onData(encodeControl(frame));
  }
  /** Frames of a type received so far, and forgets them. */
  take(type: string): Record<string, unknown>[] {
    const taken = this.frames.filter((f) => f.type === type);
    for (const frame of taken) this.frames.splice(this.frames.indexOf(frame), 1);
    return taken;
  }
}

class Node {
  readonly host: ServerHost;
  readonly machine: ServerMachine;
  readonly router: ClusterRouter;
  private onAccept: ((stream: Stream) => void) | null = null;
  private tokenSeq = 0;

  constructor(
    readonly nodeId: string,
    world: World,
  ) {
    const transport: Transport = {
      listen: (host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void) => {
        this.onAccept = onAccept;
        onReady({ host, port, close() {} });
      },
      connect: () => {
        throw new Error('not used');
      },
    };
    // Each check on a lane of its own: checks finish in any order.
    const hasher: PasswordHasher = {
      hash: (password, done) => world.tasks.push(() => done(`h:${password}`), `hash${world.nextCheck++}`),
      verify: (password, hash, done) => world.tasks.push(() => done(hash === `h:${password}`), `hash${world.nextCheck++}`),
    };
    this.machine = new ServerMachine(world.store.load(), {
      newToken: () => `${nodeId}-t${++this.tokenSeq}`,
      ttlMs: TTL_MS,
      authAttemptsPerAddressPerSec: 0,
      signupsPerAddressPerHour: 0,
      connectionsPerAddressMax: 0,
      unauthenticatedConnectionsPerAddressMax: 0,
      clustered: true,
      sessionRequestIdPrefix: `${nodeId}.s`,
      // As the shipped server's boot numbers would: one slot per node.
      mailSeqSlot: world.nodes.length,
      mailSeqSlots: MAIL_SEQ_NODE_SLOTS,
    });
    const hubBus = world.hub.bus(nodeId);
    // What this node publishes travels in its own lane (the hub schedules it while we publish).
    const bus: typeof hubBus = {
      get connected() {
        return hubBus.connected;
      },
      publish: (message) => world.publishing(nodeId, () => hubBus.publish(message)),
      setHandler: (handler) => hubBus.setHandler(handler),
      onStatus: (listener) => hubBus.onStatus(listener),
    };
    let host: ServerHost | null = null;
    this.router = new ClusterRouter({
      nodeId,
      bus,
      leaseTtlMs: TTL_MS,
      input: (input) => host?.input(input),
      heldUsers: (visit) => this.machine.heldUsers(visit),
      nowMs: () => world.clock.nowMs(),
      nextLoginEpoch: () => ++world.loginEpochs,
      readStore: () => world.store.load(),
    });
    host = new ServerHost({ machine: this.machine, transport, store: world.store, hasher, clock: world.clock, cluster: this.router });
    this.host = host;
    bus.onStatus((connected) => {
      if (connected) {
        host?.input({ type: 'remote.snapshot', snapshot: world.store.load() });
        host?.joinCluster();
      }
      host?.input({ type: 'cluster.health', healthy: connected });
    });
    host.listen('10.0.0.1', 7000, () => {});
    host.joinCluster();
  }

  connect(address = '192.0.2.10'): Client {
    const client = new Client(address);
    this.onAccept?.(client);
    return client;
  }
}

class World {
  readonly tasks = new Tasks();
  readonly clock = new ManualClock();
  readonly store = new MemoryStore();
  readonly hub = new MemoryBusHub((deliver) => this.tasks.push(deliver, this.publisher));
  readonly nodes: Node[] = [];
  nextCheck = 0;
  /** The shared store's login_epochs sequence (PostgreSQL's in the shipped server). */
  loginEpochs = 0;
  private publisher = 'main';

  publishing(nodeId: string, publish: () => void): void {
    this.publisher = `bus:${nodeId}`;
    publish();
    this.publisher = 'main';
  }

  addNode(): Node {
    const node = new Node(`n${this.nodes.length + 1}`, this);
    this.nodes.push(node);
    this.tasks.settle();
    return node;
  }

  settle(): void {
    this.tasks.settle();
  }

  /** Signs up and logs in on a node, heartbeats left to the test. */
  login(node: Node, username: string): Client {
    const client = node.connect();
    if (!this.nodes.some((n) => n.machine.hasAccount(username))) {
      client.send({ type: 'signup', username, password: 'correct horse' });
      this.settle();
      expect(client.take('signup.ok')).toHaveLength(1);
    }
    client.send({ type: 'login', username, password: 'correct horse' });
    this.settle();
    expect(client.take('login.ok')).toHaveLength(1);
    return client;
  }

  /** Two nodes, alice logged in on the first and bob on the second, friends. */
  friendsOnTwoNodes(): { a: Node; b: Node; alice: Client; bob: Client } {
    const [a, b] = [this.addNode(), this.addNode()];
    const alice = this.login(a, 'alice');
    const bob = this.login(b, 'bob');
    this.befriend(alice, 'alice', bob, 'bob');
    return { a, b, alice, bob };
  }

  befriend(a: Client, aName: string, b: Client, bName: string): void {
    a.send({ type: 'friend.request', username: bName });
    this.settle();
    b.send({ type: 'friend.accept', username: aName });
    this.settle();
    expect(a.take('friend.added')).toHaveLength(1);
    b.take('friend.added');
    b.take('friend.incoming');
    a.take('friend.requested');
  }

  /** Every live client heartbeats, then time passes (keeps logins alive across a lease test). */
  passWithHeartbeats(ms: number, clients: Client[]): void {
    const stepMs = TTL_MS / 4;
    for (let passed = 0; passed < ms; passed += stepMs) {
      for (const client of clients) if (!client.closed) client.send({ type: 'heartbeat' });
      this.clock.advance(Math.min(stepMs, ms - passed), this.tasks);
    }
  }
}

describe('ClusterRouter over the in-memory bus', () => {
  it('presence, a friend request and a session cross nodes, each frame delivered once', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    const bob = world.login(b, 'bob');
    expect(a.machine.isOnline('bob') && b.machine.isOnline('alice')).toBe(true);
    world.befriend(alice, 'alice', bob, 'bob');

    bob.send({ type: 'logout' });
    world.settle();
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'offline' }]);
    const bobAgain = world.login(b, 'bob');
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'online' }]);

    alice.send({ type: 'session.request', username: 'bob' });
    world.settle();
    const [incoming] = bobAgain.take('session.incoming');
    expect(incoming).toMatchObject({ from: 'alice', requestId: 'n1.s1' });
    bobAgain.send({ type: 'session.answer', requestId: 'n1.s1', accept: true, port: 5000 });
    world.settle();
    expect(bobAgain.take('session.answered')).toHaveLength(1);
    expect(alice.take('session.established')).toEqual([expect.objectContaining({ role: 'caller', host: '192.0.2.10', port: 5000 })]);
    expect(bobAgain.take('session.established')).toEqual([expect.objectContaining({ role: 'callee', username: 'alice' })]);
    // The request is gone on its holder: no timeout later.
    world.passWithHeartbeats(TTL_MS, [alice, bobAgain]);
    expect(alice.take('session.failed')).toEqual([]);
  });

  it('a second login elsewhere ends the first with LOGGED_IN_ELSEWHERE; a late offline from the old holder changes nothing', () => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    const aliceOnB = world.login(b, 'alice');
    expect(alice.take('error')).toEqual([expect.objectContaining({ code: 'LOGGED_IN_ELSEWHERE' })]);
    expect(alice.closed).toBe(true);
    expect(bob.take('presence')).toEqual([]);
    // A's old TTL for alice is disarmed: long silence on A's side does not log her out.
    world.passWithHeartbeats(TTL_MS * 2, [aliceOnB, bob]);
    expect(a.machine.isOnline('alice') && b.machine.isOnline('alice')).toBe(true);
    expect(bob.take('presence')).toEqual([]);
  });

  it("one user's logout on A and next login on B, crossing on the bus: the newer login wins on both nodes (they disagreed for good before login epochs)", () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const bob = world.login(a, 'bob');
    const alice = world.login(a, 'alice');
    world.befriend(bob, 'bob', alice, 'alice');
    alice.send({ type: 'logout' });
    world.settle();
    // From here B hears A late: alice logs in on A and out again, then in on B, before B hears either.
    world.tasks.held.add(`bus:${a.nodeId}`);
    const onA = world.login(a, 'alice');
    onA.send({ type: 'logout' });
    world.settle();
    expect(onA.take('logout.ok')).toHaveLength(1);
    const onB = world.login(b, 'alice');
    world.tasks.held.clear();
    world.settle();
    expect(onB.take('error')).toEqual([]);
    expect(onB.closed).toBe(false);
    expect([a.machine.isOnline('alice'), b.machine.isOnline('alice')]).toEqual([true, true]);
    expect(shownPresence(bob.frames).get('alice')).toBe('online');
    // And her logout on B, heard by A in order, takes her offline on both.
    onB.send({ type: 'logout' });
    world.settle();
    expect([a.machine.isOnline('alice'), b.machine.isOnline('alice')]).toEqual([false, false]);
    expect(shownPresence(bob.frames).get('alice')).toBe('offline');
  });

  it('a resume token works on another node', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const client = a.connect();
    client.send({ type: 'signup', username: 'carol', password: 'correct horse' });
    world.settle();
    client.send({ type: 'login', username: 'carol', password: 'correct horse' });
    world.settle();
    const [ok] = client.take('login.ok');
    client.events?.onClose(null);
    const elsewhere = b.connect();
    elsewhere.send({ type: 'resume', username: 'carol', token: String(ok?.resumeToken) });
    world.settle();
    expect(elsewhere.take('login.ok')).toEqual([expect.objectContaining({ resumed: true })]);
  });

  it("a crashed node's users go offline at the others within one TTL, each friend told once", () => {
    const world = new World();
    const [a, b, c] = [world.addNode(), world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    const bob = world.login(b, 'bob');
    const carol = world.login(c, 'carol');
    world.befriend(carol, 'carol', alice, 'alice');
    world.befriend(carol, 'carol', bob, 'bob');
    world.hub.remove('n3');
    // Carol's client goes on heartbeating into the dead node: only the lease can take her offline.
    world.passWithHeartbeats(TTL_MS + TTL_MS / 4, [alice, bob, carol]);
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'carol', status: 'offline' }]);
    expect(bob.take('presence')).toEqual([{ type: 'presence', username: 'carol', status: 'offline' }]);
    expect(a.machine.isOnline('carol') || b.machine.isOnline('carol')).toBe(false);
    expect(a.router.liveNodes()).toEqual(['n2']);
  });

  // Found on real nodes (kill -9 of the caller's node): bob saw alice offline, and her request
  // stayed on his screen until his client's own deadline; a yes to it went nowhere.
  it("a caller's node crashes: the requests it held for callees elsewhere are withdrawn there (offline), as a logout would end them", () => {
    const world = new World();
    const [a, b, c] = [world.addNode(), world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    const bob = world.login(b, 'bob');
    const dave = world.login(c, 'dave');
    world.befriend(alice, 'alice', bob, 'bob');
    world.befriend(dave, 'dave', bob, 'bob');
    world.befriend(alice, 'alice', dave, 'dave');
    alice.send({ type: 'session.request', username: 'bob' });
    world.settle();
    dave.send({ type: 'session.request', username: 'bob' });
    world.settle();
    const [fromAlice, fromDave] = bob.take('session.incoming') as { requestId: string; from: string }[];
    expect([fromAlice?.from, fromDave?.from]).toEqual(['alice', 'dave']);
    world.hub.remove('n1');
    world.passWithHeartbeats(TTL_MS + TTL_MS / 4, [bob, dave]);
    expect(bob.take('presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
    expect(bob.take('session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: fromAlice?.requestId, from: 'alice', reason: 'offline' }]);
    // Dave's request, held on n3, is not alice's: bob's yes to it still goes through.
    bob.send({ type: 'session.answer', id: 7, requestId: String(fromDave?.requestId), accept: true, port: 5000 });
    world.settle();
    expect(bob.take('session.answered')).toEqual([expect.objectContaining({ re: 7 })]);
    expect(dave.take('session.established')).toEqual([expect.objectContaining({ role: 'caller', port: 5000 })]);
  });

  // Found by a corpus sweep (cluster-three-nodes.yaml, root seed 49972): the caller's node told
  // the bus she was offline before it withdrew her requests, so the callee's node withdrew them
  // itself on the word `offline` (withdrawRemoteRequests) and then passed on the caller's node's
  // own withdrawal: the callee heard session.withdrawn twice for one request (one-final-outcome).
  it("a caller's TTL runs out on her node: the callee elsewhere is told her request was withdrawn once", () => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    alice.send({ type: 'session.request', username: 'bob' });
    world.settle();
    const [fromAlice] = bob.take('session.incoming') as { requestId: string }[];
    // Alice's client falls silent (her connection stays): her node's TTL ends her login.
    world.passWithHeartbeats(TTL_MS + TTL_MS / 4, [bob]);
    expect(bob.take('presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
    expect(bob.take('session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: fromAlice?.requestId, from: 'alice', reason: 'offline' }]);
  });

  it('a node cut off the bus refuses logins, and when back after its lease ran out its users are online again', () => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    world.hub.partition('n2', true);
    world.settle();
    const refused = b.connect();
    refused.send({ type: 'login', username: 'alice', password: 'correct horse' });
    world.settle();
    expect(refused.take('error')).toEqual([expect.objectContaining({ code: 'SERVER_DEGRADED' })]);

    world.passWithHeartbeats(TTL_MS + TTL_MS / 4, [alice, bob]);
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'offline' }]);
    world.hub.partition('n2', false);
    world.settle();
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'online' }]);
    expect(a.machine.isOnline('bob') && b.machine.isOnline('alice')).toBe(true);
  });

  // Found by a cluster swarm (scenarios/cluster-three-nodes.yaml, seed 3750875625): the callee's
  // node forwarded the yes into a bus it had lost; nobody ever answered the callee.
  it("a node cut off the bus answers a session.answer for a request held elsewhere SERVER_DEGRADED, and forwards it again once back", () => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    alice.send({ type: 'session.request', username: 'bob' });
    world.settle();
    const [incoming] = bob.take('session.incoming');
    expect(incoming).toMatchObject({ from: 'alice' });
    const requestId = (incoming as { requestId: string }).requestId;
    world.hub.partition('n2', true);
    world.settle();
    bob.send({ type: 'session.answer', id: 9, requestId, accept: true, port: 5000 });
    world.settle();
    expect(bob.take('error')).toEqual([expect.objectContaining({ re: 9, code: 'SERVER_DEGRADED' })]);
    expect(bob.take('session.answered')).toEqual([]);
    // Back within the session timeout: the request is still alice's, and the answer goes through.
    world.hub.partition('n2', false);
    world.settle();
    bob.send({ type: 'session.answer', id: 10, requestId, accept: true, port: 5000 });
    world.settle();
    expect(bob.take('session.answered')).toEqual([expect.objectContaining({ re: 10 })]);
    expect(alice.take('session.established')).toEqual([expect.objectContaining({ role: 'caller', port: 5000 })]);
  });

  it("a node stalled past another's lease (never off the bus) hears it again and has it name its users again", () => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    // n1's timers fire a whole TTL late (a long GC, a paused process, a loaded machine): its lease
    // check runs before it reads n2's beats waiting on its socket, and buries n2.
    a.router.tick(world.clock.nowMs() + TTL_MS);
    world.settle();
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'offline' }]);
    expect(a.machine.isOnline('bob')).toBe(false);
    // n2 never left the bus, so it will not say hello by itself: its next beat makes n1 greet it.
    world.passWithHeartbeats(TTL_MS / 2, [alice, bob]);
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'online' }]);
    expect(a.machine.isOnline('bob') && b.machine.isOnline('alice')).toBe(true);
    // Greeted once: later beats change nothing.
    world.passWithHeartbeats(TTL_MS * 2, [alice, bob]);
    expect(alice.take('presence')).toEqual([]);
    expect(bob.take('presence')).toEqual([]);
  });

  // Either node cut off the bus within the lease: bob's logout on n2 is lost for n1 (n2 could not
  // say it, or n1 could not hear it). Back on the bus, the list of users n2 holds (its hello, or
  // its answer to n1's) is whole, and bob is not in it.
  it.each([
    { cut: 'n2', whose: "bob's node, cut off while he left" },
    { cut: 'n1', whose: "alice's node, cut off while bob left elsewhere" },
  ])('a user who left while $cut was cut off the bus goes offline at the others when it is back ($whose)', ({ cut }) => {
    const world = new World();
    const { a, b, alice, bob } = world.friendsOnTwoNodes();
    world.hub.partition(cut, true);
    world.settle();
    bob.send({ type: 'logout' });
    world.settle();
    world.passWithHeartbeats(TTL_MS / 2, [alice]);
    expect(alice.take('presence')).toEqual([]);
    world.hub.partition(cut, false);
    world.settle();
    // A lease beat later (UNNAMED_USER_GRACE_BEATS): he might have moved to a node whose answer comes second.
    world.passWithHeartbeats(TTL_MS / LEASE_BEATS_PER_TTL, [alice]);
    expect(alice.take('presence')).toEqual([{ type: 'presence', username: 'bob', status: 'offline' }]);
    expect(a.machine.isOnline('bob')).toBe(false);
  });

  // Noticed by helper-86: the answers to a hello come from each node in any order. bob's old node
  // no longer names him; before, he went offline at A at once, and online again when his new
  // node's answer came: a flap at his friends, for a user who never left.
  it.each([
    { first: 'n2', which: "bob's old node answers first" },
    { first: 'n3', which: "bob's new node answers first" },
  ])('a user who moved from B to C while A was cut off the bus stays online at A, whichever answer to its hello comes first ($which)', ({ first }) => {
    const world = new World();
    const [a, b, c] = [world.addNode(), world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    const bob = world.login(b, 'bob');
    world.befriend(alice, 'alice', bob, 'bob');
    world.hub.partition('n1', true);
    world.settle();
    const bobOnC = world.login(c, 'bob');
    expect(bob.take('error')).toEqual([expect.objectContaining({ code: 'LOGGED_IN_ELSEWHERE' })]);
    world.passWithHeartbeats(TTL_MS / 4, [alice, bobOnC]);
    const last = first === 'n2' ? 'bus:n3' : 'bus:n2';
    world.tasks.held.add(last);
    world.hub.partition('n1', false);
    world.settle();
    world.tasks.held.delete(last);
    world.settle();
    world.passWithHeartbeats(TTL_MS / 2, [alice, bobOnC]);
    expect(alice.take('presence')).toEqual([]);
    expect(a.machine.isOnline('bob')).toBe(true);
    // bob is reached through C: a session request from alice gets to him there.
    alice.send({ type: 'session.request', username: 'bob' });
    world.settle();
    expect(bobOnC.take('session.incoming')).toHaveLength(1);
  });

  it('a node back on the bus reads the store again: accounts and friendships made meanwhile are there', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    world.hub.partition('n2', true);
    world.settle();
    const erin = world.login(a, 'erin');
    world.befriend(alice, 'alice', erin, 'erin');
    expect(b.machine.hasAccount('erin')).toBe(false);
    world.hub.partition('n2', false);
    world.settle();
    expect(b.machine.hasAccount('erin')).toBe(true);
    expect(b.machine.friendsOf('alice').has('erin')).toBe(true);
    expect(b.machine.isOnline('erin')).toBe(true);
  });

  // Found on real nodes (test/cluster/two-nodes.test.ts): n1 took alice's old password for good.
  it('a password change made on a node cut off the bus reaches the others when it is back: the old password no longer logs in there', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const alice = world.login(b, 'alice');
    world.hub.partition('n2', true);
    world.settle();
    alice.send({ type: 'account.password', old: 'correct horse', new: 'battery staple' });
    world.settle();
    expect(alice.take('account.updated')).toHaveLength(1);
    world.hub.partition('n2', false);
    world.settle();
    const thief = a.connect();
    thief.send({ type: 'login', username: 'alice', password: 'correct horse' });
    world.settle();
    expect(thief.take('error')).toEqual([expect.objectContaining({ code: 'BAD_CREDENTIALS' })]);
    const owner = a.connect();
    owner.send({ type: 'login', username: 'alice', password: 'battery staple' });
    world.settle();
    expect(owner.take('login.ok')).toHaveLength(1);
  });

  it('a lease runs out at the very instant nextTickMs() names, on a clock with fractions of a millisecond', () => {
    const heard: { handler: ((message: ClusterMessage) => void) | null } = { handler: null };
    let nowMs = 0;
    const router = new ClusterRouter({
      nodeId: 'n1',
      bus: { connected: true, publish: () => {}, setHandler: (h) => (heard.handler = h) },
      leaseTtlMs: 5_000,
      input: () => {},
      heldUsers: () => {},
      nowMs: () => nowMs,
    });
    router.join(0);
    // Heard at a time whose sum with the TTL rounds up: (heard + ttl) - heard < ttl in floating point.
    nowMs = 3751.1354923684457;
    heard.handler?.({ from: 'n2', to: null, items: [{ kind: 'lease' }] });
    router.tick(nowMs);
    for (let wakeups = 0; router.liveNodes().length > 0 && wakeups < 20; wakeups++) {
      nowMs = Math.max(nowMs, router.nextTickMs());
      router.tick(nowMs);
    }
    expect(router.liveNodes()).toEqual([]);
  });

  it('remembers the last LOST_NODES_MAX nodes its lease buried: those are greeted when heard again, an older one is taken for a new node', () => {
    const published: ClusterMessage[] = [];
    const heard: { handler: ((message: ClusterMessage) => void) | null } = { handler: null };
    let nowMs = 0;
    const router = new ClusterRouter({
      nodeId: 'n0',
      bus: { connected: true, publish: (message) => published.push(message), setHandler: (h) => (heard.handler = h) },
      leaseTtlMs: 5_000,
      input: () => {},
      heldUsers: (visit) => visit('alice', 't-alice'),
      nowMs: () => nowMs,
    });
    router.join(0);
    const greetedAfterSilence = (node: string): boolean => {
      published.length = 0;
      heard.handler?.({ from: node, to: null, items: [{ kind: 'lease' }] });
      return published.some((message) => message.to === node && message.items[0]?.kind === 'hello');
    };
    const buryNodes = (first: number, count: number): void => {
      for (let i = first; i < first + count; i++) heard.handler?.({ from: `m${i}`, to: null, items: [{ kind: 'lease' }] });
      nowMs += 5_000;
      router.tick(nowMs);
      expect(router.liveNodes()).toEqual([]);
    };
    buryNodes(0, LOST_NODES_MAX);
    // All LOST_NODES_MAX remembered: the oldest is greeted (and so forgotten as lost again).
    expect(greetedAfterSilence('m0')).toBe(true);
    nowMs += 5_000;
    router.tick(nowMs);
    // m0 buried again is now the newest; one more buried node pushes out the oldest, m1.
    buryNodes(LOST_NODES_MAX, 1);
    expect(greetedAfterSilence('m1')).toBe(false);
    expect(greetedAfterSilence('m2')).toBe(true);
    expect(greetedAfterSilence('m0')).toBe(true);
    expect(greetedAfterSilence(`m${LOST_NODES_MAX}`)).toBe(true);
  });

  it('one name signed up on two nodes at the same instant: the store takes the first, the second is told USERNAME_TAKEN, both nodes go on', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const onA = a.connect();
    const onB = b.connect('192.0.2.20');
    // Both nodes check the name before either hears of the other's account.
    onA.send({ type: 'signup', id: 1, username: 'zoe', password: 'first password' });
    onB.send({ type: 'signup', id: 1, username: 'zoe', password: 'second password' });
    world.settle();
    expect(onA.take('signup.ok')).toEqual([expect.objectContaining({ re: 1, username: 'zoe' })]);
    expect(onB.take('signup.ok')).toEqual([]);
    expect(onB.take('error')).toEqual([expect.objectContaining({ re: 1, code: 'USERNAME_TAKEN' })]);
    // The account is the one the store took, on both nodes: the first password logs in on B.
    onB.send({ type: 'login', id: 2, username: 'zoe', password: 'first password' });
    world.settle();
    expect(onB.take('login.ok')).toEqual([expect.objectContaining({ re: 2, username: 'zoe' })]);
    expect(b.machine.stats().signups).toBe(0);
  });

  it('mail queued on two nodes in the same millisecond gets two seqs: both messages are held in the shared store', () => {
    const world = new World();
    const [a, b] = [world.addNode(), world.addNode()];
    const alice = world.login(a, 'alice');
    const bob = world.login(b, 'bob');
    const carol = world.login(a, 'carol');
    world.befriend(alice, 'alice', carol, 'carol');
    world.befriend(bob, 'bob', carol, 'carol');
    carol.send({ type: 'logout' });
    world.settle();
    const sealed = Buffer.from('x'.repeat(64)).toString('base64');
    alice.send({ type: 'mail.send', id: 1, username: 'carol', messageId: 'from-alice', sealed });
    bob.send({ type: 'mail.send', id: 1, username: 'carol', messageId: 'from-bob', sealed });
    world.settle();
    expect([...alice.take('mail.queued'), ...bob.take('mail.queued')]).toHaveLength(2);
    // One primary key for both nodes (the store keys mail by seq, as PostgreSQL does).
    expect(world.store.load().mail?.map((mail) => mail.messageId).sort()).toEqual(['from-alice', 'from-bob']);
  });

  it('a node that joins late learns who is online', () => {
    const world = new World();
    const a = world.addNode();
    world.login(a, 'dave');
    const b = world.addNode();
    expect(b.machine.isOnline('dave')).toBe(true);
  });
});

/** What a client shows of its friends: login.ok's list, then each presence frame in order. */
function shownPresence(frames: readonly Record<string, unknown>[]): Map<string, string> {
  const shown = new Map<string, string>();
  for (const frame of frames) {
    if (frame.type === 'login.ok') {
      shown.clear();
      for (const friend of frame.friends as { username: string; status: string }[]) shown.set(friend.username, friend.status);
    } else if (frame.type === 'presence') shown.set(String(frame.username), String(frame.status));
  }
  return shown;
}

describe('presence across nodes, in every interleaving of the bus', () => {
  const USERS = ['u0', 'u1', 'u2', 'u3'];
  const PAIRS = USERS.flatMap((a, i) => USERS.slice(i + 1).map((b) => [a, b] as const));

  it('logins and logouts on any nodes, their announcements delivered in any order: every client ends up shown the truth', () => {
    const command = fc.record({ user: fc.nat(USERS.length - 1), node: fc.nat(2), stepsAfter: fc.nat(6) });
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 3 }),
        fc.subarray([...PAIRS], { minLength: 1 }),
        fc.array(command, { minLength: 1, maxLength: 16 }),
        fc.infiniteStream(fc.nat()),
        (nodeCount, pairs, commands, picks) => {
          const world = new World();
          for (const username of USERS) world.store.apply([{ op: 'account.create', username, nickname: username, passwordHash: 'h:correct horse', createdAtMs: 0 }]);
          for (const [a, b] of pairs) world.store.apply([{ op: 'friendship.add', a, b }]);
          const nodes = Array.from({ length: nodeCount }, () => world.addNode());
          const lanePicks = picks[Symbol.iterator]();
          world.tasks.pick = (laneCount) => (lanePicks.next().value ?? 0) % laneCount;
          /** Each user's latest connection, and whether it was asked to log in (true) or out. */
          const clients = new Map<string, { client: Client; loggedIn: boolean }>();
          for (const { user, node, stepsAfter } of commands) {
            const username = USERS[user] as string;
            const current = clients.get(username);
            // One thing at a time per user: its last request answered first. What the nodes
            // announced of it may still be anywhere on the bus: a user's logout on one node and
            // next login on another cross there (the nodes disagreed for good before login epochs).
            const answered = current === undefined || current.client.frames.some((f) => f.type === (current.loggedIn ? 'login.ok' : 'logout.ok'));
            if (answered && current?.loggedIn === true) {
              current.client.send({ type: 'logout' });
              current.loggedIn = false;
            } else if (answered) {
              const client = (nodes[node % nodeCount] as Node).connect();
              client.send({ type: 'login', username, password: 'correct horse' });
              clients.set(username, { client, loggedIn: true });
            }
            for (let i = 0; i < stepsAfter; i++) world.tasks.step();
          }
          world.settle();
          const online = new Set([...clients].filter(([, c]) => c.loggedIn).map(([username]) => username));
          for (const node of nodes) for (const username of USERS) expect(node.machine.isOnline(username), `${node.nodeId} ${username}`).toBe(online.has(username));
          for (const [username, { client, loggedIn }] of clients) {
            if (!loggedIn) continue;
            const shown = shownPresence(client.frames);
            for (const friend of nodes[0]?.machine.friendsOf(username) ?? []) {
              expect(shown.get(friend), `${username} shown ${friend}`).toBe(online.has(friend) ? 'online' : 'offline');
            }
          }
        },
      ),
      { numRuns: 200, ...replay },
    );
  });
});

describe('login epochs, on one router', () => {
  /** A router alone on a fake bus: what it feeds its machine, what it publishes, a way to make it hear. */
  function lonelyRouter(nextLoginEpoch?: () => number | null, readStore?: (node: string) => StoreSnapshot | null, nodeLost?: (node: string, users: number) => void) {
    const inputs: ServerInput[] = [];
    const published: ClusterMessage[] = [];
    const heard: { handler: ((message: ClusterMessage) => void) | null } = { handler: null };
    const held = new Set<string>();
    const router = new ClusterRouter({
      nodeId: 'n0',
      bus: { connected: true, publish: (message) => published.push(message), setHandler: (h) => (heard.handler = h) },
      leaseTtlMs: 5_000,
      input: (input) => inputs.push(input),
      heldUsers: (visit) => {
        for (const username of held) visit(username, `t-${username}`);
      },
      nowMs: () => 0,
      ...(nextLoginEpoch === undefined ? {} : { nextLoginEpoch }),
      ...(readStore === undefined ? {} : { readStore }),
      ...(nodeLost === undefined ? {} : { nodeLost }),
    });
    const hear = (from: string, ...items: ClusterItem[]): string[] => {
      inputs.length = 0;
      heard.handler?.({ from, to: null, items });
      return inputs.map((input) => input.type);
    };
    const announce = (item: { kind: 'attached'; username: string; resumeToken: string; passwordLogin?: true } | { kind: 'offline'; username: string }): ClusterItem[] => {
      published.length = 0;
      router.perform({ type: 'announce', item });
      router.flushOut();
      return published.flatMap((message) => message.items);
    };
    return { router, hear, announce, held, published, inputs };
  }
  const attached = (username: string, epoch: number): ClusterItem => ({ kind: 'attached', username, resumeToken: `t-${username}`, epoch });
  const offline = (username: string, epoch: number): ClusterItem => ({ kind: 'offline', username, epoch });
  const attachedByPassword = (username: string, epoch: number): ClusterItem => ({ kind: 'attached', username, resumeToken: `t-${username}`, epoch, passwordLogin: true });

  it('a word about an older login than the latest known is dropped; the same login said again passes', () => {
    const { hear } = lonelyRouter();
    expect(hear('n1', attached('alice', 5))).toEqual(['remote.attached']);
    expect(hear('n2', attached('alice', 4))).toEqual([]);
    expect(hear('n1', offline('alice', 4))).toEqual([]);
    expect(hear('n1', offline('alice', 5))).toEqual(['remote.offline']);
    // Kept after the logout: a late word about an older login is still known for one.
    expect(hear('n2', attached('alice', 4))).toEqual([]);
    // The same login named again (a node answering a hello) is no older.
    expect(hear('n1', attached('alice', 5))).toEqual(['remote.attached']);
    expect(hear('n2', attached('alice', 6))).toEqual(['remote.attached']);
    // An offline about a user nobody announced changes nothing.
    expect(hear('n1', offline('carol', 9))).toEqual([]);
  });

  it('a password login is said as such on the bus and heard as such; a resume, a new token or a hello answer says nothing of it', () => {
    const { hear, announce, held, published, inputs } = lonelyRouter();
    expect(announce({ kind: 'attached', username: 'bob', resumeToken: 't-bob', passwordLogin: true })).toEqual([attachedByPassword('bob', 0)]);
    expect(announce({ kind: 'attached', username: 'bob', resumeToken: 't-bob' })).toEqual([attached('bob', 0)]);
    held.add('bob');
    published.length = 0;
    hear('n1', { kind: 'hello' });
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'held' }, attached('bob', 0)]);
    hear('n1', attachedByPassword('alice', 0));
    expect(inputs).toEqual([expect.objectContaining({ type: 'remote.attached', username: 'alice', passwordLogin: true })]);
    hear('n1', attached('alice', 0));
    expect(inputs).toEqual([expect.not.objectContaining({ passwordLogin: expect.anything() })]);
  });

  it('without epochs (no store gives them: all 0), only the node that holds a user may say it left', () => {
    const { hear, announce } = lonelyRouter();
    expect(announce({ kind: 'attached', username: 'bob', resumeToken: 't-bob' })).toEqual([attached('bob', 0)]);
    expect(hear('n1', attached('alice', 0))).toEqual(['remote.attached']);
    expect(hear('n2', attached('alice', 0))).toEqual(['remote.attached']);
    expect(hear('n1', offline('alice', 0))).toEqual([]);
    expect(hear('n2', offline('alice', 0))).toEqual(['remote.offline']);
  });

  it("a login here takes the store's epoch and every word about it carries that epoch; without one, the epoch last known", () => {
    const epochs: (number | null)[] = [7, null];
    const { hear, announce, held, published } = lonelyRouter(() => epochs.shift() ?? null);
    held.add('alice');
    expect(announce({ kind: 'attached', username: 'alice', resumeToken: 't-alice' })).toEqual([attached('alice', 7)]);
    published.length = 0;
    hear('n1', { kind: 'hello' });
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'held' }, attached('alice', 7)]);
    held.delete('alice');
    expect(announce({ kind: 'offline', username: 'alice' })).toEqual([offline('alice', 7)]);
    expect(announce({ kind: 'attached', username: 'alice', resumeToken: 't-alice' })).toEqual([attached('alice', 7)]);
    expect(announce({ kind: 'attached', username: 'bob', resumeToken: 't-bob' })).toEqual([attached('bob', 0)]);
  });

  it("another node's hello makes this one read the store again, before it answers; no other word does, and nothing is fed when the store cannot be read now", () => {
    const snapshot = new MemoryStore().load();
    const reads: (StoreSnapshot | null)[] = [snapshot, null];
    let readCount = 0;
    const readFor: string[] = [];
    const { hear, held, published, inputs } = lonelyRouter(undefined, (node) => {
      readCount += 1;
      readFor.push(node);
      return reads.shift() ?? null;
    });
    held.add('bob');
    published.length = 0;
    expect(hear('n1', { kind: 'hello' })).toEqual(['remote.snapshot']);
    expect(inputs).toEqual([{ type: 'remote.snapshot', snapshot }]);
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'held' }, attached('bob', 0)]);
    expect(hear('n1', attached('alice', 1), { kind: 'lease' }, { kind: 'ops', ops: [] }, offline('alice', 1))).toEqual(['remote.attached', 'remote.ops', 'remote.offline']);
    expect(readCount).toBe(1);
    // The store does not answer now: the hello is still answered, and the machine keeps what it has.
    published.length = 0;
    expect(hear('n2', { kind: 'hello' })).toEqual([]);
    expect(readCount).toBe(2);
    expect(readFor).toEqual(['n1', 'n2']);
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'held' }, attached('bob', 0)]);
  });

  it("a node's lease is its own TTL, said in its beats: a node run with a longer --ttl (fewer beats) is not buried between them", () => {
    const lost: string[] = [];
    const { router, hear, published } = lonelyRouter(undefined, undefined, (node) => lost.push(node));
    published.length = 0;
    router.tick(0);
    router.flushOut();
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'lease', ttlMs: 5_000 }]);
    hear('n1', { kind: 'lease', ttlMs: 20_000 });
    // A beat that says no TTL, or one that is not a positive number, is judged by ours.
    hear('n2', { kind: 'lease' });
    hear('n3', { kind: 'lease', ttlMs: 0 });
    hear('n4', { kind: 'lease', ttlMs: '20000' as unknown as number });
    expect(router.nextTickMs()).toBe(1_250);
    router.tick(4_999);
    expect(lost).toEqual([]);
    router.tick(5_000);
    expect(lost).toEqual(['n2', 'n3', 'n4']);
    // The next beat, a quarter of our TTL after the one sent at 4,999, comes before n1's lease ends.
    expect(router.nextTickMs()).toBe(6_249);
    router.tick(19_999);
    expect(lost).toEqual(['n2', 'n3', 'n4']);
    router.tick(20_000);
    expect(lost).toEqual(['n2', 'n3', 'n4', 'n1']);
  });

  it("a node's lease running out is told with how many of its users went offline here (the operator's log)", () => {
    const lost: [string, number][] = [];
    const { router, hear } = lonelyRouter(undefined, undefined, (node, users) => lost.push([node, users]));
    hear('n1', attached('alice', 1), attached('bob', 2));
    hear('n2', attached('carol', 3));
    hear('n3', { kind: 'lease' });
    router.tick(4_999);
    expect(lost).toEqual([]);
    router.tick(5_000);
    expect(lost).toEqual([['n1', 2], ['n2', 1], ['n3', 0]]);
  });

  it("the answer to our hello is a node's whole list: its users it does not name go offline here a lease beat later, other nodes' stay", () => {
    const { router, hear, inputs } = lonelyRouter();
    hear('n1', attached('alice', 1), attached('bob', 2));
    hear('n2', attached('carol', 3));
    expect(hear('n1', { kind: 'held' }, attached('alice', 1))).toEqual(['remote.attached']);
    inputs.length = 0;
    router.tick(router.leaseBeatMs * UNNAMED_USER_GRACE_BEATS);
    expect(inputs.map((input) => input.type === 'remote.offline' && input.username)).toEqual(['bob']);
    expect(hear('n1', { kind: 'held' })).toEqual([]);
    inputs.length = 0;
    router.tick(router.leaseBeatMs * UNNAMED_USER_GRACE_BEATS);
    expect(inputs.map((input) => input.type === 'remote.offline' && input.username)).toEqual(['alice']);
    // Without the mark, a run of attached items names some users, not all.
    expect(hear('n2', attached('dave', 4))).toEqual(['remote.attached']);
    expect(hear('n2', { kind: 'lease' })).toEqual([]);
  });

  it('without a store to read (readStore absent), a hello is answered and nothing is read', () => {
    const { hear, held, published } = lonelyRouter();
    held.add('bob');
    published.length = 0;
    expect(hear('n1', { kind: 'hello' })).toEqual([]);
    expect(published.flatMap((message) => message.items)).toEqual([{ kind: 'held' }, attached('bob', 0)]);
  });

  it('remembers the epochs of the last LOGIN_EPOCHS_OFFLINE_MAX users gone offline, and of every user online however many go', () => {
    const { hear } = lonelyRouter();
    hear('n1', attached('keeper', 10));
    hear('n1', offline('keeper', 10));
    hear('n1', attached('keeper', 11));
    for (let i = 0; i <= LOGIN_EPOCHS_OFFLINE_MAX; i++) {
      hear('n1', attached(`u${i}`, 10));
      hear('n1', offline(`u${i}`, 10));
    }
    expect(hear('n2', attached('keeper', 10))).toEqual([]);
    expect(hear('n2', attached('u1', 1))).toEqual([]);
    // The one gone offline longest ago is forgotten: its late word cannot be told from a new one.
    expect(hear('n2', attached('u0', 1))).toEqual(['remote.attached']);
  });
});
