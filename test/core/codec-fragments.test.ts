/**
 * The decoder's fragment mode (dataFragments), which the P2P channels use for file data: a data
 * frame comes out in pieces as its bytes arrive, each a view of a received chunk. Proven here: the
 * pieces of every frame, joined, are that frame as the whole-frame decoder gives it, whatever the
 * chunking; no piece is a copy, except of bytes that came in reads under SMALL_CHUNK_BYTES behind
 * buffered ones (the decoder copies those together, see FrameDecoder); control frames and errors
 * are unchanged. Replay a property failure
 * with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/codec-fragments.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATA_HEADER_BYTES, FRAME_HEADER_BYTES, FRAME_KIND_DATA, FrameDecoder, SMALL_CHUNK_BYTES, encodeControl, encodeData } from '../../core/codec.ts';
import { FRAME_BYTES_MAX, PROTOCOL_VERSION } from '../../core/limits.ts';
import { type Decoded, concat, drain, encodeSpec, frameSpecs, split } from '../helpers/codec-streams.ts';
import { replay } from '../helpers/fc-replay.ts';

const anySpec = frameSpecs({
  jsonDepthMax: 2,
  keysMax: 4,
  dataBytesMax: 3000,
  offset: fc.oneof(fc.nat({ max: 2 ** 40 }), fc.constantFrom(0, 2 ** 32 - 1, 2 ** 32, Number.MAX_SAFE_INTEGER - 5000)),
});

function decodeFragments(parts: readonly Uint8Array[]): Decoded[] {
  const decoder = new FrameDecoder({ dataFragments: true });
  const out: Decoded[] = [];
  for (const part of parts) {
    decoder.push(part);
    out.push(...drain(decoder));
  }
  expect(decoder.buffered).toBe(0);
  return out;
}

/** Whether a piece is a view of one of the chunks pushed (no copy). */
function viewOfPushed(parts: readonly Uint8Array[], bytes: Uint8Array): boolean {
  return parts.some((part) => part.buffer === bytes.buffer);
}

/** For each byte of the stream, whether it arrived in a read small enough for the decoder to copy. */
function smallReadBytes(parts: readonly Uint8Array[]): Uint8Array {
  const flags = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    if (part.byteLength < SMALL_CHUNK_BYTES) flags.fill(1, at, at + part.byteLength);
    at += part.byteLength;
  }
  return flags;
}

