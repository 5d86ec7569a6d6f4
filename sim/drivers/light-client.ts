/**
 * The simulator's light client: one simulated user that speaks only to the server, on the shipped
 * server link machine (core/peer/server-link.ts) over a Transport. Heartbeats, the reset of a
 * link silent for a TTL, reconnect backoff and resume falling back to the password are the link's
 * (there is no copy of them here); this driver only carries the link's actions out on a stream,
 * keeps one wake-up timer at the link's next deadline, and turns replies and pushes into step
 * outcomes and checker observations.
 *
 * The light alternative to the whole peer machine (peer-machine-driver.ts) behind the PeerDriver
 * interface: no P2P channel (no chat messages or files), which is what 10,000- and 100,000-peer
 * presence storms need. Session requests, both ways, are the shipped session broker's
 * (core/peer/session-broker.ts), composed with the link as the peer machine composes it: a
 * session step ends with the user's answer, chat.failed's reason or `established` (the caller's
 * session.established, or a session with the friend that opened while the request was pending:
 * with no P2P here, the server's word is the session). Until 2026-12-08 the driver ended a step
 * on the server's frames alone: a request whose session.pending or outcome was lost waited for
 * ever (the client's own deadlines were missing: session-outcome-lost.yaml and
 * session-glare-pending-lost.yaml never finished on it), and a link drop ended every request
 * DISCONNECTED where the client keeps an acknowledged one for the resume.
 */
import { encodeControl } from '../../core/codec.ts';
import type { PresenceStatus, ServerFrame, ServerFrameOf } from '../../core/frames.ts';
import { type ClientRequest, HEARTBEAT_FRAME, type LinkAction, type LoginEnd, ServerLink } from '../../core/peer/server-link.ts';
import { type BrokerAction, isSessionFrame, SessionBroker, type SessionFrame } from '../../core/peer/session-broker.ts';
import type { Stream, Transport } from '../../core/transport.ts';
import { OutageReports } from '../checkers/outage-checker.ts';
import { ReconnectPacing } from '../checkers/reconnect-backoff-checker.ts';
import type { AnswerPolicy, PeerDriver, PeerObserver, SessionOutcome, StepOutcome } from './peer-driver.ts';
import type { Prng } from '../world/prng.ts';
import { Scope, type SimClock } from '../world/sim-clock.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../world/server-node.ts';

/** Port a simulated peer would accept P2P connections on (announced when it accepts a session). */
const P2P_PORT = 5000;
/** Requests asked for while the link is not yet welcomed wait for it; at most this many. */
const WAITING_FOR_LINK_MAX = 64;

/** core's HEARTBEAT_FRAME never changes: encoded once (receivers only read the bytes). */
const HEARTBEAT_BYTES = encodeControl(HEARTBEAT_FRAME);

type Reply = (frame: ServerFrame | null) => void;

/** Answers at once: the default answer delay, shared by every client. */
function noDelay(): number {
  return 0;
}

export interface LightClientOptions {
  readonly username: string;
  readonly address: string;
  readonly transport: Transport;
  readonly clock: SimClock;
  /** The peer's random stream; the link does not draw from it (see jitterSeedOf). */
  readonly prng: Prng;
  readonly observer: PeerObserver;
}

export class LightClient implements PeerDriver {
  readonly username: string;
  readonly presenceView = new Map<string, PresenceStatus>();
  alive = true;
  private wantOnline = false;
  private silent = false;
  private scope = new Scope();
  private readonly clock: SimClock;
  /** This incarnation's link: a crash loses it with the rest of the process's memory. */
  private link: ServerLink;
  /**
   * What this incarnation told its user of its link's outages, for outage-reported: the link's
   * `disconnected` and `reconnected` actions are the ones the peer machine turns into its events.
   */
  private outages: OutageReports;
  /**
   * How soon this incarnation's link came back to the server each time it dropped, for
   * reconnect-backoff: the link's own backoff, fed from its actions as the peer machine's driver
   * feeds it from the same link's effects.
   */
  private pacing: ReconnectPacing;
  /** Nested flushes (a reply's step may ask the link again): the checker hears the outermost settle only. */
  private flushing = 0;
  private stream: Stream | null = null;
  private streamLinkId = 0;
  /** Replies owed, by request id. */
  private readonly replies = new Map<number, Reply>();
  /**
   * This incarnation's session requests, both ways (core's broker); made at the first session
   * step or session frame, so a storm's peers that never see one pay nothing for it.
   */
  private broker: SessionBroker | null = null;
  /** Session steps waiting for their request's end, by friend (the broker keeps one request per friend and direction). */
  private readonly sessionSteps = new Map<string, (outcome: SessionOutcome) => void>();
  /** Requests waiting for the link to be welcomed. */
  private waitingForLink: Array<(up: boolean) => void> = [];
  private password: string | null = null;
  private wakeAtMs: number | null = null;
  /** Restarts so far: each incarnation's link draws its own jitter. */
  private incarnation = 0;
  private answerPolicy: AnswerPolicy = 'accept';
  private answerDelayMs: () => number = noDelay;
  /**
   * Made once: the wake-up is the commonest timer and needs no closure of its own. Bound, not an
   * arrow field: tsx names arrow fields with a defineProperty that costs ~250 bytes per client.
   */
  private readonly wake: () => void = this.onWake.bind(this);

