/**
 * Mailbox.nextSeq: the seqs one node makes for offline mail. They increase in arrival order and
 * never repeat, start from the clock (nowMs * MAIL_SEQS_PER_MS, so a restart that only knows the
 * seqs still held never hands out one a client may remember), and each lies in the node's own
 * slot (seq mod slots = slot), the first such seq not below both bounds, so nodes sharing one
 * database never make the same seq.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAIL_SEQ_NODE_SLOTS, MAIL_SEQS_PER_MS, Mailbox } from '../../../core/server/mailbox.ts';
import { replay } from '../../helpers/fc-replay.ts';

const empty = { accounts: [], friendships: [], requests: [] };

describe('Mailbox.nextSeq', () => {
  it('for any slot and clock (standing still, jumping, going back), each seq is in the slot, above the last, at or above nowMs * MAIL_SEQS_PER_MS, and the first such one', () => {
    const nodes = fc.oneof(
      fc.constant({ slot: 0, slots: 1 }),
      fc.integer({ min: 2, max: 7 }).chain((slots) => fc.record({ slot: fc.integer({ min: 0, max: slots - 1 }), slots: fc.constant(slots) })),
      fc.integer({ min: 0, max: MAIL_SEQ_NODE_SLOTS - 1 }).map((slot) => ({ slot, slots: MAIL_SEQ_NODE_SLOTS })),
    );
    // Clock steps in ms, fractions included: 0 (a burst within one ms), small, large, backwards.
    const steps = fc.array(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 3, noNaN: true }), fc.integer({ min: -5_000, max: 5_000 })), { minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(nodes, fc.integer({ min: 0, max: 2_000_000_000_000 }), steps, ({ slot, slots }, startMs, stepsMs) => {
        const box = new Mailbox(empty);
        let nowMs = startMs;
        let last = 0;
        for (const stepMs of stepsMs) {
          nowMs = Math.max(0, nowMs + stepMs);
          const seq = box.nextSeq(nowMs, slot, slots);
          const floor = Math.max(last + 1, Math.floor(nowMs) * MAIL_SEQS_PER_MS);
          expect(((seq % slots) + slots) % slots).toBe(slot);
          expect(seq).toBeGreaterThanOrEqual(floor);
          expect(seq).toBeLessThan(floor + slots);
          last = seq;
        }
      }),
      { ...replay, numRuns: 500 },
    );
  });

  it('a single server (one slot) counts from the clock: a fresh mailbox at 5 ms makes 5000, then 5001 within that ms', () => {
    const box = new Mailbox(empty);
    expect(box.nextSeq(5.7)).toBe(5 * MAIL_SEQS_PER_MS);
    expect(box.nextSeq(5.9)).toBe(5 * MAIL_SEQS_PER_MS + 1);
    expect(box.nextSeq(7)).toBe(7 * MAIL_SEQS_PER_MS);
  });

  it('two nodes queueing in the same millisecond make different seqs, each in its own slot', () => {
    const a = new Mailbox(empty);
    const b = new Mailbox(empty);
    const fromA = [a.nextSeq(10, 3, MAIL_SEQ_NODE_SLOTS), a.nextSeq(10, 3, MAIL_SEQ_NODE_SLOTS)];
    const fromB = [b.nextSeq(10, 4, MAIL_SEQ_NODE_SLOTS), b.nextSeq(10, 4, MAIL_SEQ_NODE_SLOTS)];
    expect(fromA).toEqual([10 * MAIL_SEQS_PER_MS + 3, 10 * MAIL_SEQS_PER_MS + 3 + MAIL_SEQ_NODE_SLOTS]);
    expect(fromB).toEqual([10 * MAIL_SEQS_PER_MS + 4, 10 * MAIL_SEQS_PER_MS + 4 + MAIL_SEQ_NODE_SLOTS]);
  });
});
