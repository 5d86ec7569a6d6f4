/**
 * The Transport: ordered, reliable byte streams between addresses. TCP on node:net implements it
 * in cli/; the simulator's in-memory network implements it in sim/. Every host (server or peer)
 * runs over this interface only, so the same code runs in both worlds.
 *
 * Callbacks, not promises: the simulator delivers events from its own queue in virtual time, and a
 * promise would move work onto the microtask queue, out of its control.
 */
import { ProtocolBug } from './errors.ts';

export interface StreamEvents {
  /** An outgoing connection is established (never called for accepted streams). */
  onOpen(): void;
  onData(bytes: Uint8Array): void;
  /** The send queue drained: writing may resume. */
  onDrain(): void;
  /** Called exactly once: closed by either side (error null), or reset or refused (error set). */
  onClose(error: string | null): void;
}

export interface Stream {
  readonly remoteAddress: string;
  readonly remotePort: number;
  /**
   * The Ed25519 key (base64 SPKI DER) the other side proved in this stream's handshake (TLS with
   * identity certificates in cli/), once open; null or absent: it proved none (plain TCP, the
   * simulator's network unless a fault says otherwise).
   */
  readonly peerKey?: string | null;
  /** Accepted streams get their events here, before any data is delivered. */
  setEvents(events: StreamEvents): void;
  /** Queues bytes; false means the queue is over its high-water mark: wait for onDrain. */
  write(bytes: Uint8Array): boolean;
  /** Bytes queued and not yet handed to the network. */
  readonly bufferedBytes: number;
  /** Graceful close: queued bytes are flushed first. */
  close(): void;
  /** Abortive close: queued bytes are dropped, the other side sees a reset. */
  reset(): void;
}

export interface Listener {
  readonly host: string;
  /** The real port, also when 0 was asked for. */
  readonly port: number;
  /** Stops accepting; open streams are not touched. */
  close(): void;
}

/**
 * Whom an outgoing P2P stream is meant to reach: the friend and the key the server vouched for
 * them in this session's `session.established`. Never a proof of anything (the stream's peerKey
 * is, and the core checks it on every link): a transport that resumes earlier sessions (TLS
 * tickets in cli/) looks up by it what to offer, so nothing of one friend's earlier link is offered
 * to another name, another key or another address.
 */
export interface ConnectIntent {
  readonly peer: string;
  readonly vouchedKey: string | null;
}

export interface Transport {
  /** onReady gets the listener once it listens, or the error that stopped it. */
  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void;
  /** intent: set on P2P connects (whom they are meant to reach); a transport may ignore it. */
  connect(host: string, port: number, events: StreamEvents, intent?: ConnectIntent): Stream;
}

/** Time and one-shot timers for hosts: real timers in cli/, the virtual clock in sim/. */
export interface Clock {
  nowMs(): number;
  /** Schedules fn at atMs (or as soon as possible if past); returns a cancel function. */
  at(atMs: number, fn: () => void): () => void;
}

/** What a ForwardingStream passes events on to before anyone set events on it: nothing. */
const NO_EVENTS: StreamEvents = { onOpen() {}, onData() {}, onDrain() {}, onClose() {} };

/**
 * A Stream that passes every call on to an inner stream, and every event of the inner stream on
 * to whoever set events on it. It exists because every wrapper that changes one thing about a
 * stream (which streams are open, in cli/server/tracked-transport.ts; a cut after some bytes, in
 * cli/net/cutting-transport.ts; frames rewritten, in sim/drivers/hostile.ts and
 * sim/world/planted-output.ts) otherwise writes the same pass-through again, each copy a little
 * different. A wrapper extends it and overrides only the methods it changes (write, close, reset,
 * setEvents, or the events onOpen, onData, onDrain, onClose), calling super for the pass-through.
 *
 * The stream is its inner stream's event handler too (methods, not a set of closures or a second
 * object per stream: a server holds tens of thousands of these, the simulator a million).
 */
export class ForwardingStream implements Stream, StreamEvents {
  /** Whoever set events on this stream: where the inner stream's events are passed on to. */
  protected events: StreamEvents = NO_EVENTS;
  /** Null only for an outgoing stream between its construction and connectThrough. */
  private wrapped: Stream | null;

  /** `inner`: an accepted stream to wrap; null for an outgoing one, opened by connectThrough. */
  constructor(inner: Stream | null) {
    this.wrapped = inner;
  }

  /**
   * Opens an outgoing stream's inner stream: `connect` (a Transport's connect, host and port bound)
   * gets this stream as its events, which pass on to `events`. Returns this stream.
   */
  connectThrough(events: StreamEvents, connect: (events: StreamEvents) => Stream): this {
    this.events = events;
    this.wrapped = connect(this);
    return this;
  }

  /** The wrapped stream; calling before connectThrough has returned is a bug. */
  protected get inner(): Stream {
    if (this.wrapped === null) throw new ProtocolBug('stream used before it was connected');
    return this.wrapped;
  }

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get remotePort(): number {
    return this.inner.remotePort;
  }

  get peerKey(): string | null {
    return this.inner.peerKey ?? null;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  setEvents(events: StreamEvents): void {
    this.events = events;
    this.inner.setEvents(this);
  }

  write(bytes: Uint8Array): boolean {
    return this.inner.write(bytes);
  }

  close(): void {
    this.inner.close();
  }

  reset(): void {
    this.inner.reset();
  }

  onOpen(): void {
    this.events.onOpen();
  }

  onData(bytes: Uint8Array): void {
    this.events.onData(bytes);
  }

  onDrain(): void {
    this.events.onDrain();
  }

  onClose(error: string | null): void {
    this.events.onClose(error);
  }
}
