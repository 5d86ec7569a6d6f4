/**
 * ClusterRouter on a bus of its own making (what it publishes is recorded, what it hears the test
 * says), and MemoryBusHub on its own: the lease beat and burial at their exact instants, proxies
 * kept and dropped, words that are not for this node, and the in-memory bus's delivery rules
 * (docs/CLUSTER.md). The world of several hosts is in cluster-router.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { ServerFrame } from '../../../core/frames.ts';
import { type ClusterItem, type ClusterMessage, ClusterRouter, LEASE_BEATS_PER_TTL, MemoryBusHub, UNNAMED_USER_GRACE_BEATS } from '../../../core/server/cluster.ts';
import type { ServerInput } from '../../../core/server/machine.ts';

const LEASE_TTL_MS = 8_000;
const BEAT_MS = LEASE_TTL_MS / LEASE_BEATS_PER_TTL;

/** Router n0 alone: its published messages, the inputs it feeds its machine, and `hear` to speak to it. */
function routerAlone(held: readonly string[] = []) {
  const published: ClusterMessage[] = [];
  const inputs: ServerInput[] = [];
  const clock = { nowMs: 0 };
  let handler: ((message: ClusterMessage) => void) | null = null;
  const router = new ClusterRouter({
    nodeId: 'n0',
    bus: { connected: true, publish: (message) => published.push(message), setHandler: (h) => (handler = h) },
    leaseTtlMs: LEASE_TTL_MS,
    input: (input) => inputs.push(input),
    heldUsers: (visit) => {
      for (const username of held) visit(username, `t-${username}`);
    },
    nowMs: () => clock.nowMs,
  });
  const hear = (from: string, items: ClusterItem[], to: string | null = null): void => handler?.({ from, to, items });
  /** The items published since the last call, and forgets them. */
  const takePublished = (): { to: string | null; items: readonly ClusterItem[] }[] => published.splice(0).map(({ to, items }) => ({ to, items }));
  const takeInputs = (): ServerInput[] => inputs.splice(0);
  /** The proxy connection id the machine was given for a remote user (its last remote.attached). */
  const proxyOf = (username: string): number => {
    const attached = inputs.filter((input) => input.type === 'remote.attached' && input.username === username).at(-1);
    if (attached?.type !== 'remote.attached') throw new Error(`no remote.attached for ${username}`);
    return attached.connId;
  };
  return { router, clock, hear, takePublished, takeInputs, proxyOf };
}

const attached = (username: string, epoch = 1): ClusterItem => ({ kind: 'attached', username, resumeToken: `t-${username}`, epoch });
const frame: ServerFrame = { type: 'heartbeat.ack' };

describe('the lease beat', () => {
  it(`a node says hello, names its users and beats its lease on joining, then beats again every TTL / ${LEASE_BEATS_PER_TTL} and not before`, () => {
    const { router, takePublished } = routerAlone(['alice']);
    router.join(0);
    expect(takePublished()).toEqual([{ to: null, items: [{ kind: 'hello' }, attached('alice', 0), { kind: 'lease', ttlMs: LEASE_TTL_MS }] }]);
    expect(router.nextTickMs()).toBe(BEAT_MS);
    router.tick(BEAT_MS - 1);
    router.flushOut();
    expect(takePublished()).toEqual([]);
    router.tick(BEAT_MS);
    router.flushOut();
    expect(takePublished()).toEqual([{ to: null, items: [{ kind: 'lease', ttlMs: LEASE_TTL_MS }] }]);
    // The next beat is one beat later, not at once.
    expect(router.nextTickMs()).toBe(2 * BEAT_MS);
    router.tick(BEAT_MS + 1);
    router.flushOut();
    expect(takePublished()).toEqual([]);
  });

  it('over one lease TTL a node beats LEASE_BEATS_PER_TTL times, each tick at the instant nextTickMs() names', () => {
    const { router, takePublished } = routerAlone();
    router.join(0);
    takePublished();
    let beats = 0;
    // Bounded: a router whose next tick does not move on would spin here.
    for (let nowMs = router.nextTickMs(), wakeups = 0; nowMs <= LEASE_TTL_MS && wakeups < 10 * LEASE_BEATS_PER_TTL; nowMs = router.nextTickMs(), wakeups++) {
      router.tick(nowMs);
      router.flushOut();
      beats += takePublished().length;
    }
    expect(beats).toBe(LEASE_BEATS_PER_TTL);
  });
});

