/**
 * rate-limit-honoured: the server refuses logins and sign-ups exactly when docs/PROTOCOL.md's
 * limits say it must, and never otherwise. Judged on the wire (the frame tap): each `login` and
 * `signup` as it reaches the server, read on that server's own clock (the instant its machine
 * handles the bytes), against the answer that comes back for its `id`.
 *
 * The limits, as PROTOCOL.md ("Limits") and SECURITY.md state them, modelled here on their own
 * (nothing in core/rate-limit.ts is called):
 * - AUTH_ATTEMPTS_PER_ADDRESS: logins and sign-ups per address key, a token bucket of 30 that
 *   refills 10 a second. An attempt with a token left is never refused RATE_LIMITED by it; one
 *   without is (RATE_LIMITED without a detail), and a refused attempt uses no token.
 * - LOGIN_GUESSES: per (username, address key), the first 5 logins go through at once; the n-th
 *   after them must come at least 1 s x 2^(n-1) after the one before (at most 60 s), else it is
 *   refused RATE_LIMITED with "retry in N ms", N the time left exactly. A pair quiet for 15 minutes
 *   starts afresh, a login.ok clears it. Attempts refused by either limit do not count.
 * - SIGNUPS_PER_ADDRESS: sign-ups that get as far as the account (a valid, free name) per address
 *   key, a bucket of 3 that refills 6 an hour; past it RATE_LIMITED "too many sign-ups".
 * - The address key: an IPv4 address, or an IPv6 address's first 64 bits. Another key's attempts
 *   never use a key's allowance: one user cannot lock another out from elsewhere.
 *
 * Answers that come before the limits (BUSY while a check runs on that connection, SERVER_DEGRADED,
 * ALREADY_LOGGED_IN, a frame the schema refuses) use nothing. An attempt whose answer never comes
 * (its connection closed first) makes its key unknown until the documented time has restored a
 * full allowance whatever happened (3 s for the attempts, 30 min for sign-ups, 15 min for
 * guesses) or a login.ok clears the pair. Each server process (a node, an incarnation) has its own.
 */
import {
  AUTH_ATTEMPTS_PER_ADDRESS_BURST,
  AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  LOGIN_GUESS_DELAY_MS_MAX,
  LOGIN_GUESS_DELAY_MS_MIN,
  LOGIN_GUESSES_FORGET_MS,
  LOGIN_GUESSES_FREE,
  SIGNUPS_PER_ADDRESS_BURST,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
} from '../../core/limits.ts';
import type { WireMessage } from '../world/frame-tap.ts';

/** Tokens this close to 1 (or a wait this close to 0 ms) could go either way by rounding: both answers stand. */
const TOKENS_EPSILON = 1e-6;
const WAIT_EPSILON_MS = 1e-3;
/** How far a "retry in N ms" may be from the model's wait: the two compute it in a different order. */
const RETRY_HINT_TOLERANCE_MS = 1e-6;
/** Errors a server sends as it refuses a connection at its opening: nothing sent on it reaches a limit. */
const REFUSED_AT_OPEN: ReadonlySet<string> = new Set(['TOO_MANY_CONNECTIONS', 'SERVER_FULL', 'SERVER_SHUTTING_DOWN']);
/** Answers given before any limit is consulted (the connection's state, the server's, the frame's form). */
const BEFORE_THE_LIMITS: ReadonlySet<string> = new Set(['ALREADY_LOGGED_IN', 'NOT_LOGGED_IN', 'SERVER_DEGRADED', 'BAD_FRAME', 'UNKNOWN_TYPE']);
/** Sign-up refusals for the fields or the name, given before the sign-up allowance is used. */
const SIGNUP_FIELD_ERRORS: ReadonlySet<string> = new Set(['USERNAME_INVALID', 'PASSWORD_INVALID', 'NICKNAME_INVALID', 'USERNAME_TAKEN']);
/** The detail of BUSY when the server's password checks are all taken (PROTOCOL.md), not this connection's own. */
const CHECKS_BUSY = /busy checking passwords/;
const RETRY_IN = /retry in ([0-9.e+-]+) ms/;
const SIGNUPS_DETAIL = /sign-ups/;

/** What the server's machine said to one attempt, or that nothing came. */
interface Answer {
  readonly code: string;
  readonly detail: string | undefined;
  /** World time the answer reached the client (a login.ok's clear happened before it). */
  readonly deliveredMs: number;
}

interface Attempt {
  readonly type: 'login' | 'signup';
  readonly username: string;
  readonly key: string;
  readonly who: string;
  /** On the server's own clock, and in world time. */
  readonly serverMs: number;
  readonly worldMs: number;
  answer: Answer | null;
}

/** A token bucket as the docs state it, or unknown since `lastMs` (an attempt's answer was lost). */
interface Bucket {
  tokens: number;
  lastMs: number;
  known: boolean;
}

