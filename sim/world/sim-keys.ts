/**
 * Identity keys and link handshakes in the simulated world, as data.
 *
 * Every simulated user has identity keys (sim-sealer.ts: stand-ins with the shape of real ones,
 * derived from the username and the seed); the world registers them with seeded accounts and the
 * peer machine offers them at sign-up and login, as the real client does. No cryptography runs:
 * what the simulator checks is that the keys cross into core/ where the real ones would, and that
 * core's P2P key check (core/peer/peer-key.ts) refuses a link that proves another key.
 *
 * Handshakes are latency and data (LinkHandshakes in network.ts): a link's TLS 1.3 handshake
 * costs `roundTrips` round trips on the link as it is then (a `degrade` fault slows it too) plus
 * `cpuMs` of signing and key exchange, before either side sees the link; then each side learns
 * the key the other proved, what node:tls reports in cli/: on a P2P link the Ed25519 key of the
 * user at the other address. A P2P link reopened from the ticket of an earlier one to the same
 * friend (sim/drivers/peer-tickets.ts, the shipped client's cache) resumes when the listener that
 * issued the ticket still listens and nobody sits in the link: the same round trips, a share of the
 * CPU (TLS_RESUMED_HANDSHAKE_CPU_SHARE). The server link proves no identity key (the client pins the
 * server's certificate in cli/; the simulator does not model that pin).
 *
 * The `mitm` fault (faults.ts) puts an attacker in front of some users: every P2P link to or from
 * them that opens meanwhile ends at the attacker, who proves its own key (or none: TLS stripped)
 * to both sides and relays what crosses. The peer-key-refused checker (sim/checkers/
 * peer-key-checker.ts) hears of each such link and judges what crossed it.
 */
import type { LinkHandshakes } from './network.ts';
import type { Prng } from './prng.ts';
import type { Sampler } from './distributions.ts';
import { type SimIdentity, simIdentityOf, simSignKeyOf } from './sim-sealer.ts';

/** TLS 1.3 completes in one round trip beyond TCP's (RFC 8446, section 2): the client's Finished rides with its first data. */
export const TLS_HANDSHAKE_ROUND_TRIPS = 1;
/**
 * CPU time of one handshake, both sides together: an Ed25519 signature and its check, an X25519
 * exchange and a certificate check each cost tens of microseconds on a laptop core; a
 * millisecond covers them with room for a loaded machine.
 */
export const TLS_HANDSHAKE_CPU_MS = 1;
/**
 * The share of a full handshake's CPU a resumed one costs (a P2P link reopened from a TLS ticket,
 * cli/net/peer-sessions.ts): no certificate and no Ed25519 signature, still an X25519 exchange and
 * the ticket's decryption. Measured by helper-91 (notes/helper-91.md) over node:tls on loopback, CPU
 * per link beyond plain TCP's: 0.75 raw, 0.64 over the shipped transport with a chat frame each way.
 * Its round trips are a full one's: a TLS 1.3 resumption (psk_dhe_ke, no early data) takes one too.
 */
export const TLS_RESUMED_HANDSHAKE_CPU_SHARE = 0.7;
/** More round trips than any TLS handshake takes (1.2's full one takes 2, with a HelloRetryRequest 3). */
export const HANDSHAKE_ROUND_TRIPS_MAX = 4;

/** What an attacker in the middle proves to both sides: a key of its own, or none (TLS stripped). */
export const MITM_PRESENTS = ['attacker-key', 'no-key'] as const;
export type MitmPresents = (typeof MITM_PRESENTS)[number];

export interface HandshakeModel {
  readonly roundTrips: number;
  readonly cpuMs: Sampler;
  /** A resumed handshake's CPU as a share of the full one's drawn from cpuMs. */
  readonly resumedCpuShare: number;
  /** Whether the server link shakes hands too (TLS to the server), or only P2P links. */
  readonly serverLink: boolean;
}

