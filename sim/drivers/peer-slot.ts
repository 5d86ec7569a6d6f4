/** One simulated user: who it is, how it connects, and the driver that acts for it. */
import type { PeerDriver } from './peer-driver.ts';
import type { Prng } from '../world/prng.ts';
import type { NodeClockRate } from '../world/sim-clock.ts';

export interface PeerSlot {
  readonly index: number;
  readonly username: string;
  readonly password: string;
  readonly address: string;
  readonly population: string;
  readonly behaviour: string;
  readonly driver: PeerDriver;
  readonly prng: Prng;
  /** The peer process's own clock (fault kind `clock`; the peer-machine driver reads it). */
  readonly clockRate: NodeClockRate;
  /** Indices of this peer's friends in the scenario's graph. */
  readonly graphFriends: readonly number[];
  startAtMs: number;
}
