/**
 * The simulator's protocol client: one simulated user speaking the client↔server frames of
 * core/frames.ts through the real codec over a Transport. It keeps the link alive the way a real
 * client must (heartbeat every welcome.heartbeatMs; a link silent for a TTL is presumed dead and
 * reset), reconnects with jittered exponential backoff and resumes with its token, falling back to
 * the password when the token is gone (server restart, TTL expiry).
 *
 * The light alternative to the real peer machine (peer-machine-driver.ts) behind the PeerDriver
 * interface: it speaks only to the server (no chat messages or files) and costs about a third as
 * much per event, which is what 10,000- and 100,000-peer storms need.
 */
import { FrameDecoder, encodeControl } from '../../core/codec.ts';
import type { ClientFrame, PresenceStatus, ServerFrame } from '../../core/frames.ts';
import type { Stream, Transport } from '../../core/transport.ts';
import type { AnswerPolicy, PeerDriver, PeerObserver, SessionOutcome, StepOutcome } from './peer-driver.ts';
import type { Prng } from '../world/prng.ts';
import { Scope, type SimClock } from '../world/sim-clock.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../world/server-node.ts';

export const REQUEST_TIMEOUT_MS = 15_000;
export const RECONNECT_BACKOFF_MS_MIN = 250;
export const RECONNECT_BACKOFF_MS_MAX = 8_000;
/** Port a simulated peer would accept P2P connections on (announced when it accepts a session). */
const P2P_PORT = 5000;
/** Before the welcome says otherwise. */
const HEARTBEAT_MS_DEFAULT = 10_000;
const TTL_MS_DEFAULT = 30_000;

type Reply = (frame: ServerFrame | null) => void;

/** The heartbeat frame never changes: encoded once (receivers only read the bytes). */
const HEARTBEAT_BYTES = encodeControl({ type: 'heartbeat' });
/** The server's answer to HEARTBEAT_BYTES (it has no `re`, as the heartbeat has no id). */
const HEARTBEAT_ACK_BYTES = encodeControl({ type: 'heartbeat.ack' } satisfies ServerFrame);
type ServerFrameWithRe = ServerFrame & { re?: number };

export interface ProtocolClientOptions {
  readonly username: string;
  readonly address: string;
  readonly transport: Transport;
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly observer: PeerObserver;
}

export class ProtocolClient implements PeerDriver {
  readonly username: string;
  readonly presenceView = new Map<string, PresenceStatus>();
  alive = true;
  private wantOnline = false;
  private silent = false;
  private scope = new Scope();
  /** Virtual time; every timer this client sets goes through later(), owned by its scope. */
  private readonly clock: SimClock;
  private stream: Stream | null = null;
  private welcomed = false;
  private loggedIn = false;
  private decoder = new FrameDecoder();
  private password: string | null = null;
  private resumeToken: string | null = null;
  private nextRequestId = 1;
  private readonly pending = new Map<number, Reply>();
  private readonly sessionWaiters = new Map<string, (outcome: SessionOutcome) => void>();
  private linkWaiters: Array<(ok: boolean) => void> = [];
  private heartbeatMs = HEARTBEAT_MS_DEFAULT;
  private ttlMs = TTL_MS_DEFAULT;
  private lastHeardMs = 0;
  private heartbeatArmed = false;
  private reconnectAttempt = 0;
  private reconnectArmed = false;
  private answerPolicy: AnswerPolicy = 'accept';
  private answerDelayMs: () => number = () => 0;
  /** Made once: a heartbeat tick is the commonest timer and needs no closure of its own. */
  private readonly heartbeatTick = (): void => this.onHeartbeatTick();

  constructor(private readonly options: ProtocolClientOptions) {
    this.username = options.username;
    this.clock = options.clock;
  }

  get truthOnline(): boolean {
    return this.wantOnline && this.alive && !this.silent;
  }

  // ---- steps ------------------------------------------------------------------------------------

  signup(password: string, done: (outcome: StepOutcome) => void): void {
    this.request({ type: 'signup', username: this.username, password }, (frame) => done(outcomeOf(frame, 'signup.ok')));
  }

