/**
 * Checkers: they sit outside the machines, watch what peers see and what the server holds, and
 * record invariant breaches as violations {checker, atMs, detail}.
 *
 * - presence-matches-truth: what each online peer shows for a friend equals the truth (is that
 *   friend's user online: alive, logged in, speaking) within the TTL plus a bound, judged only
 *   while links are healthy (no partition, clog, degradation or server outage in progress) and
 *   counted from when they became healthy.
 * - session-needs-yes: no peer learns of an established session unless the callee said yes.
 * - session-ends-by-timeout: a caller told a request is pending hears how it ended by its timeout
 *   (plus the bound), unless its link dropped or its process crashed meanwhile (World.crashPeer
 *   reports a crash as a lost link), it logged out (the server ends the requests and tells only
 *   the callees), or faults made the wait unjudgeable.
 * - liveness: after the healed final phase, everything agrees and nothing is left pending, and
 *   no user is logged in on two programs at once (a second login displaces the first).
 * - no-exception: nothing in the simulated world (server host, machine, codec) threw; the run
 *   stops at the first exception and reports it.
 * - size-as-offered (driver peer-machine): a received file holds exactly the bytes its offer
 *   declared on the wire, and is reported at that size, whatever its sender then sent.
 * - logout-answered: a logout sent while no fault had yet touched the run, and none began within
 *   LOGOUT_ANSWER_WAIT_MS after it, is answered by the server. A client ends a logout itself only when its
 *   server link dropped before the answer (docs/PROTOCOL.md); with no fault around, the server's
 *   logout.ok comes within a round trip, so a logout ended here means the server lost or never
 *   sent it. A fault before or right after the logout makes the drop expected and nothing is
 *   judged (`logouts_ended_here` still counts every one).
 * - password-truth (driver peer-machine): password-truth-checker.ts, fed by the driver: a password
 *   change's answer matches the store, and the client's own relogins and resumes use the password
 *   and token it was last told; breaches come through `violate`.
 * - chat-failed-cause (driver peer-machine): session-cause-checker.ts, fed by the driver; its
 *   breaches come through `violate`. So do reconnect-backoff's (reconnect-backoff-checker.ts) and
 *   outage-reported's (outage-checker.ts: `disconnected` and `reconnected` once per outage); the
 *   light client feeds both too, from the same server link's actions.
 * - asked-once (driver peer-machine): session-cause-checker.ts too: a user is asked (chat.request)
 *   once per request the server made, not again when the server asks its resumed client again.
 * - ends-by-deadline (driver peer-machine): session-cause-checker.ts too: a request acknowledged or
 *   asked about ends for the user by the latest deadline the client can hold for it.
 * - no-stray-error (driver peer-machine): no error event reaches a user unexplained: the server's
 *   error answering a session frame is the session broker's (judged in the driver), and an error
 *   that answers nothing the user asked is explained only by a fault (onUnattributedOutcome).
 */
import type { PresenceStatus } from '../../core/frames.ts';
import { Histogram } from './latency-histogram.ts';
import type { CounterName } from './counter-names.ts';
import { MailChecker } from './mail-checker.ts';
import { PeerKeyChecker } from './peer-key-checker.ts';
import type { InterceptionObserver, MitmPresents } from '../world/sim-keys.ts';
import type { PeerDriver, PeerObserver } from '../drivers/peer-driver.ts';
import type { P2pObserver } from '../drivers/peer-machine-driver.ts';
import type { PeerSlot } from '../drivers/peer-slot.ts';
import type { CheckerName } from '../scenarios/scenario-schema.ts';
import type { ServerNode } from '../world/server-node.ts';
import type { WireMessage } from '../world/frame-tap.ts';
import type { SimClock } from '../world/sim-clock.ts';
import { FILE_NAME_CHARS_MAX } from '../../core/limits.ts';
import { SizeLies, unsafeFileNameReason } from '../drivers/hostile.ts';

export const VIOLATIONS_MAX = 1_000;

/**
 * The server-frame types onServerFrames reads: the frame tap parses only these for it (a storm's
 * peers mostly hear heartbeat acks, welcomes and login.ok lists, which no checker reads).
 * test/sim/world/frame-tap.test.ts holds this list to onServerFrames's cases.
 */
export const CHECKED_SERVER_FRAME_TYPES: readonly string[] = [
  'presence',
  'signup.ok',
  'friend.added',
  'friend.removed',
  'session.established',
  'session.failed',
  'session.withdrawn',
  'session.incoming',
  'session.answered',
];
/**
 * logout-answered: how long after a logout a first fault may begin and still leave the logout
 * judged. The server answers a logout in one round trip (tens of ms on the corpus's links); a fault
 * that begins later than this cannot be why its answer never came.
 */
export const LOGOUT_ANSWER_WAIT_MS = 2_000;
/**
 * no-stray-error: errors a client tells with no request of its user's behind them that a fault
 * explains, by code: the fault kind that causes them.
 */
