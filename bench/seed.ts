/**
 * Accounts and friendships are written into the server's SQLite store before it starts, through
 * the store's own interface (AccountStore.apply), so set-up costs no protocol round trips.
 *
 * Password hashes: the login_rate accounts carry a hash with the server's real scrypt parameters
 * (each login pays one full scrypt, which is what that figure measures). Every other account
 * carries a hash with a tiny cost (N=16): those phases measure holding connections, presence
 * fanout, brokering and resumes, and 19,000 real logins would take this machine over six minutes
 * of scrypt alone. The stored hash names its own parameters, so the server verifies each with the
 * cost it was made with; nothing in the server is switched off.
 */
import { SCRYPT_PARAMS, type ScryptParams, hashPassword } from '../cli/server/password.ts';
import { SqliteStore } from '../cli/server/sqlite-store.ts';
import type { StoreOp } from '../core/store.ts';

export const BENCH_PASSWORD = 'bench-password';
/** Cheap scrypt for accounts whose login cost is not what the phase measures. */
export const CHEAP_SCRYPT_PARAMS: ScryptParams = { N: 16, r: 1, p: 1 };
/** Accounts per transaction while seeding. */
const SEED_BATCH_OPS = 5_000;

export interface SeedPlan {
  readonly realAccounts: readonly string[];
  readonly cheapAccounts: readonly string[];
  readonly friendships: ReadonlyArray<readonly [string, string]>;
  /** Accounts hashed with other parameters (the peers' matched-cost logins). */
  readonly accountsWithParams?: ReadonlyArray<{ readonly usernames: readonly string[]; readonly params: ScryptParams }>;
}

export async function seedStore(dataDir: string, plan: SeedPlan): Promise<void> {
  const realHash = await hashPassword(BENCH_PASSWORD, SCRYPT_PARAMS);
  const cheapHash = await hashPassword(BENCH_PASSWORD, CHEAP_SCRYPT_PARAMS);
  const createdAtMs = Date.now();
  const withParams: StoreOp[] = [];
  for (const group of plan.accountsWithParams ?? []) {
    const passwordHash = await hashPassword(BENCH_PASSWORD, group.params);
    withParams.push(...group.usernames.map((username): StoreOp => ({ op: 'account.create', username, nickname: username, passwordHash, createdAtMs })));
  }
  const ops: StoreOp[] = [
    ...withParams,
    ...plan.realAccounts.map((username): StoreOp => ({ op: 'account.create', username, nickname: username, passwordHash: realHash, createdAtMs })),
    ...plan.cheapAccounts.map((username): StoreOp => ({ op: 'account.create', username, nickname: username, passwordHash: cheapHash, createdAtMs })),
    ...plan.friendships.map(([a, b]): StoreOp => ({ op: 'friendship.add', a, b })),
  ];
  const store = new SqliteStore({ dataDir });
  try {
    for (let i = 0; i < ops.length; i += SEED_BATCH_OPS) store.apply(ops.slice(i, i + SEED_BATCH_OPS));
  } finally {
    store.close();
  }
}

/** `prefix` + zero-padded index: short names keep a 1,000-friend login.ok under the frame limit. */
export function names(prefix: string, count: number): string[] {
  const width = String(Math.max(0, count - 1)).length;
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(width, '0')}`);
}
