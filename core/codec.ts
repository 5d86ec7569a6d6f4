/**
 * The wire codec: versioned, length-prefixed frames.
 *
 * Byte layout of every frame (big-endian):
 *
 *   offset 0  u8   version       PROTOCOL_VERSION
 *   offset 1  u8   kind          FRAME_KIND_CONTROL (JSON) or FRAME_KIND_DATA (binary)
 *   offset 2  u32  payloadBytes  checked against the limit before any payload is buffered
 *   offset 6  ...  payload
 *
 * A control payload is one UTF-8 JSON object. A data payload is
 *
 *   offset 0  u32  streamId      which transfer stream the bytes belong to
 *   offset 4  u32  offsetHigh    byte offset of this chunk in the stream (two u32 halves,
 *   offset 8  u32  offsetLow       so offsets up to 2^53 fit)
 *   offset 12 ...  bytes         raw file bytes: never base64
 *
 * The decoder is incremental over arbitrary chunk boundaries and never throws on remote input:
 * a broken stream yields one DecodeError and then nothing more.
 *
 * With `dataFragments` set, a data frame's bytes come out as they arrive instead of all at once:
 * one DataFrame per received chunk the frame's bytes sit in, each a view of that chunk (never a
 * copy), with the offset of its first byte. A receiver that only needs each byte once, in order,
 * at its offset (file transfer) sees the same bytes either way; a large frame then costs no copy
 * however the socket split it.
 */
import { CONTROL_FRAME_BYTES_MAX, FRAME_BYTES_MAX, PROTOCOL_VERSION } from './limits.ts';
import type { ErrorCode } from './errors.ts';

export const FRAME_HEADER_BYTES = 6;
export const DATA_HEADER_BYTES = 12;
/**
 * A chunk smaller than this that arrives behind buffered bytes is copied into a block rather than
 * held as it is: a chunk object costs about 100 bytes of heap whatever its size, so at 1 KiB the
 * overhead of the chunks held stays under a tenth of the bytes they hold.
 */
export const SMALL_CHUNK_BYTES = 1024;
/** Blocks small chunks are copied into: 32 of them hold a whole maximal frame. */
const COALESCE_BLOCK_BYTES = 16 * 1024;
export const FRAME_KIND_CONTROL = 0x01;
export const FRAME_KIND_DATA = 0x02;
const U32_SPAN = 0x1_0000_0000;

export interface ControlFrame {
  readonly kind: 'control';
  /** Parsed JSON, not yet validated against a schema. */
  readonly message: unknown;
}

export interface DataFrame {
  readonly kind: 'data';
  readonly streamId: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
}

export type Frame = ControlFrame | DataFrame;

export interface DecodeError {
  readonly kind: 'error';
  readonly code: ErrorCode;
  readonly detail: string;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

// Byte writes, not a DataView: this runs for every frame and a DataView is an allocation.
function writeHeader(target: Uint8Array, kind: number, payloadBytes: number): void {
  target[0] = PROTOCOL_VERSION;
  target[1] = kind;
  target[2] = (payloadBytes >>> 24) & 0xff;
  target[3] = (payloadBytes >>> 16) & 0xff;
  target[4] = (payloadBytes >>> 8) & 0xff;
  target[5] = payloadBytes & 0xff;
}

/**
 * Where a control frame is assembled before it is copied out at its exact size: one allocation
 * per frame instead of two (the encoded JSON and the frame). Big enough for any frame the limit
 * allows (UTF-8 takes at most 3 bytes per UTF-16 unit); a longer string is over the limit anyway.
 */
const controlScratch = new Uint8Array(FRAME_HEADER_BYTES + CONTROL_FRAME_BYTES_MAX);
const controlScratchPayload = controlScratch.subarray(FRAME_HEADER_BYTES);

/** Encodes one JSON control frame. Throws only on our own misuse (an oversized message). */
export function encodeControl(message: object): Uint8Array {
  const text = JSON.stringify(message);
  let jsonBytes: number;
  if (text.length * 3 <= CONTROL_FRAME_BYTES_MAX) {
    jsonBytes = textEncoder.encodeInto(text, controlScratchPayload).written;
  } else {
    const json = textEncoder.encode(text);
    jsonBytes = json.byteLength;
    if (jsonBytes > CONTROL_FRAME_BYTES_MAX) {
      throw new RangeError(`control frame of ${jsonBytes} bytes exceeds ${CONTROL_FRAME_BYTES_MAX}`);
    }
    controlScratch.set(json, FRAME_HEADER_BYTES);
  }
  writeHeader(controlScratch, FRAME_KIND_CONTROL, jsonBytes);
  return controlScratch.slice(0, FRAME_HEADER_BYTES + jsonBytes);
}

/**
 * The frame and data headers of a data frame carrying `chunkBytes` bytes. A runtime writes this
 * and then the chunk itself, so file bytes are never copied into a new buffer.
 */
export function encodeDataHeader(streamId: number, offset: number, chunkBytes: number): Uint8Array {
  const payloadBytes = DATA_HEADER_BYTES + chunkBytes;
  if (payloadBytes > FRAME_BYTES_MAX) throw new RangeError(`data frame of ${payloadBytes} bytes exceeds ${FRAME_BYTES_MAX}`);
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`bad data offset ${offset}`);
  const header = new Uint8Array(FRAME_HEADER_BYTES + DATA_HEADER_BYTES);
  writeHeader(header, FRAME_KIND_DATA, payloadBytes);
  const view = new DataView(header.buffer);
  view.setUint32(FRAME_HEADER_BYTES, streamId >>> 0);
  view.setUint32(FRAME_HEADER_BYTES + 4, Math.floor(offset / U32_SPAN));
  view.setUint32(FRAME_HEADER_BYTES + 8, offset % U32_SPAN);
  return header;
}

