/**
 * The world's side of the adversarial steps (sim/drivers/hostile.ts does the wire work):
 *
 * - token replay and guessing: a raw `hello` to a user's P2P port, with a token the attacker was
 *   given for an earlier session (seen on its server link by the frame tap) or a guessed one;
 *   anything but a refusal breaks `hostile-refused`;
 * - connection hoarding: raw connections to the server from the attacker's address, renewed
 *   until the workload phase ends;
 * - malformed input: raw connections to the server that send bytes no client would
 *   (sim/drivers/malformed-input.ts); an answer other than the one PROTOCOL.md gives breaks
 *   `bad-input-answered`, judged away from faults as below;
 * - served-within-bound: a legitimate user's step with `withinMs` must end as expected that soon
 *   while the attackers run. It is judged only when no fault began, ended or was in progress during
 *   the step or the settling time before it: a partition may delay anyone, an attacker must not.
 */
import type { PeerSlot } from '../drivers/peer-slot.ts';
import { ConnectionHoard, isHostileSend, probeP2pHello } from '../drivers/hostile.ts';
import { NOT_RUN_OUTCOMES } from '../drivers/behaviour-runner.ts';
import { MALFORMED_PROBE_KINDS, type MalformedProbe, malformedProbe, runMalformedProbe } from '../drivers/malformed-input.ts';
import { P2P_PORT } from '../drivers/peer-machine-driver.ts';
import type { Step } from '../scenarios/scenario-schema.ts';
import type { WireMessage } from './frame-tap.ts';
import { SERVER_ADDRESS, SERVER_PORT } from './server-node.ts';
import type { World } from './world.ts';

/** Characters and length of a guessed token: as the server's own (letters and digits), long enough to look real. */
const GUESS_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const GUESS_LENGTH = 32;

/** True when any step (nested in repeat or choose) satisfies `match`. */
export function anyStep(steps: readonly Step[], match: (step: Step) => boolean): boolean {
  return steps.some((step) => {
    if (match(step)) return true;
    if (typeof step !== 'object') return false;
    if ('repeat' in step) return anyStep(step.repeat.steps, match);
    if ('choose' in step) return step.choose.some((branch) => anyStep(branch.steps, match));
    return false;
  });
}

/** A sendFile step that lies (name, declared size, digest, stall): the sender runs a modified client. */
export function isHostileSendFile(step: Step): boolean {
  return typeof step === 'object' && 'sendFile' in step && isHostileSend(step.sendFile);
}


/** Step outcomes served-within-bound leaves to the script (see onTimedStep). */
const SCRIPT_OUTCOMES: ReadonlySet<string> = new Set(['NOT_LOGGED_IN', 'not-friends', 'NOT_FRIENDS', 'USER_NOT_FOUND']);

export class HostileActions {
  /** The server-frame types noteServerFrames reads (the frame tap parses only the types someone reads). */
  static readonly SERVER_FRAME_TYPES: readonly string[] = ['session.established'];
  /** Tokens each attacker was given as caller (slot index → the latest per callee), kept only when a step replays them. */
  private readonly tokens: Map<number, Map<string, string>> | null;
  private readonly hoards: ConnectionHoard[] = [];

  constructor(
    private readonly world: World,
    keepTokens: boolean,
  ) {
    this.tokens = keepTokens ? new Map() : null;
  }

  /** From the frame tap: server frames reaching `slot` (session.established carries the caller's token). */
  noteServerFrames(slot: PeerSlot, messages: readonly WireMessage[]): void {
    const tokens = this.tokens;
    if (tokens === null) return;
    for (const message of messages) {
      if (message.type !== 'session.established' || message.role !== 'caller' || typeof message.token !== 'string' || typeof message.username !== 'string') continue;
      let mine = tokens.get(slot.index);
      if (mine === undefined) tokens.set(slot.index, (mine = new Map()));
      mine.set(message.username, message.token);
    }
  }

  p2pHello(slot: PeerSlot, to: string, token: 'guess' | 'replay', as: string | undefined, done: (outcome: string) => void): void {
    const world = this.world;
    const victim = world.ownerOf(to);
    if (victim === undefined) return done('USER_NOT_FOUND');
    let presented: string;
    if (token === 'replay') {
      const given = this.tokens?.get(slot.index)?.get(to);
      // Nothing to replay: the earlier session never got as far as a token.
      if (given === undefined) return done('NO_TOKEN');
      presented = given;
    } else {
      presented = '';
      for (let i = 0; i < GUESS_LENGTH; i++) presented += GUESS_CHARS[slot.prng.int(GUESS_CHARS.length)];
    }
    const claimed = as ?? slot.username;
    world.checkers.count('hostile_hellos');
    probeP2pHello(world.network.transport(slot.address), world.clock, victim.address, P2P_PORT, { username: claimed, token: presented }, (outcome) => {
      if (outcome === 'accepted') {
        world.checkers.violate('hostile-refused', `${slot.username}'s hello to ${to} as ${claimed} with a ${token === 'guess' ? 'guessed' : 'replayed'} token was accepted`);
      }
      done(outcome);
    });
  }