  constructor(private readonly options: LightClientOptions) {
    this.username = options.username;
    this.clock = options.clock;
    this.link = new ServerLink(jitterSeedOf(this.username, this.incarnation));
    this.outages = this.newOutageReports();
    this.pacing = this.newPacing();
  }

  get truthOnline(): boolean {
    return this.wantOnline && this.alive && !this.silent;
  }

  // ---- steps ------------------------------------------------------------------------------------

  signup(password: string, done: (outcome: StepOutcome) => void): void {
    this.request({ type: 'signup', username: this.username, password }, (frame) => done(outcomeOf(frame, 'signup.ok')));
  }

  login(password: string, done: (outcome: StepOutcome) => void): void {
    if (this.link.loggedIn) return done('ALREADY_LOGGED_IN');
    this.whenLinkUp((up) => {
      if (!up) return done('NOT_CONNECTED');
      this.password = password;
      this.track(this.link.login(this.username, password), (frame) => done(outcomeOf(frame, 'login.ok')));
    });
  }

  logout(done: (outcome: StepOutcome) => void): void {
    if (!this.link.loggedIn) return done('NOT_LOGGED_IN');
    this.options.observer.onLogoutSent(this);
    this.setWantOnline(false);
    this.track(this.link.logout(), (frame) => {
      if (frame?.type === 'logout.ok') this.clearView();
      done(outcomeOf(frame, 'logout.ok'));
    });
    this.flush();
  }

  friendRequest(username: string, done: (outcome: StepOutcome) => void): void {
    this.request({ type: 'friend.request', username }, (frame) => {
      if (frame?.type === 'friend.added') this.presenceView.set(frame.username, frame.status);
      done(frame?.type === 'friend.added' ? 'ok' : outcomeOf(frame, 'friend.requested'));
    });
  }

  /**
   * chat.open: the request goes to the broker as the peer machine's does (onChatOpen), which ends
   * it (chat.failed, or the session) whatever the server says or fails to say.
   */
  sessionRequest(username: string, done: (outcome: SessionOutcome) => void): void {
    if (!this.link.loggedIn) return done('NOT_LOGGED_IN');
    this.options.observer.onCounter('session_requests');
    this.whenLinkUp((up) => {
      if (!up) return done('NOT_CONNECTED');
      const broker = this.sessionBroker();
      if (broker.hasOutgoing(username) || this.sessionSteps.has(username)) return done('SESSION_PENDING');
      const id = this.link.request({ type: 'session.request', username });
      this.sessionSteps.set(username, done);
      broker.requested(username, id, this.clock.nowMs());
      this.flush();
    });
  }

  setAnswerPolicy(policy: AnswerPolicy, delayMs: () => number): void {
    this.answerPolicy = policy;
    this.answerDelayMs = delayMs;
  }

  /**
   * The process stops until `untilMs` (a pause fault: SIGSTOP, a long GC pause): its timers wait
   * and fire late, as the peer machine's driver's do (the network holds what reaches it). Before,
   * only its traffic was held and its heartbeats went on being sent on time, so a light client
   * paused past its TTL was never expired by the server and a storm's pauses tested nothing of it.
   */
  pause(untilMs: number): void {
    this.scope.pausedUntilMs = Math.max(this.scope.pausedUntilMs, untilMs);
  }

  goSilent(): void {
    this.setWantOnline(false);
    this.silent = true;
  }

