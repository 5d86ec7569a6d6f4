/**
 * The chat-failed-cause checker (driver peer-machine): every `chat.failed` a simulated client
 * tells its user names a cause the world gave it, and says whose request ended.
 *
 * The client's session broker (core/peer/session-broker.ts) and its P2P set-up (core/peer/machine.ts)
 * end a request with a reason: the server's own (session.failed, session.withdrawn), the code of
 * the server's error answering it, `server-unavailable` (its link ended before the server took
 * it), `logged-out` (the login it belonged to ended), `not-friends` (the friendship ended),
 * `timeout` (its deadline passed), or what the P2P hello to the callee came to. This checker keeps,
 * per client incarnation and per friend and direction, what the world told that client while the
 * request lived, learned independently of the broker: the server frames on the wire (the frame tap,
 * before the machine hears them), the commands the user gave (chat.open, logout, answers) and the
 * link ends the client reported. A `chat.failed` is judged once the client has settled (the end of
 * the input that caused it: the event that explains a reason may come just after it):
 *
 * - with `incoming: true` it must end a request the friend made to us (a session.incoming heard
 *   and not yet ended); without, a chat.open of ours to the friend;
 * - its reason must be one the world gave: a reason or code heard on the wire; `server-unavailable`
 *   for a request the server had not acknowledged when the link ended (or refused at once, no link
 *   to send it on); `logged-out` once a logout was typed (also for a request heard while that
 *   logout is not over) or the server ended the login (logout.ok, HEARTBEAT_TIMEOUT,
 *   LOGGED_IN_ELSEWHERE, a refused resume, NOT_LOGGED_IN); `not-friends` once the friendship ended;
 *   `replaced` for a friend's request (established or not) once a newer one of theirs was heard; `timeout` not before the earliest deadline the request can have (the
 *   server's timeout plus SESSION_OUTCOME_GRACE_MS from its session.pending or session.incoming,
 *   SESSION_ACK_WAIT_MS from an unacknowledged chat.open, P2P_HELLO_TIMEOUT_MS from a session.established);
 *   the P2P outcomes (`unreachable`, the callee's refusals) only after a session.established.
 *
 * A chat.failed ends, of the friend's requests in its direction, first one the world gave that very
 * reason, then one the reason fits by a deadline passed (an opened request stays on the books, and
 * its long-passed hello deadline fits any later `timeout`): see failed().
 *
 * The asked-once checker rides on the same records: a `chat.request` (the user asked to answer a
 * friend's request) must stand for a session.incoming heard with a request id the user was not
 * asked about yet. The server asks a resumed callee again about the requests still waiting on it
 * (same requestId): that repeat refreshes the request the user was asked about, it must not ask
 * the user again (a second answer to one request; the broker's onIncoming).
 *
 * The ends-by-deadline checker rides on them too: a request the server acknowledged (session.pending)
 * or asked us about (session.incoming, again after a resume) and that has had no session.established
 * must have ended for the user (chat.failed, chat.opened, a no) by the latest deadline the client
 * can hold for it, the server's timeout plus SESSION_OUTCOME_GRACE_MS from the frame that set it,
 * plus DEADLINE_SLACK_MS. chat-failed-cause judges a `timeout` that comes early; this one a
 * request that outlives its deadline, which shows where the server's own outcome never reaches the
 * client (its link down, the frame lost): a client waking for the wrong one of two deadlines ends
 * the earlier request late, at whatever wakes it next. Past its session.established the P2P set-up
 * decides (core/peer/machine.ts), on one timer either side: the caller's request must have ended
 * for the user (chat.opened, chat.failed) by its session.established plus P2P_HELLO_TIMEOUT_MS (its
 * hello to the callee times out then), the callee's by its own session.established plus the same
 * (the token it holds for the caller's hello expires then), each plus DEADLINE_SLACK_MS; a
 * chat.opened with the friend told since may have been its own and ends it (which session opened
 * is not said). A caller's session.established counts only for a request acknowledged, as the
 * broker finds it: the client drops one whose session.pending was lost as stale. Checked on the
 * client's own clock (the driver's scope: it waits out a pause as the client's timers do, and dies
 * with the process).
 *
 * Deadlines are read on the client's own clock (drift and pauses included) and from when the
 * frame reached its stream, never later than the machine heard it: the bound errs on the early
 * side, so a late timeout is never called early.
 */
