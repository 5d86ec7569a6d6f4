import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EventQueue, type QueuedEvent } from '../../../sim/world/event-queue.ts';
import { Prng } from '../../../sim/world/prng.ts';
import { SimClock } from '../../../sim/world/sim-clock.ts';
import { TraceHash, fnv1a32 } from '../../../sim/world/trace-hash.ts';
import { replay } from '../../helpers/fc-replay.ts';

describe('seeded PRNG', () => {
  it('same seed gives the same sequence; another seed another', () => {
    const a = new Prng(42);
    const b = new Prng(42);
    const c = new Prng(43);
    const seqA = Array.from({ length: 16 }, () => a.nextU32());
    expect(Array.from({ length: 16 }, () => b.nextU32())).toEqual(seqA);
    expect(Array.from({ length: 16 }, () => c.nextU32())).not.toEqual(seqA);
  });

  it('named streams are independent: drawing from one never shifts another', () => {
    const untouched = Prng.stream(7, 'network');
    const expected = Array.from({ length: 8 }, () => untouched.nextU32());
    const busy = Prng.stream(7, 'faults');
    for (let i = 0; i < 1000; i++) busy.nextU32();
    const again = Prng.stream(7, 'network');
    expect(Array.from({ length: 8 }, () => again.nextU32())).toEqual(expected);
    expect(Prng.stream(7, 'tokens').nextU32()).not.toBe(Prng.stream(7, 'network').nextU32());
  });

  it('property: float() is in [0, 1) and int(n) in [0, n)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 1, max: 1_000_000 }), (seed, n) => {
        const prng = new Prng(seed);
        for (let i = 0; i < 50; i++) {
          const f = prng.float();
          const k = prng.int(n);
          if (f < 0 || f >= 1 || k < 0 || k >= n || !Number.isInteger(k)) return false;
        }
        return true;
      }),
      replay,
    );
  });
});

describe('trace hash', () => {
  it('matches the FNV-1a known answers', () => {
    expect(fnv1a32('a').toString(16)).toBe('e40c292c');
    const h = new TraceHash();
    h.u8(0x61);
    expect(h.hex()).toBe('af63dc4c8601ec8c');
    expect(new TraceHash().hex()).toBe('cbf29ce484222325');
  });
});

describe('event queue', () => {
  it('property: events pop in (time, insertion) order, cancelled ones never', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 300 }), (items) => {
        const queue = new EventQueue();
        const order: number[] = [];
        const events = items.map(([atMs], i) => queue.push(atMs, () => order.push(i)));
        items.forEach(([, cancel], i) => {
          if (cancel) queue.cancel(events[i]!);
        });
        for (let e = queue.pop(); e !== null; e = queue.pop()) e.fn?.();
        const expected = items
          .map(([atMs, cancel], i) => ({ atMs, cancel, i }))
          .filter((x) => !x.cancel)
          .sort((x, y) => x.atMs - y.atMs || x.i - y.i)
          .map((x) => x.i);
        return JSON.stringify(order) === JSON.stringify(expected) && queue.size === 0;
      }),
      replay,
    );
  });

  it('property: popDue pops exactly the live events due by its limit, in order, and leaves the rest', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 300 }), fc.integer({ min: -1, max: 51 }), (items, untilMs) => {
        const queue = new EventQueue();
        const events = items.map(([atMs]) => queue.push(atMs, () => {}));
        items.forEach(([, cancel], i) => {
          if (cancel) queue.cancel(events[i]!);
        });
        const popped: QueuedEvent[] = [];
        for (let e = queue.popDue(untilMs); e !== null; e = queue.popDue(untilMs)) popped.push(e);
        const live = events.filter((_, i) => !items[i]![1]);
        const due = live.filter((e) => e.atMs <= untilMs).sort((x, y) => x.atMs - y.atMs || x.seq - y.seq);
        return popped.length === due.length && popped.every((e, i) => e === due[i]) && queue.size === live.length - due.length && (queue.peekMs() ?? Infinity) > untilMs;
      }),
      replay,
    );
  });

  it('the clock jumps to each event and never runs past the limit', () => {
    const clock = new SimClock();
    const seen: number[] = [];
    clock.at(30, () => seen.push(clock.nowMs()));
    clock.at(10, () => {
      seen.push(clock.nowMs());
      clock.at(20, () => seen.push(clock.nowMs()));
    });
    clock.at(100, () => seen.push(clock.nowMs()));
    clock.runUntil(50);
    expect(seen).toEqual([10, 20, 30]);
    expect(clock.nowMs()).toBe(50);
  });
});
