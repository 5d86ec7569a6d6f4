/**
 * Token buckets keyed by string, with time passed in. Bounded: past `bucketsMax` keys, the
 * least recently touched bucket is forgotten (which can only make the limiter more lenient).
 */
import { dropOldestPast } from './bounded.ts';

export interface BucketOptions {
  readonly burst: number;
  readonly perSec: number;
  readonly bucketsMax: number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class RateLimiter {
  /** Map iteration order is insertion order: re-inserting on touch keeps the oldest first. */
  private readonly buckets = new Map<string, Bucket>();

  constructor(private readonly options: BucketOptions) {}

  /**
   * Takes `cost` tokens (one by default) for `key` if it has them; false means "rate limited".
   * perSec 0 disables the limit. A cost above the burst costs the burst: it could never be paid
   * otherwise, and a limit is never a lock.
   */
  take(key: string, nowMs: number, cost = 1): boolean {
    if (this.options.perSec <= 0) return true;
    const bucket = this.refill(key, nowMs);
    const due = Math.min(cost, this.options.burst);
    if (bucket.tokens < due) return false;
    bucket.tokens -= due;
    return true;
  }

  private refill(key: string, nowMs: number): Bucket {
    const { burst, perSec, bucketsMax } = this.options;
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      bucket = { tokens: burst, updatedMs: nowMs };
    } else {
      this.buckets.delete(key);
      const elapsedMs = Math.max(0, nowMs - bucket.updatedMs);
      bucket.tokens = Math.min(burst, bucket.tokens + (elapsedMs * perSec) / 1000);
      bucket.updatedMs = nowMs;
    }
    this.buckets.set(key, bucket);
    dropOldestPast(this.buckets, bucketsMax);
    return bucket;
  }
}

/**
 * Slows repeated password guesses down without ever blocking: per key (a username and the address
 * the guesses come from), the first `free` attempts go through at once; after that each attempt
 * must wait `delayMsMin`, doubled per further attempt up to `delayMsMax`, after the previous one.
 * The count is forgotten `forgetMs` after the last attempt, or at once by `clear` (a success).
 */
export interface GuessBackoffOptions {
  readonly free: number;
  readonly delayMsMin: number;
  readonly delayMsMax: number;
  readonly forgetMs: number;
  readonly keysMax: number;
}

export class GuessBackoff {
  /** Insertion order is last-attempt order: re-inserted on each attempt, the stalest first. */
  private readonly attempts = new Map<string, { count: number; lastMs: number }>();

  constructor(private readonly options: GuessBackoffOptions) {}

  /** Milliseconds until `key` may try again; 0 means now. */
  waitMs(key: string, nowMs: number): number {
    const entry = this.attempts.get(key);
    if (entry === undefined) return 0;
    if (nowMs - entry.lastMs >= this.options.forgetMs) {
      this.attempts.delete(key);
      return 0;
    }
    return Math.max(0, entry.lastMs + this.delayMs(entry.count) - nowMs);
  }

  /** Records an attempt (counted before its verdict, so parallel guesses count too). */
  attempt(key: string, nowMs: number): void {
    const entry = this.attempts.get(key);
    const fresh = entry === undefined || nowMs - entry.lastMs >= this.options.forgetMs;
    this.attempts.delete(key);
    this.attempts.set(key, { count: fresh ? 1 : entry.count + 1, lastMs: nowMs });
    dropOldestPast(this.attempts, this.options.keysMax);
  }

  clear(key: string): void {
    this.attempts.delete(key);
  }

  /** The wait after `count` attempts. */
  private delayMs(count: number): number {
    const { free, delayMsMin, delayMsMax } = this.options;
    if (count < free) return 0;
    // 2^30 already exceeds any sensible cap: no overflow, no Infinity.
    return Math.min(delayMsMax, delayMsMin * 2 ** Math.min(30, count - free));
  }
}

/**
 * A bounded wait line shared fairly between keys (remote addresses): the next item served is the
 * oldest item of the key served longest ago (among keys never served, the one waiting with the
 * fewest items), so a key that just arrived goes ahead of keys that keep the line full, and one
 * busy key cannot hold the others back by more than one item each.
 * When the line is full, a newcomer takes the place of the newest item of the key holding the
 * most, if that key holds more than the newcomer's key does; otherwise the newcomer is refused.
 */
export class FairQueue<T> {
  private readonly lines = new Map<string, { items: T[]; servedSeq: number }>();
  /** Keys served before, and when: a key whose line emptied keeps its place in the order. */
  private readonly servedSeqs = new Map<string, number>();
  private seq = 0;
  private count = 0;

  constructor(
    private readonly itemsMax: number,
    private readonly keysRememberedMax: number,
  ) {}

  get size(): number {
    return this.count;
  }

  /** Adds an item. Returns what was pushed out to make room (the item itself when refused), or null. */
  push(key: string, item: T): T | null {
    let line = this.lines.get(key);
    if (this.count >= this.itemsMax) {
      let fullest: { items: T[] } | undefined;
      for (const other of this.lines.values()) if (fullest === undefined || other.items.length > fullest.items.length) fullest = other;
      if (fullest === undefined || fullest.items.length <= (line?.items.length ?? 0) + 1) return item;
      const evicted = fullest.items.pop() as T;
      this.count -= 1;
      this.dropIfEmpty();
      line = this.lines.get(key);
      this.add(key, line, item);
      return evicted;
    }
    this.add(key, line, item);
    return null;
  }

  /** Takes the next item by the fairness rule; null when the line is empty. */
  shift(): T | null {
    let bestKey: string | undefined;
    let best: { items: T[]; servedSeq: number } | undefined;
    for (const [key, line] of this.lines) {
      if (best === undefined || line.servedSeq < best.servedSeq || (line.servedSeq === best.servedSeq && line.items.length < best.items.length)) {
        bestKey = key;
        best = line;
      }
    }
    if (best === undefined || bestKey === undefined) return null;
    const item = best.items.shift() as T;
    this.count -= 1;
    best.servedSeq = ++this.seq;
    this.servedSeqs.delete(bestKey);
    this.servedSeqs.set(bestKey, best.servedSeq);
    dropOldestPast(this.servedSeqs, this.keysRememberedMax);
    if (best.items.length === 0) this.lines.delete(bestKey);
    return item;
  }

  /** Removes the first item matching `match` (its client left); true when one was removed. */
  remove(key: string, match: (item: T) => boolean): boolean {
    const line = this.lines.get(key);
    if (line === undefined) return false;
    const index = line.items.findIndex(match);
    if (index < 0) return false;
    line.items.splice(index, 1);
    this.count -= 1;
    if (line.items.length === 0) this.lines.delete(key);
    return true;
  }

  private add(key: string, line: { items: T[]; servedSeq: number } | undefined, item: T): void {
    if (line === undefined) this.lines.set(key, { items: [item], servedSeq: this.servedSeqs.get(key) ?? 0 });
    else line.items.push(item);
    this.count += 1;
  }

  private dropIfEmpty(): void {
    for (const [key, line] of this.lines) if (line.items.length === 0) this.lines.delete(key);
  }
}
