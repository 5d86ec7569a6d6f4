/**
 * The wire codec: round trips, chunking independence, robustness against hostile bytes, and the
 * size limit enforced from the length prefix. Property failures print fast-check's seed and path;
 * replay one with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/codec.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DATA_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  FRAME_KIND_CONTROL,
  FRAME_KIND_DATA,
  FrameDecoder,
  SMALL_CHUNK_BYTES,
  encodeControl,
  encodeData,
  encodeDataHeader,
  headerPayloadBytes,
} from '../../core/codec.ts';
import { errorCloses } from '../../core/errors.ts';
import { CONTROL_FRAME_BYTES_MAX, FRAME_BYTES_MAX, PROTOCOL_VERSION } from '../../core/limits.ts';
import { type Decoded, type FrameSpec, concat, controlMessages, dataFrames, drain, encodeSpec, frameSpecs, split } from '../helpers/codec-streams.ts';
import { replay } from '../helpers/fc-replay.ts';

function decodeAll(bytes: Uint8Array): Decoded[] {
  const decoder = new FrameDecoder();
  decoder.push(bytes);
  return drain(decoder);
}

function header(version: number, kind: number, payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, version);
  view.setUint8(1, kind);
  view.setUint32(2, payloadBytes);
  return bytes;
}

/** Frames compared as plain data (a data frame's bytes as a plain array). */
function plain(item: Decoded): unknown {
  if (item.kind === 'data') return { kind: 'data', streamId: item.streamId, offset: item.offset, bytes: [...item.bytes] };
  return item;
}

const limits = {
  jsonDepthMax: 3,
  keysMax: 6,
  dataBytesMax: 300,
  offset: fc.oneof(fc.maxSafeNat(), fc.constantFrom(0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER - 1, Number.MAX_SAFE_INTEGER)),
};
/** With, now and then, a control frame at CONTROL_FRAME_BYTES_MAX: not for byte-at-a-time delivery (half a million pushes). */
const nearLimit = { ...limits, nearControlLimit: true };
const controlMessage = controlMessages(nearLimit);
const dataFrame = dataFrames(limits);
const anyFrame = frameSpecs(nearLimit);
const smallFrame = frameSpecs(limits);

function expectedOf(spec: FrameSpec): unknown {
  if (spec.kind === 'control') return { kind: 'control', message: JSON.parse(JSON.stringify(spec.message)) };
  return { kind: 'data', streamId: spec.streamId, offset: spec.offset, bytes: [...spec.bytes] };
}

