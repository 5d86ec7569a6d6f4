/**
 * Which limits a remote address shares with its neighbours: the key of per-address limits.
 *
 * One IPv4 address is one key (the smallest unit a host gets). IPv6 hosts usually get a whole /64
 * (2^64 addresses), so an IPv6 address is keyed by its /64 prefix: otherwise one host could step
 * through fresh addresses and have a fresh allowance for each. An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d, how a dual-stack socket reports IPv4 peers) is its IPv4 address.
 *
 * Pure string work (no node:net): core/ stays free of I/O.
 */

/** Bits of an IPv6 address that name one host or site for the per-address limits. */
export const IPV6_PREFIX_BITS = 64;

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
const MAPPED_IPV4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/** The key per-address limits count under: the IPv4 address, or the IPv6 /64 prefix as `xxxx:xxxx:xxxx:xxxx::/64`. */
export function addressKey(remoteAddress: string): string {
  const mapped = MAPPED_IPV4.exec(remoteAddress);
  if (mapped !== null) return mapped[1] as string;
  if (IPV4.test(remoteAddress)) return remoteAddress;
  const groups = ipv6Groups(remoteAddress);
  // Not an address we can parse (a test's label, a unix socket): itself, so it still has a key.
  if (groups === null) return remoteAddress;
  return `${groups.slice(0, IPV6_PREFIX_BITS / 16).join(':')}::/${IPV6_PREFIX_BITS}`;
}

/** The address a peer can be reached at: an IPv4-mapped IPv6 address as its IPv4 address, others as they are. */
export function addressKeyHost(remoteAddress: string): string {
  return MAPPED_IPV4.exec(remoteAddress)?.[1] ?? remoteAddress;
}

/** The eight 16-bit groups of an IPv6 address, as lower-case hex without leading zeros; null if it is not one. */
function ipv6Groups(address: string): string[] | null {
  // A zone (fe80::1%eth0) does not change which host it is.
  const text = address.split('%')[0] ?? '';
  if (!text.includes(':')) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (part: string): string[] | null => {
    if (part === '') return [];
    const groups = part.split(':');
    for (const group of groups) if (!/^[0-9a-f]{1,4}$/i.test(group)) return null;
    return groups.map((group) => Number.parseInt(group, 16).toString(16));
  };
  const head = parse(halves[0] ?? '');
  const tail = halves.length === 2 ? parse(halves[1] ?? '') : [];
  if (head === null || tail === null) return null;
  if (halves.length === 1) return head.length === 8 ? head : null;
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return null;
  return [...head, ...Array.from({ length: missing }, () => '0'), ...tail];
}
