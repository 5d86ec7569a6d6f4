/**
 * A hostile client that sends the server bytes no client would: bad headers, frames over the
 * limit, text that is not JSON, JSON that is not a frame, frames in the wrong state, and each cut
 * into random pieces. What it must get back is stated here, from docs/PROTOCOL.md ("Framing",
 * "Requests and replies", "Error codes"), not read from core/errors.ts: this is the check of the
 * rule "bad input from the network gets an error frame and, if it must, the offending connection
 * is closed; nothing else is disturbed".
 *
 * Each probe runs on its own raw connection, one after the other (never more than one open, so no
 * per-address cap is what answers). A probe whose error does not close the connection is sent a
 * second time on it and must get the same answer again: the connection is still usable and the
 * server kept nothing of the first.
 */
import { FRAME_HEADER_BYTES, FRAME_KIND_CONTROL, FRAME_KIND_DATA, FrameDecoder, encodeData } from '../../core/codec.ts';
import { PROTOCOL_VERSION, SERVER_INBOUND_FRAME_BYTES_MAX } from '../../core/limits.ts';
import type { Clock, Stream, Transport } from '../../core/transport.ts';
import type { Prng } from '../world/prng.ts';

/** One malformed input and the answer docs/PROTOCOL.md gives it. */
export interface MalformedProbe {
  /** What the probe is, for a violation's message (`bad-version`, `over-limit`, ...). */
  readonly name: string;
  readonly bytes: Uint8Array;
  /** The error code the server must answer with. */
  readonly code: string;
  /** Whether that error closes the connection (PROTOCOL.md, "Error codes", column `closes`). */
  readonly closes: boolean;
  /** The request id the error must echo as `re` (absent: the error carries no `re`). */
  readonly re?: number | undefined;
  /** Text of the probe that must not come back in the answer (an unknown type is never echoed). */
  readonly secret?: string | undefined;
}

/** The kinds of probe, one of each per round. */
export const MALFORMED_PROBE_KINDS = [
  'bad-version',
  'bad-kind',
  'over-limit',
  'at-limit',
  'not-utf8',
  'not-json',
  'not-an-object',
  'bad-fields',
  'unknown-type',
  'data-frame',
  'before-login',
] as const;

/**
 * How long a probe waits for its answer (and, for a closing error, the close): far beyond a
 * simulated round trip, well inside the server's idle limit for connections not logged in (30 s),
 * which would otherwise close the connection with an error of its own.
 */
export const MALFORMED_ANSWER_WAIT_MS = 5_000;

/** Pieces a probe's bytes are cut into at most: a header split across reads included. */
const PIECES_MAX = 4;

/** The six-byte frame header with any version, kind and declared length. */
function header(version: number, kind: number, payloadBytes: number): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES);
  bytes[0] = version;
  bytes[1] = kind;
  new DataView(bytes.buffer).setUint32(2, payloadBytes);
  return bytes;
}

/** A whole frame: header (with this version and kind) and payload. */
function frame(payload: Uint8Array, kind = FRAME_KIND_CONTROL, version = PROTOCOL_VERSION): Uint8Array {
  const bytes = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  bytes.set(header(version, kind, payload.byteLength));
  bytes.set(payload, FRAME_HEADER_BYTES);
  return bytes;
}

