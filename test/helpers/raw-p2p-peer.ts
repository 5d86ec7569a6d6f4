/**
 * A raw P2P peer for tests that play a hostile or hand-driven caller against a real client's P2P
 * port: a TLS 1.3 link proving the key of a given identity certificate (as a real client's P2P
 * link does), optionally offering a session ticket; control frames in and out, the tickets it was
 * sent, and whether the other side closed.
 */
import tls from 'node:tls';
import { expect } from 'vitest';
import { FrameDecoder, encodeControl } from '../../core/codec.ts';
import type { P2pFrame } from '../../core/peer/frames.ts';
import type { IdentityCertificate } from '../../cli/net/identity-certificate.ts';

/** A bound on waits, not a sleep: generous, for a loaded two-core machine. */
export const RAW_PEER_WAIT_MS = 20_000;

export class RawP2pPeer {
  readonly frames: Array<Record<string, unknown>> = [];
  readonly tickets: Buffer[] = [];
  readonly closed: Promise<void>;
  private readonly decoder = new FrameDecoder();

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.decoder.push(chunk);
      for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
        if (frame.kind === 'control') this.frames.push(frame.message as Record<string, unknown>);
      }
    });
    socket.on('session', (ticket: Buffer) => this.tickets.push(ticket));
    this.closed = new Promise((done) => socket.on('close', () => done()));
    socket.on('error', () => {});
  }

  /** Connected once the handshake is done; `session` offers an earlier link's ticket. */
  static connect(port: number, certificate: IdentityCertificate, session?: Buffer): Promise<RawP2pPeer> {
    return new Promise((done, fail) => {
      const socket = tls.connect(
        { host: '127.0.0.1', port, minVersion: 'TLSv1.3', rejectUnauthorized: false, cert: certificate.cert, key: certificate.key, ...(session === undefined ? {} : { session }) },
        () => done(peer),
      );
      const peer = new RawP2pPeer(socket);
      socket.once('error', fail);
    });
  }

  /** Whether this link's handshake resumed an earlier session. */
  get resumed(): boolean {
    return this.socket.isSessionReused();
  }

  send(frame: P2pFrame | Record<string, unknown>): void {
    this.socket.write(encodeControl(frame));
  }

  sendBytes(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  async waitFor(type: string, timeoutMs = RAW_PEER_WAIT_MS): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const found = this.frames.find((frame) => frame.type === type);
      if (found !== undefined) return found;
      await new Promise((done) => setTimeout(done, 10));
    }
    throw new Error(`no ${type} frame; got ${JSON.stringify(this.frames)}`);
  }

  /** Refused with `code`, closed by the other side, and never welcomed (no hello.ok). */
  async expectRefused(code = 'BAD_SESSION_TOKEN'): Promise<void> {
    expect((await this.waitFor('error')).code).toBe(code);
    await Promise.race([this.closed, new Promise((_, fail) => setTimeout(() => fail(new Error('not closed')), RAW_PEER_WAIT_MS))]);
    expect(this.frames.some((frame) => frame.type === 'hello.ok')).toBe(false);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
