/**
 * The server's TCP write coalescing: frames one event-loop turn writes to a stream leave corked
 * in one writev at the end of the turn, the first one straight away; nothing is lost, reordered
 * or held past the turn, and a close in the same turn still delivers everything written before it.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Listener, Stream, StreamEvents } from '../../../core/transport.ts';
import { TcpTransport } from '../../../cli/net/tcp-transport.ts';

const QUIET: StreamEvents = { onOpen() {}, onData() {}, onDrain() {}, onClose() {} };
const WAIT_MS_MAX = 5_000;

interface Rig {
  readonly accepted: Stream;
  readonly client: net.Socket;
  readonly received: () => Buffer;
  readonly ended: Promise<void>;
  readonly close: () => void;
}

async function rig(transport: TcpTransport): Promise<Rig> {
  let onAccepted: (stream: Stream) => void = () => {};
  const acceptedStream = new Promise<Stream>((resolve) => (onAccepted = resolve));
  const listener = await new Promise<Listener>((resolve, reject) =>
    transport.listen('127.0.0.1', 0, (stream) => onAccepted(stream), (result) => (result instanceof Error ? reject(result) : resolve(result))),
  );
  const client = net.connect({ host: '127.0.0.1', port: listener.port });
  const chunks: Buffer[] = [];
  client.on('data', (chunk: Buffer) => chunks.push(chunk));
  const ended = new Promise<void>((resolve) => client.once('end', () => resolve()));
  const accepted = await acceptedStream;
  accepted.setEvents(QUIET);
  return { accepted, client, received: () => Buffer.concat(chunks), ended, close: () => (client.destroy(), listener.close()) };
}

async function receivedAtLeast(r: Rig, bytes: number): Promise<Buffer> {
  const giveUpMs = Date.now() + WAIT_MS_MAX;
  while (r.received().length < bytes && Date.now() < giveUpMs) await new Promise((resolve) => setTimeout(resolve, 5));
  return r.received();
}

function frames(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new TextEncoder().encode(`frame-${i};`));
}

describe('TcpTransport with coalesceWrites', () => {
  let rigs: Rig[] = [];
  afterEach(() => {
    for (const r of rigs) r.close();
    rigs = [];
  });

  it('sends the first frame of a turn at once, corks the rest and uncorks them together at the end of the turn, in order', async () => {
    const r = await rig(new TcpTransport({ coalesceWrites: true }));
    rigs.push(r);
    const socket = (r.accepted as unknown as { raw: net.Socket }).raw;
    const sent = frames(20);
    r.accepted.write(sent[0] as Uint8Array);
    expect(socket.writableCorked).toBe(0);
    for (const frame of sent.slice(1)) r.accepted.write(frame);
    expect(socket.writableCorked).toBe(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(socket.writableCorked).toBe(0);
    const expected = Buffer.concat(sent);
    expect((await receivedAtLeast(r, expected.length)).equals(expected)).toBe(true);
  });

  it('starts afresh every turn: a turn with one frame never corks', async () => {
    const r = await rig(new TcpTransport({ coalesceWrites: true }));
    rigs.push(r);
    const socket = (r.accepted as unknown as { raw: net.Socket }).raw;
    const sent = frames(5);
    for (const frame of sent) {
      r.accepted.write(frame);
      expect(socket.writableCorked).toBe(0);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const expected = Buffer.concat(sent);
    expect((await receivedAtLeast(r, expected.length)).equals(expected)).toBe(true);
  });

  it('a close in the same turn as corked writes still delivers every byte, then ends', async () => {
    const r = await rig(new TcpTransport({ coalesceWrites: true }));
    rigs.push(r);
    const sent = frames(10);
    for (const frame of sent) r.accepted.write(frame);
    r.accepted.close();
    await r.ended;
    expect(r.received().equals(Buffer.concat(sent))).toBe(true);
  });

  it('without the option a stream never corks', async () => {
    const r = await rig(new TcpTransport());
    rigs.push(r);
    const socket = (r.accepted as unknown as { raw: net.Socket }).raw;
    for (const frame of frames(3)) r.accepted.write(frame);
    expect(socket.writableCorked).toBe(0);
  });
});