  crash(): void {
    if (!this.alive) return;
    this.setWantOnline(false);
    this.alive = false;
    this.scope.kill();
    const stream = this.stream;
    this.stream = null;
    stream?.reset();
    this.failOwed('CRASHED');
    // The process died with its requests: each step ends CRASHED, as the peer machine driver's do.
    const steps = [...this.sessionSteps.values()];
    this.sessionSteps.clear();
    this.broker = null;
    for (const done of steps) done('CRASHED');
    this.clearView();
  }

  restart(): void {
    if (this.alive) return;
    this.alive = true;
    this.silent = false;
    this.scope = new Scope();
    this.wakeAtMs = null;
    // A new process: a new link, not started until the user does something.
    this.incarnation += 1;
    this.link = new ServerLink(jitterSeedOf(this.username, this.incarnation));
    this.broker = null;
    this.outages = this.newOutageReports();
    this.pacing = this.newPacing();
  }

  /** An outage still told at the end of the healed phase (the liveness check), as the peer machine's driver says it. */
  unfinishedWork(): string | null {
    if (!this.alive || this.silent) return null;
    return this.outages.unfinished();
  }

  private newOutageReports(): OutageReports {
    const observer = this.options.observer;
    return new OutageReports(this.username, (detail) => observer.violate?.('outage-reported', detail));
  }

  private newPacing(): ReconnectPacing {
    const observer = this.options.observer;
    return new ReconnectPacing(this.username, (detail) => observer.violate?.('reconnect-backoff', detail));
  }

  // ---- requests ---------------------------------------------------------------------------------

  private request(frame: ClientRequest, reply: Reply): void {
    this.whenLinkUp((up) => {
      if (!up) return reply(null);
      this.track(this.link.request(frame), reply);
    });
  }

  private track(id: number | null, reply: Reply): void {
    if (id === null) return reply(null);
    this.replies.set(id, reply);
    this.flush();
  }

  /** Runs `then` once the link is welcomed (at once if it is), starting it if it never was. */
  private whenLinkUp(then: (up: boolean) => void): void {
    if (!this.alive || this.silent) return then(false);
    if (this.link.welcomed) return then(true);
    if (this.waitingForLink.length >= WAITING_FOR_LINK_MAX) return then(false);
    this.waitingForLink.push(then);
    if (this.link.state.state === 'ExpectStart') {
      this.link.start();
      this.flush();
    }
  }

  /** Everything owed on the link failed (but the requests the link sends again): replies, requests waiting for a link (session requests are the broker's). */
  private failOwed(code: string, resending: readonly number[] = []): void {
    const replies = [...this.replies].filter(([id]) => !resending.includes(id)).map(([, reply]) => reply);
    for (const id of [...this.replies.keys()]) if (!resending.includes(id)) this.replies.delete(id);
    const waiting = this.waitingForLink;
    this.waitingForLink = [];
    for (const reply of replies) reply({ type: 'error', code, message: code });
    for (const then of waiting) then(false);
  }

  // ---- the link's actions -------------------------------------------------------------------------

  /** Carries out the link's actions (bounded: each round handles what the previous one caused). */
  private flush(): void {
    // No try/finally: an exception here ends the run (no-exception), and the count with it.
    this.flushing += 1;
    // The broker's actions after each of the link's, as the peer machine drains them (machine.ts drain).
    for (let round = 0; round < 16; round++) {
      const actions = this.link.takeActions();
      for (const action of actions) {
        this.perform(action);
        this.drainBroker();
      }
      if (actions.length === 0 && !this.drainBroker()) break;
    }
    this.flushing -= 1;
    this.armWake();
    // Settled: the link's state once everything this input caused was carried out.
    if (this.flushing === 0) {
      const state = this.link.state.state;
      this.outages.settled(state);
      this.pacing.settled(state, this.clock.nowMs());
    }
  }

  /** Carries out what the broker asked for; false when it asked for nothing. */
  private drainBroker(): boolean {
    const broker = this.broker;
    if (broker === null) return false;
    const actions = broker.takeActions();
    for (const action of actions) this.performBroker(action);
    return actions.length > 0;
  }

