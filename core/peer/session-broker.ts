/**
 * Session brokering on the client side: the chat-session requests this client made (as caller)
 * and was asked about (as callee), as a pure state machine composed by the peer machine
 * (machine.ts). It turns session.* frames and the ends of the link and of the login into client
 * events and into what the composition must do (answer, connect to the callee, hold a token).
 *
 * Theory of operation
 * -------------------
 * One request per friend and direction, each in one state (SessionRequest), named for what it
 * waits for:
 *
 *   caller: ExpectPending (session.request sent) ──session.pending──▶ ExpectOutcome
 *           ExpectPending / ExpectOutcome ──session.failed, error──▶ (ended: chat.failed)
 *           ExpectOutcome ──session.established (caller)──▶ (ended: connect to the callee)
 *           ExpectOutcome ──a session with the friend opened──▶ (ended: withdraw it)
 *           ExpectPending ──a session with the friend opened──▶ ExpectPendingThenWithdraw
 *           ExpectPendingThenWithdraw ──session.pending──▶ (ended: withdraw it)
 *           ExpectPendingThenWithdraw ──session.failed, error──▶ (ended, quietly)
 *   callee: ExpectAnswer (session.incoming) ──answer yes──▶ ExpectEstablished
 *           ExpectAnswer ──answer no──▶ (ended)
 *           ExpectEstablished ──session.established (callee)──▶ (ended: hold the token)
 *           ExpectEstablished ──error answering our yes──▶ (ended: chat.failed, the error's code)
 *           ExpectAnswer / ExpectEstablished ──session.withdrawn──▶ (ended: chat.failed)
 *           ExpectAnswer / ExpectEstablished ──session.incoming, another requestId──▶
 *                                   (ended: chat.failed `replaced`; the new one is ExpectAnswer)
 *
 * Every request ends, whatever its state:
 * - when the link it was sent on ends before the server acknowledged it (ExpectPending: the
 *   answer is lost with the link), with chat.failed reason `server-unavailable`;
 * - when the login it belongs to ends (logout, TTL expiry, a login elsewhere, or a resume the
 *   server refused because it restarted or forgot us), with chat.failed reason `logged-out`: the
 *   server holds no request for a login that is gone. A link drop alone does not end an
 *   acknowledged request: the server keeps a detached user's requests and replays their outcome
 *   on resume, and asks the callee again (same requestId, no second chat.request);
 * - when the friendship ends (friend.removed), with reason `not-friends`;
 * - when the friend's new request takes the place of theirs we hold (the server ended the old one
 *   and its word of it was lost: a cluster node cut off from the bus), with reason `replaced`;
 * - when a session with the friend opens while our own request to them is pending (the friend
 *   asked us at the same moment and we said yes: requests crossing, on one server or across a
 *   cluster's nodes): the user's chat.open has its answer, chat.opened, so the request is
 *   withdrawn at the server (session.cancel; once acknowledged if it is not yet) and ends without
 *   an event. Left pending it would ask the friend again, answer chat.open a second time when it
 *   ended (`timeout` while the chat is open), and refuse the user's next chat.open to the friend
 *   (SESSION_PENDING) once this session closed;
 * - at the latest at its deadline (the server's timeout plus SESSION_OUTCOME_GRACE_MS, or
 *   SESSION_ACK_WAIT_MS before the acknowledgement), with reason `timeout`: an outcome lost in
 *   a race with a dropped link cannot leave it pending for ever.
 *
 * FRAME_RULES says in which request states each session frame is accepted. A frame for a request
 * in a state that does not take it is a protocol error (a `protocol-error` action, the frame is
 * dropped); a frame for no request at all is stale (the request ended here first, say at its
 * deadline) and is dropped quietly. So is the server's late answer (session.pending,
 * session.failed or an error) to a session.request that ended here before it was acknowledged, at
 * its deadline, with its login (the server's HEARTBEAT_TIMEOUT crossed the request, which the
 * server then answers NOT_LOGGED_IN) or with the friendship: its id stays in `unanswered` until
 * that answer comes or the link it went out on ends, so the request has one outcome, not a second
 * one as a stray error.
 *
 * The callee's answer (session.answer) is a request of its own, and the broker holds its id too,
 * not the composition's list of the user's requests: its reply belongs to the session request.
 * A no ends the request at once and its id waits in `unanswered`; a yes waits in
 * ExpectEstablished (`re`) for its session.answered (the token follows) or an error, which ends
 * the request (NO_SUCH_SESSION_REQUEST: it ended on the server first; SERVER_DEGRADED: our node
 * cannot reach the caller's). When the request ends here first (withdrawn, logged out, not
 * friends, its deadline, a new request of the friend's in its place) the id moves to
 * `unanswered`, so a reply that never comes (an answer a cluster node forwarded into a bus it had
 * lost) holds nothing, and a late one is dropped.
 */
