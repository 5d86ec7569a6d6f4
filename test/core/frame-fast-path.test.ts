/**
 * The server's fast paths change nothing but cost. The heartbeat check of core/frames.ts says
 * what clientFrameSchema says: whenever it answers (non-null), the schema accepts the same message
 * and returns an equal frame; a valid heartbeat always takes it. A FrameDecoder with known
 * payloads yields the same frames as one without, however the bytes are chunked. The client's
 * fast path for heartbeat acks, presence pushes and login.ok says what serverFrameSchema says.
 * The flat frames read without zod (core/flat-frames.ts), both ways, say what their schemas say,
 * key for key and in the same order. Replay a failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/frame-fast-path.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_KIND_CONTROL, FRAME_KIND_DATA, FrameDecoder, type KnownPayload, encodeControl, knownPayload } from '../../core/codec.ts';
import { concat } from '../helpers/codec-streams.ts';
import { clientFrameFastPath, clientFrameSchema, heartbeatFastPath, serverFrameFastPath, serverFrameSchema } from '../../core/frames.ts';
import { PROTOCOL_VERSION, USERNAME_CHARS_MAX } from '../../core/limits.ts';
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
            fc.record({ username: fc.string(), nickname: fc.string(), status: fc.constantFrom('online', 'offline'), since: fc.oneof(fc.nat(), fc.double(), fc.string(), fc.constant(null)) }, { requiredKeys: ['username', 'nickname', 'status'] }),
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
    // Key for key: a friend without identity keys or a start has no such field, not one holding undefined.
    expect(serverFrameFastPath(loginOk)).toStrictEqual(serverFrameSchema.parse(loginOk));
    // When the friendship began is carried (a client tells a friendship made again by it).
    const withSince = { ...loginOk, friends: [{ username: 'bob', nickname: 'Bob', status: 'online', since: 1_700_000_000_000 }] };
    expect(serverFrameFastPath(withSince)).toEqual(serverFrameSchema.parse(withSince));
    expect(serverFrameFastPath(withSince)).toMatchObject({ friends: [{ since: 1_700_000_000_000 }] });
    expect(serverFrameFastPath({ ...loginOk, friends: [{ username: 'bob', nickname: 'Bob', status: 'away' }] })).toBeNull();
    // A start that is no finite number is left to the schema, which refuses it.
    for (const since of ['1700000000000', null, Number.POSITIVE_INFINITY, Number.NaN]) {
      const badSince = { ...loginOk, friends: [{ username: 'bob', nickname: 'Bob', status: 'online', since }] };
      expect(serverFrameFastPath(badSince)).toBeNull();
      expect(serverFrameSchema.safeParse(badSince).success).toBe(false);
    }
  });

  it('reads the two commonest frames without making one: every ack without an id is one shared frozen frame, and a presence push as the server writes it is taken as it is', () => {
    const ack = serverFrameFastPath(JSON.parse('{"type":"heartbeat.ack"}'));
    expect(serverFrameFastPath(JSON.parse('{"type":"heartbeat.ack"}'))).toBe(ack);
    expect(Object.isFrozen(ack)).toBe(true);
    const push = JSON.parse('{"type":"presence","username":"bob","status":"offline"}');
    expect(serverFrameFastPath(push)).toBe(push);
    // An ack with an id is a reply of its own: a fresh frame.
    expect(serverFrameFastPath(JSON.parse('{"type":"heartbeat.ack","re":4}'))).toEqual({ type: 'heartbeat.ack', re: 4 });
  });
});

/** Every field name a frame of `schema` can have, by frame type. */
function shapesOf(schema: typeof clientFrameSchema | typeof serverFrameSchema): Map<string, string[]> {
  const shapes = new Map<string, string[]>();
  for (const option of schema.options) shapes.set(option.shape.type.value, Object.keys(option.shape));
  return shapes;
}

const SIGN_KEY = `MCowBQYDK2VwAyEA${'A'.repeat(43)}=`;
const SEAL_KEY = `MCowBQYDK2VuAyEA${'B'.repeat(43)}=`;

const edgeNumbers = fc.constantFrom(0, -0, 1, -1, 1.5, 65_535, 65_536, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2, Number.POSITIVE_INFINITY, Number.NaN);
const edgeStrings = fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom(0, 1, 63, 64, 65, 255, 256, 400, 4096).map((n) => 'a'.repeat(n)), fc.constantFrom('AAAA', 'AAA=', 'a b'));
const identityNear = fc.record({ signKey: fc.constantFrom(SIGN_KEY, SEAL_KEY, 'x'), sealKey: fc.constantFrom(SEAL_KEY, SIGN_KEY), extra: fc.jsonValue() }, { requiredKeys: ['signKey', 'sealKey'] });