const FAULT_EXPLAINED_ERRORS: Readonly<Record<string, string>> = {
  /** The client refused a P2P link whose far end proved another key than the friend's. */
  PEER_KEY_MISMATCH: 'mitm',
};
/** Details listed per liveness check before the rest is only counted. */
const LIVENESS_DETAILS_MAX = 20;

export interface Violation {
  readonly checker: CheckerName;
  readonly atMs: number;
  readonly detail: string;
}

export interface CheckedWorld {
  readonly clock: SimClock;
  readonly server: ServerNode;
  readonly slots: readonly PeerSlot[];
  ownerOf(username: string): PeerSlot | undefined;
  /** The slots after the owner that play the same username (a user's second program), usually none. */
  otherSlotsOf(username: string): readonly PeerSlot[];
  /** No fault that impairs links is in progress. */
  linksHealthy(): boolean;
  /** When the last such fault ended (0 if none ever). */
  readonly lastFaultEndMs: number;
  /** When the first fault of any kind but a planted bug began; Infinity before any. */
  readonly firstFaultBeganMs: number;
  /** The kinds of fault that have begun so far; absent: none. */
  readonly faultKindsBegun?: ReadonlySet<string>;
  /** Every server process (the nodes of a cluster); absent: just `server`. */
  readonly servers?: readonly ServerNode[];
  /** The server process at an address (which node sent a frame); absent: `server`. */
  serverAt?(address: string): ServerNode | undefined;
  /** The incarnation that numbered a session request id (a cluster's ids name their node); absent: the server's. */
  requestIncarnation?(requestId: string): number;
}

interface PendingSession {
  readonly caller: PeerDriver;
  readonly callee: string;
  readonly startMs: number;
  readonly deadlineMs: number;
}

export class Checkers implements PeerObserver, P2pObserver, InterceptionObserver {
  readonly violations: Violation[] = [];
  readonly violationCounts = new Map<CheckerName, number>();
  readonly presenceDelay = new Histogram();
  readonly counters = new Map<CounterName, number>();
  /** The ends (peer processes) that have the chat of a pair of users open now (onChatOpenChanged). */
  private readonly chatEnds = new Map<string, Set<PeerDriver>>();
  /** What the presence checks know of each username (see UserRecord). */
  private readonly users = new Map<string, UserRecord>();
  /** First sweep that saw each (peer, friend) disagreement: "peer\0friend" → ms. */
  private mismatchSinceMs = new Map<string, number>();
  private readonly reportedMismatches = new Set<string>();
  private readonly answeredYes = new Set<string>();
  /** "a\0b" (sorted) for every pair where one said yes to the other (peer-machine driver). */
  private readonly pairsWithYes = new Set<string>();
  private readonly pendingSessions = new Map<string, PendingSession>();
  /** "sender\0transferId" → the SHA-256 of the file and the size its machine offered. */
  private readonly filesOffered = new Map<string, { readonly sha256: string; readonly size: number }>();
  private readonly chatInFlight = new Map<string, string[]>();
  /** Final session frames each server connection carried: connId → "role\0requestId" → what. */
  private readonly finalsByConn = new Map<number, Map<string, string>>();
  /** "receiver\0friend" → when the receiver was told the friendship ended. */
  private readonly removedAtMs = new Map<string, number>();
  /**
   * requests-end-with-caller: the requests each callee was asked about (session.incoming) and has
   * heard no end of (session.answered, .withdrawn, .established): callee → requestId → the caller
   * and the server connection it was last asked on (a resume asks again on the new one; a request
   * not asked again there is one a restarted server forgot).
   */
  private readonly askedOf = new Map<string, Map<string, { readonly caller: string; readonly connId: number }>>();
  /** Callees told their caller went offline while a request of hers still asked them: judged a bound later. */
  private readonly callerLeft: Array<{ readonly callee: string; readonly requestId: string; readonly caller: string; readonly atMs: number }> = [];
  /**
   * presence-only-to-friends: presences a client heard about someone the server no longer counts
   * as its friend, with no friend.removed heard yet (receiver, about → when). The server may have
   * sent it just before it handled an unfriend, and the friend.removed comes behind it on the same
   * link, a separate frame in the same instant or later (a swarm of unfriend-mid-session.yaml, root
   * seed 3407): judged a violation only if none comes within the presence bound.
   */
  private readonly presenceBeforeRemoval = new Map<string, number>();
  /** "receiver\0transferId" → where the files port wrote the download (until the machine reports it). */
  private readonly committedPaths = new Map<string, string>();
  /** username → when its latest logout was sent, kept only for logouts sent before any fault (logout-answered). */
  private readonly logoutSentAtMs = new Map<string, number>();
  private world: CheckedWorld | null = null;
  /** Each slot's truthOnline during a sweep (1 online), reused from sweep to sweep. */
  private sweepTruth = new Uint8Array(0);
  /** Offline messages: held once, shown once, in order (mail-checker.ts). */
  readonly mail = new MailChecker((detail) => this.violate('mail-exactly-once', detail));
  /** P2P links a man in the middle sat in carry nothing but a refusal (peer-key-checker.ts). */
  readonly peerKeys = new PeerKeyChecker((detail) => this.violate('peer-key-refused', detail));
  /** Offers hostile wires sent with a size their files do not have (size-as-offered judges by what they declared). */
  readonly sizeLies = new SizeLies();

