/**
 * The malformed-input prober's own probes say what they claim to (sim/drivers/malformed-input.ts):
 * a checker built on a probe that is not malformed, or cut into pieces that lose bytes, would
 * judge the server against the wrong expectation.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FRAME_KIND_CONTROL, FRAME_KIND_DATA } from '../../../core/codec.ts';
import { PROTOCOL_VERSION, SERVER_INBOUND_FRAME_BYTES_MAX } from '../../../core/limits.ts';
import { cutIntoPieces, MALFORMED_PROBE_KINDS, malformedProbe } from '../../../sim/drivers/malformed-input.ts';
import { Prng } from '../../../sim/world/prng.ts';
import { replay } from '../../helpers/fc-replay.ts';

const seed = fc.integer({ min: 0, max: 0xffff_ffff });
const declaredBytes = (bytes: Uint8Array): number => new DataView(bytes.buffer, bytes.byteOffset).getUint32(2);
const payloadText = (bytes: Uint8Array): string => new TextDecoder().decode(bytes.subarray(FRAME_HEADER_BYTES));

describe('the malformed-input probes', () => {
  it('cut a probe into 1 to 4 non-empty pieces that put back together are its bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), seed, (bytes, s) => {
        const pieces = cutIntoPieces(bytes, new Prng(s));
        expect(pieces.length).toBeGreaterThanOrEqual(1);
        expect(pieces.length).toBeLessThanOrEqual(4);
        for (const piece of pieces) expect(piece.byteLength).toBeGreaterThan(0);
        expect(Buffer.concat(pieces)).toEqual(Buffer.from(bytes));
      }),
      { numRuns: 300, ...replay },
    );
  });

  it('are each malformed in the way they name, whatever the seed', () => {
    fc.assert(
      fc.property(seed, (s) => {
        const prng = new Prng(s);
        const probe = (kind: (typeof MALFORMED_PROBE_KINDS)[number]) => malformedProbe(kind, prng);
        expect(probe('bad-version').bytes[0]).not.toBe(PROTOCOL_VERSION);
        expect([FRAME_KIND_CONTROL, FRAME_KIND_DATA]).not.toContain(probe('bad-kind').bytes[1]);
        const over = probe('over-limit');
        expect(over.bytes.byteLength).toBe(FRAME_HEADER_BYTES);
        expect(declaredBytes(over.bytes)).toBeGreaterThan(SERVER_INBOUND_FRAME_BYTES_MAX);
        const at = probe('at-limit');
        expect(declaredBytes(at.bytes)).toBe(SERVER_INBOUND_FRAME_BYTES_MAX);
        expect(at.bytes.byteLength).toBe(FRAME_HEADER_BYTES + SERVER_INBOUND_FRAME_BYTES_MAX);
        expect(payloadText(at.bytes)).toContain(JSON.stringify(at.secret));
        expect(() => new TextDecoder('utf-8', { fatal: true }).decode(probe('not-utf8').bytes.subarray(FRAME_HEADER_BYTES))).toThrow();
        expect(() => JSON.parse(payloadText(probe('not-json').bytes))).toThrow();
        const notObject = JSON.parse(payloadText(probe('not-an-object').bytes)) as unknown;
        expect(typeof notObject !== 'object' || notObject === null || Array.isArray(notObject)).toBe(true);
        const unknown = probe('unknown-type');
        expect(JSON.parse(payloadText(unknown.bytes))).toEqual({ type: unknown.secret, id: unknown.re });
        expect(probe('data-frame').bytes[1]).toBe(FRAME_KIND_DATA);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('expect the connection closed for exactly the framing errors PROTOCOL.md says close it', () => {
    const prng = new Prng(1);
    const closing = MALFORMED_PROBE_KINDS.map((kind) => malformedProbe(kind, prng)).filter((p) => p.closes).map((p) => p.code);
    expect(new Set(closing)).toEqual(new Set(['BAD_VERSION', 'BAD_FRAME_KIND', 'FRAME_TOO_LARGE', 'BAD_JSON']));
  });
});
