/**
 * Password hashing for the real server: scrypt with a per-user random salt, on libuv's thread
 * pool (node:crypto's async `scrypt`), so a login never blocks the event loop.
 *
 * Stored form, self-describing so parameters can change without a migration:
 *
 *   scrypt$N$r$p$saltBase64$hashBase64
 *
 * Verification re-derives with the stored parameters and compares with timingSafeEqual. An
 * unknown user (no stored hash) still costs one full scrypt against a dummy salt, so response
 * time does not tell "no such user" from "wrong password".
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { PasswordHasher } from '../../core/server/host.ts';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

/** The parameters new hashes use. The login benchmark measures raw scrypt with these same ones. */
export const SCRYPT_N = 16_384;
export const SCRYPT_R = 8;
export const SCRYPT_P = 1;
export const SCRYPT_PARAMS: ScryptParams = { N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P };
export const SCRYPT_SALT_BYTES = 16;
export const SCRYPT_KEY_BYTES = 32;
/** Stored hashes with a larger cost are refused: a tampered row must not make one login cost seconds. */
export const SCRYPT_N_MAX = 1 << 20;
const SCRYPT_PREFIX = 'scrypt';

/** Memory scrypt needs is about 128·N·r·p bytes; give it that plus headroom. */
function maxmemFor(params: ScryptParams): number {
  return 128 * params.N * params.r * params.p * 2 + 1024 * 1024;
}

/**
 * Raw scrypt on the thread pool, answering through a callback, always later (an error scrypt
 * throws at once, such as parameters over maxmem, is passed on in the next turn).
 */
function deriveKey(password: string, salt: Buffer, params: ScryptParams, done: (error: Error | null, key: Buffer | null) => void): void {
  try {
    scrypt(password, salt, SCRYPT_KEY_BYTES, { N: params.N, r: params.r, p: params.p, maxmem: maxmemFor(params) }, done);
  } catch (error) {
    setImmediate(done, error instanceof Error ? error : new Error(String(error)), null);
  }
}

/** Raw scrypt with the given parameters (also what the benchmark's baseline calls). */
export function scryptKey(password: string, salt: Buffer, params: ScryptParams = SCRYPT_PARAMS): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    deriveKey(password, salt, params, (error, key) => {
      if (error !== null || key === null) reject(error ?? new Error('scrypt gave no key'));
      else resolve(key);
    });
  });
}

export function encodePasswordHash(params: ScryptParams, salt: Buffer, key: Buffer): string {
  return [SCRYPT_PREFIX, params.N, params.r, params.p, salt.toString('base64'), key.toString('base64')].join('$');
}

export interface DecodedPasswordHash {
  readonly params: ScryptParams;
  readonly salt: Buffer;
  readonly key: Buffer;
}

const POSITIVE_INT = /^[1-9][0-9]{0,9}$/;

/** Parses a stored hash; null when it is not one we wrote (or has absurd parameters). */
export function decodePasswordHash(encoded: string): DecodedPasswordHash | null {
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== SCRYPT_PREFIX) return null;
  const [, nText = '', rText = '', pText = '', saltText = '', keyText = ''] = parts;
  if (!POSITIVE_INT.test(nText) || !POSITIVE_INT.test(rText) || !POSITIVE_INT.test(pText)) return null;
  const params = { N: Number(nText), r: Number(rText), p: Number(pText) };
  if (params.N > SCRYPT_N_MAX || (params.N & (params.N - 1)) !== 0 || params.N < 2 || params.r > 32 || params.p > 16) return null;
  const salt = Buffer.from(saltText, 'base64');
  const key = Buffer.from(keyText, 'base64');
  if (salt.byteLength === 0 || key.byteLength !== SCRYPT_KEY_BYTES) return null;
  return { params, salt, key };
}

export async function hashPassword(password: string, params: ScryptParams = SCRYPT_PARAMS): Promise<string> {
  const salt = randomBytes(SCRYPT_SALT_BYTES);
  const key = await scryptKey(password, salt, params);
  return encodePasswordHash(params, salt, key);
}

/** True only if `encoded` is a hash we wrote and the password matches it. Always costs one scrypt. */
export async function verifyPassword(password: string, encoded: string | null, dummyParams: ScryptParams = SCRYPT_PARAMS): Promise<boolean> {
  const decoded = encoded === null ? null : decodePasswordHash(encoded);
  if (decoded === null) {
    await scryptKey(password, DUMMY_SALT, dummyParams);
    return false;
  }
  const key = await scryptKey(password, decoded.salt, decoded.params);
  return timingSafeEqual(key, decoded.key);
}

/** A fixed salt for the unknown-user path; its result is thrown away. */
const DUMMY_SALT = Buffer.alloc(SCRYPT_SALT_BYTES, 0x5a);

/**
 * The PasswordHasher the ServerHost calls: callbacks later, never synchronously. Callbacks all
 * the way down, not the promise functions above: a login in flight then holds one scrypt job and
 * one closure, not a chain of promises (thousands of logins arrive at once when clients reconnect).
 */
export class ScryptHasher implements PasswordHasher {
  constructor(private readonly params: ScryptParams = SCRYPT_PARAMS) {}

  hash(password: string, done: (passwordHash: string | null) => void): void {
    const params = this.params;
    const salt = randomBytes(SCRYPT_SALT_BYTES);
    deriveKey(password, salt, params, (error, key) => done(error !== null || key === null ? null : encodePasswordHash(params, salt, key)));
  }

  verify(password: string, passwordHash: string | null, done: (ok: boolean) => void): void {
    const decoded = passwordHash === null ? null : decodePasswordHash(passwordHash);
    if (decoded === null) {
      deriveKey(password, DUMMY_SALT, this.params, () => done(false));
      return;
    }
    deriveKey(password, decoded.salt, decoded.params, (error, key) => done(error === null && key !== null && timingSafeEqual(key, decoded.key)));
  }
}

/** Session and resume tokens: 128 random bits, URL-safe. */
export function newToken(): string {
  return randomBytes(16).toString('base64url');
}
