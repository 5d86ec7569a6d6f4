/**
 * Several server processes ("nodes") sharing one store and one bus (docs/CLUSTER.md), as data and
 * pure logic. Each node runs its own ServerMachine; every machine knows every online user of the
 * cluster. A user held on another node is, to the local machine, an online user whose connection
 * is a *proxy*: a connection id the ClusterRouter allocated, whose sends the router carries over
 * the bus to the node that holds the user. So presence fan-out, friend notices and session
 * brokering reach remote users without the machine knowing where anyone is.
 *
 * What nodes tell each other (ClusterItem), in the order their machines produced it:
 *   attached  a user is now held by the sender, with its resume token (a resume works on any node;
 *             the node that held it before ends that connection with LOGGED_IN_ELSEWHERE); a
 *             node that did not know it online tells the friends it holds
 *   offline   a user of the sender logged out or timed out; each node tells the friends it holds
 *
 * Both carry the login's epoch: a number each login or resume takes from the shared store
 * (`nextLoginEpoch`, PostgreSQL's sequence login_epochs), larger than any taken before it. A word
 * about a user with an epoch below the latest this node knows for that user is stale and dropped:
 * one user's logout on A and next login on B crossing on the bus would otherwise let A's late
 * `attached` end the new login on B, and A's `offline` take the user offline there (the nodes then
 * disagreed for good). The store orders them because the user's own steps went through it in
 * that order (A's login took its epoch before the user logged out there and in on B).
 *
 * Presence is never carried as frames to proxies: each node tells its own users when its view of
 * a friend changes, so two logins that cross on the bus still reach both sides.
 *   ops       store ops the sender committed, for the other machines' copies of the directory
 *   deliver   a frame for a user the receiver holds (sent to the user's proxy on the sender)
 *   answer    a session.answer from a user the receiver's request waits on (the request lives on
 *             the caller's node), with the address the callee's node sees it at
 *   hello     the sender joined or came back to the bus: every node reads the store again (what
 *             the sender committed while cut off never reached it) and answers with `held` and an
 *             `attached` for each user it holds (and a node coming back announces its own users
 *             too); either list is whole, so users of its sender not named are gone (a lease
 *             beat later, unless another node names them: UNNAMED_USER_GRACE_BEATS); sent to
 *             one node alone, with the sender's users, to a node heard again after its lease ran
 *             out here (it never left the bus, so it would not say hello by itself)
 *   lease     the sender is alive; a node silent for its lease TTL (the sender's own, said in its beats) is dead, and each other node tells
 *             its own users that the dead node's users went offline
 *
 * The router is pure: the bus is a port (ClusterBus), time comes in as an argument.
 */
import type { ClientFrameOf, ServerFrame } from '../frames.ts';
import type { StoreOp, StoreSnapshot } from '../store.ts';
import type { ConnId, ServerEffect, ServerInput } from './machine.ts';
import { dropOldestPast } from '../bounded.ts';

export type NodeId = string;

export type ClusterItem =
  /** passwordLogin: the user got there by a password login, a new client program (absent: a resume, a new token, a hello's answer). */
  | { readonly kind: 'attached'; readonly username: string; readonly resumeToken: string; readonly epoch: number; readonly passwordLogin?: true }
  | { readonly kind: 'offline'; readonly username: string; readonly epoch: number }
  | { readonly kind: 'ops'; readonly ops: readonly StoreOp[] }
  | { readonly kind: 'deliver'; readonly username: string; readonly frame: ServerFrame }
  | { readonly kind: 'answer'; readonly username: string; readonly remoteAddress: string; readonly frame: ClientFrameOf<'session.answer'> }
  | { readonly kind: 'hello' }
  /** The `attached` items after it in the message name every user the sender holds (its answer to a hello). */
  | { readonly kind: 'held' }
  /** ttlMs: the sender's lease (its user TTL): nodes run with different --ttl still judge each other by the beats each sends. */
  | { readonly kind: 'lease'; readonly ttlMs?: number };

/** One bus message: a run of items from one node, to one node (`to`) or to all (`to` null). */
export interface ClusterMessage {
  readonly from: NodeId;
  readonly to: NodeId | null;
  readonly items: readonly ClusterItem[];
  /** The sender's start number (ClusterRouterOptions.boot): tells two processes run with one node id apart. */
  readonly boot?: number;
}

