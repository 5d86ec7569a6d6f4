/**
 * ServerHost's per-connection state: one handler object per accepted stream, whose event
 * handlers are shared methods (no closures made per connection, which a server holding tens of
 * thousands of connections pays for in memory), and which is dropped when the stream closes.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { type PasswordHasher, ServerHost } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore } from '../../../core/store.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { FakeStream, FakeTransport, STILL_CLOCK as clock, framesWritten } from './host-fakes.ts';

const hasher: PasswordHasher = { hash() {}, verify() {} };

function frameTypes(stream: FakeStream): string[] {
  return framesWritten(stream).map((frame) => frame.type);
}

describe('ServerHost connections', () => {
  it('gives each accepted stream one handler object with shared methods, and forgets it when the stream closes', () => {
    const transport = new FakeTransport();
    const store = new MemoryStore();
    const machine = new ServerMachine(store.load(), { newToken: () => 'token' });
    const host = new ServerHost({ machine, transport, store, hasher, clock });
    host.listen('127.0.0.1', 0, () => {});
    const streams = [new FakeStream('127.0.0.1'), new FakeStream('127.0.0.2')];
    for (const stream of streams) transport.onAccept?.(stream);
    expect(host.connectionCount).toBe(2);
    const [a, b] = streams.map((stream) => stream.events as StreamEvents) as [StreamEvents, StreamEvents];
    for (const handler of [a, b]) {
      expect(Object.entries(handler).filter(([, value]) => typeof value === 'function')).toEqual([]);
    }
    expect(a.onData).toBe(b.onData);
    expect(a.onClose).toBe(b.onClose);
    expect(frameTypes(streams[0] as FakeStream)).toEqual(['welcome']);
    // The welcome is the same for everyone: encoded once, the same bytes written to each stream.
    expect(streams[1]?.written[0]).toBe(streams[0]?.written[0]);
    // A frame through the handler reaches the machine: a heartbeat before login is refused.
    a.onData(encodeControl({ type: 'heartbeat' }));
    expect(frameTypes(streams[0] as FakeStream)).toEqual(['welcome', 'error']);
    a.onClose(null);
    expect(host.connectionCount).toBe(1);
    expect(machine.stats().connections).toBe(1);
    b.onClose('ECONNRESET');
    expect(host.connectionCount).toBe(0);
    expect(machine.stats().connections).toBe(0);
  });
});
