/**
 * The bare servers the real one is held against, each the least code that does the same job:
 * a length-prefixed echo server (presence fanout), a node:http server answering like /healthz,
 * a node:net server that only holds sockets (RSS per connection), and a receiving end of a bare
 * TCP pipe (file transfer). Each runs in its own process (baseline-process.ts), like the server.
 */
import http from 'node:http';
import net from 'node:net';
import nodeTls from 'node:tls';
import { FRAME_HEADER_BYTES } from '../../core/codec.ts';

function listen(server: net.Server | http.Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, backlog: 4096 }, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/**
 * Echoes every complete frame back as it came (same 6-byte header as the protocol: version, kind,
 * u32 length). No JSON, no state: the cheapest message server on the same framing.
 */
export async function startEchoServer(): Promise<{ port: number; server: net.Server }> {
  const server = net.createServer({ noDelay: true }, (socket) => {
    let pending: Buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      let end = 0;
      while (pending.length - end >= FRAME_HEADER_BYTES) {
        const frameBytes = FRAME_HEADER_BYTES + pending.readUInt32BE(end + 2);
        if (pending.length - end < frameBytes) break;
        end += frameBytes;
      }
      if (end === 0) return;
      socket.write(pending.subarray(0, end));
      pending = pending.subarray(end);
    });
    socket.on('error', () => socket.destroy());
  });
  return { port: await listen(server), server };
}

/** Answers every request like the admin port's /healthz: 200, text, "ok". */
export async function startBareHttpServer(): Promise<{ port: number; server: http.Server }> {
  const body = 'ok\n';
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
    res.end(body);
  });
  return { port: await listen(server), server };
}

/**
 * Accepts and holds sockets, reading and dropping whatever arrives. With `tls`, over node:tls with
 * that certificate (TLS 1.3, as the chat port): what TLS itself costs per held connection.
 */
export async function startHoldServer(tls?: PipeTls): Promise<{ port: number; server: net.Server; connections: () => number }> {
  let open = 0;
  const onSocket = (socket: net.Socket): void => {
    open += 1;
    socket.on('data', () => {});
    socket.on('error', () => socket.destroy());
    socket.on('close', () => (open -= 1));
  };
  const server = tls === undefined ? net.createServer(onSocket) : nodeTls.createServer({ cert: tls.cert, key: tls.key, minVersion: TLS_PIPE_MIN_VERSION }, onSocket);
  return { port: await listen(server), server, connections: () => open };
}

export interface PipeReceipt {
  readonly bytes: number;
  readonly wallMs: number;
  /** The TLS cipher suite negotiated (IANA name), or `none` on a plain pipe. */
  readonly cipher: string;
}

/**
 * The pipe's TLS, as the P2P link and the chat port set it up (cli/net/tcp-transport.ts): TLS 1.3
 * with node's default suites, so both negotiate the same cipher (the receipt names it).
 */
const TLS_PIPE_MIN_VERSION = 'TLSv1.3';

/** A pipe's certificate: the real server's kind (self-signed, made by cli/net/tls-identity.ts in `dataDir`). */
export interface PipeTls {
  readonly cert: string;
  readonly key: string;
}

/**
 * Receives one connection's bytes; resolves when the sender ends, timing first byte to end. With
 * `tls`, over node:tls (the handshake is before the first byte, so it is not timed).
 */
export async function startPipeReceiver(tls?: PipeTls): Promise<{ port: number; received: Promise<PipeReceipt> }> {
  let resolveReceipt: (receipt: PipeReceipt) => void = () => {};
  const received = new Promise<PipeReceipt>((resolve) => (resolveReceipt = resolve));
  const onSocket = (socket: net.Socket): void => {
    let bytes = 0;
    let firstMs = 0;
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) firstMs = performance.now();
      bytes += chunk.length;
    });
    socket.on('end', () => {
      const cipher = socket instanceof nodeTls.TLSSocket ? socket.getCipher().standardName : 'none';
      resolveReceipt({ bytes, wallMs: performance.now() - firstMs, cipher });
      server.close();
    });
  };
  const server =
    tls === undefined
      ? net.createServer(onSocket)
      : nodeTls.createServer({ cert: tls.cert, key: tls.key, minVersion: TLS_PIPE_MIN_VERSION }, onSocket);
  return { port: await listen(server), received };
}

/** Writes `totalBytes` in FILE_CHUNK-sized writes, honouring backpressure; over node:tls with `tls`. */
export function sendThroughPipe(port: number, totalBytes: number, chunkBytes: number, tls = false): Promise<void> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(chunkBytes, 0x61);
    const connected = (): void => {
      let sent = 0;
      const pump = (): void => {
        while (sent < totalBytes) {
          const n = Math.min(chunkBytes, totalBytes - sent);
          sent += n;
          if (!socket.write(n === chunkBytes ? chunk : chunk.subarray(0, n))) return void socket.once('drain', pump);
        }
        socket.end(() => resolve());
      };
      pump();
    };
    // The certificate is the receiver's throwaway one: nothing to check it against (as a pipe).
    const socket = tls
      ? nodeTls.connect({ host: '127.0.0.1', port, minVersion: TLS_PIPE_MIN_VERSION, rejectUnauthorized: false }, connected)
      : net.connect({ host: '127.0.0.1', port }, connected);
    socket.on('error', reject);
  });
}