/** Encodes one whole data frame (header and bytes in one buffer). */
export function encodeData(streamId: number, offset: number, bytes: Uint8Array): Uint8Array {
  const header = encodeDataHeader(streamId, offset, bytes.byteLength);
  const frame = new Uint8Array(header.byteLength + bytes.byteLength);
  frame.set(header, 0);
  frame.set(bytes, header.byteLength);
  return frame;
}

export interface DecoderOptions {
  /** Largest payload accepted; defaults to FRAME_BYTES_MAX. */
  readonly frameBytesMax?: number;
  /** Control payloads decoded without the UTF-8 decoder and JSON parser (see knownPayload). */
  readonly knownPayloads?: readonly KnownPayload[];
  /** Data frames come out in pieces as their bytes arrive, each a view, never a copy (see above). */
  readonly dataFragments?: boolean;
}

/** A control payload common enough to skip JSON parsing for: its exact bytes and what they parse to. */
export interface KnownPayload {
  readonly json: Uint8Array;
  /** A fresh copy of the message each time, as JSON.parse would give. */
  readonly message: () => unknown;
}

/**
 * A known payload for a flat message (primitive values only, so a shallow copy is a full one).
 * A payload byte-equal to its JSON is what JSON.parse would turn into an equal object: a
 * server's commonest frame (the heartbeat) then costs a byte comparison instead of a parse.
 */
export function knownPayload(message: Readonly<Record<string, string | number | boolean>>): KnownPayload {
  const template = { ...message };
  return { json: textEncoder.encode(JSON.stringify(template)), message: () => ({ ...template }) };
}

const NO_KNOWN_PAYLOADS: readonly KnownPayload[] = [];

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return sameBytesAt(a, 0, b, a.byteLength);
}