  private perform(action: LinkAction): void {
    switch (action.type) {
      case 'connect':
        // On the world's clock (no clock fault reaches a light client); a pause makes its timers
        // fire late, which the checker excuses as it does the peer machine's.
        this.pacing.connecting({ nowMs: this.clock.nowMs(), clockTrue: true, pausedUntilMs: this.scope.pausedUntilMs });
        return this.connect(action.linkId);
      case 'send':
        if (this.stream !== null && this.streamLinkId === action.linkId) {
          this.stream.write(action.frame === HEARTBEAT_FRAME ? HEARTBEAT_BYTES : encodeControl(action.frame));
        }
        return;
      case 'close':
        if (this.stream !== null && this.streamLinkId === action.linkId) {
          const stream = this.stream;
          this.stream = null;
          stream.reset();
        }
        return;
      case 'up': {
        const waiting = this.waitingForLink;
        this.waitingForLink = [];
        for (const then of waiting) then(true);
        return;
      }
      case 'link-lost':
        this.options.observer.onLinkLost(this);
        this.failOwed('DISCONNECTED', action.resending);
        // Requests not yet acknowledged end (server-unavailable); the rest wait for the resume.
        this.broker?.linkLost();
        return;
      case 'disconnected':
        this.outages.disconnected(this.clock.nowMs());
        return this.options.observer.onCounter('reconnects');
      case 'reconnected':
        return this.outages.reconnected();
      case 'logged-in':
        // Logged in (the user's login, or the login taken back after an outage): the link counts its attempts again.
        this.pacing.loggedIn();
        return this.onLoggedIn(action.frame);
      case 'login-ended':
        return this.onLoginEnded(action.reason);
      case 'logged-out-here':
        return this.onLoggedOutHere(action.requestId);
      case 'frame':
        return this.onFrame(action.frame);
      case 'protocol-error':
        return this.options.observer.onCounter('protocol_errors');
      case 'closed':
        return;
    }
  }

  private connect(linkId: number): void {
    this.streamLinkId = linkId;
    // The handlers come from methods, not arrow literals here: tsx keeps function names, which
    // costs a defineProperty per named closure, four per connection.
    const scope = this.scope;
    const stream = this.options.transport.connect(SERVER_ADDRESS, SERVER_PORT, {
      onOpen: this.openHandler(scope, linkId),
      onData: this.dataHandler(scope, linkId),
      onDrain: ignoreEvent,
      onClose: this.closeHandler(scope, linkId),
    });
    this.stream = stream;
  }

  /** Events of a stream this incarnation opened for this link (a restart numbers links anew). */
  private current(scope: Scope, linkId: number): boolean {
    return this.scope === scope && this.streamLinkId === linkId && this.hearing;
  }

  private openHandler(scope: Scope, linkId: number): () => void {
    return () => {
      if (!this.current(scope, linkId)) return;
      this.pacing.linkOpened();
      this.link.opened(linkId, this.options.address, this.clock.nowMs());
      this.flush();
    };
  }

  private dataHandler(scope: Scope, linkId: number): (bytes: Uint8Array) => void {
    return (bytes) => {
      if (!this.current(scope, linkId)) return;
      this.link.bytes(linkId, bytes, this.clock.nowMs());
      this.flush();
    };
  }

  private closeHandler(scope: Scope, linkId: number): () => void {
    return () => {
      if (this.scope !== scope || this.streamLinkId !== linkId) return;
      this.stream = null;
      if (!this.hearing) return;
      this.link.closed(linkId, this.clock.nowMs());
      this.flush();
    };
  }

  /** Alive and speaking: a silent or crashed process hears nothing. */
  private get hearing(): boolean {
    return this.alive && !this.silent;
  }

  /** One timer at the link's next deadline; an early or stale wake-up is harmless. */
  private armWake(): void {
    const linkAtMs = this.link.nextTimeoutMs();
    const brokerAtMs = this.broker === null ? null : this.broker.nextTimeoutMs();
    const atMs = brokerAtMs === null || (linkAtMs !== null && linkAtMs <= brokerAtMs) ? linkAtMs : brokerAtMs;
    if (atMs === null || (this.wakeAtMs !== null && this.wakeAtMs <= atMs)) return;
    this.wakeAtMs = atMs;
    this.clock.post(atMs, this.wake, this.scope);
  }

  private onWake(): void {
    const nowMs = this.clock.nowMs();
    if (this.wakeAtMs !== null && this.wakeAtMs <= nowMs) this.wakeAtMs = null;
    if (!this.hearing) return;
    this.link.handleTimeout(nowMs);
    this.broker?.handleTimeout(nowMs);
    this.flush();
  }