/** A (username, key) pair's guesses: how many since it was fresh, when the last one came, and whether that is known. */
interface Guesses {
  count: number;
  lastMs: number;
  known: boolean;
  /** A login.ok cleared the pair at some instant before this world time; attempts before it cannot be judged. */
  clearedByMs: number | null;
}

/** One server process's limits as the model holds them. */
class ServerModel {
  readonly queues = new Map<string, Attempt[]>();
  readonly auth = new Map<string, Bucket>();
  readonly signups = new Map<string, Bucket>();
  readonly guesses = new Map<string, Guesses>();
}

/**
 * The key per-address limits count under, as PROTOCOL.md states it: an IPv4 address itself, an
 * IPv6 address its first four groups (an IPv4-mapped one, its IPv4 address).
 */
export function documentedAddressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (!address.includes(':')) return address;
  const [head = '', tail] = address.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups];
  return groups
    .slice(0, 4)
    .map((group) => Number.parseInt(group, 16).toString(16))
    .join(':');
}

/** The wait the docs give the n-th guess (1-based) after the one before it. */
function documentedGuessDelayMs(attemptNumber: number): number {
  if (attemptNumber <= LOGIN_GUESSES_FREE) return 0;
  const doublings = attemptNumber - LOGIN_GUESSES_FREE - 1;
  // Past 2^20 the cap has long been reached; the exponent is bounded so the power stays finite.
  return Math.min(LOGIN_GUESS_DELAY_MS_MAX, LOGIN_GUESS_DELAY_MS_MIN * 2 ** Math.min(doublings, 20));
}

export interface RateLimitWorld {
  /** The server process at an address: its incarnation, and its own clock now. */
  serverClock(serverAddress: string): { readonly process: string; readonly nowMs: number } | null;
  worldNowMs(): number;
  /** Which simulated user plays at an address (for the violation's wording); null: none. */
  nameAt(address: string): string | null;
  /** Several server nodes: a sign-up's USERNAME_TAKEN may come after its allowance was used (another node committed the name first). */
  readonly clustered: boolean;
}

export class RateLimitChecker {
  private readonly models = new Map<string, ServerModel>();
  /** connId → the attempts on it not yet answered, by request id, and which model they belong to. */
  private readonly open = new Map<number, { readonly model: ServerModel; readonly attempts: Map<number, Attempt> }>();
  constructor(
    private readonly world: RateLimitWorld,
    private readonly violate: (detail: string) => void,
    /** Metrics for the report: attempts judged, refusals by limit (address, guess, signups), and BUSY for the password checks (busy). */
    private readonly count: (metric: string) => void,
  ) {}

  /** Frames a client sent, as they reach the server's machine. */
  onClientFrames(clientAddress: string, messages: readonly WireMessage[], connId: number, serverAddress: string): void {
    for (const message of messages) {
      if (message.type !== 'login' && message.type !== 'signup') continue;
      const id = message.id;
      const username = message.username;
      if (typeof id !== 'number' || typeof username !== 'string') continue;
      const clock = this.world.serverClock(serverAddress);
      if (clock === null) continue;
      let model = this.models.get(clock.process);
      if (model === undefined) this.models.set(clock.process, (model = new ServerModel()));
      const key = documentedAddressKey(clientAddress);
      const name = this.world.nameAt(clientAddress);
      const who = name === null ? clientAddress : `${name} (${clientAddress})`;
      const attempt: Attempt = { type: message.type, username, key, who, serverMs: clock.nowMs, worldMs: this.world.worldNowMs(), answer: null };
      let queue = model.queues.get(key);
      if (queue === undefined) model.queues.set(key, (queue = []));
      queue.push(attempt);
      let conn = this.open.get(connId);
      if (conn === undefined || conn.model !== model) this.open.set(connId, (conn = { model, attempts: new Map() }));
      conn.attempts.set(id, attempt);
    }
  }

  /** Frames the server sent on a connection, as they reach the client. */
  onServerFrames(messages: readonly WireMessage[], connId: number): void {
    const conn = this.open.get(connId);
    if (conn === undefined) return;
    for (const message of messages) {
      const code = message.type === 'error' ? message.code : message.type;
      if (typeof code !== 'string') continue;
      const detail = typeof message.detail === 'string' ? message.detail : undefined;
      if (message.type === 'error' && message.re === undefined && REFUSED_AT_OPEN.has(code)) {
        // Refused as it opened: what it carried never reached the machine.
        for (const attempt of conn.attempts.values()) attempt.answer = { code: 'NOT_REACHED', detail: undefined, deliveredMs: this.world.worldNowMs() };
        this.settle(conn.model, conn.attempts.values());
        conn.attempts.clear();
        continue;
      }
      const re = message.re;
      if (typeof re !== 'number') continue;
      const attempt = conn.attempts.get(re);
      if (attempt === undefined) continue;
      conn.attempts.delete(re);
      attempt.answer = { code, detail, deliveredMs: this.world.worldNowMs() };
      this.settle(conn.model, [attempt]);
    }
  }

