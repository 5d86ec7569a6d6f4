/**
 * What an accepted TCP connection costs the server in objects: the socket listeners are shared
 * functions (not closures made per socket), the tracked stream and the host's connection are the
 * event handlers themselves, and a stream that closes is forgotten. Loopback only, port 0.
 */
import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Listener, Stream, StreamEvents } from '../../../core/transport.ts';
import { TcpTransport } from '../../../cli/net/tcp-transport.ts';
import { TrackedTransport } from '../../../cli/server/tracked-transport.ts';

const WAIT_MS_MAX = 5_000;
const started: Array<() => void> = [];

afterAll(() => {
  for (const stop of started.splice(0)) stop();
});

function listen(transport: TcpTransport | TrackedTransport, onAccept: (stream: Stream) => void): Promise<Listener> {
  return new Promise((resolve, reject) => {
    transport.listen('127.0.0.1', 0, onAccept, (result) => (result instanceof Error ? reject(result) : resolve(result)));
  });
}

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.once('error', reject);
    started.push(() => socket.destroy());
  });
}

/** Polls `check` until true, at most WAIT_MS_MAX. */
async function until(check: () => boolean): Promise<void> {
  for (let waited = 0; !check(); waited += 10) {
    if (waited > WAIT_MS_MAX) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Functions that are an object's own properties: closures made for that one object. */
function ownFunctions(object: object): string[] {
  return Object.entries(object)
    .filter(([, value]) => typeof value === 'function')
    .map(([key]) => key);
}

describe('connection memory', () => {
  it('every accepted socket gets the same listener functions, not closures of its own', async () => {
    const accepted: Stream[] = [];
    const transport = new TcpTransport();
    const listener = await listen(transport, (stream) => accepted.push(stream));
    started.push(() => listener.close());
    await connect(listener.port);
    await connect(listener.port);
    await until(() => accepted.length === 2);
    const [a, b] = accepted.map((stream) => (stream as unknown as { raw: net.Socket }).raw) as [net.Socket, net.Socket];
    for (const event of ['data', 'drain', 'error', 'close']) {
      expect(a.listeners(event)).toHaveLength(1);
      expect(a.listeners(event)).toEqual(b.listeners(event));
    }
    for (const stream of accepted) stream.reset();
  });

  it('a tracked stream is its inner stream\'s event handler, passes events on, and is forgotten once closed', async () => {
    const transport = new TrackedTransport(new TcpTransport());
    const received: string[] = [];
    const closes: Array<string | null> = [];
    const events: StreamEvents = {
      onOpen() {},
      onData(bytes) {
        received.push(Buffer.from(bytes).toString('utf8'));
      },
      onDrain() {},
      onClose(error) {
        closes.push(error);
      },
    };
    const accepted: Stream[] = [];
    const listener = await listen(transport, (stream) => {
      stream.setEvents(events);
      accepted.push(stream);
    });
    started.push(() => listener.close());
    const client = await connect(listener.port);
    await until(() => transport.openStreams === 1);
    const tracked = accepted[0] as Stream;
    expect(ownFunctions(tracked)).toEqual([]);
    client.write('hello');
    await until(() => received.join('') === 'hello');
    client.end();
    await until(() => closes.length === 1);
    expect(closes).toEqual([null]);
    expect(transport.openStreams).toBe(0);
    expect(await transport.waitIdle(0)).toBe(true);
  });

  it('a stream that closes before anyone set its events is still forgotten', async () => {
    const transport = new TrackedTransport(new TcpTransport());
    const listener = await listen(transport, () => {});
    started.push(() => listener.close());
    const client = await connect(listener.port);
    await until(() => transport.openStreams === 1);
    client.destroy();
    await until(() => transport.openStreams === 0);
  });
});