  constructor(
    private readonly ttlMs: number,
    private readonly boundMs: number,
    private readonly onViolation: (violation: Violation) => void = () => {},
  ) {}

  attach(world: CheckedWorld): void {
    this.world = world;
  }

  private get w(): CheckedWorld {
    if (this.world === null) throw new Error('checkers used before attach()');
    return this.world;
  }

  violate(checker: CheckerName, detail: string): void {
    this.violationCounts.set(checker, (this.violationCounts.get(checker) ?? 0) + 1);
    const violation = { checker, atMs: this.w.clock.nowMs(), detail };
    if (this.violations.length < VIOLATIONS_MAX) this.violations.push(violation);
    this.onViolation(violation);
  }

  count(name: CounterName, by = 1): void {
    this.counters.set(name, (this.counters.get(name) ?? 0) + by);
  }

  // ---- PeerObserver ------------------------------------------------------------------------------

  onTruthChange(peer: PeerDriver): void {
    const username = peer.username;
    const user = this.user(username);
    user.changedAtMs = this.w.clock.nowMs();
    if (!peer.truthOnline) user.admittedAtMs = null;
    const generation = ++user.generation;
    // Friends that already show the new truth (a login.ok that raced ahead) have nothing to learn.
    const status: PresenceStatus = peer.truthOnline ? 'online' : 'offline';
    for (const friend of peer.presenceView.keys()) {
      const other = this.user(friend);
      if (other.driver?.presenceView.get(username) === status) takenBy(other).set(username, generation);
    }
  }

  /** A presence push reached a peer: the first one that tells it a friend's new truth gives a delay sample. */
  onPresenceView(peer: PeerDriver, friend: string, status: PresenceStatus | null): void {
    if (status === null || !peer.truthOnline) return;
    const other = this.user(friend);
    const changedAt = other.changedAtMs;
    if (changedAt === undefined || status !== truthOfUser(other)) return;
    const generation = other.generation;
    const taken = takenBy(this.user(peer.username));
    if (taken.get(friend) === generation) return;
    taken.set(friend, generation);
    this.presenceDelay.record(this.w.clock.nowMs() - changedAt);
  }

  /**
   * A login's friend list is not a presence push: what it shows is counted as already learned.
   * It also says the server let this user's login in (login.ok, or the list after a relogin).
   */
  onViewReset(peer: PeerDriver): void {
    // A new login (or none): the requests of the old one are the server's to forget; a resume asks again.
    this.askedOf.delete(peer.username);
    const user = this.user(peer.username);
    if (user.admittedAtMs === null) user.admittedAtMs = this.w.clock.nowMs();
    if (peer.presenceView.size === 0) return;
    const taken = takenBy(this.user(peer.username));
    peer.presenceView.forEach((status, friend) => {
      const other = this.user(friend);
      if (status === truthOfUser(other)) taken.set(friend, other.generation);
    });
  }

  /** The record of a username, made on first sight. */
  private user(username: string): UserRecord {
    let user = this.users.get(username);
    if (user === undefined) {
      const world = this.w;
      const slot = world.ownerOf(username);
      let slotIndex = -1;
      if (slot !== undefined) slotIndex = world.slots[slot.index] === slot ? slot.index : world.slots.indexOf(slot);
      const others = world.otherSlotsOf(username);
      user = {
        driver: slot?.driver ?? null,
        slotIndex,
        others: others.length === 0 ? null : others.map((s) => ({ driver: s.driver, slotIndex: s.index })),
        changedAtMs: undefined,
        admittedAtMs: null,
        generation: 0,
        taken: null,
      };
      this.users.set(username, user);
    }
    return user;
  }

  onSessionAnswer(callee: PeerDriver, requestId: string, accept: boolean): void {
    // requests-end-with-caller: a request the callee answered asks it no more, whatever comes back
    // (in a cluster the answer goes to the caller's node over the bus and may come back an error
    // that names no request, where a single server sends session.answered).
    const asked = this.askedOf.get(callee.username);
    if (asked !== undefined) {
      const caller = isPairKey(requestId) ? requestId.slice(0, requestId.indexOf('>')) : (asked.get(requestId)?.caller ?? null);
      asked.forEach((request, id) => {
        if (id === requestId || request.caller === caller) asked.delete(id);
      });
    }
    if (!accept) return;
    if (isPairKey(requestId)) this.pairsWithYes.add(unorderedPair(requestId));
    else this.answeredYes.add(this.sessionKey(requestId));
  }

  onSessionPending(caller: PeerDriver, requestId: string, callee: string, timeoutMs: number): void {
    const nowMs = this.w.clock.nowMs();
    this.pendingSessions.set(this.sessionKey(requestId), { caller, callee, startMs: nowMs, deadlineMs: nowMs + timeoutMs });
  }