  hoardConnections(slot: PeerSlot, count: number, renew: boolean, done: (outcome: string) => void): void {
    const world = this.world;
    const hoard = new ConnectionHoard(world.network.transport(slot.address), world.clock, SERVER_ADDRESS, SERVER_PORT, renew, () => world.acceptingSteps && slot.driver.alive);
    this.hoards.push(hoard);
    hoard.start(count, () => done('ok'));
  }

  /**
   * `rounds` rounds of every kind of malformed probe, one raw connection at a time, in a random
   * order per round; ends `ok` when all ran (or the workload phase ended). A probe answered wrong
   * is a violation of `bad-input-answered` unless a fault could explain it: one began or ended
   * while the probe ran, or links are impaired (a crashed or partitioned server answers nothing).
   */
  malformedFrames(slot: PeerSlot, rounds: number, done: (outcome: string) => void): void {
    const world = this.world;
    const probes: MalformedProbe[] = [];
    for (let round = 0; round < rounds; round++) {
      const kinds = [...MALFORMED_PROBE_KINDS];
      // Fisher-Yates with the slot's own stream: a round's order is the seed's.
      for (let i = kinds.length - 1; i > 0; i--) {
        const j = slot.prng.int(i + 1);
        [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
      }
      for (const kind of kinds) probes.push(malformedProbe(kind, slot.prng));
    }
    const transport = world.network.transport(slot.address);
    const next = (index: number): void => {
      const probe = probes[index];
      if (probe === undefined || !world.acceptingSteps || !slot.driver.alive) return done('ok');
      const sinceMs = world.clock.nowMs();
      world.checkers.count('malformed_probes');
      runMalformedProbe(transport, world.clock, SERVER_ADDRESS, SERVER_PORT, probe, slot.prng, (differed) => {
        if (differed !== null) {
          const faulted = world.lastFaultBeganMs >= sinceMs || world.lastFaultEndMs >= sinceMs || !world.linksHealthy();
          if (faulted) world.checkers.count('malformed_probes_excused');
          else world.checkers.violate('bad-input-answered', `${slot.username}'s ${differed}`);
        }
        next(index + 1);
      });
    };
    next(0);
  }

  /** What the hoarders achieved, for the metrics. */
  hoardMetrics(): Record<string, number> {
    let opened = 0;
    let closed = 0;
    for (const hoard of this.hoards) {
      opened += hoard.opened;
      closed += hoard.closed;
    }
    return { hoarded_connections_opened: opened, hoarded_connections_closed: closed };
  }

  onTimedStep(slot: PeerSlot, step: string, expected: string, outcome: string, sinceMs: number, withinMs: number): void {
    const world = this.world;
    const tookMs = world.clock.nowMs() - sinceMs;
    world.checkers.count('timed_steps');
    // A fault near the step excuses it (the swarm adds faults): one that began during it or in the
    // settling time before it (a TTL and the presence bound: a crashed friend is still being
    // logged out), or one that impaired links then.
    const settleMs = world.scenario.server.ttlMs + world.scenario.checks.presenceBoundMs;
    if (world.lastFaultBeganMs >= sinceMs - settleMs || !world.linksHealthy() || (world.lastFaultEndMs > 0 && world.lastFaultEndMs >= sinceMs - settleMs)) return;
    // Outcomes the scenario's own state decides (its peer is not logged in, the other user is no
    // friend or does not exist), not how it was served: a shrink that deletes a login or a
    // friendship makes them, and they are not what an attacker can cause.
    if (SCRIPT_OUTCOMES.has(outcome)) return;
    // A step the driver could not run (a sendFile on the light client, which has no P2P channel)
    // was not served late or wrong: it was not asked for. The run reports it (p2p_steps_not_run,
    // and the step's own expect), which is where it belongs; as a breach of this invariant it read
    // as a bug the attackers caused (hostile-files.yaml on the light client, 2026-12-08).
    if (NOT_RUN_OUTCOMES.has(outcome)) return;
    if (outcome !== expected) {
      world.checkers.violate('served-within-bound', `${slot.username}'s ${step} step ended ${outcome} (expected ${expected}) after ${Math.round(tookMs)} ms`);
    } else if (tookMs > withinMs) {
      world.checkers.violate('served-within-bound', `${slot.username}'s ${step} step took ${Math.round(tookMs)} ms (bound ${withinMs} ms)`);
    }
  }
}
