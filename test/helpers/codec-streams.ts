/**
 * Byte streams of frames for the codec's property tests: arbitraries for frames, their encoding,
 * joining and cutting streams as a socket would deliver them, and draining a decoder.
 */
import fc from 'fast-check';
import { type DecodeError, type Frame, type FrameDecoder, encodeControl, encodeData } from '../../core/codec.ts';

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
}

export function controlMessages(limits: FrameSpecLimits): fc.Arbitrary<Record<string, fc.JsonValue>> {
  return fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: limits.jsonDepthMax }), { maxKeys: limits.keysMax });
}

export function dataFrames(limits: FrameSpecLimits): fc.Arbitrary<{ streamId: number; offset: number; bytes: Uint8Array }> {
  return fc.record({ streamId: fc.nat({ max: 0xffff_ffff }), offset: limits.offset, bytes: fc.uint8Array({ maxLength: limits.dataBytesMax }) });
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