describe('decoder fragment mode', () => {
  it('property: for any frames and any chunking, each data frame comes out as in-order non-empty views whose join is the frame; control frames are unchanged', () => {
    fc.assert(
      fc.property(fc.array(anySpec, { minLength: 1, maxLength: 10 }), fc.array(fc.nat(), { maxLength: 60 }), (specs, cuts) => {
        const encoded = specs.map(encodeSpec);
        const parts = split(concat(encoded), cuts, true);
        const got = decodeFragments(parts);
        const small = smallReadBytes(parts);
        let at = 0;
        let frameStart = 0;
        for (const [index, spec] of specs.entries()) {
          const bodyStart = frameStart + FRAME_HEADER_BYTES + DATA_HEADER_BYTES;
          frameStart += (encoded[index] as Uint8Array).byteLength;
          if (spec.kind === 'control') {
            expect(got[at++]).toEqual({ kind: 'control', message: JSON.parse(JSON.stringify(spec.message)) });
            continue;
          }
          // The pieces of this frame: at least one (an empty frame comes out once, empty).
          const pieces: Uint8Array[] = [];
          let next = spec.offset;
          do {
            const item = got[at++];
            if (item?.kind !== 'data') throw new Error(`expected a data piece, got ${JSON.stringify(item)}`);
            expect(item.streamId).toBe(spec.streamId);
            expect(item.offset).toBe(next);
            if (spec.bytes.byteLength > 0) expect(item.bytes.byteLength).toBeGreaterThan(0);
            if (item.bytes.byteLength > 0 && !viewOfPushed(parts, item.bytes)) {
              const from = bodyStart + (item.offset - spec.offset);
              expect(small.subarray(from, from + item.bytes.byteLength).every((flag) => flag === 1)).toBe(true);
            }
            pieces.push(item.bytes);
            next += item.bytes.byteLength;
          } while (next < spec.offset + spec.bytes.byteLength);
          expect(concat(pieces)).toEqual(spec.bytes);
        }
        expect(at).toBe(got.length);
      }),
      { numRuns: 300, ...replay },
    );
  });

  it('inside a data frame whose bytes come in pieces, nothing is buffered yet the decoder is not at a frame boundary', () => {
    const decoder = new FrameDecoder({ dataFragments: true });
    const frame = encodeData(7, 0, new Uint8Array(100).fill(9));
    decoder.push(frame.subarray(0, FRAME_HEADER_BYTES + DATA_HEADER_BYTES + 40));
    expect(drain(decoder)).toMatchObject([{ kind: 'data', streamId: 7, offset: 0 }]);
    expect(decoder.buffered).toBe(0);
    expect(decoder.atFrameBoundary).toBe(false);
    decoder.push(frame.subarray(FRAME_HEADER_BYTES + DATA_HEADER_BYTES + 40));
    expect(drain(decoder)).toMatchObject([{ kind: 'data', streamId: 7, offset: 40 }]);
    expect(decoder.atFrameBoundary).toBe(true);
  });

  it('a data frame inside one chunk comes out as one view of that chunk, not a copy', () => {
    const bytes = new Uint8Array(256 * 1024).map((_, i) => i & 0xff);
    const chunk = concat([encodeControl({ type: 'x' }), encodeData(3, 1000, bytes), encodeControl({ type: 'y' })]);
    const decoder = new FrameDecoder({ dataFragments: true });
    decoder.push(chunk);
    const [first, data, last, ...rest] = drain(decoder);
    expect(rest).toEqual([]);
    expect(first).toEqual({ kind: 'control', message: { type: 'x' } });
    expect(last).toEqual({ kind: 'control', message: { type: 'y' } });
    if (data?.kind !== 'data') throw new Error('expected data');
    expect(data.bytes.buffer).toBe(chunk.buffer);
    expect(data.offset).toBe(1000);
    expect(data.bytes).toEqual(bytes);
  });

  it('a large data frame over 64 KiB socket reads costs one piece per read and no copy', () => {
    const bytes = new Uint8Array(300 * 1024).map((_, i) => (i * 7) & 0xff);
    const parts = split(encodeData(1, 0, bytes), Array.from({ length: 5 }, (_, i) => (i + 1) * 64 * 1024), true);
    const got = decodeFragments(parts);
    expect(got).toHaveLength(parts.length);
    for (const item of got) expect(item.kind === 'data' && viewOfPushed(parts, item.bytes)).toBe(true);
    expect(concat(got.map((item) => (item.kind === 'data' ? item.bytes : new Uint8Array())))).toEqual(bytes);
  });

  it('a data frame too short for its own header, one whose bytes would reach past 2^53, and an oversized one are refused', () => {
    const short = concat([new Uint8Array([PROTOCOL_VERSION, FRAME_KIND_DATA, 0, 0, 0, 4]), new Uint8Array(4)]);
    expect(decodeFragments([short])).toMatchObject([{ kind: 'error', code: 'BAD_FRAME' }]);
    // Its bytes are passed over: the frame after it decodes as usual, however the bytes were split.
    const pastLimit = concat([encodeData(1, Number.MAX_SAFE_INTEGER - 1, new Uint8Array(10)), encodeControl({ type: 'after' })]);
    for (let cut = 0; cut <= pastLimit.byteLength; cut++) {
      expect(decodeFragments(split(pastLimit, [cut, cut + 7], true))).toMatchObject([
        { kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' },
        { kind: 'control', message: { type: 'after' } },
      ]);
    }
    // Its bytes spread over several reads buffered before anyone asks: one drain gives the error and the frame after.
    const buffered = new FrameDecoder({ dataFragments: true });
    for (const part of split(pastLimit, [FRAME_HEADER_BYTES + DATA_HEADER_BYTES + 2, FRAME_HEADER_BYTES + DATA_HEADER_BYTES + 5], true)) buffered.push(part);
    expect(drain(buffered)).toMatchObject([{ kind: 'error', code: 'BAD_FRAME' }, { kind: 'control', message: { type: 'after' } }]);
    // An empty one past 2^53 is the error alone: the data frame after it comes out whole, nothing skipped.
    const emptyPastLimit = encodeData(1, 0, new Uint8Array(0)).slice();
    new DataView(emptyPastLimit.buffer).setUint32(FRAME_HEADER_BYTES + 4, 0xffff_ffff);
    const then = encodeData(2, 5, new Uint8Array([1, 2, 3]));
    for (const parts of [[concat([emptyPastLimit, then])], [emptyPastLimit, then]]) {
      expect(decodeFragments(parts)).toStrictEqual([
        { kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' },
        { kind: 'data', streamId: 2, offset: 5, bytes: new Uint8Array([1, 2, 3]) },
      ]);
    }
    const oversized = new Uint8Array([PROTOCOL_VERSION, FRAME_KIND_DATA, 0xff, 0, 0, 0]);
    const decoder = new FrameDecoder({ dataFragments: true });
    decoder.push(oversized);
    expect(drain(decoder)).toMatchObject([{ kind: 'error', code: 'FRAME_TOO_LARGE' }]);
    expect(decoder.failed).toBe(true);
    expect(decoder.buffered).toBe(0);
  });

  it('property: hostile bytes never make it throw, and a stream-breaking error is the last thing it yields', () => {
    const hostile = fc.oneof(
      fc.uint8Array({ maxLength: 400 }),
      // Payload lengths at the edges that matter: empty, a data header short or exact, the limit and one past it.
      fc.tuple(fc.oneof(fc.nat({ max: 0xffff_ffff }), fc.constantFrom(0, DATA_HEADER_BYTES - 1, DATA_HEADER_BYTES, DATA_HEADER_BYTES + 1, FRAME_BYTES_MAX, FRAME_BYTES_MAX + 1, 0xffff_ffff)), fc.uint8Array({ maxLength: 200 })).map(([length, rest]) =>
        concat([new Uint8Array([PROTOCOL_VERSION, FRAME_KIND_DATA, length >>> 24, (length >>> 16) & 0xff, (length >>> 8) & 0xff, length & 0xff]), rest]),
      ),
    );
    fc.assert(
      fc.property(fc.array(hostile, { maxLength: 4 }), fc.array(fc.nat(), { maxLength: 20 }), (pieces, cuts) => {
        const decoder = new FrameDecoder({ dataFragments: true });
        let broken = false;
        for (const part of split(concat(pieces), cuts, true)) {
          decoder.push(part);
          const items = drain(decoder);
          if (broken) expect(items).toEqual([]);
          if (decoder.failed) {
            broken = true;
            expect(decoder.buffered).toBe(0);
          }
        }
      }),
      { numRuns: 300, ...replay },
    );
  });

  it('holds no frame bytes back: after each push, what stays buffered is at most a header or an unfinished control frame', () => {
    const bytes = new Uint8Array(100_000);
    const stream = encodeData(2, 0, bytes);
    const decoder = new FrameDecoder({ dataFragments: true });
    for (let at = 0; at < stream.byteLength; at += 1000) {
      decoder.push(stream.slice(at, at + 1000));
      drain(decoder);
      expect(decoder.buffered).toBeLessThan(FRAME_HEADER_BYTES + 12);
    }
  });
});