/** Splits bytes at the given cut points (any values; they are folded into range and sorted). */
describe('codec round trips', () => {
  it('property: decode(encodeControl(m)) gives m back as JSON would', () => {
    fc.assert(
      fc.property(controlMessage, (message) => {
        expect(decodeAll(encodeControl(message))).toEqual([{ kind: 'control', message: JSON.parse(JSON.stringify(message)) }]);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('property: decode(encodeData(id, offset, bytes)) gives id, offset (up to 2^53-1) and bytes back', () => {
    fc.assert(
      fc.property(dataFrame, ({ streamId, offset, bytes }) => {
        const [frame, ...rest] = decodeAll(encodeData(streamId, offset, bytes));
        expect(rest).toEqual([]);
        expect(plain(frame!)).toEqual({ kind: 'data', streamId, offset, bytes: [...bytes] });
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('encodeDataHeader followed by the chunk is byte-identical to encodeData', () => {
    const bytes = new Uint8Array([1, 2, 3, 4, 5]);
    expect(concat([encodeDataHeader(7, 2 ** 40 + 3, bytes.byteLength), bytes])).toEqual(encodeData(7, 2 ** 40 + 3, bytes));
  });

  it('writes the documented header layout', () => {
    const frame = encodeControl({ type: 'x' });
    expect(frame[0]).toBe(PROTOCOL_VERSION);
    expect(frame[1]).toBe(FRAME_KIND_CONTROL);
    expect(new DataView(frame.buffer).getUint32(2)).toBe(frame.byteLength - FRAME_HEADER_BYTES);
    const data = encodeData(1, 0, new Uint8Array(3));
    expect(data[1]).toBe(FRAME_KIND_DATA);
    expect(new DataView(data.buffer).getUint32(2)).toBe(DATA_HEADER_BYTES + 3);
  });

  it('the largest chunk a data frame can carry encodes; our own misuse throws an error naming the size and the limit, or the offset', () => {
    const largest = FRAME_BYTES_MAX - DATA_HEADER_BYTES;
    expect(new DataView(encodeDataHeader(1, 0, largest).buffer).getUint32(2)).toBe(FRAME_BYTES_MAX);
    expect(() => encodeDataHeader(1, 0, largest + 1)).toThrow(new RangeError(`data frame of ${FRAME_BYTES_MAX + 1} bytes exceeds ${FRAME_BYTES_MAX}`));
    expect(() => encodeDataHeader(1, -1, 10)).toThrow(new RangeError('bad data offset -1'));
    const text = 'x'.repeat(CONTROL_FRAME_BYTES_MAX);
    const jsonBytes = JSON.stringify({ text }).length;
    expect(() => encodeControl({ text })).toThrow(new RangeError(`control frame of ${jsonBytes} bytes exceeds ${CONTROL_FRAME_BYTES_MAX}`));
  });

  it('encoding our own oversized or malformed frames is a local error (throws), never a silent truncation', () => {
    expect(() => encodeControl({ text: 'x'.repeat(CONTROL_FRAME_BYTES_MAX) })).toThrow(RangeError);
    expect(() => encodeDataHeader(1, 0, FRAME_BYTES_MAX)).toThrow(RangeError);
    expect(() => encodeDataHeader(1, -1, 10)).toThrow(RangeError);
    expect(() => encodeDataHeader(1, 2 ** 53, 10)).toThrow(RangeError);
  });
});

describe('codec chunking', () => {
  it('property: any split of a stream of many frames into arbitrary chunks decodes to the same frames', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (specs, cuts) => {
        const stream = concat(specs.map(encodeSpec));
        const decoder = new FrameDecoder();
        const got: Decoded[] = [];
        for (const part of split(stream, cuts)) {
          decoder.push(part);
          got.push(...drain(decoder));
        }
        expect(got.map(plain)).toEqual(specs.map(expectedOf));
        expect(decoder.buffered).toBe(0);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('property: the decoder stands at a frame boundary exactly when the bytes pushed end a frame, a header read alone included', () => {
    // Cuts near each frame's start (inside or just past its 6-byte header) are where a header
    // gets read while its payload is still to come, so half the cuts land there.
    const framesAndCuts = fc.array(smallFrame, { minLength: 1, maxLength: 6 }).chain((specs) => {
      const frames = specs.map(encodeSpec);
      const starts = frames.map((_, i) => frames.slice(0, i).reduce((n, f) => n + f.byteLength, 0));
      const nearHeader = fc.tuple(fc.constantFrom(...starts), fc.integer({ min: 0, max: FRAME_HEADER_BYTES + 1 })).map(([start, past]) => start + past);
      return fc.tuple(fc.constant(frames), fc.array(fc.oneof(nearHeader, fc.nat()), { maxLength: 12 }));
    });
    fc.assert(
      fc.property(framesAndCuts, ([frames, cuts]) => {
        const stream = concat(frames);
        const ends = new Set([0, ...frames.map((_, i) => frames.slice(0, i + 1).reduce((n, f) => n + f.byteLength, 0))]);
        const decoder = new FrameDecoder();
        expect(decoder.atFrameBoundary).toBe(true);
        let pushed = 0;
        for (const part of split(stream, cuts)) {
          decoder.push(part);
          drain(decoder);
          pushed += part.byteLength;
          expect(decoder.atFrameBoundary, `after ${pushed} of ${stream.byteLength} bytes`).toBe(ends.has(pushed));
        }
      }),
      { numRuns: 300, ...replay },
    );
  });

  it('a header read alone leaves nothing buffered, yet a frame begun', () => {
    const decoder = new FrameDecoder();
    const frame = encodeControl({ type: 'heartbeat.ack' });
    decoder.push(frame.subarray(0, FRAME_HEADER_BYTES));
    expect(drain(decoder)).toEqual([]);
    expect(decoder.buffered).toBe(0);
    expect(decoder.atFrameBoundary).toBe(false);
    decoder.push(frame.subarray(FRAME_HEADER_BYTES));
    expect(drain(decoder)).toHaveLength(1);
    expect(decoder.atFrameBoundary).toBe(true);
  });

  it("property: headerPayloadBytes reads a header's 32-bit big-endian length, all of its range", () => {
    const edges = fc.constantFrom(0, 1, 0xff, 0x100, 0xffff, 0x1_0000, 0xff_ffff, 0x100_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff);
    fc.assert(
      fc.property(fc.oneof(edges, fc.integer({ min: 0, max: 0xffff_ffff })), fc.nat({ max: 3 }), (length, at) => {
        const bytes = new Uint8Array(at + FRAME_HEADER_BYTES);
        bytes.set([PROTOCOL_VERSION, FRAME_KIND_CONTROL], at);
        new DataView(bytes.buffer).setUint32(at + 2, length);
        expect(headerPayloadBytes(bytes, at)).toBe(length);
      }),
      { numRuns: 200, ...replay },
    );
    const frame = encodeControl({ type: 'x' });
    expect(headerPayloadBytes(frame, 0)).toBe(frame.byteLength - FRAME_HEADER_BYTES);
  });

  it('property: byte-at-a-time delivery decodes the same frames as one push', () => {
    fc.assert(
      fc.property(fc.array(smallFrame, { minLength: 1, maxLength: 4 }), (specs) => {
        const stream = concat(specs.map(encodeSpec));
        const decoder = new FrameDecoder();
        const got: Decoded[] = [];
        for (let i = 0; i < stream.byteLength; i++) {
          decoder.push(stream.subarray(i, i + 1));
          got.push(...drain(decoder));
        }
        expect(got.map(plain)).toEqual(decodeAll(stream).map(plain));
      }),
      { numRuns: 50, ...replay },
    );
  });
});

/** Feeds chunks, checking the decoder never throws and goes silent after a stream-breaking error. */
function feedHostile(parts: readonly Uint8Array[]): void {
  const decoder = new FrameDecoder();
  let broken = false;
  for (const part of parts) {
    decoder.push(part);
    const items = drain(decoder);
    if (broken) {
      expect(items).toEqual([]);
      expect(decoder.buffered).toBe(0);
    }
    for (const [index, item] of items.entries()) {
      if (item.kind !== 'error' || !errorCloses(item.code)) continue;
      // A framing error is reported once and is the last thing this decoder ever yields.
      expect(index).toBe(items.length - 1);
      expect(decoder.failed).toBe(true);
      expect(decoder.buffered).toBe(0);
      broken = true;
    }
  }
  if (broken) {
    decoder.push(encodeControl({ type: 'late' }));
    expect(drain(decoder)).toEqual([]);
    expect(decoder.buffered).toBe(0);
  }
}

describe('codec robustness', () => {
  it('property: random bytes never throw out of the decoder, and it stops after a framing error buffering nothing', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 64 }), { maxLength: 20 }), (parts) => {
        feedHostile(parts);
      }),
      { numRuns: 300, ...replay },
    );
  });

  it('property: random bytes behind a valid header prefix never throw (exercises payload parsing)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(FRAME_KIND_CONTROL, FRAME_KIND_DATA),
        fc.uint8Array({ maxLength: 64 }),
        fc.array(fc.nat(), { maxLength: 5 }),
        (kind, payload, cuts) => {
          feedHostile(split(concat([header(PROTOCOL_VERSION, kind, payload.byteLength), payload]), cuts));
        },
      ),
      { numRuns: 300, ...replay },
    );
  });

  it('property: mutated valid streams never throw out of the decoder, and it stops after a framing error', () => {
    fc.assert(
      fc.property(
        fc.array(anyFrame, { minLength: 1, maxLength: 6 }),
        fc.array(fc.record({ at: fc.nat(), value: fc.nat({ max: 255 }) }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (specs, mutations, cuts) => {
          const stream = concat(specs.map(encodeSpec)).slice();
          for (const { at, value } of mutations) stream[at % stream.byteLength] = value;
          feedHostile(split(stream, cuts));
        },
      ),
      { numRuns: 300, ...replay },
    );
  });

  it('names each framing error with its code', () => {
    const [badVersion] = decodeAll(concat([header(PROTOCOL_VERSION + 1, FRAME_KIND_CONTROL, 2), new Uint8Array([0x7b, 0x7d])]));
    expect(badVersion).toMatchObject({ kind: 'error', code: 'BAD_VERSION' });
    const [badKind] = decodeAll(header(PROTOCOL_VERSION, 9, 0));
    expect(badKind).toMatchObject({ kind: 'error', code: 'BAD_FRAME_KIND' });
    const notUtf8 = new Uint8Array([0xff, 0xfe]);
    expect(decodeAll(concat([header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, 2), notUtf8]))).toMatchObject([{ kind: 'error', code: 'BAD_JSON' }]);
    const notJson = new TextEncoder().encode('{nope');
    expect(decodeAll(concat([header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, notJson.byteLength), notJson]))).toMatchObject([
      { kind: 'error', code: 'BAD_JSON' },
    ]);
  });

  it('each framing error tells the client what was wrong in its detail (the server sends code and detail back): the version seen and expected, the kind, the size and the limit, the payload', () => {
    expect(decodeAll(header(PROTOCOL_VERSION + 1, FRAME_KIND_CONTROL, 2))).toStrictEqual([
      { kind: 'error', code: 'BAD_VERSION', detail: `version ${PROTOCOL_VERSION + 1}, expected ${PROTOCOL_VERSION}` },
    ]);
    expect(decodeAll(header(PROTOCOL_VERSION, 9, 0))).toStrictEqual([{ kind: 'error', code: 'BAD_FRAME_KIND', detail: 'kind 9' }]);
    expect(decodeAll(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, CONTROL_FRAME_BYTES_MAX + 1))).toStrictEqual([
      { kind: 'error', code: 'FRAME_TOO_LARGE', detail: `${CONTROL_FRAME_BYTES_MAX + 1} bytes, limit ${CONTROL_FRAME_BYTES_MAX}` },
    ]);
    const notJson = new TextEncoder().encode('{nope');
    expect(decodeAll(concat([header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, notJson.byteLength), notJson]))).toStrictEqual([
      { kind: 'error', code: 'BAD_JSON', detail: 'payload is not UTF-8 JSON' },
    ]);
    expect(decodeAll(concat([header(PROTOCOL_VERSION, FRAME_KIND_DATA, 4), new Uint8Array(4)]))).toStrictEqual([
      { kind: 'error', code: 'BAD_FRAME', detail: 'data frame of 4 bytes has no data header' },
    ]);
    const pastLimit = encodeData(1, 0, new Uint8Array(1)).slice();
    new DataView(pastLimit.buffer).setUint32(FRAME_HEADER_BYTES + 4, 0xffff_ffff);
    expect(decodeAll(pastLimit)).toStrictEqual([{ kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' }]);
  });

  it('a data frame too short for its data header is a BAD_FRAME, and the well-framed stream goes on', () => {
    const short = concat([header(PROTOCOL_VERSION, FRAME_KIND_DATA, 4), new Uint8Array(4)]);
    const items = decodeAll(concat([short, encodeControl({ type: 'after' })]));
    expect(items).toMatchObject([{ kind: 'error', code: 'BAD_FRAME' }, { kind: 'control', message: { type: 'after' } }]);
  });

  it('a data offset beyond 2^53 is a BAD_FRAME, not a silently rounded offset', () => {
    const frame = encodeData(1, 0, new Uint8Array(1)).slice();
    new DataView(frame.buffer).setUint32(FRAME_HEADER_BYTES + 4, 0xffff_ffff);
    expect(decodeAll(frame)).toMatchObject([{ kind: 'error', code: 'BAD_FRAME' }]);
  });
});

describe('codec size limit', () => {
  it('a header announcing 1 GiB is FRAME_TOO_LARGE at once, before any payload arrives, and nothing stays buffered', () => {
    for (const kind of [FRAME_KIND_CONTROL, FRAME_KIND_DATA]) {
      const decoder = new FrameDecoder();
      decoder.push(header(PROTOCOL_VERSION, kind, 1024 ** 3));
      expect(decoder.next()).toMatchObject({ kind: 'error', code: 'FRAME_TOO_LARGE' });
      expect(decoder.buffered).toBe(0);
      decoder.push(new Uint8Array(64 * 1024));
      expect(decoder.next()).toBeNull();
      expect(decoder.buffered).toBe(0);
    }
  });

  it('control frames are held to the control limit, data frames to the frame limit, and a custom lower limit applies', () => {
    expect(decodeAll(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, CONTROL_FRAME_BYTES_MAX + 1))).toMatchObject([{ code: 'FRAME_TOO_LARGE' }]);
    expect(decodeAll(header(PROTOCOL_VERSION, FRAME_KIND_DATA, FRAME_BYTES_MAX + 1))).toMatchObject([{ code: 'FRAME_TOO_LARGE' }]);
    // At the limit exactly, the decoder waits for the payload instead.
    expect(decodeAll(header(PROTOCOL_VERSION, FRAME_KIND_DATA, FRAME_BYTES_MAX))).toEqual([]);
    const small = new FrameDecoder({ frameBytesMax: 100 });
    small.push(header(PROTOCOL_VERSION, FRAME_KIND_DATA, 101));
    expect(small.next()).toMatchObject({ code: 'FRAME_TOO_LARGE' });
  });

  it('a lower frameBytesMax holds control frames too, and names itself as the limit; a higher one is held to FRAME_BYTES_MAX', () => {
    const small = new FrameDecoder({ frameBytesMax: 100 });
    small.push(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, 101));
    expect(drain(small)).toStrictEqual([{ kind: 'error', code: 'FRAME_TOO_LARGE', detail: '101 bytes, limit 100' }]);
    const atSmallLimit = new FrameDecoder({ frameBytesMax: 100 });
    atSmallLimit.push(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, 100));
    expect(drain(atSmallLimit)).toEqual([]);
    const tooHigh = new FrameDecoder({ frameBytesMax: 2 * FRAME_BYTES_MAX });
    tooHigh.push(header(PROTOCOL_VERSION, FRAME_KIND_DATA, FRAME_BYTES_MAX + 1));
    expect(drain(tooHigh)).toStrictEqual([{ kind: 'error', code: 'FRAME_TOO_LARGE', detail: `${FRAME_BYTES_MAX + 1} bytes, limit ${FRAME_BYTES_MAX}` }]);
  });

  it('a stream let open to larger frames (allowFrameBytes, a P2P hello accepted) takes frames up to the new bound, and never past FRAME_BYTES_MAX', () => {
    const opened = new FrameDecoder({ frameBytesMax: 100 });
    opened.allowFrameBytes(1_000);
    opened.push(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, 1_000));
    expect(drain(opened)).toEqual([]);
    const tooHigh = new FrameDecoder({ frameBytesMax: 100 });
    tooHigh.allowFrameBytes(2 * FRAME_BYTES_MAX);
    tooHigh.push(header(PROTOCOL_VERSION, FRAME_KIND_DATA, FRAME_BYTES_MAX + 1));
    expect(drain(tooHigh)).toStrictEqual([{ kind: 'error', code: 'FRAME_TOO_LARGE', detail: `${FRAME_BYTES_MAX + 1} bytes, limit ${FRAME_BYTES_MAX}` }]);
  });

  it('property: after draining, buffered bytes never exceed one header plus one maximal payload', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 512 }), { maxLength: 30 }), (parts) => {
        const decoder = new FrameDecoder({ frameBytesMax: 256 });
        for (const part of parts) {
          decoder.push(part);
          drain(decoder);
          expect(decoder.buffered).toBeLessThanOrEqual(FRAME_HEADER_BYTES + 256);
        }
      }),
      { numRuns: 200, ...replay },
    );
  });
});

