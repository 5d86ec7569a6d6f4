/**
 * PeerDriver: the narrow interface scenario behaviours use to act as one user. Two drivers
 * implement it over the in-memory network: the simulator's light protocol client
 * (light-client.ts, server link only) and the real peer machine of core/peer/
 * (peer-machine-driver.ts, on the PeerHost of core/peer/host.ts as the real client runs it, with
 * the P2P channel: chat messages and files).
 */
import type { CounterName } from '../checkers/counter-names.ts';
import type { PresenceStatus, SessionFailure } from '../../core/frames.ts';
import type { WireMessage } from '../world/frame-tap.ts';
import type { CheckerName } from '../scenarios/scenario-schema.ts';
import type { SendFileOptions } from './peer-machine-driver.ts';

/** 'ok', or a stable error code (server codes, plus DISCONNECTED, TIMEOUT, CRASHED, NOT_LOGGED_IN). */
export type StepOutcome = 'ok' | string;
export type SessionOutcome = 'established' | SessionFailure | string;
export type AnswerPolicy = 'accept' | 'reject' | 'ignore';

export interface PeerDriver {
  readonly username: string;
  /** The user means to be online and the process is alive and speaking: the presence truth. */
  readonly truthOnline: boolean;
  readonly alive: boolean;
  /** What this peer currently shows for each friend. */
  readonly presenceView: ReadonlyMap<string, PresenceStatus>;
  signup(password: string, done: (outcome: StepOutcome) => void): void;
  login(password: string, done: (outcome: StepOutcome) => void): void;
  logout(done: (outcome: StepOutcome) => void): void;
  friendRequest(username: string, done: (outcome: StepOutcome) => void): void;
  sessionRequest(username: string, done: (outcome: SessionOutcome) => void): void;
  setAnswerPolicy(policy: AnswerPolicy, delayMs: () => number): void;
  /** Stops speaking without closing anything (a machine that vanished). */
  goSilent(): void;
  /** The process dies: the OS resets its connections; everything in memory is lost. */
  crash(): void;
  /** The user starts the program again (logged out, credentials remembered by the user). */
  restart(): void;
  /**
   * The user quits the program (the peer machine's `quit`): ends 'ok' when the program exits, or
   * says what went wrong (see PeerMachineDriver.quit). `logoutFirst`: a logout typed just before;
   * `signal`: a signal (Ctrl-C) rather than a typed quit.
   */
  quit?(logoutFirst: boolean, done: (outcome: StepOutcome) => void, signal?: boolean): void;
  /** account.password, from the password of the last login that succeeded (or `old`, typed instead) to `to` (the peer machine). */
  changePassword?(to: string, done: (outcome: StepOutcome) => void, old?: string): void;
  /** The process stops until `untilMs` (its timers fire late); the network holds its input meanwhile. */
  pause?(untilMs: number): void;
  /** P2P, only where the driver has a P2P channel (the peer machine): messages over the open session. */
  chat?(username: string, count: number, done: (outcome: StepOutcome) => void): void;
  /** Offline messages (the peer machine): chat.send with no session open, held sealed by the server; ok once each is queued. */
  sendOffline?(username: string, count: number, done: (outcome: StepOutcome) => void): void;
  /** Work that should have ended by the end of the healed phase (open transfers), or null. */
  unfinishedWork?(): string | null;
  /** P2P: one synthetic file of `bytes` bytes over the open session; cancelled after cancelAfterMs, or hostile (name, declaredBytes, stall) if given. */
  sendFile?(username: string, bytes: number, done: (outcome: StepOutcome) => void, options?: SendFileOptions): void;
  /** Ends a friendship (friend.remove). */
  unfriend?(username: string, done: (outcome: StepOutcome) => void): void;
  /** How incoming friend requests are answered from now on; `accepted` are accepted whatever the policy. */
  setFriendPolicy?(policy: 'accept' | 'decline' | 'ignore', accepted: readonly string[]): void;
  /** From the frame tap: server frames (decoded from the wire) this peer is about to hear, then that it heard them. */
  onServerFrames?(messages: readonly WireMessage[]): void;
  onServerFramesHandled?(): void;
}

/** What checkers and metrics learn from peers, as it happens. */
export interface PeerObserver {
  onTruthChange(peer: PeerDriver, online: boolean): void;
  onPresenceView(peer: PeerDriver, friend: string, status: PresenceStatus | null): void;
  /** The view was replaced wholesale (login.ok). */
  onViewReset(peer: PeerDriver): void;
  onSessionAnswer(callee: PeerDriver, requestId: string, accept: boolean): void;
  onSessionPending(caller: PeerDriver, requestId: string, callee: string, timeoutMs: number): void;
  onSessionEstablished(peer: PeerDriver, requestId: string, role: 'caller' | 'callee', other: string): void;
  /**
   * The chat with `friend` opened (`open`) or is open no more in this peer's client, as its
   * machine's open sessions say (peer-machine driver). A session is counted established once: when
   * the first of its two ends opens it, not again while either end has it open (a chat.opened that
   * answers a chat.open with the session already open, or a crossing's second stream, opens none).
   */
  onChatOpenChanged?(peer: PeerDriver, friend: string, open: boolean): void;
  onSessionFailed(caller: PeerDriver, requestId: string | undefined, callee: string, reason: string): void;
  /** The server link dropped: replies pushed meanwhile are lost to this peer. */
  onLinkLost(peer: PeerDriver): void;
  onCounter(name: CounterName): void;
  /** The user typed a logout the client sends (it was logged in). */
  onLogoutSent(peer: PeerDriver): void;
  /** The server answered a logout (logout.ok without a detail). */
  onLogoutAnswered?(peer: PeerDriver): void;
  /** The client ended a logout itself: its server link dropped before the server's logout.ok. */
  onLogoutEndedHere(peer: PeerDriver): void;
  /** A request that had already ended got another final outcome (`request` names it within the peer). */
  onOutcomeAfterEnd?(peer: PeerDriver, request: string, first: string, second: string): void;
  /** An error event that answers no request of the peer's and that the server does not push unasked. */
  onUnattributedOutcome?(peer: PeerDriver, what: string): void;
  /** A breach a driver's own checker found (chat-failed-cause: sim/checkers/session-cause-checker.ts). */
  violate?(checker: CheckerName, detail: string): void;
}
