/** Pulls what a FrameDecoder can give now, for codec tests. */
import type { DecodeError, Frame, FrameDecoder } from '../../core/codec.ts';

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
