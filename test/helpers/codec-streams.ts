/**
 * Byte streams of frames for the codec's property tests: arbitraries for frames, their encoding,
 * joining and cutting streams as a socket would deliver them, and draining a decoder.
 */
import fc from 'fast-check';
import { type DecodeError, type Frame, type FrameDecoder, encodeControl, encodeData } from '../../core/codec.ts';
import { CONTROL_FRAME_BYTES_MAX } from '../../core/limits.ts';

export type Decoded = Frame | DecodeError;

/** Pulls every frame the decoder can give now (bounded: a decoder yields at most one per byte). */
export function drain(decoder: FrameDecoder, limit = 100_000): Decoded[] {
  const out: Decoded[] = [];
  for (let item = decoder.next(); item !== null; item = decoder.next()) {
    out.push(item);
    if (out.length > limit) throw new Error('decoder did not stop');
  }
  return out;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

/**
 * Cuts `bytes` at the given points (each taken modulo the length). With `copy`, each part gets a
 * buffer of its own, as a socket delivers reads; otherwise the parts are views of `bytes`.
 */
export function split(bytes: Uint8Array, cuts: readonly number[], copy = false): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const parts: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.byteLength]) {
    parts.push(copy ? bytes.slice(from, point) : bytes.subarray(from, point));
    from = point;
  }
  return parts;
}

export interface FrameSpecLimits {
  readonly jsonDepthMax: number;
  readonly keysMax: number;
  readonly dataBytesMax: number;
  /** Data frame offsets to try. */
  readonly offset: fc.Arbitrary<number>;
  /**
   * Now and then a control frame of exactly, or just under, CONTROL_FRAME_BYTES_MAX bytes, made of
   * multi-byte characters: the encoder's path for text longer than its fast bound. Only for
   * decoders that accept the full limit.
   */
  readonly nearControlLimit?: boolean;
}

/**
 * Keys and strings as a hostile or careless peer sends them: empty, prototype names, NUL, line
 * separators, multi-byte and astral characters, lone surrogates (which JSON.stringify escapes).
 */
const EDGE_STRINGS = ['', 'type', 'id', '__proto__', 'constructor', '\u0000', '"', '\\', '\u2028', 'é', '中', '\uD83D\uDE00', '\uD800', '\uDFFF', '\uFFFD'];

function edgeString(maxLength: number): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 2, arbitrary: fc.constantFrom(...EDGE_STRINGS) },
    { weight: 2, arbitrary: fc.string({ maxLength, unit: 'binary' }) },
    { weight: 1, arbitrary: fc.string({ maxLength }) },
  );
}

/** Numbers JSON carries at their edges: zero and minus zero, the safe-integer bounds, tiny and huge doubles. */
const EDGE_NUMBERS = [0, -0, 1, -1, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53, 2 ** 32, 0.1, 5e-324, 1.7976931348623157e308];

/** A control message whose JSON is `bytes` long (up to 3 more), built of 2- and 3-byte characters. */
function controlMessageOfBytes(bytes: number, fill: string): Record<string, fc.JsonValue> {
  const overhead = JSON.stringify({ pad: '' }).length;
  const fillBytes = new TextEncoder().encode(fill).byteLength;
  return { pad: fill.repeat(Math.floor((bytes - overhead) / fillBytes)) };
}

export function controlMessages(limits: FrameSpecLimits): fc.Arbitrary<Record<string, fc.JsonValue>> {
  const value = fc.oneof(
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: limits.jsonDepthMax, stringUnit: 'binary' }) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: limits.jsonDepthMax }) },
    { weight: 1, arbitrary: edgeString(8) },
    { weight: 1, arbitrary: fc.constantFrom(...EDGE_NUMBERS) },
  );
  const ordinary = fc.dictionary(edgeString(8), value, { maxKeys: limits.keysMax });
  if (limits.nearControlLimit !== true) return ordinary;
  const nearLimit = fc
    .tuple(fc.integer({ min: CONTROL_FRAME_BYTES_MAX - 8, max: CONTROL_FRAME_BYTES_MAX }), fc.constantFrom('é', '中'))
    .map(([bytes, fill]) => controlMessageOfBytes(bytes, fill));
  return fc.oneof({ weight: 19, arbitrary: ordinary }, { weight: 1, arbitrary: nearLimit });
}

/** Stream ids at the u32 edges as often as anywhere else. */
const EDGE_STREAM_IDS = [0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff];

export function dataFrames(limits: FrameSpecLimits): fc.Arbitrary<{ streamId: number; offset: number; bytes: Uint8Array }> {
  return fc.record({
    streamId: fc.oneof(fc.constantFrom(...EDGE_STREAM_IDS), fc.nat({ max: 0xffff_ffff })),
    offset: limits.offset,
    bytes: fc.oneof({ weight: 1, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 4, arbitrary: fc.uint8Array({ maxLength: limits.dataBytesMax }) }),
  });
}

export type FrameSpec =
  | { readonly kind: 'control'; readonly message: Record<string, fc.JsonValue> }
  | { readonly kind: 'data'; readonly streamId: number; readonly offset: number; readonly bytes: Uint8Array };

/** Control or data frames, as plain specs to encode and to compare against. */
export function frameSpecs(limits: FrameSpecLimits): fc.Arbitrary<FrameSpec> {
  return fc.oneof(
    controlMessages(limits).map((message): FrameSpec => ({ kind: 'control', message })),
    dataFrames(limits).map((d): FrameSpec => ({ kind: 'data', ...d })),
  );
}

export function encodeSpec(spec: FrameSpec): Uint8Array {
  return spec.kind === 'control' ? encodeControl(spec.message) : encodeData(spec.streamId, spec.offset, spec.bytes);
}
