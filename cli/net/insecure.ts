/**
 * Plain TCP is for loopback labs and raw-frame tools only (`--tls off`): these say whether an
 * address stays on this machine, and refuse one that does not unless --allow-insecure was given.
 */
import net from 'node:net';

/** 127.0.0.0/8, ::1 (also IPv4-mapped) and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost') return true;
  if (net.isIPv4(bare)) return bare.startsWith('127.');
  if (net.isIPv6(bare)) return bare === '::1' || /^::ffff:127\./.test(bare) || /^(0{1,4}:){7}0{0,3}1$/.test(bare);
  return false;
}

export class InsecureAddressError extends Error {
  readonly code = 'INSECURE_ADDRESS';
}

/**
 * Throws InsecureAddressError when plain TCP would be used with a non-loopback address and the
 * user did not ask for it on purpose. `what` says which address ("listen on", "connect to").
 */
export function checkPlainTcpAllowed(what: string, host: string, allowInsecure: boolean): void {
  if (allowInsecure || isLoopbackHost(host)) return;
  throw new InsecureAddressError(
    `--tls off would ${what} ${host} in clear (passwords and tokens readable on the network); ` +
      'use a loopback address, turn TLS on, or add --allow-insecure to do it anyway',
  );
}