function json(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

/** Lower-case letters, as a random type name or padding. */
function letters(prng: Prng, count: number): string {
  let text = '';
  for (let i = 0; i < count; i++) text += String.fromCharCode(97 + prng.int(26));
  return text;
}

/** A request id, often an edge (0, the largest safe integer). */
function requestId(prng: Prng): number {
  const draw = prng.int(4);
  return draw === 0 ? 0 : draw === 1 ? Number.MAX_SAFE_INTEGER : prng.int(1_000_000);
}

/** One probe of the given kind, its contents drawn from `prng` (biased toward the edges). */
export function malformedProbe(kind: (typeof MALFORMED_PROBE_KINDS)[number], prng: Prng): MalformedProbe {
  switch (kind) {
    case 'bad-version': {
      // Any version but ours, the neighbours of ours first.
      const edges = [0, PROTOCOL_VERSION + 1, 255];
      let version = prng.chance(0.5) ? edges[prng.int(edges.length)]! : prng.int(256);
      if (version === PROTOCOL_VERSION) version = 0;
      return { name: kind, bytes: frame(json({ type: 'heartbeat' }), FRAME_KIND_CONTROL, version), code: 'BAD_VERSION', closes: true };
    }
    case 'bad-kind': {
      const edges = [0, FRAME_KIND_DATA + 1, 255];
      let frameKind = prng.chance(0.5) ? edges[prng.int(edges.length)]! : prng.int(256);
      if (frameKind === FRAME_KIND_CONTROL || frameKind === FRAME_KIND_DATA) frameKind = 0;
      return { name: kind, bytes: frame(json({ type: 'heartbeat' }), frameKind), code: 'BAD_FRAME_KIND', closes: true };
    }
    case 'over-limit': {
      // Only the header: the length alone must be refused, before any payload is buffered.
      const edges = [SERVER_INBOUND_FRAME_BYTES_MAX + 1, 0xffff_ffff];
      const declared = prng.chance(0.5) ? edges[prng.int(edges.length)]! : SERVER_INBOUND_FRAME_BYTES_MAX + 1 + prng.int(0xffff_ffff - SERVER_INBOUND_FRAME_BYTES_MAX);
      return { name: `${kind} (${declared} bytes)`, bytes: header(PROTOCOL_VERSION, prng.chance(0.5) ? FRAME_KIND_CONTROL : FRAME_KIND_DATA, declared), code: 'FRAME_TOO_LARGE', closes: true };
    }
    case 'at-limit': {
      // Exactly the largest frame a client may send: taken, and judged as what it says (an unknown type).
      const type = `x${letters(prng, 8)}`;
      const skeleton = JSON.stringify({ type, pad: '' }).length;
      const payload = json({ type, pad: 'p'.repeat(SERVER_INBOUND_FRAME_BYTES_MAX - skeleton) });
      return { name: kind, bytes: frame(payload), code: 'UNKNOWN_TYPE', closes: false, secret: type };
    }
    case 'not-utf8': {
      // A lone continuation byte, an overlong encoding or a surrogate, inside otherwise plain JSON text.
      const bad = [[0x80], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xff]][prng.int(4)]!;
      const before = new TextEncoder().encode('{"type":"heartbeat","x":"');
      const payload = new Uint8Array([...before, ...bad, 0x22, 0x7d]);
      return { name: kind, bytes: frame(payload), code: 'BAD_JSON', closes: true };
    }
    case 'not-json': {
      const texts = ['', '{', '{"type":"login",', 'heartbeat', '{"type":"heartbeat"}}', 'nul'];
      return { name: kind, bytes: frame(new TextEncoder().encode(texts[prng.int(texts.length)])), code: 'BAD_JSON', closes: true };
    }
    case 'not-an-object': {
      const values: unknown[] = [null, 42, 'login', [], [{ type: 'heartbeat' }], true];
      return { name: kind, bytes: frame(json(values[prng.int(values.length)])), code: 'BAD_FRAME', closes: false };
    }
    case 'bad-fields': {
      // A known request with a field of the wrong type or out of range: the id is still echoed.
      const id = requestId(prng);
      const frames = [
        { type: 'login', id, username: 42, password: 'password1' },
        { type: 'login', id, username: 'alice' },
        { type: 'signup', id, username: 'alice', password: 'password1', nickname: 7 },
        { type: 'friend.request', id, username: '' },
      ];
      return { name: kind, bytes: frame(json(frames[prng.int(frames.length)])), code: 'BAD_FRAME', closes: false, re: id };
    }
    case 'unknown-type': {
      // A type no client sends; never echoed (it could be a password typed in the wrong field).
      const type = `${letters(prng, 1 + prng.int(12))}.${letters(prng, 4)}`;
      const id = requestId(prng);
      return { name: kind, bytes: frame(json({ type, id })), code: 'UNKNOWN_TYPE', closes: false, re: id, secret: type };
    }
    case 'data-frame':
      return { name: kind, bytes: encodeData(prng.int(1_000), prng.int(1_000_000), new Uint8Array(prng.int(64))), code: 'UNEXPECTED_DATA', closes: false };
    case 'before-login': {
      // A request only a logged-in client may make, on a connection that never logged in.
      const id = requestId(prng);
      const frames = [{ type: 'friends.list', id }, { type: 'logout', id }, { type: 'heartbeat', id }, { type: 'session.request', id, username: 'alice' }];
      return { name: kind, bytes: frame(json(frames[prng.int(frames.length)])), code: 'NOT_LOGGED_IN', closes: false, re: id };
    }
  }
}

