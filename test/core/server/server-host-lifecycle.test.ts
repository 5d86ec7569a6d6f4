/**
 * A ServerHost's life on a single node (core/server/host.ts): the listener it was given is the one
 * shutdown closes (a failed listen leaves none); shutdown tells every client and ends its
 * connection, and stops the host's timer; a single node may be asked to join a cluster (the
 * runtime does after the bus comes back) and a stream may close with hooks that do not watch it.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { type ServerHostHooks, ServerHost } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, SettledHasher, framesWritten } from './host-fakes.ts';

/** A stream that counts how it was ended. */
class EndedStream extends FakeStream {
  closes = 0;
  override close(): void {
    this.closes += 1;
  }
}

/** A clock that stands still and keeps its timers, so a test sees which are armed. */
class TimerClock implements Clock {
  readonly armed = new Set<number>();
  private nextTimer = 0;
  nowMs(): number {
    return 1_000;
  }
  at(_atMs: number, _fn: () => void): () => void {
    const timer = this.nextTimer++;
    this.armed.add(timer);
    return () => this.armed.delete(timer);
  }
}

function hostOn(transport: Transport, options: { clock?: Clock; hooks?: ServerHostHooks } = {}) {
  const store = storeWith(['alice']);
  const hasher = new SettledHasher();
  const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0 });
  const clock = options.clock ?? new TimerClock();
  const host = new ServerHost({ machine, transport, store, hasher, clock, ...(options.hooks === undefined ? {} : { hooks: options.hooks }) });
  return { host, machine, hasher };
}

describe('ServerHost life on a single node', () => {
  it('shutdown closes the listener listen was given, tells every client the server is shutting down, ends each connection and disarms the timer', () => {
    let listenerCloses = 0;
    let onAccept: ((stream: Stream) => void) | null = null;
    const transport: Transport = {
      listen(host, port, accept, onReady) {
        onAccept = accept;
        onReady({ host, port, close: () => (listenerCloses += 1) });
      },
      connect() {
        throw new Error('not used');
      },
    };
    const clock = new TimerClock();
    const { host, machine, hasher } = hostOn(transport, { clock });
    const ready: Array<Listener | Error> = [];
    host.listen('127.0.0.1', 7000, (result) => ready.push(result));
    expect(ready).toMatchObject([{ host: '127.0.0.1', port: 7000 }]);
    const streams = [new EndedStream('10.0.0.1'), new EndedStream('10.0.0.2')];
    for (const stream of streams) (onAccept as unknown as (stream: Stream) => void)(stream);
    (streams[0]?.events as StreamEvents).onData(encodeControl({ type: 'login', id: 1, username: 'alice', password: passwordOf('alice') }));
    hasher.settle();
    // The host keeps one timer at the machine's next deadline (a login window, a lifetime).
    expect(clock.armed.size).toBe(1);
    host.shutdown();
    expect(listenerCloses).toBe(1);
    for (const stream of streams) {
      expect(framesWritten(stream).at(-1)).toMatchObject({ type: 'error', code: 'SERVER_SHUTTING_DOWN' });
      expect(stream.closes).toBe(1);
    }
    expect(host.connectionCount).toBe(0);
    expect(machine.stats().connections).toBe(0);
    expect(clock.armed.size).toBe(0);
    // Once is enough: a second shutdown finds no listener to close.
    host.shutdown();
    expect(listenerCloses).toBe(1);
  });

  it('a listen that failed is told to its caller, and leaves no listener for shutdown to close', () => {
    const failure = new Error('EADDRINUSE');
    const transport: Transport = {
      listen(_host, _port, _accept, onReady) {
        onReady(failure);
      },
      connect() {
        throw new Error('not used');
      },
    };
    const { host } = hostOn(transport);
    const ready: Array<Listener | Error> = [];
    host.listen('127.0.0.1', 7000, (result) => ready.push(result));
    expect(ready).toEqual([failure]);
    expect(() => host.shutdown()).not.toThrow();
  });

  it('a host that never listened shuts down all the same', () => {
    const { host } = hostOn(new FakeTransport());
    expect(() => host.shutdown()).not.toThrow();
  });

  it('a single node asked to join a cluster carries on serving', () => {
    const transport = new FakeTransport();
    const { host } = hostOn(transport);
    host.listen('127.0.0.1', 0, () => {});
    host.joinCluster();
    const stream = new FakeStream('10.0.0.1');
    transport.onAccept?.(stream);
    expect(framesWritten(stream).map((f) => f.type)).toEqual(['welcome']);
  });

  it('a stream that closes is told to onConnectionClosed, and hooks without it let the machine forget the connection all the same', () => {
    const closed: number[] = [];
    for (const hooks of [{ onConnectionClosed: (connId: number) => closed.push(connId) }, { onEffect: () => {} }]) {
      const transport = new FakeTransport();
      const { host, machine } = hostOn(transport, { hooks });
      host.listen('127.0.0.1', 0, () => {});
      const stream = new FakeStream('10.0.0.1');
      transport.onAccept?.(stream);
      (stream.events as StreamEvents).onClose(null);
      expect(host.connectionCount).toBe(0);
      expect(machine.stats().connections).toBe(0);
    }
    expect(closed).toEqual([1]);
  });
});

describe('ServerHost with a clustered machine and no cluster router', () => {
  it("drops what the machine means for other nodes (a user's arrival, a frame to a user held elsewhere) and serves its own clients", () => {
    const store = storeWith(['alice', 'bob']);
    const hasher = new SettledHasher();
    const transport = new FakeTransport();
    const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0, clustered: true, sessionRequestIdPrefix: 'n1.s' });
    const host = new ServerHost({ machine, transport, store, hasher, clock: new TimerClock() });
    host.listen('127.0.0.1', 0, () => {});
    host.input({ type: 'remote.attached', username: 'bob', connId: -1, resumeToken: 'elsewhere' });
    const alice = new FakeStream('10.0.0.1');
    transport.onAccept?.(alice);
    const send = (frame: Parameters<typeof encodeControl>[0]): void => {
      (alice.events as StreamEvents).onData(encodeControl(frame));
      hasher.settle();
    };
    send({ type: 'login', id: 1, username: 'alice', password: passwordOf('alice') });
    send({ type: 'friend.request', id: 2, username: 'bob' });
    expect(framesWritten(alice).map((f) => f.type)).toEqual(['welcome', 'login.ok', 'friend.requested']);
  });
});
