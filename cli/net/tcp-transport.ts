/**
 * The Transport on node:net: real TCP streams for the server, the clients and the benchmarks.
 *
 * Memory per socket matters here (a server holds tens of thousands): each socket's listeners are
 * the same module-level functions, finding their stream through one symbol-keyed property on the
 * socket, instead of a fresh set of closures per socket. tsx also gives every function that sits
 * in a named position (an object literal's property, a `const`) its own `name` property, which
 * costs a property dictionary of about 250 bytes per closure: per-socket closures add up fast.
 *
 * TLS (node:tls, TLS 1.3 only) is an option on each side: `tlsServer` makes listen() accept TLS
 * connections (a stream is handed over once its handshake is done), `tlsClient` makes connect()
 * speak TLS and pin the server: once the handshake is done and before onOpen (so before the
 * caller can send anything) the server's certificate fingerprint goes to `verifyServer`, which
 * may refuse it. Sessions are resumed from tickets (one cached per server address), so a
 * reconnect costs no certificate exchange and no signature.
 */
import type { X509Certificate } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { FairPlaces } from './address-counts.ts';
import { publicKeyText } from '../crypto/key-text.ts';
import { PeerSessions } from './peer-sessions.ts';
import { dropOldestPast } from '../../core/bounded.ts';
import type { ConnectIntent, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';

const NO_EVENTS: StreamEvents = { onOpen() {}, onData() {}, onDrain() {}, onClose() {} };

/** The socket's stream, for the shared listeners below. */
const STREAM = Symbol('tcpStream');

interface StreamSocket extends net.Socket {
  [STREAM]?: TcpStream;
}

function onSocketData(this: StreamSocket, chunk: Buffer): void {
  const stream = this[STREAM];
  if (stream === undefined) return;
  readPacer.read(stream, chunk.length);
  stream.events.onData(chunk);
}

/**
 * Bytes one stream may hand over in one event-loop turn before it is paused until the next:
 * sixteen chat messages of the largest size, four file chunks (at 64 KiB, a pause and an extra turn
 * per chunk cost a file transfer about a third of its speed: docs/SECURITY.md). libuv reads a readable socket up to 32 times (64 KiB each)
 * per turn before it polls the others, so one friend flooding a client with messages of 16 KiB
 * had 128 of them (each parsed, stored in the history and acknowledged) go through before another
 * friend's socket was read: that friend's messages waited up to a second. Paused, the flood's
 * bytes wait in its own socket (TCP's window pushes back on its sender) and every stream gets its
 * turn; nothing is refused. The server reads its clients the same way.
 */
export const READ_BYTES_PER_TURN_MAX = 256 * 1024;

/**
 * Read pacing: counts what each stream handed over this turn, pauses a stream past
 * READ_BYTES_PER_TURN_MAX, and when the turn's I/O callbacks are done (setImmediate, the same
 * loop iteration) forgets the counts and resumes the paused ones, whose bytes come in the next.
 */
class ReadPacer {
  private readonly read_: TcpStream[] = [];
  private scheduled = false;

  read(stream: TcpStream, bytes: number): void {
    if (stream.turnBytes === 0) this.read_.push(stream);
    stream.turnBytes += bytes;
    if (stream.turnBytes > READ_BYTES_PER_TURN_MAX) stream.pauseForTurn();
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.endTurn);
    }
  }

  private readonly endTurn = (): void => {
    this.scheduled = false;
    // Bounded: each stream is listed once per turn (on its first chunk).
    for (const stream of this.read_.splice(0)) stream.resumeAfterTurn();
  };
}

const readPacer = new ReadPacer();

function onSocketDrain(this: StreamSocket): void {
  this[STREAM]?.events.onDrain();
}

function onSocketError(this: StreamSocket, error: NodeJS.ErrnoException): void {
  this[STREAM]?.finish(error.code ?? error.message);
}

function onSocketClose(this: StreamSocket): void {
  this[STREAM]?.finish(null);
}

function destroySocket(this: net.Socket): void {
  this.destroy();
}

/** A TLS server's failed handshake: its connection ends (see listen()). */
function onTlsClientError(_error: Error, socket: tls.TLSSocket): void {
  socket.destroy();
}

