/**
 * Fakes for driving a ServerHost (core/server/host.ts) without sockets: streams that keep what is
 * written to them, a transport that hands accepted streams to the test, a clock that stands
 * still, and a password hasher whose answers wait until the test settles them.
 */
import { FrameDecoder } from '../../../core/codec.ts';
import type { ServerFrame } from '../../../core/frames.ts';
import type { PasswordHasher } from '../../../core/server/host.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../../core/transport.ts';
import { fakeHash } from '../../helpers/server-harness.ts';

export class FakeStream implements Stream {
  events: StreamEvents | null = null;
  readonly written: Uint8Array[] = [];
  readonly remotePort = 40_000;
  readonly bufferedBytes: number = 0;
  constructor(readonly remoteAddress: string) {}
  setEvents(events: StreamEvents): void {
    this.events = events;
  }
  write(bytes: Uint8Array): boolean {
    this.written.push(bytes);
    return true;
  }
  close(): void {}
  reset(): void {}
}

export class FakeTransport implements Transport {
  onAccept: ((stream: Stream) => void) | null = null;
  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.onAccept = onAccept;
    onReady({ host, port, close() {} });
  }
  connect(): Stream {
    throw new Error('not used');
  }
}

export const STILL_CLOCK: Clock = { nowMs: () => 1_000, at: () => () => {} };

/** The control frames written to a stream so far, oldest first. */
export function framesWritten(stream: FakeStream): ServerFrame[] {
  const decoder = new FrameDecoder();
  for (const bytes of stream.written) decoder.push(bytes);
  const frames: ServerFrame[] = [];
  for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
    if (frame.kind === 'control') frames.push(frame.message as ServerFrame);
  }
  return frames;
}

/** A hasher with the harness's fake hash (fakeHash), answered only when the test calls settle(). */
export class SettledHasher implements PasswordHasher {
  private readonly waiting: Array<() => void> = [];
  hash(password: string, done: (passwordHash: string | null) => void): void {
    this.waiting.push(() => done(fakeHash(password)));
  }
  verify(password: string, passwordHash: string | null, done: (ok: boolean) => void): void {
    this.waiting.push(() => done(passwordHash === fakeHash(password)));
  }
  settle(): void {
    while (this.waiting.length > 0) this.waiting.shift()?.();
  }
}