describe('burial by lease', () => {
  it("a node not heard from for one TTL is buried at that very instant: its users, and only its users, go offline here", () => {
    const { router, clock, hear, takeInputs, proxyOf } = routerAlone();
    router.join(0);
    clock.nowMs = 100;
    hear('n1', [attached('alice')]);
    hear('n2', [attached('bob')]);
    const aliceConn = proxyOf('alice');
    takeInputs();
    // n2 keeps beating and so does this node; n1 falls silent after 100.
    for (const nowMs of [4_000, 6_500]) {
      router.tick(nowMs);
      clock.nowMs = nowMs;
      hear('n2', [{ kind: 'lease' }]);
    }
    // A lease check is due when n1's lease runs out, even with the beat of this node later.
    expect(router.nextTickMs()).toBe(100 + LEASE_TTL_MS);
    router.tick(100 + LEASE_TTL_MS - 1);
    expect(takeInputs()).toEqual([]);
    expect(router.liveNodes().sort()).toEqual(['n1', 'n2']);
    router.tick(100 + LEASE_TTL_MS);
    expect(takeInputs()).toEqual([{ type: 'remote.offline', username: 'alice', connId: aliceConn }]);
    expect(router.liveNodes()).toEqual(['n2']);
    expect(router.remoteUserCount).toBe(1);
  });
});

describe('proxies', () => {
  it('a user held elsewhere gets a proxy connection: a negative id the router knows, and no other id is one', () => {
    const { router, hear, proxyOf } = routerAlone();
    hear('n1', [attached('alice')]);
    const conn = proxyOf('alice');
    expect(conn).toBeLessThan(0);
    expect(router.isProxy(conn)).toBe(true);
    expect(router.isProxy(conn - 1)).toBe(false);
    expect(router.isProxy(1)).toBe(false);
    expect(router.remoteUserCount).toBe(1);
  });

  it('a user who moves from one node to another keeps its proxy connection, and sends to it go to the new node', () => {
    const { router, hear, proxyOf, takePublished } = routerAlone();
    hear('n1', [attached('alice', 1)]);
    const first = proxyOf('alice');
    hear('n2', [attached('alice', 2)]);
    expect(proxyOf('alice')).toBe(first);
    expect(router.remoteUserCount).toBe(1);
    router.deliver(first, frame);
    router.flushOut();
    expect(takePublished()).toEqual([{ to: 'n2', items: [{ kind: 'deliver', username: 'alice', frame }] }]);
  });

  it('a user held elsewhere who logs in here is no longer a proxy: sends to the old proxy go nowhere', () => {
    const { router, hear, proxyOf, takePublished } = routerAlone();
    hear('n1', [attached('alice', 1)]);
    const conn = proxyOf('alice');
    router.perform({ type: 'announce', item: { kind: 'attached', username: 'alice', resumeToken: 't-alice-2' } });
    router.flushOut();
    takePublished();
    expect(router.isProxy(conn)).toBe(false);
    expect(router.remoteUserCount).toBe(0);
    router.deliver(conn, frame);
    router.flushOut();
    expect(takePublished()).toEqual([]);
  });

  it('a send or a forwarded answer to a connection that is no proxy (any more) is dropped without a word on the bus', () => {
    const { router, hear, proxyOf, takePublished } = routerAlone();
    hear('n1', [attached('alice')]);
    const conn = proxyOf('alice');
    hear('n1', [{ kind: 'offline', username: 'alice', epoch: 1 }]);
    const answer = { type: 'session.answer', requestId: 'r1', accept: true } as unknown as Extract<ServerInput, { type: 'remote.answer' }>['frame'];
    expect(() => {
      router.deliver(conn, frame);
      router.deliver(-99, frame);
      router.perform({ type: 'forward', connId: conn, username: 'bob', remoteAddress: '192.0.2.1', frame: answer });
      router.flushOut();
    }).not.toThrow();
    expect(takePublished()).toEqual([]);
  });

  it('an answer naming a user held nowhere else is dropped: the machine is not fed it', () => {
    const { hear, takeInputs } = routerAlone();
    const answer = { type: 'session.answer', requestId: 'r1', accept: true } as unknown as Extract<ServerInput, { type: 'remote.answer' }>['frame'];
    expect(() => hear('n1', [{ kind: 'answer', username: 'nobody', remoteAddress: '192.0.2.1', frame: answer }])).not.toThrow();
    expect(takeInputs()).toEqual([]);
  });
});