/** A plain connect's timer ran out before the connection was made (see CONNECT_TIMEOUT_MS). */
function onConnectTimeout(this: StreamSocket): void {
  this[STREAM]?.finish(CONNECT_TIMEOUT);
  this.destroy();
}

/**
 * What a stream has written since the coalescer last flushed: nothing, one frame (it went straight
 * to the socket), or more (the socket is corked until the flush).
 */
type TickWrites = 'none' | 'one' | 'corked';

/**
 * Write coalescing (the server's option): when one event-loop turn sends a stream several frames
 * (presence fan-outs of many friends arriving in one turn under load), the first goes straight
 * out and the rest are corked and leave in one writev when the turn's I/O callbacks are done
 * (setImmediate, the same loop iteration). On loopback each write is a syscall that also runs the
 * receiver's TCP path, so under load this is most of the server's CPU: k frames cost two
 * syscalls instead of k. A stream sent one frame pays nothing extra.
 */
class WriteCoalescer {
  private readonly written: TcpStream[] = [];
  private scheduled = false;

  wrote(stream: TcpStream): void {
    this.written.push(stream);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    // Bounded: each stream is listed once per turn (on its first write).
    for (const stream of this.written.splice(0)) stream.endTick();
  };
}

class TcpStream implements Stream {
  /** Read by the shared socket listeners; set through setEvents. */
  events: StreamEvents;
  private closed = false;
  private tickWrites: TickWrites = 'none';
  /** Bytes handed over this event-loop turn (ReadPacer). */
  turnBytes = 0;
  private pausedForTurn = false;
  /** peerCertificate()'s answer once asked (undefined: not yet). */
  private peerCertificateAsked: X509Certificate | null | undefined = undefined;
  /** A resumed client link: the key the handshake its ticket came from proved (undefined: not resumed). */
  private resumedPeerKey: string | undefined = undefined;

  constructor(
    private readonly socket: StreamSocket,
    events: StreamEvents,
    private readonly coalescer: WriteCoalescer | null,
  ) {
    this.events = events;
    socket[STREAM] = this;
    socket.setNoDelay(true);
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.on('close', onSocketClose);
  }

  get remoteAddress(): string {
    return this.socket.remoteAddress ?? '';
  }

  get remotePort(): number {
    return this.socket.remotePort ?? 0;
  }

  get bufferedBytes(): number {
    return this.socket.writableLength;
  }

  /**
   * The other side's TLS certificate (null: none, or plain TCP), asked of node once: on a client
   * socket node 20's getPeerX509Certificate() answers only the first call (later ones return
   * undefined), and the pin check and peerKey both need it.
   */
  peerCertificate(): X509Certificate | null {
    if (this.peerCertificateAsked === undefined) {
      this.peerCertificateAsked = this.socket instanceof tls.TLSSocket ? (this.socket.getPeerX509Certificate() ?? null) : null;
    }
    return this.peerCertificateAsked;
  }

  /**
   * The Ed25519 key the other side's certificate holds (it proved it in the TLS handshake), or null.
   * A resumed client link is shown no certificate (node 20 answers undefined): its key is the one
   * the handshake its ticket came from proved, which only that handshake's other end can resume.
   * An accepted resumed link has the caller's certificate back from the ticket, as OpenSSL keeps it.
   */
  get peerKey(): string | null {
    if (this.resumedPeerKey !== undefined) return this.resumedPeerKey;
    const key = this.peerCertificate()?.publicKey;
    if (key === undefined || key.asymmetricKeyType !== 'ed25519') return null;
    return publicKeyText(key);
  }

  /** Called by connectTls once a resumed handshake is done (see peerKey). */
  resumedWith(peerKey: string): void {
    this.resumedPeerKey = peerKey;
  }

  /** Whether this link's TLS handshake resumed an earlier session (no certificate, no signature). */
  get resumed(): boolean {
    return this.socket instanceof tls.TLSSocket && this.socket.isSessionReused();
  }

