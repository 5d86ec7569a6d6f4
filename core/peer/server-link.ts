/**
 * The server link: one client's connection to the server and the login it carries, as a pure
 * state machine. The peer machine (machine.ts) composes it; the simulator's light client
 * (sim/drivers/light-client.ts) runs it alone. There is no other implementation of heartbeats,
 * reconnect backoff or resume.
 *
 * Theory of operation
 * -------------------
 * Inputs are method calls (`start`, `opened`, `bytes`, `closed`, `login`, `logout`, `quit`,
 * `request`, `handleTimeout(nowMs)`); what the runtime must do and what the composition must know
 * come out of `takeActions()` as data. `nextTimeoutMs()` says when the link next needs
 * `handleTimeout`; early or repeated calls are harmless. No clock, no I/O; the reconnect jitter
 * comes from the seed it is given.
 *
 * The link is in one state (LinkState), named for what it waits for, holding only that state's
 * data:
 *
 *   ExpectStart ──start──▶ ExpectOpen ──open──▶ ExpectWelcome ──welcome, nobody to resume──▶ ExpectLogin
 *                                                     └──welcome, a login to take back──▶ ExpectLoginOk (resume)
 *   ExpectLogin ──login──▶ ExpectLoginOk ──login.ok──▶ LoggedIn
 *                               └──error──▶ ExpectLogin      (a refused resume tries the password first)
 *                               └──SERVER_DEGRADED──▶ ExpectReconnect (`server-degraded`; the login is
 *                                  sent again on the next link: the user's at most
 *                                  LOGIN_DEGRADED_RETRIES_MAX times, then the refusal is its answer;
 *                                  a held one (resume, relogin) like any lost link)
 *                               └──closed before an answer──▶ ExpectOpen (idle close) or ExpectReconnect,
 *                                  holding the user's login (LoginOwed): sent again once welcomed,
 *                                  same id, at most LOGIN_RESENDS_MAX times (connects refused
 *                                  meanwhile are no lost links: waited out up to
 *                                  LOGIN_UNREACHED_WAIT_MS)
 *   LoggedIn ──logout / quit──▶ ExpectLogoutOk ──logout.ok──▶ ExpectLogin (or Closed after quit)
 *                                    └──closed / silent for ttlMs──▶ ExpectReconnect, holding no login:
 *                                       the logout is done here (`logged-out-here`, see below)
 *   holding a login to take back (ExpectReconnect, ExpectOpen, ExpectWelcome; ExpectLoginOk via
 *   resume or relogin) ──logout──▶ the same, holding no login (ExpectLoginOk: its link closed and
 *   a new one made at once)
 *   LoggedIn ──error HEARTBEAT_TIMEOUT / LOGGED_IN_ELSEWHERE──▶ ExpectLogin
 *   connected ──closed / silent for ttlMs / broken framing──▶ ExpectReconnect ──backoff──▶ ExpectOpen
 *   any ──quit when not logged in, or quit's logout done or timed out──▶ Closed
 *
 * While logged in the link heartbeats every heartbeatMs (from the welcome). In every connected
 * state but ExpectLogin (where the server has nothing to say) it presumes a link silent for a
 * whole TTL dead and resets it. A dropped link holding a login comes back with jittered
 * exponential backoff (backoff.ts, limits from core/limits.ts) and `resume`s with the token from
 * login.ok (the server kept the user online, so friends see no flap); a refused token (the server
 * restarted, or the TTL ran out) falls back to a password login with the password held in memory.
 * A password change whose answer the drop took (Account.passwordPending) is settled then: the
 * server, once it applied the change, refuses the old token and the old password, so the new
 * password is tried first and the old one after it; whichever logs in is kept, and a
 * `password-settled` action says whether the change happened. When neither logs in, the login
 * ends (`login-ended` relogin-refused) with the change unsettled: the machine says so.
 *
 * One login at a time: the user's login is not sent while a login (the user's, or the link's own
 * resume or relogin) or a logout awaits its answer (see `login`); the user's logout only from
 * LoggedIn, with nothing else awaiting its answer (see `logout`).
 *
 * A logout is the user's wish to be gone, and is answered once, at once when the server cannot
 * take it: when the link drops before its logout.ok, or the user logs out while the link is down
 * holding a login to take back, the link ends the login here (`logged-out-here`). It forgets the
 * login (the token and the password with it), takes nothing back and sends nothing more for it;
 * the server, hearing no heartbeat, ends the login itself when its TTL passes.
 *
 * FRAME_RULES says in which states each server frame is accepted. A frame it does not allow is a
 * protocol error (a `protocol-error` action; the frame is dropped), as on the server. Frames the
 * link does not consume itself go to the composition as `frame` actions: replies to its requests,
 * pushes (presence, friends, sessions).
 */
import { FrameDecoder, encodeControl, knownPayload } from '../codec.ts';
import { type ClientFrame, type ServerFrame, type ServerFrameOf, type ServerFrameType, serverFrameFastPath, serverFrameSchema } from '../frames.ts';
import { HEARTBEATS_PER_TTL, LOGIN_DEGRADED_RETRIES_MAX, LOGIN_RESENDS_MAX, LOGIN_UNREACHED_WAIT_MS, QUIT_LOGOUT_WAIT_MS, TTL_MS_DEFAULT } from '../limits.ts';
import { Backoff } from './backoff.ts';
import type { IdentityKeys } from '../identity.ts';

