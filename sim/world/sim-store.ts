/**
 * The simulated server's store: the MemoryStore (what survives a crash, as the SQLite file
 * would) behind store faults; what it holds is what was committed, which the
 * announced-is-committed checker asks about.
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

export class SimStore implements AccountStore {
  private readonly memory = new MemoryStore();
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
    if (fault?.mode === 'stall') this.onStall(fault.stallMs);
    return null;
  }

  close(): void {}

  /*
   * What was committed is what the MemoryStore holds: it is written only by a batch that commits
   * (a lost one never reaches it, a refused one leaves it as it was). A copy of its accounts and
   * friendships kept here cost a set entry and a key string per seeded account and friendship.
   */

  /** Whether the store committed this account. */
  isAccountCommitted(username: string): boolean {
    return this.memory.hasAccount(username);
  }

  /** The committed password hash of this account, or null when there is none (password-truth). */
  passwordHashOf(username: string): string | null {
    return this.memory.passwordHashOf(username);
  }

  /** Whether the store holds this friendship (committed and not removed since). */
  isFriendshipCommitted(a: string, b: string): boolean {
    return this.memory.hasFriendship(a, b);
  }
}