  login(password: string, done: (outcome: StepOutcome) => void): void {
    if (this.loggedIn) return done('ALREADY_LOGGED_IN');
    this.request({ type: 'login', username: this.username, password }, (frame) => {
      if (frame?.type === 'login.ok') {
        this.password = password;
        this.onLoggedIn(frame);
      }
      done(outcomeOf(frame, 'login.ok'));
    });
  }

  logout(done: (outcome: StepOutcome) => void): void {
    if (!this.loggedIn) return done('NOT_LOGGED_IN');
    this.setWantOnline(false);
    this.request({ type: 'logout' }, (frame) => {
      if (frame?.type === 'logout.ok') {
        this.loggedIn = false;
        this.resumeToken = null;
        this.clearView();
        this.stream?.close();
      }
      done(outcomeOf(frame, 'logout.ok'));
    });
  }

  friendRequest(username: string, done: (outcome: StepOutcome) => void): void {
    this.request({ type: 'friend.request', username }, (frame) => {
      if (frame?.type === 'friend.added') this.presenceView.set(frame.username, frame.status);
      done(frame?.type === 'friend.added' ? 'ok' : outcomeOf(frame, 'friend.requested'));
    });
  }

  sessionRequest(username: string, done: (outcome: SessionOutcome) => void): void {
    if (!this.loggedIn) return done('NOT_LOGGED_IN');
    this.options.observer.onCounter('session_requests');
    this.request({ type: 'session.request', username }, (frame) => {
      if (frame?.type === 'session.pending') {
        this.options.observer.onSessionPending(this, frame.requestId, username, frame.timeoutMs);
        this.sessionWaiters.set(frame.requestId, done);
        return;
      }
      if (frame?.type === 'session.failed') {
        this.options.observer.onSessionFailed(this, frame.requestId, username, frame.reason);
        return done(frame.reason);
      }
      done(outcomeOf(frame, 'session.pending'));
    });
  }

  setAnswerPolicy(policy: AnswerPolicy, delayMs: () => number): void {
    this.answerPolicy = policy;
    this.answerDelayMs = delayMs;
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
    this.dropLink('CRASHED');
    this.clearView();
    this.resumeToken = null;
  }

  restart(): void {
    if (this.alive) return;
    this.alive = true;
    this.silent = false;
    this.scope = new Scope();
    this.heartbeatArmed = false;
    this.reconnectArmed = false;
    this.reconnectAttempt = 0;
  }

  // ---- the link ---------------------------------------------------------------------------------

  private request(frame: ClientFrame, reply: Reply): void {
    if (!this.alive || this.silent) return reply(null);
    this.ensureLink((ok) => {
      if (!ok) return reply(null);
      const id = this.nextRequestId++;
      this.pending.set(id, reply);
      this.later(REQUEST_TIMEOUT_MS, () => {
        const waiting = this.pending.get(id);
        if (waiting === undefined) return;
        this.pending.delete(id);
        waiting(timeoutFrame());
      });
      this.write({ ...frame, id });
    });
  }

  /** A timer of this incarnation: a crash kills the scope and with it every pending one. */
  private later(delayMs: number, fn: () => void): void {
    this.clock.post(this.clock.nowMs() + delayMs, fn, this.scope);
  }

  private write(frame: ClientFrame): void {
    this.stream?.write(encodeControl(frame));
  }

  private ensureLink(then: (ok: boolean) => void): void {
    if (this.welcomed) return then(true);
    this.linkWaiters.push(then);
    if (this.stream === null) this.openLink();
  }

  private openLink(): void {
    this.decoder = new FrameDecoder();
    // The handlers come from methods, not arrow literals here: tsx keeps function names, which
    // costs a defineProperty per named closure, four per connection.
    const link: { stream: Stream | null } = { stream: null };
    const stream = this.options.transport.connect(SERVER_ADDRESS, SERVER_PORT, {
      onOpen: ignoreEvent,
      onData: this.linkDataHandler(link),
      onDrain: ignoreEvent,
      onClose: this.linkCloseHandler(link),
    });
    link.stream = stream;
    this.stream = stream;
  }