/** The login the link holds: the password stays in memory only, to log in again after a server restart. */
export interface Account {
  readonly username: string;
  readonly password: string;
  readonly resumeToken: string | null;
  /**
   * The new password of an account.password whose answer has not come: once the server applied
   * it, the old password and the old token no longer work. If the link drops before the answer,
   * taking the login back finds out which password holds (see `relogin`), and says so
   * (`password-settled`).
   */
  readonly passwordPending?: string;
  /**
   * The server refused passwordPending when the login was taken back: the change never happened,
   * and the old password is tried next. Still unsettled until that login answers: the old one
   * may be refused too (relogin-refused), and then it does not "still work".
   */
  readonly passwordPendingRefused?: true;
}

/**
 * A password login the user asked for whose answer was lost with its link (the server closed an
 * idle connection just as the login went out, or the link dropped): sent again, under the same
 * id, on the next link, so the reply answers the user's command.
 */
export interface LoginOwed {
  readonly username: string;
  readonly password: string;
  readonly requestId: number;
  /** Links it was lost with so far; at LOGIN_RESENDS_MAX it is given up (SERVER_UNAVAILABLE). */
  readonly losses: number;
  /**
   * When it was last lost with a link. Connects that never open do not count as losses: the
   * login waits for the server to be reached up to LOGIN_UNREACHED_WAIT_MS from then.
   */
  readonly lostAtMs: number;
  /** SERVER_DEGRADED refusals so far; past LOGIN_DEGRADED_RETRIES_MAX the refusal is the answer. */
  readonly refusals: number;
}

/** How a login was asked for: by the user, or by the link taking a dropped login back. */
export type LoginVia = 'login' | 'resume' | 'relogin';

/** Why a login the link held ended (the requests that belonged to it end with it). */
/**
 * resume-refused: the server no longer knew our token (it restarted, or the TTL ran out while we
 * were away), so whatever belonged to that login is gone there, even if the password gets us in
 * again; relogin-refused: the password failed too, and we stay logged out.
 */
export type LoginEnd = 'logout' | 'HEARTBEAT_TIMEOUT' | 'LOGGED_IN_ELSEWHERE' | 'resume-refused' | 'relogin-refused';

interface Conn {
  readonly linkId: number;
  readonly decoder: FrameDecoder;
  readonly localAddress: string | null;
  /** Last time any byte arrived: a link silent for ttlMs is presumed dead. */
  lastRxMs: number;
  /** When the link next heartbeats or checks for silence. */
  tickAtMs: number;
  /** From the welcome (defaults before it). */
  ttlMs: number;
  heartbeatMs: number;
  /** The server closed this not-logged-in link for idleness: come back at once, no outage. */
  idleClosed: boolean;
}

export type LinkState =
  | { readonly state: 'ExpectStart' }
  /**
   * `outage`: a `disconnected` was reported and its `reconnected` is still due. `loginOwed`: a
   * user's login to send again once welcomed (never with `resumeWith`: that login is ours already).
   */
  | { readonly state: 'ExpectOpen'; readonly linkId: number; readonly resumeWith: Account | null; readonly loginOwed: LoginOwed | null; readonly outage: boolean }
  | { readonly state: 'ExpectWelcome'; readonly conn: Conn; readonly resumeWith: Account | null; readonly loginOwed: LoginOwed | null; readonly outage: boolean }
  | { readonly state: 'ExpectLogin'; readonly conn: Conn }
  /**
   * `password`: the one this login tries, when it is not the account's (a pending change's new
   * one). losses and refusals: for the user's login (via `login`), the links it was already lost
   * with and the SERVER_DEGRADED refusals it had (see LoginOwed).
   */
  | {
      readonly state: 'ExpectLoginOk';
      readonly conn: Conn;
      readonly requestId: number;
      readonly via: LoginVia;
      readonly account: Account;
      readonly outage: boolean;
      readonly password?: string;
      readonly losses: number;
      readonly refusals: number;
    }
  | { readonly state: 'LoggedIn'; readonly conn: Conn; readonly account: Account }
  /** `quitAtMs`: set when the logout is the user quitting; the link closes then at the latest. */
  | { readonly state: 'ExpectLogoutOk'; readonly conn: Conn; readonly account: Account; readonly requestId: number; readonly quitAtMs: number | null }
  | { readonly state: 'ExpectReconnect'; readonly reconnectAtMs: number; readonly resumeWith: Account | null; readonly loginOwed: LoginOwed | null; readonly outage: boolean }
  | { readonly state: 'Closed' };

export type LinkStateName = LinkState['state'];