  /** Past READ_BYTES_PER_TURN_MAX this turn: no more bytes until the next (ReadPacer). */
  pauseForTurn(): void {
    if (this.pausedForTurn) return;
    this.pausedForTurn = true;
    this.socket.pause();
  }

  /** The turn ended: count afresh, and read again if paused for it. */
  resumeAfterTurn(): void {
    this.turnBytes = 0;
    if (!this.pausedForTurn) return;
    this.pausedForTurn = false;
    if (!this.socket.destroyed) this.socket.resume();
  }

  /** The underlying socket, for runtimes that need socket-level controls (cork, pause). */
  get raw(): net.Socket {
    return this.socket;
  }

  setEvents(events: StreamEvents): void {
    this.events = events;
  }

  write(bytes: Uint8Array): boolean {
    if (this.closed || this.socket.destroyed) return false;
    if (this.coalescer !== null) {
      if (this.tickWrites === 'none') {
        this.tickWrites = 'one';
        this.coalescer.wrote(this);
      } else if (this.tickWrites === 'one') {
        this.tickWrites = 'corked';
        this.socket.cork();
      }
    }
    return this.socket.write(bytes);
  }

  /** The coalescer's flush: corked frames leave now, in one writev. */
  endTick(): void {
    const corked = this.tickWrites === 'corked';
    this.tickWrites = 'none';
    if (corked && !this.socket.destroyed) this.socket.uncork();
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never reads would keep a half-closed socket forever: bound the goodbye.
    this.socket.setTimeout(CLOSE_GRACE_MS, destroySocket);
  }

  reset(): void {
    if (!(this.socket instanceof tls.TLSSocket)) {
      this.socket.resetAndDestroy();
      return;
    }
    // A TLS socket's handle is the TLS layer, which node cannot reset. An accepted one sits on
    // the plain socket the TCP server accepted (node's `_parent`): reset that; else a FIN.
    const parent = (this.socket as { _parent?: unknown })._parent;
    if (parent instanceof net.Socket && !parent.destroyed) parent.resetAndDestroy();
    else this.socket.destroy();
  }

  /** Called once by the socket's error or close listener; later calls do nothing. */
  finish(error: string | null): void {
    if (this.closed) return;
    this.closed = true;
    const events = this.events;
    this.events = NO_EVENTS;
    events.onClose(error);
  }
}

/** How long a gracefully closed socket may take to flush before it is destroyed. */
export const CLOSE_GRACE_MS = 5_000;
/**
 * How long a TLS handshake may take, on either side. The server machine's unauthenticated-idle
 * limit only starts once the stream is handed over (after the handshake), so without this a
 * connection that stalls mid-handshake would hold a socket for node's default 120 s; a client
 * whose server accepts and then says nothing would wait for ever (the client machine has no
 * connect deadline), instead of retrying. On the client it also covers the TCP connect under
 * the handshake (a host that never answers); a plain server link has CONNECT_TIMEOUT_MS.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * TLS handshakes one address key (core/net-address.ts) may have under way on a server at once;
 * more are closed on accept. The server's own per-address connection limits count a connection
 * only once its handshake is done, so without this one host could hold any number of sockets in
 * mid-handshake, each for TLS_HANDSHAKE_TIMEOUT_MS. As many as the unauthenticated connections it
 * may hold afterwards (UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX).
 */
export const TLS_HANDSHAKES_PER_ADDRESS_MAX = 32;
/**
 * TLS handshakes a server may have under way in all, from every address. The per-address bound
 * alone let many addresses (a botnet; 127.0.0.0/8 on loopback) hold any number of sockets in
 * mid-handshake, each a file descriptor outside CONNECTIONS_MAX, until accept failed for everyone
 * (EMFILE). 1,024 handshakes are about a second of CPU (an ECDHE and a signature each, about 1 ms)
 * and 5% of the process's descriptors: a reconnect storm of every client at once is served a
 * thousand at a time (the rest are closed and retry with their backoff). Shared by address key, so one address
 * never fills it (limitHandshakes). A P2P port has its own, smaller one (P2P_TLS_HANDSHAKES_MAX).
 */
