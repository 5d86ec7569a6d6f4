/**
 * The in-memory network: byte streams between simulated nodes, delivered from the event queue in
 * virtual time. It implements the same Transport interface as TCP (core/transport.ts), so the real
 * ServerHost runs over it unchanged.
 *
 * Stream semantics, as TCP gives them: connect (refused when nothing listens; across a cut the SYN
 * is sent again as Linux does, and the connect times out only when the kernel would, after
 * CONNECT_TIMEOUT_MS: what gives a connect up sooner is the connecting program's own timers, as
 * the client's of sim/drivers/connect-deadline.ts), ordered delivery (each direction keeps a "not
 * before" time, so jitter never reorders),
 * graceful close (FIN after the queued bytes), reset (queued bytes dropped, the other side sees an
 * error). Faults: per-link latency distribution and bandwidth, partitions (groups that cannot
 * reach each other), clogging (one node's traffic held), resets, node crashes. Bytes across a cut
 * or a clog are held, as TCP retransmission would, and flow again when it heals.
 */
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import type { Prng } from './prng.ts';
import type { SimClock } from './sim-clock.ts';

/** Samples a one-way latency in ms. */
export type LatencySampler = (prng: Prng) => number;

export interface LinkProfile {
  readonly latency: LatencySampler;
  readonly bandwidthBytesPerSec: number;
}

/** TCP's first SYN retransmission timeout (RFC 6298: 1 s); each retransmission doubles it. */
const SYN_RETRANSMIT_FIRST_MS = 1_000;
/**
 * When the kernel gives a connect up that no SYN-ACK answered: Linux's default of 6 SYN
 * retransmissions (net.ipv4.tcp_syn_retries), sent 1, 3, 7, 15, 31 and 63 s after the connect,
 * and the wait of 64 s after the last. The shipped client gives up well before (its TLS handshake
 * or plain connect timer, 10 s; its P2P hello timer, 10 s), so across a cut it is its timers that end
 * a connect and say why, as in the real world. Until 2026-12-07 this was 3 s, which ended every
 * cut connect with ETIMEDOUT (`unreachable` to the user) 7 s before the shipped client would have.
 */
export const CONNECT_TIMEOUT_MS = 127_000;
const EPHEMERAL_PORT_FIRST = 40_000;
const EPHEMERAL_PORT_SPAN = 20_000;

const MSG_DATA = 0;
const MSG_FIN = 1;
const MSG_RST = 2;
const MSG_OPEN = 3;

export interface NetworkTrace {
  /** Called for every message handed to a live receiver. */
  onDeliver(kind: number, connId: number, toServerSide: boolean, bytes: Uint8Array | null): void;
}

/**
 * Sees every data message just before its receiver does, and hears when the receiver is done with
 * it: the frame tap (frame-tap.ts) decodes the server link's frames from here, so checkers and
 * drivers learn what was on the wire without reaching into the machines.
 */
export interface DeliveryTap {
  /** `clientAddress` opened the connection to `serverAddress:serverPort`; toServerSide says which way the bytes go. */
  before(connId: number, toServerSide: boolean, clientAddress: string, serverAddress: string, serverPort: number, bytes: Uint8Array): void;
  /** The receiver has handled the message `before` announced. */
  after(): void;
  /** Both ends of a connection are closed: nothing more will come on it. */
  closed(connId: number): void;
}

/**
 * What a link's handshake adds beyond TCP's (sim/world/sim-keys.ts models TLS 1.3 with identity
 * certificates): time between the SYN's arrival and the accept, during which neither side sees
 * the link, and the key each side proved in it (Stream.peerKey). Null: bare TCP, no key proved.
 */
export interface LinkHandshakes {
  /** Extra ms before the listener accepts a connection from `clientAddress` (0: none); `resumed`: a resumed TLS session's. */
  delayMs(clientAddress: string, serverAddress: string, serverPort: number, resumed: boolean): number;
  /**
   * Whether the link's handshake runs with the listener itself, which alone can resume its own
   * tickets and whose tickets reach the caller (false: an attacker sits in the middle).
   */
  reachesListener(clientAddress: string, serverAddress: string): boolean;
  /** As the handshake ends: the key the connecting side proved (`client`) and the listening side's (`server`). */
  keys(connId: number, clientAddress: string, serverAddress: string, serverPort: number): { readonly client: string | null; readonly server: string | null };
}

/**
 * A connecting end's TLS session resumption (a P2P link's; sim/drivers/peer-tickets.ts keeps the
 * tickets as the shipped client does). A ticket is the number of the listener that issued it:
 * a listener resumes only its own (its ticket keys die with its process), and only when no attacker
 * sits in the link (LinkHandshakes.reachesListener). Set `ticketOffered` right after the connect;
 * `resumed` and `ticketIssued` (a full handshake's ticket; null: none came) are read at onOpen.
 */
