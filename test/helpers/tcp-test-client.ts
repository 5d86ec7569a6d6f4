/**
 * A tiny promise-based client for integration tests over real TCP: frames go out through the real
 * codec, replies are decoded with the real FrameDecoder, and every wait has a timeout.
 *
 * It speaks TLS, as real clients do (the server's default), accepting any certificate (tests of
 * pinning use the real client); `plain: true` connects without TLS, to a server started with
 * tls: false.
 *
 * Received frames queue up in `inbox`; `waitFor` takes the first queued frame that matches (or the
 * next one to arrive), so a test can wait for frames in any order without losing one.
 */
import net from 'node:net';
import tls from 'node:tls';
import { FrameDecoder, encodeControl } from '../../core/codec.ts';
import type { ClientFrame, ServerFrame, ServerFrameOf, ServerFrameType } from '../../core/frames.ts';

export const WAIT_MS_DEFAULT = 5_000;

interface Waiter {
  readonly match: (frame: ServerFrame) => boolean;
  readonly resolve: (frame: ServerFrame) => void;
}

export class TcpTestClient {
  readonly inbox: ServerFrame[] = [];
  /** Decode failures of what the server sent (should stay empty). */
  readonly decodeErrors: string[] = [];
  closed = false;
  private readonly decoder = new FrameDecoder();
  private waiters: Waiter[] = [];
  private closeWaiters: Array<() => void> = [];
  private nextId = 1;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.closeWaiters) waiter();
      this.closeWaiters = [];
    });
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = WAIT_MS_DEFAULT, plain = false): Promise<TcpTestClient> {
    return new Promise((resolve, reject) => {
      const socket = plain ? net.connect({ host, port }) : tls.connect({ host, port, rejectUnauthorized: false });
      const client = new TcpTestClient(socket);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once(plain ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        resolve(client);
      });
      socket.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
  }

  /** Connects and waits for the server's welcome. */
  static async open(port: number, plain = false): Promise<TcpTestClient> {
    const client = await TcpTestClient.connect(port, '127.0.0.1', WAIT_MS_DEFAULT, plain);
    await client.waitFor('welcome');
    return client;
  }

  sendRaw(bytes: Uint8Array | string): void {
    this.socket.write(bytes);
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.socket.write(encodeControl(frame));
  }

  /** Sends a request with a fresh id and waits for the reply to it (its `re`), error or not. */
  async request(frame: ClientFrame | Record<string, unknown>, timeoutMs = WAIT_MS_DEFAULT): Promise<ServerFrame> {
    const id = this.nextId++;
    this.send({ ...frame, id });
    return this.waitMatch((f) => 're' in f && f.re === id, timeoutMs, `reply to ${String(frame.type)} #${id}`);
  }

  /** Waits for a frame of `type` (optionally also matching `where`). */
  async waitFor<T extends ServerFrameType>(type: T, where: (frame: ServerFrameOf<T>) => boolean = () => true, timeoutMs = WAIT_MS_DEFAULT): Promise<ServerFrameOf<T>> {
    const frame = await this.waitMatch((f) => f.type === type && where(f as ServerFrameOf<T>), timeoutMs, `a ${type} frame`);
    return frame as ServerFrameOf<T>;
  }

  /** Waits for an error frame with `code`. */
  waitError(code: string, timeoutMs = WAIT_MS_DEFAULT): Promise<ServerFrameOf<'error'>> {
    return this.waitFor('error', (f) => f.code === code, timeoutMs);
  }

  waitMatch(match: (frame: ServerFrame) => boolean, timeoutMs: number, what: string): Promise<ServerFrame> {
    const index = this.inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(this.inbox.splice(index, 1)[0]!);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; inbox: ${JSON.stringify(this.inbox)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Resolves once the server closed the connection; rejects after the timeout. */
  waitClosed(timeoutMs = WAIT_MS_DEFAULT): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`connection still open after ${timeoutMs} ms`)), timeoutMs);
      this.closeWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Frames that arrived and were not taken by a wait. */
  pending(): readonly ServerFrame[] {
    return this.inbox;
  }

  close(): void {
    this.socket.destroy();
  }

  // ---- common flows ---------------------------------------------------------------------------

  async signup(username: string, password = `${username}-password`): Promise<ServerFrame> {
    return this.request({ type: 'signup', username, password });
  }

  async login(username: string, password = `${username}-password`): Promise<ServerFrame> {
    return this.request({ type: 'login', username, password });
  }

  private onData(chunk: Buffer): void {
    this.decoder.push(chunk);
    for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
      if (frame.kind !== 'control') {
        this.decodeErrors.push(frame.kind === 'error' ? frame.code : 'unexpected data frame');
        continue;
      }
      this.deliver(frame.message as ServerFrame);
    }
  }

  private deliver(frame: ServerFrame): void {
    const waiter = this.waiters.find((w) => w.match(frame));
    if (waiter === undefined) {
      this.inbox.push(frame);
      return;
    }
    this.waiters = this.waiters.filter((w) => w !== waiter);
    waiter.resolve(frame);
  }
}

/** Connects, signs up and logs in on one connection; returns the client and its login.ok. */
export async function loggedInClient(port: number, username: string, password = `${username}-password`): Promise<{ client: TcpTestClient; login: ServerFrameOf<'login.ok'> }> {
  const client = await TcpTestClient.open(port);
  const signup = await client.signup(username, password);
  if (signup.type !== 'signup.ok') throw new Error(`signup ${username}: ${JSON.stringify(signup)}`);
  const login = await client.login(username, password);
  if (login.type !== 'login.ok') throw new Error(`login ${username}: ${JSON.stringify(login)}`);
  return { client, login };
}
