/**
 * How many of something each address key (core/net-address.ts) holds on a listener, each key
 * bounded: the admin HTTP server's connections, a TLS server's handshakes under way. One host
 * must not take all of a listener's places from everyone else.
 */
import { addressKey } from '../../core/net-address.ts';

export class AddressCounts {
  private readonly held = new Map<string, number>();

  constructor(private readonly perAddressMax: number) {}

  /** The address key of `remoteAddress` takes one more place; null when it holds its most already. */
  take(remoteAddress: string | undefined): string | null {
    const key = addressKey(remoteAddress ?? '');
    const count = this.held.get(key) ?? 0;
    if (count >= this.perAddressMax) return null;
    this.held.set(key, count + 1);
    return key;
  }

  /** A place `take` gave `key` is free again. */
  release(key: string): void {
    const left = (this.held.get(key) ?? 1) - 1;
    if (left === 0) this.held.delete(key);
    else this.held.set(key, left);
  }
}