/** Values near what a field of this name accepts (its edges, just past them), and now and then anything. */
function nearFieldValue(key: string): fc.Arbitrary<unknown> {
  const near = /^(id|re|port|protocol|seq|\w*Ms)$/.test(key)
    ? fc.oneof(fc.integer({ min: -2, max: 70_000 }), edgeNumbers)
    : key === 'accept' || key === 'resumed'
      ? fc.boolean()
      : key === 'status' || key === 'role' || key === 'reason'
        ? fc.constantFrom('online', 'offline', 'away', 'caller', 'callee', 'rejected', 'timeout', 'not-friends', 'x')
        : key === 'identity'
          ? identityNear
          : edgeStrings;
  return fc.oneof({ weight: 8, arbitrary: near }, { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.jsonValue(), edgeNumbers) });
}

/** A frame of one of the schema's types, each of its fields present or not, near-valid or anything; sometimes an extra key. */
function nearFrames(schema: typeof clientFrameSchema | typeof serverFrameSchema): fc.Arbitrary<unknown> {
  const shapes = shapesOf(schema);
  return fc.constantFrom(...shapes.keys()).chain((type) => {
    const keys = (shapes.get(type) ?? []).filter((key) => key !== 'type');
    const fields = Object.fromEntries(keys.map((key) => [key, nearFieldValue(key)]));
    return fc.record({ ...fields, extra: fc.jsonValue() }, { requiredKeys: [] }).map((record) => ({ type, ...record }));
  });
}

