/**
 * Password hashing as a simulated cost: the answer comes back `costMs` of virtual time later,
 * from the clock (never synchronously, as the PasswordHasher contract requires). The hash string
 * is deterministic (an FNV hash of a salt and the password), so runs replay exactly; it only has
 * to be unequal for unequal passwords, not secure.
 */
import type { PasswordHasher } from '../../core/server/host.ts';
import type { Clock } from '../../core/transport.ts';
import { fnv1a32 } from './trace-hash.ts';

const HASH_PREFIX = 'sim1$';

/** The stored form of a password; also used to seed accounts straight into the store. */
export function simPasswordHash(password: string): string {
  return `${HASH_PREFIX}${fnv1a32(`salt:${password}`).toString(16)}${fnv1a32(`${password}:pepper`).toString(16)}`;
}

/** Hears each check as it starts and as it ends (before the server hears its result): the thread pool seen from outside. */
export interface CheckObserver {
  started(password: string): void;
  ended(password: string): void;
}

export class SimHasher implements PasswordHasher {
  jobs = 0;
  constructor(
    private readonly clock: Clock,
    private readonly costMs: number,
    private readonly observer: CheckObserver | null = null,
  ) {}

  hash(password: string, done: (passwordHash: string | null) => void): void {
    this.jobs += 1;
    this.observer?.started(password);
    this.clock.at(this.clock.nowMs() + this.costMs, () => {
      this.observer?.ended(password);
      done(simPasswordHash(password));
    });
  }

  verify(password: string, passwordHash: string | null, done: (ok: boolean) => void): void {
    this.jobs += 1;
    this.observer?.started(password);
    const ok = passwordHash !== null && passwordHash === simPasswordHash(password);
    this.clock.at(this.clock.nowMs() + this.costMs, () => {
      this.observer?.ended(password);
      done(ok);
    });
  }
}