/** The probe's bytes cut at random places into 1 to PIECES_MAX writes (a header split across reads included). */
export function cutIntoPieces(bytes: Uint8Array, prng: Prng): Uint8Array[] {
  const cuts = new Set<number>();
  const count = prng.int(PIECES_MAX);
  for (let i = 0; i < count && bytes.byteLength > 1; i++) cuts.add(1 + prng.int(bytes.byteLength - 1));
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    pieces.push(bytes.subarray(start, cut));
    start = cut;
  }
  pieces.push(bytes.subarray(start));
  return pieces;
}

/** What an answer frame said, for comparing the first and second answer. */
interface Answer {
  readonly code: unknown;
  readonly re: unknown;
  readonly text: string;
}

/**
 * Sends one probe on a new raw connection to host:port. `done` gets null when the server answered
 * as PROTOCOL.md says, or what differed.
 */
export function runMalformedProbe(transport: Transport, clock: Clock, host: string, port: number, probe: MalformedProbe, prng: Prng, done: (differed: string | null) => void): void {
  const decoder = new FrameDecoder();
  const answers: Answer[] = [];
  let welcomed = false;
  let settled = false;
  const settle = (differed: string | null): void => {
    if (settled) return;
    settled = true;
    cancel();
    stream.reset();
    done(differed === null ? null : `${probe.name}: ${differed}`);
  };
  const send = (): void => {
    for (const piece of cutIntoPieces(probe.bytes, prng)) stream.write(piece);
  };
  const judge = (answer: Answer): string | null => {
    if (answer.code !== probe.code) return `answered ${String(answer.code)}, expected ${probe.code}`;
    if (answer.re !== probe.re) return `answered with re ${String(answer.re)}, expected ${probe.re === undefined ? 'none' : probe.re}`;
    if (probe.secret !== undefined && answer.text.includes(probe.secret)) return `the answer repeats the frame's type ${JSON.stringify(probe.secret)}`;
    return null;
  };
  const stream: Stream = transport.connect(host, port, {
    onOpen: send,
    onData: (bytes) => {
      decoder.push(bytes);
      for (let got = decoder.next(); got !== null; got = decoder.next()) {
        if (got.kind !== 'control') return settle(`answered with a ${got.kind} frame`);
        const message = got.message as { type?: unknown; code?: unknown; re?: unknown };
        // The server greets every connection first (PROTOCOL.md, "welcome"), whatever comes next.
        if (message.type === 'welcome' && !welcomed) {
          welcomed = true;
          continue;
        }
        if (message.type !== 'error') return settle(`answered ${String(message.type)}, expected an error frame`);
        const answer = { code: message.code, re: message.re, text: JSON.stringify(message) };
        const differed = judge(answer);
        if (differed !== null) return settle(differed);
        answers.push(answer);
        if (probe.closes) {
          if (answers.length > 1) return settle('a second frame after an error that closes the connection');
          continue;
        }
        // Not closing: the same bytes again must get the same answer on the same connection.
        if (answers.length === 1) send();
        else return settle(null);
      }
    },
    onDrain: () => {},
    onClose: (error) => {
      if (answers.length === 0) return settle(`the connection closed (${error ?? 'by the server'}) with no error frame`);
      settle(probe.closes ? null : `the connection closed after ${probe.code}, which does not close it`);
    },
  });
  const cancel = clock.at(clock.nowMs() + MALFORMED_ANSWER_WAIT_MS, () => {
    settle(answers.length === 0 ? 'no answer' : probe.closes ? `the connection stayed open after ${probe.code}` : 'no answer to the same bytes sent again');
  });
}