/**
 * The bus as the host sees it. Messages from one node reach each other node in the order they
 * were published (NATS keeps one publisher's order; the simulated bus too). A node never hears
 * its own messages.
 */
export interface ClusterBus {
  publish(message: ClusterMessage): void;
  /** Called for every message meant for this node (to it, or to all). */
  setHandler(handler: (message: ClusterMessage) => void): void;
  /** False while the bus connection is down. */
  readonly connected: boolean;
}

export interface ClusterRouterOptions {
  readonly nodeId: NodeId;
  readonly bus: ClusterBus;
  /** A node not heard from for this long is dead: its users go offline everywhere else. */
  readonly leaseTtlMs: number;
  /** Feeds the local machine (the host's input). */
  readonly input: (input: ServerInput) => void;
  /** The users the local machine holds (not proxies), with their resume tokens. */
  readonly heldUsers: (visit: (username: string, resumeToken: string) => void) => void;
  readonly nowMs: () => number;
  /**
   * A login epoch no login or resume on any node had before, larger than every one taken before
   * it (the shared store's sequence); null when the store cannot give one now. Without it (or on
   * null) a login announces the epoch this node last knew for the user: it is then unordered
   * against a word crossing it on the bus, as before epochs.
   */
  readonly nextLoginEpoch?: () => number | null;
  /**
   * Reads the shared store, or null when it cannot now. Read when another node (named) says hello: what
   * that node committed while it was off the bus is in the store, but its word on the bus was lost
   * (a disconnected NATS client drops what is published), so without it this node kept, say, a
   * password changed there in the meantime at its old value for good. Absent: nothing is read.
   */
  readonly readStore?: (node: NodeId) => StoreSnapshot | null;
  /**
   * A node's lease ran out here, with how many of its users this node took offline: for the
   * operator's log, which otherwise shows users going offline on a node that logged nothing.
   */
  readonly nodeLost?: (node: NodeId, usersTakenOffline: number) => void;
  /**
   * This start's number, larger than any earlier start's of any node (the shared store's
   * node_boots): said in every message, so that a process that hears its own node id from
   * another one (an operator's mistake: two processes given one --node-id) knows which started
   * later. Absent: messages carry none, and a duplicate id is told with `newer` unknown (null).
   */
  readonly boot?: number;
  /**
   * Another process runs with this node id. Neither hears the other (a node drops its own id's
   * words), so each node's users were invisible to the other's and the two whole lists took
   * each other's users offline elsewhere. `newer`: this process started after the other one
   * (it should stop); false: the other did (this one said a lease beat at once so it hears it).
   */
  readonly duplicateNode?: (newer: boolean | null) => void;
}

/** How many lease beats a node sends per lease TTL: one or two lost beats do not kill a node. */
export const LEASE_BEATS_PER_TTL = 4;
/**
 * Nodes whose lease ran out here and that were not heard from since, remembered so that their
 * next word makes this node greet them (see receive()). A cluster has a handful of nodes; a node
 * restarted under a new random id leaves its old id here for good, so past this many the oldest
 * is forgotten (such a node, heard again, is then taken for a new one, which says hello itself).
 */
export const LOST_NODES_MAX = 1_000;
/**
 * Users gone offline whose last login epoch is remembered, so that a stale word about them still
 * on the bus is known for one (see ClusterItem). A word is stale for about one bus delay; past
 * this many, the user gone offline longest ago is forgotten first (a few MB; at a thousand
 * logouts a second, over a minute and a half of them).
 */
export const LOGIN_EPOCHS_OFFLINE_MAX = 100_000;
/**
 * Lease beats a user stays online here after its node's whole list (a hello, or the answer to
 * ours) stopped naming it, unless another node names it meanwhile. It may have moved to another
 * node while this one was cut off the bus, and that node's answer to the same hello may come
 * second (each node answers at once, after a bus delay and its read of the store): taken offline
 * at once, the user came back online when that answer came, a flap at its friends. One beat is
 * the silence the lease already lets pass without concluding anything.
 */
export const UNNAMED_USER_GRACE_BEATS = 1;
/** Proxy connection ids count down from here: the host's own ids count up from 1 and never meet them. */
const PROXY_CONN_ID_FIRST = -1;

interface RemoteUser {
  readonly connId: ConnId;
  node: NodeId;
}

