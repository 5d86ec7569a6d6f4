/**
 * Sealed boxes: a message only the holder of one X25519 private key can open, from a sender who
 * stays anonymous to the box itself (the server that carries it knows who sent it). The
 * construction is the usual ECIES one, all of it node:crypto; nothing here is a primitive of our
 * own:
 *
 *   ephemeral = a fresh X25519 key pair, one per box
 *   shared    = X25519(ephemeral private, recipient public)
 *   key‖nonce = HKDF-SHA256(ikm = shared, salt = ephemeral public ‖ recipient public,
 *                           info = "p2pchat sealed box v1", 44 bytes)
 *   box       = version (1 byte, 1) ‖ ephemeral public (32 bytes, raw)
 *               ‖ ChaCha20-Poly1305(key, nonce, aad = version ‖ ephemeral public)(plaintext)
 *               ‖ tag (16 bytes)
 *
 * Each box has its own key (its ephemeral key pair is never reused), so the derived nonce never
 * repeats under a key. Binding both public keys in the salt means a box re-addressed to another
 * key does not open. docs/PROTOCOL.md ("Sealed offline messages") documents the format.
 */
import { type KeyObject, createCipheriv, createDecipheriv, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync } from 'node:crypto';
import type { PeerSealer } from '../../core/peer/host.ts';
import { SEALED_BOX_OVERHEAD_BYTES } from '../../core/peer/mailbox-client.ts';

export const SEALED_BOX_VERSION = 1;
const X25519_PUBLIC_BYTES = 32;
const KEY_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const HKDF_INFO = Buffer.from('p2pchat sealed box v1', 'utf8');
/** What sealing adds to a plaintext (version, ephemeral public key, tag): the core sizes offline messages by it. */
export { SEALED_BOX_OVERHEAD_BYTES };
if (SEALED_BOX_OVERHEAD_BYTES !== 1 + X25519_PUBLIC_BYTES + TAG_BYTES) throw new Error('SEALED_BOX_OVERHEAD_BYTES does not match the sealed box layout');

/** A sealed box that does not open: wrong key, altered bytes, another version or too short. */
export class SealedBoxError extends Error {
  override readonly name = 'SealedBoxError';
}

/** The raw 32 bytes of an X25519 public key (as JWK `x`, the only portable raw export). */
function rawPublic(key: KeyObject): Buffer {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'X25519' || typeof jwk.x !== 'string') throw new SealedBoxError('not an X25519 public key');
  return Buffer.from(jwk.x, 'base64url');
}

function publicFromRaw(raw: Buffer): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** Reads a public key as it travels (base64 of its SPKI DER, see the identity keys) or as a KeyObject. */
export function x25519PublicKey(key: string | KeyObject): KeyObject {
  const object = typeof key === 'string' ? createPublicKey({ key: Buffer.from(key, 'base64'), format: 'der', type: 'spki' }) : key;
  if (object.asymmetricKeyType !== 'x25519') throw new SealedBoxError(`expected an X25519 key, got ${object.asymmetricKeyType ?? 'none'}`);
  return object.type === 'private' ? createPublicKey(object) : object;
}

function keyAndNonce(shared: Buffer, ephemeralPublic: Buffer, recipientPublic: Buffer): { key: Buffer; nonce: Buffer } {
  const okm = Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephemeralPublic, recipientPublic]), HKDF_INFO, KEY_BYTES + NONCE_BYTES));
  return { key: okm.subarray(0, KEY_BYTES), nonce: okm.subarray(KEY_BYTES) };
}

/** Seals `plaintext` for the holder of the private half of `recipient`. */
export function seal(plaintext: Uint8Array, recipient: string | KeyObject): Buffer {
  const recipientKey = x25519PublicKey(recipient);
  const ephemeral = generateKeyPairSync('x25519');
  const ephemeralPublic = rawPublic(ephemeral.publicKey);
  const shared = diffieHellman({ privateKey: ephemeral.privateKey, publicKey: recipientKey });
  const { key, nonce } = keyAndNonce(shared, ephemeralPublic, rawPublic(recipientKey));
  const header = Buffer.concat([Buffer.from([SEALED_BOX_VERSION]), ephemeralPublic]);
  const cipher = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  cipher.setAAD(header, { plaintextLength: plaintext.byteLength });
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([header, body, cipher.getAuthTag()]);
}

/** Opens a box sealed for `privateKey`'s public half; throws SealedBoxError if it does not open. */
export function open(box: Uint8Array, privateKey: KeyObject): Buffer {
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'x25519') throw new SealedBoxError('expected an X25519 private key');
  const bytes = Buffer.from(box.buffer, box.byteOffset, box.byteLength);
  if (bytes.byteLength < SEALED_BOX_OVERHEAD_BYTES) throw new SealedBoxError('too short for a sealed box');
  if (bytes[0] !== SEALED_BOX_VERSION) throw new SealedBoxError(`unknown sealed box version ${String(bytes[0])}`);
  const header = bytes.subarray(0, 1 + X25519_PUBLIC_BYTES);
  const ephemeralPublic = bytes.subarray(1, 1 + X25519_PUBLIC_BYTES);
  const body = bytes.subarray(header.byteLength, bytes.byteLength - TAG_BYTES);
  const tag = bytes.subarray(bytes.byteLength - TAG_BYTES);
  let shared: Buffer;
  try {
    shared = diffieHellman({ privateKey, publicKey: publicFromRaw(Buffer.from(ephemeralPublic)) });
  } catch {
    throw new SealedBoxError('the ephemeral key is not a usable X25519 point');
  }
  const { key, nonce } = keyAndNonce(shared, Buffer.from(ephemeralPublic), rawPublic(createPublicKey(privateKey)));
  const decipher = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_BYTES });
  decipher.setAAD(header, { plaintextLength: body.byteLength });
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new SealedBoxError('the sealed box does not open with this key (altered, or sealed for another)');
  }
}

/**
 * The client runtime's PeerSealer (core/peer/host.ts): seals for a friend's public key, opens with
 * our own X25519 identity key. Answers at once (node:crypto is synchronous here); a key or box
 * that does not work answers null, which the machine reports (PEER_KEY_UNKNOWN, MAIL_UNREADABLE).
 */
export function identitySealer(ownSealPrivateKey: KeyObject): PeerSealer {
  return {
    seal(sealKey, plaintext, done) {
      let box: Buffer | null = null;
      try {
        box = seal(Buffer.from(plaintext, 'utf8'), sealKey);
      } catch {
        box = null;
      }
      done(box === null ? null : box.toString('base64'));
    },
    open(sealed, done) {
      let text: string | null = null;
      try {
        text = new TextDecoder('utf-8', { fatal: true }).decode(open(Buffer.from(sealed, 'base64'), ownSealPrivateKey));
      } catch {
        text = null;
      }
      done(text);
    },
  };
}
