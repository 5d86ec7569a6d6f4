/**
 * A lean protocol client for load generation: one node:tls socket (node:net with tls false), the real codec
 * (core/codec.ts), frames as plain objects. It validates nothing beyond the codec (zod per frame
 * would make the load generator, not the server, the bottleneck) and keeps no history, so a worker
 * process can hold ten thousand of them.
 *
 * TLS as real clients speak it: TLS 1.3, the session resumed from the last ticket this process got
 * from that server (what the real client does on a reconnect). The certificate is not checked:
 * this is a load generator on loopback, and pinning costs the real client one string compare.
 */
import net from 'node:net';
import tls from 'node:tls';
import { FrameDecoder, encodeControl } from '../core/codec.ts';
import type { ClientFrame } from '../core/frames.ts';

/** A server frame as the load generator sees it: its type and whatever fields it has. */
export interface LooseFrame {
  readonly type: string;
  readonly [field: string]: unknown;
}

interface Waiter {
  readonly types: readonly string[];
  readonly resolve: (frame: LooseFrame) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class ServerError extends Error {
  constructor(readonly frame: LooseFrame) {
    super(`server error ${String(frame.code)}: ${String(frame.message)}`);
  }
}

export interface ConnectOptions {
  readonly port: number;
  readonly host?: string;
  readonly localAddress?: string;
  readonly timeoutMs: number;
  /** false: plain TCP, for a server run with --tls off. Default true. */
  readonly tls?: boolean;
}

/** The newest session ticket from each server (host:port), so later connections resume. */
const tlsTickets = new Map<string, Buffer>();

function connectSocket(options: ConnectOptions): net.Socket {
  const host = options.host ?? '127.0.0.1';
  const local = options.localAddress === undefined ? {} : { localAddress: options.localAddress };
  if (options.tls === false) return net.connect({ host, port: options.port, ...local });
  const key = `${host}:${options.port}`;
  const ticket = tlsTickets.get(key);
  const socket = tls.connect({ host, port: options.port, ...local, minVersion: 'TLSv1.3', rejectUnauthorized: false, ...(ticket === undefined ? {} : { session: ticket }) });
  socket.on('session', (next: Buffer) => tlsTickets.set(key, next));
  return socket;
}

export class BenchConnection {
  private readonly decoder = new FrameDecoder();
  private readonly waiters: Waiter[] = [];
  private readonly pushHandlers = new Map<string, (frame: LooseFrame) => void>();
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private closedError: Error | null = null;
  heartbeatMs = 0;
  heartbeatAcks = 0;
  nextRequestId = 1;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.onClosed(error));
    socket.on('close', () => this.onClosed(new Error('connection closed')));
  }

  /** Connects and waits for the server's welcome. */
  static connect(options: ConnectOptions): Promise<BenchConnection> {
    const socket = connectSocket(options);
    const connection = new BenchConnection(socket);
    return connection.expect('welcome', options.timeoutMs).then((welcome) => {
      connection.heartbeatMs = typeof welcome.heartbeatMs === 'number' ? welcome.heartbeatMs : 0;
      return connection;
    }, (error: unknown) => {
      connection.destroy();
      throw error;
    });
  }

  get open(): boolean {
    return this.closedError === null;
  }

  send(frame: ClientFrame): void {
    if (this.closedError === null) this.socket.write(encodeControl(frame));
  }

  /** Frames of this type go to `handler` instead of waiters (server pushes). */
  onPush(type: string, handler: (frame: LooseFrame) => void): void {
    this.pushHandlers.set(type, handler);
  }

  /** The next frame of `type`; an error frame or a close rejects the oldest waiter instead. */
  expect(type: string, timeoutMs: number): Promise<LooseFrame> {
    return this.expectOneOf([type], timeoutMs);
  }

  /** The next frame of any of `types` (a request that ends one of several ways). */
  expectOneOf(types: readonly string[], timeoutMs: number): Promise<LooseFrame> {
    if (this.closedError !== null) return Promise.reject(this.closedError);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const index = this.waiters.findIndex((w) => w.timer === timer);
        if (index >= 0) this.waiters.splice(index, 1);
        reject(new Error(`no ${types.join(' or ')} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push({ types, resolve, reject, timer });
    });
  }

  /** Sends a request and waits for the reply of `replyType`. */
  request(frame: ClientFrame, replyType: string, timeoutMs: number): Promise<LooseFrame> {
    const reply = this.expect(replyType, timeoutMs);
    this.send(frame);
    return reply;
  }

  /** Heartbeats at the interval the welcome asked for, starting at a random point of it (spread). */
  startHeartbeat(): void {
    if (this.heartbeatMs <= 0 || this.heartbeatTimer !== null) return;
    this.onPush('heartbeat.ack', () => (this.heartbeatAcks += 1));
    const first = setTimeout(() => {
      this.send({ type: 'heartbeat' });
      this.heartbeatTimer = setInterval(() => this.send({ type: 'heartbeat' }), this.heartbeatMs);
    }, Math.floor(Math.random() * this.heartbeatMs));
    this.heartbeatTimer = first;
  }

  close(): void {
    this.stopHeartbeat();
    this.socket.end();
    this.socket.setTimeout(2_000, () => this.socket.destroy());
  }

  destroy(): void {
    this.stopHeartbeat();
    this.socket.destroy();
  }

  private stopHeartbeat(): void {
    if (this.heartbeatTimer !== null) {
      clearTimeout(this.heartbeatTimer);
      clearInterval(this.heartbeatTimer);
      this.heartbeatTimer = null;
    }
  }

  private onData(chunk: Buffer): void {
    this.decoder.push(chunk);
    for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
      if (frame.kind !== 'control') {
        this.onClosed(new Error(`undecodable frame from the server: ${frame.kind === 'error' ? frame.code : 'data'}`));
        this.socket.destroy();
        return;
      }
      this.dispatch(frame.message as LooseFrame);
    }
  }

  private dispatch(frame: LooseFrame): void {
    const handler = this.pushHandlers.get(frame.type);
    if (handler !== undefined) return handler(frame);
    const index = this.waiters.findIndex((w) => w.types.includes(frame.type));
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1);
      if (waiter === undefined) return;
      clearTimeout(waiter.timer);
      return waiter.resolve(frame);
    }
    if (frame.type === 'error') {
      const waiter = this.waiters.shift();
      if (waiter === undefined) return;
      clearTimeout(waiter.timer);
      waiter.reject(new ServerError(frame));
    }
  }

  private onClosed(error: Error): void {
    if (this.closedError !== null) return;
    this.closedError = error;
    this.stopHeartbeat();
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
  }
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function inPool<T>(items: readonly T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) await task(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
}