export class ClusterRouter {
  readonly nodeId: NodeId;
  private readonly options: ClusterRouterOptions;
  /** Users held elsewhere, by name, and their proxy connections, by id. */
  private readonly remoteUsers = new Map<string, RemoteUser>();
  private readonly proxies = new Map<ConnId, string>();
  /** The latest login epoch known for each user online anywhere, and for users gone offline lately. */
  private readonly epochs = new Map<string, number>();
  /** Users gone offline whose epoch is kept, gone longest ago first (LOGIN_EPOCHS_OFFLINE_MAX). */
  private readonly offlineEpochs = new Set<string>();
  private nextProxyConnId = PROXY_CONN_ID_FIRST;
  /** When each other node was last heard from. */
  private readonly lastHeardMs = new Map<NodeId, number>();
  /**
   * Each node's own lease TTL, from its beats. Judged by ours instead, a node run with a longer
   * --ttl (a beat every quarter of it) was buried between two beats and greeted at the next, its
   * users flapping offline and online at every beat.
   */
  private readonly leaseTtlOf = new Map<NodeId, number>();
  /**
   * Users whose node's whole list no longer named them, with when they go offline here unless
   * a word about them comes first (UNNAMED_USER_GRACE_BEATS). Bounded by the remote users: an
   * entry goes with its user's proxy.
   */
  private readonly unnamed = new Map<string, number>();
  /** Nodes buried by their lease and silent since, oldest first (bounded by LOST_NODES_MAX). */
  private readonly lostNodes = new Set<NodeId>();
  /** Later starts under our node id already answered with a beat (duplicateHeard); a few at most. */
  private readonly duplicatesAnswered = new Set<number>();
  /** Messages made by the current flush, published together by flushOut(). */
  private outbox: { to: NodeId | null; items: ClusterItem[] }[] = [];
  private nextLeaseMs = 0;

  constructor(options: ClusterRouterOptions) {
    this.options = options;
    this.nodeId = options.nodeId;
    options.bus.setHandler((message) => this.receive(message, options.nowMs()));
  }

  get remoteUserCount(): number {
    return this.remoteUsers.size;
  }

  /** Nodes heard from within the lease, this one excluded. */
  liveNodes(): NodeId[] {
    return [...this.lastHeardMs.keys()];
  }

  isProxy(connId: ConnId): boolean {
    return connId < 0 && this.proxies.has(connId);
  }

  /**
   * Joins, or comes back after the bus was lost: asks every node for the users it holds, and
   * announces its own (the others may have buried them when this node's lease ran out).
   */
  join(nowMs: number): void {
    this.introduce(null);
    this.queue(null, { kind: 'lease', ttlMs: this.options.leaseTtlMs });
    this.nextLeaseMs = nowMs + this.leaseBeatMs;
    this.flushOut();
  }

  get leaseBeatMs(): number {
    return Math.max(1, Math.floor(this.options.leaseTtlMs / LEASE_BEATS_PER_TTL));
  }

  /** When tick() next has work: a lease beat to send or a lease to check. */
  nextTickMs(): number {
    let next = this.nextLeaseMs;
    for (const [node, heardMs] of this.lastHeardMs) next = Math.min(next, heardMs + this.leaseTtlMsOf(node));
    for (const atMs of this.unnamed.values()) next = Math.min(next, atMs);
    return next;
  }

  private leaseTtlMsOf(node: NodeId): number {
    return this.leaseTtlOf.get(node) ?? this.options.leaseTtlMs;
  }

  /** Sends the lease beat when due, and buries nodes whose lease ran out. */
  tick(nowMs: number): void {
    if (nowMs >= this.nextLeaseMs) {
      this.queue(null, { kind: 'lease', ttlMs: this.options.leaseTtlMs });
      this.nextLeaseMs = nowMs + this.leaseBeatMs;
    }
    for (const [node, heardMs] of [...this.lastHeardMs]) {
      // The very sum nextTickMs() armed the wake-up for: a difference can round below the TTL
      // (fractional clocks) and the wake-up would come back at the same instant forever.
      if (nowMs >= heardMs + this.leaseTtlMsOf(node)) this.nodeLost(node);
    }
    for (const [username, atMs] of [...this.unnamed]) {
      if (nowMs < atMs) continue;
      this.unnamed.delete(username);
      // No node named it meanwhile (a word about it ends the grace: proxyFor, forgetRemote): it
      // left while its word could not reach us.
      const remote = this.remoteUsers.get(username);
      // Stryker disable next-line ConditionalExpression: always there, an entry goes with its user's proxy (forgetRemote)
      if (remote !== undefined) this.remoteOffline(username, remote);
    }
  }

