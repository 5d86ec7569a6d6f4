/**
 * Public keys as text (cli/crypto/key-text.ts): the fast path for Ed25519 and X25519 (raw key
 * behind the fixed SPKI header) must write exactly what node's SPKI DER export writes, and read
 * back as the same key; other key types take the DER export itself.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isIdentityKeys } from '../../../core/identity.ts';
import { publicKeyFromText, publicKeyText } from '../../../cli/crypto/key-text.ts';

/** Enough fresh keys that a key whose raw bytes start with zeros, or any other edge of base64, shows up. */
const KEYS_PER_TYPE = 200;

describe('public keys as text', () => {
  for (const type of ['ed25519', 'x25519'] as const) {
    it(`${type}: the same text as the SPKI DER export, read back as the same key`, () => {
      for (let i = 0; i < KEYS_PER_TYPE; i++) {
        const { publicKey } = generateKeyPairSync(type as 'ed25519');
        const text = publicKeyText(publicKey);
        expect(text).toBe(publicKey.export({ format: 'der', type: 'spki' }).toString('base64'));
        expect(publicKeyFromText(text).equals(publicKey)).toBe(true);
      }
    });
  }

  it('a pair of them passes core\'s shape check; another type is written by the DER export', () => {
    const sign = generateKeyPairSync('ed25519').publicKey;
    const seal = generateKeyPairSync('x25519').publicKey;
    expect(isIdentityKeys({ signKey: publicKeyText(sign), sealKey: publicKeyText(seal) })).toBe(true);
    expect(isIdentityKeys({ signKey: publicKeyText(seal), sealKey: publicKeyText(sign) })).toBe(false);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    expect(publicKeyText(ec)).toBe(ec.export({ format: 'der', type: 'spki' }).toString('base64'));
  });
});
