/**
 * Known protocol bugs the simulator can plant in the server, from outside core/: the simulator's
 * checkers and swarm, and the server's model-based test, prove they catch each one. The shipped
 * ServerMachine knows nothing of them; a planted bug is a subclass here that changes what comes
 * out of the real machine.
 *
 * - 'skip-offline-presence': a TTL expiry does not tell the user's friends that the user went
 *   offline. Built by dropping the offline `presence` frames the machine emits while it handles a
 *   timeout: the only timer that makes a user go offline is the TTL (idle timers close guests,
 *   session-request timers end requests), so exactly those frames go.
 */
import type { StoreSnapshot } from '../../core/store.ts';
import { type ServerConfig, type ServerEffect, ServerMachine } from '../../core/server/machine.ts';

export const PLANTED_BUGS = ['skip-offline-presence'] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

type MachineConfig = Partial<ServerConfig> & Pick<ServerConfig, 'newToken'>;

/** The real server machine, or with a planted bug when one is named. */
export function newServerMachine(snapshot: StoreSnapshot, config: MachineConfig, plantedBug?: PlantedBug): ServerMachine {
  if (plantedBug === undefined) return new ServerMachine(snapshot, config);
  return new SkipOfflinePresenceMachine(snapshot, config);
}

function isOfflinePresence(effect: ServerEffect): boolean {
  return effect.type === 'send' && effect.frame.type === 'presence' && effect.frame.status === 'offline';
}

class SkipOfflinePresenceMachine extends ServerMachine {
  /** Effects taken from the real machine around a timeout, in order, until the host takes them. */
  private held: ServerEffect[] = [];

  override handleTimeout(nowMs: number): void {
    for (const effect of super.takeEffects()) this.held.push(effect);
    super.handleTimeout(nowMs);
    for (const effect of super.takeEffects()) if (!isOfflinePresence(effect)) this.held.push(effect);
  }

  override takeEffects(): ServerEffect[] {
    if (this.held.length === 0) return super.takeEffects();
    const effects = this.held;
    this.held = [];
    for (const effect of super.takeEffects()) effects.push(effect);
    return effects;
  }
}

/**
 * TEST-ONLY, the simulator's planted bug `guesses-never-slowed` (fault kind `plant`): while
 * `planted()` says so, the machine's password-guess slow-down answers "no wait" for every
 * (username, address), so every guess past the free ones goes to the password check at once. It
 * reaches the machine's private `loginGuesses` by name (a planted bug may; the shipped machine
 * knows nothing of it) and throws if that is gone, so a rename cannot make the test pass quietly.
 */
export function plantGuessSlowDownBug(machine: ServerMachine, planted: () => boolean): void {
  const guesses = (machine as unknown as { loginGuesses?: { waitMs(key: string, nowMs: number): number } }).loginGuesses;
  if (guesses === undefined) throw new Error('guesses-never-slowed: the server machine has no loginGuesses to plant the bug in');
  const waitMs = guesses.waitMs.bind(guesses);
  guesses.waitMs = (key, nowMs) => (planted() ? 0 : waitMs(key, nowMs));
}

/** What the machine's password-check wait line offers (core/rate-limit.ts FairQueue). */
interface CheckLine {
  push(key: string, item: number): number | null;
  shift(): number | null;
  remove(key: string, match: (item: number) => boolean): boolean;
}

/**
 * TEST-ONLY, the simulator's planted bug `password-checks-first-come`: while `planted()` says so,
 * the machine's password-check wait line serves the oldest wait of all, whoever holds it (first
 * come, first served), instead of the address served longest ago: a flood from one address keeps
 * everyone else waiting behind it. It reaches the machine's private `passwordChecksWaiting` by name
 * (and throws if that is gone), keeping the order of every wait so it can take the oldest out.
 */
export function plantFirstComeLine(machine: ServerMachine, planted: () => boolean): void {
  const line = (machine as unknown as { passwordChecksWaiting?: CheckLine }).passwordChecksWaiting;
  if (line === undefined) throw new Error('password-checks-first-come: the server machine has no passwordChecksWaiting to plant the bug in');
  /** Every wait in the order it came: [key, job id]. */
  const order: Array<[string, number]> = [];
  const forget = (item: number | null): void => {
    const index = order.findIndex(([, id]) => id === item);
    if (index >= 0) order.splice(index, 1);
  };
  const push = line.push.bind(line);
  const shift = line.shift.bind(line);
  const remove = line.remove.bind(line);
  line.push = (key, item) => {
    const out = push(key, item);
    if (out !== item) order.push([key, item]);
    forget(out);
    return out;
  };
  line.remove = (key, match) => {
    const index = order.findIndex(([k, id]) => k === key && match(id));
    if (index >= 0) order.splice(index, 1);
    return remove(key, match);
  };
  line.shift = () => {
    const oldest = order[0];
    if (!planted() || oldest === undefined) {
      const item = shift();
      forget(item);
      return item;
    }
    order.shift();
    remove(oldest[0], (id) => id === oldest[1]);
    return oldest[1];
  };
}