  /** A node's lease ran out (or it said goodbye): its users go offline here, told to our own users. */
  nodeLost(node: NodeId): void {
    this.lastHeardMs.delete(node);
    this.leaseTtlOf.delete(node);
    this.lostNodes.delete(node);
    this.lostNodes.add(node);
    dropOldestPast(this.lostNodes, LOST_NODES_MAX);
    let takenOffline = 0;
    for (const [username, remote] of [...this.remoteUsers]) {
      if (remote.node !== node) continue;
      this.remoteOffline(username, remote);
      takenOffline += 1;
    }
    this.options.nodeLost?.(node, takenOffline);
  }

  // ---- what the machine produced ------------------------------------------------------------------

  /** A send to a proxy: carried to the user's node. */
  deliver(connId: ConnId, frame: ServerFrame): void {
    const username = this.proxies.get(connId);
    const remote = username === undefined ? undefined : this.remoteUsers.get(username);
    if (username === undefined || remote === undefined) return;
    this.queue(remote.node, { kind: 'deliver', username, frame });
  }

  /** Store ops the local host committed: the other machines' directories follow. */
  committed(ops: readonly StoreOp[]): void {
    this.queue(null, { kind: 'ops', ops });
  }

  /** The cluster effects of the machine. */
  perform(effect: Extract<ServerEffect, { type: 'announce' | 'forward' }>): void {
    if (effect.type === 'announce') {
      const { username } = effect.item;
      // A user held here now, or gone from here: no proxy for it any more.
      this.forgetRemote(username);
      if (effect.item.kind === 'offline') {
        this.queue(null, { kind: 'offline', username, epoch: this.wentOffline(username) });
        return;
      }
      const epoch = this.options.nextLoginEpoch?.() ?? this.epochs.get(username) ?? 0;
      this.cameOnline(username, epoch);
      this.queue(null, { kind: 'attached', username, resumeToken: effect.item.resumeToken, epoch, ...(effect.item.passwordLogin === true ? { passwordLogin: true } : {}) });
      return;
    }
    const username = this.proxies.get(effect.connId);
    const remote = username === undefined ? undefined : this.remoteUsers.get(username);
    if (remote === undefined) return;
    this.queue(remote.node, { kind: 'answer', username: effect.username, remoteAddress: effect.remoteAddress, frame: effect.frame });
  }

  /** Publishes what this turn produced, one message per run of items to the same destination. */
  flushOut(): void {
    if (this.outbox.length === 0) return;
    const outbox = this.outbox;
    this.outbox = [];
    const boot = this.options.boot;
    for (const { to, items } of outbox) this.options.bus.publish({ from: this.nodeId, to, items, ...(boot === undefined ? {} : { boot }) });
  }

  // ---- what other nodes said ----------------------------------------------------------------------

  private receive(message: ClusterMessage, nowMs: number): void {
    // The bus never brings a node its own words (noEcho): this is another process with our id.
    if (message.from === this.nodeId) return this.duplicateHeard(message.boot);
    if (message.to !== null && message.to !== this.nodeId) return;
    const wasLost = this.lostNodes.delete(message.from);
    this.lastHeardMs.set(message.from, nowMs);
    // A hello comes with every user the sender holds (join()), and so does the answer to ours
    // (`held`): users it held before and does not name now left while their word could not reach
    // us (the node restarted within its lease, or its `offline` was lost while it or we were cut
    // off the bus).
    let named: Set<string> | null = null;
    for (const item of message.items) {
      if (item.kind === 'hello' || item.kind === 'held') named = new Set();
      else if (item.kind === 'attached') named?.add(item.username);
      this.receiveItem(message.from, item);
    }
    if (named !== null) this.forgetUnnamed(message.from, named, nowMs);
    // Heard again after its lease ran out here, without a hello: the node never lost the bus (this
    // node, or that one, stalled past the TTL: a long GC, a paused process, a loaded machine) and
    // will not join again by itself, so the users buried with it would stay offline here for good.
    // Greeting it makes it name them again (its answer to our hello).
    else if (wasLost) {
      this.introduce(message.from);
      this.flushOut();
    }
  }

