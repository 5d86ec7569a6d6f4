/**
 * What the server persists, as data. The server machine emits StoreOps as `persist` effects; a
 * runtime applies them, in order, before it performs any later effect of the same batch (so a
 * reply never announces a change that is not yet committed). Reads happen once, at start-up, as
 * a snapshot: the machine then serves every read from memory.
 *
 * SQLite implements this in cli/, a plain in-memory store (below) in the simulator and the tests;
 * a PostgreSQL adapter would be a third implementation, not a rewrite.
 */
import type { IdentityKeys } from './identity.ts';

export type StoreOp =
  | {
      readonly op: 'account.create';
      readonly username: string;
      readonly nickname: string;
      readonly passwordHash: string;
      readonly createdAtMs: number;
      /** The public keys registered at sign-up; absent from clients that sent none. */
      readonly identity?: IdentityKeys;
    }
  /** An account's identity keys registered or replaced at a password login. */
  | { readonly op: 'account.identity'; readonly username: string; readonly identity: IdentityKeys }
  | { readonly op: 'friendship.add'; readonly a: string; readonly b: string }
  | { readonly op: 'friendship.remove'; readonly a: string; readonly b: string }
  | { readonly op: 'request.add'; readonly from: string; readonly to: string }
  | { readonly op: 'request.remove'; readonly from: string; readonly to: string }
  | { readonly op: 'block.add'; readonly blocker: string; readonly blocked: string }
  | { readonly op: 'block.remove'; readonly blocker: string; readonly blocked: string }
  | { readonly op: 'account.password'; readonly username: string; readonly passwordHash: string }
  | { readonly op: 'account.nickname'; readonly username: string; readonly nickname: string }
  /** `decliner` declined `declined`'s friend request at atMs: the cool-down runs from then, across restarts. */
  | { readonly op: 'decline.add'; readonly declined: string; readonly decliner: string; readonly atMs: number }
  | { readonly op: 'decline.remove'; readonly declined: string; readonly decliner: string };

/** A declined friend request, remembered for its cool-down. */
export interface DeclineRecord {
  readonly declined: string;
  readonly decliner: string;
  readonly atMs: number;
}

export interface AccountRecord {
  readonly username: string;
  readonly nickname: string;
  readonly passwordHash: string;
  readonly createdAtMs: number;
  /** Absent for accounts that never registered keys (made before keys existed, or by a raw-frame tool). */
  readonly identity?: IdentityKeys;
}

export interface StoreSnapshot {
  readonly accounts: readonly AccountRecord[];
  /** Each friendship once, as an unordered pair. */
  readonly friendships: ReadonlyArray<readonly [string, string]>;
  /** Pending friend requests as [from, to]. */
  readonly requests: ReadonlyArray<readonly [string, string]>;
  /** Blocks as [blocker, blocked]; absent in snapshots from before blocks existed. */
  readonly blocks?: ReadonlyArray<readonly [string, string]>;
  /** Declines still in their cool-down, oldest first; absent in snapshots from before they were stored. */
  readonly declines?: readonly DeclineRecord[];
}

export interface AccountStore {
  load(): StoreSnapshot;
  /** Applies ops atomically and durably: when it returns, they survive a crash. */
  apply(ops: readonly StoreOp[]): void;
  close(): void;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** An AccountStore in memory: what survives a simulated server crash, and the tests' store. */
export class MemoryStore implements AccountStore {
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly friendships = new Map<string, readonly [string, string]>();
  private readonly requests = new Map<string, readonly [string, string]>();
  private readonly blocks = new Map<string, readonly [string, string]>();
  private readonly declines = new Map<string, DeclineRecord>();

  load(): StoreSnapshot {
    return {
      accounts: [...this.accounts.values()],
      friendships: [...this.friendships.values()],
      requests: [...this.requests.values()],
      blocks: [...this.blocks.values()],
      declines: [...this.declines.values()].sort((a, b) => a.atMs - b.atMs),
    };
  }

  apply(ops: readonly StoreOp[]): void {
    for (const op of ops) this.applyOne(op);
  }

  close(): void {}

  get accountCount(): number {
    return this.accounts.size;
  }

  private applyOne(op: StoreOp): void {
    switch (op.op) {
      case 'account.create':
        this.accounts.set(op.username, {
          username: op.username,
          nickname: op.nickname,
          passwordHash: op.passwordHash,
          createdAtMs: op.createdAtMs,
          ...(op.identity === undefined ? {} : { identity: op.identity }),
        });
        return;
      case 'account.identity': {
        const account = this.accounts.get(op.username);
        if (account !== undefined) this.accounts.set(op.username, { ...account, identity: op.identity });
        return;
      }
      case 'friendship.add':
        this.friendships.set(pairKey(op.a, op.b), [op.a, op.b]);
        return;
      case 'friendship.remove':
        this.friendships.delete(pairKey(op.a, op.b));
        return;
      case 'request.add':
        this.requests.set(`${op.from}\u0000${op.to}`, [op.from, op.to]);
        return;
      case 'request.remove':
        this.requests.delete(`${op.from}\u0000${op.to}`);
        return;
      case 'block.add':
        this.blocks.set(`${op.blocker}\u0000${op.blocked}`, [op.blocker, op.blocked]);
        return;
      case 'block.remove':
        this.blocks.delete(`${op.blocker}\u0000${op.blocked}`);
        return;
      case 'account.password': {
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
        this.declines.set(`${op.declined}\u0000${op.decliner}`, { declined: op.declined, decliner: op.decliner, atMs: op.atMs });
        return;
      case 'decline.remove':
        this.declines.delete(`${op.declined}\u0000${op.decliner}`);
        return;
    }
  }
}
