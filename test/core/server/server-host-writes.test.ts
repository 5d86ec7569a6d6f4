/**
 * What a ServerHost writes (core/server/host.ts): a reader that lets its send queue pass the limit
 * is reset and forgotten, whatever the machine still had for it in the same batch; the bytes of a
 * frame sent to many (a presence fan-out), of the machine's frozen constants and of the id-less
 * heartbeat ack are encoded once and shared; and what a request persisted is committed before the
 * reply that says it was done is written.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame } from '../../../core/frames.ts';
import { SEND_QUEUE_BYTES_MAX } from '../../../core/limits.ts';
import { ServerHost, type ServerHostHooks } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, STILL_CLOCK as clock, SettledHasher, framesWritten } from './host-fakes.ts';

/** A reader that never reads: everything written waits in its send queue, on top of `queuedBytes` already there. */
class SlowStream extends FakeStream {
  override bufferedBytes: number;
  resets = 0;
  closes = 0;
  /** Called after each write (a test looks at the world as the client would see it then). */
  onWrite: (() => void) | null = null;
  constructor(remoteAddress: string, queuedBytes = 0) {
    super(remoteAddress);
    this.bufferedBytes = queuedBytes;
  }
  override write(bytes: Uint8Array): boolean {
    this.bufferedBytes += bytes.length;
    const written = super.write(bytes);
    this.onWrite?.();
    return written;
  }
  override reset(): void {
    this.resets += 1;
  }
  override close(): void {
    this.closes += 1;
  }
}

function hostWith(usernames: readonly string[], friendships: ReadonlyArray<readonly [string, string]>, options: { sendQueueBytesMax?: number; hooks?: ServerHostHooks } = {}) {
  const store = storeWith(usernames, friendships);
  const transport = new FakeTransport();
  const hasher = new SettledHasher();
  const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0 });
  const host = new ServerHost({ machine, transport, store, hasher, clock, ...options });
  host.listen('127.0.0.1', 0, () => {});
  let nextAddress = 1;
  const open = (queuedBytes = 0): SlowStream => {
    const stream = new SlowStream(`10.0.0.${nextAddress++}`, queuedBytes);
    transport.onAccept?.(stream);
    return stream;
  };
  const sendBytes = (stream: SlowStream, bytes: Uint8Array): void => {
    (stream.events as StreamEvents).onData(bytes);
    hasher.settle();
  };
  const send = (stream: SlowStream, frame: ClientFrame): void => sendBytes(stream, encodeControl(frame));
  const login = (username: string): SlowStream => {
    const stream = open();
    send(stream, { type: 'login', id: 1, username, password: passwordOf(username) });
    expect(framesWritten(stream).map((f) => f.type)).toContain('login.ok');
    return stream;
  };
  return { store, host, machine, open, send, sendBytes, login };
}

/** How many bytes the welcome takes on the wire (the same for every connection of a machine). */
function welcomeBytes(): number {
  const { open } = hostWith([], []);
  return open().written[0]?.length ?? 0;
}

