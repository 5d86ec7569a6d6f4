/**
 * The server's in-memory view of accounts, friendships and friend requests, built from a store
 * snapshot and kept in step with the StoreOps the machine emits. All reads are served from here.
 */
import type { ErrorCode } from '../errors.ts';
import {
  PASSWORD_CHARS_MAX,
  PASSWORD_CHARS_MIN,
  USERNAME_CHARS_MAX,
  USERNAME_CHARS_MIN,
  USERNAME_PATTERN,
} from '../limits.ts';
import type { IdentityKeys } from '../identity.ts';
import { CONTROL_CHARS, shownNickname } from '../nickname.ts';
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

export { checkNickname } from '../nickname.ts';


export function checkUsername(username: string): ErrorCode | null {
  if (username.length < USERNAME_CHARS_MIN || username.length > USERNAME_CHARS_MAX) return 'USERNAME_INVALID';
  return USERNAME_PATTERN.test(username) ? null : 'USERNAME_INVALID';
}

export function checkPassword(password: string): ErrorCode | null {
  if (password.length < PASSWORD_CHARS_MIN || password.length > PASSWORD_CHARS_MAX) return 'PASSWORD_INVALID';
  return CONTROL_CHARS.test(password) ? 'PASSWORD_INVALID' : null;
}

function pairOf(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export class Directory {
  private readonly accounts = new Map<string, Account>();
  /** When each friendship began ("a\0b", a < b), where known (friendships made before it was stored have none). */
  private readonly friendsSince = new Map<string, number>();

  constructor(snapshot: StoreSnapshot) {
    for (const record of snapshot.accounts) {
      this.accounts.set(record.username, {
        username: record.username,
        // Stored before the nickname rule (empty, blank, direction controls): shown as the username.
        nickname: shownNickname(record.nickname, record.username),
        passwordHash: record.passwordHash,
        identity: record.identity ?? null,
        friends: new Set(),
        incoming: new Set(),
        outgoing: new Set(),
        blocked: new Set(),
      });
    }
    for (const [blocker, blocked] of snapshot.blocks ?? []) this.apply({ op: 'block.add', blocker, blocked });
    for (const [a, b, sinceMs] of snapshot.friendships) this.apply({ op: 'friendship.add', a, b, ...(sinceMs === undefined ? {} : { sinceMs }) });
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

  /** When the friendship of a and b began (server ms), if they are friends and it is known. */
  friendsSinceMs(a: string, b: string): number | undefined {
    return this.friendsSince.get(pairOf(a, b));
  }

  /** Applies one op to memory. The machine emits the same op as an effect for the store. */
  apply(op: StoreOp): void {
    switch (op.op) {
      case 'account.create':
        this.accounts.set(op.username, {
          username: op.username,
          nickname: shownNickname(op.nickname, op.username),
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
        if (op.sinceMs !== undefined) this.friendsSince.set(pairOf(op.a, op.b), op.sinceMs);
        return;
      }
      case 'friendship.remove':
        this.accounts.get(op.a)?.friends.delete(op.b);
        this.accounts.get(op.b)?.friends.delete(op.a);
        this.friendsSince.delete(pairOf(op.a, op.b));
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
        if (account !== undefined) this.accounts.set(op.username, { ...account, nickname: shownNickname(op.nickname, op.username) });
        return;
      }
      case 'decline.add':
      case 'decline.remove':
        // The machine keeps the declines (it bounds them and reads their time).
        return;
    }
  }
}