import type { ServerFrame, ServerFrameOf } from '../frames.ts';
import { SERVER_REQUESTS_PENDING_MAX, SESSION_ACK_WAIT_MS, SESSION_OUTCOME_GRACE_MS } from '../limits.ts';
import { type ChatFailedReason, type ClientEvent, chatFailed, chatRefused } from './events.ts';
import type { LoginEnd } from './server-link.ts';
import { dropOldestPast } from '../bounded.ts';

export type SessionRequest =
  /** Caller: session.request sent as request `re`, no session.pending yet. */
  | { readonly state: 'ExpectPending'; readonly friend: string; readonly re: number; readonly deadlineMs: number }
  | { readonly state: 'ExpectOutcome'; readonly friend: string; readonly requestId: string; readonly deadlineMs: number }
  /** Caller: a session with the friend opened before session.pending came: withdraw the request once it does. */
  | { readonly state: 'ExpectPendingThenWithdraw'; readonly friend: string; readonly re: number; readonly deadlineMs: number }
  /** Callee: asked, the user has not answered. */
  | { readonly state: 'ExpectAnswer'; readonly friend: string; readonly requestId: string; readonly deadlineMs: number }
  /**
   * Callee: said yes, the token (session.established) has not arrived. `re`: the session.answer
   * that said it, until its reply comes (null: it came, or was lost with the link it went out on).
   */
  | { readonly state: 'ExpectEstablished'; readonly friend: string; readonly requestId: string; readonly deadlineMs: number; readonly re: number | null };

export type SessionRequestStateName = SessionRequest['state'];

type SessionFrameType = 'session.pending' | 'session.failed' | 'session.established' | 'session.withdrawn' | 'session.incoming' | 'session.answered';
export type SessionFrame = ServerFrameOf<SessionFrameType>;

/**
 * In which request states each session frame is accepted (session.incoming starts a request,
 * or refreshes the one it repeats; session.answered, found by its `re`, confirms a yes and is
 * stale otherwise).
 */
export const SESSION_FRAME_RULES: Readonly<Record<SessionFrameType, readonly SessionRequestStateName[]>> = {
  'session.pending': ['ExpectPending', 'ExpectPendingThenWithdraw'],
  'session.failed': ['ExpectPending', 'ExpectOutcome', 'ExpectPendingThenWithdraw'],
  'session.established': ['ExpectOutcome', 'ExpectEstablished'],
  'session.withdrawn': ['ExpectAnswer', 'ExpectEstablished'],
  'session.incoming': ['ExpectAnswer', 'ExpectEstablished'],
  'session.answered': ['ExpectEstablished'],
};