describe('codec memory', () => {
  /** The decoder's chunk fields: what a held, idle connection keeps between frames. */
  function held(decoder: FrameDecoder): { head: unknown; rest: unknown } {
    const fields = decoder as unknown as { head: unknown; rest: unknown };
    return { head: fields.head, rest: fields.rest };
  }

  it('property: once every pushed frame is decoded, the decoder keeps no chunk and no chunk array', () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 8 }), fc.array(fc.nat(), { maxLength: 30 }), (specs, cuts) => {
        const decoder = new FrameDecoder();
        for (const part of split(concat(specs.map(encodeSpec)), cuts)) {
          decoder.push(part);
          drain(decoder);
        }
        expect(decoder.buffered).toBe(0);
        expect(held(decoder)).toEqual({ head: null, rest: null });
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('a stream-breaking error lets go of every chunk held at once (a broken connection holds no frame bytes until it is closed)', () => {
    const broken = new FrameDecoder();
    broken.push(concat([encodeControl({ type: 'ok' }), header(PROTOCOL_VERSION, 9, 0)]));
    broken.push(new Uint8Array(2000));
    broken.push(new Uint8Array(10));
    expect(held(broken).rest).not.toBeNull();
    expect(drain(broken)).toMatchObject([{ kind: 'control' }, { kind: 'error', code: 'BAD_FRAME_KIND' }]);
    expect(held(broken)).toEqual({ head: null, rest: null });
    expect(broken.buffered).toBe(0);
  });

  it('a whole data frame that arrives inside one read comes out as a view of that read, not a copy, whether or not the read ends with it', () => {
    const bytes = new Uint8Array(64 * 1024).map((_, i) => i & 0xff);
    const alone = encodeData(5, 7, bytes);
    const followed = concat([alone, encodeControl({ type: 'after' })]);
    for (const read of [alone, followed]) {
      const decoder = new FrameDecoder();
      decoder.push(read);
      const [data] = drain(decoder);
      if (data?.kind !== 'data') throw new Error('expected data');
      expect(data.bytes.buffer).toBe(read.buffer);
      expect(data.bytes).toEqual(bytes);
    }
  });

  it('a frame split over several chunks is buffered while incomplete and let go once decoded', () => {
    const frame = encodeControl({ type: 'login', username: 'alice', password: 'secret' });
    const decoder = new FrameDecoder();
    for (const part of split(frame, [3, 9, 20])) decoder.push(part);
    expect(held(decoder).rest).not.toBeNull();
    const more = split(encodeControl({ type: 'heartbeat' }), [4]);
    expect(drain(decoder)).toHaveLength(1);
    expect(held(decoder)).toEqual({ head: null, rest: null });
    decoder.push(more[0]!);
    expect(drain(decoder)).toHaveLength(0);
    expect(held(decoder).rest).toBeNull();
    decoder.push(more[1]!);
    expect(drain(decoder).map(plain)).toEqual([{ kind: 'control', message: { type: 'heartbeat' } }]);
    expect(held(decoder)).toEqual({ head: null, rest: null });
  });

  it('a maximal frame trickled a byte per read is held in a few blocks, not a chunk per byte (a hostile peer once cost ~60 MB and minutes of CPU)', () => {
    const text = 'x'.repeat(CONTROL_FRAME_BYTES_MAX - 64);
    const frame = encodeControl({ type: 'chat', text });
    const decoder = new FrameDecoder();
    for (let i = 0; i < frame.byteLength - 1; i++) decoder.push(frame.slice(i, i + 1));
    expect(drain(decoder)).toHaveLength(0);
    // 16 KiB blocks: 32 of them, plus the first byte as it came.
    expect(decoder.heldChunks).toBeLessThanOrEqual(Math.ceil(frame.byteLength / (16 * 1024)) + 1);
    decoder.push(frame.slice(-1));
    expect(drain(decoder).map(plain)).toEqual([{ kind: 'control', message: { type: 'chat', text } }]);
    expect(held(decoder)).toEqual({ head: null, rest: null });
  });

  it('tiny reads between large ones each keep only their own bytes, not a block apiece', () => {
    const frame = encodeControl({ type: 'chat', text: 'y'.repeat(64 * 1024) });
    const decoder = new FrameDecoder();
    const large = 4 * 1024;
    let at = 0;
    for (let turn = 0; at < frame.byteLength - 1; turn++) {
      const size = Math.min(turn % 2 === 0 ? 1 : large, frame.byteLength - 1 - at);
      decoder.push(frame.slice(at, at + size));
      at += size;
    }
    const rest = (held(decoder).rest ?? []) as Uint8Array[];
    const memoryHeld = rest.reduce((sum, chunk) => sum + chunk.buffer.byteLength, 0);
    expect(memoryHeld).toBeLessThan(decoder.buffered * 1.25);
    decoder.push(frame.slice(-1));
    expect(drain(decoder)).toHaveLength(1);
  });

  it('counts the chunks it holds: none idle, then the first read, each read of 1 KiB or more as it came, small reads by the block', () => {
    const decoder = new FrameDecoder();
    expect(decoder.heldChunks).toBe(0);
    decoder.push(encodeControl({ type: 'chat', text: 'z'.repeat(40_000) }).subarray(0, 3));
    expect(decoder.heldChunks).toBe(1);
    const exactlyOneKiB = new Uint8Array(SMALL_CHUNK_BYTES);
    decoder.push(exactlyOneKiB);
    expect(decoder.heldChunks).toBe(2);
    // A read of exactly 1 KiB is held as it came, not copied.
    expect((held(decoder).rest as Uint8Array[])[0]).toBe(exactlyOneKiB);
    // 32 reads of 512 bytes fill one 16 KiB block exactly; the 33rd starts another.
    for (let i = 0; i < 32; i++) decoder.push(new Uint8Array(512));
    expect(decoder.heldChunks).toBe(3);
    decoder.push(new Uint8Array(512));
    expect(decoder.heldChunks).toBe(4);
  });

  it('a block at least half full is kept as it is when a large read follows; one less than half full is copied down to its bytes', () => {
    const halfFull = new FrameDecoder();
    halfFull.push(new Uint8Array([PROTOCOL_VERSION]));
    for (let i = 0; i < 16; i++) halfFull.push(new Uint8Array(512));
    halfFull.push(new Uint8Array(SMALL_CHUNK_BYTES));
    const [kept] = held(halfFull).rest as Uint8Array[];
    expect([kept?.byteLength, kept?.buffer.byteLength]).toEqual([8 * 1024, 16 * 1024]);

    const nearlyEmpty = new FrameDecoder();
    nearlyEmpty.push(new Uint8Array([PROTOCOL_VERSION]));
    nearlyEmpty.push(new Uint8Array(10));
    nearlyEmpty.push(new Uint8Array(SMALL_CHUNK_BYTES));
    const [copied] = held(nearlyEmpty).rest as Uint8Array[];
    expect([copied?.byteLength, copied?.buffer.byteLength]).toEqual([10, 10]);
  });

  it('property: any mix of tiny and large reads decodes the same frames as one push', () => {
    const readBytes = fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1000, max: 1100 }), fc.integer({ min: 2000, max: 20_000 }));
    fc.assert(
      fc.property(fc.array(anyFrame, { minLength: 1, maxLength: 6 }), fc.array(readBytes, { minLength: 1, maxLength: 60 }), (specs, sizes) => {
        const stream = concat(specs.map(encodeSpec));
        const decoder = new FrameDecoder();
        const got: Decoded[] = [];
        for (let at = 0, i = 0; at < stream.byteLength; i++) {
          const size = sizes[i % sizes.length] as number;
          decoder.push(stream.slice(at, at + size));
          at += size;
          got.push(...drain(decoder));
        }
        expect(got.map(plain)).toEqual(specs.map(expectedOf));
        expect(held(decoder)).toEqual({ head: null, rest: null });
      }),
      { numRuns: 100, ...replay },
    );
  });
});
