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
import { FrameDecoder } from '../../core/codec.ts';
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
   */
  onServerFrames(peerAddress: string, messages: readonly WireMessage[], connId: number, serverAddress: string): void;
  /** The peer at `peerAddress` has handled the frames onServerFrames announced. */
  onServerFramesHandled(peerAddress: string): void;
  /** Frames the peer at `peerAddress` sent, about to reach the server. */
  onClientFrames(peerAddress: string, messages: readonly WireMessage[]): void;
  /** A server link closed at both ends. */
  onConnectionClosed(connId: number): void;
}

const NO_MESSAGES: readonly WireMessage[] = [];

export class FrameTap implements DeliveryTap {
  /**
   * connId * 2 + (1 toward the server, 0 toward the peer) → that direction's decoder, only while
   * it holds part of a frame (or the stream broke): the network delivers whole writes, so nearly
   * every chunk ends on a frame boundary and one shared idle decoder reads them all. A decoder
   * per direction per connection was two objects per simulated peer.
   */
  private readonly decoders = new Map<number, FrameDecoder>();
  private idle = new FrameDecoder();
  /** Server links open (seen and not yet closed at both ends). */
  private readonly serverLinks = new Set<number>();
  /** The peer that is hearing server frames right now (between before and after), or null. */
  private hearing: string | null = null;

  /** The one server's address; with several (the nodes of a cluster), the first. */
  private readonly serverAddress: string;
  /** The other nodes' addresses, or null for one server (a plain comparison on every delivery). */
  private readonly otherServers: ReadonlySet<string> | null;

  constructor(
    serverAddresses: string | readonly string[],
    private readonly serverPort: number,
    private readonly listener: ServerLinkListener,
  ) {
    const all = typeof serverAddresses === 'string' ? [serverAddresses] : serverAddresses;
    this.serverAddress = all[0] ?? '';
    this.otherServers = all.length > 1 ? new Set(all.slice(1)) : null;
  }

  before(connId: number, toServerSide: boolean, clientAddress: string, serverAddress: string, serverPort: number, bytes: Uint8Array): void {
    this.hearing = null;
    if (serverPort !== this.serverPort) return;
    if (serverAddress !== this.serverAddress && (this.otherServers === null || !this.otherServers.has(serverAddress))) return;
    this.serverLinks.add(connId);
    const messages = this.decode(connId * 2 + (toServerSide ? 1 : 0), bytes);
    if (toServerSide) {
      if (messages.length > 0) this.listener.onClientFrames(clientAddress, messages);
      return;
    }
    this.hearing = clientAddress;
    this.listener.onServerFrames(clientAddress, messages, connId, serverAddress);
  }

  after(): void {
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

  private decode(key: number, bytes: Uint8Array): readonly WireMessage[] {
    const own = this.decoders.get(key);
    const decoder = own ?? this.idle;
    decoder.push(bytes);
    let out: WireMessage[] | null = null;
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind === 'error') break;
      if (frame.kind !== 'control' || typeof frame.message !== 'object' || frame.message === null) continue;
      (out ??= []).push(frame.message as WireMessage);
    }
    if (own === undefined) {
      // Part of a frame stays behind (or the stream broke): this direction keeps the decoder.
      if (decoder.buffered > 0 || decoder.failed) {
        this.decoders.set(key, decoder);
        this.idle = new FrameDecoder();
      }
    } else if (own.buffered === 0 && !own.failed) {
      this.decoders.delete(key);
    }
    return out ?? NO_MESSAGES;
  }
}