export type BrokerAction =
  | { readonly type: 'event'; readonly event: ClientEvent }
  /** Answer a request (auto-accept, or a yes lost with a dropped link, asked again). */
  | { readonly type: 'answer'; readonly friend: string; readonly requestId: string; readonly accept: boolean }
  /** Caller: the callee said yes; connect to it and say hello with the token. */
  /** vouchedKey: the friend's signKey as the server holds it (null: none registered). */
  | { readonly type: 'connect'; readonly friend: string; readonly token: string; readonly host: string; readonly port: number; readonly vouchedKey: string | null }
  /** Callee: hold this one-time token for the friend's hello. */
  | { readonly type: 'hold-token'; readonly friend: string; readonly token: string; readonly vouchedKey: string | null }
  /** Caller: withdraw our request (session.cancel): a session with the friend is open already. */
  | { readonly type: 'withdraw'; readonly friend: string; readonly requestId: string }
  /**
   * Request `re`'s reply, when it comes, answers nothing (it waits in `unanswered`): whatever the
   * client kept to tell that reply by (the command's ref) can go now, not when the reply comes,
   * since a server that never answers would otherwise have it kept for the link's life.
   */
  | { readonly type: 'reply-answers-nothing'; readonly re: number }
  | { readonly type: 'protocol-error'; readonly frameType: string; readonly state: SessionRequestStateName };

/** The chat.failed reason for the end of a login (see the header). */
const LOGGED_OUT: ChatFailedReason = 'logged-out';
/** The chat.failed reason for a request to or from someone who is no friend any more (the server's own). */
const NOT_FRIENDS: ChatFailedReason = 'not-friends';
/** The chat.failed reason for a friend's request to us that a newer one of theirs took the place of (see onIncoming, and the machine's held tokens). */
export const REPLACED: ChatFailedReason = 'replaced';

const NO_ACTIONS: BrokerAction[] = Object.freeze([]) as unknown as BrokerAction[];

export function isSessionFrame(frame: ServerFrame): frame is SessionFrame {
  return frame.type in SESSION_FRAME_RULES;
}

export class SessionBroker {
  /** Requests this client made, by callee. */
  private readonly outgoing = new Map<string, SessionRequest>();
  /** Requests this client was asked about, by caller. */
  private readonly incoming = new Map<string, SessionRequest>();
  /**
   * Ids of session.requests that ended here unacknowledged, and of session.answers whose request
   * ended here before their reply, while their link lived on: the server's one answer to each is
   * still to come, and is dropped when it does. At most
   * SERVER_REQUESTS_PENDING_MAX (the oldest go first): only a server that never answers fills it.
   * Typed to be asked about a frame's optional `re`: a frame without one answers none of them.
   */
  private readonly unanswered = new Set<number | undefined>();
  private actions: BrokerAction[] = [];

  constructor(private readonly autoAccept: boolean) {}

  // ---- views ----------------------------------------------------------------------------------

  /** Requests not ended, both directions (the simulator's liveness check wants none left). */
  get pendingCount(): number {
    return this.outgoing.size + this.incoming.size;
  }

  hasOutgoing(friend: string): boolean {
    return this.outgoing.has(friend);
  }

  /** The request from `friend` waiting for the user's answer, if any. */
  awaitingAnswer(friend: string): string | null {
    const request = this.incoming.get(friend);
    return request?.state === 'ExpectAnswer' ? request.requestId : null;
  }

  /** We said yes to `friend` and wait for the token: its hello may overtake it. */
  awaitingToken(friend: string): boolean {
    return this.incoming.get(friend)?.state === 'ExpectEstablished';
  }

  requests(): SessionRequest[] {
    return [...this.outgoing.values(), ...this.incoming.values()];
  }

  nextTimeoutMs(): number | null {
    let next: number | null = null;
    for (const request of this.outgoing.values()) if (next === null || request.deadlineMs < next) next = request.deadlineMs;
    for (const request of this.incoming.values()) if (next === null || request.deadlineMs < next) next = request.deadlineMs;
    return next;
  }

  takeActions(): BrokerAction[] {
    const actions = this.actions;
    if (actions.length === 0) return NO_ACTIONS;
    this.actions = [];
    return actions;
  }

  // ---- inputs ---------------------------------------------------------------------------------

  /** chat.open went out as request `re` (null: there was no link to send it on). */
  requested(friend: string, re: number | null, nowMs: number): void {
    if (re === null) return this.emitFailed(friend, 'server-unavailable');
    this.outgoing.set(friend, { state: 'ExpectPending', friend, re, deadlineMs: nowMs + SESSION_ACK_WAIT_MS });
  }

