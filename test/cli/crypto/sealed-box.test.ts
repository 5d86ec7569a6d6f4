/**
 * The sealed box of cli/crypto/sealed-box.ts: only the recipient's private key opens it, any
 * altered byte or another key refuses it, and each box of the same text differs (fresh
 * ephemeral key). Also pinned against the documented layout (docs/PROTOCOL.md).
 */
import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SEALED_BOX_OVERHEAD_BYTES, SEALED_BOX_VERSION, SealedBoxError, identitySealer, open, seal } from '../../../cli/crypto/sealed-box.ts';
import { replay } from '../../helpers/fc-replay.ts';

const alice = generateKeyPairSync('x25519');
const mallory = generateKeyPairSync('x25519');
/** How public keys travel between accounts: base64 of the SPKI DER. */
const alicePublicB64 = alice.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

describe('sealed box', () => {
  it('opens with the recipient private key only, and gives back the exact bytes', () => {
    const text = Buffer.from('see you at 8 — ok? 👋', 'utf8');
    const box = seal(text, alicePublicB64);
    expect(open(box, alice.privateKey).equals(text)).toBe(true);
    expect(() => open(box, mallory.privateKey)).toThrow(SealedBoxError);
  });

  it('has the documented layout: version, 32-byte ephemeral key, ciphertext, 16-byte tag', () => {
    const box = seal(Buffer.from('hello'), alice.publicKey);
    expect(box[0]).toBe(SEALED_BOX_VERSION);
    expect(box.byteLength).toBe(5 + SEALED_BOX_OVERHEAD_BYTES);
    expect(SEALED_BOX_OVERHEAD_BYTES).toBe(1 + 32 + 16);
    // The text is nowhere in the box.
    expect(box.includes(Buffer.from('hello'))).toBe(false);
  });

  it('seals the same text differently each time (a fresh ephemeral key per box)', () => {
    const a = seal(Buffer.from('same'), alicePublicB64);
    const b = seal(Buffer.from('same'), alicePublicB64);
    expect(a.equals(b)).toBe(false);
    expect(a.subarray(1, 33).equals(b.subarray(1, 33))).toBe(false);
  });

  it('refuses a box cut short, of another version, or empty, with SealedBoxError', () => {
    const box = seal(Buffer.from('x'), alicePublicB64);
    expect(() => open(box.subarray(0, SEALED_BOX_OVERHEAD_BYTES - 1), alice.privateKey)).toThrow(SealedBoxError);
    expect(() => open(Buffer.concat([Buffer.from([2]), box.subarray(1)]), alice.privateKey)).toThrow(SealedBoxError);
    expect(() => open(new Uint8Array(0), alice.privateKey)).toThrow(SealedBoxError);
  });

  it('refuses a key of another kind (an Ed25519 key is not a seal key)', () => {
    const ed = generateKeyPairSync('ed25519');
    expect(() => seal(Buffer.from('x'), ed.publicKey)).toThrow(SealedBoxError);
    expect(() => open(seal(Buffer.from('x'), alicePublicB64), ed.privateKey)).toThrow(SealedBoxError);
  });

  it('the runtime sealer seals text for a friend and opens only what was sealed for us; bad keys and boxes answer null', () => {
    const mine = identitySealer(alice.privateKey);
    const theirs = identitySealer(mallory.privateKey);
    let box: string | null = null;
    theirs.seal(alicePublicB64, '{"text":"héllo"}', (sealed) => (box = sealed));
    expect(box).not.toBeNull();
    mine.open(box ?? '', (text) => expect(text).toBe('{"text":"héllo"}'));
    theirs.open(box ?? '', (text) => expect(text).toBeNull());
    mine.seal('not a key', 'x', (sealed) => expect(sealed).toBeNull());
    mine.open('AAAA', (text) => expect(text).toBeNull());
  });

  it('property: any text round-trips, and flipping any one bit of its box makes it refuse', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ minLength: 1, maxLength: 64 }), fc.uint8Array({ minLength: 4000, maxLength: 8000 })),
        fc.nat(),
        fc.integer({ min: 0, max: 7 }),
        (text, where, bit) => {
          const box = seal(text, alicePublicB64);
          expect(open(box, alice.privateKey).equals(Buffer.from(text))).toBe(true);
          const altered = Buffer.from(box);
          const index = where % altered.byteLength;
          altered[index] = (altered[index] ?? 0) ^ (1 << bit);
          expect(() => open(altered, alice.privateKey)).toThrow(SealedBoxError);
        },
      ),
      { numRuns: 200, ...replay },
    );
  });
});
