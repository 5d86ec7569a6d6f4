/**
 * How many of something each address key (core/net-address.ts) holds on a listener, each key
 * bounded: the admin HTTP server's connections, a TLS server's handshakes under way. One host
 * must not take all of a listener's places from everyone else.
 */
import { addressKey } from '../../core/net-address.ts';
import { type WaitingStream, streamToEvict } from '../../core/peer/accept-fairness.ts';

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

/**
 * Places on a listener bounded per address key (AddressCounts) and in all, the total shared
 * fairly: with every place taken, a newcomer takes the place of the oldest holder of the address
 * key holding the most, if that key would still hold at least as many as the newcomer's, or is
 * refused (core/peer/accept-fairness.ts, the rule of the P2P port's unauthenticated streams). So
 * a per-address bound below the total is not the only guard: two or three addresses at their
 * bound can no more fill a listener than one could, and only many addresses holding one or two
 * each can. Used by the TLS listeners' handshakes and the admin HTTP port's connections.
 */
export class FairPlaces {
  private readonly perAddress: AddressCounts;
  /** Places held, oldest first (a Map keeps insertion order); `end` closes the holder. */
  private readonly held = new Map<string, WaitingStream & { readonly end: () => void }>();
  private nextId = 0;

  /** `perAddressMax`, `totalMax`: 0 for no bound. */
  constructor(
    perAddressMax: number,
    private readonly totalMax: number,
  ) {
    this.perAddress = new AddressCounts(perAddressMax > 0 ? perAddressMax : Number.POSITIVE_INFINITY);
  }

  /**
   * A place for a holder from `remoteAddress`, which `close` ends (should it be pushed out); null
   * when refused (the caller closes it). The answer frees the place (once; later calls do nothing).
   */
  take(remoteAddress: string | undefined, close: () => void): (() => void) | null {
    const key = this.perAddress.take(remoteAddress);
    if (key === null) return null;
    if (this.totalMax > 0 && this.held.size >= this.totalMax) {
      const evicted = streamToEvict(this.held.values(), key);
      if (evicted === null) {
        this.perAddress.release(key);
        return null;
      }
      this.held.get(evicted)?.end();
    }
    const streamId = String(this.nextId++);
    let holding = true;
    const release = (): void => {
      if (!holding) return;
      holding = false;
      this.perAddress.release(key);
      this.held.delete(streamId);
    };
    // Its place is free at once: a socket's close event comes a turn later.
    const end = (): void => {
      release();
      close();
    };
    this.held.set(streamId, { streamId, addressKey: key, end });
    return release;
  }
}
