/**
 * What the client runtime makes of the identity keys the server hands over with friend views
 * (login.ok, friends, friend.added): a safety number on each friend (safety-number.ts), a
 * `peer.key.changed` warning when a friend's keys differ from the ones this data dir knew
 * (known-peers.ts), and the answer to the `fingerprint` command.
 */
import type { IdentityKeys } from '../../core/identity.ts';
import type { ClientEvent, ClientEventOf } from '../../core/peer/events.ts';
import { FRIENDS_PER_USER_MAX } from '../../core/limits.ts';
import type { KnownPeers } from './known-peers.ts';
import { safetyNumber } from './safety-number.ts';

/** The `error` code of a `fingerprint` for a user whose keys the server has not handed us. */
export const PEER_KEY_UNKNOWN = 'PEER_KEY_UNKNOWN';
/** The `error` code of a `fingerprint` on a client that has no identity keys. */
export const NO_IDENTITY = 'NO_IDENTITY';
/** The `error` code when the known-peers file cannot be read or written (key changes go unnoticed). */
export const KNOWN_PEERS_FAILED = 'KNOWN_PEERS_FAILED';

type FriendView = { readonly username: string; readonly identity?: IdentityKeys | undefined };

export class FriendKeys {
  private me: string | null = null;
  /** The keys the server last handed for each friend (bounded: friends are). */
  private readonly current = new Map<string, IdentityKeys>();
  private knownPeersFailedTold = false;

  constructor(
    private readonly mine: IdentityKeys | null,
    private readonly knownPeers: KnownPeers | null,
    private readonly onKnownPeersError: (error: Error) => void,
  ) {}

  /** The event as shown (friend views with safety numbers), and the warnings it leads to. */
  onEvent(event: ClientEvent): { shown: ClientEvent; changes: ClientEvent[] } {
    switch (event.event) {
      case 'login.ok':
        this.me = event.username;
        this.current.clear();
        return this.withFriends(event, event.friends, (friends) => ({ ...event, friends }));
      case 'friends':
        return this.withFriends(event, event.friends, (friends) => ({ ...event, friends }));
      case 'friend.added':
        return this.withFriends(event, [event], ([friend]) => ({ ...event, ...friend }));
      case 'friend.updated':
        // Only a change of keys says anything here (a nickname change carries none).
        if (event.identity === undefined) return { shown: event, changes: [] };
        return this.withFriends(event, [event], ([friend]) => ({ ...event, ...friend }));
      case 'friend.removed':
      case 'friend.blocked':
        this.current.delete(event.username);
        return { shown: event, changes: [] };
      case 'logout.ok':
        this.me = null;
        this.current.clear();
        return { shown: event, changes: [] };
      default:
        return { shown: event, changes: [] };
    }
  }

  /** The answer to `fingerprint`: this account's safety number, or the one shared with a friend. */
  fingerprint(username: string | undefined): ClientEvent {
    if (this.mine === null) return { event: 'error', code: NO_IDENTITY, message: 'this client has no identity keys' };
    if (username === undefined || username === this.me) {
      return { event: 'fingerprint', username: this.me ?? '', safetyNumber: safetyNumber({ username: '', keys: this.mine }) };
    }
    const keys = this.current.get(username) ?? this.knownPeers?.get(username) ?? null;
    if (keys === null || this.me === null) {
      return { event: 'error', code: PEER_KEY_UNKNOWN, message: 'no identity keys known for that user (log in; they must be a friend with keys)', username };
    }
    return { event: 'fingerprint', username, safetyNumber: this.pairNumber(username, keys) };
  }

  private pairNumber(username: string, keys: IdentityKeys): string {
    return safetyNumber({ username: this.me ?? '', keys: this.mine! }, { username, keys });
  }

  private withFriends<T extends FriendView>(
    event: ClientEvent,
    friends: readonly T[],
    rebuild: (friends: Array<T & { safetyNumber?: string }>) => ClientEvent,
  ): { shown: ClientEvent; changes: ClientEvent[] } {
    if (this.mine === null || this.me === null) return { shown: event, changes: [] };
    const seen: Array<{ username: string; identity: IdentityKeys }> = [];
    const shown = friends.map((friend) => {
      if (friend.identity === undefined) return friend;
      if (this.current.size < FRIENDS_PER_USER_MAX || this.current.has(friend.username)) this.current.set(friend.username, friend.identity);
      seen.push({ username: friend.username, identity: friend.identity });
      return { ...friend, safetyNumber: this.pairNumber(friend.username, friend.identity) };
    });
    return { shown: rebuild(shown), changes: this.observe(seen) };
  }

  private observe(seen: Array<{ username: string; identity: IdentityKeys }>): ClientEvent[] {
    if (this.knownPeers === null || seen.length === 0) return [];
    try {
      return this.knownPeers.observe(seen).map(
        (change): ClientEventOf<'peer.key.changed'> => ({
          event: 'peer.key.changed',
          username: change.username,
          old: this.pairNumber(change.username, change.old),
          new: this.pairNumber(change.username, change.new),
        }),
      );
    } catch (error) {
      this.onKnownPeersError(error as Error);
      if (this.knownPeersFailedTold) return [];
      this.knownPeersFailedTold = true;
      return [{ event: 'error', code: KNOWN_PEERS_FAILED, message: `friends' key changes cannot be checked: ${(error as Error).message}` }];
    }
  }
}
