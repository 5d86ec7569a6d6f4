/**
 * The server's in-memory view of accounts, friendships and friend requests, built from a store
 * snapshot and kept in step with the StoreOps the machine emits. All reads are served from here.
 */
import type { ErrorCode } from '../errors.ts';
import {
  NICKNAME_CHARS_MAX,
  PASSWORD_CHARS_MAX,
  PASSWORD_CHARS_MIN,
  USERNAME_CHARS_MAX,
  USERNAME_CHARS_MIN,
  USERNAME_PATTERN,
} from '../limits.ts';
import type { IdentityKeys } from '../identity.ts';
import type { StoreOp, StoreSnapshot } from '../store.ts';

export interface Account {
  readonly username: string;
  readonly nickname: string;
  readonly passwordHash: string;
  /** The public keys friends are given (friend views, session.established); null until registered. */
  identity: IdentityKeys | null;
  readonly friends: Set<string>;
  /** Usernames that asked this account to be friends. */
  readonly incoming: Set<string>;
  /** Usernames this account asked. */
  readonly outgoing: Set<string>;
  /** Usernames this account blocked: their friend and session requests are dropped silently. */
  readonly blocked: Set<string>;
}

// Control characters (C0, DEL, C1) are never allowed in names or passwords, nor are lone
// surrogates: they are not text, and JSON escapes each to six bytes (frame sizes assume three).
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;

export function checkUsername(username: string): ErrorCode | null {
  if (username.length < USERNAME_CHARS_MIN || username.length > USERNAME_CHARS_MAX) return 'USERNAME_INVALID';
  return USERNAME_PATTERN.test(username) ? null : 'USERNAME_INVALID';
}

export function checkPassword(password: string): ErrorCode | null {
  if (password.length < PASSWORD_CHARS_MIN || password.length > PASSWORD_CHARS_MAX) return 'PASSWORD_INVALID';
  return CONTROL_CHARS.test(password) ? 'PASSWORD_INVALID' : null;
}

// A nickname is shown to friends in every client, so it must read as it was typed and stay on one
// line. Direction controls (Unicode Bidi_Control: the embeddings and overrides U+202A-U+202E, the
// isolates U+2066-U+2069, the marks U+061C, U+200E, U+200F) reorder or reverse what follows them,
// so a friend's name could show reversed or pose as another's; line and paragraph separators
// (U+2028, U+2029) break it over lines.
const LAYOUT_CHARS = /[\p{Bidi_Control}\u2028\u2029]/u;
// A nickname needs something to show: one of white space and invisible characters
// (Default_Ignorable_Code_Point: zero-width spaces, word joiners, the Hangul fillers) is blank.
const VISIBLE_CHAR = /[^\s\p{Default_Ignorable_Code_Point}]/u;

export function checkNickname(nickname: string): ErrorCode | null {
  if (nickname.length > NICKNAME_CHARS_MAX || CONTROL_CHARS.test(nickname) || LAYOUT_CHARS.test(nickname)) return 'NICKNAME_INVALID';
  // White space at either end cannot be seen, and would let two names that look alike differ.
  if (nickname.trim() !== nickname || !VISIBLE_CHAR.test(nickname)) return 'NICKNAME_INVALID';
  return null;
}

export class Directory {
  private readonly accounts = new Map<string, Account>();

  constructor(snapshot: StoreSnapshot) {
    for (const record of snapshot.accounts) {
      this.accounts.set(record.username, {
        username: record.username,
        nickname: record.nickname,
        passwordHash: record.passwordHash,
        identity: record.identity ?? null,
        friends: new Set(),
        incoming: new Set(),
        outgoing: new Set(),
        blocked: new Set(),
      });
    }
    for (const [blocker, blocked] of snapshot.blocks ?? []) this.apply({ op: 'block.add', blocker, blocked });
    for (const [a, b] of snapshot.friendships) this.apply({ op: 'friendship.add', a, b });
    for (const [from, to] of snapshot.requests) this.apply({ op: 'request.add', from, to });
  }

  get size(): number {
    return this.accounts.size;
  }

  get(username: string): Account | undefined {
    return this.accounts.get(username);
  }

  has(username: string): boolean {
    return this.accounts.has(username);
  }

  /**
   * The requests an account is shown: its incoming ones minus those from users it blocked. A
   * blocked user's request is kept (their own outgoing list shows it pending, so the block stays
   * silent to them) but the blocker never sees it, nor does it count against the blocker's quota.
   */
  visibleIncoming(account: Account): string[] {
    if (account.blocked.size === 0) return [...account.incoming];
    return [...account.incoming].filter((from) => !account.blocked.has(from));
  }

  areFriends(a: string, b: string): boolean {
    return this.accounts.get(a)?.friends.has(b) ?? false;
  }

  /** Applies one op to memory. The machine emits the same op as an effect for the store. */
  apply(op: StoreOp): void {
    switch (op.op) {
      case 'account.create':
        this.accounts.set(op.username, {
          username: op.username,
          nickname: op.nickname,
          passwordHash: op.passwordHash,
          identity: op.identity ?? null,
          friends: new Set(),
          incoming: new Set(),
          outgoing: new Set(),
          blocked: new Set(),
        });
        return;
      case 'account.identity': {
        const account = this.accounts.get(op.username);
        if (account !== undefined) account.identity = op.identity;
        return;
      }
      case 'friendship.add': {
        const a = this.accounts.get(op.a);
        const b = this.accounts.get(op.b);
        if (a === undefined || b === undefined) return;
        a.friends.add(op.b);
        b.friends.add(op.a);
        return;
      }
      case 'friendship.remove':
        this.accounts.get(op.a)?.friends.delete(op.b);
        this.accounts.get(op.b)?.friends.delete(op.a);
        return;
      case 'request.add': {
        const from = this.accounts.get(op.from);
        const to = this.accounts.get(op.to);
        if (from === undefined || to === undefined) return;
        from.outgoing.add(op.to);
        to.incoming.add(op.from);
        return;
      }
      case 'request.remove':
        this.accounts.get(op.from)?.outgoing.delete(op.to);
        this.accounts.get(op.to)?.incoming.delete(op.from);
        return;
      case 'block.add':
        this.accounts.get(op.blocker)?.blocked.add(op.blocked);
        return;
      case 'block.remove':
        this.accounts.get(op.blocker)?.blocked.delete(op.blocked);
        return;
      case 'account.password': {
        // A new record around the same sets: the friend and request lists are unchanged.
        const account = this.accounts.get(op.username);
        if (account !== undefined) this.accounts.set(op.username, { ...account, passwordHash: op.passwordHash });
        return;
      }
      case 'account.nickname': {
        const account = this.accounts.get(op.username);
        if (account !== undefined) this.accounts.set(op.username, { ...account, nickname: op.nickname });
        return;
      }
      case 'decline.add':
      case 'decline.remove':
        // The machine keeps the declines (it bounds them and reads their time).
        return;
    }
  }
}
