/**
 * A connect to a host that never answers is given up after the transport's timer, plain TCP as
 * TLS: without it the plain server link (`--tls off`) waited for the kernel's SYN retries, about
 * 127 s, and `ready` with it (the headless client's test is last).
 *
 * The host that never answers stays on loopback: a listening socket whose accept queue is full.
 * It listens in a worker thread whose event loop is then blocked, so nothing accepts; two
 * connections fill its queue (backlog 1: Linux takes backlog + 1), and the kernel drops the SYN
 * of every connection after them, which the connecting side retries as for a lost packet.
 */
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS, TLS_HANDSHAKE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT_MS, TcpTransport } from '../../../cli/net/tcp-transport.ts';
import type { Stream } from '../../../core/transport.ts';
import { HeadlessClient } from '../../helpers/headless-client.ts';
import { makeIdentityCertificate, peerTlsTransport } from '../../../cli/net/identity-certificate.ts';
import { makeIdentity } from '../../../cli/client/identity-keys.ts';

/** Connections a listener of backlog 1 queues before it drops SYNs (Linux: backlog + 1). */
const QUEUED_BEFORE_FULL = 2;
/** The transports' timer in these tests: short, as nothing else is waited for. */
const TIMEOUT_MS = 200;

const LISTENER_SOURCE = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const server = net.createServer(() => {});
server.listen({ host: '127.0.0.1', port: 0, backlog: 1 }, () => {
  parentPort.postMessage(server.address().port);
  // The event loop stops here, so the listener accepts nothing until the test lets it go.
  Atomics.wait(workerData, 0, 0);
});
`;

interface Blackhole {
  readonly port: number;
  close(): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A loopback port whose accept queue is full: a connect to it is never answered. */
async function blackhole(): Promise<Blackhole> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(LISTENER_SOURCE, { eval: true, workerData: gate });
  const port = await new Promise<number>((resolve) => worker.once('message', resolve));
  const fillers: net.Socket[] = [];
  for (let index = 0; index < QUEUED_BEFORE_FULL; index++) {
    const filler = net.connect({ host: '127.0.0.1', port });
    filler.on('error', () => {});
    fillers.push(filler);
    await new Promise<void>((resolve) => filler.once('connect', resolve));
  }
  const close = async (): Promise<void> => {
    for (const filler of fillers) filler.destroy();
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await worker.terminate();
  };
  cleanups.push(close);
  return { port, close };
}

/** Connects; resolves with how it ended: opened, or closed with this error. */
function connect(transport: TcpTransport, port: number): Promise<{ opened: boolean; error: string | null; stream: Stream }> {
  return new Promise((resolve) => {
    const stream: Stream = transport.connect('127.0.0.1', port, {
      onOpen: () => resolve({ opened: true, error: null, stream }),
      onData() {},
      onDrain() {},
      onClose: (error) => resolve({ opened: false, error, stream }),
    });
  });
}

describe('a connect to a host that never answers', () => {
  it('gives up a plain connect after its timer, closing with CONNECT_TIMEOUT', async () => {
    const host = await blackhole();
    const startedMs = Date.now();
    const result = await connect(new TcpTransport({ connectTimeoutMs: TIMEOUT_MS }), host.port);
    expect(result).toMatchObject({ opened: false, error: CONNECT_TIMEOUT });
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(TIMEOUT_MS - 1);
    expect((result.stream as { raw?: net.Socket }).raw?.destroyed).toBe(true);
  });

  it('gives up a TLS connect the same way, its handshake timer covering the TCP connect (TLS_HANDSHAKE_TIMEOUT)', async () => {
    const host = await blackhole();
    const transport = new TcpTransport({ tlsClient: { verifyServer: () => null, handshakeTimeoutMs: TIMEOUT_MS } });
    expect(await connect(transport, host.port)).toMatchObject({ opened: false, error: TLS_HANDSHAKE_TIMEOUT });
  });

  it('gives the plain server link the give-up of a TLS one', () => {
    expect(CONNECT_TIMEOUT_MS).toBe(TLS_HANDSHAKE_TIMEOUT_MS);
  });

  it('sets no timer of its own unless asked (P2P connects: the peer machine\'s hello timer ends them, and gives the reason)', async () => {
    const host = await blackhole();
    const stream = new TcpTransport().connect('127.0.0.1', host.port, { onOpen() {}, onData() {}, onDrain() {}, onClose() {} });
    const socket = (stream as { raw?: net.Socket }).raw!;
    expect(socket.timeout ?? 0).toBe(0);
    expect(socket.listenerCount('timeout')).toBe(0);
    stream.reset();
  });

  it('the P2P TLS transport sets no handshake timer on its connects either: the hello timer alone ends them', async () => {
    const host = await blackhole();
    const transport = peerTlsTransport(await makeIdentityCertificate(makeIdentity().signPrivateKey));
    const stream = transport.connect('127.0.0.1', host.port, { onOpen() {}, onData() {}, onDrain() {}, onClose() {} });
    const socket = (stream as { raw?: net.Socket }).raw!;
    expect(socket.timeout ?? 0).toBe(0);
    expect(socket.listenerCount('timeout')).toBe(0);
    stream.reset();
  });

  it('drops the timer once the connection is made: an open plain stream that stays quiet is not closed by it', async () => {
    const server = net.createServer((socket) => socket.on('error', () => {}));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(() => resolve())));
    const result = await connect(new TcpTransport({ connectTimeoutMs: TIMEOUT_MS }), (server.address() as net.AddressInfo).port);
    expect(result.opened).toBe(true);
    const socket = (result.stream as { raw?: net.Socket }).raw!;
    expect(socket.timeout ?? 0).toBe(0);
    expect(socket.listenerCount('timeout')).toBe(0);
    result.stream.reset();
  });

  it(`the headless client with --tls off and a server that never answers: ready once its first connect is given up after CONNECT_TIMEOUT_MS (${CONNECT_TIMEOUT_MS} ms), a login waiting for it answered SERVER_UNAVAILABLE`, async () => {
    const host = await blackhole();
    const startedMs = Date.now();
    // Before, `ready` waited for the kernel's SYN retries (~127 s) and start() gave up first.
    const client = await HeadlessClient.start('lonely', {
      server: `127.0.0.1:${host.port}`,
      extraArgs: ['--tls', 'off'],
      pasteBeforeReady: [{ cmd: 'login', username: 'lonely', password: 'long enough', id: 1 }],
    });
    cleanups.push(async () => client.kill());
    expect(Date.now() - startedMs).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS);
    expect(await client.waitFor('error', { ref: 1 })).toMatchObject({ code: 'SERVER_UNAVAILABLE' });
  }, 90_000);
});