import { P2P_HELLO_TIMEOUT_MS, SESSION_ACK_WAIT_MS, SESSION_OUTCOME_GRACE_MS } from '../../core/limits.ts';
import type { WireMessage } from '../world/frame-tap.ts';

export type CauseViolation = (detail: string) => void;

/** Server error codes that end a login (the link ends it on hearing them). */
const LOGIN_ENDING_CODES: ReadonlySet<string> = new Set(['HEARTBEAT_TIMEOUT', 'LOGGED_IN_ELSEWHERE', 'BAD_RESUME_TOKEN', 'NOT_LOGGED_IN']);
/** The code of a refused resume: the login ends, but the client logs back in at once and its P2P set-ups go on. */
const RESUME_REFUSED_CODE = 'BAD_RESUME_TOKEN';
/** Outcomes of the P2P hello after a session.established (core/peer/machine.ts), other than `timeout`. */
const P2P_OUTCOMES: ReadonlySet<string> = new Set(['unreachable', 'peer-key-mismatch', 'bad-session-token', 'session-token-expired', 'bad-frame', 'not-friends', 'peer-error']);
/** Slack for a deadline read on a clock with fractions of a millisecond. */
const CLOCK_SLACK_MS = 1;
/**
 * ends-by-deadline: how long past a request's latest deadline its end may come. The client's timer
 * fires at the deadline itself, in the same instant of its clock; 50 ms only absorbs the frame
 * reaching the stream and the machine hearing it being separate events. Far below the gap between
 * the client's other wake-ups (heartbeats, reconnect backoff: 250 ms and up), which a request whose
 * deadline was forgotten waits for.
 */
const DEADLINE_SLACK_MS = 50;

/** ends-by-deadline: run `check` at `atMs` on the client's own clock (its scope: none after a crash). */
export type CheckAt = (atMs: number, check: (nowMs: number) => void) => void;

/** The checkers that ride on the chat-failed-cause records, besides chat-failed-cause itself. */
export interface SessionCauseRiders {
  /** asked-once's breaches. */
  readonly violateAsked: CauseViolation;
  /** ends-by-deadline's breaches, and its clock. */
  readonly violateLate: CauseViolation;
  readonly checkAt: CheckAt;
}

interface CauseRecord {
  readonly friend: string;
  /** The friend asked us (we are the callee). */
  readonly incoming: boolean;
  /**
   * The server's id of the request, qualified by the client's password login it was heard in
   * (`heardId`): a callee's from session.incoming (a repeat after a resume names the same one), a
   * caller's from session.pending.
   */
  requestId: string | null;
  /** chat.open given, or session.incoming heard (client clock). */
  readonly startedMs: number;
  /**
   * Callee: the latest session.incoming for it heard (client clock), the first or a repeat after
   * a resume; its timeoutMs is what the server had left, and the client's deadline moves to it.
   */
  incomingAtMs: number;
  /** Caller: session.pending heard (client clock), and the server's timeout it named. */
  ackedAtMs: number | null;
  /** The server's timeout named by session.pending or session.incoming. */
  timeoutMs: number | null;
  /** session.established heard (client clock): the P2P hello decides from here. */
  establishedAtMs: number | null;
  /** Reasons and codes the world gave for this request's end. */
  readonly causes: Set<string>;
  /** Past its session.established when the client told chat.opened with the friend: that may have been this session's. */
  mayHaveOpened: boolean;
  /** Callee: the user was asked about it (chat.request). */
  asked: boolean;
  /** ends-by-deadline: watches set on it so far; a check belongs to the latest (watch). */
  watches: number;
}