describe('words a node must not act on', () => {
  it('a message from this node itself (a bus that echoes) changes nothing: no proxy, no node heard', () => {
    const { router, hear, takeInputs } = routerAlone();
    hear('n0', [attached('alice')]);
    expect(takeInputs()).toEqual([]);
    expect(router.liveNodes()).toEqual([]);
    expect(router.remoteUserCount).toBe(0);
  });

  it('a message addressed to another node changes nothing here', () => {
    const { router, hear, takeInputs } = routerAlone();
    hear('n1', [attached('alice')], 'n2');
    expect(takeInputs()).toEqual([]);
    expect(router.liveNodes()).toEqual([]);
  });

  it("a hello takes offline only the sender's users it no longer names, a lease beat later, not those of other nodes", () => {
    const { router, hear, takeInputs, clock } = routerAlone();
    hear('n1', [attached('alice')]);
    hear('n2', [attached('bob')]);
    takeInputs();
    router.tick(600);
    clock.nowMs = 500;
    hear('n1', [{ kind: 'hello' }]);
    // Not at once: alice may have moved to a node whose word is still on its way (UNNAMED_USER_GRACE_BEATS).
    expect(takeInputs()).toEqual([]);
    expect(router.nextTickMs()).toBe(500 + BEAT_MS * UNNAMED_USER_GRACE_BEATS);
    router.tick(500 + BEAT_MS * UNNAMED_USER_GRACE_BEATS - 1);
    expect(takeInputs()).toEqual([]);
    router.tick(500 + BEAT_MS * UNNAMED_USER_GRACE_BEATS);
    expect(takeInputs().map((input) => input.type === 'remote.offline' && input.username)).toEqual(['alice']);
    expect(router.remoteUserCount).toBe(1);
  });

  it('a user its node no longer names stays online if another node names it within the grace, or it comes back, or is said offline', () => {
    const { router, hear, takeInputs } = routerAlone();
    hear('n1', [attached('alice'), attached('bob'), attached('carol'), attached('dave')]);
    hear('n1', [{ kind: 'held' }, attached('dave')]);
    takeInputs();
    // alice moved to n2; bob is named again by n1 (he logged in there again); carol's logout is heard.
    hear('n2', [attached('alice', 2)]);
    hear('n1', [attached('bob', 2)]);
    hear('n1', [{ kind: 'offline', username: 'carol', epoch: 1 }]);
    expect(takeInputs().map((input) => [input.type, 'username' in input && input.username])).toEqual([
      ['remote.attached', 'alice'],
      ['remote.attached', 'bob'],
      ['remote.offline', 'carol'],
    ]);
    router.tick(BEAT_MS * UNNAMED_USER_GRACE_BEATS);
    expect(takeInputs()).toEqual([]);
    expect(router.remoteUserCount).toBe(3);
    // alice's new node answers a later hello without her: the grace starts from there, for n2.
    hear('n2', [{ kind: 'held' }]);
    router.tick(BEAT_MS * UNNAMED_USER_GRACE_BEATS * 2);
    expect(takeInputs().map((input) => input.type === 'remote.offline' && input.username)).toEqual(['alice']);
  });

  it('a hello names users by `attached` alone: a user of the sender only mentioned otherwise in it (an answer it forwards) goes offline', () => {
    const { router, hear, takeInputs } = routerAlone();
    hear('n1', [attached('alice')]);
    takeInputs();
    const answer = { type: 'session.answer', requestId: 'r1', accept: true } as unknown as Extract<ServerInput, { type: 'remote.answer' }>['frame'];
    hear('n1', [{ kind: 'hello' }, { kind: 'answer', username: 'alice', remoteAddress: '192.0.2.1', frame: answer }]);
    router.tick(BEAT_MS * UNNAMED_USER_GRACE_BEATS);
    expect(takeInputs().map((input) => input.type)).toEqual(['remote.answer', 'remote.offline']);
  });
});

describe('MemoryBusHub', () => {
  /** A hub whose deliveries wait in a list until run(). */
  function hubOf(...nodes: string[]) {
    const pending: (() => void)[] = [];
    const hub = new MemoryBusHub((deliver) => pending.push(deliver));
    const heard = new Map<string, ClusterMessage[]>();
    const status = new Map<string, boolean[]>();
    const buses = new Map(
      nodes.map((node) => {
        const bus = hub.bus(node);
        heard.set(node, []);
        bus.setHandler((message) => heard.get(node)?.push(message));
        return [node, bus] as const;
      }),
    );
    const listen = (node: string): void => {
      status.set(node, []);
      buses.get(node)?.onStatus((connected) => status.get(node)?.push(connected));
    };
    const run = (): void => {
      for (let deliver = pending.shift(); deliver !== undefined; deliver = pending.shift()) deliver();
    };
    const heardBy = (node: string): string[] => (heard.get(node) ?? []).splice(0).map((message) => message.from);
    return { hub, buses, run, heardBy, listen, status, pending };
  }
  const hello = (from: string, to: string | null = null): ClusterMessage => ({ from, to, items: [{ kind: 'hello' }] });

  it('a message reaches every other node and never its publisher; one addressed to a node reaches that node alone', () => {
    const { buses, run, heardBy } = hubOf('a', 'b', 'c');
    buses.get('a')?.publish(hello('a'));
    buses.get('a')?.publish(hello('a', 'c'));
    run();
    expect(heardBy('a')).toEqual([]);
    expect(heardBy('b')).toEqual(['a']);
    expect(heardBy('c')).toEqual(['a', 'a']);
  });

  it('a node cut off, or crashed, between a publish and its delivery hears nothing of it', () => {
    const { hub, buses, run, heardBy } = hubOf('a', 'b', 'c');
    buses.get('a')?.publish(hello('a'));
    hub.partition('b', true);
    hub.remove('c');
    run();
    expect(heardBy('b')).toEqual([]);
    expect(heardBy('c')).toEqual([]);
  });

  it('a node says it is disconnected while cut off, connected again once back; its listener hears each change once', () => {
    const { hub, buses, run, listen, status } = hubOf('a', 'b');
    listen('a');
    expect(buses.get('a')?.connected).toBe(true);
    hub.partition('a', true);
    hub.partition('a', true);
    expect(buses.get('a')?.connected).toBe(false);
    hub.partition('a', false);
    hub.partition('a', false);
    expect(buses.get('a')?.connected).toBe(true);
    run();
    expect(status.get('a')).toEqual([false, true]);
  });

  it('cutting a node with no status listener schedules nothing', () => {
    const { hub, pending } = hubOf('a', 'b');
    hub.partition('b', true);
    hub.partition('b', false);
    expect(pending).toHaveLength(0);
  });
});

