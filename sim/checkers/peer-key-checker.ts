/**
 * The peer-key-refused checker: a P2P link that ends at an attacker (the `mitm` fault: the other
 * side proved a key that is not the friend's, or none) carries nothing but a refusal. It watches
 * what the network delivers on each such link, decoded with core/codec.ts:
 *
 * - the caller must send nothing at all: its first frame would be the hello with the one-time
 *   session token, and chat text and file bytes come after it;
 * - the callee may answer only with an `error` frame (PEER_KEY_MISMATCH, or a refused token);
 *   a `hello.ok`, a chat message, a file frame or file bytes from it is a breach too.
 *
 * So nothing secret is sent first and nothing the friend would say reaches or comes from the
 * attacker. That the client says why (PEER_KEY_MISMATCH to its user) is counted by the peer
 * driver as `peer_key_mismatch`, which scenarios expect.
 */
import { FrameDecoder } from '../../core/codec.ts';
import type { InterceptionObserver, MitmPresents } from '../world/sim-keys.ts';

export type PeerKeyViolation = (detail: string) => void;

/** Links remembered at once: far more than any scenario intercepts; the oldest is forgotten first. */
const INTERCEPTED_LINKS_TRACKED_MAX = 4_096;

interface InterceptedLink {
  readonly caller: string;
  readonly callee: string;
  readonly presents: MitmPresents;
  /** Decoders of what reaches the callee (index 1) and the caller (index 0), made on first bytes. */
  readonly decoders: [FrameDecoder | null, FrameDecoder | null];
  breached: boolean;
}

export class PeerKeyChecker implements InterceptionObserver {
  private readonly links = new Map<number, InterceptedLink>();
  /** P2P links the attacker sat in. */
  intercepted = 0;

  constructor(private readonly violate: PeerKeyViolation) {}

  onIntercepted(connId: number, caller: string, callee: string, presents: MitmPresents): void {
    this.intercepted += 1;
    if (this.links.size >= INTERCEPTED_LINKS_TRACKED_MAX) {
      const oldest = this.links.keys().next().value;
      if (oldest !== undefined) this.links.delete(oldest);
    }
    this.links.set(connId, { caller, callee, presents, decoders: [null, null], breached: false });
  }

  /** Every message the network delivers (`bytes` null: not data); only intercepted links are looked at. */
  onDelivery(connId: number, toCallee: boolean, bytes: Uint8Array | null): void {
    if (bytes === null || this.links.size === 0) return;
    const link = this.links.get(connId);
    if (link === undefined || link.breached) return;
    const side = toCallee ? 1 : 0;
    const decoder = (link.decoders[side] ??= new FrameDecoder());
    decoder.push(bytes);
    for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
      const type = frame.kind === 'control' ? typeOf(frame.message) : null;
      // The callee's refusal is the one thing allowed across.
      if (!toCallee && type === 'error') continue;
      const [from, to] = toCallee ? [link.caller, link.callee] : [link.callee, link.caller];
      const proved = link.presents === 'no-key' ? 'no key' : 'a key not theirs';
      const what = frame.kind === 'data' ? `${frame.bytes.byteLength} file bytes` : frame.kind === 'error' ? 'bytes that are no frame' : type === 'hello' ? 'hello (with the session token)' : (type ?? 'a frame');
      link.breached = true;
      this.violate(`${from} sent ${what} to ${to} over a link where the other side proved ${proved} (a man in the middle)`);
      return;
    }
  }
}

function typeOf(message: unknown): string | null {
  const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
  return typeof type === 'string' ? type : null;
}