  onSessionEstablished(peer: PeerDriver, requestId: string, role: 'caller' | 'callee', other: string): void {
    const key = this.sessionKey(requestId);
    if (role === 'caller') this.pendingSessions.delete(key);
    // The peer machine hides server request ids: its driver names a request "caller>callee", and a
    // P2P session between two users (either may have opened it; it outlives server restarts)
    // needs a yes from one of them at some point.
    const saidYes = isPairKey(requestId) ? this.pairsWithYes.has(unorderedPair(requestId)) : this.answeredYes.has(key);
    if (!saidYes) {
      this.violate('session-needs-yes', `${peer.username} (${role}) got session ${requestId} with ${other}, but the callee never said yes`);
    }
  }

  onChatOpenChanged(peer: PeerDriver, friend: string, open: boolean): void {
    const key = peer.username < friend ? `${peer.username}>${friend}` : `${friend}>${peer.username}`;
    let ends = this.chatEnds.get(key);
    if (open) {
      if (ends === undefined) this.chatEnds.set(key, (ends = new Set()));
      if (ends.size === 0) this.count('sessions_established');
      ends.add(peer);
      return;
    }
    if (ends === undefined) return;
    ends.delete(peer);
    if (ends.size === 0) this.chatEnds.delete(key);
  }

  onSessionFailed(caller: PeerDriver, requestId: string | undefined): void {
    if (requestId !== undefined) this.pendingSessions.delete(this.sessionKey(requestId));
    void caller;
  }

  onLinkLost(peer: PeerDriver): void {
    this.user(peer.username).admittedAtMs = null;
    for (const [key, pending] of this.pendingSessions) if (pending.caller === peer) this.pendingSessions.delete(key);
  }

  /**
   * A session-loss fault lost a session frame to `username` (planted-output.ts): its requests may
   * end only at the client's own deadline (the server's timeout plus SESSION_OUTCOME_GRACE_MS, or
   * SESSION_ACK_WAIT_MS), later than session-ends-by-timeout's bound, as after a lost link.
   */
  onSessionOutcomeLost(username: string, frameType: string): void {
    this.count('session_frames_lost');
    for (const [key, pending] of this.pendingSessions) if (pending.caller.username === username) this.pendingSessions.delete(key);
    void frameType;
  }

  /** A session-loss fault refused a session.request of `username`'s, perhaps late: its request may end at the client's own deadline. */
  onSessionRequestRefused(username: string, _code: string): void {
    this.count('session_requests_refused');
    for (const [key, pending] of this.pendingSessions) if (pending.caller.username === username) this.pendingSessions.delete(key);
  }

  onCounter(name: CounterName): void {
    this.count(name);
  }

  onLogoutSent(peer: PeerDriver): void {
    const world = this.w;
    // session-ends-by-timeout: the server ends a caller's requests at her logout and tells only
    // their callees (PROTOCOL.md), so nothing more comes to her about them; judged after a new login
    // they were a false alarm (helper-90's note of 2026-12-08).
    for (const [key, pending] of this.pendingSessions) if (pending.caller === peer) this.pendingSessions.delete(key);
    // Each logout replaces the user's last one: one answered by the server leaves nothing behind.
    if (world.firstFaultBeganMs === Number.POSITIVE_INFINITY) this.logoutSentAtMs.set(peer.username, world.clock.nowMs());
    else this.logoutSentAtMs.delete(peer.username);
  }

  /**
   * The server answered the user's logout: nothing is left to judge. A logout typed while the link
   * was down holding its login (never sent, ended here) must not be judged against an earlier one.
   */
  onLogoutAnswered(peer: PeerDriver): void {
    this.logoutSentAtMs.delete(peer.username);
  }

  onLogoutEndedHere(peer: PeerDriver): void {
    this.count('logouts_ended_here');
    const sentAtMs = this.logoutSentAtMs.get(peer.username);
    this.logoutSentAtMs.delete(peer.username);
    if (sentAtMs === undefined || this.w.firstFaultBeganMs <= sentAtMs + LOGOUT_ANSWER_WAIT_MS) return;
    this.violate(
      'logout-answered',
      `${peer.username}'s logout, sent at ${Math.round(sentAtMs)} ms with no fault before it or within ${LOGOUT_ANSWER_WAIT_MS} ms after, got no logout.ok before its server link dropped: the client ended it itself`,
    );
  }

  /** one-final-outcome, per request the peer's driver matched (a message, a transfer, a server request). */
  onOutcomeAfterEnd(peer: PeerDriver, request: string, first: string, second: string): void {
    this.count('outcomes_after_end');
    this.violate('one-final-outcome', `${peer.username}'s request ${request} ended ${first}, then got ${second}`);
  }