  /**
   * Another process speaks with our node id. The one that started later is told to stop; the
   * earlier one says a lease beat at once (once per other start), so the later one hears it even
   * if it only said hello and waits.
   */
  private duplicateHeard(theirBoot: number | undefined): void {
    const ours = this.options.boot;
    if (ours === undefined || theirBoot === undefined || theirBoot === ours) return this.options.duplicateNode?.(null);
    // Stryker disable next-line EqualityOperator: equal start numbers were told above (null)
    const newer = theirBoot < ours;
    this.options.duplicateNode?.(newer);
    if (newer || this.duplicatesAnswered.has(theirBoot)) return;
    this.duplicatesAnswered.add(theirBoot);
    this.queue(null, { kind: 'lease', ttlMs: this.options.leaseTtlMs });
    this.flushOut();
  }

  /** A hello with every user held here: to all when joining, to one node that needs to hear it. */
  private introduce(to: NodeId | null): void {
    this.queue(to, { kind: 'hello' });
    this.nameHeldUsers(to);
  }

  /** An `attached` for each user held here, with the epoch of its login. */
  private nameHeldUsers(to: NodeId | null): void {
    this.options.heldUsers((username, resumeToken) => this.queue(to, { kind: 'attached', username, resumeToken, epoch: this.epochs.get(username) ?? 0 }));
  }

  /**
   * The users a node that said hello (or answered ours) held before and did not name again go
   * offline here, a grace later (UNNAMED_USER_GRACE_BEATS) unless another node names them.
   */
  private forgetUnnamed(node: NodeId, named: ReadonlySet<string>, nowMs: number): void {
    // Stryker disable next-line ArithmeticOperator: equivalent while the grace is one beat (x * 1 = x / 1)
    const atMs = nowMs + this.leaseBeatMs * UNNAMED_USER_GRACE_BEATS;
    for (const [username, remote] of this.remoteUsers) {
      if (remote.node !== node || named.has(username) || this.unnamed.has(username)) continue;
      this.unnamed.set(username, atMs);
    }
  }

  /** A user held elsewhere is gone (its node said so, died, or no longer names it): offline here. */
  private remoteOffline(username: string, remote: RemoteUser): void {
    this.forgetRemote(username);
    this.wentOffline(username);
    this.options.input({ type: 'remote.offline', username, connId: remote.connId });
  }

  /** A word about a login older than the latest this node knows of the user's. */
  private stale(username: string, epoch: number): boolean {
    return epoch < (this.epochs.get(username) ?? 0);
  }

  private cameOnline(username: string, epoch: number): void {
    this.offlineEpochs.delete(username);
    this.epochs.set(username, epoch);
  }

  /** The user's epoch is kept a while (bounded), for stale words still on the bus; returns it. */
  private wentOffline(username: string): number {
    this.offlineEpochs.delete(username);
    this.offlineEpochs.add(username);
    const forgotten = dropOldestPast(this.offlineEpochs, LOGIN_EPOCHS_OFFLINE_MAX);
    if (forgotten !== undefined) this.epochs.delete(forgotten);
    return this.epochs.get(username) ?? 0;
  }

  private receiveItem(from: NodeId, item: ClusterItem): void {
    const input = this.options.input;
    switch (item.kind) {
      case 'attached': {
        if (this.stale(item.username, item.epoch)) return;
        this.cameOnline(item.username, item.epoch);
        const connId = this.proxyFor(item.username, from);
        return input({ type: 'remote.attached', username: item.username, connId, resumeToken: item.resumeToken, ...(item.passwordLogin === true ? { passwordLogin: true } : {}) });
      }
      case 'offline': {
        const remote = this.remoteUsers.get(item.username);
        // Only the node that holds a user may say it left (a late word from an old holder is stale).
        if (remote === undefined || remote.node !== from || this.stale(item.username, item.epoch)) return;
        return this.remoteOffline(item.username, remote);
      }
      case 'ops':
        return input({ type: 'remote.ops', ops: item.ops });
      case 'deliver':
        return input({ type: 'remote.deliver', username: item.username, frame: item.frame });
      case 'answer': {
        const remote = this.remoteUsers.get(item.username);
        if (remote === undefined) return;
        return input({ type: 'remote.answer', username: item.username, connId: remote.connId, remoteAddress: item.remoteAddress, frame: item.frame });
      }
      case 'hello': {
        const snapshot = this.options.readStore?.(from) ?? null;
        if (snapshot !== null) input({ type: 'remote.snapshot', snapshot });
        // Marked as the whole list: a user it held before and does not name now left while the
        // sender could not hear its word (it was cut off the bus within the lease).
        this.queue(from, { kind: 'held' });
        this.nameHeldUsers(from);
        this.flushOut();
        return;
      }
      case 'lease':
        if (typeof item.ttlMs === 'number' && item.ttlMs > 0) this.leaseTtlOf.set(from, item.ttlMs);
        return;
      // `held` says nothing by itself (receive() reads it as the mark of a whole list).
    }
  }