export interface ResumableEnd {
  ticketOffered: number | null;
  readonly resumed: boolean;
  readonly ticketIssued: number | null;
}

export function resumableEnd(stream: Stream): stream is Stream & ResumableEnd {
  return stream instanceof SimEnd && !stream.isServerSide;
}

export interface NetworkStats {
  connects: number;
  refused: number;
  timedOut: number;
  resets: number;
  messagesDelivered: number;
  bytesDelivered: number;
  messagesHeld: number;
}

class SimNode {
  alive = true;
  /** A paused process hears nothing until then: what reaches it waits, in order. */
  pausedUntilMs = 0;
  clogged = false;
  group = 0;
  nextPort = 0;
  readonly listeners = new Map<number, (stream: Stream) => void>();
  /** Each listening port's listener, numbered network-wide: the TLS tickets it issues resume with it only (ResumableEnd). */
  readonly listenerIds = new Map<number, number>();
  readonly ends = new Set<SimEnd>();
  constructor(readonly address: string) {}
}

interface HeldMessage {
  readonly kind: number;
  readonly bytes: Uint8Array | null;
}

class SimConn {
  client!: SimEnd;
  server!: SimEnd;
  constructor(readonly id: number) {}
}

class SimEnd implements Stream {
  events: StreamEvents | null = null;
  peer!: SimEnd;
  /** This side can no longer send or receive. */
  closed = false;
  /** The client side before the SYN-ACK: writes wait in `held`. */
  opening: boolean;
  /** Messages this side sent that could not go out yet (cut, clog, or still opening). */
  held: HeldMessage[] | null = null;
  /** Arrival time of the last message this side sent: the next one may not arrive earlier. */
  lastArrivalMs = 0;
  /** Messages that reached this side while its process was paused, in arrival order (null: none). */
  waiting: HeldMessage[] | null = null;
  /** The key the other side proved in the link's handshake (LinkHandshakes); null: none. */
  peerKey: string | null = null;
  /** ResumableEnd (the connecting side of a link with handshakes). */
  ticketOffered: number | null = null;
  resumed = false;
  ticketIssued: number | null = null;
  /**
   * The connecting side: called when its SYN-ACK comes (TCP's handshake done, a TLS one not yet),
   * where node's socket says 'connect': the shipped client's plain connect timer stops and its TLS
   * handshake timer starts again (connect-deadline.ts). Even a paused listener's kernel answers a SYN.
   */
  onTcpOpen: (() => void) | null = null;

  constructor(
    readonly net: SimNetwork,
    readonly node: SimNode,
    readonly conn: SimConn,
    readonly isServerSide: boolean,
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    this.opening = !isServerSide;
  }

  get bufferedBytes(): number {
    return 0;
  }

  setEvents(events: StreamEvents): void {
    this.events = events;
  }

  write(bytes: Uint8Array): boolean {
    if (this.isServerSide) this.net.serverWrites?.(this.conn.id, bytes);
    if (this.closed) return false;
    this.net.send(this, MSG_DATA, bytes);
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.net.send(this, MSG_FIN, null);
    this.net.finish(this, null, true);
  }

  reset(): void {
    if (this.closed) return;
    this.held = null;
    this.net.send(this, MSG_RST, null);
    this.net.finish(this, 'ECONNRESET', true);
  }
}

export class SimNetwork {
  profile: LinkProfile;
  readonly stats: NetworkStats = { connects: 0, refused: 0, timedOut: 0, resets: 0, messagesDelivered: 0, bytesDelivered: 0, messagesHeld: 0 };
  private readonly nodes = new Map<string, SimNode>();
  /** Open connections in creation order: heal and unclog flush them in this defined order. */
  private readonly conns = new Map<number, SimConn>();
  private nextConnId = 1;
  private nextListenerId = 1;
  private partitioned = false;
  /** The frame tap, when the world wants one (set before the run starts). */
  tap: DeliveryTap | null = null;
  /**
   * Bytes an accepting side writes, as it writes them (connection id), for a checker that must
   * know what a server said in the instant it said it; null: nobody listens (most runs). Shown
   * even on an end already closed: what the server did is what it wrote, whether or not the peer
   * is still there (a wait pushed out of the password-check line with BUSY to a client whose
   * reset had reached the server before its close handler ran).
   */
  serverWrites: ((connId: number, bytes: Uint8Array) => void) | null = null;
  /** An accepting side has handled the close of its connection (its process knows the peer left). */
  serverClosed: ((connId: number) => void) | null = null;
  /** The links' handshakes (TLS time and proved keys), when the world models them (set before the run starts). */
  handshakes: LinkHandshakes | null = null;

