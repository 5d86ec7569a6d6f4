/**
 * The frame tap: decodes the control frames on every server link as the network delivers them
 * (with core/codec.ts's FrameDecoder, one per connection and direction), so that checkers judge
 * what was on the wire (who received which presence frame, how many final answers a request got)
 * and drivers learn which request a reply answers (its `re`) without reaching into the machines.
 *
 * It only reads: the bytes it sees are the ones the receiver gets, unchanged, and it decodes its
 * own copy of the stream state. Frames that do not parse are skipped (the receiver's own decoder
 * reports them). A connection's decoders go when both its ends are closed.
 */
import { FRAME_HEADER_BYTES, FRAME_KIND_CONTROL, FrameDecoder, encodeControl, headerPayloadBytes } from '../../core/codec.ts';
import { CONTROL_FRAME_BYTES_MAX, PROTOCOL_VERSION } from '../../core/limits.ts';
import type { DeliveryTap } from './network.ts';

/** A decoded control frame as it was on the wire: parsed JSON, not validated. */
export interface WireMessage {
  readonly type?: unknown;
  readonly [field: string]: unknown;
}

export interface ServerLinkListener {
  /**
   * Frames the server sent on connection `connId` (one server incarnation's), about to reach the
   * peer at `peerAddress`; `serverAddress` says which server (a node of a cluster) sent them.
   * With a type filter (FrameTap's `serverFrameTypes`), called only when some are of those types
   * (and onServerFramesHandled only after such a call).
   */
  onServerFrames(peerAddress: string, messages: readonly WireMessage[], connId: number, serverAddress: string): void;
  /** The peer at `peerAddress` has handled the frames onServerFrames announced. */
  onServerFramesHandled(peerAddress: string): void;
  /**
   * Frames the peer at `peerAddress` sent on connection `connId`, about to reach the server at
   * `serverAddress` (its machine handles them in the same instant). Optional: without it the tap
   * does not decode that direction at all (a parse per heartbeat, for nobody).
   */
  onClientFrames?(peerAddress: string, messages: readonly WireMessage[], connId: number, serverAddress: string): void;
  /** The server has handled the frames onClientFrames announced (everything it did about them is done). */
  onClientFramesHandled?(connId: number): void;
  /** A server link closed at both ends. */
  onConnectionClosed(connId: number): void;
}

const NO_MESSAGES: readonly WireMessage[] = [];

/**
 * The server's commonest frame (half of what a storm's peers hear), as a whole frame's bytes: a
 * chunk that is exactly this, on a direction with nothing buffered, is that one message, found by
 * a byte comparison instead of the decoder and JSON.parse. Listeners only read what they are
 * given, so every such chunk shares one frozen list.
 */
const HEARTBEAT_ACK_BYTES = encodeControl({ type: 'heartbeat.ack' });
const HEARTBEAT_ACK_MESSAGES: readonly WireMessage[] = Object.freeze([Object.freeze({ type: 'heartbeat.ack' })]);

function isHeartbeatAck(bytes: Uint8Array): boolean {
  const n = HEARTBEAT_ACK_BYTES.length;
  if (bytes.length !== n) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== HEARTBEAT_ACK_BYTES[i]) return false;
  return true;
}

/** Whether `bytes` is whole frames by their headers' lengths (what is in them aside). */
function endsOnFrameBoundary(bytes: Uint8Array): boolean {
  let at = 0;
  const total = bytes.length;
  while (at < total) {
    if (total - at < FRAME_HEADER_BYTES) return false;
    at += FRAME_HEADER_BYTES + headerPayloadBytes(bytes, at);
  }
  return at === total;
}

/** A control payload that opens with this names its type first: `{"type":"` */
const TYPE_FIRST = new TextEncoder().encode('{"type":"');
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Whether the payload at [start, end) is a frame of a type the listeners read. Only a payload
 * that opens with `{"type":"` and whose type has no escape is judged by its type's bytes (what
 * JSON.parse would make of them is then exactly those bytes); any other is read, to be safe.
 */