  private proxyFor(username: string, node: NodeId): ConnId {
    // Named (again, or by its new node): not gone.
    this.unnamed.delete(username);
    const remote = this.remoteUsers.get(username);
    if (remote !== undefined) {
      remote.node = node;
      return remote.connId;
    }
    const connId = this.nextProxyConnId--;
    this.remoteUsers.set(username, { connId, node });
    this.proxies.set(connId, username);
    return connId;
  }

  private forgetRemote(username: string): void {
    this.unnamed.delete(username);
    const remote = this.remoteUsers.get(username);
    if (remote === undefined) return;
    this.remoteUsers.delete(username);
    this.proxies.delete(remote.connId);
  }

  private queue(to: NodeId | null, item: ClusterItem): void {
    const last = this.outbox[this.outbox.length - 1];
    if (last !== undefined && last.to === to) last.items.push(item);
    else this.outbox.push({ to, items: [item] });
  }
}

/**
 * The bus in memory, for the simulator and the tests: one hub, one ClusterBus per node. Delivery
 * is never synchronous (a publish inside a flush must not re-enter the publisher's host): each
 * message is handed to `schedule`, which runs it later (a test's queue, the simulator's event
 * queue with its latency). A node cut off (`partition`) neither sends nor hears, and says it is
 * disconnected, as a node whose NATS connection dropped.
 */
export class MemoryBusHub {
  private readonly handlers = new Map<NodeId, (message: ClusterMessage) => void>();
  private readonly cut = new Set<NodeId>();
  /** Nodes that crashed: what their leftover timers publish goes nowhere. */
  private readonly gone = new Set<NodeId>();
  private readonly statusListeners = new Map<NodeId, (connected: boolean) => void>();

  constructor(private readonly schedule: (deliver: () => void) => void) {}

  bus(nodeId: NodeId): ClusterBus & { onStatus(listener: (connected: boolean) => void): void } {
    const hub = this;
    return {
      get connected() {
        return !hub.cut.has(nodeId);
      },
      publish: (message) => this.publish(nodeId, message),
      setHandler: (handler) => this.handlers.set(nodeId, handler),
      onStatus: (listener) => this.statusListeners.set(nodeId, listener),
    };
  }

  /** Cuts a node off the bus (true) or brings it back (false); its status listener hears of it. */
  partition(nodeId: NodeId, cut: boolean): void {
    if (cut === this.cut.has(nodeId)) return;
    if (cut) this.cut.add(nodeId);
    else this.cut.delete(nodeId);
    const listener = this.statusListeners.get(nodeId);
    if (listener !== undefined) this.schedule(() => listener(!cut));
  }

  /** A node that crashed: it hears nothing any more. */
  remove(nodeId: NodeId): void {
    this.gone.add(nodeId);
    this.handlers.delete(nodeId);
    this.statusListeners.delete(nodeId);
    this.cut.delete(nodeId);
  }

  private publish(from: NodeId, message: ClusterMessage): void {
    if (this.cut.has(from) || this.gone.has(from)) return;
    for (const [nodeId, handler] of this.handlers) {
      if (nodeId === from || this.cut.has(nodeId)) continue;
      if (message.to !== null && message.to !== nodeId) continue;
      // Checked again on delivery: a node cut off or gone meanwhile hears nothing.
      this.schedule(() => {
        if (!this.cut.has(nodeId) && this.handlers.get(nodeId) === handler) handler(message);
      });
    }
  }
}
