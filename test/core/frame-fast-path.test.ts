/**
 * The server's fast paths change nothing but cost. The heartbeat check of core/frames.ts says
 * what clientFrameSchema says: whenever it answers (non-null), the schema accepts the same message
 * and returns an equal frame; a valid heartbeat always takes it. A FrameDecoder with known
 * payloads yields the same frames as one without, however the bytes are chunked. The client's
 * fast path for heartbeat acks, presence pushes and login.ok says what serverFrameSchema says. Replay a failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/frame-fast-path.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameDecoder, encodeControl, knownPayload } from '../../core/codec.ts';
import { clientFrameSchema, heartbeatFastPath, serverFrameFastPath, serverFrameSchema } from '../../core/frames.ts';
import { replay } from '../helpers/fc-replay.ts';

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

/** Messages near a heartbeat ack or a presence push. */
const nearClientFastPath = fc.oneof(
  fc.record(
    {
      type: fc.constantFrom('heartbeat.ack', 'presence', 'presence ', 'friends'),
      re: fc.oneof(fc.integer({ min: -5, max: 1_000 }), fc.double(), fc.string(), fc.constant(null)),
      username: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
      status: fc.oneof(fc.constantFrom('online', 'offline', 'away', 'ONLINE'), fc.jsonValue()),
      extra: fc.jsonValue(),
    },
    { requiredKeys: ['type'] },
  ),
  fc.record(
    {
      type: fc.constant('login.ok'),
      re: fc.oneof(fc.nat(), fc.integer({ min: -3, max: 3 }), fc.double(), fc.constant(Number.MAX_SAFE_INTEGER + 2)),
      username: fc.oneof(fc.string(), fc.integer()),
      nickname: fc.oneof(fc.string(), fc.constant(null)),
      friends: fc.oneof(
        fc.array(
          fc.oneof(
            fc.record({ username: fc.string(), nickname: fc.string(), status: fc.constantFrom('online', 'offline') }),
            fc.record({ username: fc.string(), nickname: fc.string(), status: fc.constantFrom('online', 'away'), extra: fc.jsonValue() }, { requiredKeys: ['username'] }),
            fc.jsonValue(),
          ),
          { maxLength: 4 },
        ),
        fc.jsonValue(),
      ),
      incoming: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.array(fc.jsonValue(), { maxLength: 3 })),
      outgoing: fc.oneof(fc.array(fc.string(), { maxLength: 3 }), fc.jsonValue()),
      resumeToken: fc.oneof(fc.string(), fc.constant(7)),
      resumed: fc.oneof(fc.boolean(), fc.constant('yes')),
      extra: fc.jsonValue(),
    },
    { requiredKeys: ['type', 'username', 'nickname', 'friends', 'incoming', 'outgoing', 'resumeToken', 'resumed'] },
  ),
  fc.jsonValue(),
  fc.anything(),
);

describe('client fast path (heartbeat acks, presence, login.ok)', () => {
  it('whenever the fast path answers, serverFrameSchema accepts and returns an equal frame', () => {
    fc.assert(
      fc.property(nearClientFastPath, (message) => {
        const fast = serverFrameFastPath(message);
        if (fast === null) return;
        const parsed = serverFrameSchema.safeParse(message);
        expect(parsed.success).toBe(true);
        expect(fast).toEqual(parsed.data);
      }),
      { ...replay, numRuns: 2_000 },
    );
  });

  it('takes every login.ok the schema accepts whose id is a safe integer', () => {
    fc.assert(
      fc.property(nearClientFastPath, (message) => {
        const parsed = serverFrameSchema.safeParse(message);
        if (!parsed.success || parsed.data.type !== 'login.ok') return;
        const re = parsed.data.re;
        if (re !== undefined && !Number.isSafeInteger(re)) return;
        expect(serverFrameFastPath(message)).toEqual(parsed.data);
      }),
      { ...replay, numRuns: 2_000 },
    );
  });

  it('takes the ack of a heartbeat without an id, every valid presence push and a valid login.ok', () => {
    expect(serverFrameFastPath(JSON.parse('{"type":"heartbeat.ack"}'))).toEqual({ type: 'heartbeat.ack' });
    expect(serverFrameFastPath(JSON.parse('{"type":"presence","username":"bob","status":"online"}'))).toEqual({ type: 'presence', username: 'bob', status: 'online' });
    expect(serverFrameFastPath(JSON.parse('{"type":"presence","username":"bob","status":"away"}'))).toBeNull();
    const loginOk = {
      type: 'login.ok',
      re: 3,
      username: 'alice',
      nickname: 'Alice',
      friends: [{ username: 'bob', nickname: 'Bob', status: 'online', extra: 1 }],
      incoming: ['carol'],
      outgoing: [],
      resumeToken: 'tok',
      resumed: false,
    };
    expect(serverFrameFastPath(loginOk)).toEqual(serverFrameSchema.parse(loginOk));
    expect(serverFrameFastPath({ ...loginOk, friends: [{ username: 'bob', nickname: 'Bob', status: 'away' }] })).toBeNull();
  });
});

describe('known payloads', () => {
  const known = [knownPayload({ type: 'heartbeat' })];
  const messages = fc.oneof(
    fc.constant({ type: 'heartbeat' }),
    fc.record({ type: fc.constantFrom('heartbeat', 'login', 'heartbeat.ack'), id: fc.nat() }, { requiredKeys: ['type'] }),
    fc.dictionary(fc.string(), fc.jsonValue()),
  );

  function decodeAll(decoder: FrameDecoder, bytes: Uint8Array, cuts: number[]): unknown[] {
    const out: unknown[] = [];
    let at = 0;
    for (const cut of [...cuts.map((c) => c % (bytes.byteLength + 1)).sort((a, b) => a - b), bytes.byteLength]) {
      decoder.push(bytes.subarray(at, Math.max(at, cut)));
      at = Math.max(at, cut);
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) out.push(frame);
    }
    return out;
  }

  it('a decoder with known payloads yields the same frames as one without, for any chunking', () => {
    fc.assert(
      fc.property(fc.array(messages, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (list, cuts) => {
        const parts = list.map((m) => encodeControl(m));
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
        let at = 0;
        for (const part of parts) {
          bytes.set(part, at);
          at += part.byteLength;
        }
        const plain = decodeAll(new FrameDecoder(), bytes, cuts);
        const fast = decodeAll(new FrameDecoder({ knownPayloads: known }), bytes, cuts);
        expect(fast).toEqual(plain);
      }),
      { ...replay, numRuns: 500 },
    );
  });

  it('each known message is a fresh object (a receiver may keep or change it)', () => {
    const decoder = new FrameDecoder({ knownPayloads: known });
    decoder.push(encodeControl({ type: 'heartbeat' }));
    decoder.push(encodeControl({ type: 'heartbeat' }));
    const a = decoder.next();
    const b = decoder.next();
    expect(a).toEqual({ kind: 'control', message: { type: 'heartbeat' } });
    expect(a !== null && b !== null && a.kind === 'control' && b.kind === 'control' && a.message !== b.message).toBe(true);
  });
});
