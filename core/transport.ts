/**
 * The Transport: ordered, reliable byte streams between addresses. TCP on node:net implements it
 * in cli/; the simulator's in-memory network implements it in sim/. Every host (server or peer)
 * runs over this interface only, so the same code runs in both worlds.
 *
 * Callbacks, not promises: the simulator delivers events from its own queue in virtual time, and a
 * promise would move work onto the microtask queue, out of its control.
 */
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

export interface Transport {
  /** onReady gets the listener once it listens, or the error that stopped it. */
  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void;
  connect(host: string, port: number, events: StreamEvents): Stream;
}

/** Time and one-shot timers for hosts: real timers in cli/, the virtual clock in sim/. */
export interface Clock {
  nowMs(): number;
  /** Schedules fn at atMs (or as soon as possible if past); returns a cancel function. */
  at(atMs: number, fn: () => void): () => void;
}
