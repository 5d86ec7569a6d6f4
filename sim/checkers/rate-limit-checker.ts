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
import { FrameDecoder } from '../../core/codec.ts';
import type { WireMessage } from '../world/frame-tap.ts';
import type { CounterName } from './counter-names.ts';

/** Tokens this close to 1 (or a wait this close to 0 ms) could go either way by rounding: both answers stand. */
const TOKENS_EPSILON = 1e-6;
const WAIT_EPSILON_MS = 1e-3;
/** How far a "retry in N ms" may be from the model's wait: the two compute it in a different order. */
const RETRY_HINT_TOLERANCE_MS = 1e-6;
/** Waits whose client left, remembered to tell if one starts anyway: far more than a scenario's clients leave at once. */
const LEFT_REMEMBERED_MAX = 1_024;
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
  readonly line: FairLine;
  constructor(limits: PasswordCheckLimits, count: (metric: CounterName) => void) {
    this.line = new FairLine(limits, count);
  }
}

/** What the server was configured with: checks running at once, and waiting for a thread. */
export interface PasswordCheckLimits {
  readonly runningMax: number;
  readonly waitingMax: number;
}

/** A password check as the fair line sees it: whose (address key, connection, request) and its password (how the hasher names it). */
interface Check {
  readonly key: string;
  readonly connId: number;
  readonly id: number;
  readonly password: string;
  readonly who: string;
}

/** A check the server is handling as it arrives: did it start at once, was it refused, did it push out another's wait. */
interface Arriving {
  readonly check: Check;
  started: boolean;
  refusal: Answer | null;
}

/**
 * The password checks' wait line as PROTOCOL.md states it (PASSWORD_CHECKS_RUNNING_MAX,
 * PASSWORD_CHECKS_WAITING_MAX): a check runs at once when fewer than `runningMax` run; otherwise it
 * waits. The next check served is the oldest of the address key served longest ago (among keys
 * never served, the one waiting with the fewest). With `waitingMax` waiting, a newcomer pushes out
 * the newest wait of the key holding the most, if that key holds more than the newcomer's would
 * with it; otherwise the newcomer is refused BUSY. A wait whose client leaves leaves the line.
 * Observed from outside: a check's start and end at the hasher (the thread pool), what the server
 * writes in the instant it handles an attempt, and when it handles a close.
 */
class FairLine {
  private readonly running = new Map<string, number>();
  private runningCount = 0;
  private readonly waiting = new Map<string, Check[]>();
  private waitingCount = 0;
  /** Key → when it was last served (1, 2, ...); absent: never. */
  private readonly served = new Map<string, number>();
  private seq = 0;
  /** Waits that left the line with their client, by password: none of them may start. */
  private readonly left = new Map<string, Check>();
  /** Something happened the model cannot place (a check it never saw arrive): it stops judging. */
  lost = false;
  /** The attempts the server is handling right now, and the waits pushed out meanwhile. */
  arriving: Arriving[] | null = null;
  private pushedOut: Array<{ readonly check: Check; readonly heldBefore: number; readonly wasNewest: boolean }> = [];

  constructor(
    private readonly limits: PasswordCheckLimits,
    private readonly count: (metric: CounterName) => void,
  ) {}

