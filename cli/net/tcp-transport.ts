/**
 * The Transport on node:net: real TCP streams for the server, the clients and the benchmarks.
 */
import net from 'node:net';
import type { Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';

const NO_EVENTS: StreamEvents = { onOpen() {}, onData() {}, onDrain() {}, onClose() {} };

class TcpStream implements Stream {
  private events: StreamEvents;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    events: StreamEvents,
  ) {
    this.events = events;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.events.onData(chunk));
    socket.on('drain', () => this.events.onDrain());
    socket.on('error', (error: NodeJS.ErrnoException) => this.finish(error.code ?? error.message));
    socket.on('close', () => this.finish(null));
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
    return this.socket.write(bytes);
  }

  close(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    // A peer that never reads would keep a half-closed socket forever: bound the goodbye.
    this.socket.setTimeout(CLOSE_GRACE_MS, () => this.socket.destroy());
  }

  reset(): void {
    this.socket.resetAndDestroy();
  }

  private finish(error: string | null): void {
    if (this.closed) return;
    this.closed = true;
    const events = this.events;
    this.events = NO_EVENTS;
    events.onClose(error);
  }
}

/** How long a gracefully closed socket may take to flush before it is destroyed. */
export const CLOSE_GRACE_MS = 5_000;

export class TcpTransport implements Transport {
  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    const server = net.createServer({ noDelay: true }, (socket) => onAccept(new TcpStream(socket, NO_EVENTS)));
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
    const stream = new TcpStream(socket, events);
    socket.once('connect', () => events.onOpen());
    return stream;
  }
}
