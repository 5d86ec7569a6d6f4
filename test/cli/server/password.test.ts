/**
 * scrypt password hashing: the stored form, per-user salts, verification, and the unknown-user
 * path that still runs scrypt and answers false.
 */
import { scrypt } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  SCRYPT_KEY_BYTES,
  SCRYPT_N,
  SCRYPT_P,
  SCRYPT_R,
  ScryptHasher,
  decodePasswordHash,
  hashPassword,
  newToken,
  verifyPassword,
} from '../../../cli/server/password.ts';

// Count scrypt calls (the real one still runs) to prove the unknown-user path pays for one.
vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, scrypt: vi.fn(original.scrypt) };
});

const CHEAP = { N: 1024, r: 8, p: 1 };

describe('scrypt password hashes', () => {
  it('uses the production parameters by default and encodes them in the stored string', async () => {
    expect({ N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P }).toEqual({ N: 16_384, r: 8, p: 1 });
    const encoded = await hashPassword('correct horse battery');
    expect(encoded).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    const decoded = decodePasswordHash(encoded);
    expect(decoded?.params).toEqual({ N: 16_384, r: 8, p: 1 });
    expect(decoded?.key.byteLength).toBe(SCRYPT_KEY_BYTES);
    expect(await verifyPassword('correct horse battery', encoded)).toBe(true);
  });

  it('salts per user: the same password hashes differently twice, and both verify', async () => {
    const first = await hashPassword('same-password', CHEAP);
    const second = await hashPassword('same-password', CHEAP);
    expect(first).not.toBe(second);
    expect(await verifyPassword('same-password', first)).toBe(true);
    expect(await verifyPassword('same-password', second)).toBe(true);
  });

  it('refuses a wrong password', async () => {
    const encoded = await hashPassword('right-password', CHEAP);
    expect(await verifyPassword('wrong-password', encoded)).toBe(false);
    expect(await verifyPassword('right-passwore', encoded)).toBe(false);
  });

  it('answers false for an unknown user (null hash) after running one scrypt anyway', async () => {
    const calls = vi.mocked(scrypt).mock.calls.length;
    expect(await verifyPassword('anything-at-all', null)).toBe(false);
    expect(vi.mocked(scrypt).mock.calls.length).toBe(calls + 1);
    // With the production cost, like a real check of a known user.
    expect(vi.mocked(scrypt).mock.calls.at(-1)?.[3]).toMatchObject({ N: SCRYPT_N, r: SCRYPT_R, p: SCRYPT_P });
  });

  it('answers false for a malformed or tampered hash', async () => {
    expect(await verifyPassword('anything-at-all', 'plain-text-password', CHEAP)).toBe(false);
    expect(await verifyPassword('anything-at-all', 'scrypt$1099511627776$8$1$AAAA$AAAA', CHEAP)).toBe(false);
    expect(decodePasswordHash('scrypt$1000$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA')).toBeNull();
    expect(decodePasswordHash('bcrypt$16384$8$1$AAAA$AAAA')).toBeNull();
  });

  it('the ScryptHasher answers through callbacks, later, never synchronously', async () => {
    const hasher = new ScryptHasher(CHEAP);
    let answered = false;
    const hashed = new Promise<string | null>((resolve) =>
      hasher.hash('callback-password', (hash) => {
        answered = true;
        resolve(hash);
      }),
    );
    expect(answered).toBe(false);
    const hash = await hashed;
    expect(hash).not.toBeNull();
    const ok = await new Promise<boolean>((resolve) => hasher.verify('callback-password', hash, resolve));
    const unknown = await new Promise<boolean>((resolve) => hasher.verify('callback-password', null, resolve));
    expect([ok, unknown]).toEqual([true, false]);
  });

  it('the ScryptHasher refuses a wrong password and a malformed hash, and answers even when scrypt throws at once, always later', async () => {
    const hasher = new ScryptHasher(CHEAP);
    const hash = await new Promise<string | null>((resolve) => hasher.hash('right-password', resolve));
    const verify = (h: ScryptHasher, password: string, stored: string | null) =>
      new Promise<boolean>((resolve) => {
        let sync = true;
        h.verify(password, stored, (ok) => {
          expect(sync).toBe(false);
          resolve(ok);
        });
        sync = false;
      });
    expect(await verify(hasher, 'wrong-password', hash)).toBe(false);
    expect(await verify(hasher, 'right-password', 'plain-text-password')).toBe(false);
    expect(await verify(hasher, 'right-password', hash)).toBe(true);
    // N must be a power of two: node:crypto throws at once; the hasher still answers, later.
    const broken = new ScryptHasher({ N: 3, r: 1, p: 1 });
    let sync = true;
    const hashed = new Promise<string | null>((resolve) =>
      broken.hash('any', (result) => {
        expect(sync).toBe(false);
        resolve(result);
      }),
    );
    sync = false;
    expect(await hashed).toBeNull();
    expect(await verify(broken, 'any', null)).toBe(false);
  });

  it('tokens are 128 random bits in base64url', () => {
    const tokens = new Set(Array.from({ length: 100 }, () => newToken()));
    expect(tokens.size).toBe(100);
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});
