/**
 * Hostile users, as data: what the adversarial steps do on the wire, beside the real machines.
 *
 * - `HostileWire` wraps a peer's Transport and rewrites the file offers its own (real) peer
 *   machine sends over P2P, as a hostile friend's modified client would: another name, a size that
 *   lies about the bytes that follow, a final frame whose digest is not the bytes', or an offer
 *   after which no byte ever moves (a slot hoarder). It decodes and re-encodes frames with
 *   core/codec.ts; it holds no protocol logic of its own.
 * - `probeP2pHello` opens a raw connection to a user's P2P port and presents one `hello` with a
 *   guessed token or one already used (token guessing and replay); the answer must be a refusal.
 * - `ConnectionHoard` opens raw connections to the server that never log in, and with `renew`
 *   opens a new one for each the server closes (a connection hoarder).
 *
 * Which of these is active is decided by the scenario's steps; a world without hostile steps
 * never builds any of them, so the storms pay nothing.
 */
import { encodeControl, encodeData, type Frame, FrameDecoder } from '../../core/codec.ts';
import { type Clock, ForwardingStream, type Stream, type StreamEvents, type Transport } from '../../core/transport.ts';
import { P2P_HELLO_TIMEOUT_MS } from '../../core/limits.ts';

/** How a hostile sender changes one offered file (matched by the name its machine offers). */
export interface OfferRewrite {
  /** The name to offer instead (hostile: separators, "..", device names, lone surrogates). */
  readonly name?: string | undefined;
  /**
   * The size to declare instead of the real one. Every real byte is sent whatever was declared:
   * declaring fewer, the sender goes on past the offer (the receiver's credit is read as reaching
   * the real end); declaring more, it sends file.end after the real bytes.
   */
  readonly declaredBytes?: number | undefined;
  /** The final frame (file.end) carries a digest that is not the bytes' SHA-256. */
  readonly wrongDigest?: boolean | undefined;
  /** Drop every data frame of this file: the offer stays, no byte ever moves. */
  readonly stall?: boolean | undefined;
}

/** Whether a send's options make its sender lie (any rule of OfferRewrite). */
export function isHostileSend(send: OfferRewrite): boolean {
  return send.name !== undefined || send.declaredBytes !== undefined || send.wrongDigest === true || send.stall === true;
}

/** Size lies remembered at once: far more than any scenario tells; the oldest is forgotten first. */
const SIZE_LIES_REMEMBERED_MAX = 4_096;

/** What one lying offer declared, and the bytes its file really holds. */
export interface SizeLie {
  readonly declaredBytes: number;
  readonly actualBytes: number;
}

/**
 * The offers hostile wires put on the wire with a size their files do not have, by transfer id
 * (unique in a world). The size-as-offered checker holds a receiver to the declared size; the
 * TEST-ONLY careless receiver (`trust-sent-size`, sim/world/planted-output.ts) sizes the download
 * by the bytes that come instead.
 */
export class SizeLies {
  private readonly byTransfer = new Map<string, SizeLie>();

  record(transferId: string, lie: SizeLie): void {
    if (this.byTransfer.size >= SIZE_LIES_REMEMBERED_MAX) {
      const oldest = this.byTransfer.keys().next().value;
      if (oldest !== undefined) this.byTransfer.delete(oldest);
    }
    this.byTransfer.set(transferId, lie);
  }

  of(transferId: string): SizeLie | undefined {
    return this.byTransfer.size === 0 ? undefined : this.byTransfer.get(transferId);
  }
}

/** A frame as a rewriter sees it: a control frame's message, or a data frame. */
export type FrameEdit = (frame: Frame) => Frame | null;

/**
 * Decodes `bytes` as the continuation of `decoder`'s stream, passes each whole frame through
 * `edit` (null drops it) and re-encodes what is left: the bytes to pass on. A stream that stops
 * decoding (not frames at all) is passed on as it came from then on (`decoder.failed`).
 */
function reframe(decoder: FrameDecoder, bytes: Uint8Array, edit: FrameEdit): Uint8Array {
  if (decoder.failed) return bytes;
  decoder.push(bytes);
  const out: Uint8Array[] = [];
  for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
    if (frame.kind === 'error') return bytes;
    const edited = edit(frame);
    if (edited === null) continue;
    out.push(edited.kind === 'data' ? encodeData(edited.streamId, edited.offset, edited.bytes) : encodeControl(edited.message as object));
  }
  return out.length === 1 ? (out[0] as Uint8Array) : Buffer.concat(out);
}

/** A stream's events, with what it delivers passed through `edit` frame by frame (see reframe). */
export class ReframingEvents implements StreamEvents {
  private readonly decoder = new FrameDecoder();

  constructor(
    private readonly events: StreamEvents,
    private readonly edit: FrameEdit,
  ) {}

  onOpen(): void {
    this.events.onOpen();
  }

  onData(bytes: Uint8Array): void {
    const read = reframe(this.decoder, bytes, this.edit);
    // Nothing whole yet: nothing to deliver.
    if (read.byteLength > 0) this.events.onData(read);
  }

  onDrain(): void {
    this.events.onDrain();
  }

  onClose(error: string | null): void {
    this.events.onClose(error);
  }
}

/** A file offer's entries as the wire carries them. */
interface OfferedFileOnWire {
  readonly transferId: string;
  readonly name: string;
  readonly size: number;
  readonly stream: number;
}

/** The entries of a `file.offer` message, or null when it is none. */
export function offeredFiles(message: unknown): OfferedFileOnWire[] | null {
  const offer = message as { type?: unknown; files?: unknown };
  return offer.type === 'file.offer' && Array.isArray(offer.files) ? (offer.files as OfferedFileOnWire[]) : null;
}