export type LinkAction =
  | { readonly type: 'connect'; readonly linkId: number }
  | { readonly type: 'send'; readonly linkId: number; readonly frame: ClientFrame }
  | { readonly type: 'close'; readonly linkId: number }
  /** The server welcomed us on a new link. */
  | { readonly type: 'up' }
  /**
   * The link ended (closed by either side); replies still owed on it are lost, but for the
   * requests in `resending` (a user's login, see LoginOwed), which the link sends again itself,
   * under the same id.
   */
  | { readonly type: 'link-lost'; readonly resending: readonly number[] }
  /** A welcomed link dropped (once per outage) ... */
  | { readonly type: 'disconnected' }
  /** ... and the link is back, with the login taken back if there was one (or lost for good). */
  | { readonly type: 'reconnected' }
  | { readonly type: 'logged-in'; readonly via: LoginVia; readonly frame: ServerFrameOf<'login.ok'> }
  | { readonly type: 'login-ended'; readonly reason: LoginEnd }
  /**
   * The user's logout ended the login here, the server being out of reach: the answer to that
   * logout. `requestId`: the logout the link dropped under before its logout.ok; null: a logout
   * typed while the link was down (or taking its login back), never sent. Comes after the
   * `login-ended` (reason logout) it answers, and before the `link-lost` of a drop. The server ends
   * the login itself when its TTL passes without a heartbeat.
   */
  | { readonly type: 'logged-out-here'; readonly requestId: number | null }
  /**
   * A password change the link dropped under is settled: the login was taken back with the new
   * password (changed), or the old token or password still worked. `username` and `nickname`:
   * the account as that login named it.
   */
  | { readonly type: 'password-settled'; readonly changed: boolean; readonly username: string; readonly nickname: string }
  /**
   * The server refused a login because it lost its shared database or bus (SERVER_DEGRADED): the
   * link dropped it and logs in again on a new link at retryAtMs (after the backoff), maybe on
   * another node behind a load balancer. Said so the user knows why the login waits.
   */
  | { readonly type: 'server-degraded'; readonly retryAtMs: number }
  /** A server frame for the composition: a reply to one of its requests, or a push. */
  | { readonly type: 'frame'; readonly frame: ServerFrame }
  /** The server sent a frame FRAME_RULES does not allow in this state; it was dropped. */
  | { readonly type: 'protocol-error'; readonly frameType: ServerFrameType; readonly state: LinkStateName }
  /** Quit is done: the link is closed for good. */
  | { readonly type: 'closed' };

/** The heartbeat never changes: one shared frozen frame, which a runtime may encode once. */
export const HEARTBEAT_FRAME: ClientFrame = Object.freeze({ type: 'heartbeat' });

/** A server frame the link takes in these states (pushes and replies alike). */
const WELCOMED: readonly LinkStateName[] = ['ExpectLogin', 'ExpectLoginOk', 'LoggedIn', 'ExpectLogoutOk'];
const LOGGED_IN: readonly LinkStateName[] = ['LoggedIn', 'ExpectLogoutOk'];

/** In which link states each server frame is accepted. */
export const FRAME_RULES: Readonly<Record<ServerFrameType, readonly LinkStateName[]>> = {
  welcome: ['ExpectWelcome'],
  // SERVER_FULL and SERVER_SHUTTING_DOWN come instead of a welcome.
  error: ['ExpectWelcome', ...WELCOMED],
  // A sign-up's answer may overtake a login sent right after it.
  'signup.ok': ['ExpectLogin', 'ExpectLoginOk'],
  'login.ok': ['ExpectLoginOk'],
  'logout.ok': ['ExpectLogoutOk'],
  // Also waiting for a login's answer (see tick), and after it, when the login was refused.
  'heartbeat.ack': ['ExpectLogin', 'ExpectLoginOk', ...LOGGED_IN],
  friends: LOGGED_IN,
  presence: LOGGED_IN,
  'friend.incoming': LOGGED_IN,
  'friend.requested': LOGGED_IN,
  'friend.added': LOGGED_IN,
  'friend.declined': LOGGED_IN,
  'friend.removed': LOGGED_IN,
  'friend.blocked': LOGGED_IN,
  'friend.unblocked': LOGGED_IN,
  'friend.updated': LOGGED_IN,
  'account.updated': LOGGED_IN,
  'session.pending': LOGGED_IN,
  'session.incoming': LOGGED_IN,
  'session.answered': LOGGED_IN,
  'session.established': LOGGED_IN,
  'session.failed': LOGGED_IN,
  'session.withdrawn': LOGGED_IN,
  'mail.queued': LOGGED_IN,
  'mail.deliver': LOGGED_IN,
  'mail.delivered': LOGGED_IN,
  'mail.failed': LOGGED_IN,
};

/** The server's ack of HEARTBEAT_FRAME, decoded by a byte comparison instead of the JSON parser. */
const KNOWN_SERVER_PAYLOADS = [knownPayload({ type: 'heartbeat.ack' })];

/**
 * The same ack as a whole frame on the wire. It asks nothing of the link but the time it arrived,
 * and a logged-in link reads one per heartbeat: when it comes alone on a frame boundary it is
 * recognised by its bytes and not decoded at all.
 */
const HEARTBEAT_ACK_FRAME_BYTES = encodeControl({ type: 'heartbeat.ack' });

/** What takeActions returns when there is nothing to do; frozen, so a caller that pushes fails loudly. */
const NO_ACTIONS: LinkAction[] = Object.freeze([]) as unknown as LinkAction[];

/** A client frame without its request id (the link numbers requests). */
export type ClientRequest = ClientFrame extends infer F ? (F extends ClientFrame ? Omit<F, 'id'> : never) : never;

export class ServerLink {
  private phase: LinkState = { state: 'ExpectStart' };
  private actions: LinkAction[] = [];
  private readonly backoff: Backoff;
  private nextLinkId = 1;
  private nextRequestId = 1;

  /** identity: our public keys, offered with every password login so the account has them registered. */
  constructor(
    jitterSeed: number,
    private readonly identity: IdentityKeys | null = null,
  ) {
    this.backoff = new Backoff(jitterSeed);
  }

  private get identityField(): { identity?: IdentityKeys } {
    return this.identity === null ? {} : { identity: this.identity };
  }

  // ---- views ----------------------------------------------------------------------------------

  get state(): LinkState {
    return this.phase;
  }

  /** Logged in on a live link (between login.ok and its end, or a drop). */
  get loggedIn(): boolean {
    return this.phase.state === 'LoggedIn' || this.phase.state === 'ExpectLogoutOk';
  }