describe('flat frames read without zod (core/flat-frames.ts)', () => {
  const cases = [
    { name: 'client frames', schema: clientFrameSchema, fast: clientFrameFastPath },
    { name: 'server frames', schema: serverFrameSchema, fast: serverFrameFastPath },
  ] as const;
  for (const { name, schema, fast } of cases) {
    it(`${name}: whenever the fast path answers, the schema accepts and returns the same frame, key for key`, () => {
      let answered = 0;
      fc.assert(
        fc.property(fc.oneof({ weight: 8, arbitrary: nearFrames(schema) }, { weight: 1, arbitrary: fc.anything() }), (message) => {
          const result = fast(message);
          if (result === null) return;
          answered += 1;
          const parsed = schema.safeParse(message);
          expect(parsed.success).toBe(true);
          expect(result).toStrictEqual(parsed.data);
          expect(Object.keys(result)).toEqual(Object.keys(parsed.data as object));
        }),
        { ...replay, numRuns: 5_000 },
      );
      // The property must not hold vacuously: many generated frames are valid and take the fast path.
      expect(answered).toBeGreaterThan(500);
    });
  }

  it('reads the frames a storm carries without zod, and leaves the others to it', () => {
    const identity = { signKey: SIGN_KEY, sealKey: SEAL_KEY };
    const client = [
      { type: 'login', id: 3, username: 'alice', password: 'pw', identity },
      { type: 'session.request', id: 4, username: 'bob' },
      { type: 'session.answer', id: 5, requestId: 'r1', accept: true, host: '10.0.0.1', port: 5000 },
      { type: 'logout', id: 6 },
    ];
    for (const message of client) expect(clientFrameFastPath(message)).toStrictEqual(clientFrameSchema.parse(message));
    const server = [
      { type: 'welcome', protocol: 1, ttlMs: 30_000, heartbeatMs: 10_000, sessionTimeoutMs: 15_000 },
      { type: 'session.established', requestId: 'r1', username: 'bob', role: 'caller', token: 't', host: '10.0.0.2', port: 5000, identity: { ...identity, extra: 1 } },
      { type: 'session.failed', re: 1, username: 'bob', reason: 'offline' },
      { type: 'heartbeat.ack', re: 9 },
    ];
    for (const message of server) expect(serverFrameFastPath(message)).toStrictEqual(serverFrameSchema.parse(message));
    // A union-typed field (mail's messageId), a value zod refuses, a key present as undefined: zod's to read.
    expect(clientFrameFastPath({ type: 'mail.send', username: 'bob', messageId: 'm', sealed: 'AAAA' })).toBeNull();
    expect(clientFrameFastPath({ type: 'session.answer', requestId: 'r1', accept: true, port: 0 })).toBeNull();
    expect(clientFrameFastPath({ type: 'logout', id: undefined })).toBeNull();
    // Not a plain object, at the top or as a field: zod's to word.
    expect(clientFrameFastPath(null)).toBeNull();
    // Only what JSON.parse makes is read without zod: an object with a prototype of its own or none.
    expect(clientFrameFastPath(Object.assign(Object.create({ id: 7 }), { type: 'logout' }))).toBeNull();
    expect(clientFrameFastPath(Object.assign(Object.create(null), { type: 'logout', id: 7 }))).toBeNull();
    expect(serverFrameFastPath({ type: 'session.established', requestId: 'r1', username: 'bob', role: 'caller', token: 't', host: '10.0.0.2', port: 5000, identity: null })).toBeNull();
    expect(serverFrameFastPath({ type: 'session.established', requestId: 'r1', username: 'bob', role: 'caller', token: 't', identity: { signKey: 'x', sealKey: SEAL_KEY } })).toBeNull();
  });

  it('a field exactly at a bound of its schema (a length, an inclusive range) is read without zod, as zod reads it', () => {
    const atBounds = [
      { type: 'session.request', id: 1, username: 'b' },
      { type: 'session.request', id: 2, username: 'b'.repeat(USERNAME_CHARS_MAX * 4) },
      { type: 'session.answer', id: 3, requestId: 'r1', accept: true, host: '10.0.0.1', port: 1 },
      { type: 'session.answer', id: 4, requestId: 'r1', accept: true, host: '10.0.0.1', port: 65_535 },
    ];
    for (const message of atBounds) expect(clientFrameFastPath(message)).toStrictEqual(clientFrameSchema.parse(message));
    // One past: zod's to refuse and word.
    expect(clientFrameFastPath({ type: 'session.request', id: 5, username: 'b'.repeat(USERNAME_CHARS_MAX * 4 + 1) })).toBeNull();
    expect(clientFrameFastPath({ type: 'session.answer', id: 6, requestId: 'r1', accept: true, host: '10.0.0.1', port: 65_536 })).toBeNull();
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

  it('only a payload of exactly the known bytes is the known message: one cut short is BAD_JSON, as without known payloads', () => {
    const json = new TextEncoder().encode('{"type":"heartbeat"}');
    for (const length of [0, 1, json.byteLength - 1]) {
      const frame = new Uint8Array([PROTOCOL_VERSION, FRAME_KIND_CONTROL, 0, 0, 0, length, ...json.subarray(0, length)]);
      for (const parts of [[frame], [frame.subarray(0, 6), frame.subarray(6)]]) {
        const decoder = new FrameDecoder({ knownPayloads: known });
        for (const part of parts) decoder.push(part);
        expect(decoder.next()).toStrictEqual({ kind: 'error', code: 'BAD_JSON', detail: 'payload is not UTF-8 JSON' });
      }
    }
  });

  it('a known payload is read by byte comparison, not parsed, wherever its bytes lie: in one read, after other frames, split over reads', () => {
    let made = 0;
    const counted: KnownPayload = { json: known[0]!.json, message: () => ((made += 1), { type: 'heartbeat' }) };
    const heartbeat = encodeControl({ type: 'heartbeat' });
    const stream = concat([heartbeat, encodeControl({ type: 'login' }), heartbeat]);
    const decoder = new FrameDecoder({ knownPayloads: [counted] });
    const got: unknown[] = [];
    const drainInto = (): void => {
      for (let frame = decoder.next(); frame !== null; frame = decoder.next()) got.push(frame);
    };
    decoder.push(stream);
    drainInto();
    // Idle again: the first read is held as it came, the second behind it, so the payload spans two chunks.
    decoder.push(heartbeat.subarray(0, 9));
    decoder.push(heartbeat.subarray(9));
    drainInto();
    expect(got).toEqual([
      { kind: 'control', message: { type: 'heartbeat' } },
      { kind: 'control', message: { type: 'login' } },
      { kind: 'control', message: { type: 'heartbeat' } },
      { kind: 'control', message: { type: 'heartbeat' } },
    ]);
    expect(made).toBe(3);
  });

  it('a payload of the known length but other bytes is parsed as itself', () => {
    const decoder = new FrameDecoder({ knownPayloads: known });
    decoder.push(encodeControl({ type: 'heartbeaT' }));
    expect(decoder.next()).toStrictEqual({ kind: 'control', message: { type: 'heartbeaT' } });
  });

  it('a data frame whose bytes spell a known payload is judged as data (here its offset, past 2^53), not taken for the known message', () => {
    const json = known[0]!.json;
    const frame = new Uint8Array([PROTOCOL_VERSION, FRAME_KIND_DATA, 0, 0, 0, json.byteLength, ...json]);
    for (const parts of [[frame], [frame.subarray(0, 6), frame.subarray(6)]]) {
      const decoder = new FrameDecoder({ knownPayloads: known });
      for (const part of parts) decoder.push(part);
      expect(decoder.next()).toStrictEqual({ kind: 'error', code: 'BAD_FRAME', detail: 'data offset beyond 2^53' });
    }
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
