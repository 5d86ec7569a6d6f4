/**
 * Sender backpressure in the real client runtime over TCP on loopback: the receiver accepts several
 * files (credit for many windows) and then stops reading its P2P socket; the sender's socket queue
 * fills up to P2P_SEND_QUEUE_BYTES_MAX and no further (the runtime reports p2p.flushed, the machine
 * starts no read past the limit); once the receiver reads again, every file arrives intact.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FixedServerPin } from '../../cli/client/known-servers.ts';
import { ClientRuntime, type TimedEvent } from '../../cli/client/client-runtime.ts';
import { realClock } from '../../cli/net/real-clock.ts';
import { TcpTransport } from '../../cli/net/tcp-transport.ts';
import { P2P_SEND_QUEUE_BYTES_MAX, TRANSFER_WINDOW_BYTES } from '../../core/limits.ts';
import type { UserCommand } from '../../core/peer/commands.ts';
import type { Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import { TestServer } from '../helpers/in-process-server.ts';

const FILE_COUNT = 8;
const FILE_BYTES = TRANSFER_WINDOW_BYTES + 1024 * 1024;
/** Control frames (the offer) may sit in the queue beside the data the limit bounds. */
const CONTROL_BYTES_SLACK = 16 * 1024;
const WAIT_MS = 20_000;

/** The sender's P2P streams, with the largest send queue each write left behind. */
class WatchedTransport implements Transport {
  private readonly inner = new TcpTransport();
  peakQueuedBytes = 0;
  readonly streams: Stream[] = [];
  /** Raw sockets of accepted streams, so a test can stop reading them. */
  readonly acceptedSockets: Socket[] = [];

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, (stream) => {
      const raw = (stream as { raw?: Socket }).raw;
      if (raw !== undefined) this.acceptedSockets.push(raw);
      onAccept(stream);
    }, onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    const inner = this.inner.connect(host, port, events);
    const watch = (): void => {
      this.peakQueuedBytes = Math.max(this.peakQueuedBytes, inner.bufferedBytes);
    };
    const stream: Stream & { readonly raw: unknown } = {
      get remoteAddress() {
        return inner.remoteAddress;
      },
      get remotePort() {
        return inner.remotePort;
      },
      get bufferedBytes() {
        return inner.bufferedBytes;
      },
      get raw() {
        return (inner as { raw?: unknown }).raw;
      },
      setEvents: (e) => inner.setEvents(e),
      write: (bytes) => {
        const result = inner.write(bytes);
        watch();
        return result;
      },
      close: () => inner.close(),
      reset: () => inner.reset(),
    };
    this.streams.push(stream);
    return stream;
  }
}

class Client {
  readonly events: TimedEvent[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(readonly runtime: ClientRuntime) {
    runtime.onEvent((event) => {
      this.events.push(event);
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  send(command: UserCommand): void {
    this.runtime.command(command);
  }

  /** Waits (bounded) until `count` events match. */
  waitFor(predicate: (event: TimedEvent) => boolean, count = 1, timeoutMs = WAIT_MS): Promise<TimedEvent[]> {
    const matching = (): TimedEvent[] => this.events.filter(predicate);
    if (matching().length >= count) return Promise.resolve(matching());
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        if (matching().length < count) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(matching());
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${count} events; last: ${JSON.stringify(this.events.slice(-3))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }
}

function is(name: string, fields: Record<string, unknown> = {}): (event: TimedEvent) => boolean {
  return (event) => event.event === name && Object.entries(fields).every(([key, value]) => (event as Record<string, unknown>)[key] === value);
}

describe('client runtime: sender backpressure over TCP', () => {
  let server: TestServer;
  let dir: string;
  const transports = { alice: new WatchedTransport(), bob: new WatchedTransport() };
  let alice: Client;
  let bob: Client;

  beforeAll(async () => {
    server = await TestServer.start();
    dir = await mkdtemp(join(tmpdir(), 'p2pchat-backpressure-'));
    const start = async (name: 'alice' | 'bob'): Promise<Client> => {
      const runtime = new ClientRuntime({
        serverHost: '127.0.0.1',
        serverPort: server.port,
        p2pHost: '127.0.0.1',
        p2pPort: 0,
        downloadDir: join(dir, `${name}-downloads`),
        machine: { idPrefix: name, autoAcceptChat: true, autoAcceptFile: true },
        transport: transports[name],
        serverPins: new FixedServerPin(server.fingerprint),
        clock: realClock,
        logger: pino({ level: 'silent' }),
      });
      const client = new Client(runtime);
      await runtime.start();
      await client.waitFor(is('ready'));
      client.send({ cmd: 'signup', username: name, password: `${name}-password` });
      await client.waitFor(is('signup.ok'));
      client.send({ cmd: 'login', username: name, password: `${name}-password` });
      await client.waitFor(is('login.ok'));
      return client;
    };
    [alice, bob] = await Promise.all([start('alice'), start('bob')]);
    alice.send({ cmd: 'friend.request', username: 'bob' });
    await bob.waitFor(is('friend.request'));
    bob.send({ cmd: 'friend.accept', username: 'alice' });
    await alice.waitFor(is('friend.added'));
    alice.send({ cmd: 'chat.open', username: 'bob' });
    await Promise.all([alice.waitFor(is('chat.opened')), bob.waitFor(is('chat.opened'))]);
  }, 30_000);

  afterAll(async () => {
    alice?.runtime.stop();
    bob?.runtime.stop();
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it(`a receiver that stops reading holds the sender's socket queue to P2P_SEND_QUEUE_BYTES_MAX, and every file still arrives`, async () => {
    const source = join(dir, 'source.bin');
    const bytes = randomBytes(FILE_BYTES);
    await writeFile(source, bytes);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    alice.send({ cmd: 'file.send', username: 'bob', paths: Array.from({ length: FILE_COUNT }, () => source) });
    // bob auto-accepts each offer (FILE_COUNT windows of credit), then stops reading at once.
    await bob.waitFor(is('file.offer'), FILE_COUNT);
    for (const socket of transports.bob.acceptedSockets) socket.pause();
    // The kernel's buffers fill first; then alice's own queue grows until the machine stops reading.
    const aliceStream = transports.alice.streams.at(-1)!;
    for (let i = 0; i < 200 && aliceStream.bufferedBytes < P2P_SEND_QUEUE_BYTES_MAX / 2; i++) await new Promise((done) => setTimeout(done, 25));
    await new Promise((done) => setTimeout(done, 300));
    expect(aliceStream.bufferedBytes).toBeGreaterThan(P2P_SEND_QUEUE_BYTES_MAX / 2);
    expect(transports.alice.peakQueuedBytes).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX + CONTROL_BYTES_SLACK);
    for (const socket of transports.bob.acceptedSockets) socket.resume();
    const received = await bob.waitFor(is('file.received'), FILE_COUNT);
    expect(received.map((e) => (e as { sha256?: string }).sha256)).toEqual(Array(FILE_COUNT).fill(sha256));
    await alice.waitFor(is('file.sent'), FILE_COUNT);
    expect(transports.alice.peakQueuedBytes).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX + CONTROL_BYTES_SLACK);
    expect(alice.events.filter(is('file.failed'))).toEqual([]);
  }, 60_000);
});