  /** The user's answer went out as request `re` (null: there was no link to send it on: the request waits for one). */
  answered(friend: string, accept: boolean, re: number | null, nowMs: number): void {
    const request = this.incoming.get(friend);
    if (request?.state !== 'ExpectAnswer' || re === null) return;
    if (!accept) {
      // Ended here: the server's reply to the no is still owed, and is nobody's outcome.
      this.incoming.delete(friend);
      this.owe(re);
      return;
    }
    this.incoming.set(friend, { state: 'ExpectEstablished', friend, requestId: request.requestId, deadlineMs: Math.max(request.deadlineMs, nowMs), re });
  }

  /**
   * A session with `friend` opened, whichever of us asked for it: our own request to them, if one
   * is pending, has had its answer (chat.opened) and is withdrawn (see the header).
   */
  sessionOpened(friend: string): void {
    const request = this.outgoing.get(friend);
    if (request?.state === 'ExpectOutcome') {
      this.outgoing.delete(friend);
      this.actions.push({ type: 'withdraw', friend, requestId: request.requestId });
    } else if (request?.state === 'ExpectPending') {
      this.outgoing.set(friend, { ...request, state: 'ExpectPendingThenWithdraw' });
    }
  }

  /** The session.cancel withdrawing a request went out as request `re`: its reply answers nothing here. */
  withdrawSent(re: number): void {
    this.owe(re);
  }

  /** An error answered request `re`; true when it was one of ours (a session.request, session.answer or session.cancel). */
  requestFailed(re: number, code: string): boolean {
    if (this.unanswered.delete(re)) return true;
    for (const request of this.outgoing.values()) {
      // Stryker disable next-line ConditionalExpression: in `outgoing` only these two states carry `re` (the others read undefined); the test narrows the type
      if ((request.state !== 'ExpectPending' && request.state !== 'ExpectPendingThenWithdraw') || request.re !== re) continue;
      this.outgoing.delete(request.friend);
      // A request being withdrawn had its answer already (the session that opened).
      if (request.state === 'ExpectPending') this.actions.push({ type: 'event', event: chatRefused(request.friend, code, false) });
      return true;
    }
    for (const request of this.incoming.values()) {
      if (request.state !== 'ExpectEstablished' || request.re !== re) continue;
      // Our yes was refused: no token will come for it.
      this.incoming.delete(request.friend);
      this.actions.push({ type: 'event', event: chatRefused(request.friend, code, true) });
      return true;
    }
    return false;
  }

  onFrame(frame: SessionFrame, nowMs: number): void {
    switch (frame.type) {
      case 'session.incoming':
        return this.onIncoming(frame, nowMs);
      case 'session.answered':
        return this.onAnswered(frame);
      case 'session.pending':
      case 'session.failed': {
        if (this.unanswered.delete(frame.re)) return;
        const request = this.outgoing.get(frame.username);
        if (request === undefined || !this.matches(request, frame)) return;
        if (!this.allowed(frame.type, request)) return;
        if (frame.type === 'session.failed') {
          this.outgoing.delete(frame.username);
          if (request.state === 'ExpectPendingThenWithdraw') return;
          return this.emitFailed(frame.username, frame.reason);
        }
        if (request.state === 'ExpectPendingThenWithdraw') {
          this.outgoing.delete(frame.username);
          this.actions.push({ type: 'withdraw', friend: frame.username, requestId: frame.requestId });
          return;
        }
        this.outgoing.set(frame.username, {
          state: 'ExpectOutcome',
          friend: frame.username,
          requestId: frame.requestId,
          deadlineMs: nowMs + frame.timeoutMs + SESSION_OUTCOME_GRACE_MS,
        });
        return;
      }
      case 'session.established':
        return this.onEstablished(frame);
      case 'session.withdrawn': {
        const request = this.incoming.get(frame.from);
        if (request === undefined || !this.matches(request, frame) || !this.allowed(frame.type, request)) return;
        this.incoming.delete(frame.from);
        return this.end(request, frame.reason);
      }
    }
  }

