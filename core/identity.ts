/**
 * An account's public identity keys, as data: Ed25519 (signs: it authenticates the peer-to-peer
 * link) and X25519 (seals: offline messages are encrypted to it). Each travels as base64 of its
 * SPKI DER, the form node:crypto writes with `export({format: 'der', type: 'spki'})` and reads back
 * with `createPublicKey({key, format: 'der', type: 'spki'})`. The keys are made and used in cli/;
 * the core only carries, stores, compares and checks the shape of these strings.
 */
import { z } from 'zod';

/**
 * SPKI DER of a 32-byte Ed25519 or X25519 key is 44 bytes: a fixed 12-byte header (algorithm OID
 * 1.3.101.112 or 1.3.101.110) and the key. In base64 the header is exactly the first 16
 * characters, so a key of the right algorithm and length is recognized without decoding it.
 */
const SIGN_KEY_PATTERN = /^MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=$/;
const SEAL_KEY_PATTERN = /^MCowBQYDK2VuAyEA[A-Za-z0-9+/]{43}=$/;

export const identityKeysSchema = z.object({
  signKey: z.string().regex(SIGN_KEY_PATTERN, 'an Ed25519 public key, base64 of its SPKI DER'),
  sealKey: z.string().regex(SEAL_KEY_PATTERN, 'an X25519 public key, base64 of its SPKI DER'),
});

export interface IdentityKeys {
  readonly signKey: string;
  readonly sealKey: string;
}

/** The schema's check without zod, for the hand-written fast paths of big frames. */
export function isIdentityKeys(value: unknown): value is IdentityKeys {
  if (typeof value !== 'object' || value === null) return false;
  const { signKey, sealKey } = value as { signKey?: unknown; sealKey?: unknown };
  return typeof signKey === 'string' && typeof sealKey === 'string' && SIGN_KEY_PATTERN.test(signKey) && SEAL_KEY_PATTERN.test(sealKey);
}

export function identityKeysEqual(a: IdentityKeys | null | undefined, b: IdentityKeys | null | undefined): boolean {
  if (a == null || b == null) return a == b;
  return a.signKey === b.signKey && a.sealKey === b.sealKey;
}