  constructor(
    private readonly clock: SimClock,
    private readonly prng: Prng,
    profile: LinkProfile,
    private readonly trace: NetworkTrace | null = null,
  ) {
    this.profile = profile;
  }

  get openConnections(): number {
    return this.conns.size;
  }

  /** The Transport as seen from one node's address. */
  transport(address: string): Transport {
    return new NodeTransport(this, this.node(address));
  }

  // ---- faults -----------------------------------------------------------------------------------

  /** Kills a node: its streams vanish without a word to it; the far ends get a reset. */
  crashNode(address: string): void {
    const node = this.node(address);
    node.alive = false;
    node.listeners.clear();
    node.listenerIds.clear();
    for (const end of [...node.ends]) {
      if (end.closed) continue;
      end.held = null;
      this.send(end, MSG_RST, null);
      this.finish(end, null, false);
    }
  }

  restartNode(address: string): void {
    this.node(address).alive = true;
  }

  /** The node's process is stopped until `untilMs`: deliveries and connection events to it wait. */
  pauseNode(address: string, untilMs: number): void {
    this.node(address).pausedUntilMs = untilMs;
  }

  /** Resets every open stream of a node (a NAT rebinding, a flaky link): both sides see an error. */
  resetNode(address: string): void {
    const node = this.node(address);
    for (const end of [...node.ends]) end.reset();
    this.stats.resets += 1;
  }

  /** Puts each listed address in its group; unlisted nodes stay in group 0. Traffic between groups is held. */
  partition(groups: ReadonlyArray<readonly string[]>): void {
    groups.forEach((members, index) => {
      for (const address of members) this.node(address).group = index + 1;
    });
    this.partitioned = true;
  }

  heal(): void {
    for (const node of this.nodes.values()) node.group = 0;
    this.partitioned = false;
    this.flushHeld();
  }

  clog(address: string): void {
    this.node(address).clogged = true;
  }

  unclog(address: string): void {
    this.node(address).clogged = false;
    this.flushHeld();
  }

  /** Whether traffic between two nodes is held right now. */
  blocked(a: string, b: string): boolean {
    const na = this.nodes.get(a);
    const nb = this.nodes.get(b);
    return na !== undefined && nb !== undefined && this.blockedNodes(na, nb);
  }

  // ---- streams ----------------------------------------------------------------------------------

  private node(address: string): SimNode {
    let node = this.nodes.get(address);
    if (node === undefined) {
      node = new SimNode(address);
      this.nodes.set(address, node);
    }
    return node;
  }

  private blockedNodes(a: SimNode, b: SimNode): boolean {
    return a.clogged || b.clogged || (this.partitioned && a.group !== b.group);
  }

  private listen(node: SimNode, host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    const chosen = port === 0 ? EPHEMERAL_PORT_FIRST + (node.nextPort++ % EPHEMERAL_PORT_SPAN) : port;
    this.clock.post(this.clock.nowMs(), () => {
      if (node.listeners.has(chosen)) return onReady(new Error(`EADDRINUSE ${node.address}:${chosen}`));
      node.listeners.set(chosen, onAccept);
      const listenerId = this.nextListenerId++;
      node.listenerIds.set(chosen, listenerId);
      onReady({
        host,
        port: chosen,
        close: () => {
          node.listeners.delete(chosen);
          node.listenerIds.delete(chosen);
        },
      });
    });
  }

  private connect(from: SimNode, host: string, port: number, events: StreamEvents): Stream {
    const to = this.node(host);
    const conn = new SimConn(this.nextConnId++);
    const localPort = EPHEMERAL_PORT_FIRST + (from.nextPort++ % EPHEMERAL_PORT_SPAN);
    const client = new SimEnd(this, from, conn, false, host, port);
    client.events = events;
    conn.client = client;
    from.ends.add(client);
    this.stats.connects += 1;
    const sentAtMs = this.clock.nowMs();
    if (!from.alive) {
      this.clock.post(sentAtMs, () => this.refuse(client, 'ECONNREFUSED'));
      return client;
    }
    this.sendSyn(from, to, port, client, conn, localPort, sentAtMs, sentAtMs, SYN_RETRANSMIT_FIRST_MS);
    return client;
  }