  /** The server started a check (at once for an arriving attempt, or from the line). */
  started(password: string, violate: (detail: string) => void): void {
    if (this.lost) return;
    const arriving = this.arriving?.find((a) => !a.started && a.check.password === password);
    if (arriving !== undefined) {
      arriving.started = true;
      return;
    }
    const next = this.fairest();
    let check: Check | undefined;
    for (const line of this.waiting.values()) check ??= line.find((c) => c.password === password);
    if (check === undefined) {
      const gone = this.left.get(password);
      if (gone !== undefined) {
        // Its client left and the server handled that: the wait had to leave the line with it.
        this.left.delete(password);
        violate(`${gone.who}'s check started from the wait line after its client left`);
        return this.run(password);
      }
      this.lost = true;
      this.count('fair_line_lost');
      return;
    }
    this.count('fair_line_served');
    if (this.runningCount >= this.limits.runningMax) violate(`${check.who}'s check started from the wait line with ${this.runningCount} of ${this.limits.runningMax} running`);
    else if (next !== null && !next.includes(check)) {
      violate(`${check.who}'s check (${check.key}, served ${this.served.get(check.key) ?? 'never'}) started before ${next.map((c) => `${c.who}'s (${c.key}, served ${this.served.get(c.key) ?? 'never'})`).join(' or ')}, which the fair line serves first`);
    }
    this.take(check);
    this.served.set(check.key, ++this.seq);
    this.run(password);
  }

  ended(password: string): void {
    const count = this.running.get(password);
    if (count === undefined) {
      this.lost = true;
      this.count('fair_line_lost');
      return;
    }
    if (count === 1) this.running.delete(password);
    else this.running.set(password, count - 1);
    this.runningCount -= 1;
  }

  /** Whether what the server writes on a connection matters to the line now: an attempt of it arriving, or a check of it waiting. */
  concerns(connId: number): boolean {
    if (this.arriving?.some((a) => a.check.connId === connId) === true) return true;
    for (const line of this.waiting.values()) if (line.some((c) => c.connId === connId)) return true;
    return false;
  }

  /** The server wrote BUSY (its checks all taken) answering a request: a wait of that connection pushed out, if it had one. */
  busy(connId: number, re: number): void {
    for (const line of this.waiting.values()) {
      const index = line.findIndex((c) => c.connId === connId && c.id === re);
      if (index < 0) continue;
      const check = line[index] as Check;
      this.pushedOut.push({ check, heldBefore: line.length, wasNewest: index === line.length - 1 });
      this.take(check);
      return;
    }
  }

  /** The server handled the close of a connection: its wait leaves the line. */
  closed(connId: number): void {
    for (const line of this.waiting.values()) {
      const check = line.find((c) => c.connId === connId);
      if (check === undefined) continue;
      this.take(check);
      this.left.set(check.password, check);
      // Bounded: only the latest few are remembered (a start of one is told at once).
      if (this.left.size > LEFT_REMEMBERED_MAX) this.left.delete(this.left.keys().next().value as string);
      return;
    }
  }

  /** The server is done with the arriving attempts: each ran at once, was refused, or waits. */
  settleArrivals(violate: (detail: string) => void): void {
    const arriving = this.arriving ?? [];
    this.arriving = null;
    const pushedOut = this.pushedOut;
    this.pushedOut = [];
    if (this.lost) return;
    for (const { check, started, refusal } of arriving) {
      const threadFree = this.runningCount < this.limits.runningMax;
      const own = this.waiting.get(check.key)?.length ?? 0;
      if (refusal !== null) {
        if (refusal.code !== 'BUSY' || refusal.detail === undefined || !CHECKS_BUSY.test(refusal.detail)) continue;
        const fullest = this.mostHeld(null);
        if (threadFree) violate(`${check.who}'s check was refused BUSY with ${this.runningCount} of ${this.limits.runningMax} checks running`);
        else if (this.waitingCount < this.limits.waitingMax) violate(`${check.who}'s check was refused BUSY with ${this.waitingCount} of ${this.limits.waitingMax} waiting`);
        else if (fullest > own + 1) violate(`${check.who}'s check was refused BUSY although ${check.key} holds ${own} waits and another key ${fullest}`);
        continue;
      }
      if (started) {
        if (!threadFree) violate(`${check.who}'s check ran at once with ${this.runningCount} of ${this.limits.runningMax} running and ${this.waitingCount} waiting`);
        this.run(check.password);
        continue;
      }
      if (threadFree) violate(`${check.who}'s check was made to wait with ${this.runningCount} of ${this.limits.runningMax} running`);
      // The line as the newcomer found it: with any wait it pushed out still in.
      const out = pushedOut.shift();
      const waitingBefore = this.waitingCount + (out === undefined ? 0 : 1);
      if (waitingBefore >= this.limits.waitingMax) {
        if (out === undefined) violate(`${check.who}'s check joined a full line (${waitingBefore} of ${this.limits.waitingMax}) and pushed nobody out`);
        else {
          const ownBefore = out.check.key === check.key ? out.heldBefore : own;
          const fullestBefore = Math.max(out.heldBefore, this.mostHeld(out.check.key));
          if (out.heldBefore < fullestBefore) violate(`${check.who}'s check pushed out ${out.check.who}'s wait (${out.check.key}, holding ${out.heldBefore}) while another key held ${fullestBefore}`);
          else if (out.heldBefore <= ownBefore + 1) violate(`${check.who}'s check (${check.key}, holding ${ownBefore}) pushed out ${out.check.who}'s wait (${out.check.key}, holding ${out.heldBefore})`);
          else if (!out.wasNewest) violate(`${check.who}'s check pushed out ${out.check.who}'s wait, not the newest of ${out.check.key}`);
        }
      } else if (out !== undefined) violate(`${check.who}'s check pushed out ${out.check.who}'s wait with ${waitingBefore} of ${this.limits.waitingMax} waiting`);
      let line = this.waiting.get(check.key);
      if (line === undefined) this.waiting.set(check.key, (line = []));
      line.push(check);
      this.waitingCount += 1;
    }
    // A BUSY that answered no arriving check's wait: the line lost a wait nobody took its place.
    for (const out of pushedOut) violate(`${out.check.who}'s wait was pushed out, and no newcomer took its place`);
  }

  /** The most waits one key holds, leaving `except` out. */
  private mostHeld(except: string | null): number {
    let most = 0;
    for (const [key, line] of this.waiting) if (key !== except && line.length > most) most = line.length;
    return most;
  }

  /** The checks the fair rule may serve next (the oldest of each tied key); null when none waits. */
  private fairest(): Check[] | null {
    let best: Check[] = [];
    let bestServed = Infinity;
    let bestLength = Infinity;
    for (const [key, line] of this.waiting) {
      const first = line[0];
      if (first === undefined) continue;
      const served = this.served.get(key) ?? 0;
      if (served < bestServed || (served === bestServed && served === 0 && line.length < bestLength)) {
        best = [first];
        bestServed = served;
        bestLength = line.length;
      } else if (served === bestServed && (served !== 0 || line.length === bestLength)) best.push(first);
    }
    return best.length === 0 ? null : best;
  }

  private take(check: Check): void {
    const line = this.waiting.get(check.key);
    if (line === undefined) return;
    const index = line.indexOf(check);
    if (index < 0) return;
    line.splice(index, 1);
    this.waitingCount -= 1;
    if (line.length === 0) this.waiting.delete(check.key);
  }

  private run(password: string): void {
    this.running.set(password, (this.running.get(password) ?? 0) + 1);
    this.runningCount += 1;
  }
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
  /** Password checks each server runs at once and lets wait (the scenario's, else the defaults). */
  readonly checkLimits: PasswordCheckLimits;
  /** Several server nodes: a sign-up's USERNAME_TAKEN may come after its allowance was used (another node committed the name first). */
  readonly clustered: boolean;
}

export class RateLimitChecker {
  private readonly models = new Map<string, ServerModel>();
  /** connId → the attempts on it not yet answered, by request id, and which model they belong to. */
  private readonly open = new Map<number, { readonly model: ServerModel; readonly attempts: Map<number, Attempt> }>();
  /** Connections that carried a password, until their server handled their close: what the server writes on them is read. */
  private readonly lineConns = new Map<number, { readonly model: ServerModel }>();
  /** The server process handling an attempt's frames right now, or null. */
  private handling: ServerModel | null = null;
  constructor(
    private readonly world: RateLimitWorld,
    private readonly violate: (detail: string) => void,
    /** Metrics for the report: attempts judged, refusals by limit (address, guess, signups), and BUSY for the password checks (busy). */
    private readonly count: (metric: CounterName) => void,
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
      if (model === undefined) this.models.set(clock.process, (model = new ServerModel(this.world.checkLimits, this.count)));
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
      if (typeof message.password !== 'string') continue;
      // The password checks' line: what the server does with it is seen in the same instant.
      if (!this.lineConns.has(connId)) this.lineConns.set(connId, { model });
      const arriving = (model.line.arriving ??= []);
      arriving.push({ check: { key, connId, id, password: message.password, who }, started: false, refusal: null });
      this.handling = model;
    }
  }