  /** The user this link is, or is taking back after a drop; null when it holds no login. */
  get username(): string | null {
    const p = this.phase;
    switch (p.state) {
      case 'LoggedIn':
      case 'ExpectLogoutOk':
        return p.account.username;
      case 'ExpectLoginOk':
        return p.via === 'login' ? null : p.account.username;
      case 'ExpectOpen':
      case 'ExpectWelcome':
      case 'ExpectReconnect':
        return p.resumeWith?.username ?? null;
      default:
        return null;
    }
  }

  /** The user quit: logging out first, or closed for good. */
  get quitting(): boolean {
    const p = this.phase;
    return p.state === 'Closed' || (p.state === 'ExpectLogoutOk' && p.quitAtMs !== null);
  }

  /** Welcomed on a live link: requests can be sent. */
  get welcomed(): boolean {
    return WELCOMED.includes(this.phase.state);
  }

  /** Our address as the server sees it, when the runtime knows it. */
  get localAddress(): string | null {
    const conn = this.conn();
    return conn === null ? null : conn.localAddress;
  }

  nextTimeoutMs(): number | null {
    const p = this.phase;
    switch (p.state) {
      case 'ExpectReconnect':
        return p.reconnectAtMs;
      case 'ExpectWelcome':
      case 'ExpectLogin':
      case 'ExpectLoginOk':
      case 'LoggedIn':
        return p.conn.tickAtMs;
      case 'ExpectLogoutOk':
        return p.quitAtMs === null ? p.conn.tickAtMs : Math.min(p.quitAtMs, p.conn.tickAtMs);
      default:
        return null;
    }
  }

  takeActions(): LinkAction[] {
    const actions = this.actions;
    if (actions.length === 0) return NO_ACTIONS;
    this.actions = [];
    return actions;
  }

  // ---- inputs from the runtime ----------------------------------------------------------------

  start(): void {
    if (this.phase.state !== 'ExpectStart') return;
    this.connect(null, false);
  }