function wantedPayload(bytes: Uint8Array, start: number, end: number, wanted: readonly Uint8Array[]): boolean {
  const prefix = TYPE_FIRST.length;
  if (end - start <= prefix) return true;
  for (let i = 0; i < prefix; i++) if (bytes[start + i] !== TYPE_FIRST[i]) return true;
  const typeStart = start + prefix;
  let typeEnd = typeStart;
  for (; typeEnd < end; typeEnd++) {
    const byte = bytes[typeEnd];
    if (byte === QUOTE) break;
    if (byte === BACKSLASH) return true;
  }
  if (typeEnd === end) return true;
  const length = typeEnd - typeStart;
  for (const type of wanted) {
    if (type.length !== length) continue;
    let same = true;
    for (let i = 0; i < length && same; i++) same = bytes[typeStart + i] === type[i];
    if (same) return true;
  }
  return false;
}

export class FrameTap implements DeliveryTap {
  /**
   * connId * 2 + (1 toward the server, 0 toward the peer) → that direction's decoder, once a
   * chunk of it did not end on a frame boundary (or the stream broke), until the connection
   * closes: the network delivers whole writes, so nearly every chunk is whole frames and one
   * shared idle decoder reads them all. A decoder per direction per connection was two objects
   * per simulated peer.
   */
  private readonly decoders = new Map<number, FrameDecoder>();
  private idle = new FrameDecoder();
  /** Server links open (seen and not yet closed at both ends). */
  private readonly serverLinks = new Set<number>();
  /** The peer that is hearing server frames right now (between before and after), or null. */
  private hearing: string | null = null;
  /** The connection whose client frames the server is handling right now (between before and after), or null. */
  private handling: number | null = null;

  /** The server-frame types the listeners read, as UTF-8 bytes; null: every type. */
  private readonly wanted: readonly Uint8Array[] | null;

  /** The one server's address; with several (the nodes of a cluster), the first. */
  private readonly serverAddress: string;
  /** The other nodes' addresses, or null for one server (a plain comparison on every delivery). */
  private readonly otherServers: ReadonlySet<string> | null;

  /**
   * `serverFrameTypes`: the only types of server frame the listener reads (null: all of them).
   * Frames of other types are passed over unparsed: in a storm they are most of the bytes
   * (login.ok with its friend list, welcome), and a JSON.parse of each was a tenth of the run.
   */
  constructor(
    serverAddresses: string | readonly string[],
    private readonly serverPort: number,
    private readonly listener: ServerLinkListener,
    serverFrameTypes: Iterable<string> | null = null,
  ) {
    const all = typeof serverAddresses === 'string' ? [serverAddresses] : serverAddresses;
    this.serverAddress = all[0] ?? '';
    this.otherServers = all.length > 1 ? new Set(all.slice(1)) : null;
    const encoder = new TextEncoder();
    this.wanted = serverFrameTypes === null ? null : [...serverFrameTypes].map((type) => encoder.encode(type));
  }

  before(connId: number, toServerSide: boolean, clientAddress: string, serverAddress: string, serverPort: number, bytes: Uint8Array): void {
    this.hearing = null;
    this.handling = null;
    if (serverPort !== this.serverPort) return;
    if (serverAddress !== this.serverAddress && (this.otherServers === null || !this.otherServers.has(serverAddress))) return;
    this.serverLinks.add(connId);
    if (toServerSide) {
      const onClientFrames = this.listener.onClientFrames;
      if (onClientFrames === undefined) return;
      const messages = this.decode(connId * 2 + 1, bytes);
      if (messages.length > 0) {
        onClientFrames.call(this.listener, clientAddress, messages, connId, serverAddress);
        this.handling = connId;
      }
      return;
    }
    const key = connId * 2;
    const wanted = this.wanted;
    if (wanted !== null) {
      // With a type filter the listener hears only chunks that carry a frame it reads: in a storm
      // most chunks (heartbeat acks, welcomes, login.ok lists) carry none, and each such call
      // was a slot lookup and three empty loops, twice.
      const own = this.decoders.has(key);
      if (!own && isHeartbeatAck(bytes)) return;
      const messages = own ? this.decode(key, bytes) : this.decodeWanted(key, bytes, wanted);
      if (messages.length === 0) return;
      this.hearing = clientAddress;
      this.listener.onServerFrames(clientAddress, messages, connId, serverAddress);
      return;
    }
    const messages = this.decoders.has(key) ? this.decode(key, bytes) : isHeartbeatAck(bytes) ? HEARTBEAT_ACK_MESSAGES : this.decode(key, bytes);
    this.hearing = clientAddress;
    this.listener.onServerFrames(clientAddress, messages, connId, serverAddress);
  }