  /**
   * no-stray-error: an error event a client told its user that answers no request of its user's,
   * that the server did not push unasked and that no peer sent: a reply matched to nothing, or an
   * error out of nowhere (a protocol error, say). Only a fault the world made may explain one
   * (FAULT_EXPLAINED_ERRORS: a man in the middle makes the client refuse the key it proves).
   */
  onUnattributedOutcome(peer: PeerDriver, what: string): void {
    this.count('outcomes_unattributed');
    const fault = FAULT_EXPLAINED_ERRORS[what];
    if (fault !== undefined && this.w.faultKindsBegun?.has(fault) === true) return;
    this.violate('no-stray-error', `${peer.username} was told error ${what}, which answers nothing it asked and no fault explains`);
  }

  // ---- the frame tap: what the server put on the wire to each peer --------------------------------

  /**
   * one-final-outcome per session request, from the frames the peer received: a caller hears one
   * session.established or session.failed per request id, a callee one session.established or
   * session.withdrawn (keyed by connection: each connection is one server incarnation's).
   * presence-only-to-friends: a presence frame about a user reaches only that user's friends
   * (at the server, or removed within the presence bound: a removal and a push may cross).
   * announced-is-committed: a signup.ok or friend.added reaches a peer only for an account or
   * friendship the store committed (a store fault must never let the server announce a change
   * it did not commit).
   */
  onServerFrames(slot: PeerSlot, messages: readonly WireMessage[], connId: number, serverAddress?: string): void {
    for (const message of messages) {
      switch (message.type) {
        case 'presence':
          if (typeof message.username === 'string') this.checkPresenceReach(slot.username, message.username, serverAddress);
          if (message.status === 'offline' && typeof message.username === 'string') this.noteCallerLeft(slot.username, message.username, connId);
          break;
        case 'session.incoming':
          if (typeof message.requestId === 'string' && typeof message.from === 'string') {
            let asked = this.askedOf.get(slot.username);
            if (asked === undefined) this.askedOf.set(slot.username, (asked = new Map()));
            asked.set(message.requestId, { caller: message.from, connId });
          }
          break;
        case 'session.answered':
          this.askedOf.get(slot.username)?.delete(String(message.requestId));
          break;
        case 'signup.ok':
          if (typeof message.username === 'string' && !this.w.server.store.isAccountCommitted(message.username)) {
            this.violate('announced-is-committed', `${slot.username} was told account ${message.username} exists, but the store never committed it`);
          }
          break;
        case 'friend.added':
          if (typeof message.username === 'string' && !this.w.server.store.isFriendshipCommitted(slot.username, message.username)) {
            this.violate('announced-is-committed', `${slot.username} was told ${message.username} is a friend, but the store never committed the friendship`);
          }
          break;
        case 'friend.removed':
          if (typeof message.username === 'string') {
            const pair = `${slot.username}\u0000${message.username}`;
            this.removedAtMs.set(pair, this.w.clock.nowMs());
            this.presenceBeforeRemoval.delete(pair);
          }
          break;
        case 'session.established':
          if (message.role === 'callee') this.askedOf.get(slot.username)?.delete(String(message.requestId));
          this.finalOutcome(slot.username, connId, message.requestId, message.role === 'callee' ? 'callee' : 'caller', 'session.established');
          break;
        case 'session.failed':
          this.finalOutcome(slot.username, connId, message.requestId, 'caller', `session.failed ${String(message.reason)}`);
          break;
        case 'session.withdrawn':
          this.askedOf.get(slot.username)?.delete(String(message.requestId));
          this.finalOutcome(slot.username, connId, message.requestId, 'callee', `session.withdrawn ${String(message.reason)}`);
          break;
        default:
          break;
      }
    }
  }

  /** `callee` was told `caller` is offline: her requests still asking it must be withdrawn (PROTOCOL.md: going offline ends them). */
  private noteCallerLeft(callee: string, caller: string, connId: number): void {
    const asked = this.askedOf.get(callee);
    if (asked === undefined) return;
    const atMs = this.w.clock.nowMs();
    asked.forEach((request, requestId) => {
      if (request.caller === caller && request.connId === connId) this.callerLeft.push({ callee, requestId, caller, atMs });
    });
  }

  onConnectionClosed(connId: number): void {
    this.finalsByConn.delete(connId);
  }

  private finalOutcome(username: string, connId: number, requestId: unknown, role: 'caller' | 'callee', what: string): void {
    // A failure answered before the request had an id (not-friends, rate-limited) is its only answer.
    if (typeof requestId !== 'string') return;
    let finals = this.finalsByConn.get(connId);
    if (finals === undefined) {
      finals = new Map();
      this.finalsByConn.set(connId, finals);
    }
    // A cluster node that restarted numbers its requests from 1 again while the peer's connection
    // (held by another node) lives on: the id is judged per incarnation of the node that made it.
    const world = this.w;
    const epoch = (world.servers?.length ?? 1) > 1 ? (world.requestIncarnation?.(requestId) ?? 0) : 0;
    const key = `${role}\u0000${epoch}:${requestId}`;
    const first = finals.get(key);
    if (first === undefined) {
      finals.set(key, what);
      return;
    }
    this.violate('one-final-outcome', `${username} (${role}) got ${what} for session request ${requestId} after ${first}`);
  }

