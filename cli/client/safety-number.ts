/**
 * Safety numbers: what two friends read to each other out of band (in person, on a call) to
 * know that the keys their clients use are each other's, and that no one in the middle (the
 * server included) swapped them. Both sides compute the same number from both accounts' public
 * keys: SHA-256 over a domain label and the two (username, signKey, sealKey) triples in username
 * order, shown as 30 digits in six groups of five (100 bits: enough that no one can make another
 * key pair with the same number for a given friend). An account's own number (the `fingerprint`
 * command without a username) is the same over its keys alone.
 */
import { createHash } from 'node:crypto';
import type { IdentityKeys } from '../../core/identity.ts';

const DOMAIN_LABEL = 'p2pchat safety number v1';
const GROUPS = 6;
/** Five bytes per group, read as an integer below 2^40, taken modulo 10^5: bias under 10^-7. */
const GROUP_BYTES = 5;

export interface KeyOwner {
  readonly username: string;
  readonly keys: IdentityKeys;
}

/** Username order, then key order: both sides sort the pair the same way, whatever it holds. */
function byOwner(a: KeyOwner, b: KeyOwner): number {
  const left = `${a.username}\u0000${a.keys.signKey}\u0000${a.keys.sealKey}`;
  const right = `${b.username}\u0000${b.keys.signKey}\u0000${b.keys.sealKey}`;
  return left < right ? -1 : left > right ? 1 : 0;
}

export function safetyNumber(me: KeyOwner, friend?: KeyOwner): string {
  const owners = friend === undefined ? [me] : [me, friend].sort(byOwner);
  const hash = createHash('sha256').update(DOMAIN_LABEL);
  for (const owner of owners) hash.update(`\u0000${owner.username}\u0000${owner.keys.signKey}\u0000${owner.keys.sealKey}`);
  const digest = hash.digest();
  const groups: string[] = [];
  for (let group = 0; group < GROUPS; group++) {
    const value = digest.readUIntBE(group * GROUP_BYTES, GROUP_BYTES) % 100_000;
    groups.push(value.toString().padStart(5, '0'));
  }
  return groups.join(' ');
}
