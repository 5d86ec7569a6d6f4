/**
 * Virtual time. The clock only jumps to the next event's time; nothing sleeps and no wall clock is
 * read inside a run. A Scope groups the timers of one simulated process so a crash can drop them
 * all at once (the process's memory is gone, so must be its pending wake-ups).
 */
import type { Clock } from '../../core/transport.ts';
import { EventQueue } from './event-queue.ts';

export class Scope {
  alive = true;
  /** A paused process (SIGSTOP, a long GC pause): its timers wait until then and fire late. */
  pausedUntilMs = 0;
  kill(): void {
    this.alive = false;
  }
}

/**
 * One node's own clock: it runs at 1 + driftPpm/10^6 of the true (virtual) rate and may have
 * stepped forward by skewMs (a suspended VM catching up). Read live, so a clock fault can change
 * it mid-run: the local time stays continuous across a change of rate, and never goes back.
 */
const TRUE_AT_ROUND_UP_MS = 1e-6;

export class NodeClockRate {
  driftPpm = 0;
  /** True time and local time at the last change. */
  private sinceMs = 0;
  private localAtSinceMs = 0;

  local(trueMs: number): number {
    return this.localAtSinceMs + (trueMs - this.sinceMs) * (1 + this.driftPpm / 1e6);
  }

  /**
   * The true time at which this clock will read `localMs`, rounded up by a nanosecond: a timer
   * must never find its deadline a rounding error short of due (it would re-arm at the same
   * instant forever).
   */
  trueAt(localMs: number): number {
    return this.sinceMs + (localMs - this.localAtSinceMs) / (1 + this.driftPpm / 1e6) + TRUE_AT_ROUND_UP_MS;
  }

  /** From `nowMs` on: run at this drift, after a forward step of skewMs. */
  change(nowMs: number, driftPpm: number, skewMs: number): void {
    this.localAtSinceMs = this.local(nowMs) + Math.max(0, skewMs);
    this.sinceMs = nowMs;
    this.driftPpm = driftPpm;
  }

  get identity(): boolean {
    return this.driftPpm === 0 && this.localAtSinceMs === this.sinceMs;
  }
}

/**
 * Thrown from inside an event when the simulated process running it dies there (a store write
 * that fails kills the server mid-batch): the rest of the event's work vanishes with the process,
 * and the run goes on.
 */
export class ProcessDied extends Error {
  override readonly name = 'ProcessDied';
}

export class SimClock implements Clock {
  readonly queue = new EventQueue();
  private currentMs = 0;
  /** Events run so far. */
  processed = 0;

  nowMs(): number {
    return this.currentMs;
  }

  at(atMs: number, fn: () => void, owner: Scope | null = null): () => void {
    const event = this.queue.push(Math.max(atMs, this.currentMs), fn, owner);
    return () => this.queue.cancel(event);
  }

  /** Like `at`, for the many events nobody cancels: no cancel function is made for them. */
  post(atMs: number, fn: () => void, owner: Scope | null = null): void {
    this.queue.push(Math.max(atMs, this.currentMs), fn, owner);
  }

  after(delayMs: number, fn: () => void): () => void {
    return this.at(this.currentMs + delayMs, fn);
  }

  /** A Clock whose timers fire only while `scope` is alive; with a rate, it reads that node's own time. */
  scoped(scope: Scope, rate: NodeClockRate | null = null): Clock {
    if (rate === null) {
      return {
        nowMs: () => this.currentMs,
        at: (atMs, fn) => this.at(atMs, fn, scope),
      };
    }
    return {
      nowMs: () => (rate.identity ? this.currentMs : rate.local(this.currentMs)),
      at: (atMs, fn) => this.at(rate.identity ? atMs : rate.trueAt(atMs), fn, scope),
    };
  }

  /** Runs events up to and including untilMs, at most eventsMax of them; returns how many ran. */
  runUntil(untilMs: number, eventsMax = Number.MAX_SAFE_INTEGER): number {
    let ran = 0;
    const queue = this.queue;
    while (ran < eventsMax) {
      const event = queue.popDue(untilMs);
      if (event === null) break;
      this.currentMs = event.atMs;
      const owner = event.owner;
      if (owner !== null && owner.alive && owner.pausedUntilMs > event.atMs) {
        queue.requeue(event, owner.pausedUntilMs);
        continue;
      }
      const fn = event.fn;
      event.fn = null;
      // A crashed process's wake-ups vanish with it, uncounted.
      if (owner !== null && !owner.alive) continue;
      ran += 1;
      if (fn === null) continue;
      try {
        fn();
      } catch (error) {
        if (!(error instanceof ProcessDied)) throw error;
      }
    }
    this.processed += ran;
    if (ran < eventsMax && this.currentMs < untilMs) this.currentMs = untilMs;
    return ran;
  }
}