/** The checker's record of a chat.open's request, as `chatOpen` hands it out: only `refused` takes it back. */
export type ChatOpenHandle = CauseRecord & { readonly [chatOpenHandle]: true };
declare const chatOpenHandle: unique symbol;

export class SessionCauses {
  /**
   * Requests by friend, oldest first, each direction. Usually one; two when a request's P2P hello
   * is still on its way as the next one starts, or a friend asks again after the server forgot
   * the first (a restart) while our yes to it still waits for its hello.
   */
  private readonly outgoing = new Map<string, CauseRecord[]>();
  private readonly incoming = new Map<string, CauseRecord[]>();
  /** The chat.open being handed to the machine right now (a failure during it had no link to go on). */
  private immediate: CauseRecord | null = null;
  /**
   * Password logins the client has sent. A server restarted since the last one counts its request
   * ids from 1 again, and a request of an earlier login is never asked again (only a resume keeps
   * the server's requests): ids are compared within one login (`heardId`).
   */
  private passwordLogins = 0;
  /**
   * A logout was typed and is not over (answered, or refused: the login goes on): the login is
   * ending, and a friend's request heard meanwhile may end `logged-out` with it. The server may
   * ask before it takes the logout, and when the link goes before the logout's answer the client
   * ends the login itself, with no frame to say so (a swarm of cluster-three-nodes.yaml, root seeds
   * 1709 and 2203: a degraded link, then the callee's node crashed).
   */
  private loggingOut = false;
  /** chat.failed events heard since the client last settled, judged when it does. */
  private toJudge: Array<{ record: CauseRecord | undefined; friend: string; reason: string; incoming: boolean }> = [];

  constructor(
    private readonly username: string,
    private readonly violate: CauseViolation,
    private readonly riders: SessionCauseRiders | null = null,
  ) {}

  /**
   * The client asked its user to answer `friend`'s request (chat.request): the oldest request of
   * the friend's heard and not yet asked about is the one (asked-once). None: the user is asked
   * again about a request already asked, or about one the server never made.
   */
  asked(friend: string): void {
    const record = this.incoming.get(friend)?.find((r) => !r.asked && r.establishedAtMs === null);
    if (record !== undefined) {
      record.asked = true;
      return;
    }
    const heard = (this.incoming.get(friend) ?? []).map((r) => r.requestId).join(', ');
    this.riders?.violateAsked(`${this.username} was asked to answer ${friend}'s request again or unasked: every session.incoming heard from ${friend} (${heard || 'none'}) was asked about already (a repeat after a resume must not ask again)`);
  }

  /**
   * The user gave chat.open to `friend`: the request it starts, or null when one to the friend is
   * pending already (the client refuses a second one, SESSION_PENDING).
   */
  chatOpen(friend: string, nowMs: number): ChatOpenHandle | null {
    const records = listOf(this.outgoing, friend);
    if (records.some((r) => r.establishedAtMs === null)) return null;
    const record = newRecord(friend, false, null, nowMs);
    if (this.loggingOut) record.causes.add('logged-out');
    records.push(record);
    return record as ChatOpenHandle;
  }

  /** The chat.open that started `request` was answered by an error (not logged in, no room): no request went out. */
  refused(request: ChatOpenHandle): void {
    for (const records of this.outgoing.values()) {
      const at = records.indexOf(request);
      if (at >= 0) records.splice(at, 1);
    }
  }

  /** The chat.open to `friend` reaches the machine now: refused at once, it can only have had no link to go on. */
  chatOpenInput(friend: string): void {
    this.immediate = this.outgoing.get(friend)?.find((r) => r.ackedAtMs === null && r.establishedAtMs === null) ?? null;
  }

  chatOpenInputDone(): void {
    this.immediate = null;
  }