  after(): void {
    const handled = this.handling;
    if (handled !== null) {
      this.handling = null;
      this.listener.onClientFramesHandled?.(handled);
      return;
    }
    const peer = this.hearing;
    if (peer === null) return;
    this.hearing = null;
    this.listener.onServerFramesHandled(peer);
  }

  closed(connId: number): void {
    if (!this.serverLinks.delete(connId)) return;
    this.decoders.delete(connId * 2);
    this.decoders.delete(connId * 2 + 1);
    this.listener.onConnectionClosed(connId);
  }

  /**
   * A chunk of whole control frames, on a direction with nothing buffered: the wanted ones
   * parsed, the others passed over. Anything else (a frame cut across chunks, a bad header, a
   * payload that does not parse) goes to the decoder, which reads the chunk from its start as
   * it always did, so what the listeners get is the same either way, minus the unwanted types.
   */
  private decodeWanted(key: number, bytes: Uint8Array, wanted: readonly Uint8Array[]): readonly WireMessage[] {
    let out: WireMessage[] | null = null;
    let at = 0;
    const total = bytes.length;
    while (at < total) {
      if (total - at < FRAME_HEADER_BYTES || bytes[at] !== PROTOCOL_VERSION || bytes[at + 1] !== FRAME_KIND_CONTROL) return this.decode(key, bytes);
      const payloadBytes = headerPayloadBytes(bytes, at);
      const start = at + FRAME_HEADER_BYTES;
      const end = start + payloadBytes;
      if (payloadBytes > CONTROL_FRAME_BYTES_MAX || end > total) return this.decode(key, bytes);
      if (wantedPayload(bytes, start, end, wanted)) {
        let message: unknown;
        try {
          message = JSON.parse(utf8.decode(bytes.subarray(start, end)));
        } catch {
          return this.decode(key, bytes);
        }
        if (typeof message === 'object' && message !== null) (out ??= []).push(message as WireMessage);
      }
      at = end;
    }
    return out ?? NO_MESSAGES;
  }

  private decode(key: number, bytes: Uint8Array): readonly WireMessage[] {
    let own = this.decoders.get(key);
    // A chunk that does not end on a frame boundary leaves part of a frame in the decoder, perhaps
    // a header alone (`buffered` counts 0 for it; `atFrameBoundary` says false): the direction
    // gets a decoder of its own before reading it, kept until the connection closes (such chunks
    // come from probes and hostile peers only: the network delivers whole writes). The shared one
    // held the header of a probe's frame cut after it, and read the next connection's frame as
    // that probe's payload.
    if (own === undefined && !endsOnFrameBoundary(bytes)) {
      own = new FrameDecoder();
      this.decoders.set(key, own);
    }
    const decoder = own ?? this.idle;
    decoder.push(bytes);
    let out: WireMessage[] | null = null;
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind === 'error') break;
      if (frame.kind !== 'control' || typeof frame.message !== 'object' || frame.message === null) continue;
      (out ??= []).push(frame.message as WireMessage);
    }
    // Whole frames that broke the stream (a bad header or payload): this direction keeps the decoder.
    if (own === undefined && (!decoder.atFrameBoundary || decoder.failed)) {
      this.decoders.set(key, decoder);
      this.idle = new FrameDecoder();
    }
    return out ?? NO_MESSAGES;
  }
}