export const TLS_HANDSHAKES_MAX = 1_024;
/** The close reason of a client connection whose handshake did not finish in time. */
export const TLS_HANDSHAKE_TIMEOUT = 'TLS_HANDSHAKE_TIMEOUT';
/**
 * How long the client's plain TCP server link (`--tls off`) may take to connect before it is
 * given up (the transport option connectTimeoutMs, set by client-runtime.ts): as long as a TLS
 * connect gets for its TCP connect and handshake together, so both modes give up on a server
 * that never answers at the same moment. Without it the kernel's SYN retries end the connect
 * (ETIMEDOUT) after about 127 s on Linux, and the client machine has no connect deadline of its
 * own: `ready`, and every command queued for the server, waited that long before the first retry.
 * P2P connects need none: the peer machine's hello timer (P2P_HELLO_TIMEOUT_MS, the same 10 s)
 * runs from the connect and ends them, and a second timer racing it made the reason the user is
 * told (timeout) come out as unreachable about one time in three.
 */
export const CONNECT_TIMEOUT_MS = TLS_HANDSHAKE_TIMEOUT_MS;
/**
 * The close reason of a plain connection not made in time: what the client core hears, as it
 * hears TLS_HANDSHAKE_TIMEOUT on a TLS one, and treats the same (a failed connect, retried with
 * its backoff). A TLS connect that times out before its TCP connect is made is still
 * TLS_HANDSHAKE_TIMEOUT: its one timer covers both.
 */
export const CONNECT_TIMEOUT = 'CONNECT_TIMEOUT';
/** Resumable TLS sessions a client transport keeps, one per server address (the oldest goes first). */
export const TLS_SESSIONS_CACHED_MAX = 64;

export interface TlsServerOptions {
  readonly cert: string;
  readonly key: string;
  /**
   * Ask every client for a certificate (peer-to-peer links: each side proves its identity key).
   * Any certificate is taken, none checked against a CA; Stream.peerKey says which key it proved.
   */
  readonly requestClientCert?: boolean;
  /** Handshakes one address key may have under way (default TLS_HANDSHAKES_PER_ADDRESS_MAX; 0 = unlimited). */
  readonly handshakesPerAddressMax?: number;
  /** Handshakes under way in all, shared fairly by address key (default TLS_HANDSHAKES_MAX; 0 = unlimited). */
  readonly handshakesMax?: number;
  /** How long an accepted connection's handshake may take before it is closed (default TLS_HANDSHAKE_TIMEOUT_MS). */
  readonly handshakeTimeoutMs?: number;
  /** How long the tickets it sends resume, in seconds (node's `sessionTimeout`; default node's 300). */
  readonly ticketLifetimeS?: number;
}

export interface TlsClientOptions {
  /**
   * The server's certificate fingerprint (SHA-256, as node prints it), once the handshake is done
   * and before anything is sent. null accepts; an error code refuses: the connection is destroyed
   * and onClose gets the code. A resumed session presents no certificate: it is reported with the
   * fingerprint its original handshake checked (only that server's ticket key can resume it).
   */
  verifyServer(host: string, port: number, fingerprint: string): string | null;
  /**
   * A client certificate to present (peer-to-peer links). With one, a session is resumed only when
   * resumePeerSessions is set and the connect names whom it is meant to reach (its ConnectIntent):
   * from the ticket of an earlier link to the same friend, vouched key and address (peer-sessions.ts).
   */
  readonly cert?: string;
  readonly key?: string;
  /** Keep and offer P2P tickets (peer-sessions.ts); without it every P2P handshake is a full one. */
  readonly resumePeerSessions?: boolean;
  /**
   * How long the connect and handshake may take before the connection is given up (default
   * TLS_HANDSHAKE_TIMEOUT_MS); 0: no timer of its own, for a caller that has one (P2P links: the
   * peer machine's hello timer runs from the connect).
   */
  readonly handshakeTimeoutMs?: number;
}

export interface TcpTransportOptions {
  /** Coalesce the frames one event-loop turn writes to a stream into one writev (see WriteCoalescer). */
  readonly coalesceWrites?: boolean;
  /** listen() accepts TLS 1.3 with this certificate. */
  readonly tlsServer?: TlsServerOptions;
  /** connect() speaks TLS 1.3 and checks the server's certificate with this. */
  readonly tlsClient?: TlsClientOptions;
  /** How long a plain connect() may take before it is given up (CONNECT_TIMEOUT_MS for the server link); default: no timer of its own (TLS has handshakeTimeoutMs). */
  readonly connectTimeoutMs?: number;
}