  /** The user answered `friend`'s request no: it ends with no event. */
  answeredNo(friend: string): void {
    const records = this.incoming.get(friend);
    const at = records?.findIndex((r) => r.establishedAtMs === null) ?? -1;
    if (records !== undefined && at >= 0) records.splice(at, 1);
  }

  /** The user typed a logout: requests may end `logged-out` (the client ends the login itself when the server is out of reach). */
  logoutTyped(): void {
    this.addToAll('logged-out');
    this.loggingOut = true;
  }

  /** The logout typed was refused (the login goes on: BUSY, a login still awaiting its answer) or found no login. */
  logoutRefused(): void {
    this.loggingOut = false;
  }

  /**
   * The client sent a password login (not a resume): request ids heard from now on name requests
   * of a new login, which a restarted server numbers from 1 again.
   */
  passwordLoginSent(): void {
    this.passwordLogins += 1;
    this.loggingOut = false;
  }

  /** A request id heard from the server, qualified by the login it was heard in. */
  private heardId(requestId: unknown): string {
    return `${String(requestId)}@login${this.passwordLogins}`;
  }

  /** The server link ended: requests the server had not acknowledged end `server-unavailable`. */
  linkLost(): void {
    for (const records of this.outgoing.values()) for (const r of records) if (r.ackedAtMs === null) r.causes.add('server-unavailable');
  }

