/**
 * Token buckets keyed by string, with time passed in. Bounded: past `bucketsMax` keys, the
 * least recently touched bucket is forgotten (which can only make the limiter more lenient).
 */
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

  /** Takes one token for `key` if there is one; false means "rate limited". perSec 0 disables the limit. */
  take(key: string, nowMs: number): boolean {
    if (this.options.perSec <= 0) return true;
    const bucket = this.refill(key, nowMs);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
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
    if (this.buckets.size > bucketsMax) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
    }
    return bucket;
  }
}

/**
 * Counts failures per key inside a fixed window (login failures per username): after `max`
 * failures the key is blocked until the window that began with the first failure ends.
 */
export class FailureWindow {
  private readonly windows = new Map<string, { startMs: number; failures: number }>();

  constructor(
    private readonly max: number,
    private readonly windowMs: number,
    private readonly keysMax: number,
  ) {}

  blocked(key: string, nowMs: number): boolean {
    const window = this.windows.get(key);
    if (window === undefined) return false;
    if (nowMs - window.startMs >= this.windowMs) {
      this.windows.delete(key);
      return false;
    }
    return window.failures >= this.max;
  }

  fail(key: string, nowMs: number): void {
    const window = this.windows.get(key);
    if (window === undefined || nowMs - window.startMs >= this.windowMs) {
      this.windows.delete(key);
      this.windows.set(key, { startMs: nowMs, failures: 1 });
      if (this.windows.size > this.keysMax) {
        const oldest = this.windows.keys().next();
        if (!oldest.done) this.windows.delete(oldest.value);
      }
      return;
    }
    window.failures += 1;
  }

  clear(key: string): void {
    this.windows.delete(key);
  }
}
