/**
 * Reconnect delays: exponential from RECONNECT_DELAY_MS_MIN, capped at RECONNECT_DELAY_MS_MAX,
 * each scaled by a jitter factor in [0.5, 1) so many clients that lost the same server do not
 * come back in lock-step. The jitter comes from a small seeded generator (xorshift32): the core
 * has no randomness of its own, so the runtime passes a random seed and the simulator a seeded one.
 */
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../limits.ts';

export class Backoff {
  private state: number;
  private attempts = 0;

  constructor(
    seed: number,
    private readonly minMs = RECONNECT_DELAY_MS_MIN,
    private readonly maxMs = RECONNECT_DELAY_MS_MAX,
  ) {
    // xorshift32 must not start at 0.
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** The delay before the next attempt; each call counts one attempt. */
  nextDelayMs(): number {
    const exponent = Math.min(this.attempts, 30);
    this.attempts += 1;
    const baseMs = Math.min(this.maxMs, this.minMs * 2 ** exponent);
    return Math.floor(baseMs * (0.5 + 0.5 * this.nextUnit()));
  }

  reset(): void {
    this.attempts = 0;
  }

  get attemptCount(): number {
    return this.attempts;
  }

  /** Uniform in [0, 1). */
  private nextUnit(): number {
    let x = this.state;
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.state = x;
    return x / 0x1_0000_0000;
  }
}
