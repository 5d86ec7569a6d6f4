/**
 * Public keys as they travel (core/identity.ts): base64 of their SPKI DER.
 *
 * For the 32-byte Ed25519 and X25519 keys the SPKI DER is a fixed 12-byte header (RFC 8410: the
 * algorithm's OID and the key's bit-string length) followed by the raw key, so the text is made
 * from the raw key node hands out as JWK. Going through `export({format: 'der', type: 'spki'})`
 * instead costs OpenSSL 3.0 an encoder set-up each time, about 160 µs on an idle core and up to a
 * millisecond on a busy one, where the JWK export costs 2 µs: every peer-to-peer handshake
 * reports the key the other side proved (tcp-transport.ts), on both sides, so this is paid per
 * chat session. Other key types go through the DER export.
 */
import { type KeyObject, createPublicKey } from 'node:crypto';

/** The SPKI DER header of a 32-byte key of each type (the first 16 base64 characters core/identity.ts checks). */
const SPKI_HEADERS: Readonly<Record<string, Buffer>> = {
  ed25519: Buffer.from('302a300506032b6570032100', 'hex'),
  x25519: Buffer.from('302a300506032b656e032100', 'hex'),
};
const RAW_KEY_BYTES = 32;

/** A public key as it travels: base64 of its SPKI DER. */
export function publicKeyText(key: KeyObject): string {
  const header = key.asymmetricKeyType === undefined ? undefined : SPKI_HEADERS[key.asymmetricKeyType];
  if (header !== undefined) {
    const { x } = key.export({ format: 'jwk' });
    const raw = typeof x === 'string' ? Buffer.from(x, 'base64url') : null;
    if (raw?.byteLength === RAW_KEY_BYTES) return Buffer.concat([header, raw]).toString('base64');
  }
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}

/** A travelling public key back as a KeyObject (throws on anything that is not SPKI DER). */
export function publicKeyFromText(text: string): KeyObject {
  return createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' });
}
