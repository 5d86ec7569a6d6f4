/**
 * One clock timer kept at a machine's next deadline. Every host (server, client, simulated peer)
 * needs exactly this after each batch of inputs: ask `nextTimeoutMs()`, re-arm if it moved.
 * Re-arming to the same deadline is free; a wake-up that finds nothing due is harmless.
 */
import type { Clock } from './transport.ts';

export class Wakeup {
  private cancel: (() => void) | null = null;
  private atMs: number | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly onWake: (nowMs: number) => void,
  ) {}

  /** Arms the timer for atMs, or disarms it for null. */
  set(atMs: number | null): void {
    if (atMs === this.atMs) return;
    this.clear();
    this.atMs = atMs;
    if (atMs === null) return;
    this.cancel = this.clock.at(atMs, () => {
      this.cancel = null;
      this.atMs = null;
      this.onWake(this.clock.nowMs());
    });
  }

  clear(): void {
    this.cancel?.();
    this.cancel = null;
    this.atMs = null;
  }
}