  /** The server has handled what onClientFrames announced: the fair line settles the attempts. */
  onClientFramesHandled(): void {
    const model = this.handling;
    if (model === null) return;
    this.handling = null;
    model.line.settleArrivals((detail) => this.violate(detail));
  }

  /** Bytes a server writes on a connection, in the instant it writes them. */
  onServerWrite(connId: number, bytes: Uint8Array): void {
    const conn = this.lineConns.get(connId);
    // Read only while it matters (an attempt arriving, a check waiting): the server writes whole
    // frames, and a logged-in connection's presence and heartbeats are most of what it writes.
    if (conn === undefined || !conn.model.line.concerns(connId)) return;
    const decoder = new FrameDecoder();
    decoder.push(bytes);
    for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
      if (frame.kind !== 'control') continue;
      const message = frame.message as WireMessage;
      if (message.type !== 'error' || typeof message.re !== 'number' || typeof message.code !== 'string') continue;
      const re = message.re;
      const refused = conn.model.line.arriving?.find((a) => a.check.connId === connId && a.check.id === re);
      const detail = typeof message.detail === 'string' ? message.detail : undefined;
      if (refused !== undefined) refused.refusal = { code: message.code, detail, deliveredMs: Number.NaN };
      else if (message.code === 'BUSY' && detail !== undefined && CHECKS_BUSY.test(detail)) conn.model.line.busy(connId, re);
    }
  }

  /** A server process has handled the close of a connection. */
  onServerClosed(connId: number): void {
    const conn = this.lineConns.get(connId);
    if (conn === undefined) return;
    this.lineConns.delete(connId);
    conn.model.line.closed(connId);
  }

  /** The hasher of server process `process` started or ended a check of `password`. */
  onCheckStarted(process: string, password: string): void {
    this.models.get(process)?.line.started(password, (detail) => this.violate(detail));
  }

  onCheckEnded(process: string, password: string): void {
    this.models.get(process)?.line.ended(password);
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