  /** Server frames about to reach the machine (the frame tap). */
  serverFrames(messages: readonly WireMessage[], nowMs: number): void {
    for (const m of messages) {
      switch (m.type) {
        case 'session.pending': {
          const record = this.outgoing.get(String(m.username))?.find((r) => r.ackedAtMs === null && r.establishedAtMs === null);
          if (record !== undefined) {
            record.ackedAtMs = nowMs;
            record.timeoutMs = typeof m.timeoutMs === 'number' ? m.timeoutMs : 0;
            record.requestId = this.heardId(m.requestId);
            this.watch(record, nowMs + record.timeoutMs + SESSION_OUTCOME_GRACE_MS);
          }
          break;
        }
        case 'session.failed': {
          // The request it names: by its id once acknowledged, else the one not yet acknowledged.
          const records = this.outgoing.get(String(m.username)) ?? [];
          const named = records.filter((r) => r.requestId !== null && r.requestId === this.heardId(m.requestId));
          for (const r of named.length > 0 ? named : records.filter((r) => r.establishedAtMs === null)) r.causes.add(String(m.reason));
          break;
        }
        case 'session.incoming': {
          const from = String(m.from);
          const records = listOf(this.incoming, from);
          const timeoutMs = typeof m.timeoutMs === 'number' ? m.timeoutMs : 0;
          // Asked again after a resume: the same request, not a new one (its deadline moves).
          const known = records.find((r) => r.requestId === this.heardId(m.requestId));
          if (known !== undefined) {
            if (known.establishedAtMs === null) {
              // The server's word on the time left replaces the first: the client's deadline may
              // come a few milliseconds sooner than the first frame's (a swarm of
              // session-asked-again.yaml, root seed 41, had it 5 ms sooner).
              known.incomingAtMs = nowMs;
              known.timeoutMs = timeoutMs;
              this.watch(known, nowMs + timeoutMs + SESSION_OUTCOME_GRACE_MS);
            }
            break;
          }
          // A request of the friend's takes the place of an older one (the client keeps one per
          // friend and direction): the client ends the older with reason `replaced` before it asks
          // about the new one. Its deadline stays watched: a client that drops it without a word
          // leaves its user's yes unanswered, and ends-by-deadline says so. So does one past its
          // session.established whose token the client holds for a hello that will not come (a
          // swarm of cluster-three-nodes.yaml, root seed 4219), also when a chat.opened may have
          // been its (requests crossing: its token was still held when the session closed and the
          // friend asked again; a swarm of process-pause.yaml, root seed 10501). failed() takes a
          // live request first.
          for (const r of records) r.causes.add('replaced');
          const record = newRecord(from, true, this.heardId(m.requestId), nowMs);
          if (this.loggingOut) record.causes.add('logged-out');
          record.timeoutMs = timeoutMs;
          records.push(record);
          this.watch(record, nowMs + timeoutMs + SESSION_OUTCOME_GRACE_MS);
          break;
        }
        case 'session.withdrawn':
          for (const r of this.incoming.get(String(m.from)) ?? []) if (m.requestId === undefined || r.requestId === this.heardId(m.requestId)) r.causes.add(String(m.reason));
          break;
        case 'session.established': {
          // The request it names, by its id: a caller's only once acknowledged (session.pending),
          // as the broker finds it (session-broker.ts onEstablished). One whose session.pending was
          // lost is dropped as stale: the client gives that request up at SESSION_ACK_WAIT_MS
          // (session-outcome-lost.yaml), it makes no P2P set-up.
          const records = m.role === 'callee' ? this.incoming.get(String(m.username)) : this.outgoing.get(String(m.username));
          const record = records?.find((r) => r.requestId === this.heardId(m.requestId));
          if (record !== undefined && record.establishedAtMs === null) {
            record.establishedAtMs = nowMs;
            // The P2P set-up decides from here, on one timer of P2P_HELLO_TIMEOUT_MS either side
            // (core/peer/machine.ts): the caller's hello timer (connectToCallee), the callee's held
            // token (holdToken).
            this.watch(record, nowMs + P2P_HELLO_TIMEOUT_MS);
          }
          break;
        }
        case 'friend.removed':
          for (const r of this.outgoing.get(String(m.username)) ?? []) r.causes.add('not-friends');
          for (const r of this.incoming.get(String(m.username)) ?? []) r.causes.add('not-friends');
          break;
        case 'logout.ok':
          this.addToAll('logged-out');
          break;
        case 'error':
          // The server's error answering a request of ours names itself (requestFailed's reason).
          this.addToAll(String(m.code));
          if (m.code === RESUME_REFUSED_CODE) {
            // A refused resume (a restarted server) is taken back with the password at once, and
            // what needs no server goes on (core/peer/machine.ts, login-ended): only the requests
            // not past their session.established end with it (a swarm of clock-drift.yaml, root
            // seed 11213: its logged-out was taken for a request whose token was still held).
            this.addToAll('logged-out', (r) => r.establishedAtMs === null);
          } else if (LOGIN_ENDING_CODES.has(String(m.code))) this.addToAll('logged-out');
          break;
        default:
          break;
      }
    }
  }

  /**
   * The client told its user `chat.opened` with `friend`: our chat.open still at the server has its
   * answer (a session the friend asked for answers it too: requests crossing, withdrawn with no
   * event). Which session opened is not said, so a request already past its session.established
   * (either direction: a P2P hello on its way, a token held) stays until its own end comes.
   */
  opened(friend: string): void {
    for (const r of [...(this.outgoing.get(friend) ?? []), ...(this.incoming.get(friend) ?? [])]) if (r.establishedAtMs !== null) r.mayHaveOpened = true;
    const records = this.outgoing.get(friend);
    if (records === undefined) return;
    const left = records.filter((r) => r.establishedAtMs !== null);
    if (left.length === 0) this.outgoing.delete(friend);
    else this.outgoing.set(friend, left);
  }

  /**
   * TEST-ONLY (the planted `p2p-timeout-silent`): a request of `friend`'s (`incoming`) or ours to
   * them is past its session.established, its P2P set-up not yet over for the user.
   */
  settingUp(friend: string, incoming: boolean): boolean {
    return ((incoming ? this.incoming : this.outgoing).get(friend) ?? []).some((r) => r.establishedAtMs !== null && !r.mayHaveOpened);
  }