  /** A server link closed: attempts on it that were never answered are lost. */
  onConnectionClosed(connId: number): void {
    const conn = this.open.get(connId);
    if (conn === undefined) return;
    this.open.delete(connId);
    for (const attempt of conn.attempts.values()) attempt.answer = { code: 'LOST', detail: undefined, deliveredMs: this.world.worldNowMs() };
    this.settle(conn.model, conn.attempts.values());
  }

  /** Judges, in arrival order, every attempt of the keys these attempts are under whose answer is known. */
  private settle(model: ServerModel, attempts: Iterable<Attempt>): void {
    const keys = new Set<string>();
    for (const attempt of attempts) keys.add(attempt.key);
    for (const key of keys) {
      const queue = model.queues.get(key);
      if (queue === undefined) continue;
      let judged = 0;
      while (judged < queue.length && (queue[judged] as Attempt).answer !== null) this.judge(model, queue[judged++] as Attempt);
      queue.splice(0, judged);
      if (queue.length === 0) model.queues.delete(key);
    }
  }

  private judge(model: ServerModel, attempt: Attempt): void {
    const answer = attempt.answer as Answer;
    const { code, detail } = answer;
    if (code === 'NOT_REACHED' || BEFORE_THE_LIMITS.has(code) || (code === 'BUSY' && (detail === undefined || !CHECKS_BUSY.test(detail)))) return;
    const at = attempt.serverMs;
    const lost = code === 'LOST';
    const what = `${attempt.who}'s ${attempt.type} as ${attempt.username} at ${at.toFixed(3)} ms (server clock)`;
    this.count('rate_limit_attempts_judged');

    // Logins and sign-ups per address key.
    const authRefused = code === 'RATE_LIMITED' && detail === undefined;
    const auth = refill(model.auth, attempt.key, at, AUTH_ATTEMPTS_PER_ADDRESS_BURST, AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC / 1_000);
    if (lost) return this.unknown(model, attempt, auth);
    if (auth.known) {
      if (auth.tokens < 1 - TOKENS_EPSILON && !authRefused) this.violate(`${what} was let past the per-address attempts with ${auth.tokens.toFixed(3)} of ${AUTH_ATTEMPTS_PER_ADDRESS_BURST} left (answered ${describe(answer)})`);
      if (auth.tokens >= 1 + TOKENS_EPSILON && authRefused) this.violate(`${what} was refused RATE_LIMITED with ${auth.tokens.toFixed(3)} of ${AUTH_ATTEMPTS_PER_ADDRESS_BURST} attempts left for ${attempt.key}`);
    }
    // The model follows the server's verdict once it is judged, so one breach is told once.
    if (authRefused) return this.count('rate_limited_address');
    auth.tokens -= 1;

    if (attempt.type === 'signup') return this.judgeSignup(model, attempt, answer, what);
    this.judgeGuess(model, attempt, answer, what);
  }

  private judgeSignup(model: ServerModel, attempt: Attempt, answer: Answer, what: string): void {
    const { code, detail } = answer;
    // A taken name on a cluster may be the commit another node won, after the allowance was used.
    if (code === 'USERNAME_TAKEN' && this.world.clustered) {
      const bucket = refill(model.signups, attempt.key, attempt.serverMs, SIGNUPS_PER_ADDRESS_BURST, SIGNUPS_PER_ADDRESS_PER_HOUR / 3_600_000);
      bucket.known = false;
      return;
    }
    if (SIGNUP_FIELD_ERRORS.has(code)) return;
    const refused = code === 'RATE_LIMITED' && detail !== undefined && SIGNUPS_DETAIL.test(detail);
    const bucket = refill(model.signups, attempt.key, attempt.serverMs, SIGNUPS_PER_ADDRESS_BURST, SIGNUPS_PER_ADDRESS_PER_HOUR / 3_600_000);
    if (bucket.known) {
      if (bucket.tokens < 1 - TOKENS_EPSILON && !refused) this.violate(`${what} got past the sign-ups per address with ${bucket.tokens.toFixed(3)} of ${SIGNUPS_PER_ADDRESS_BURST} left (answered ${describe(answer)})`);
      if (bucket.tokens >= 1 + TOKENS_EPSILON && refused) this.violate(`${what} was refused as too many sign-ups with ${bucket.tokens.toFixed(3)} of ${SIGNUPS_PER_ADDRESS_BURST} left for ${attempt.key}`);
    }
    if (refused) this.count('rate_limited_signups');
    else bucket.tokens -= 1;
  }

