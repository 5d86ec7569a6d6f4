/**
 * The caller's resumable P2P sessions (TLS 1.3 tickets), in memory only: the newest ticket per
 * (friend's username, the key the server vouched for them, their address), with the key the full
 * handshake that got it proved. TcpTransport offers one on the next connect meant for the same
 * friend, key and address; docs/SECURITY.md, "Resumed peer-to-peer links", says what a resumed
 * link proves and what it does not.
 *
 * Why resuming keeps the identity check: a TLS 1.3 resumption (psk_dhe_ke: still a fresh X25519
 * exchange) succeeds only between two ends that hold the secret of the earlier handshake the
 * ticket came from, and that handshake proved the friend's key (a ticket is kept only from a link
 * that proved the key the friend was vouched with). The callee's OpenSSL reads the caller's
 * certificate back out of the ticket, which only it can open, so both ends still check the key
 * the other proved against the key the server vouches for now, on every link; a changed vouched
 * key never finds the old ticket (it is part of the lookup) and is refused by the other end.
 */
import { dropOldestPast } from '../../core/bounded.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import type { ConnectIntent } from '../../core/transport.ts';

/**
 * How long a P2P listener's tickets resume (its `sessionTimeout`), and so how long a caller keeps
 * one: a chat reopened with the same friend within the hour costs no certificate and no signature.
 * Longer would mostly keep tickets of links never reopened (node's default is 5 minutes). It bounds
 * what a ticket is worth to whoever takes it out of the caller's memory, which holds the identity
 * key itself anyway.
 */
export const PEER_SESSION_LIFETIME_S = 3_600;
/**
 * Tickets a caller keeps (about 1 KB each), the oldest used going first: a user with more friends
 * than this opens the rest with full handshakes.
 */
export const PEER_SESSIONS_CACHED_MAX = 256;

/** Ticket: node's serialized session (the simulator keeps a stand-in naming the listener that issued it). */
export interface PeerSession<Ticket = Buffer> {
  readonly peer: string;
  readonly ticket: Ticket;
  /** The key the full handshake that got the ticket proved: a resumed link proves it again. */
  readonly peerKey: string;
  readonly atMs: number;
}

/**
 * Which tickets a client event makes the caller forget, or null: none. They go with what they were
 * made under: a friend's when their key changes (peer.key.changed; a ticket is only ever offered
 * under the key it was got with, so this frees memory more than it protects), every one when a
 * login ends or a new one begins (logout.ok, login.ok: the next account's links owe nothing to this
 * one's). The one rule ClientRuntime applies to its transport and the simulator to its stand-in.
 */
export function peerSessionsForgottenBy(event: ClientEvent): { readonly peer?: string } | null {
  if (event.event === 'peer.key.changed') return { peer: event.username };
  if (event.event === 'login.ok' || event.event === 'logout.ok') return {};
  return null;
}

export class PeerSessions<Ticket = Buffer> {
  private readonly byLink = new Map<string, PeerSession<Ticket>>();

  /** The lookup key of a connect, or null when nothing may be resumed (no friend named, or no key vouched for). */
  static linkOf(host: string, port: number, intent: ConnectIntent | undefined): string | null {
    if (intent === undefined || intent.vouchedKey === null) return null;
    return `${intent.peer}\n${intent.vouchedKey}\n${host}:${port}`;
  }

  get size(): number {
    return this.byLink.size;
  }

  /** The ticket to offer for `link`, if one was kept and has not outlived its listener's lifetime (which would refuse it). */
  offer(link: string, nowMs: number): PeerSession<Ticket> | undefined {
    const kept = this.byLink.get(link);
    if (kept === undefined) return undefined;
    if (nowMs - kept.atMs < PEER_SESSION_LIFETIME_S * 1_000) return kept;
    this.byLink.delete(link);
    return undefined;
  }

  /** Keeps the newest ticket of `link` (the oldest link goes when full). */
  keep(link: string, session: PeerSession<Ticket>): void {
    this.byLink.delete(link);
    this.byLink.set(link, session);
    dropOldestPast(this.byLink, PEER_SESSIONS_CACHED_MAX);
  }

  /**
   * A ticket the listener sent after a full handshake of `link`, which proved `provedKey`: kept only
   * when that is the key the friend is vouched with (another's link is refused by the core, and its
   * ticket must never stand for the friend).
   */
  ticketCame(link: string, intent: ConnectIntent, provedKey: string | null, ticket: Ticket, nowMs: number): void {
    if (intent.vouchedKey === null || provedKey !== intent.vouchedKey) return;
    this.keep(link, { peer: intent.peer, ticket, peerKey: provedKey, atMs: nowMs });
  }

  /** Drops the ticket of `link` if it is still `session` (a newer one stays). */
  drop(link: string, session: PeerSession<Ticket>): void {
    if (this.byLink.get(link) === session) this.byLink.delete(link);
  }

  /** Drops every ticket of `peer` (their vouched key changed), or every ticket (a login ended or began). */
  forget(peer?: string): void {
    if (peer === undefined) return this.byLink.clear();
    for (const [link, session] of this.byLink) if (session.peer === peer) this.byLink.delete(link);
  }
}
