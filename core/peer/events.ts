/**
 * What the peer machine tells its user: exactly the events of the headless client contract
 * (CONTRACTS.md section 1). The runtime adds `at` (ISO time) and prints them as JSON lines; the
 * dashboard renders the same objects. Fields beyond the contract are marked as additions.
 */
import type { PresenceStatus } from '../frames.ts';

export interface FriendView {
  readonly username: string;
  readonly nickname: string;
  readonly status: PresenceStatus;
}

export type ClientEvent =
  /** p2pHost, p2pPort (additions): where this client's P2P listener is. */
  | { readonly event: 'ready'; readonly p2pHost: string; readonly p2pPort: number }
  | { readonly event: 'signup.ok'; readonly username: string }
  | { readonly event: 'logout.ok' }
  | { readonly event: 'login.ok'; readonly username: string; readonly friends: readonly FriendView[] }
  | { readonly event: 'friends'; readonly friends: readonly FriendView[]; readonly pending: readonly string[] }
  | { readonly event: 'friend.request'; readonly from: string }
  | { readonly event: 'friend.requested'; readonly username: string }
  /** nickname and status (additions): the new friend's, so no presence push is needed to show it. */
  | { readonly event: 'friend.added'; readonly username: string; readonly nickname: string; readonly status: PresenceStatus }
  | { readonly event: 'friend.declined'; readonly username: string }
  /** Addition: a friendship ended (or an outgoing request was withdrawn). */
  | { readonly event: 'friend.removed'; readonly username: string }
  /** Additions: our friend.block / friend.unblock took effect (the other user is never told). */
  | { readonly event: 'friend.blocked'; readonly username: string }
  | { readonly event: 'friend.unblocked'; readonly username: string }
  | { readonly event: 'presence'; readonly username: string; readonly status: PresenceStatus }
  /** timeoutMs (addition): how long the server waits for our answer (its session timeout), from now. */
  | { readonly event: 'chat.request'; readonly from: string; readonly timeoutMs: number }
  | { readonly event: 'chat.opened'; readonly username: string }
  /** reason (addition): 'closed' (either side closed it) or 'connection-lost'. */
  | { readonly event: 'chat.closed'; readonly username: string; readonly reason: string }
  | { readonly event: 'chat.failed'; readonly username: string; readonly reason: string }
  | { readonly event: 'chat.message'; readonly from: string; readonly text: string; readonly id: string | number }
  | { readonly event: 'chat.sent'; readonly username: string; readonly id: string | number }
  /** name is the sanitized name the file will be saved under; offeredName (addition) is the raw one. */
  | { readonly event: 'file.offer'; readonly from: string; readonly transferId: string; readonly name: string; readonly size: number; readonly offeredName: string; readonly sha256: string }
  | { readonly event: 'file.offered'; readonly username: string; readonly transferId: string; readonly name: string; readonly size: number; readonly sha256: string }
  /** resumedFrom (addition): set on the first progress event after a transfer resumed. */
  | { readonly event: 'file.progress'; readonly transferId: string; readonly bytes: number; readonly size: number; readonly resumedFrom?: number }
  | { readonly event: 'file.received'; readonly transferId: string; readonly from: string; readonly path: string; readonly size: number; readonly sha256: string }
  | { readonly event: 'file.sent'; readonly transferId: string; readonly username: string; readonly size: number; readonly sha256: string }
  | { readonly event: 'file.failed'; readonly transferId: string; readonly reason: string; readonly username?: string }
  | { readonly event: 'disconnected' }
  | { readonly event: 'reconnected' }
  /**
   * The server's TLS certificate as seen at connect (once per run and fingerprint): pinned is true
   * when it matched a pin (known-servers or --server-fingerprint), false when trusted on first use
   * (now pinned). server and firstUse are additions. Emitted by the cli runtime, not the machine.
   */
  | { readonly event: 'server.key'; readonly fingerprint: string; readonly pinned: boolean; readonly server: string; readonly firstUse: boolean }
  /** server, pinned and presented (additions): set with SERVER_KEY_CHANGED, the two fingerprints. */
  | { readonly event: 'error'; readonly code: string; readonly message: string; readonly detail?: string; readonly server?: string; readonly pinned?: string; readonly presented?: string };

export type ClientEventName = ClientEvent['event'];
export type ClientEventOf<Name extends ClientEventName> = Extract<ClientEvent, { event: Name }>;
