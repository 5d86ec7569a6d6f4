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

  /** A Clock whose timers fire only while `scope` is alive. */
  scoped(scope: Scope): Clock {
    return {
      nowMs: () => this.currentMs,
      at: (atMs, fn) => this.at(atMs, fn, scope),
    };
  }

  /** Runs events up to and including untilMs, at most eventsMax of them; returns how many ran. */
  runUntil(untilMs: number, eventsMax = Number.MAX_SAFE_INTEGER): number {
    let ran = 0;
    const queue = this.queue;
    while (ran < eventsMax) {
      const next = queue.peekMs();
      if (next === null || next > untilMs) break;
      const event = queue.pop();
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