/** Whether the `count` bytes of `a` from `at` are exactly `b`. */
function sameBytesAt(a: Uint8Array, at: number, b: Uint8Array, count: number): boolean {
  if (b.byteLength !== count) return false;
  for (let i = 0; i < count; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/**
 * Incremental frame decoder. `push` bytes as they arrive, then call `next` until it returns null.
 * Buffered bytes never exceed one frame header plus one maximal frame payload.
 *
 * A server holds one per connection, and nearly always nothing is buffered between frames: the
 * chunk being read sits in a field, and an array for the chunks after it exists only while more
 * than one is buffered. An idle decoder holds no chunk and no array.
 *
 * A peer that trickles a frame a byte per socket read must cost what the frame's bytes cost, not
 * a chunk object per byte: chunks under SMALL_CHUNK_BYTES that arrive behind others are copied
 * together into blocks of COALESCE_BLOCK_BYTES, so the chunks held stay few (at most about
 * buffered / SMALL_CHUNK_BYTES + 2) and taking the next one stays cheap. Before, a 512 KiB frame
 * sent a byte at a time held 524,288 chunks (about 60 MB of heap) and took minutes to decode.
 */
export class FrameDecoder {
  private frameBytesMax: number;
  private readonly knownPayloads: readonly KnownPayload[];
  /** The chunk being read, or null when nothing is buffered. */
  private head: Uint8Array | null = null;
  /** Read position inside head. */
  private headOffset = 0;
  /** Chunks buffered after head, oldest first; null when there are none. */
  private rest: Uint8Array[] | null = null;
  /**
   * The block small chunks are being copied into; while set, `rest`'s last chunk is its first
   * `coalescedBytes` bytes. Null when rest's last chunk is a chunk as it was pushed.
   */
  private coalesceBlock: Uint8Array | null = null;
  private coalescedBytes = 0;
  private bufferedBytes = 0;
  private failure: DecodeError | null = null;
  private failureReported = false;
  /** Parsed header of the frame being assembled, once its 6 bytes have arrived. */
  private pendingKind = -1;
  private pendingBytes = 0;
  private readonly dataFragments: boolean;
  /** Fragment mode, inside a data frame's bytes: how many are still to come (-1: not inside one). */
  private bodyRemaining = -1;
  private bodyStreamId = 0;
  /** Stream offset of the next fragment's first byte. */
  private bodyOffset = 0;
  /** The frame was refused (its bytes would reach past 2^53): its bytes are passed over, not returned. */
  private bodySkipped = false;

  constructor(options: DecoderOptions = {}) {
    this.frameBytesMax = Math.min(options.frameBytesMax ?? FRAME_BYTES_MAX, FRAME_BYTES_MAX);
    this.knownPayloads = options.knownPayloads ?? NO_KNOWN_PAYLOADS;
    this.dataFragments = options.dataFragments ?? false;
  }

  /**
   * Frames read from here on may be as large as `frameBytesMax` (at most FRAME_BYTES_MAX): a
   * stream held to small frames until it proved who it is (a P2P hello) is let open once it has.
   */
  allowFrameBytes(frameBytesMax: number): void {
    this.frameBytesMax = Math.min(frameBytesMax, FRAME_BYTES_MAX);
  }

  /**
   * Bytes received and not yet read. A frame's header is read as soon as its 6 bytes are here, so
   * a header alone, waiting for its payload, counts 0: ask atFrameBoundary whether a frame is begun.
   */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /**
   * Whether the next byte pushed starts a frame: nothing buffered, no header read waiting for its
   * payload, no data frame's bytes still coming in fragments. What a reader that recognises a
   * whole frame by its bytes before pushing them must ask (the server link's heartbeat.ack).
   */
  get atFrameBoundary(): boolean {
    // Stryker disable next-line EqualityOperator: `<= 0` reads the same: pendingKind is -1 or a frame kind (1, 2), and bodyRemaining never rests at 0 (set to -1 when it gets there)
    return this.bufferedBytes === 0 && this.pendingKind < 0 && this.bodyRemaining < 0;
  }

  get failed(): boolean {
    return this.failure !== null;
  }

  push(bytes: Uint8Array): void {
    if (this.failure !== null || bytes.byteLength === 0) return;
    this.bufferedBytes += bytes.byteLength;
    if (this.head === null) {
      this.head = bytes;
      return;
    }
    const rest = (this.rest ??= []);
    if (bytes.byteLength < SMALL_CHUNK_BYTES) return this.coalesce(rest, bytes);
    this.sealBlock(rest);
    rest.push(bytes);
  }

  /** How many separate chunks the buffered bytes sit in (bounded: see the class comment). */
  get heldChunks(): number {
    return (this.head === null ? 0 : 1) + (this.rest?.length ?? 0);
  }

  /** Copies a small chunk onto the end of rest's last block, or into a new block. */
  private coalesce(rest: Uint8Array[], bytes: Uint8Array): void {
    const block = this.coalesceBlock;
    if (block !== null && this.coalescedBytes + bytes.byteLength <= block.byteLength) {
      block.set(bytes, this.coalescedBytes);
      this.coalescedBytes += bytes.byteLength;
      rest[rest.length - 1] = block.subarray(0, this.coalescedBytes);
      return;
    }
    this.sealBlock(rest);
    const fresh = new Uint8Array(COALESCE_BLOCK_BYTES);
    fresh.set(bytes);
    this.coalesceBlock = fresh;
    this.coalescedBytes = bytes.byteLength;
    rest.push(fresh.subarray(0, bytes.byteLength));
  }

  /**
   * Stops copying into the current block. A block mostly empty is replaced by a copy of its bytes,
   * so small chunks between large ones never hold a whole block each.
   */
  private sealBlock(rest: Uint8Array[]): void {
    const block = this.coalesceBlock;
    if (block === null) return;
    if (this.coalescedBytes * 2 < block.byteLength) rest[rest.length - 1] = block.slice(0, this.coalescedBytes);
    this.coalesceBlock = null;
  }

  /** The next complete frame, a DecodeError once if the stream is broken, or null for "need more bytes". */
  next(): Frame | DecodeError | null {
    if (this.failure !== null) return this.reportFailure();
    if (this.bodyRemaining >= 0) {
      const fragment = this.nextFragment();
      if (fragment !== null || this.bodyRemaining >= 0) return fragment;
    }
    if (this.pendingKind < 0) {
      if (this.bufferedBytes < FRAME_HEADER_BYTES) return null;
      // Read in place when the header sits in one chunk (the usual case): no view to allocate.
      const head = this.head as Uint8Array;
      let failure: { code: ErrorCode; detail: string } | null;
      if (head.byteLength - this.headOffset >= FRAME_HEADER_BYTES) {
        failure = this.parseHeader(head, this.headOffset);
        this.bufferedBytes -= FRAME_HEADER_BYTES;
        this.advanceHead(head, FRAME_HEADER_BYTES);
      } else {
        failure = this.parseHeader(this.take(FRAME_HEADER_BYTES), 0);
      }
      if (failure !== null) return this.fail(failure.code, failure.detail);
    }
    if (this.dataFragments && this.pendingKind === FRAME_KIND_DATA && this.pendingBytes >= DATA_HEADER_BYTES) return this.startBody();
    if (this.bufferedBytes < this.pendingBytes) return null;
    const kind = this.pendingKind;
    const payloadBytes = this.pendingBytes;
    this.pendingKind = -1;
    this.pendingBytes = 0;
    if (kind === FRAME_KIND_CONTROL) {
      // A known payload (a heartbeat) compared where it lies: no view allocated for it.
      const known = this.knownInPlace(payloadBytes);
      if (known !== null) {
        this.bufferedBytes -= payloadBytes;
        this.advanceHead(this.head as Uint8Array, payloadBytes);
        return { kind: 'control', message: known.message() };
      }
    }
    const payload = this.take(payloadBytes);
    return kind === FRAME_KIND_CONTROL ? this.decodeControl(payload) : decodeDataPayload(payload);
  }

  /** The known payload that the next `payloadBytes` bytes are, when they sit in the head chunk. */
  private knownInPlace(payloadBytes: number): KnownPayload | null {
    const head = this.head;
    if (head === null || head.byteLength - this.headOffset < payloadBytes) return null;
    for (const known of this.knownPayloads) if (sameBytesAt(head, this.headOffset, known.json, payloadBytes)) return known;
    return null;
  }

  /** Fragment mode: reads a data frame's own header once its 12 bytes are here, then its first fragment. */
  private startBody(): DataFrame | DecodeError | null {
    if (this.bufferedBytes < DATA_HEADER_BYTES) return null;
    const header = this.take(DATA_HEADER_BYTES);
    const bodyBytes = this.pendingBytes - DATA_HEADER_BYTES;
    this.pendingKind = -1;
    this.pendingBytes = 0;
    const streamId = readU32(header, 0);
    const offset = readU32(header, 4) * U32_SPAN + readU32(header, 8);
    this.bodyStreamId = streamId;
    this.bodyOffset = offset;
    this.bodyRemaining = bodyBytes;
    if (!Number.isSafeInteger(offset + bodyBytes)) {
      // Refused like a whole frame with a bad offset: reported once, its bytes passed over.
      this.bodySkipped = bodyBytes > 0;
      if (bodyBytes === 0) this.bodyRemaining = -1;
      return { kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' };
    }
    if (bodyBytes === 0) {
      // An empty data frame still comes out, once, as it would whole.
      this.bodyRemaining = -1;
      return { kind: 'data', streamId, offset, bytes: header.subarray(DATA_HEADER_BYTES) };
    }
    return this.nextFragment();
  }

  /**
   * Fragment mode: the frame's bytes that sit in the head chunk, as a view of it; null when none
   * are here yet, or when a refused frame's bytes were passed over (bodyRemaining tells which).
   */
  private nextFragment(): DataFrame | null {
    for (let head = this.head; head !== null; head = this.head) {
      const count = Math.min(this.bodyRemaining, head.byteLength - this.headOffset);
      const bytes = head.subarray(this.headOffset, this.headOffset + count);
      const offset = this.bodyOffset;
      this.bufferedBytes -= count;
      this.advanceHead(head, count);
      this.bodyOffset += count;
      this.bodyRemaining -= count;
      const skipped = this.bodySkipped;
      if (this.bodyRemaining === 0) {
        this.bodyRemaining = -1;
        this.bodySkipped = false;
      }
      if (!skipped) return { kind: 'data', streamId: this.bodyStreamId, offset, bytes };
      if (this.bodyRemaining < 0) return null;
    }
    return null;
  }

  /** Parses the 6 header bytes at `at`. */
  private parseHeader(bytes: Uint8Array, at: number): { code: ErrorCode; detail: string } | null {
    const version = bytes[at] as number;
    const kind = bytes[at + 1] as number;
    const payloadBytes = headerPayloadBytes(bytes, at);
    if (version !== PROTOCOL_VERSION) return { code: 'BAD_VERSION', detail: `version ${version}, expected ${PROTOCOL_VERSION}` };
    if (kind !== FRAME_KIND_CONTROL && kind !== FRAME_KIND_DATA) return { code: 'BAD_FRAME_KIND', detail: `kind ${kind}` };
    // Stryker disable next-line ConditionalExpression,EqualityOperator: CONTROL_FRAME_BYTES_MAX equals FRAME_BYTES_MAX today and frameBytesMax is at most that, so both arms are frameBytesMax (kept for when the limits part)
    const limit = kind === FRAME_KIND_CONTROL ? Math.min(CONTROL_FRAME_BYTES_MAX, this.frameBytesMax) : this.frameBytesMax;
    if (payloadBytes > limit) return { code: 'FRAME_TOO_LARGE', detail: `${payloadBytes} bytes, limit ${limit}` };
    this.pendingKind = kind;
    this.pendingBytes = payloadBytes;
    return null;
  }

  private decodeControl(payload: Uint8Array): ControlFrame | DecodeError | null {
    for (const known of this.knownPayloads) if (sameBytes(payload, known.json)) return { kind: 'control', message: known.message() };
    let message: unknown;
    try {
      message = JSON.parse(textDecoder.decode(payload));
    } catch {
      return this.fail('BAD_JSON', 'payload is not UTF-8 JSON');
    }
    return { kind: 'control', message };
  }

  private fail(code: ErrorCode, detail: string): DecodeError | null {
    this.failure = { kind: 'error', code, detail };
    this.head = null;
    this.headOffset = 0;
    this.rest = null;
    this.bufferedBytes = 0;
    return this.reportFailure();
  }

  private reportFailure(): DecodeError | null {
    if (this.failureReported) return null;
    this.failureReported = true;
    return this.failure;
  }

  /** Removes `count` buffered bytes; zero-copy when they sit inside one chunk. */
  private take(count: number): Uint8Array {
    this.bufferedBytes -= count;
    const head = this.head;
    if (head !== null && head.byteLength - this.headOffset >= count) {
      const out = head.subarray(this.headOffset, this.headOffset + count);
      this.advanceHead(head, count);
      return out;
    }
    const out = new Uint8Array(count);
    let filled = 0;
    while (filled < count) {
      const chunk = this.head;
      // Stryker disable next-line StringLiteral: unreachable (every caller checks bufferedBytes first); the check narrows the type
      if (chunk === null) throw new RangeError('decoder underflow');
      const n = Math.min(chunk.byteLength - this.headOffset, count - filled);
      out.set(chunk.subarray(this.headOffset, this.headOffset + n), filled);
      filled += n;
      this.advanceHead(chunk, n);
    }
    return out;
  }

  /** Moves past `count` bytes of head; a chunk read to its end is let go at once. */
  private advanceHead(head: Uint8Array, count: number): void {
    this.headOffset += count;
    if (this.headOffset < head.byteLength) return;
    this.headOffset = 0;
    const rest = this.rest;
    if (rest === null) {
      this.head = null;
      return;
    }
    this.head = rest.shift() ?? null;
    if (rest.length > 0) return;
    this.rest = null;
    // The block (always rest's last chunk) is now head, being read: nothing more is copied into it.
    this.coalesceBlock = null;
  }
}

/** The payload length a frame header at `at` names (its bytes must be there; nothing is checked). */
export function headerPayloadBytes(bytes: Uint8Array, at: number): number {
  return readU32(bytes, at + 2);
}

function readU32(bytes: Uint8Array, at: number): number {
  return (((bytes[at] as number) << 24) | ((bytes[at + 1] as number) << 16) | ((bytes[at + 2] as number) << 8) | (bytes[at + 3] as number)) >>> 0;
}

function decodeDataPayload(payload: Uint8Array): DataFrame | DecodeError {
  if (payload.byteLength < DATA_HEADER_BYTES) {
    return { kind: 'error', code: 'BAD_FRAME', detail: `data frame of ${payload.byteLength} bytes has no data header` };
  }
  const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
  const streamId = view.getUint32(0);
  const offset = view.getUint32(4) * U32_SPAN + view.getUint32(8);
  if (!Number.isSafeInteger(offset)) return { kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' };
  return { kind: 'data', streamId, offset, bytes: payload.subarray(DATA_HEADER_BYTES) };
}