  /**
   * The SYN of `client`'s connect, sent at `atMs`. On a cut or clogged path it is lost, and sent
   * again after `retransmitMs` (doubled each time, as TCP does) until CONNECT_TIMEOUT_MS from the
   * connect, which then times out: a path that opens meanwhile lets the connect through. A connect
   * once timed out at once on a clog of 998 ms (a swarm of p2p-man-in-the-middle.yaml, root seed
   * 9403: a session ended `unreachable` that real TCP would have opened).
   */
  private sendSyn(from: SimNode, to: SimNode, port: number, client: SimEnd, conn: SimConn, localPort: number, sentAtMs: number, atMs: number, retransmitMs: number): void {
    if (client.closed) return;
    if (this.blockedNodes(from, to)) {
      const againMs = atMs + retransmitMs;
      if (againMs < sentAtMs + CONNECT_TIMEOUT_MS) {
        this.clock.post(againMs, () => this.sendSyn(from, to, port, client, conn, localPort, sentAtMs, againMs, 2 * retransmitMs));
        return;
      }
      this.stats.timedOut += 1;
      this.clock.post(sentAtMs + CONNECT_TIMEOUT_MS, () => this.refuse(client, 'ETIMEDOUT'));
      return;
    }
    const host = to.address;
    const synArrivalMs = atMs + this.latency();
    let handshaken = this.handshakes === null;
    let answered = false;
    const onSyn = (): void => {
      if (client.closed) return;
      if (!answered && client.onTcpOpen !== null && to.alive && to.listeners.has(port)) {
        // The listening kernel answers the SYN at once, paused process or not; the SYN-ACK comes
        // back as fast as the SYN went (no draw of its own: the run's other latencies stay put).
        answered = true;
        this.clock.post(2 * synArrivalMs - atMs, () => {
          if (!client.closed) client.onTcpOpen?.();
        });
      }
      // A paused listener accepts once it runs again (the kernel queues the SYN meanwhile).
      if (to.pausedUntilMs > this.clock.nowMs()) return this.clock.post(to.pausedUntilMs, onSyn);
      const onAccept = to.alive ? to.listeners.get(port) : undefined;
      if (onAccept === undefined) {
        this.stats.refused += 1;
        this.clock.post(synArrivalMs + this.latency(), () => this.refuse(client, 'ECONNREFUSED'));
        return;
      }
      if (!handshaken) {
        // The handshake's time passes before either side sees the link; then everything is looked at again.
        handshaken = true;
        const handshakes = this.handshakes as LinkHandshakes;
        const listenerId = to.listenerIds.get(port) ?? null;
        const direct = handshakes.reachesListener(from.address, host);
        client.resumed = direct && client.ticketOffered !== null && client.ticketOffered === listenerId;
        // A full handshake's listener sends a ticket (an attacker's is its own: never the friend's listener's).
        client.ticketIssued = direct && !client.resumed ? listenerId : null;
        const handshakeMs = handshakes.delayMs(from.address, host, port, client.resumed);
        if (handshakeMs > 0) return this.clock.post(this.clock.nowMs() + handshakeMs, onSyn);
      }
      const server = new SimEnd(this, to, conn, true, from.address, localPort);
      if (this.handshakes !== null) {
        const keys = this.handshakes.keys(conn.id, from.address, host, port);
        server.peerKey = keys.client;
        client.peerKey = keys.server;
      }
      server.peer = client;
      client.peer = server;
      conn.server = server;
      to.ends.add(server);
      this.conns.set(conn.id, conn);
      server.lastArrivalMs = this.clock.nowMs();
      // The SYN-ACK travels the same ordered path as the server's first bytes, so it arrives first.
      this.send(server, MSG_OPEN, null);
      onAccept(server);
    };
    this.clock.post(synArrivalMs, onSyn);
  }

  private refuse(client: SimEnd, error: string): void {
    if (client.closed) return;
    client.held = null;
    this.finish(client, error, true);
  }

  /** Hands one message from `from` to the wire, or holds it while the path is blocked. */
  /** @internal NodeTransport's way in. */
  listenFrom(node: SimNode, host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.listen(node, host, port, onAccept, onReady);
  }

  /** @internal NodeTransport's way in. */
  connectFrom(node: SimNode, host: string, port: number, events: StreamEvents): Stream {
    return this.connect(node, host, port, events);
  }

  send(from: SimEnd, kind: number, bytes: Uint8Array | null): void {
    if (from.opening || from.held !== null || from.peer === undefined || this.blockedNodes(from.node, from.peer.node)) {
      if (from.held === null) from.held = [];
      from.held.push({ kind, bytes });
      this.stats.messagesHeld += 1;
      return;
    }
    this.transmit(from, kind, bytes);
  }