  /**
   * The link ended the login here, the server out of reach (it dropped before logout.ok): the
   * logout's answer is logout.ok, as if the server had sent it (the step's outcome is ok).
   */
  private onLoggedOutHere(requestId: number | null): void {
    if (requestId === null) return;
    this.options.observer.onLogoutEndedHere(this);
    const reply = this.replies.get(requestId);
    this.replies.delete(requestId);
    reply?.({ type: 'logout.ok', re: requestId });
  }

  /**
   * The login ended without the user asking. A refused resume is the link's to handle (it logs in
   * with the password). Logged out by the TTL, a user who means to be online logs in again; logged
   * in elsewhere, or refused the password, it is offline.
   */
  private onLoginEnded(reason: LoginEnd): void {
    // Every session request belongs to the login: it ends with it (logged-out), a refused resume included.
    this.broker?.loginEnded(reason);
    if (reason === 'logout' || reason === 'resume-refused') return;
    this.clearView();
    const password = this.password;
    if (reason === 'HEARTBEAT_TIMEOUT' && password !== null && this.wantOnline && this.hearing) {
      this.track(this.link.login(this.username, password), ignoreReply);
      return;
    }
    this.setWantOnline(false);
  }

  // ---- frames from the server -------------------------------------------------------------------

  private onLoggedIn(frame: ServerFrameOf<'login.ok'>): void {
    this.presenceView.clear();
    for (const friend of frame.friends) this.presenceView.set(friend.username, friend.status);
    this.options.observer.onViewReset(this);
    this.setWantOnline(true);
    this.answer(frame);
    // Requests that came while we were away wait in the list, not as pushes: accepted like pushed ones.
    for (const from of frame.incoming) this.link.request({ type: 'friend.accept', username: from });
  }

  private onFrame(frame: ServerFrame): void {
    if ('re' in frame && frame.re !== undefined && this.answer(frame)) return;
    if (isSessionFrame(frame)) return this.onSessionFrame(frame);
    switch (frame.type) {
      case 'presence':
        return this.setView(frame.username, frame.status);
      case 'friend.added':
        // A new friend's status is not a presence change: it joins the view silently.
        this.presenceView.set(frame.username, frame.status);
        return;
      case 'friend.removed':
        this.presenceView.delete(frame.username);
        this.broker?.friendRemoved(frame.username);
        return this.options.observer.onPresenceView(this, frame.username, null);
      case 'friend.incoming':
        this.link.request({ type: 'friend.accept', username: frame.from });
        return;
      case 'error':
        // The answer to a session.request, session.answer or session.cancel of ours is the broker's.
        if (frame.re !== undefined) this.broker?.requestFailed(frame.re, frame.code);
        return;
      default:
        return;
    }
  }

  /** A session frame: the checkers hear it as it came, the broker decides what it ends. */
  private onSessionFrame(frame: SessionFrame): void {
    const broker = this.sessionBroker();
    const observer = this.options.observer;
    switch (frame.type) {
      case 'session.pending':
        // Only a request this client still holds: a late one ended here already (its deadline).
        if (broker.requests().some((r) => r.state === 'ExpectPending' && r.re === frame.re)) {
          observer.onSessionPending(this, frame.requestId, frame.username, frame.timeoutMs);
        }
        break;
      case 'session.failed':
        observer.onSessionFailed(this, frame.requestId, frame.username, frame.reason);
        break;
      case 'session.established':
        observer.onSessionEstablished(this, frame.requestId, frame.role, frame.username);
        // No P2P here: the server's session.established to the caller is the session, one per request.
        if (frame.role === 'caller') observer.onCounter('sessions_established');
        break;
      default:
        break;
    }
    broker.onFrame(frame, this.clock.nowMs());
  }

  private sessionBroker(): SessionBroker {
    // Answers are the user's (the answer policy, after its delay), not the broker's own.
    if (this.broker === null) this.broker = new SessionBroker(false);
    return this.broker;
  }

