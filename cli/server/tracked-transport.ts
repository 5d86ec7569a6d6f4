/**
 * A Transport wrapper that knows which accepted streams are still open, so a graceful shutdown
 * can wait until every client has received its goodbye and hung up (bounded), then reset the rest.
 */
import { ForwardingStream, type Listener, type Stream, type StreamEvents, type Transport } from '../../core/transport.ts';

/** An accepted stream, passed straight through, that tells its transport when it closed. */
class TrackedStream extends ForwardingStream {
  constructor(
    inner: Stream,
    private readonly owner: TrackedTransport,
  ) {
    super(inner);
    // From the start, so a stream that closes before anyone set events is still forgotten.
    inner.setEvents(this);
  }

  override onClose(error: string | null): void {
    this.owner.forget(this);
    super.onClose(error);
  }
}

export class TrackedTransport implements Transport {
  private readonly open = new Set<Stream>();
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly inner: Transport) {}

  get openStreams(): number {
    return this.open.size;
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(
      host,
      port,
      (stream) => {
        const tracked = new TrackedStream(stream, this);
        this.open.add(tracked);
        onAccept(tracked);
      },
      onReady,
    );
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    return this.inner.connect(host, port, events);
  }

  /** Resolves true once no accepted stream is open, or false after `timeoutMs`. */
  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.open.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter !== done);
        resolve(false);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
    });
  }

  /** Abortively closes every stream still open. */
  resetAll(): void {
    for (const stream of [...this.open]) stream.reset();
  }

  /** Called by a tracked stream once it closed. */
  forget(stream: Stream): void {
    this.open.delete(stream);
    if (this.open.size > 0 || this.idleWaiters.length === 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const waiter of waiters) waiter();
  }
}