  /**
   * The client told its user `chat.failed`. The request it ends is taken off at once (the step
   * that waited for it may start the next request to the same friend right away): the oldest one
   * the world gave this reason, else the oldest one the reason fits so far (a deadline passed),
   * else the oldest. Judged when the client settles, when what explains
   * the reason has been heard too (a logout.ok's event may follow the failures it causes).
   */
  failed(friend: string, reason: string, incoming: boolean, nowMs: number): void {
    const records = (incoming ? this.incoming : this.outgoing).get(friend) ?? [];
    if (!incoming && this.immediate !== null && records.includes(this.immediate)) this.immediate.causes.add('server-unavailable');
    // Which request it ends: the broker's reasons end a request not yet established, the P2P
    // set-up's (and the ends of a login or a friendship) one past its session.established first.
    const p2p = P2P_OUTCOMES.has(reason) || reason === 'timeout' || reason === 'logged-out';
    // Last, requests a chat.opened may have answered (their records stay on the books, see
    // opened()): a logout's failure is the request still pending, not a session opened long ago.
    const live = records.filter((r) => !r.mayHaveOpened);
    const candidates = [
      ...live.filter((r) => (r.establishedAtMs !== null) === p2p),
      ...live.filter((r) => (r.establishedAtMs !== null) !== p2p),
      ...records.filter((r) => r.mayHaveOpened),
    ];
    // A request the world ended with this very reason (a session.failed naming it) before one the
    // reason only fits by a deadline passed: an established request whose chat.opened was told
    // stays (opened()), and its long-passed hello deadline fits any later `timeout`.
    const ended = candidates.find((r) => r.causes.has(reason)) ?? candidates.find((r) => explained(r, reason, nowMs) === null) ?? candidates[0];
    if (ended !== undefined) records.splice(records.indexOf(ended), 1);
    this.toJudge.push({ record: ended, friend, reason, incoming });
  }

  /** The client settled (its input handled, its events told): judge what failed meanwhile. */
  settled(nowMs: number): void {
    if (this.toJudge.length === 0) return;
    const judged = this.toJudge;
    this.toJudge = [];
    for (const { record, friend, reason, incoming } of judged) {
      if (record === undefined) {
        this.violate(`${this.username} was told chat.failed ${reason}${incoming ? ' (incoming)' : ''} about ${friend}, but no ${incoming ? `request of ${friend}'s` : `chat.open to ${friend}`} was pending${incoming ? '' : " (a callee's failure must say incoming)"}`);
        continue;
      }
      const why = explained(record, reason, nowMs);
      if (why === null) continue;
      const whose = incoming ? `${friend}'s request to ${this.username}` : `${this.username}'s chat.open to ${friend}`;
      this.violate(`${whose} ended ${reason}, which nothing told the client: ${why}`);
    }
  }