describe('ServerHost and a reader too slow for its send queue', () => {
  it('a send queue at sendQueueBytesMax is kept, one byte past it the stream is reset, told to onConnectionClosed and forgotten by the machine', () => {
    const limit = 10_000;
    const closed: number[] = [];
    const { host, machine, open } = hostWith([], [], { sendQueueBytesMax: limit, hooks: { onConnectionClosed: (connId) => closed.push(connId) } });
    const atLimit = open(limit - welcomeBytes());
    expect(atLimit.resets).toBe(0);
    const pastLimit = open(limit - welcomeBytes() + 1);
    expect(pastLimit.resets).toBe(1);
    expect(pastLimit.closes).toBe(0);
    expect(closed).toEqual([2]);
    expect(host.connectionCount).toBe(1);
    expect(machine.stats().connections).toBe(1);
  });

  it('without sendQueueBytesMax the limit is SEND_QUEUE_BYTES_MAX, also for a host without hooks or with hooks that do not watch closes', () => {
    for (const hooks of [undefined, { onEffect: () => {} }]) {
      const { host, machine, open } = hostWith([], [], hooks === undefined ? {} : { hooks });
      const atLimit = open(SEND_QUEUE_BYTES_MAX - welcomeBytes());
      const pastLimit = open(SEND_QUEUE_BYTES_MAX - welcomeBytes() + 1);
      expect([atLimit.resets, pastLimit.resets]).toEqual([0, 1]);
      expect(host.connectionCount).toBe(1);
      expect(machine.stats().connections).toBe(1);
    }
  });

  it('a reader reset by the first of two frames in one batch is written nothing more', () => {
    const { host, open, sendBytes } = hostWith([], [], { sendQueueBytesMax: welcomeBytes() });
    const stream = open();
    // Two heartbeats before login in one read: two error frames in one batch.
    const heartbeat = encodeControl({ type: 'heartbeat' });
    sendBytes(stream, new Uint8Array([...heartbeat, ...heartbeat]));
    expect(framesWritten(stream).map((f) => f.type)).toEqual(['welcome', 'error']);
    expect(stream.resets).toBe(1);
    expect(host.connectionCount).toBe(0);
  });

  it('a reader reset by the goodbye of a shutdown is not closed as well', () => {
    const { host, open } = hostWith([], [], { sendQueueBytesMax: welcomeBytes() });
    const stream = open();
    host.shutdown();
    expect(framesWritten(stream).at(-1)).toMatchObject({ type: 'error', code: 'SERVER_SHUTTING_DOWN' });
    expect([stream.resets, stream.closes]).toEqual([1, 0]);
  });
});

describe('ServerHost encodes a frame once', () => {
  it('the welcome is the same bytes for every connection, also with other frames written in between', () => {
    const { open, sendBytes } = hostWith([], []);
    const first = open();
    sendBytes(first, encodeControl({ type: 'heartbeat' }));
    expect(framesWritten(first).map((f) => f.type)).toEqual(['welcome', 'error']);
    const second = open();
    expect(second.written[0]).toBe(first.written[0]);
  });

  it('a presence fan-out writes the same bytes to every friend', () => {
    const { login } = hostWith(['alice', 'bob', 'carol'], [['alice', 'bob'], ['alice', 'carol']]);
    const bob = login('bob');
    const carol = login('carol');
    const before = [bob.written.length, carol.written.length];
    login('alice');
    const [bobNew, carolNew] = [bob.written.slice(before[0]), carol.written.slice(before[1])];
    expect(bobNew).toHaveLength(1);
    expect(framesWritten(bob).at(-1)).toEqual({ type: 'presence', username: 'alice', status: 'online' });
    expect(carolNew[0]).toBe(bobNew[0]);
  });

  it('the ack of a heartbeat without an id is the same bytes from every host of the process', () => {
    const acks = [hostWith(['alice'], []), hostWith(['alice'], [])].map(({ login, send }) => {
      const alice = login('alice');
      send(alice, { type: 'heartbeat' });
      expect(framesWritten(alice).at(-1)).toEqual({ type: 'heartbeat.ack' });
      return alice.written.at(-1);
    });
    expect(acks[1]).toBe(acks[0]);
  });
});

describe('ServerHost commits before it answers', () => {
  it('a friend request is in the store when the reply saying it was made is written', () => {
    const { store, login, send } = hostWith(['alice', 'bob'], []);
    const alice = login('alice');
    const storedWhenTold: Array<ReadonlyArray<readonly [string, string]>> = [];
    alice.onWrite = () => {
      if (framesWritten(alice).at(-1)?.type === 'friend.requested') storedWhenTold.push(store.load().requests);
    };
    send(alice, { type: 'friend.request', id: 2, username: 'bob' });
    expect(storedWhenTold).toEqual([[['alice', 'bob']]]);
  });
});