  private judgeGuess(model: ServerModel, attempt: Attempt, answer: Answer, what: string): void {
    const { code, detail } = answer;
    const pairKey = `${attempt.username}\u0000${attempt.key}`;
    const at = attempt.serverMs;
    let pair = model.guesses.get(pairKey);
    if (pair?.clearedByMs != null) {
      if (attempt.worldMs >= pair.clearedByMs) {
        model.guesses.delete(pairKey);
        pair = undefined;
      } else {
        // The clear and this attempt crossed at the server: which came first is not seen.
        pair.known = false;
        pair.clearedByMs = null;
      }
    }
    // Quiet for the forget time: a fresh start, whatever was unknown.
    const quietMs = pair === undefined ? Infinity : at - pair.lastMs;
    if (pair !== undefined && Math.abs(quietMs - LOGIN_GUESSES_FORGET_MS) < WAIT_EPSILON_MS) pair.known = false;
    else if (quietMs >= LOGIN_GUESSES_FORGET_MS) pair = undefined;
    const hint = code === 'RATE_LIMITED' && detail !== undefined ? RETRY_IN.exec(detail) : null;
    const refused = hint !== null;
    if (pair === undefined || pair.known) {
      const waitMs = pair === undefined ? 0 : Math.max(0, pair.lastMs + documentedGuessDelayMs(pair.count + 1) - at);
      if (waitMs > WAIT_EPSILON_MS) {
        const toldMs = hint === null ? Number.NaN : Number.parseFloat(hint[1] as string);
        if (!refused) this.violate(`${what} was let through ${waitMs.toFixed(3)} ms before its guess ${(pair?.count ?? 0) + 1} may come (answered ${describe(answer)})`);
        else if (!(Math.abs(toldMs - waitMs) <= RETRY_HINT_TOLERANCE_MS * Math.max(1, waitMs))) this.violate(`${what} was told to retry in ${hint[1]} ms; the documented wait left is ${waitMs} ms`);
      } else if (refused && waitMs === 0) {
        this.violate(`${what} was refused "${detail}" although guess ${(pair?.count ?? 0) + 1} may come now`);
      }
    }
    if (refused) return this.count('rate_limited_guess');
    // BUSY for the password checks: either no room in the line as it came (not an attempt at the
    // password) or its wait pushed out later by a newcomer (an attempt, counted as it came in).
    // The answer does not say which, so the pair is unknown from here.
    if (code === 'BUSY') {
      this.count('rate_limited_busy');
      if (pair === undefined) model.guesses.set(pairKey, (pair = { count: 0, lastMs: at, known: false, clearedByMs: null }));
      pair.known = false;
      pair.lastMs = Math.max(pair.lastMs, at);
      return;
    }
    if (pair === undefined) model.guesses.set(pairKey, (pair = { count: 0, lastMs: at, known: true, clearedByMs: null }));
    pair.count += 1;
    pair.lastMs = at;
    if (code === 'login.ok') pair.clearedByMs = answer.deliveredMs;
  }

  /** An attempt whose answer never came: what it used is unknown until time restores the allowance. */
  private unknown(model: ServerModel, attempt: Attempt, auth: Bucket): void {
    auth.known = false;
    if (attempt.type === 'signup') refill(model.signups, attempt.key, attempt.serverMs, SIGNUPS_PER_ADDRESS_BURST, SIGNUPS_PER_ADDRESS_PER_HOUR / 3_600_000).known = false;
    if (attempt.type !== 'login') return;
    const pairKey = `${attempt.username}\u0000${attempt.key}`;
    const pair = model.guesses.get(pairKey) ?? { count: 0, lastMs: attempt.serverMs, known: false, clearedByMs: null };
    pair.known = false;
    pair.lastMs = attempt.serverMs;
    model.guesses.set(pairKey, pair);
  }
}

/**
 * A token bucket of `burst` refilled `perMs` a millisecond, read at `atMs`. An unknown one becomes
 * known and full once it has been quiet long enough to refill from empty.
 */
function refill(buckets: Map<string, Bucket>, key: string, atMs: number, burst: number, perMs: number): Bucket {
  let bucket = buckets.get(key);
  if (bucket === undefined) {
    bucket = { tokens: burst, lastMs: atMs, known: true };
    buckets.set(key, bucket);
    return bucket;
  }
  const elapsedMs = Math.max(0, atMs - bucket.lastMs);
  if (!bucket.known && elapsedMs * perMs >= burst) bucket.known = true;
  bucket.tokens = bucket.known ? Math.min(burst, bucket.tokens + elapsedMs * perMs) : burst;
  bucket.lastMs = atMs;
  return bucket;
}

function describe(answer: Answer): string {
  return answer.detail === undefined ? answer.code : `${answer.code} "${answer.detail}"`;
}
