/**
 * What the server persists, as data. The server machine emits StoreOps as `persist` effects; a
 * runtime applies them, in order, before it performs any later effect of the same batch (so a
 * reply never announces a change that is not yet committed). Reads happen once, at start-up, as
 * a snapshot: the machine then serves every read from memory.
 *
 * SQLite implements this in cli/, a plain in-memory store (below) in the simulator and the tests;
 * a PostgreSQL adapter would be a third implementation, not a rewrite.
 */
import { type MailFailure, mailFailureSchema } from './frames.ts';
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
  /**
   * sinceMs: when the friendship began (server clock). A friendship ended and made again has
   * another, so a client can tell its offline messages from before went with the old one.
   */
  | { readonly op: 'friendship.add'; readonly a: string; readonly b: string; readonly sinceMs?: number }
  | { readonly op: 'friendship.remove'; readonly a: string; readonly b: string }
  | { readonly op: 'request.add'; readonly from: string; readonly to: string }
  | { readonly op: 'request.remove'; readonly from: string; readonly to: string }
  | { readonly op: 'block.add'; readonly blocker: string; readonly blocked: string }
  | { readonly op: 'block.remove'; readonly blocker: string; readonly blocked: string }
  | { readonly op: 'account.password'; readonly username: string; readonly passwordHash: string }
  | { readonly op: 'account.nickname'; readonly username: string; readonly nickname: string }
  /** `decliner` declined `declined`'s friend request at atMs: the cool-down runs from then, across restarts. */
  | { readonly op: 'decline.add'; readonly declined: string; readonly decliner: string; readonly atMs: number }
  | { readonly op: 'decline.remove'; readonly declined: string; readonly decliner: string }
  /** A sealed offline message left for `to` (the server never sees its text: see MailRecord). */
  | ({ readonly op: 'mail.add' } & MailRecord)
  /** `to` acknowledged the mail with this seq (or it was dropped): it is deleted. */
  | { readonly op: 'mail.remove'; readonly to: string; readonly seq: number }
  /** A delivery receipt owed to `sender`, who was offline when its mail was acknowledged. */
  | ({ readonly op: 'receipt.add' } & ReceiptRecord)
  | { readonly op: 'receipt.remove'; readonly sender: string; readonly seq: number };

/** A declined friend request, remembered for its cool-down. */
export interface DeclineRecord {
  readonly declined: string;
  readonly decliner: string;
  readonly atMs: number;
}

/**
 * One sealed offline message. `sealed` is the base64 of a sealed box (docs/PROTOCOL.md, "Sealed
 * offline messages") that only the recipient's identity key opens; what the server knows is the
 * rest: who, to whom, the sender's message id, the size and the time.
 */
export interface MailRecord {
  /** Unique per server over its life and increasing in arrival order (see core/server/mailbox.ts). */
  readonly seq: number;
  readonly from: string;
  readonly to: string;
  /** The sender's id for the message (chat.send `id`), echoed in its chat.queued and chat.delivered. */
  readonly messageId: string | number;
  readonly sealed: string;
  readonly sentAtMs: number;
}

/**
 * A receipt held for an offline sender: `recipient` stored message `messageId` (mail `seq`), or,
 * with `failed`, the message reached nobody (it did not open, or the friendship ended first).
 */
export interface ReceiptRecord {
  readonly seq: number;
  readonly sender: string;
  readonly recipient: string;
  readonly messageId: string | number;
  /** Absent: delivered. */
  readonly failed?: MailFailure;
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
  /** Each friendship once, as an unordered pair, with when it began (absent: made before that was stored). */
  readonly friendships: ReadonlyArray<readonly [string, string, number?]>;
  /** Pending friend requests as [from, to]. */
  readonly requests: ReadonlyArray<readonly [string, string]>;
  /** Blocks as [blocker, blocked]; absent in snapshots from before blocks existed. */
  readonly blocks?: ReadonlyArray<readonly [string, string]>;
  /** Sealed offline messages not yet acknowledged, in seq order; absent before the mailbox existed. */
  readonly mail?: readonly MailRecord[];
  /** Delivery receipts owed to offline senders, in seq order; absent before the mailbox existed. */
  readonly receipts?: readonly ReceiptRecord[];
  /** Declines still in their cool-down, oldest first; absent in snapshots from before they were stored. */
  readonly declines?: readonly DeclineRecord[];
}

/**
 * A batch the store read and would not commit, nothing of it committed: a unique key another
 * writer took first (two nodes of a cluster signing up one name at the same instant).
 */
