/**
 * The Transport on node:net: real TCP streams for the server, the clients and the benchmarks.
 *
 * Memory per socket matters here (a server holds tens of thousands): each socket's listeners are
 * the same module-level functions, finding their stream through one symbol-keyed property on the
 * socket, instead of a fresh set of closures per socket. tsx also gives every function that sits
 * in a named position (an object literal's property, a `const`) its own `name` property, which
 * costs a property dictionary of about 250 bytes per closure: per-socket closures add up fast.
 */
import net from 'node:net';
import type { Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';

const NO_EVENTS: StreamEvents = { onOpen() {}, onData() {}, onDrain() {}, onClose() {} };

/** The socket's stream, for the shared listeners below. */
const STREAM = Symbol('tcpStream');

interface StreamSocket extends net.Socket {
  [STREAM]?: TcpStream;
}

function onSocketData(this: StreamSocket, chunk: Buffer): void {
  this[STREAM]?.events.onData(chunk);
}

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
    this.socket.resetAndDestroy();
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

export interface TcpTransportOptions {
  /** Coalesce the frames one event-loop turn writes to a stream into one writev (see WriteCoalescer). */
  readonly coalesceWrites?: boolean;
}

export class TcpTransport implements Transport {
  private readonly coalescer: WriteCoalescer | null;

  constructor(options: TcpTransportOptions = {}) {
    this.coalescer = options.coalesceWrites === true ? new WriteCoalescer() : null;
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    const server = net.createServer({ noDelay: true }, (socket) => onAccept(new TcpStream(socket, NO_EVENTS, this.coalescer)));
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

  connect(host: string, port: number, events: StreamEvents): Stream {
    const socket = net.connect({ host, port });
    const stream = new TcpStream(socket, events, this.coalescer);
    socket.once('connect', () => events.onOpen());
    return stream;
  }
}