  private checkPresenceReach(receiver: string, about: string, serverAddress: string | undefined): void {
    // The node that sent it judges by its own copy of the friendships (the others' may lag the bus).
    const sender = serverAddress === undefined ? undefined : this.w.serverAt?.(serverAddress);
    const machine = (sender ?? this.w.server).machine;
    // Frames of a crashed incarnation still in flight: its friendships are the store's, unchanged.
    if (machine === null || machine.friendsOf(receiver).has(about)) return;
    const pair = `${receiver}\u0000${about}`;
    const removedAt = this.removedAtMs.get(pair);
    if (removedAt !== undefined && this.w.clock.nowMs() - removedAt <= this.boundMs) return;
    if (!this.presenceBeforeRemoval.has(pair)) this.presenceBeforeRemoval.set(pair, this.w.clock.nowMs());
  }

  /** presence-only-to-friends: a presence to someone not a friend that no friend.removed followed within the bound. */
  private sweepPresenceReach(): void {
    const nowMs = this.w.clock.nowMs();
    for (const [pair, atMs] of this.presenceBeforeRemoval) {
      if (nowMs - atMs <= this.boundMs) continue;
      this.presenceBeforeRemoval.delete(pair);
      const [receiver, about] = pair.split('\u0000');
      this.violate('presence-only-to-friends', `${receiver} received presence of ${about}, who is not a friend (at ${Math.round(atMs)} ms; no friend.removed followed)`);
    }
  }

  /**
   * The server crashed or restarted: its pending requests died with it. Yeses stay: they are keyed
   * by incarnation, and frames the old server sent before dying may still be on the wire.
   */
  onServerRestart(): void {
    this.pendingSessions.clear();
  }

  // ---- P2pObserver: chat and files (driver peer-machine) -------------------------------------------

  onFileOffered(sender: string, transferId: string, sha256: string, size: number): void {
    this.filesOffered.set(`${sender}\u0000${transferId}`, { sha256, size });
    this.count('files_offered');
  }

  onFileReceived(receiver: string, from: string, transferId: string, sha256: string, bytesSha256: string, size: number, bytesWritten: number): void {
    const key = `${from}\u0000${transferId}`;
    const offered = this.filesOffered.get(key);
    this.filesOffered.delete(key);
    this.count('files_received');
    this.count('file_bytes_received', size);
    if (offered === undefined) return this.violate('p2p-integrity', `${receiver} received ${transferId} from ${from}, which never offered it`);
    if (sha256 !== offered.sha256 || bytesSha256 !== offered.sha256) {
      this.violate('p2p-integrity', `${receiver} received ${transferId} from ${from} with SHA-256 ${bytesSha256.slice(0, 16)} (reported ${sha256.slice(0, 16)}), offered ${offered.sha256.slice(0, 16)}`);
    }
    // What the offer on the wire said: a hostile wire's lie, else what the sender's machine offered.
    const declared = this.sizeLies.of(transferId)?.declaredBytes ?? offered.size;
    if (bytesWritten !== declared || size !== declared) {
      this.violate('size-as-offered', `${receiver} took ${bytesWritten} bytes (reported ${size}) of ${transferId} from ${from}, whose offer declared ${declared}`);
    }
  }

  /** safe-file-names: a download is written under one plain file name, whatever the sender offered. */
  onFileCommitted(receiver: string, transferId: string, name: string, path: string): void {
    const unsafe = unsafeFileNameReason(name, FILE_NAME_CHARS_MAX);
    if (unsafe !== null) this.violate('safe-file-names', `${receiver} wrote ${transferId} under ${JSON.stringify(name)}: ${unsafe}`);
    this.committedPaths.set(`${receiver}\u0000${transferId}`, path);
  }

  /** safe-file-names: the path reported to the user is the one written. */
  onFileReported(receiver: string, transferId: string, path: string): void {
    const key = `${receiver}\u0000${transferId}`;
    const written = this.committedPaths.get(key);
    this.committedPaths.delete(key);
    if (written !== path) this.violate('safe-file-names', `${receiver} reported ${transferId} at ${JSON.stringify(path)} but wrote it at ${JSON.stringify(written ?? 'nowhere')}`);
  }

  onChatSent(from: string, to: string, text: string): void {
    const key = `${from}\u0000${to}`;
    let queue = this.chatInFlight.get(key);
    if (queue === undefined) {
      queue = [];
      this.chatInFlight.set(key, queue);
    }
    queue.push(text);
    this.count('chat_sent');
  }

  /** Messages may be lost with a dropped channel (the sender is told), never duplicated, altered or reordered. */
  onChatReceived(to: string, from: string, text: string): void {
    this.count('chat_received');
    const queue = this.chatInFlight.get(`${from}\u0000${to}`) ?? [];
    const at = queue.indexOf(text);
    if (at < 0) return this.violate('p2p-integrity', `${to} got "${text.slice(0, 40)}" from ${from}: never sent, or delivered twice, or out of order`);
    queue.splice(0, at + 1);
  }