  /** Bytes of one link, read only while it is still the current one. */
  private linkDataHandler(link: { stream: Stream | null }): (bytes: Uint8Array) => void {
    return (bytes) => {
      if (link.stream !== null && this.stream === link.stream) this.onBytes(bytes);
    };
  }

  private linkCloseHandler(link: { stream: Stream | null }): () => void {
    return () => {
      if (link.stream === null || this.stream !== link.stream) return;
      this.stream = null;
      this.dropLink('DISCONNECTED');
    };
  }

  /** The link is gone: everything waiting on it fails, and a user who means to be online comes back. */
  private dropLink(code: string): void {
    const wasWelcomed = this.welcomed;
    this.welcomed = false;
    this.loggedIn = false;
    const replies = [...this.pending.values()];
    this.pending.clear();
    const sessions = [...this.sessionWaiters.values()];
    this.sessionWaiters.clear();
    const waiters = this.linkWaiters;
    this.linkWaiters = [];
    if (wasWelcomed) this.options.observer.onLinkLost(this);
    for (const reply of replies) reply(errorFrame(code));
    for (const done of sessions) done(code);
    for (const then of waiters) then(false);
    if (this.wantOnline && this.alive && !this.silent) this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectArmed) return;
    this.reconnectArmed = true;
    const baseMs = Math.min(RECONNECT_BACKOFF_MS_MAX, RECONNECT_BACKOFF_MS_MIN * 2 ** this.reconnectAttempt);
    this.reconnectAttempt += 1;
    const delayMs = baseMs * (0.5 + this.options.prng.float());
    this.later(delayMs, () => {
      this.reconnectArmed = false;
      if (!this.wantOnline || this.loggedIn) return;
      this.options.observer.onCounter('reconnects');
      this.relogin();
    });
  }

  /** Back online after a lost link or a server-side logout: the token first, the password if it is gone. */
  private relogin(): void {
    const token = this.resumeToken;
    const viaPassword = (): void => {
      const password = this.password;
      if (password === null) return;
      this.request({ type: 'login', username: this.username, password }, (frame) => {
        if (frame?.type === 'login.ok') return this.onLoggedIn(frame);
        if (this.wantOnline && this.alive && !this.silent && !this.loggedIn) this.scheduleReconnect();
      });
    };
    if (token === null) return viaPassword();
    this.request({ type: 'resume', username: this.username, token }, (frame) => {
      if (frame?.type === 'login.ok') return this.onLoggedIn(frame);
      this.resumeToken = null;
      if (frame?.type === 'error' && frame.code === 'BAD_RESUME_TOKEN') return viaPassword();
      if (this.wantOnline && this.alive && !this.silent && !this.loggedIn) this.scheduleReconnect();
    });
  }

  private onLoggedIn(frame: Extract<ServerFrame, { type: 'login.ok' }>): void {
    this.loggedIn = true;
    this.resumeToken = frame.resumeToken;
    this.reconnectAttempt = 0;
    this.presenceView.clear();
    for (const friend of frame.friends) this.presenceView.set(friend.username, friend.status);
    this.options.observer.onViewReset(this);
    this.setWantOnline(true);
    this.armHeartbeat();
  }

  private armHeartbeat(): void {
    if (this.heartbeatArmed) return;
    this.heartbeatArmed = true;
    this.later(this.heartbeatMs, this.heartbeatTick);
  }

  private onHeartbeatTick(): void {
    this.heartbeatArmed = false;
    if (!this.loggedIn || this.silent || !this.alive) return;
    const stream = this.stream;
    if (stream !== null && this.clock.nowMs() - this.lastHeardMs > this.ttlMs) {
      // Nothing heard for a whole TTL: the link is dead (a cut, a vanished server). Start over.
      stream.reset();
      return;
    }
    stream?.write(HEARTBEAT_BYTES);
    this.armHeartbeat();
  }

  // ---- frames from the server -------------------------------------------------------------------

  private onBytes(bytes: Uint8Array): void {
    if (this.silent) return;
    this.lastHeardMs = this.clock.nowMs();
    // The commonest frame by far, and one that asks nothing of us: an ack of a heartbeat without
    // an id. When it arrives whole on a frame boundary, decoding it would change nothing.
    if (this.decoder.buffered === 0 && !this.decoder.failed && sameBytes(bytes, HEARTBEAT_ACK_BYTES)) return;
    this.decoder.push(bytes);
    for (let frame = this.decoder.next(); frame !== null; frame = this.decoder.next()) {
      if (frame.kind !== 'control') continue;
      this.onFrame(frame.message as ServerFrameWithRe);
      if (this.stream === null || this.silent) return;
    }
  }

  private onFrame(frame: ServerFrameWithRe): void {
    if (frame.re !== undefined) {
      const reply = this.pending.get(frame.re);
      if (reply !== undefined) {
        this.pending.delete(frame.re);
        return reply(frame);
      }
    }
    switch (frame.type) {
      case 'welcome': {
        this.welcomed = true;
        this.heartbeatMs = frame.heartbeatMs;
        this.ttlMs = frame.ttlMs;
        const waiters = this.linkWaiters;
        this.linkWaiters = [];
        for (const then of waiters) then(true);
        return;
      }
      case 'error':
        if (frame.code === 'HEARTBEAT_TIMEOUT') this.onServerLogout();
        return;
      case 'presence':
        return this.setView(frame.username, frame.status);
      case 'friend.added':
        // A new friend's status is not a presence change: it joins the view silently.
        this.presenceView.set(frame.username, frame.status);
        return;
      case 'friend.removed':
        this.presenceView.delete(frame.username);
        return this.options.observer.onPresenceView(this, frame.username, null);
      case 'friend.incoming':
        return this.write({ type: 'friend.accept', username: frame.from });
      case 'session.incoming':
        return this.onSessionIncoming(frame.requestId);
      case 'session.established':
        return this.onSessionEstablished(frame);
      case 'session.failed': {
        this.options.observer.onSessionFailed(this, frame.requestId, frame.username, frame.reason);
        if (frame.requestId === undefined) return;
        const done = this.sessionWaiters.get(frame.requestId);
        this.sessionWaiters.delete(frame.requestId);
        done?.(frame.reason);
        return;
      }
      default:
        return;
    }
  }

  /** The server logged us out (TTL): the token died with it. */
  private onServerLogout(): void {
    this.loggedIn = false;
    this.resumeToken = null;
    this.clearView();
    if (this.wantOnline) this.relogin();
  }

  private onSessionIncoming(requestId: string): void {
    const policy = this.answerPolicy;
    if (policy === 'ignore') return;
    const accept = policy === 'accept';
    this.later(this.answerDelayMs(), () => {
      if (!this.loggedIn || this.silent) return;
      this.options.observer.onSessionAnswer(this, requestId, accept);
      const frame: ClientFrame = accept
        ? { type: 'session.answer', requestId, accept, host: this.options.address, port: P2P_PORT }
        : { type: 'session.answer', requestId, accept };
      this.write(frame);
    });
  }

  private onSessionEstablished(frame: Extract<ServerFrame, { type: 'session.established' }>): void {
    this.options.observer.onSessionEstablished(this, frame.requestId, frame.role, frame.username);
    if (frame.role !== 'caller') return;
    const done = this.sessionWaiters.get(frame.requestId);
    this.sessionWaiters.delete(frame.requestId);
    done?.('established');
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

function errorFrame(code: string): ServerFrame {
  return { type: 'error', code, message: code };
}

function timeoutFrame(): ServerFrame {
  return errorFrame('TIMEOUT');
}

function outcomeOf(frame: ServerFrame | null, okType: ServerFrame['type']): StepOutcome {
  if (frame === null) return 'NOT_CONNECTED';
  if (frame.type === okType) return 'ok';
  if (frame.type === 'error') return frame.code;
  return `UNEXPECTED_${frame.type}`;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