/**
 * Bounds a TLS server's handshakes under way: `perAddressMax` per address key (more are closed on
 * accept) and `totalMax` in all (0: no bound). With the total reached, a newcomer takes the place
 * of the oldest handshake of the address key holding the most, or is closed, by the rule the P2P
 * port shares its unauthenticated slots with (core/peer/accept-fairness.ts): one address can
 * never keep another's handshake out, only many addresses holding one or two each can fill it.
 */
function limitHandshakes(server: net.Server, perAddressMax: number, totalMax: number): void {
  const places = new FairPlaces(perAddressMax, totalMax);
  server.on('connection', (raw: net.Socket) => {
    const release = places.take(raw.remoteAddress, () => raw.destroy());
    if (release === null) {
      raw.destroy();
      return;
    }
    // The TLS socket over it is not reachable from here: its end or the raw socket's close ends
    // the count, and so does the handshake's end (secureConnection, below).
    raw.once('close', release);
    pendingHandshake.set(raw, release);
  });
  server.on('secureConnection', (socket: tls.TLSSocket) => {
    const parent = (socket as { _parent?: unknown })._parent;
    if (!(parent instanceof net.Socket)) return;
    pendingHandshake.get(parent)?.();
    pendingHandshake.delete(parent);
  });
}

/** A transport that keeps resumable P2P sessions, which the client runtime tells it to forget (a key change, a login's end). */
export interface ForgetsSessions {
  forgetSessions(peer?: string): void;
}

export function forgetsSessions(transport: Transport): transport is Transport & ForgetsSessions {
  return typeof (transport as Partial<ForgetsSessions>).forgetSessions === 'function';
}

/** A raw socket's "handshake over" callback, until its handshake ends (weak: a closed socket takes it along). */
const pendingHandshake = new WeakMap<net.Socket, () => void>();

interface CachedSession {
  readonly ticket: Buffer;
  readonly fingerprint: string;
}

export class TcpTransport implements Transport, ForgetsSessions {
  private readonly coalescer: WriteCoalescer | null;
  private readonly tlsServer: TlsServerOptions | null;
  private readonly tlsClient: TlsClientOptions | null;
  /**
   * The client side's TLS context, built once: tls.connect() without one parses the certificate
   * and key (and sets up a fresh OpenSSL context) on every connection, which was a fifth of a
   * client's CPU when it opens peer-to-peer sessions back to back.
   */
  private readonly clientContext: tls.SecureContext | null;
  private readonly sessions = new Map<string, CachedSession>();
  /** The P2P tickets, with resumePeerSessions (null: none kept). */
  private readonly peerSessions: PeerSessions | null;
  private readonly connectTimeoutMs: number | null;
  /** TLS client handshakes done, full and resumed (the bench's details; tests). */
  readonly handshakes = { full: 0, resumed: 0 };