  /** What the broker asked for, as the peer machine carries it out (onBrokerAction), less the P2P set-up. */
  private performBroker(action: BrokerAction): void {
    switch (action.type) {
      case 'event': {
        const event = action.event;
        if (event.event === 'chat.request') return this.onSessionIncoming(event.from);
        if (event.event === 'chat.failed' && event.incoming !== true) return this.endSessionStep(event.username, event.reason);
        return;
      }
      case 'answer':
        // Our yes, lost with a dropped link, asked again after the resume: said again.
        return this.sendAnswer(action.friend, action.requestId, action.accept);
      case 'connect':
        // The callee said yes: with no P2P here, that is the session.
        return this.sessionOpened(action.friend);
      case 'hold-token':
        // Ours to the caller's hello, which never comes here: the session is open for this client.
        return this.sessionOpened(action.friend);
      case 'withdraw': {
        const id = this.link.request({ type: 'session.cancel', requestId: action.requestId });
        if (id !== null) this.broker?.withdrawSent(id);
        return;
      }
      case 'reply-answers-nothing':
        return;
      case 'protocol-error':
        return this.options.observer.onCounter('protocol_errors');
    }
  }

  /**
   * A session with `friend` opened: our own pending request to them has its answer (the broker
   * withdraws it). The withdrawal goes out before the step ends: the script's next step (a logout,
   * say) is typed after the client has handled what it heard, as the user types after the event.
   * Ended first, a logout went out ahead of the session.cancel, which the server then refused
   * NOT_LOGGED_IN, and the caller was left with a request the server had ended without a word to
   * it (session-ends-by-timeout, a light-client swarm of clock-drift.yaml, root seed 301).
   */
  private sessionOpened(friend: string): void {
    this.broker?.sessionOpened(friend);
    this.drainBroker();
    this.endSessionStep(friend, 'established');
  }

  private endSessionStep(friend: string, outcome: SessionOutcome): void {
    const done = this.sessionSteps.get(friend);
    if (done === undefined) return;
    this.sessionSteps.delete(friend);
    done(outcome);
  }

  /** The reply to one of our requests, if it is one. */
  private answer(frame: ServerFrame): boolean {
    const re = 're' in frame ? frame.re : undefined;
    if (re === undefined) return false;
    const reply = this.replies.get(re);
    if (reply === undefined) return false;
    this.replies.delete(re);
    reply(frame);
    return true;
  }

  /** The user is asked about `friend`'s request (chat.request) and answers by the policy, after its delay. */
  private onSessionIncoming(friend: string): void {
    const policy = this.answerPolicy;
    if (policy === 'ignore') return;
    const accept = policy === 'accept';
    const broker = this.broker;
    const requestId = broker?.awaitingAnswer(friend) ?? null;
    if (broker === null || requestId === null) return;
    this.clock.post(
      this.clock.nowMs() + this.answerDelayMs(),
      () => {
        // The request may have ended meanwhile (withdrawn, timed out, the login gone): no answer.
        if (!this.link.loggedIn || this.silent || this.broker !== broker || broker.awaitingAnswer(friend) !== requestId) return;
        this.sendAnswer(friend, requestId, accept);
        this.flush();
      },
      this.scope,
    );
  }

  private sendAnswer(friend: string, requestId: string, accept: boolean): void {
    const frame: ClientRequest = accept
      ? { type: 'session.answer', requestId, accept, host: this.options.address, port: P2P_PORT }
      : { type: 'session.answer', requestId, accept };
    const id = this.link.request(frame);
    if (id === null) return;
    this.options.observer.onSessionAnswer(this, requestId, accept);
    this.broker?.answered(friend, accept, id, this.clock.nowMs());
  }

  private setView(friend: string, status: PresenceStatus): void {
    this.presenceView.set(friend, status);
    this.options.observer.onPresenceView(this, friend, status);
  }

  private clearView(): void {
    this.presenceView.clear();
    this.options.observer.onViewReset(this);
  }

  private setWantOnline(online: boolean): void {
    const before = this.truthOnline;
    this.wantOnline = online;
    if (this.truthOnline !== before) this.options.observer.onTruthChange(this, this.truthOnline);
  }
}

function ignoreEvent(): void {}

/**
 * The link's jitter seed, from the user's name and incarnation (FNV-1a): drawn from the peer's
 * random stream it would shift every later draw of its behaviour, and the storms' workload with it.
 */
function jitterSeedOf(username: string, incarnation: number): number {
  let hash = 0x811c9dc5 ^ incarnation;
  for (let i = 0; i < username.length; i++) hash = Math.imul(hash ^ username.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

function ignoreReply(): void {}

function outcomeOf(frame: ServerFrame | null, okType: ServerFrame['type']): StepOutcome {
  if (frame === null) return 'NOT_CONNECTED';
  if (frame.type === okType) return 'ok';
  if (frame.type === 'error') return frame.code;
  return `UNEXPECTED_${frame.type}`;
}