  private transmit(from: SimEnd, kind: number, bytes: Uint8Array | null): void {
    const nowMs = this.clock.nowMs();
    const serializationMs = bytes === null ? 0 : (bytes.byteLength * 1000) / this.profile.bandwidthBytesPerSec;
    const arrivalMs = Math.max(nowMs + this.latency(), from.lastArrivalMs) + serializationMs;
    from.lastArrivalMs = arrivalMs;
    const to = from.peer;
    this.clock.post(arrivalMs, () => this.deliver(to, kind, bytes));
  }

  private deliver(to: SimEnd, kind: number, bytes: Uint8Array | null): void {
    if (to.closed || !to.node.alive) return;
    if (to.waiting !== null) {
      to.waiting.push({ kind, bytes });
      return;
    }
    if (to.node.pausedUntilMs > this.clock.nowMs()) {
      to.waiting = [{ kind, bytes }];
      this.clock.post(to.node.pausedUntilMs, () => this.releaseWaiting(to));
      return;
    }
    this.stats.messagesDelivered += 1;
    this.trace?.onDeliver(kind, to.conn.id, to.isServerSide, bytes);
    const events = to.events;
    switch (kind) {
      case MSG_DATA:
        if (bytes === null) return;
        this.stats.bytesDelivered += bytes.byteLength;
        if (this.tap === null) {
          events?.onData(bytes);
          return;
        }
        this.tapped(to, bytes, events);
        return;
      case MSG_OPEN:
        to.opening = false;
        events?.onOpen();
        this.flushEnd(to);
        return;
      case MSG_FIN:
        // The other side finished; we close our half too (no half-open streams in this protocol).
        this.finish(to, null, true);
        return;
      case MSG_RST:
        this.finish(to, 'ECONNRESET', true);
        return;
    }
  }

  private tapped(to: SimEnd, bytes: Uint8Array, events: StreamEvents | null): void {
    const tap = this.tap as DeliveryTap;
    const client = to.conn.client;
    tap.before(to.conn.id, to.isServerSide, client.node.address, client.remoteAddress, client.remotePort, bytes);
    try {
      events?.onData(bytes);
    } finally {
      tap.after();
    }
  }

  /** The receiver's process runs again: what reached it meanwhile is delivered, in order. */
  private releaseWaiting(to: SimEnd): void {
    const waiting = to.waiting;
    to.waiting = null;
    if (waiting === null) return;
    for (let i = 0; i < waiting.length; i++) {
      if (to.node.pausedUntilMs > this.clock.nowMs()) {
        // Paused again meanwhile: the rest waits for that pause too.
        to.waiting = waiting.slice(i);
        this.clock.post(to.node.pausedUntilMs, () => this.releaseWaiting(to));
        return;
      }
      const message = waiting[i] as HeldMessage;
      this.deliver(to, message.kind, message.bytes);
    }
  }

  /** Marks an end closed and, if asked, tells its owner (later, from the queue, never re-entrantly). */
  finish(end: SimEnd, error: string | null, notify: boolean): void {
    if (end.closed) return;
    end.closed = true;
    end.node.ends.delete(end);
    const conn = end.conn;
    if (conn.client.closed && (conn.server === undefined || conn.server.closed)) {
      this.conns.delete(conn.id);
      this.tap?.closed(conn.id);
    }
    if (!notify) return;
    const events = end.events;
    if (events === null) return;
    const serverClosed = end.isServerSide ? this.serverClosed : null;
    this.clock.post(Math.max(this.clock.nowMs(), end.node.pausedUntilMs), () => {
      events.onClose(error);
      serverClosed?.(conn.id);
    });
  }

  private flushEnd(end: SimEnd): void {
    const held = end.held;
    if (held === null || end.opening || end.peer === undefined || this.blockedNodes(end.node, end.peer.node)) return;
    end.held = null;
    for (const message of held) this.transmit(end, message.kind, message.bytes);
  }

  private flushHeld(): void {
    for (const conn of this.conns.values()) {
      this.flushEnd(conn.client);
      if (conn.server !== undefined) this.flushEnd(conn.server);
    }
  }

  private latency(): number {
    return Math.max(0, this.profile.latency(this.prng));
  }
}

/**
 * One node's Transport: a class, not an object of two arrow literals, because tsx keeps function
 * names with a defineProperty that costs each closure about 250 bytes (two per simulated peer).
 */
class NodeTransport implements Transport {
  constructor(
    private readonly network: SimNetwork,
    private readonly node: SimNode,
  ) {}

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.network.listenFrom(this.node, host, port, onAccept, onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    return this.network.connectFrom(this.node, host, port, events);
  }
}

export type { Clock };
