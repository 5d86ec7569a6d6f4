/**
 * A fault injector for tests, outside the core: a Transport that wraps another and resets the
 * first P2P stream (any stream but the one to the server) once it has received `afterBytes`
 * bytes. Bytes past the cut are not delivered, even from the same read, so the cut falls at a
 * known point of the byte stream however fast the machine is. Later streams are left alone, so
 * a new session can resume what the cut interrupted.
 *
 * Used by the hidden `p2pchat client --fault-cut-p2p-after-bytes <n>` option (the headless
 * client tests); never on by default.
 */
import { type ConnectIntent, ForwardingStream, type Listener, type Stream, type StreamEvents, type Transport } from '../../core/transport.ts';
import { forgetsSessions } from './tcp-transport.ts';

export class CuttingTransport implements Transport {
  /** Bytes the stream being watched may still receive; null once the cut happened. */
  private remainingBytes: number | null;

  constructor(
    private readonly inner: Transport,
    private readonly server: { readonly host: string; readonly port: number },
    afterBytes: number,
  ) {
    this.remainingBytes = afterBytes;
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, (stream) => onAccept(new WatchedStream(stream, this)), onReady);
  }

  connect(host: string, port: number, events: StreamEvents, intent?: ConnectIntent): Stream {
    if (host === this.server.host && port === this.server.port) return this.inner.connect(host, port, events);
    return new WatchedStream(null, this).connectThrough(events, (watched) => this.inner.connect(host, port, watched, intent));
  }

  /** The wrapped transport's resumable sessions are forgotten as if it were used directly. */
  forgetSessions(peer?: string): void {
    if (forgetsSessions(this.inner)) this.inner.forgetSessions(peer);
  }

  /** How many of `bytes` bytes the stream may take before it is cut (all of them when not watched). */
  take(bytes: number): number {
    if (this.remainingBytes === null) return bytes;
    const allowed = Math.min(bytes, this.remainingBytes);
    this.remainingBytes -= allowed;
    return allowed;
  }

  /** True once: the caller must cut its stream now. */
  cutDue(): boolean {
    if (this.remainingBytes !== 0) return false;
    this.remainingBytes = null;
    return true;
  }
}

/** A stream whose incoming bytes count towards the transport's cut. */
class WatchedStream extends ForwardingStream {
  private cut = false;

  constructor(
    inner: Stream | null,
    private readonly owner: CuttingTransport,
  ) {
    super(inner);
  }

  /** The wrapped stream's socket, for the runtime's corked writes (client-runtime.ts socketOf). */
  get raw(): unknown {
    return (this.inner as { raw?: unknown }).raw;
  }

  override onData(bytes: Uint8Array): void {
    if (this.cut) return;
    const allowed = this.owner.take(bytes.byteLength);
    if (allowed > 0) super.onData(allowed === bytes.byteLength ? bytes : bytes.subarray(0, allowed));
    if (!this.owner.cutDue()) return;
    this.cut = true;
    this.reset();
  }
}
