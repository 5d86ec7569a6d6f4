/**
 * Bad input from the network never throws out of the server machine: it gets an error frame with
 * a stable code, and the connection is closed only when the code says so (the byte stream cannot
 * be trusted any more). Other connections are never affected.
 * Replay a property failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/server/server-bad-input.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FRAME_KIND_CONTROL, FRAME_KIND_DATA, encodeControl, encodeData } from '../../../core/codec.ts';
import { ERRORS, errorCloses, isErrorCode } from '../../../core/errors.ts';
import { CONTROL_FRAME_BYTES_MAX, PROTOCOL_VERSION, SERVER_INBOUND_FRAME_BYTES_MAX } from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';
import { edgeUsername } from '../../helpers/edge-arbitraries.ts';
import { replay } from '../../helpers/fc-replay.ts';

function header(version: number, kind: number, payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(6);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, version);
  view.setUint8(1, kind);
  view.setUint32(2, payloadBytes);
  return bytes;
}

function rawControl(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const out = new Uint8Array(6 + payload.byteLength);
  out.set(header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, payload.byteLength));
  out.set(payload, 6);
  return out;
}

/** A guest connection and a logged-in bystander on another connection. */
function setup(): { h: ServerHarness; c: number; bystander: number } {
  const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
  const bystander = h.login('bob');
  const c = h.open();
  h.drain(c);
  h.drain(bystander);
  return { h, c, bystander };
}