  /**
   * The link ended: requests it had not had acknowledged end (their answer is lost with it);
   * the rest belong to the login and wait for it to be taken back.
   */
  linkLost(): void {
    this.unanswered.clear();
    for (const request of [...this.outgoing.values()]) {
      if (request.state !== 'ExpectPending' && request.state !== 'ExpectPendingThenWithdraw') continue;
      this.outgoing.delete(request.friend);
      if (request.state === 'ExpectPending') this.emitFailed(request.friend, 'server-unavailable');
    }
    // A yes whose reply the link took waits on: the server asks again once the login is back.
    for (const request of [...this.incoming.values()]) {
      // Stryker disable next-line all: only a yes still awaiting its reply changes; re: null on any other incoming request (or one already null) is read by nothing
      if (request.state === 'ExpectEstablished' && request.re !== null) this.incoming.set(request.friend, { ...request, re: null });
    }
  }

  /** The login ended: every request, in any state, ends with it. */
  loginEnded(_reason: LoginEnd): void {
    const ended = this.requests();
    this.outgoing.clear();
    this.incoming.clear();
    for (const request of ended) this.end(request, LOGGED_OUT);
  }

  /**
   * The friendship with `friend` ended: its requests, both ways, end with chat.failed reason
   * `not-friends` (the server ends its side of them too, and says so first as a rule; this
   * covers a request whose end it told while our link was down).
   */
  friendRemoved(friend: string): void {
    for (const map of [this.outgoing, this.incoming]) {
      const request = map.get(friend);
      if (request === undefined) continue;
      map.delete(friend);
      this.end(request, NOT_FRIENDS);
    }
  }

  handleTimeout(nowMs: number): void {
    for (const map of [this.outgoing, this.incoming]) {
      for (const request of [...map.values()]) {
        if (request.deadlineMs > nowMs) continue;
        map.delete(request.friend);
        this.end(request, 'timeout');
      }
    }
  }

  // ---- frames ---------------------------------------------------------------------------------

  private onIncoming(frame: ServerFrameOf<'session.incoming'>, nowMs: number): void {
    const deadlineMs = nowMs + frame.timeoutMs + SESSION_OUTCOME_GRACE_MS;
    const known = this.incoming.get(frame.from);
    if (known !== undefined && this.matches(known, frame) && this.allowed(frame.type, known)) {
      // Asked again after we resumed: the same request, not a new one.
      if (known.state === 'ExpectEstablished') {
        // Our yes was lost with the link: say it again (answered() moves it back here).
        // Stryker disable next-line all: the server asks again only after a resume, and linkLost() has set every ExpectEstablished re to null by then; owe(null) matches no frame
        if (known.re !== null) this.owe(known.re);
        this.incoming.set(frame.from, { state: 'ExpectAnswer', friend: frame.from, requestId: frame.requestId, deadlineMs });
        this.actions.push({ type: 'answer', friend: frame.from, requestId: frame.requestId, accept: true });
        return;
      }
      this.incoming.set(frame.from, { ...known, deadlineMs });
      return;
    }
    // A new request of the friend's takes the place of the one we hold (one per friend and
    // direction): the server ended that one and its word of it was lost (a cluster node cut off
    // from the bus). It ends here, told to the user before the new one is: the user was asked
    // about it, and a yes to it is answered (chat.failed with the yes's ref), not left waiting.
    // A yes still awaiting its reply is owed, as when any request ends here; kept, its id waited
    // for a reply that never came for the rest of the link's life (the liveness check, a swarm of
    // cluster-three-nodes.yaml, root seed 1709).
    if (known !== undefined) this.end(known, REPLACED);
    this.incoming.set(frame.from, { state: 'ExpectAnswer', friend: frame.from, requestId: frame.requestId, deadlineMs });
    if (this.autoAccept) {
      this.actions.push({ type: 'answer', friend: frame.from, requestId: frame.requestId, accept: true });
      return;
    }
    this.actions.push({ type: 'event', event: { event: 'chat.request', from: frame.from, timeoutMs: frame.timeoutMs } });
  }

