/**
 * Deadlines: the machines' timers. Unit tests of the heap order and re-arming, and a property
 * against a naive model (a plain map scanned for its minimum).
 * Replay a property failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/deadlines.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Deadlines } from '../../core/deadlines.ts';
import { replay } from '../helpers/fc-replay.ts';

function popAll(deadlines: Deadlines, nowMs: number): string[] {
  const keys: string[] = [];
  for (let key = deadlines.popDue(nowMs); key !== null; key = deadlines.popDue(nowMs)) keys.push(key);
  return keys;
}

describe('Deadlines', () => {
  it('pops due keys in deadline order and leaves later ones', () => {
    const d = new Deadlines();
    d.arm('c', 30);
    d.arm('a', 10);
    d.arm('b', 20);
    d.arm('z', 100);
    expect(d.nextMs()).toBe(10);
    expect(popAll(d, 30)).toEqual(['a', 'b', 'c']);
    expect(d.nextMs()).toBe(100);
    expect(d.size).toBe(1);
    expect(d.popDue(99)).toBeNull();
  });

  it('re-arming later moves the deadline out (the old one no longer fires)', () => {
    const d = new Deadlines();
    d.arm('ttl', 10);
    d.arm('ttl', 50);
    expect(d.nextMs()).toBe(50);
    expect(d.popDue(49)).toBeNull();
    expect(d.popDue(50)).toBe('ttl');
    expect(d.nextMs()).toBeNull();
  });

  it('re-arming earlier moves the deadline in', () => {
    const d = new Deadlines();
    d.arm('x', 50);
    d.arm('y', 40);
    d.arm('x', 5);
    expect(d.nextMs()).toBe(5);
    expect(d.atMs('x')).toBe(5);
    expect(popAll(d, 100)).toEqual(['x', 'y']);
  });

  it('disarm removes a deadline; disarming an unknown key is harmless', () => {
    const d = new Deadlines();
    d.arm('a', 10);
    d.arm('b', 20);
    d.disarm('a');
    d.disarm('never');
    expect(d.has('a')).toBe(false);
    expect(d.nextMs()).toBe(20);
    expect(popAll(d, 100)).toEqual(['b']);
    expect(d.size).toBe(0);
  });

  it('disarming frees the key at once: a login disarming its idle timer leaves no heap entry behind', () => {
    const d = new Deadlines();
    const heap = (d as unknown as { heap: unknown[] }).heap;
    // 1,000 connections: an idle deadline each, then a login disarms it and arms a TTL.
    for (let i = 0; i < 1_000; i++) d.arm(`idle:${i}`, 30_000);
    for (let i = 0; i < 1_000; i++) {
      d.disarm(`idle:${i}`);
      d.arm(`ttl:${i}`, 60_000 + i);
    }
    expect(heap).toHaveLength(1_000);
    expect(d.size).toBe(1_000);
    expect(d.nextMs()).toBe(60_000);
    for (let i = 0; i < 1_000; i++) d.disarm(`ttl:${i}`);
    expect(heap).toHaveLength(0);
    expect(d.nextMs()).toBeNull();
  });

  it('a key popped and armed again fires again', () => {
    const d = new Deadlines();
    d.arm('k', 10);
    expect(d.popDue(10)).toBe('k');
    d.arm('k', 20);
    expect(d.popDue(15)).toBeNull();
    expect(d.popDue(20)).toBe('k');
  });

  it('handles many keys in order, and re-arming one key often keeps its heap small', () => {
    const d = new Deadlines();
    const n = 5_000;
    // Pseudo-shuffled insertion order, no randomness needed.
    for (let i = 0; i < n; i++) d.arm(`k${(i * 7919) % n}`, ((i * 7919) % n) * 3);
    const popped = popAll(d, Number.MAX_SAFE_INTEGER);
    expect(popped).toHaveLength(n);
    expect(popped.slice(0, 3)).toEqual(['k0', 'k1', 'k2']);
    expect(popped.at(-1)).toBe(`k${n - 1}`);
    // A heartbeat pushing one TTL out 10,000 times must not grow the heap without bound.
    for (let i = 0; i < 10_000; i++) d.arm('ttl', 1_000 + i);
    const heap = (d as unknown as { heap: unknown[] }).heap;
    expect(heap.length).toBeLessThanOrEqual(2);
    expect(popAll(d, Number.MAX_SAFE_INTEGER)).toEqual(['ttl']);
  });

  it('property: behaves like a naive sorted model under any sequence of arm, disarm, nextMs and popDue, with one heap entry per armed key', () => {
    const key = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f');
    const op = fc.oneof(
      fc.record({ op: fc.constant('arm' as const), key, atMs: fc.nat({ max: 200 }) }),
      fc.record({ op: fc.constant('disarm' as const), key }),
      fc.record({ op: fc.constant('pop' as const), nowMs: fc.nat({ max: 200 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const real = new Deadlines();
        const model = new Map<string, number>();
        for (const step of ops) {
          if (step.op === 'arm') {
            real.arm(step.key, step.atMs);
            model.set(step.key, step.atMs);
          } else if (step.op === 'disarm') {
            real.disarm(step.key);
            model.delete(step.key);
          } else {
            const sorted = [...model.entries()].sort((x, y) => x[1] - y[1]);
            const popped = popAll(real, step.nowMs);
            const due = sorted.filter(([, at]) => at <= step.nowMs);
            // Same keys, in non-decreasing deadline order (ties in any order).
            expect([...popped].sort()).toEqual(due.map(([k]) => k).sort());
            const times = popped.map((k) => model.get(k)!);
            expect(times).toEqual([...times].sort((x, y) => x - y));
            for (const k of popped) model.delete(k);
          }
          const min = [...model.values()].reduce<number | null>((m, at) => (m === null || at < m ? at : m), null);
          expect(real.nextMs()).toBe(min);
          expect(real.size).toBe(model.size);
          // Exactly one heap entry per armed key: nothing stale is kept.
          expect((real as unknown as { heap: unknown[] }).heap).toHaveLength(model.size);
          for (const [k, at] of model) expect(real.atMs(k)).toBe(at);
        }
      }),
      { numRuns: 300, ...replay },
    );
  });
});