  opened(linkId: number, localAddress: string | null, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'ExpectOpen' || p.linkId !== linkId) return;
    const heartbeatMs = Math.floor(TTL_MS_DEFAULT / HEARTBEATS_PER_TTL);
    const conn: Conn = {
      linkId,
      decoder: new FrameDecoder({ knownPayloads: KNOWN_SERVER_PAYLOADS }),
      localAddress,
      lastRxMs: nowMs,
      tickAtMs: nowMs + heartbeatMs,
      ttlMs: TTL_MS_DEFAULT,
      heartbeatMs,
      idleClosed: false,
    };
    this.phase = { state: 'ExpectWelcome', conn, resumeWith: p.resumeWith, loginOwed: p.loginOwed, outage: p.outage };
  }

  bytes(linkId: number, bytes: Uint8Array, nowMs: number): void {
    const conn = this.conn();
    if (conn === null || conn.linkId !== linkId) return;
    conn.lastRxMs = nowMs;
    // Stryker disable next-line ConditionalExpression,BooleanLiteral: a fast path only; without it the decoder reads the same ack and the link does nothing more with it (lastRxMs is set above), at the cost of a decode
    if (this.loggedIn && conn.decoder.atFrameBoundary && !conn.decoder.failed && sameBytes(bytes, HEARTBEAT_ACK_FRAME_BYTES)) return;
    conn.decoder.push(bytes);
    for (let frame = conn.decoder.next(); frame !== null; frame = conn.decoder.next()) {
      if (frame.kind === 'error') return this.drop(conn, nowMs);
      if (frame.kind === 'data') continue;
      const known = serverFrameFastPath(frame.message);
      let parsed: ServerFrame;
      if (known !== null) {
        parsed = known;
      } else {
        const result = serverFrameSchema.safeParse(frame.message);
        // A frame we do not understand (a newer server) is skipped, not fatal.
        if (!result.success) continue;
        parsed = result.data;
      }
      this.onFrame(parsed, nowMs);
      if (this.conn() !== conn) return;
    }
  }

  closed(linkId: number, nowMs: number): void {
    const p = this.phase;
    const current = p.state === 'ExpectOpen' ? p.linkId : this.conn()?.linkId;
    if (current !== linkId) return;
    this.down(nowMs);
  }

  handleTimeout(nowMs: number): void {
    const p = this.phase;
    switch (p.state) {
      case 'ExpectReconnect':
        if (nowMs >= p.reconnectAtMs) this.connect(p.resumeWith, p.outage, p.loginOwed);
        return;
      case 'ExpectLogoutOk':
        if (p.quitAtMs !== null && nowMs >= p.quitAtMs) return this.close();
        return this.tick(p.conn, nowMs);
      case 'ExpectWelcome':
      case 'ExpectLogin':
      case 'ExpectLoginOk':
      case 'LoggedIn':
        return this.tick(p.conn, nowMs);
      default:
        return;
    }
  }

  // ---- inputs from the user (through the composition) -----------------------------------------

  /**
   * Sends a request on a welcomed link and returns its id (replies carry it as `re`), or null
   * when there is no welcomed link to send it on.
   */
  request(frame: ClientRequest): number | null {
    const conn = this.conn();
    if (conn === null || !this.welcomed) return null;
    const id = this.nextRequestId++;
    this.actions.push({ type: 'send', linkId: conn.linkId, frame: { ...frame, id } as ClientFrame });
    return id;
  }

  /**
   * A password login asked for by the user: its request id, or null when it is not sent. Logged
   * in already: sent, and the server's answer (ALREADY_LOGGED_IN) says so. One login at a time: not
   * sent while a login (the user's, or the link's own resume or relogin after a drop) or a logout
   * awaits its answer. The server answers in order and onLoginOk takes the login.ok it gets as the
   * answer to the login it awaits, so a second login's login.ok was taken for the link's relogin
   * and the user's command never got an answer. Not sent either without a welcomed link.
   */
  login(username: string, password: string): number | null {
    const p = this.phase;
    if (p.state === 'ExpectLoginOk' || p.state === 'ExpectLogoutOk') return null;
    if (p.state !== 'ExpectLogin') return this.request({ type: 'login', username, password, ...this.identityField });
    const requestId = this.sendRequest(p.conn, { type: 'login', username, password, ...this.identityField });
    this.phase = { state: 'ExpectLoginOk', conn: p.conn, requestId, via: 'login', account: { username, password, resumeToken: null }, outage: false, losses: 0, refusals: 0 };
    return requestId;
  }

  /**
   * A logout asked for by the user: its request id, or null when it is not sent. Sent only when
   * logged in with nothing else awaiting its answer. Not logged in (ExpectLogin: the server ended
   * the login, or none was made) there is nothing to log out of; sent anyway, it went out on a link
   * the server might be closing for idleness (after a TTL expiry), and the link lost it with no
   * login to take back, so nothing sent it again. One at a time, as logins: not sent while a login
   * (the user's, or the link's own resume or relogin) or another logout awaits its answer: the
   * server answers in order, and a logout.ok behind a resume's login.ok reached a link that
   * had just taken its login back (a protocol error) and the user's logout got no answer.
   *
   * Holding a login to take back after a drop (see `takingBack`), the logout is not sent either:
   * the login ends here, and `logged-out-here` (requestId null) is its answer. Waiting for the
   * link and the take-back first gave the logout two answers (SERVER_UNAVAILABLE at the drop, then
   * a logout.ok with no ref), and none past the first when the take-back was refused.
   */
  logout(): number | null {
    const p = this.phase;
    switch (p.state) {
      case 'LoggedIn': {
        const requestId = this.sendRequest(p.conn, { type: 'logout' });
        this.phase = { state: 'ExpectLogoutOk', conn: p.conn, account: p.account, requestId, quitAtMs: null };
        return requestId;
      }
      case 'ExpectReconnect':
      case 'ExpectOpen':
      case 'ExpectWelcome':
        if (p.resumeWith === null) return null;
        // Down, holding a login to take back: the user wants to be gone now, not once the server
        // is back. The login ends here; the next link comes up with none.
        this.phase = { ...p, resumeWith: null };
        this.actions.push({ type: 'login-ended', reason: 'logout' }, { type: 'logged-out-here', requestId: null });
        return null;
      case 'ExpectLoginOk':
        if (p.via === 'login') return null;
        // The resume (or relogin) is on its way: closing its link is the one way to be sure no
        // login.ok takes the login back after all. The server, if it took it, ends it when its
        // TTL passes. A new link at once: this one was fine.
        this.actions.push({ type: 'close', linkId: p.conn.linkId });
        this.actions.push({ type: 'login-ended', reason: 'logout' }, { type: 'logged-out-here', requestId: null });
        this.actions.push({ type: 'link-lost', resending: [] });
        this.connect(null, p.outage);
        return null;
      default:
        return null;
    }
  }

  /**
   * The link holds a login it is taking back after a drop (down, or its resume or relogin on its
   * way): a logout now ends it here (see `logout`).
   */
  get takingBack(): boolean {
    const p = this.phase;
    switch (p.state) {
      case 'ExpectReconnect':
      case 'ExpectOpen':
      case 'ExpectWelcome':
        return p.resumeWith !== null;
      case 'ExpectLoginOk':
        return p.via !== 'login';
      default:
        return false;
    }
  }

  /** The user quits: log out first if logged in (waiting at most QUIT_LOGOUT_WAIT_MS), then close. */
  quit(nowMs: number): number | null {
    const p = this.phase;
    if (p.state === 'LoggedIn') {
      const requestId = this.sendRequest(p.conn, { type: 'logout' });
      this.phase = { state: 'ExpectLogoutOk', conn: p.conn, account: p.account, requestId, quitAtMs: nowMs + QUIT_LOGOUT_WAIT_MS };
      return requestId;
    }
    if (p.state === 'ExpectLogoutOk') {
      this.phase = { ...p, quitAtMs: p.quitAtMs ?? nowMs + QUIT_LOGOUT_WAIT_MS };
      return null;
    }
    this.close();
    return null;
  }

  /**
   * The password changed (account.updated after account.password): the login held from now on
   * uses the new password for a re-login and the new token for a resume (the server refuses the
   * old one).
   */
  passwordChanged(password: string, resumeToken: string): void {
    const p = this.phase;
    if (p.state !== 'LoggedIn' && p.state !== 'ExpectLogoutOk') return;
    const { passwordPending: _settled, ...account } = p.account;
    this.phase = { ...p, account: { ...account, password, resumeToken } };
  }

  /** An account.password to `password` is on its way: held until its answer (passwordChanged or passwordRefused). */
  passwordChanging(password: string): void {
    const p = this.phase;
    if (p.state !== 'LoggedIn') return;
    this.phase = { ...p, account: { ...p.account, passwordPending: password } };
  }

  /** The server refused the password change to `password`: the old password stays. */
  passwordRefused(password: string): void {
    const p = this.phase;
    if ((p.state !== 'LoggedIn' && p.state !== 'ExpectLogoutOk') || p.account.passwordPending !== password) return;
    const { passwordPending: _refused, ...account } = p.account;
    this.phase = { ...p, account };
  }

  /** A password change is waiting for its answer, or for the login to be taken back (after a drop). */
  get passwordPending(): boolean {
    const p = this.phase;
    switch (p.state) {
      case 'LoggedIn':
      case 'ExpectLogoutOk':
      case 'ExpectLoginOk':
        return p.account.passwordPending !== undefined;
      case 'ExpectOpen':
      case 'ExpectWelcome':
      case 'ExpectReconnect':
        return p.resumeWith?.passwordPending !== undefined;
      default:
        return false;
    }
  }

  /** A connection is being made or its welcome awaited: requests would fail now, not in a moment. */
  get coming(): boolean {
    return this.phase.state === 'ExpectOpen' || this.phase.state === 'ExpectWelcome';
  }

  // ---- frames ---------------------------------------------------------------------------------

  private onFrame(frame: ServerFrame, nowMs: number): void {
    const p = this.phase;
    if (!FRAME_RULES[frame.type].includes(p.state)) {
      this.actions.push({ type: 'protocol-error', frameType: frame.type, state: p.state });
      return;
    }
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(frame, nowMs);
      case 'login.ok':
        return this.onLoginOk(frame, nowMs);
      case 'logout.ok':
        return this.onLogoutOk(frame);
      case 'error':
        return this.onError(frame, nowMs);
      case 'heartbeat.ack':
        return;
      default:
        this.actions.push({ type: 'frame', frame });
    }
  }

  private onWelcome(frame: ServerFrameOf<'welcome'>, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'ExpectWelcome') return;
    const conn = p.conn;
    conn.ttlMs = frame.ttlMs;
    conn.heartbeatMs = Math.max(1, frame.heartbeatMs);
    conn.tickAtMs = nowMs + conn.heartbeatMs;
    // A link that is to log in is back for good only once logged in (onLoginOk): a server that
    // welcomes and then refuses (BUSY, SERVER_DEGRADED) is retried ever more slowly.
    if (p.loginOwed === null && p.resumeWith === null) this.backoff.reset();
    this.actions.push({ type: 'up' });
    const owed = p.loginOwed;
    if (owed !== null) {
      // The user's login lost with the last link: the same request again, so its reply answers the user.
      const account: Account = { username: owed.username, password: owed.password, resumeToken: null };
      this.actions.push({ type: 'send', linkId: conn.linkId, frame: { type: 'login', id: owed.requestId, username: owed.username, password: owed.password, ...this.identityField } });
      this.phase = { state: 'ExpectLoginOk', conn, requestId: owed.requestId, via: 'login', account, outage: p.outage, losses: owed.losses, refusals: owed.refusals };
      return;
    }
    const account = p.resumeWith;
    if (account === null) {
      this.phase = { state: 'ExpectLogin', conn };
      if (p.outage) this.actions.push({ type: 'reconnected' });
      return;
    }
    // We were logged in before the link dropped: take the login back.
    if (account.resumeToken !== null) {
      const requestId = this.sendRequest(conn, { type: 'resume', username: account.username, token: account.resumeToken });
      this.phase = { state: 'ExpectLoginOk', conn, requestId, via: 'resume', account, outage: p.outage, losses: 0, refusals: 0 };
      return;
    }
    this.relogin(conn, account, p.outage);
  }

  /**
   * Logs in again with the password held. A pending password change goes first: the resume was
   * refused, and a change the server applied is the likeliest reason (it replaces the token); if
   * the server says no to the new password, the old one is tried next (onError).
   */
  private relogin(conn: Conn, account: Account, outage: boolean): void {
    const password = account.passwordPending !== undefined && account.passwordPendingRefused !== true ? account.passwordPending : account.password;
    const requestId = this.sendRequest(conn, { type: 'login', username: account.username, password, ...this.identityField });
    this.phase = { state: 'ExpectLoginOk', conn, requestId, via: 'relogin', account, outage, losses: 0, refusals: 0, ...(password === account.password ? {} : { password }) };
  }

  private onLoginOk(frame: ServerFrameOf<'login.ok'>, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'ExpectLoginOk') return;
    const account: Account = { username: frame.username, password: p.password ?? p.account.password, resumeToken: frame.resumeToken };
    this.phase = { state: 'LoggedIn', conn: p.conn, account };
    this.backoff.reset();
    p.conn.tickAtMs = nowMs + p.conn.heartbeatMs;
    this.actions.push({ type: 'logged-in', via: p.via, frame });
    if (p.outage) this.actions.push({ type: 'reconnected' });
    // The new password got us in: the server had applied the change. The old token resuming, or
    // the old password logging in, says it had not (a server that applied it refuses both).
    if (p.account.passwordPending !== undefined) {
      const changed = p.password !== undefined;
      this.actions.push({ type: 'password-settled', changed, username: frame.username, nickname: frame.nickname });
    }
  }

  private onLogoutOk(frame: ServerFrameOf<'logout.ok'>): void {
    const p = this.phase;
    if (p.state !== 'ExpectLogoutOk') return;
    this.phase = { state: 'ExpectLogin', conn: p.conn };
    this.actions.push({ type: 'login-ended', reason: 'logout' }, { type: 'frame', frame });
    if (p.quitAtMs !== null) this.close();
  }

  private onError(frame: ServerFrameOf<'error'>, nowMs: number): void {
    const p = this.phase;
    // The answer to a heartbeat sent while a login waited (tick) that reached the server after
    // the login's own answer (a refusal): the only frame without an id we send before login.
    if ((p.state === 'ExpectLogin' || p.state === 'ExpectLoginOk') && frame.code === 'NOT_LOGGED_IN' && frame.re === undefined) return;
    if ((p.state === 'ExpectLogin' || (p.state === 'ExpectLoginOk' && p.via === 'login')) && frame.code === 'UNAUTHENTICATED_TIMEOUT' && frame.re === undefined) {
      // Not a loss worth telling anyone: the link comes back at once when the close follows, and
      // a login that crossed the close goes out again on it (see down).
      p.conn.idleClosed = true;
      return;
    }
    if (p.state === 'ExpectLoginOk' && frame.re === p.requestId && p.via !== 'login' && (frame.code === 'BUSY' || frame.code === 'RATE_LIMITED')) {
      // A server busy with everyone's passwords (after a restart), or a user resuming faster than
      // RESUME_LIST_ENTRIES_PER_USER allows, is not a refusal: reconnect after the backoff (with
      // jitter, so the crowd spreads out) and try again, a resume with its token kept.
      return this.drop(p.conn, nowMs);
    }
    if (p.state === 'ExpectLoginOk' && frame.re === p.requestId && frame.code === 'SERVER_DEGRADED' && p.refusals < LOGIN_DEGRADED_RETRIES_MAX) {
      // A node that lost its shared database or bus refuses logins until it has them back, and a
      // load balancer sends a new connection to a healthy node: log in again on a new link after
      // the backoff (the token kept: it was not refused), and say why. Only the user's login
      // counts refusals: a held one (resume, relogin) stays at 0 and is never given up here.
      this.actions.push({ type: 'close', linkId: p.conn.linkId });
      this.down(nowMs, true);
      const next = this.phase as LinkState;
      if (next.state === 'ExpectReconnect') this.actions.push({ type: 'server-degraded', retryAtMs: next.reconnectAtMs });
      return;
    }
    if (p.state === 'ExpectLoginOk' && frame.re === p.requestId) {
      // A refused resume (the server restarted, or the TTL ran out): the password, once. The token
      // is forgotten: should the relogin's link drop too, the next link logs in with the password
      // rather than be refused the same token again (and end the login a second time).
      if (p.via === 'resume') {
        this.actions.push({ type: 'login-ended', reason: 'resume-refused' });
        return this.relogin(p.conn, { ...p.account, resumeToken: null }, p.outage);
      }
      if (p.via === 'relogin' && p.password !== undefined) {
        // The new password of a pending change does not work: the change never happened. The old
        // one is tried next; its answer settles the change (onLoginOk, or relogin-refused).
        return this.relogin(p.conn, { ...p.account, passwordPendingRefused: true }, p.outage);
      }
      this.phase = { state: 'ExpectLogin', conn: p.conn };
      if (p.via === 'relogin') {
        // The password no longer works (or we are locked out): logged out for good.
        this.actions.push({ type: 'login-ended', reason: 'relogin-refused' });
      }
      this.actions.push({ type: 'frame', frame });
      if (p.outage) this.actions.push({ type: 'reconnected' });
      return;
    }
    if (p.state === 'ExpectLogoutOk' && frame.re === p.requestId) {
      // Not logged in after all (the TTL ran out first): the logout is done anyway.
      this.phase = { state: 'ExpectLogin', conn: p.conn };
      this.actions.push({ type: 'login-ended', reason: 'logout' }, { type: 'frame', frame });
      if (p.quitAtMs !== null) this.close();
      return;
    }
    if ((frame.code === 'HEARTBEAT_TIMEOUT' || frame.code === 'LOGGED_IN_ELSEWHERE') && (p.state === 'LoggedIn' || p.state === 'ExpectLogoutOk')) {
      this.phase = { state: 'ExpectLogin', conn: p.conn };
      this.actions.push({ type: 'login-ended', reason: frame.code });
      this.actions.push({ type: 'frame', frame });
      if (p.state === 'ExpectLogoutOk' && p.quitAtMs !== null) this.close();
      return;
    }
    this.actions.push({ type: 'frame', frame });
  }

  // ---- the connection -------------------------------------------------------------------------

  private conn(): Conn | null {
    const p = this.phase;
    switch (p.state) {
      case 'ExpectWelcome':
      case 'ExpectLogin':
      case 'ExpectLoginOk':
      case 'LoggedIn':
      case 'ExpectLogoutOk':
        return p.conn;
      default:
        return null;
    }
  }

  private sendRequest(conn: Conn, frame: ClientRequest): number {
    const id = this.nextRequestId++;
    this.actions.push({ type: 'send', linkId: conn.linkId, frame: { ...frame, id } as ClientFrame });
    return id;
  }

  private connect(resumeWith: Account | null, outage: boolean, loginOwed: LoginOwed | null = null): void {
    const linkId = this.nextLinkId++;
    this.phase = { state: 'ExpectOpen', linkId, resumeWith, loginOwed, outage };
    this.actions.push({ type: 'connect', linkId });
  }

  /**
   * Heartbeat when logged in, and while a login waits for its answer; reset a link silent for a
   * whole TTL. A password login may wait its turn at the server for longer than a TTL (after a
   * restart, every client checks its password again: PASSWORD_CHECKS_WAITING_MAX), and the server
   * says nothing meanwhile but to a heartbeat: without them the link was dropped before its
   * answer, and the login queued again at the back, for ever in a crowd deep enough.
   */
  private tick(conn: Conn, nowMs: number): void {
    if (nowMs < conn.tickAtMs) return;
    if (this.phase.state === 'ExpectLogin') {
      // Welcomed, not logged in: the link asks nothing and the server owes it nothing, so its
      // quiet says nothing of it (the server closes it for idleness, UNAUTHENTICATED_TIMEOUT,
      // when that runs out). Counted as heard, so a login typed after a quiet longer than a TTL is
      // judged by the silence that follows it: until 2026-12-08 the first tick after such a login
      // found the link silent since its welcome and dropped it at once (a login wave in the
      // simulator, arrivals later than the TTL after the program started, 997 of 2,000 logins).
      conn.lastRxMs = nowMs;
      conn.tickAtMs = nowMs + conn.heartbeatMs;
      return;
    }
    if (nowMs - conn.lastRxMs > conn.ttlMs) return this.drop(conn, nowMs);
    if (this.loggedIn || this.phase.state === 'ExpectLoginOk') this.actions.push({ type: 'send', linkId: conn.linkId, frame: HEARTBEAT_FRAME });
    conn.tickAtMs = nowMs + conn.heartbeatMs;
  }

  /** We give up on the link ourselves (silent server, broken framing). */
  private drop(conn: Conn, nowMs: number): void {
    this.actions.push({ type: 'close', linkId: conn.linkId });
    this.down(nowMs);
  }

  /**
   * The link ended: come back later, with the login to take back if there is one, or the user's
   * login whose answer it lost (at once when the server closed it for idleness just as the login
   * went out; after the backoff otherwise; given up after LOGIN_RESENDS_MAX links).
   */
  private down(nowMs: number, refusedDegraded = false): void {
    const p = this.phase;
    let resumeWith: Account | null = null;
    let loginOwed: LoginOwed | null = null;
    let outage = false;
    switch (p.state) {
      case 'ExpectStart':
      case 'ExpectReconnect':
      case 'Closed':
        return;
      case 'ExpectLogoutOk':
        if (p.quitAtMs !== null) {
          this.actions.push({ type: 'link-lost', resending: [] });
          this.phase = { state: 'Closed' };
          this.actions.push({ type: 'closed' });
          return;
        }
        // The logout may not have reached the server, and cannot until the link is back: the user
        // wants to be gone now, so the login ends here, and is not taken back (resumeWith stays
        // null). The server ends it when its TTL passes without a heartbeat.
        this.actions.push({ type: 'login-ended', reason: 'logout' }, { type: 'logged-out-here', requestId: p.requestId });
        break;
      case 'LoggedIn':
        resumeWith = p.account;
        break;
      case 'ExpectLoginOk':
        resumeWith = p.via === 'login' ? null : p.account;
        outage = p.outage;
        if (p.via === 'login') {
          const owed: LoginOwed = { username: p.account.username, password: p.account.password, requestId: p.requestId, losses: p.losses, refusals: p.refusals, lostAtMs: nowMs };
          // A refusal is counted on its own budget, not as a lost link.
          loginOwed = refusedDegraded ? { ...owed, refusals: owed.refusals + 1 } : lostAgain(owed);
          if (p.conn.idleClosed && loginOwed !== null) {
            this.actions.push({ type: 'link-lost', resending: [loginOwed.requestId] });
            return this.connect(null, outage, loginOwed);
          }
        }
        break;
      case 'ExpectOpen':
      case 'ExpectWelcome':
        resumeWith = p.resumeWith;
        // A connect refused (a server restarting, its port closed a moment) never reached the
        // server: the login waits for it, by time, not as one more lost link.
        loginOwed = p.loginOwed === null ? null : p.state === 'ExpectOpen' ? unreachedAgain(p.loginOwed, nowMs) : lostAgain(p.loginOwed);
        outage = p.outage;
        break;
      case 'ExpectLogin':
        if (p.conn.idleClosed) {
          this.actions.push({ type: 'link-lost', resending: [] });
          return this.connect(null, false);
        }
        break;
    }
    this.actions.push({ type: 'link-lost', resending: loginOwed === null ? [] : [loginOwed.requestId] });
    if (WELCOMED.includes(p.state) && !outage) {
      outage = true;
      this.actions.push({ type: 'disconnected' });
    }
    this.phase = { state: 'ExpectReconnect', reconnectAtMs: nowMs + this.backoff.nextDelayMs(), resumeWith, loginOwed, outage };
  }

  /** Closed for good (quit): the link goes, and the composition is told. */
  private close(): void {
    const conn = this.conn();
    if (conn !== null) this.actions.push({ type: 'close', linkId: conn.linkId });
    if (this.phase.state === 'ExpectOpen') this.actions.push({ type: 'close', linkId: this.phase.linkId });
    this.phase = { state: 'Closed' };
    this.actions.push({ type: 'closed' });
  }
}

/** The user's login lost with one more link: still owed, or given up at LOGIN_RESENDS_MAX. */
function lostAgain(owed: LoginOwed): LoginOwed | null {
  const losses = owed.losses + 1;
  return losses > LOGIN_RESENDS_MAX ? null : { ...owed, losses };
}

/** The user's login found the server unreachable once more: still owed, or given up LOGIN_UNREACHED_WAIT_MS after its link was lost. */
function unreachedAgain(owed: LoginOwed, nowMs: number): LoginOwed | null {
  return nowMs - owed.lostAtMs > LOGIN_UNREACHED_WAIT_MS ? null : owed;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}
