/**
 * The frame tap parses only the server-frame types its listeners read: what they get is what the
 * full decoder gives, minus the other types, whatever the chunking; and the checkers' list of
 * types is the one their onServerFrames reads (a case added there without the list would never
 * see its frames).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { CHECKED_SERVER_FRAME_TYPES } from '../../../sim/checkers/checkers.ts';
import { FrameTap, type WireMessage } from '../../../sim/world/frame-tap.ts';

const SERVER = '10.0.0.1';
const PORT = 7000;

function tapOf(types: readonly string[] | null): { tap: FrameTap; heard: WireMessage[]; client: WireMessage[] } {
  const heard: WireMessage[] = [];
  const client: WireMessage[] = [];
  const tap = new FrameTap(
    SERVER,
    PORT,
    {
      onServerFrames: (_peer, messages) => heard.push(...messages),
      onServerFramesHandled: () => {},
      onConnectionClosed: () => {},
      ...(types === null ? { onClientFrames: (_peer: string, messages: readonly WireMessage[]) => client.push(...messages) } : {}),
    },
    types,
  );
  return { tap, heard, client };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const FRAMES = [
  { type: 'welcome', version: 1 },
  { type: 'presence', username: 'bob', status: 'online' },
  { type: 'heartbeat.ack' },
  { type: 'login.ok', re: 1, friends: [{ username: 'carol', status: 'offline' }] },
  { status: 'offline', type: 'presence', username: 'type-last' },
  { type: 'session.failed', re: 2, reason: 'REJECTED', requestId: 'r1' },
  { type: 'pres\u00e9nce', username: 'x' },
];

describe('the frame tap', () => {
  it('gives the wanted types exactly as the full decoder does, however the bytes are chunked', () => {
    const wanted = ['presence', 'session.failed'];
    const stream = concat(...FRAMES.map((f) => encodeControl(f)));
    const expected = JSON.parse(JSON.stringify(FRAMES.filter((f) => wanted.includes(f.type))));
    for (const cuts of [[], [1], [7, 30], [stream.length - 3], Array.from({ length: 20 }, (_, i) => (i + 1) * 9)]) {
      const full = tapOf(null);
      const filtered = tapOf(wanted);
      let from = 0;
      for (const to of [...cuts.filter((c) => c < stream.length), stream.length]) {
        full.tap.before(1, false, '10.0.0.2', SERVER, PORT, stream.subarray(from, to));
        filtered.tap.before(1, false, '10.0.0.2', SERVER, PORT, stream.subarray(from, to));
        from = to;
      }
      expect(full.heard).toEqual(JSON.parse(JSON.stringify(FRAMES)));
      // A type that does not come first, or one not plain ASCII, is parsed to be judged.
      const got = filtered.heard.filter((m) => wanted.includes(m.type as string));
      expect(got).toEqual(expected);
    }
  });

  it('a chunk that does not parse is left to the decoder, which stops reading that direction as before', () => {
    const bad = encodeControl({ type: 'presence', username: 'a' });
    bad[bad.length - 1] = 0x7b;
    const full = tapOf(null);
    const filtered = tapOf(['presence']);
    for (const t of [full, filtered]) {
      t.tap.before(1, false, '10.0.0.2', SERVER, PORT, concat(encodeControl({ type: 'presence', username: 'ok' }), bad));
      t.tap.before(1, false, '10.0.0.2', SERVER, PORT, encodeControl({ type: 'presence', username: 'after' }));
    }
    expect(filtered.heard).toEqual(full.heard);
    expect(full.heard).toEqual([{ type: 'presence', username: 'ok' }]);
  });

  // A swarm of malformed-input.yaml (root seed 419, seed 864546834) failed ends-by-deadline on a
  // session that had opened: a prober's chunk that was a frame header alone left the shared
  // decoder holding that header, the callee's session.established (on another connection) was
  // read as the probe's payload, and the callee's direction heard nothing more for the whole run.
  it("a chunk that ends just after a frame's header does not spill into another connection's frames", () => {
    for (const types of [null, ['session.established', 'presence']]) {
      const { tap, heard, client } = tapOf(types);
      const probe = encodeControl({ type: 'heartbeat' });
      const established = { type: 'session.established', requestId: 's2', username: 'user2', role: 'callee', token: 't' };
      // A prober's header alone (toward the server), then the callee's frame (toward its peer).
      tap.before(1, true, '10.0.0.9', SERVER, PORT, probe.subarray(0, 6));
      tap.before(2, false, '10.0.0.2', SERVER, PORT, encodeControl(established));
      expect(heard).toEqual([established]);
      tap.before(1, true, '10.0.0.9', SERVER, PORT, probe.subarray(6));
      if (types === null) expect(client).toEqual([{ type: 'heartbeat' }]);
      // The same after a cut frame completed by a chunk that ends with the next frame's header.
      const next = encodeControl({ type: 'presence', username: 'bob', status: 'online' });
      const first = encodeControl({ type: 'presence', username: 'carol', status: 'offline' });
      tap.before(3, false, '10.0.0.3', SERVER, PORT, first.subarray(0, 3));
      tap.before(3, false, '10.0.0.3', SERVER, PORT, concat(first.subarray(3), next.subarray(0, 6)));
      tap.before(2, false, '10.0.0.2', SERVER, PORT, encodeControl({ type: 'presence', username: 'dave', status: 'online' }));
      tap.before(3, false, '10.0.0.3', SERVER, PORT, next.subarray(6));
      expect(heard.slice(1)).toEqual([
        { type: 'presence', username: 'carol', status: 'offline' },
        { type: 'presence', username: 'dave', status: 'online' },
        { type: 'presence', username: 'bob', status: 'online' },
      ]);
    }
  });

  it('with a type filter, calls the listener only for chunks that carry a frame of those types', () => {
    let calls = 0;
    let handled = 0;
    const tap = new FrameTap(SERVER, PORT, { onServerFrames: () => (calls += 1), onServerFramesHandled: () => (handled += 1), onConnectionClosed: () => {} }, ['presence']);
    for (const frame of [{ type: 'heartbeat.ack' }, { type: 'welcome', version: 1 }, { type: 'presence', username: 'bob', status: 'online' }]) {
      tap.before(1, false, '10.0.0.2', SERVER, PORT, encodeControl(frame));
      tap.after();
    }
    expect({ calls, handled }).toEqual({ calls: 1, handled: 1 });
  });

  it('decodes what peers send only for a listener that reads it', () => {
    const reading = tapOf(null);
    reading.tap.before(1, true, '10.0.0.2', SERVER, PORT, encodeControl({ type: 'heartbeat' }));
    expect(reading.client).toEqual([{ type: 'heartbeat' }]);
  });

  it("CHECKED_SERVER_FRAME_TYPES is the set of cases Checkers.onServerFrames reads", () => {
    const source = readFileSync('sim/checkers/checkers.ts', 'utf8');
    const body = source.slice(source.indexOf('  onServerFrames('), source.indexOf('  onConnectionClosed('));
    const cases = [...body.matchAll(/case '([^']+)':/g)].map((m) => m[1]);
    expect(new Set(cases)).toEqual(new Set(CHECKED_SERVER_FRAME_TYPES));
  });
});
