/**
 * TEST-ONLY planted bugs of the simulator's own (fault kind `plant`, SIM_PLANTED_BUGS): the
 * server's output is rewritten between ServerHost and the wire, as a server with that bug would
 * have sent it, so each checker can be shown to fire without editing core/. While no bug is
 * planted the server's streams are untouched (the wrapper passes every write straight through).
 *
 * The rewriting decodes the server's control frames (core/codec.ts) per stream and encodes what
 * it sends instead; it also learns which user each stream belongs to from the login.ok it carries
 * (for presence-to-everyone).
 */
import { FrameDecoder, encodeControl } from '../../core/codec.ts';
import type { Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import type { SimPlantedBug } from '../scenarios/scenario-schema.ts';

interface WireFrame {
  readonly type?: unknown;
  readonly [field: string]: unknown;
}

/**
 * The accepted stream's events, passed on: a class, not four arrow literals, because tsx keeps
 * function names with a defineProperty that puts each closure's properties in a dictionary
 * (about 250 bytes a closure, four per connection: a gigabyte at a million peers).
 */
class PlantedEvents implements StreamEvents {
  constructor(
    private readonly events: StreamEvents,
    private readonly stream: PlantedStream,
  ) {}

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
    this.stream.output.streams.delete(this.stream);
    this.events.onClose(error);
  }
}

class PlantedStream implements Stream {
  /** Made at the first write while a bug is planted: most runs plant nothing. */
  private decoder: FrameDecoder | null = null;
  username: string | null = null;

  constructor(
    readonly inner: Stream,
    readonly output: PlantedOutput,
  ) {}

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get remotePort(): number {
    return this.inner.remotePort;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  setEvents(events: StreamEvents): void {
    this.inner.setEvents(new PlantedEvents(events, this));
  }

  write(bytes: Uint8Array): boolean {
    if (this.output.active.size === 0) return this.inner.write(bytes);
    const decoder = (this.decoder ??= new FrameDecoder());
    decoder.push(bytes);
    let ok = true;
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind !== 'control') break;
      ok = this.output.rewrite(this, frame.message as WireFrame) && ok;
    }
    return ok;
  }

  close(): void {
    this.output.streams.delete(this);
    this.inner.close();
  }

  reset(): void {
    this.output.streams.delete(this);
    this.inner.reset();
  }
}

export class PlantedOutput {
  /** Bugs planted right now (a `plant` fault in progress). */
  readonly active = new Set<SimPlantedBug>();
  /** The server's open streams, in the order they were accepted. */
  readonly streams = new Set<PlantedStream>();

  /** The server's transport, with every accepted stream's writes passing through here. */
  wrap(transport: Transport): Transport {
    return {
      connect: (host, port, events) => transport.connect(host, port, events),
      listen: (host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void) =>
        transport.listen(
          host,
          port,
          (stream) => {
            const planted = new PlantedStream(stream, this);
            this.streams.add(planted);
            onAccept(planted);
          },
          onReady,
        ),
    };
  }

  /** Sends one frame the server wrote, as the planted bugs would have it. */
  rewrite(stream: PlantedStream, frame: WireFrame): boolean {
    if (frame.type === 'login.ok' && typeof frame.username === 'string') stream.username = frame.username;
    const active = this.active;
    const send = (target: PlantedStream): boolean => target.inner.write(encodeControl(frame));
    if (frame.type === 'session.failed' && active.has('drop-session-failed')) return true;
    const ok = send(stream);
    if ((frame.type === 'session.established' || frame.type === 'session.failed') && active.has('duplicate-session-outcome')) send(stream);
    if (frame.type === 'presence' && active.has('presence-to-everyone')) {
      for (const other of this.streams) if (other !== stream && other.username !== null && other.username !== frame.username) send(other);
    }
    return ok;
  }
}
