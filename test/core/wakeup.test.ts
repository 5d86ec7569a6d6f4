import { describe, expect, it } from 'vitest';
import type { Clock } from '../../core/transport.ts';
import { Wakeup } from '../../core/wakeup.ts';

/** A clock whose timers fire only when the test advances it; counts what was armed and cancelled. */
function manualClock() {
  let nowMs = 0;
  const timers = new Map<number, { atMs: number; fn: () => void }>();
  let armings = 0;
  let nextId = 1;
  const clock: Clock = {
    nowMs: () => nowMs,
    at(atMs, fn) {
      const id = nextId++;
      armings += 1;
      timers.set(id, { atMs, fn });
      return () => timers.delete(id);
    },
  };
  return {
    clock,
    armed: () => [...timers.values()].map((t) => t.atMs),
    armings: () => armings,
    advanceTo(ms: number) {
      nowMs = ms;
      for (const [id, t] of [...timers]) {
        if (t.atMs <= ms) {
          timers.delete(id);
          t.fn();
        }
      }
    },
  };
}

describe('Wakeup: one timer at the machine next deadline', () => {
  it('wakes once at the deadline with the clock time, then holds no timer', () => {
    const c = manualClock();
    const woken: number[] = [];
    const wakeup = new Wakeup(c.clock, (nowMs) => woken.push(nowMs));
    wakeup.set(100);
    expect(c.armed()).toEqual([100]);
    c.advanceTo(99);
    expect(woken).toEqual([]);
    c.advanceTo(105);
    expect(woken).toEqual([105]);
    expect(c.armed()).toEqual([]);
  });

  it('re-arming to the same deadline is free (no timer churn on every batch); a new deadline replaces it', () => {
    const c = manualClock();
    const wakeup = new Wakeup(c.clock, () => {});
    wakeup.set(100);
    wakeup.set(100);
    expect(c.armed()).toEqual([100]);
    expect(c.armings()).toBe(1);
    wakeup.set(50);
    expect(c.armed()).toEqual([50]);
  });

  it('null disarms, and clear() forgets the deadline so the same one can be armed again', () => {
    const c = manualClock();
    const woken: number[] = [];
    const wakeup = new Wakeup(c.clock, (nowMs) => woken.push(nowMs));
    wakeup.set(100);
    wakeup.set(null);
    expect(c.armed()).toEqual([]);
    wakeup.set(100);
    wakeup.clear();
    expect(c.armed()).toEqual([]);
    wakeup.set(100);
    expect(c.armed()).toEqual([100]);
    c.advanceTo(100);
    expect(woken).toEqual([100]);
  });

  it('after waking, the same deadline can be armed again (the fired timer is forgotten)', () => {
    const c = manualClock();
    let wakes = 0;
    const wakeup = new Wakeup(c.clock, () => {
      wakes += 1;
    });
    wakeup.set(10);
    c.advanceTo(10);
    wakeup.set(10);
    expect(c.armed()).toEqual([10]);
    c.advanceTo(11);
    expect(wakes).toBe(2);
  });
});