describe('two processes with one node id', () => {
  function routerBooted(boot: number | undefined, tellsDuplicates = true) {
    const published: ClusterMessage[] = [];
    const told: (boolean | null)[] = [];
    const inputs: ServerInput[] = [];
    let handler: ((message: ClusterMessage) => void) | null = null;
    new ClusterRouter({
      nodeId: 'n0',
      bus: { connected: true, publish: (message) => published.push(message), setHandler: (h) => (handler = h) },
      leaseTtlMs: LEASE_TTL_MS,
      input: (input) => inputs.push(input),
      heldUsers: () => {},
      nowMs: () => 0,
      ...(boot === undefined ? {} : { boot }),
      ...(tellsDuplicates ? { duplicateNode: (newer: boolean | null) => told.push(newer) } : {}),
    });
    const hear = (message: Omit<ClusterMessage, 'to'>): void => handler?.({ to: null, ...message });
    return { published, told, inputs, hear };
  }

  it('the later process is told it is the newer; the earlier one is told so and says a lease beat at once, once per later start', () => {
    const later = routerBooted(7);
    later.hear({ from: 'n0', boot: 5, items: [{ kind: 'lease', ttlMs: 1 }] });
    expect(later.told).toEqual([true]);
    expect(later.published).toEqual([]);
    expect(later.inputs).toEqual([]);

    const earlier = routerBooted(5);
    earlier.hear({ from: 'n0', boot: 7, items: [{ kind: 'hello' }, attached('zed')] });
    earlier.hear({ from: 'n0', boot: 7, items: [{ kind: 'hello' }] });
    expect(earlier.told).toEqual([false, false]);
    expect(earlier.published).toEqual([{ from: 'n0', to: null, boot: 5, items: [{ kind: 'lease', ttlMs: LEASE_TTL_MS }] }]);
    // Nothing of what the other process said is taken in.
    expect(earlier.inputs).toEqual([]);
  });

  it('a router not asked to tell of a duplicate (no duplicateNode) still says its beat to the later process', () => {
    const earlier = routerBooted(5, false);
    earlier.hear({ from: 'n0', boot: 7, items: [{ kind: 'hello' }] });
    earlier.hear({ from: 'n0', items: [{ kind: 'lease' }] });
    const later = routerBooted(7, false);
    later.hear({ from: 'n0', boot: 5, items: [{ kind: 'lease' }] });
    expect(earlier.published.map((message) => message.items)).toEqual([[{ kind: 'lease', ttlMs: LEASE_TTL_MS }]]);
    expect(later.published).toEqual([]);
  });

  it('without start numbers (either side), a duplicate is told as such, newer unknown, and nothing is said', () => {
    for (const [ours, theirs] of [[undefined, 5], [5, undefined], [5, 5]] as const) {
      const router = routerBooted(ours);
      router.hear({ from: 'n0', ...(theirs === undefined ? {} : { boot: theirs }), items: [{ kind: 'lease' }] });
      expect(router.told).toEqual([null]);
      expect(router.published).toEqual([]);
    }
  });

  it("every message says the sender's start number when it has one", () => {
    const router = routerBooted(9);
    router.hear({ from: 'n1', items: [{ kind: 'hello' }] });
    expect(router.published.map((message) => message.boot)).toEqual([9]);
    const unbooted = routerBooted(undefined);
    unbooted.hear({ from: 'n1', items: [{ kind: 'hello' }] });
    expect(unbooted.published.map((message) => 'boot' in message)).toEqual([false]);
  });
});
