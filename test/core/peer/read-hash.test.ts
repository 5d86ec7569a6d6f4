/**
 * The sender's file hash fed by the reads that send the file (core/peer/read-hash.ts): whatever
 * order a resume re-reads in, the digest is the SHA-256 of the file's bytes, each hashed once.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ReadHash } from '../../../core/peer/read-hash.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

describe('ReadHash', () => {
  it('re-reads that overlap what was hashed feed only their new part', () => {
    const hash = new ReadHash(createHash('sha256'));
    hash.feed(0, bytes('hello '));
    hash.feed(3, bytes('lo wor'));
    hash.feed(0, bytes('hello world'));
    expect(hash.digest()).toBe(sha256('hello world'));
  });

  it('a chunk past a gap is not hashed, and the reads that fill the gap carry on', () => {
    const hash = new ReadHash(createHash('sha256'));
    hash.feed(0, bytes('abc'));
    hash.feed(10, bytes('klm'));
    hash.feed(3, bytes('defghij'));
    hash.feed(10, bytes('klm'));
    expect(hash.digest()).toBe(sha256('abcdefghijklm'));
  });

  it('after the digest, a resume at the end that reads again leaves the hash alone and gets the same digest', () => {
    // node:crypto throws on an update after digest: the hash must not be touched again.
    const hash = new ReadHash(createHash('sha256'));
    hash.feed(0, bytes('whole file'));
    expect(hash.digest()).toBe(sha256('whole file'));
    expect(() => hash.feed(5, bytes('file and more'))).not.toThrow();
    expect(hash.digest()).toBe(sha256('whole file'));
  });
});