  onMailSent(from: string, to: string, id: string): void {
    this.count('mail_sent');
    this.mail.onSent(from, to, id);
  }

  onMailQueued(from: string, to: string, id: string): void {
    this.count('mail_queued');
    this.mail.onQueued(from, to, id);
  }

  onMailShown(to: string, from: string, id: string, incarnation: number): void {
    this.count('mail_shown');
    this.mail.onShown(to, from, id, incarnation);
  }

  // ---- links a man in the middle sat in (the mitm fault) ----------------------------------------------

  onIntercepted(connId: number, caller: string, callee: string, presents: MitmPresents): void {
    this.count('p2p_links_intercepted');
    this.peerKeys.onIntercepted(connId, caller, callee, presents);
  }

  // ---- sweeps --------------------------------------------------------------------------------------

  sweep(): void {
    this.sweepPresenceReach();
    this.sweepPresence();
    this.sweepSessions();
    this.sweepCallersLeft();
  }

  /**
   * requests-end-with-caller: a request whose caller the callee was told went offline is
   * withdrawn within the presence bound: the server does it in the same turn, before the presence,
   * so whatever a fault does to the link, the withdrawal reaches the callee first (a restarted
   * server forgets its requests and asks nobody again: those are not judged, see askedOf).
   * Until 2026-12-08 nothing judged it: a server that let a caller's requests live on past her
   * logout or TTL expiry, asking the callee until their timeout, passed the corpus and its swarm.
   */
  private sweepCallersLeft(): void {
    const nowMs = this.w.clock.nowMs();
    let kept = 0;
    for (const left of this.callerLeft) {
      if (nowMs - left.atMs <= this.boundMs) {
        this.callerLeft[kept++] = left;
        continue;
      }
      const still = this.askedOf.get(left.callee)?.get(left.requestId)?.caller === left.caller;
      if (still) {
        this.violate('requests-end-with-caller', `${left.callee} was told ${left.caller} went offline ${Math.round(nowMs - left.atMs)} ms ago, but her session request ${left.requestId} still asks it (never withdrawn)`);
      }
    }
    this.callerLeft.length = kept;
  }

  private truthOf(username: string): PresenceStatus {
    return truthOfUser(this.user(username));
  }

  private sweepPresence(): void {
    const world = this.w;
    if (!world.linksHealthy()) {
      this.mismatchSinceMs.clear();
      return;
    }
    const nowMs = world.clock.nowMs();
    const allowedMs = this.ttlMs + this.boundMs;
    const next = new Map<string, number>();
    // Every friend of every online peer is visited on every sweep (a million visits in a 10,000-peer
    // run): one callback for the whole sweep and Map.forEach, not for-of (iterating entries made an
    // array per entry), and each friend's truth read from a flat array filled once per sweep, not
    // through the slot and driver objects scattered over the heap.
    const slots = world.slots;
    const users = this.users;
    const online = this.sweepTruth.length >= slots.length ? this.sweepTruth : (this.sweepTruth = new Uint8Array(slots.length));
    for (let i = 0; i < slots.length; i++) online[i] = (slots[i] as PeerSlot).driver.truthOnline ? 1 : 0;
    let username = '';
    const visit = (shown: PresenceStatus, friend: string): void => {
      const user = users.get(friend) ?? this.user(friend);
      const truth = online[user.slotIndex] === 1 || (user.others !== null && user.others.some((o) => online[o.slotIndex] === 1));
      if (shown === (truth ? 'online' : 'offline')) return;
      // A friend online by its own choice whose login the server has not let in yet (its relogin
      // waits in the server's password-check line after a restart, up to a minute:
      // PASSWORD_CHECKS_WAITING_MAX) is rightly shown offline: no server can announce a login it
      // has not taken. Its delay counts from when the server took it. (A login never taken is
      // liveness's to find.)
      if (truth && user.admittedAtMs === null) return;
      const key = `${username}\u0000${friend}`;
      const sinceMs = Math.max(this.mismatchSinceMs.get(key) ?? nowMs, world.lastFaultEndMs, user.changedAtMs ?? 0, truth ? (user.admittedAtMs ?? 0) : 0);
      next.set(key, sinceMs);
      if (nowMs - sinceMs > allowedMs && !this.reportedMismatches.has(key)) {
        this.reportedMismatches.add(key);
        this.violate(
          'presence-matches-truth',
          `${username} shows ${friend} ${shown} but ${friend} is ${this.truthOf(friend)} (for ${Math.round(nowMs - sinceMs)} ms, allowed ${allowedMs} ms)`,
        );
      }
    };
    for (let i = 0; i < slots.length; i++) {
      if (online[i] !== 1) continue;
      const driver = (slots[i] as PeerSlot).driver;
      username = driver.username;
      driver.presenceView.forEach(visit);
    }
    this.mismatchSinceMs = next;
  }