export interface StoreRefusal {
  readonly reason: string;
  /**
   * The store could not be reached in time (a shared database away): the batch was withdrawn and
   * will not be committed later. The host announces none of it and reads the store again once it
   * answers; the users who asked are not told it is done (docs/CLUSTER.md).
   */
  readonly unavailable?: true;
}

export interface AccountStore {
  load(): StoreSnapshot;
  /**
   * Applies ops atomically and durably: when it returns null, they survive a crash. A refusal
   * (StoreRefusal, `unavailable` when the store could not be reached) is an answer, not an
   * exception: the host tells the machine, and the process goes on. A store that cannot write at
   * all (a disk error) still throws.
   */
  apply(ops: readonly StoreOp[]): StoreRefusal | null;
  close(): void;
  /**
   * A store shared by several nodes (PostgreSQL) reads one user's held mail and the receipts owed
   * to it as they are now, so a node hands over what any node queued (docs/CLUSTER.md); null when
   * it cannot be read. Absent on a store only one server uses: its memory is the truth.
   */
  heldMailOf?(username: string): HeldMail | null;
}

/** One user's mail and receipts as the store holds them (AccountStore.heldMailOf). */
export interface HeldMail {
  readonly mail: readonly MailRecord[];
  readonly receipts: readonly ReceiptRecord[];
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

/** An AccountStore in memory: what survives a simulated server crash, and the tests' store. */
export class MemoryStore implements AccountStore {
  private readonly accounts = new Map<string, AccountRecord>();
  private readonly friendships = new Map<string, readonly [string, string, number?]>();
  private readonly requests = new Map<string, readonly [string, string]>();
  private readonly blocks = new Map<string, readonly [string, string]>();
  private readonly mail = new Map<number, MailRecord>();
  private readonly receipts = new Map<number, ReceiptRecord>();
  private readonly declines = new Map<string, DeclineRecord>();

  load(): StoreSnapshot {
    return {
      accounts: [...this.accounts.values()],
      friendships: [...this.friendships.values()],
      requests: [...this.requests.values()],
      blocks: [...this.blocks.values()],
      mail: [...this.mail.values()].sort((a, b) => a.seq - b.seq),
      receipts: [...this.receipts.values()].sort((a, b) => a.seq - b.seq),
      declines: [...this.declines.values()].sort((a, b) => a.atMs - b.atMs),
    };
  }

  /** Sealed messages held, for tests that look for plaintext. */
  get mailRecords(): readonly MailRecord[] {
    return [...this.mail.values()];
  }

  apply(ops: readonly StoreOp[]): StoreRefusal | null {
    // As a database's primary key: an account name is taken once (checked before anything is applied).
    const created = new Set<string>();
    for (const op of ops) {
      if (op.op !== 'account.create') continue;
      if (this.accounts.has(op.username) || created.has(op.username)) return { reason: `account ${op.username} exists` };
      created.add(op.username);
    }
    for (const op of ops) this.applyOne(op);
    return null;
  }

  close(): void {}

  get accountCount(): number {
    return this.accounts.size;
  }

  hasAccount(username: string): boolean {
    return this.accounts.has(username);
  }

  /** The committed password hash of this account, or null when there is none (the simulator's password-truth asks it). */
  passwordHashOf(username: string): string | null {
    return this.accounts.get(username)?.passwordHash ?? null;
  }

  /** Whether a and b are friends (either order). */
  hasFriendship(a: string, b: string): boolean {
    return this.friendships.has(pairKey(a, b));
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
        this.friendships.set(pairKey(op.a, op.b), op.sinceMs === undefined ? [op.a, op.b] : [op.a, op.b, op.sinceMs]);
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
      case 'mail.add':
        this.mail.set(op.seq, { seq: op.seq, from: op.from, to: op.to, messageId: op.messageId, sealed: op.sealed, sentAtMs: op.sentAtMs });
        return;
      case 'mail.remove':
        this.mail.delete(op.seq);
        return;
      case 'receipt.add':
        this.receipts.set(op.seq, receiptOf(op));
        return;
      case 'receipt.remove':
        this.receipts.delete(op.seq);
        return;
    }
  }
}

/** The record a receipt.add op holds (`failed` only when it failed, as the stores read it back). */
export function receiptOf(op: ReceiptRecord): ReceiptRecord {
  return { seq: op.seq, sender: op.sender, recipient: op.recipient, messageId: op.messageId, ...(op.failed && { failed: op.failed }) };
}

/** A receipt's `failed` as a store column holds it (NULL: delivered). */
export function failedOf(column: string | null): { readonly failed?: MailFailure } {
  const parsed = mailFailureSchema.safeParse(column);
  // Stores write only mailFailureSchema's codes here; NULL is every receipt from before the column.
  return parsed.success ? { failed: parsed.data } : {};
}