/** Another SHA-256 (hex) of the same length: every digit replaced by its complement. */
function otherDigest(sha256: string): string {
  return sha256.replace(/[0-9a-f]/g, (digit) => (15 - Number.parseInt(digit, 16)).toString(16));
}

/** What a hostile wire keeps across its streams. */
class HostileState {
  readonly rules = new Map<string, OfferRewrite>();
  /** Transfers declared smaller than they are: transfer id → the real size the sender goes on to. */
  readonly overruns = new Map<string, number>();
  /** Transfers whose file.end gets another digest. */
  readonly wrongDigests = new Set<string>();

  constructor(readonly lies: SizeLies | null) {}
}

/**
 * A hostile peer's transport: P2P streams (anything not to `serverAddress`) are decoded frame by
 * frame on their way out, and offers that match a rule are rewritten; on their way in, the
 * receiver's credit for a transfer declared smaller than it is reads as reaching its real end.
 * Frames are re-encoded one by one, so the far side sees well-formed frames with hostile content.
 */
export class HostileWire implements Transport {
  private readonly state: HostileState;

  constructor(
    private readonly inner: Transport,
    private readonly serverAddress: string,
    /** Where the lies about sizes are recorded (for the checker); none: not recorded. */
    lies: SizeLies | null = null,
  ) {
    this.state = new HostileState(lies);
  }

  /** The next offer of a file named `sentName` is rewritten by `rewrite`. */
  rewriteOffer(sentName: string, rewrite: OfferRewrite): void {
    this.state.rules.set(sentName, rewrite);
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: Parameters<Transport['listen']>[3]): void {
    this.inner.listen(host, port, (stream) => onAccept(new RewritingStream(stream, this.state)), onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    if (host === this.serverAddress) return this.inner.connect(host, port, events);
    return new RewritingStream(null, this.state).connectThrough(events, (stream) => this.inner.connect(host, port, stream));
  }
}

/** What reaches a hostile sender: the credit of a transfer it declared smaller reaches the real end. */
function widenCredit(overruns: ReadonlyMap<string, number>): FrameEdit {
  return (frame) => {
    if (frame.kind !== 'control' || overruns.size === 0) return frame;
    const credit = frame.message as { type?: unknown; transferId?: unknown; limit?: unknown };
    if (credit.type !== 'file.accept' && credit.type !== 'file.resume' && credit.type !== 'file.credit') return frame;
    const realBytes = typeof credit.transferId === 'string' ? overruns.get(credit.transferId) : undefined;
    if (realBytes === undefined || typeof credit.limit !== 'number' || credit.limit >= realBytes) return frame;
    return { kind: 'control', message: { ...credit, limit: realBytes } };
  };
}

/** A hostile peer's P2P stream: offers rewritten on the way out, credit widened on the way in. */
class RewritingStream extends ForwardingStream {
  private readonly decoder = new FrameDecoder();
  /** What comes in, decoded to widen the credit of transfers declared smaller than they are. */
  private readonly inbound = new FrameDecoder();
  private readonly widen: FrameEdit;
  /** Data streams (the offer's `stream` numbers) whose bytes are dropped. */
  private readonly stalled = new Set<number>();
  /** Their transfer ids: the sender's final frame (file.end) is dropped too, so nothing ever moves. */
  private readonly stalledTransfers = new Set<string>();

  constructor(
    /** Given for an accepted stream; null for an outgoing one (connectThrough). */
    inner: Stream | null,
    private readonly state: HostileState,
  ) {
    super(inner);
    this.widen = widenCredit(state.overruns);
  }

  override onData(bytes: Uint8Array): void {
    const read = reframe(this.inbound, bytes, this.widen);
    // Nothing whole yet: nothing to deliver.
    if (read.byteLength > 0) super.onData(read);
  }

  override write(bytes: Uint8Array): boolean {
    const out = reframe(this.decoder, bytes, (frame) => this.rewrite(frame));
    // Nothing whole yet, or only dropped frames: nothing goes out.
    return out.byteLength === 0 ? true : super.write(out);
  }

  private rewrite(frame: Frame): Frame | null {
    if (frame.kind === 'data') return this.stalled.has(frame.streamId) ? null : frame;
    const message = frame.message as { type?: unknown; transferId?: unknown; sha256?: unknown };
    if (message.type === 'file.end' && typeof message.transferId === 'string') {
      if (this.stalledTransfers.has(message.transferId)) return null;
      if (this.state.wrongDigests.delete(message.transferId) && typeof message.sha256 === 'string') return { kind: 'control', message: { ...message, sha256: otherDigest(message.sha256) } };
      return frame;
    }
    const files = offeredFiles(message);
    return files === null ? frame : { kind: 'control', message: { ...message, files: files.map((file) => this.rewriteFile(file)) } };
  }

  private rewriteFile(file: OfferedFileOnWire): OfferedFileOnWire {
    const state = this.state;
    const rule = state.rules.get(file.name);
    if (rule === undefined) return file;
    state.rules.delete(file.name);
    if (rule.stall === true) {
      this.stalled.add(file.stream);
      this.stalledTransfers.add(file.transferId);
    }
    if (rule.wrongDigest === true) state.wrongDigests.add(file.transferId);
    const declared = rule.declaredBytes;
    if (declared !== undefined && declared !== file.size) {
      state.lies?.record(file.transferId, { declaredBytes: declared, actualBytes: file.size });
      if (declared < file.size) state.overruns.set(file.transferId, file.size);
    }
    return { ...file, ...(rule.name === undefined ? {} : { name: rule.name }), ...(declared === undefined ? {} : { size: declared }) };
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