  private sweepSessions(): void {
    const world = this.w;
    const nowMs = world.clock.nowMs();
    for (const [key, pending] of this.pendingSessions) {
      if (nowMs <= pending.deadlineMs + this.boundMs) continue;
      this.pendingSessions.delete(key);
      const judgeable = world.linksHealthy() && world.lastFaultEndMs <= pending.startMs && pending.caller.truthOnline;
      if (!judgeable) continue;
      this.violate(
        'session-ends-by-timeout',
        `${pending.caller.username}'s session request ${key} to ${pending.callee} is still pending ${Math.round(nowMs - pending.deadlineMs)} ms after its timeout`,
      );
    }
  }

  /** The end of the healed phase: everything must agree, and nothing may be left pending. */
  checkLiveness(): void {
    const world = this.w;
    // With a cluster, every node that runs must agree on who is online (no split truth).
    const machines = (world.servers ?? [world.server]).map((node) => node.machine).filter((m): m is NonNullable<typeof m> => m !== null);
    const machine = machines[0];
    if (machine === undefined) return this.violate('liveness', 'the server is down at the end of the healed phase');
    const problems: string[] = [];
    let problemCount = 0;
    const note = (text: string): void => {
      problemCount += 1;
      if (problems.length < LIVENESS_DETAILS_MAX) problems.push(text);
    };
    for (const slot of world.slots) {
      const driver = slot.driver;
      if (world.ownerOf(slot.username) === slot) {
        const truth = this.truthOf(slot.username);
        machines.forEach((nodeMachine, index) => {
          const serverOnline = nodeMachine.isOnline(slot.username);
          const which = machines.length === 1 ? 'the server' : `node ${index + 1}`;
          if ((truth === 'online') !== serverOnline) note(`${slot.username} is ${truth} but ${which} says ${serverOnline ? 'online' : 'offline'}`);
        });
        // One login per user: a program a later login displaced must have been told so.
        const others = world.otherSlotsOf(slot.username);
        if (others.length > 0) {
          const programs = [slot, ...others].filter((s) => s.driver.truthOnline).length;
          if (programs > 1) note(`${slot.username} is logged in on ${programs} programs at once`);
        }
      }
      const unfinished = driver.unfinishedWork?.() ?? null;
      if (unfinished !== null) note(`${slot.username}: ${unfinished}`);
      if (!driver.truthOnline) continue;
      const friends = machine.friendsOf(slot.username);
      if (friends.size !== driver.presenceView.size) note(`${slot.username} shows ${driver.presenceView.size} friends, the server has ${friends.size}`);
      for (const friend of friends) {
        const shown = driver.presenceView.get(friend);
        if (shown !== this.truthOf(friend)) note(`${slot.username} shows ${friend} ${shown ?? 'missing'}, truth ${this.truthOf(friend)}`);
      }
    }
    this.mail.checkAtEnd((username) => this.truthOf(username) === 'online');
    if (this.mail.repeatedAfterCrash > 0) this.counters.set('mail_repeated_after_crash', this.mail.repeatedAfterCrash);
    const pending = machines.reduce((sum, m) => sum + m.stats().pendingSessionRequests, 0);
    if (pending > 0) note(`the server still holds ${pending} pending session requests`);
    if (problemCount > 0) this.violate('liveness', `${problemCount} disagreements after the healed phase: ${problems.join('; ')}`);
  }

  private sessionKey(requestId: string): string {
    const world = this.w;
    return `${world.requestIncarnation?.(requestId) ?? world.server.incarnation}:${requestId}`;
  }
}

/** What the presence checks keep per username, so each costs one map lookup. */
interface UserRecord {
  /** The driver of the slot world.ownerOf gives for the username; null when no slot plays it. */
  readonly driver: PeerDriver | null;
  /** That slot's position in world.slots (-1 for none). */
  readonly slotIndex: number;
  /** Other slots playing the same username (a second program of the user), or null: the user is online if any is. */
  readonly others: ReadonlyArray<{ readonly driver: PeerDriver; readonly slotIndex: number }> | null;
  /** When the user's truth last changed; undefined if it never did. */
  changedAtMs: number | undefined;
  /**
   * When the server last let the user's login in on the link the user still holds (its login.ok,
   * or its friend list after a relogin); null while its link is down or its login unanswered.
   */
  admittedAtMs: number | null;
  /** How many times the user's truth changed: a presence delay is taken once per change and friend. */
  generation: number;
  /** friend → the friend's truth generation whose delay this user already reported. */
  taken: Map<string, number> | null;
}

function truthOfUser(user: UserRecord): PresenceStatus {
  if (user.driver?.truthOnline === true) return 'online';
  return user.others !== null && user.others.some((o) => o.driver.truthOnline) ? 'online' : 'offline';
}

function takenBy(user: UserRecord): Map<string, number> {
  return (user.taken ??= new Map());
}

function isPairKey(requestId: string): boolean {
  return requestId.includes('>');
}

function unorderedPair(pairKey: string): string {
  const [a = '', b = ''] = pairKey.split('>');
  return a < b ? `${a}\u0000${b}` : `${b}\u0000${a}`;
}