describe('bad input to the server', () => {
  it.each([
    ['bad JSON', rawControl('{"type": "login", '), 'BAD_JSON'],
    ['bytes that are not UTF-8', (() => {
      const f = rawControl('xx');
      f.set([0xff, 0xfe], 6);
      return f;
    })(), 'BAD_JSON'],
    ['an oversize length prefix (1 GiB), before any payload', header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, 1024 ** 3), 'FRAME_TOO_LARGE'],
    ['a control frame over the control limit', header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, CONTROL_FRAME_BYTES_MAX + 1), 'FRAME_TOO_LARGE'],
    ['a control frame over what a client may send the server', header(PROTOCOL_VERSION, FRAME_KIND_CONTROL, SERVER_INBOUND_FRAME_BYTES_MAX + 1), 'FRAME_TOO_LARGE'],
    ['a data frame over what a client may send the server', header(PROTOCOL_VERSION, FRAME_KIND_DATA, SERVER_INBOUND_FRAME_BYTES_MAX + 1), 'FRAME_TOO_LARGE'],
    ['a wrong protocol version', encodeControl({ type: 'heartbeat' }).map((b, i) => (i === 0 ? PROTOCOL_VERSION + 1 : b)), 'BAD_VERSION'],
    ['an unknown frame kind', header(PROTOCOL_VERSION, 0x7f, 0), 'BAD_FRAME_KIND'],
  ])('%s gets its code and closes the connection (the stream cannot be trusted)', (_what, bytes, code) => {
    const { h, c, bystander } = setup();
    h.sendBytes(c, bytes);
    expect(h.errors(c)).toEqual([code]);
    expect(errorCloses(code as keyof typeof ERRORS)).toBe(true);
    expect(h.isClosed(c)).toBe(true);
    // Anything after the broken frame is ignored, and the bystander saw nothing.
    h.sendBytes(c, encodeControl({ type: 'login', username: 'alice', password: 'alice-password' }));
    expect(h.errors(c)).toEqual([code]);
    expect(h.frames(bystander)).toEqual([]);
    expect(h.machine.stats().connections).toBe(1);
  });

  it.each([
    ['an unknown type', { type: 'launch.rockets', id: 5 }, 'UNKNOWN_TYPE', 5],
    ['a missing field', { type: 'login', id: 6, username: 'alice' }, 'BAD_FRAME', 6],
    ['a field of the wrong type', { type: 'signup', id: 7, username: 42, password: 'long enough' }, 'BAD_FRAME', 7],
    ['no type at all', { id: 8 }, 'BAD_FRAME', 8],
    ['a negative request id', { type: 'heartbeat', id: -1 }, 'BAD_FRAME', undefined],
    ['an over-long username', { type: 'login', username: 'a'.repeat(1_000), password: 'x' }, 'BAD_FRAME', undefined],
    ['a port out of range', { type: 'session.answer', requestId: 's1', accept: true, host: 'h', port: 70_000 }, 'BAD_FRAME', undefined],
    ['a bad frame with request id 0', { type: 'login', id: 0, username: 'alice' }, 'BAD_FRAME', 0],
    ['a fractional request id', { type: 'login', id: 1.5, username: 'alice' }, 'BAD_FRAME', undefined],
    ['a request id that is a string', { type: 'login', id: '7', username: 'alice' }, 'BAD_FRAME', undefined],
  ])('%s gets its code, echoes a valid id, and keeps the connection', (_what, message, code, re) => {
    const { h, c } = setup();
    h.send(c, message);
    expect(h.last(c)).toMatchObject({ type: 'error', code, re });
    expect(h.isClosed(c)).toBe(false);
    h.send(c, { type: 'login', username: 'alice', password: 'alice-password' });
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
  });

  it('UNKNOWN_TYPE never echoes the type (a password sent as a type would reach the debug log)', () => {
    const { h, c } = setup();
    h.send(c, { type: 'correct horse battery staple', id: 9 });
    expect(h.last(c)).toEqual({ type: 'error', re: 9, code: 'UNKNOWN_TYPE', message: expect.any(String) });
    expect(JSON.stringify(h.frames(c))).not.toContain('horse');
  });

  it.each([['42'], ['null'], ['"login"'], ['[{"type":"login"}]']])('JSON that is not an object (%s) gets BAD_FRAME and keeps the connection', (json) => {
    const { h, c } = setup();
    h.sendBytes(c, rawControl(json));
    expect(h.errors(c)).toEqual(['BAD_FRAME']);
    expect(h.isClosed(c)).toBe(false);
  });

  it('a frame of exactly the inbound limit is read whole (then judged by its content)', () => {
    const { h, c } = setup();
    const filler = 'x'.repeat(SERVER_INBOUND_FRAME_BYTES_MAX - JSON.stringify({ type: 'heartbeat', pad: '' }).length);
    const frame = encodeControl({ type: 'heartbeat', pad: filler });
    expect(frame.byteLength - 6).toBe(SERVER_INBOUND_FRAME_BYTES_MAX);
    h.sendBytes(c, frame);
    expect(h.errors(c)).toEqual(['NOT_LOGGED_IN']);
    expect(h.isClosed(c)).toBe(false);
  });

  it('a binary data frame to the server gets UNEXPECTED_DATA and keeps the connection', () => {
    const { h, c } = setup();
    h.sendBytes(c, encodeData(1, 0, new Uint8Array([1, 2, 3])));
    expect(h.errors(c)).toEqual(['UNEXPECTED_DATA']);
    expect(h.isClosed(c)).toBe(false);
    expect(FRAME_KIND_DATA).toBe(2);
  });

  it('good frames before a broken one in the same chunk are all handled, in order', () => {
    const { h, c } = setup();
    const hb = encodeControl({ type: 'heartbeat', id: 1 });
    const login = encodeControl({ type: 'login', id: 2, username: 'alice', password: 'alice-password' });
    const bad = rawControl('{oops');
    const chunk = new Uint8Array(hb.byteLength + login.byteLength + bad.byteLength);
    chunk.set(hb);
    chunk.set(login, hb.byteLength);
    chunk.set(bad, hb.byteLength + login.byteLength);
    h.sendBytes(c, chunk);
    h.settle();
    // The login's verify job was asked for before the bad frame; its late answer finds the connection gone.
    expect(h.frames(c).map((f) => (f.type === 'error' ? f.code : f.type))).toEqual(['NOT_LOGGED_IN', 'BAD_JSON']);
    expect(h.isClosed(c)).toBe(true);
    expect(h.machine.isOnline('alice')).toBe(false);
  });

  it('bytes and closes for unknown connections are ignored', () => {
    const { h } = setup();
    h.sendBytes(999, encodeControl({ type: 'heartbeat' }));
    h.close(999);
    expect(h.machine.stats().connections).toBe(2);
  });

  it('a connection over connectionsMax gets SERVER_FULL and is closed; the others stay', () => {
    const h = new ServerHarness({ connectionsMax: 2 });
    const a = h.open();
    const b = h.open();
    const c = h.open();
    expect(h.errors(c)).toEqual(['SERVER_FULL']);
    expect(h.isClosed(c)).toBe(true);
    expect(h.isClosed(a) || h.isClosed(b)).toBe(false);
    h.close(a);
    const d = h.open();
    expect(h.frames(d)).toMatchObject([{ type: 'welcome' }]);
  });

  it('property: any bytes, in any chunks, never throw out of the machine; every error code is registered; a closing code closes', () => {
    const chunk = fc.oneof(
      fc.uint8Array({ maxLength: 40 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => rawControl(JSON.stringify(v) ?? 'null')),
      fc
        .record({ type: fc.constantFrom('login', 'signup', 'resume', 'heartbeat', 'session.answer', 'friend.request', 'x'), username: fc.oneof(edgeUsername(), fc.constant('alice')), password: fc.string({ maxLength: 140 }), id: fc.integer() })
        .map((m) => encodeControl(m)),
    );
    fc.assert(
      fc.property(fc.array(chunk, { maxLength: 12 }), (chunks) => {
        const h = new ServerHarness({ store: storeWith(['alice']) });
        const c = h.open();
        for (const bytes of chunks) {
          h.sendBytes(c, bytes);
          h.settle();
        }
        for (const code of h.errors(c)) expect(isErrorCode(code), code).toBe(true);
        const closing = h.errors(c).filter((code) => isErrorCode(code) && errorCloses(code));
        expect(closing.length).toBeLessThanOrEqual(1);
        if (closing.length === 1) {
          expect(h.isClosed(c)).toBe(true);
          expect(h.errors(c).at(-1)).toBe(closing[0]);
        }
      }),
      { numRuns: 300, ...replay },
    );
  });
});