  constructor(options: TcpTransportOptions = {}) {
    this.coalescer = options.coalesceWrites === true ? new WriteCoalescer() : null;
    this.connectTimeoutMs = options.connectTimeoutMs ?? null;
    this.tlsServer = options.tlsServer ?? null;
    this.tlsClient = options.tlsClient ?? null;
    const client = this.tlsClient;
    this.peerSessions = client?.resumePeerSessions === true ? new PeerSessions() : null;
    this.clientContext =
      client === null
        ? null
        : tls.createSecureContext({
            minVersion: 'TLSv1.3',
            ...(client.cert !== undefined && client.key !== undefined ? { cert: client.cert, key: client.key } : {}),
          });
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    const accept = (socket: net.Socket): void => onAccept(new TcpStream(socket, NO_EVENTS, this.coalescer));
    const server =
      this.tlsServer === null
        ? net.createServer({ noDelay: true }, accept)
        : tls.createServer(
            {
              cert: this.tlsServer.cert,
              key: this.tlsServer.key,
              minVersion: 'TLSv1.3',
              handshakeTimeout: this.tlsServer.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS,
              noDelay: true,
              ...(this.tlsServer.requestClientCert === true ? { requestCert: true, rejectUnauthorized: false } : {}),
              ...(this.tlsServer.ticketLifetimeS === undefined ? {} : { sessionTimeout: this.tlsServer.ticketLifetimeS }),
            },
            accept,
          );
    // A failed handshake (a plain-TCP client, a client that refused our certificate) only ends
    // that connection; the listener's own 'error' below is for listening itself. A handshake
    // that ran out of time is only reported here: node leaves its socket open (it was held until
    // the client gave up, outside every connection limit), so it is destroyed here.
    server.on('tlsClientError', onTlsClientError);
    const perAddressMax = this.tlsServer?.handshakesPerAddressMax ?? TLS_HANDSHAKES_PER_ADDRESS_MAX;
    const totalMax = this.tlsServer?.handshakesMax ?? TLS_HANDSHAKES_MAX;
    if (this.tlsServer !== null && (perAddressMax > 0 || totalMax > 0)) limitHandshakes(server, perAddressMax, totalMax);
    let listening = false;
    // Errors after listening (EMFILE on accept near the fd limit) must not crash the process:
    // the listener keeps serving, and the connections it could not accept are simply not there.
    server.on('error', (error) => {
      if (!listening) onReady(error);
    });
    server.listen({ host, port }, () => {
      listening = true;
      const address = server.address();
      const realPort = typeof address === 'object' && address !== null ? address.port : port;
      onReady({ host, port: realPort, close: () => server.close() });
    });
  }

  /** The P2P tickets kept (tests). */
  get peerSessionsKept(): number {
    return this.peerSessions?.size ?? 0;
  }

  /** Drops the P2P tickets of `peer` (their vouched key changed), or all of them (a login ended or began). */
  forgetSessions(peer?: string): void {
    this.peerSessions?.forget(peer);
  }

  connect(host: string, port: number, events: StreamEvents, intent?: ConnectIntent): Stream {
    if (this.tlsClient !== null) return this.connectTls(this.tlsClient, host, port, events, intent);
    const socket = net.connect({ host, port });
    const stream = new TcpStream(socket, events, this.coalescer);
    if (this.connectTimeoutMs === null) {
      socket.once('connect', () => events.onOpen());
      return stream;
    }
    // Nothing is read or written before the connect, so the idle timer is a deadline here.
    socket.setTimeout(this.connectTimeoutMs, onConnectTimeout);
    socket.once('connect', () => {
      // The timer and its listener go (close() arms the same timer later for its own grace period).
      socket.setTimeout(0);
      socket.off('timeout', onConnectTimeout);
      events.onOpen();
    });
    return stream;
  }

  /**
   * A TLS connect with our context, offering `ticket` when there is one, under its handshake timer
   * (TLS_HANDSHAKE_TIMEOUT, unless the options turn it off). Certificates are self-signed, pinned
   * by fingerprint (verifyServer) or checked against a vouched key by the core, never against a
   * CA, so node's own chain check is off; nothing is sent before that check. `handshakeEnded`
   * takes the timer and its listener away (close() arms the same timer later for its own grace).
   */
  private openTls(check: TlsClientOptions, host: string, port: number, events: StreamEvents, ticket: Buffer | undefined): { socket: tls.TLSSocket; stream: TcpStream; handshakeEnded: () => void } {
    const socket = tls.connect({
      host,
      port,
      secureContext: this.clientContext ?? undefined,
      rejectUnauthorized: false,
      ...(ticket === undefined ? {} : { session: ticket }),
    });
    const stream = new TcpStream(socket, events, this.coalescer);
    const onHandshakeTimeout = (): void => {
      stream.finish(TLS_HANDSHAKE_TIMEOUT);
      socket.destroy();
    };
    const handshakeTimeoutMs = check.handshakeTimeoutMs ?? TLS_HANDSHAKE_TIMEOUT_MS;
    if (handshakeTimeoutMs > 0) socket.setTimeout(handshakeTimeoutMs, onHandshakeTimeout);
    const handshakeEnded = (): void => {
      socket.setTimeout(0);
      socket.off('timeout', onHandshakeTimeout);
    };
    return { socket, stream, handshakeEnded };
  }

