/**
 * FNV-1a, 32 and 64 bits, computed with 32-bit halves (no BigInt, no node:crypto) so the same
 * events give the same hash on any machine. The 64-bit form (stepping a word at a time) is the
 * run's traceHash.
 */
const FNV32_OFFSET = 0x811c9dc5;
const FNV32_PRIME = 0x01000193;
/** The 64-bit prime is 2^40 + 0x1b3: multiplying is h*0x1b3 plus h shifted left by 40. */
const FNV64_PRIME_LOW = 0x1b3;
const FNV64_OFFSET_HIGH = 0xcbf29ce4;
const FNV64_OFFSET_LOW = 0x84222325;
const U32 = 0x1_0000_0000;

export function fnv1a32(text: string): number {
  let h = FNV32_OFFSET;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV32_PRIME);
  }
  return h >>> 0;
}

/**
 * Incremental FNV-1a 64 over words, numbers and strings: each step xors in a whole 32-bit word
 * (a UTF-16 unit for text) rather than one byte, so a delivered message costs 6 multiply steps
 * instead of 24 (the hash is a determinism fingerprint, and this ran for every event). `u8` is the
 * byte-wise step, kept for known-answer tests of the core.
 */
export class TraceHash {
  private high = FNV64_OFFSET_HIGH;
  private low = FNV64_OFFSET_LOW;

  /**
   * h = (h ^ word) * (2^40 + 0x1b3) mod 2^64, in integer operations only: the low word times
   * 0x1b3 in 16-bit halves (each product stays far below 2^31), its carry into the high word,
   * and the 2^40 term, which only touches the high word (low << 8).
   */
  private step(value: number): void {
    const low = (this.low ^ value) >>> 0;
    const a = (low & 0xffff) * FNV64_PRIME_LOW;
    const b = (low >>> 16) * FNV64_PRIME_LOW + (a >>> 16);
    this.low = (((b & 0xffff) << 16) | (a & 0xffff)) >>> 0;
    this.high = (Math.imul(this.high, FNV64_PRIME_LOW) + (b >>> 16) + (low << 8)) >>> 0;
  }

  /** A uint32, as one word. */
  u32(value: number): void {
    this.step(value >>> 0);
  }

  /** A non-negative number of up to 53 bits (times, counts) as two words. */
  num(value: number): void {
    this.step(value >>> 0);
    this.step(Math.floor(value / U32) >>> 0);
  }

  text(value: string): void {
    for (let i = 0; i < value.length; i++) this.step(value.charCodeAt(i));
    // Not a UTF-16 unit: ends the string, so ("ab","c") and ("a","bc") differ.
    this.step(0x1_0000);
  }

  /** One byte: the plain FNV-1a 64 step (known-answer tests). */
  u8(value: number): void {
    this.step(value & 0xff);
  }

  /**
   * A byte string, folded in as its 32-bit FNV-1a digest and its length: hashing each payload
   * byte into the 64-bit state would cost a float multiply per byte on the hot path.
   */
  bytes(value: Uint8Array): void {
    let h = FNV32_OFFSET;
    for (let i = 0; i < value.length; i++) {
      h ^= value[i] as number;
      h = Math.imul(h, FNV32_PRIME);
    }
    this.step(h >>> 0);
    this.step(value.length);
  }

  hex(): string {
    return this.high.toString(16).padStart(8, '0') + this.low.toString(16).padStart(8, '0');
  }
}