  /**
   * ends-by-deadline: `record`'s latest deadline is now `deadlineMs`; it must have ended by then.
   * Before its session.established that is the server's timeout plus SESSION_OUTCOME_GRACE_MS
   * from the frame that named it (a later one moves it); after, its session.established plus
   * P2P_HELLO_TIMEOUT_MS, which no later frame moves.
   */
  private watch(record: CauseRecord, deadlineMs: number): void {
    const riders = this.riders;
    if (riders === null) return;
    const watching = (record.watches += 1);
    const p2p = record.establishedAtMs !== null;
    const judge = (nowMs: number, resumed: boolean): void => {
      // A later watch replaced this one: a frame moved the deadline, or the session.established
      // came (the P2P set-up's deadline rules from there).
      if (record.watches !== watching) return;
      // It ended: chat.failed took it off (a newer request of the friend's in its place ends it
      // at once, chat.failed `replaced`), or, before its session.established, chat.opened did (a
      // chat.open's; a friend's request a no ended). Past it, a chat.opened with the friend told
      // since may have been its own (mayHaveOpened: which session opened is not said).
      const records = (record.incoming ? this.incoming : this.outgoing).get(record.friend);
      if (records === undefined || !records.includes(record) || record.mayHaveOpened) return;
      // Fired past its time: a pause held the client's process (and this check, on its clock).
      // The client's own timers due meanwhile run as it resumes, in the same instant and maybe
      // after this; it gets the slack again from its resume (a swarm of process-pause.yaml, root
      // seed 12101, called a request 2,691 ms late that the client ended as it resumed).
      if (!resumed && nowMs > deadlineMs + DEADLINE_SLACK_MS + CLOCK_SLACK_MS) {
        riders.checkAt(nowMs + DEADLINE_SLACK_MS, (laterMs) => judge(laterMs, true));
        return;
      }
      record.watches += 1;
      const whose = record.incoming ? `${record.friend}'s request ${record.requestId} to ${this.username}` : `${this.username}'s request ${record.requestId} to ${record.friend}`;
      const deadline = !p2p
        ? 'the server\'s timeout plus SESSION_OUTCOME_GRACE_MS'
        : record.incoming
          ? 'its session.established plus P2P_HELLO_TIMEOUT_MS: the token held for the caller\'s hello expires then'
          : 'its session.established plus P2P_HELLO_TIMEOUT_MS: the hello to the callee times out then';
      riders.violateLate(`${whose} has not ended ${Math.round(nowMs - deadlineMs)} ms after its deadline (${Math.round(deadlineMs)} ms on the client's clock: ${deadline})`);
    };
    riders.checkAt(deadlineMs + DEADLINE_SLACK_MS, (nowMs) => judge(nowMs, false));
  }

  private addToAll(cause: string, which: (r: CauseRecord) => boolean = () => true): void {
    for (const records of this.outgoing.values()) for (const r of records) if (which(r)) r.causes.add(cause);
    for (const records of this.incoming.values()) for (const r of records) if (which(r)) r.causes.add(cause);
  }
}

function listOf(map: Map<string, CauseRecord[]>, friend: string): CauseRecord[] {
  let records = map.get(friend);
  if (records === undefined) {
    records = [];
    map.set(friend, records);
  }
  return records;
}

function newRecord(friend: string, incoming: boolean, requestId: string | null, nowMs: number): CauseRecord {
  return { friend, incoming, requestId, startedMs: nowMs, incomingAtMs: nowMs, ackedAtMs: null, timeoutMs: null, establishedAtMs: null, causes: new Set(), mayHaveOpened: false, asked: false, watches: 0 };
}

/** null when `reason` is a cause the world gave `record` by `nowMs`, else what it was told. */
function explained(record: CauseRecord, reason: string, nowMs: number): string | null {
  if (record.causes.has(reason)) return null;
  const established = record.establishedAtMs;
  if (reason === 'timeout') {
    const deadlineMs = earliestDeadlineMs(record);
    if (nowMs + CLOCK_SLACK_MS >= deadlineMs) return null;
    return `its earliest deadline is ${Math.round(deadlineMs)} ms, it ended at ${Math.round(nowMs)} ms (told: ${[...record.causes].join(', ') || 'nothing'})`;
  }
  if (established !== null && P2P_OUTCOMES.has(reason)) return null;
  return `told ${[...record.causes].join(', ') || 'nothing'}${established === null ? ', no session.established' : ''}`;
}

/** The earliest moment the client may end `record` by its own deadline. */
function earliestDeadlineMs(record: CauseRecord): number {
  if (record.establishedAtMs !== null) return record.establishedAtMs + P2P_HELLO_TIMEOUT_MS;
  if (record.incoming) return record.incomingAtMs + (record.timeoutMs ?? 0) + SESSION_OUTCOME_GRACE_MS;
  if (record.ackedAtMs !== null) return record.ackedAtMs + (record.timeoutMs ?? 0) + SESSION_OUTCOME_GRACE_MS;
  return record.startedMs + SESSION_ACK_WAIT_MS;
}