  private connectTls(check: TlsClientOptions, host: string, port: number, events: StreamEvents, intent: ConnectIntent | undefined): Stream {
    const key = `${host}:${port}`;
    const withClientCert = check.cert !== undefined && check.key !== undefined;
    if (withClientCert) return this.connectPeer(check, host, port, events, intent);
    const cached = this.sessions.get(key);
    const { socket, stream, handshakeEnded } = this.openTls(check, host, port, events, cached?.ticket);
    let fingerprint: string | null = null;
    socket.on('session', (ticket: Buffer) => {
      if (fingerprint === null) return;
      this.sessions.delete(key);
      this.sessions.set(key, { ticket, fingerprint });
      dropOldestPast(this.sessions, TLS_SESSIONS_CACHED_MAX);
    });
    socket.once('secureConnect', () => {
      handshakeEnded();
      // The certificate's fingerprint only: getPeerCertificate() would also parse every field of it
      // into an object, a third of a millisecond per handshake under load.
      const presented = socket.isSessionReused() && cached !== undefined ? cached.fingerprint : stream.peerCertificate()?.fingerprint256;
      const refuse = (code: string): void => {
        this.sessions.delete(key);
        stream.finish(code);
        socket.destroy();
      };
      if (presented === undefined) return refuse('TLS_NO_CERTIFICATE');
      const refusal = check.verifyServer(host, port, presented);
      if (refusal !== null) return refuse(refusal);
      fingerprint = presented;
      if (socket.isSessionReused()) this.handshakes.resumed++;
      else this.handshakes.full++;
      events.onOpen();
    });
    return stream;
  }

  /**
   * A P2P connect: TLS 1.3 presenting our identity certificate. The key the other side proved goes
   * to the core (Stream.peerKey), which compares it with the key the server vouched for; a full
   * handshake's certificate also goes to verifyServer as the server link's does (the P2P transport
   * accepts any: the core decides). With resumePeerSessions it offers the ticket of an earlier link
   * to the same friend, vouched key and address, and keeps the newest ticket of a full handshake
   * that proved the vouched key (peer-sessions.ts).
   */
  private connectPeer(check: TlsClientOptions, host: string, port: number, events: StreamEvents, intent: ConnectIntent | undefined): Stream {
    const sessions = this.peerSessions;
    const link = sessions === null ? null : PeerSessions.linkOf(host, port, intent);
    const offered = link === null ? undefined : sessions!.offer(link, Date.now());
    const { socket, stream, handshakeEnded } = this.openTls(check, host, port, events, offered?.ticket);
    let handshakeDone = false;
    if (offered !== undefined) {
      // A ticket the listener refused outright (one damaged, or whose secret is not what the
      // listener sealed in it) ends the connect with an alert, not a full handshake: dropped, so
      // the next connect is a full one instead of failing the same way.
      socket.once('close', () => {
        if (!handshakeDone) sessions!.drop(link!, offered);
      });
    }
    // Only a link that may be resumed later listens for tickets: node serializes every ticket the
    // listener sends (two after each full handshake) for a 'session' listener.
    if (link !== null) {
      socket.on('session', (ticket: Buffer) => {
        if (handshakeDone) sessions!.ticketCame(link, intent!, stream.peerKey, ticket, Date.now());
      });
    }
    socket.once('secureConnect', () => {
      handshakeDone = true;
      handshakeEnded();
      if (socket.isSessionReused() && offered !== undefined) {
        stream.resumedWith(offered.peerKey);
        this.handshakes.resumed++;
        return events.onOpen();
      }
      const presented = stream.peerCertificate()?.fingerprint256;
      const refusal = presented === undefined ? 'TLS_NO_CERTIFICATE' : check.verifyServer(host, port, presented);
      if (refusal !== null) {
        stream.finish(refusal);
        socket.destroy();
        return;
      }
      this.handshakes.full++;
      events.onOpen();
    });
    return stream;
  }
}

