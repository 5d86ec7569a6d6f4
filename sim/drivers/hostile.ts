/**
 * Hostile users, as data: what the adversarial steps do on the wire, beside the real machines.
 *
 * - `HostileWire` wraps a peer's Transport and rewrites the file offers its own (real) peer
 *   machine sends over P2P, as a hostile friend's modified client would: another name, a size that
 *   lies about the bytes that follow, or an offer after which no byte ever moves (a slot hoarder).
 *   It decodes and re-encodes frames with core/codec.ts; it holds no protocol logic of its own.
 * - `probeP2pHello` opens a raw connection to a user's P2P port and presents one `hello` with a
 *   guessed token or one already used (token guessing and replay); the answer must be a refusal.
 * - `ConnectionHoard` opens raw connections to the server that never log in, and with `renew`
 *   opens a new one for each the server closes (a connection hoarder).
 *
 * Which of these is active is decided by the scenario's steps; a world without hostile steps
 * never builds any of them, so the storms pay nothing.
 */
import { encodeControl, encodeData, FrameDecoder } from '../../core/codec.ts';
import type { Clock, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import { P2P_HELLO_TIMEOUT_MS } from '../../core/limits.ts';

/** How a hostile sender changes one offered file (matched by the name its machine offers). */
export interface OfferRewrite {
  /** The name to offer instead (hostile: separators, "..", device names, lone surrogates). */
  readonly name?: string | undefined;
  /** The size to declare instead of the real one. */
  readonly declaredBytes?: number | undefined;
  /** Drop every data frame of this file: the offer stays, no byte ever moves. */
  readonly stall?: boolean | undefined;
}

/**
 * A hostile peer's transport: P2P streams (anything not to `serverAddress`) are decoded frame by
 * frame on their way out, and offers that match a rule are rewritten. Frames are re-encoded one
 * by one, so the far side sees well-formed frames with hostile content.
 */
export class HostileWire implements Transport {
  private readonly rules = new Map<string, OfferRewrite>();

  constructor(
    private readonly inner: Transport,
    private readonly serverAddress: string,
  ) {}

  /** The next offer of a file named `sentName` is rewritten by `rewrite`. */
  rewriteOffer(sentName: string, rewrite: OfferRewrite): void {
    this.rules.set(sentName, rewrite);
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: Parameters<Transport['listen']>[3]): void {
    this.inner.listen(host, port, (stream) => onAccept(new RewritingStream(stream, this.rules)), onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    const stream = this.inner.connect(host, port, events);
    return host === this.serverAddress ? stream : new RewritingStream(stream, this.rules);
  }
}

class RewritingStream implements Stream {
  private readonly decoder = new FrameDecoder();
  /** Data streams (the offer's `stream` numbers) whose bytes are dropped. */
  private readonly stalled = new Set<number>();
  /** Their transfer ids: the sender's final frame (file.end) is dropped too, so nothing ever moves. */
  private readonly stalledTransfers = new Set<string>();

  constructor(
    private readonly inner: Stream,
    private readonly rules: Map<string, OfferRewrite>,
  ) {}

  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }

  get remotePort(): number {
    return this.inner.remotePort;
  }

  get peerKey(): string | null {
    return this.inner.peerKey ?? null;
  }

  get bufferedBytes(): number {
    return this.inner.bufferedBytes;
  }

  setEvents(events: StreamEvents): void {
    this.inner.setEvents(events);
  }

  write(bytes: Uint8Array): boolean {
    this.decoder.push(bytes);
    let ok = true;
    for (;;) {
      const frame = this.decoder.next();
      if (frame === null || frame.kind === 'error') return ok;
      if (frame.kind === 'data') {
        if (!this.stalled.has(frame.streamId)) ok = this.inner.write(encodeData(frame.streamId, frame.offset, frame.bytes));
        continue;
      }
      const end = frame.message as { type?: unknown; transferId?: unknown };
      if (end.type === 'file.end' && typeof end.transferId === 'string' && this.stalledTransfers.has(end.transferId)) continue;
      ok = this.inner.write(encodeControl(this.rewrite(frame.message) as object));
    }
  }

  close(): void {
    this.inner.close();
  }

  reset(): void {
    this.inner.reset();
  }

  private rewrite(message: unknown): unknown {
    const offer = message as { type?: unknown; files?: unknown };
    if (offer.type !== 'file.offer' || !Array.isArray(offer.files)) return message;
    const files = offer.files.map((file: { transferId: string; name: string; size: number; stream: number }) => {
      const rule = this.rules.get(file.name);
      if (rule === undefined) return file;
      this.rules.delete(file.name);
      if (rule.stall === true) {
        this.stalled.add(file.stream);
        this.stalledTransfers.add(file.transferId);
      }
      return { ...file, ...(rule.name === undefined ? {} : { name: rule.name }), ...(rule.declaredBytes === undefined ? {} : { size: rule.declaredBytes }) };
    });
    return { ...offer, files };
  }
}

/** What a raw hello got: `refused` (an error frame or a close), `accepted` (hello.ok), or a connect error code. */
export type HelloOutcome = 'refused' | 'accepted' | 'no-answer' | string;

/** A hello the callee neither answers nor closes within its own hello timeout (and a margin) has no answer. */
const HELLO_PROBE_WAIT_MS = P2P_HELLO_TIMEOUT_MS + 1_000;

/** One raw `hello` to host:port; `done` gets how the far side answered. */
export function probeP2pHello(transport: Transport, clock: Clock, host: string, port: number, hello: { username: string; token: string }, done: (outcome: HelloOutcome) => void): void {
  const decoder = new FrameDecoder();
  let settled = false;
  const settle = (outcome: HelloOutcome): void => {
    if (settled) return;
    settled = true;
    cancel();
    stream.reset();
    done(outcome);
  };
  const stream = transport.connect(host, port, {
    onOpen: () => stream.write(encodeControl({ type: 'hello', username: hello.username, token: hello.token })),
    onData: (bytes) => {
      decoder.push(bytes);
      const frame = decoder.next();
      if (frame === null) return;
      const type = frame.kind === 'control' ? (frame.message as { type?: unknown }).type : null;
      settle(type === 'hello.ok' ? 'accepted' : 'refused');
    },
    onDrain: () => {},
    onClose: (error) => settle(error === null || error === 'ECONNRESET' ? 'refused' : error),
  });
  const cancel = clock.at(clock.nowMs() + HELLO_PROBE_WAIT_MS, () => settle('no-answer'));
}

/**
 * How long a hoarder waits before replacing a connection the server closed: it never spins, and
 * a second keeps a hoard of thousands to a few thousand connects per second, as a real one would
 * be limited by its own round trips.
 */
export const HOARD_RENEW_DELAY_MS = 1_000;

/** Raw connections to the server that never log in, renewed while `active()` says so. */
export class ConnectionHoard {
  opened = 0;
  closed = 0;
  private settledFirst = 0;

  constructor(
    private readonly transport: Transport,
    private readonly clock: Clock,
    private readonly host: string,
    private readonly port: number,
    private readonly renew: boolean,
    private readonly active: () => boolean,
  ) {}

  /** Opens `count` connections; `done` once each has opened or been refused. */
  start(count: number, done: () => void): void {
    for (let i = 0; i < count; i++) {
      this.open(() => {
        this.settledFirst += 1;
        if (this.settledFirst === count) done();
      });
    }
  }

  private open(onFirstSettle: (() => void) | null): void {
    let first = onFirstSettle;
    const settle = (): void => {
      first?.();
      first = null;
    };
    this.transport.connect(this.host, this.port, {
      onOpen: () => {
        this.opened += 1;
        settle();
      },
      onData: () => {},
      onDrain: () => {},
      onClose: () => {
        this.closed += 1;
        settle();
        if (!this.renew || !this.active()) return;
        this.clock.at(this.clock.nowMs() + HOARD_RENEW_DELAY_MS, () => {
          if (this.active()) this.open(null);
        });
      },
    });
  }
}

/**
 * Why a name a receiver wrote a file under is unsafe, or null when it is a plain file name. An
 * independent statement of what core/peer/file-names.ts must guarantee (not a call to it): one
 * path component, not "." or "..", no control characters, well-formed UTF-16, not a Windows device
 * name, not empty, no longer than `charsMax`.
 */
export function unsafeFileNameReason(name: string, charsMax: number): string | null {
  if (name.length === 0) return 'empty';
  if (name.length > charsMax) return `longer than ${charsMax} characters`;
  if (/[/\\]/.test(name)) return 'a path separator';
  if (name === '.' || name === '..') return 'a directory name';
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'a control character';
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(name)) return 'a lone surrogate';
  const stem = (name.split('.')[0] ?? '').trimEnd();
  if (/^(con|prn|aux|nul|com[0-9]|lpt[0-9])$/i.test(stem)) return 'a Windows device name';
  return null;
}
