import { describe, expect, it } from 'vitest';
import { ProtocolBug } from '../../core/errors.ts';
import { ForwardingStream, type Stream, type StreamEvents } from '../../core/transport.ts';

/** An inner stream that records every call made on it and lets the test raise its events. */
class FakeStream implements Stream {
  readonly remoteAddress = '10.0.0.7';
  readonly remotePort = 4242;
  peerKey?: string | null;
  bufferedBytes = 17;
  events: StreamEvents | null = null;
  writeAnswer = true;
  readonly calls: string[] = [];
  readonly written: Uint8Array[] = [];

  setEvents(events: StreamEvents): void {
    this.calls.push('setEvents');
    this.events = events;
  }

  write(bytes: Uint8Array): boolean {
    this.calls.push('write');
    this.written.push(bytes);
    return this.writeAnswer;
  }

  close(): void {
    this.calls.push('close');
  }

  reset(): void {
    this.calls.push('reset');
  }
}

/** Events that record what reached them, in order. */
function recorder(): StreamEvents & { readonly seen: unknown[] } {
  const seen: unknown[] = [];
  return {
    seen,
    onOpen: () => seen.push('open'),
    onData: (bytes) => seen.push(bytes),
    onDrain: () => seen.push('drain'),
    onClose: (error) => seen.push(['close', error]),
  };
}

/** Raises every event once on `inner`, as the network would, to whatever events it holds. */
function raiseAll(inner: FakeStream, bytes: Uint8Array): void {
  const events = inner.events as StreamEvents;
  events.onOpen();
  events.onData(bytes);
  events.onDrain();
  events.onClose('ECONNRESET');
}

/** A stream made by `make` around a fresh inner stream, with recording events set on it. */
function wired<S extends ForwardingStream>(make: (inner: FakeStream) => S): { inner: FakeStream; stream: S; events: ReturnType<typeof recorder> } {
  const inner = new FakeStream();
  const stream = make(inner);
  const events = recorder();
  stream.setEvents(events);
  return { inner, stream, events };
}

describe('ForwardingStream: everything passes through to the inner stream and back', () => {
  it('reads the inner stream for its address, port, buffered bytes and proved key', () => {
    const inner = new FakeStream();
    const stream = new ForwardingStream(inner);
    expect([stream.remoteAddress, stream.remotePort, stream.bufferedBytes]).toEqual(['10.0.0.7', 4242, 17]);
    expect(stream.peerKey).toBeNull();
    inner.peerKey = 'MCowBQYDK2VwAyEA';
    inner.bufferedBytes = 99;
    expect(stream.peerKey).toBe('MCowBQYDK2VwAyEA');
    expect(stream.bufferedBytes).toBe(99);
  });

  it('passes write (with its answer), close and reset on, in order, with the same bytes', () => {
    const inner = new FakeStream();
    const stream = new ForwardingStream(inner);
    const bytes = new Uint8Array([1, 2, 3]);
    expect(stream.write(bytes)).toBe(true);
    inner.writeAnswer = false;
    expect(stream.write(bytes)).toBe(false);
    stream.close();
    stream.reset();
    expect(inner.calls).toEqual(['write', 'write', 'close', 'reset']);
    expect(inner.written[0]).toBe(bytes);
  });

  it('sets itself as the inner stream events and passes every event on to the events set on it', () => {
    const { inner, stream, events } = wired((wrapped) => new ForwardingStream(wrapped));
    expect(inner.events).toBe(stream);
    const bytes = new Uint8Array([9]);
    raiseAll(inner, bytes);
    expect(events.seen).toEqual(['open', bytes, 'drain', ['close', 'ECONNRESET']]);
    expect(events.seen[1]).toBe(bytes);
  });

  it('passes a close without an error on as null', () => {
    const { inner, stream, events } = wired((wrapped) => new ForwardingStream(wrapped));
    inner.events?.onClose(null);
    expect(events.seen).toEqual([['close', null]]);
  });

  it('drops events that come before anyone set events on it', () => {
    const inner = new FakeStream();
    const stream = new ForwardingStream(inner);
    inner.setEvents(stream);
    expect(() => raiseAll(inner, new Uint8Array([1]))).not.toThrow();
  });

  it('opens an outgoing stream through connect with itself as the events, and passes them on', () => {
    const inner = new FakeStream();
    const events = recorder();
    const stream = new ForwardingStream(null);
    let connectedWith: StreamEvents | null = null;
    const returned = stream.connectThrough(events, (through) => {
      connectedWith = through;
      inner.events = through;
      return inner;
    });
    expect(returned).toBe(stream);
    expect(connectedWith).toBe(stream);
    const bytes = new Uint8Array([4, 5]);
    raiseAll(inner, bytes);
    expect(events.seen).toEqual(['open', bytes, 'drain', ['close', 'ECONNRESET']]);
    stream.write(bytes);
    expect(inner.calls).toEqual(['write']);
  });

  it('is a bug to use an outgoing stream before it is connected', () => {
    const stream = new ForwardingStream(null);
    expect(() => stream.write(new Uint8Array([1]))).toThrow(ProtocolBug);
    expect(() => stream.remoteAddress).toThrow('stream used before it was connected');
  });
});

/** Overrides only what goes out: every byte doubled. */
class DoublingStream extends ForwardingStream {
  override write(bytes: Uint8Array): boolean {
    return super.write(bytes.map((byte) => byte * 2));
  }
}

/** Overrides only the close event: counts it before passing it on. */
class CountingCloses extends ForwardingStream {
  closes = 0;

  override onClose(error: string | null): void {
    this.closes += 1;
    super.onClose(error);
  }
}

describe('ForwardingStream: an override changes only its own part', () => {
  it('a write override changes the bytes that go out; reads, events, close and reset still pass through', () => {
    const { inner, stream, events } = wired((wrapped) => new DoublingStream(wrapped));
    expect(stream.write(new Uint8Array([1, 2]))).toBe(true);
    expect([...(inner.written[0] as Uint8Array)]).toEqual([2, 4]);
    const bytes = new Uint8Array([1, 2]);
    raiseAll(inner, bytes);
    expect(events.seen).toEqual(['open', bytes, 'drain', ['close', 'ECONNRESET']]);
    stream.close();
    stream.reset();
    expect(inner.calls).toEqual(['setEvents', 'write', 'close', 'reset']);
    expect(stream.remotePort).toBe(4242);
  });

  it('an onClose override sees the close and passes it on; the other events and calls are untouched', () => {
    const { inner, stream, events } = wired((wrapped) => new CountingCloses(wrapped));
    const bytes = new Uint8Array([7]);
    raiseAll(inner, bytes);
    expect(stream.closes).toBe(1);
    expect(events.seen).toEqual(['open', bytes, 'drain', ['close', 'ECONNRESET']]);
    const out = new Uint8Array([3]);
    stream.write(out);
    expect(inner.written[0]).toBe(out);
  });
});