  private onEstablished(frame: ServerFrameOf<'session.established'>): void {
    const friend = frame.username;
    // Each role looks in its own map, so the table's two states split by role: a caller's request
    // allowed here is ExpectOutcome, a callee's ExpectEstablished.
    const map = frame.role === 'caller' ? this.outgoing : this.incoming;
    const request = map.get(friend);
    if (request === undefined || !this.matches(request, frame)) return;
    if (!this.allowed(frame.type, request)) return;
    map.delete(friend);
    // Stryker disable next-line all: the server sends session.answered before session.established on the same link, so re is null here; an answered that came later finds no request and is dropped either way
    if (request.state === 'ExpectEstablished' && request.re !== null) this.owe(request.re);
    if (frame.role === 'callee') {
      this.actions.push({ type: 'hold-token', friend, token: frame.token, vouchedKey: frame.identity?.signKey ?? null });
      return;
    }
    if (frame.host === undefined || frame.port === undefined) return this.emitFailed(friend, 'unreachable');
    this.actions.push({ type: 'connect', friend, token: frame.token, host: frame.host, port: frame.port, vouchedKey: frame.identity?.signKey ?? null });
  }

  /** Whether a frame names this request (a request not yet acknowledged has no requestId). */
  private matches(request: SessionRequest, frame: { readonly requestId?: string | undefined; readonly re?: number | undefined }): boolean {
    if (request.state === 'ExpectPending' || request.state === 'ExpectPendingThenWithdraw') return frame.re === request.re;
    return frame.requestId === undefined || frame.requestId === request.requestId;
  }

  private allowed(frameType: SessionFrameType, request: SessionRequest): boolean {
    if (SESSION_FRAME_RULES[frameType].includes(request.state)) return true;
    this.actions.push({ type: 'protocol-error', frameType, state: request.state });
    return false;
  }

  /** Our yes is taken (the token comes next); the reply to an answer that ended here first is dropped. */
  private onAnswered(frame: ServerFrameOf<'session.answered'>): void {
    if (this.unanswered.delete(frame.re)) return;
    for (const request of this.incoming.values()) {
      if (request.state !== 'ExpectEstablished' || request.re !== frame.re) continue;
      this.incoming.set(request.friend, { ...request, re: null });
      return;
    }
  }

  /**
   * Ends a request here with chat.failed `reason`; the reply still owed to the request that
   * carried it (a session.request not acknowledged, a session.answer not confirmed) waits in `unanswered`.
   */
  private end(request: SessionRequest, reason: ChatFailedReason): void {
    if (request.state === 'ExpectPending' || request.state === 'ExpectPendingThenWithdraw') this.owe(request.re);
    // Stryker disable next-line ConditionalExpression: owe(null) matches no frame (a frame's re is a number or absent), and only ExpectEstablished carries a numeric re in `incoming`
    if (request.state === 'ExpectEstablished' && request.re !== null) this.owe(request.re);
    // A request being withdrawn had its answer already: the session that opened.
    if (request.state === 'ExpectPendingThenWithdraw') return;
    this.emitFailed(request.friend, reason, request.state === 'ExpectAnswer' || request.state === 'ExpectEstablished');
  }

  /** Request `re`'s reply is still to come and answers nothing here any more (the oldest go first past the bound). */
  private owe(re: number): void {
    this.unanswered.add(re);
    this.actions.push({ type: 'reply-answers-nothing', re });
    dropOldestPast(this.unanswered, SERVER_REQUESTS_PENDING_MAX);
  }

  /**
   * incoming: the request was the friend's (we are the callee), said on the event: a request of
   * ours to the same friend may be pending at the same time, and its outcome is another event.
   */
  private emitFailed(friend: string, reason: ChatFailedReason, incoming = false): void {
    this.actions.push({ type: 'event', event: chatFailed(friend, reason, incoming) });
  }
}
