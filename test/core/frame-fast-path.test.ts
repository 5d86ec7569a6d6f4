/**
 * The heartbeat fast path of core/frames.ts says what clientFrameSchema says: whenever it answers
 * (non-null), the schema accepts the same message and returns an equal frame; a valid heartbeat
 * always takes it. Replay a failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/frame-fast-path.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { clientFrameSchema, heartbeatFastPath } from '../../core/frames.ts';

const replay: fc.Parameters<unknown> = {
  ...(process.env.FC_SEED === undefined ? {} : { seed: Number(process.env.FC_SEED) }),
  ...(process.env.FC_PATH === undefined ? {} : { path: process.env.FC_PATH }),
};

/** Messages near a heartbeat: every kind of id, extra keys, other types, non-objects. */
const nearHeartbeat = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom('heartbeat', 'heartbeat ', 'logout', 'HEARTBEAT'),
      id: fc.oneof(fc.integer({ min: -5, max: Number.MAX_SAFE_INTEGER }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2), fc.string(), fc.constant(null), fc.boolean()),
      extra: fc.jsonValue(),
    },
    { requiredKeys: ['type'] },
  ),
  fc.jsonValue(),
  fc.anything(),
);

describe('heartbeat fast path', () => {
  it('whenever the fast path answers, the schema accepts and returns an equal frame', () => {
    fc.assert(
      fc.property(nearHeartbeat, (message) => {
        const fast = heartbeatFastPath(message);
        if (fast === null) return;
        const parsed = clientFrameSchema.safeParse(message);
        expect(parsed.success).toBe(true);
        expect(fast).toEqual(parsed.data);
      }),
      { ...replay, numRuns: 2_000 },
    );
  });

  it('every heartbeat the schema accepts takes the fast path', () => {
    fc.assert(
      fc.property(nearHeartbeat, (message) => {
        const parsed = clientFrameSchema.safeParse(message);
        if (!parsed.success || parsed.data.type !== 'heartbeat') return;
        expect(heartbeatFastPath(message)).toEqual(parsed.data);
      }),
      { ...replay, numRuns: 2_000 },
    );
  });

  it('takes the plain heartbeat a client sends, with and without an id', () => {
    expect(heartbeatFastPath(JSON.parse('{"type":"heartbeat"}'))).toEqual({ type: 'heartbeat' });
    expect(heartbeatFastPath(JSON.parse('{"type":"heartbeat","id":7}'))).toEqual({ type: 'heartbeat', id: 7 });
    expect(heartbeatFastPath(JSON.parse('{"type":"heartbeat","id":-1}'))).toBeNull();
    expect(heartbeatFastPath(JSON.parse('{"type":"heartbeat","id":1.5}'))).toBeNull();
  });
});