/** Who hears of links the attacker sits in (the peer-key-refused checker). */
export interface InterceptionObserver {
  onIntercepted(connId: number, caller: string, callee: string, presents: MitmPresents): void;
}

export interface SimKeysOptions {
  readonly seed: number;
  readonly handshake: HandshakeModel;
  /** Where the server listens: the one server's address, or every node's in a cluster. */
  readonly serverAddresses: readonly string[];
  /** The username of the simulated user at an address (null: none, e.g. the server). */
  usernameAt(address: string): string | null;
  /** One-way latency of a link as it is now (the network's current profile). */
  oneWayMs(prng: Prng): number;
  /** The stream handshake times are drawn from. */
  readonly prng: Prng;
  /**
   * TEST-ONLY (planted bug `skip-peer-key-check`): the links report the friend's own key even
   * when the attacker's was presented, as a client that never looked would behave.
   */
  skipsPeerKeyCheck(): boolean;
  readonly observer: InterceptionObserver;
}

interface Attack {
  readonly targets: ReadonlySet<string>;
  readonly presents: MitmPresents;
}

export class SimKeys implements LinkHandshakes {
  private readonly attacks = new Set<Attack>();
  private readonly attackerKey: string;
  private readonly servers: ReadonlySet<string>;

  constructor(private readonly options: SimKeysOptions) {
    this.attackerKey = simSignKeyOf(`mitm:${options.seed}`);
    this.servers = new Set(options.serverAddresses);
  }

  /** The identity keys of a simulated user in this run. */
  identityOf(username: string): SimIdentity {
    return simIdentityOf(username, this.options.seed);
  }

  /** From now on every P2P link to or from one of `targets` ends at the attacker; returns what ends that. */
  intercept(targets: readonly string[], presents: MitmPresents): () => void {
    const attack: Attack = { targets: new Set(targets), presents };
    this.attacks.add(attack);
    return () => this.attacks.delete(attack);
  }

  delayMs(_clientAddress: string, serverAddress: string, _serverPort: number, resumed: boolean): number {
    const { handshake, prng } = this.options;
    if (this.servers.has(serverAddress) && !handshake.serverLink) return 0;
    // The same draws either way: a resumption changes this link's time, not the run's other draws.
    let delayMs = Math.max(0, handshake.cpuMs(prng)) * (resumed ? handshake.resumedCpuShare : 1);
    for (let i = 0; i < handshake.roundTrips; i++) delayMs += this.options.oneWayMs(prng) + this.options.oneWayMs(prng);
    return delayMs;
  }

  reachesListener(clientAddress: string, serverAddress: string): boolean {
    return this.attackOn(this.options.usernameAt(clientAddress), this.options.usernameAt(serverAddress)) === null;
  }

  keys(connId: number, clientAddress: string, serverAddress: string): { readonly client: string | null; readonly server: string | null } {
    // The attacker sits in P2P links only: a server link proves no identity key (module comment).
    if (this.servers.has(serverAddress)) return NO_KEYS;
    const caller = this.options.usernameAt(clientAddress);
    const callee = this.options.usernameAt(serverAddress);
    const own = { client: this.signKeyOf(caller), server: this.signKeyOf(callee) };
    const attack = this.attackOn(caller, callee);
    if (attack === null) return own;
    this.options.observer.onIntercepted(connId, caller ?? clientAddress, callee ?? serverAddress, attack.presents);
    if (this.options.skipsPeerKeyCheck()) return own;
    const key = attack.presents === 'no-key' ? null : this.attackerKey;
    return { client: key, server: key };
  }

  private signKeyOf(username: string | null): string | null {
    return username === null ? null : this.identityOf(username).signKey;
  }

  private attackOn(caller: string | null, callee: string | null): Attack | null {
    for (const attack of this.attacks) {
      if ((caller !== null && attack.targets.has(caller)) || (callee !== null && attack.targets.has(callee))) return attack;
    }
    return null;
  }
}

const NO_KEYS = { client: null, server: null } as const;
