/**
 * The simulated server's store: the MemoryStore (what survives a crash, as the SQLite file
 * would) behind store faults, with a record of what was committed for the
 * announced-is-committed checker.
 *
 * Store faults (fault kind `store`): `fail` — an apply fails, and the server process dies right
 * there, as the real one would on an exception out of SQLite (nothing of the batch is committed,
 * nothing after it in the batch goes out); `stall` — each apply takes `stallMs` of the server's
 * time: the process stops that long (its timers fire late); `lose` — TEST-ONLY, the store says
 * yes and keeps nothing (a disk that lies about fsync), so the server announces changes that
 * were never committed, which the checker must notice.
 */
import { type AccountStore, MemoryStore, type StoreOp, type StoreRefusal, type StoreSnapshot } from '../../core/store.ts';
import { ProcessDied } from './sim-clock.ts';

export type StoreFaultMode = 'fail' | 'stall' | 'lose';

export interface StoreFault {
  readonly mode: StoreFaultMode;
  readonly stallMs: number;
}

function pairKey(a: string, b: string): string {
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}

export class SimStore implements AccountStore {
  private readonly memory = new MemoryStore();
  /** Accounts and friendships committed so far (friendships removed again are dropped). */
  readonly committedAccounts = new Set<string>();
  private readonly committedFriendships = new Set<string>();
  /** The store fault in progress, or null. */
  fault: StoreFault | null = null;
  /** What a failing apply does to the process (set by the server node): it dies there. */
  onFail: () => void = () => {};
  /** What a stalled apply does to the process: it stops for stallMs. */
  onStall: (stallMs: number) => void = () => {};

  load(): StoreSnapshot {
    return this.memory.load();
  }

  apply(ops: readonly StoreOp[]): StoreRefusal | null {
    const fault = this.fault;
    if (fault?.mode === 'fail') {
      this.onFail();
      throw new ProcessDied('the store failed to apply a batch');
    }
    if (fault?.mode === 'lose') return null;
    // Refused as PostgreSQL's primary key refuses it: an account two nodes signed up at once.
    const refused = this.memory.apply(ops);
    if (refused !== null) return refused;
    for (const op of ops) {
      if (op.op === 'account.create') this.committedAccounts.add(op.username);
      else if (op.op === 'friendship.add') this.committedFriendships.add(pairKey(op.a, op.b));
      else if (op.op === 'friendship.remove') this.committedFriendships.delete(pairKey(op.a, op.b));
    }
    if (fault?.mode === 'stall') this.onStall(fault.stallMs);
    return null;
  }

  close(): void {}

  isFriendshipCommitted(a: string, b: string): boolean {
    return this.committedFriendships.has(pairKey(a, b));
  }
}
