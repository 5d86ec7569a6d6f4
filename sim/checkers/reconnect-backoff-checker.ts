/**
 * The reconnect-backoff checker (both drivers: the peer machine's effects, and the light client's
 * server link actions they come from): a client waiting to reconnect to the server
 * comes back neither sooner nor later than docs/PROTOCOL.md's backoff allows. Attempt n in a row
 * waits at least half of min(RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN × 2^n) (the jitter
 * scales each delay to 50-100%), so clients that lost the same server do not hammer it as it
 * restarts; and less than that whole delay, so a client that never starts counting again after a
 * login (its delays grow from one outage to the next), or draws past the range, is caught too.
 * The formula is written out here from the documentation, not taken from core/peer/backoff.ts:
 * an oracle that shared the code would share its bugs.
 *
 * The wait is read on the client's own clock, from the moment the machine settled waiting to
 * reconnect (ExpectReconnect) to the connect that ends the wait. Other connects wait for no
 * backoff and are not judged: the user's (a login after a logout), or a link the server closed
 * before login, taken back at once (docs/CLIENT.md). The lower bound holds under every fault (a
 * paused process's timers fire late, a clock stepped forward reads a longer wait: both on the
 * safe side); the upper bound is judged only for a wait the process was not paused in, on a clock
 * no fault touched.
 *
 * Which attempt a connect is: the client starts counting again once a link is back for good
 * (welcomed, or logged in: core/peer/server-link.ts), never before the link opened. For the lower
 * bound this counts attempts since a link last opened, never more than the client's own count;
 * for the upper bound, since the client last logged in, never fewer. So neither bound is
 * stricter than the real one.
 */
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../../core/limits.ts';

/**
 * Slack on the measured wait: local clock readings under drift are floats converted from true
 * time, so a wait of exactly the bound can read a hair short of it.
 */
const CLOCK_READING_SLACK_MS = 1;

export type BackoffViolation = (detail: string) => void;

/** The longest wait (exclusive) the backoff allows before attempt `attempt` in a row (0: the first). */
export function longestReconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN * 2 ** Math.min(attempt, 30));
}

/** The shortest wait the backoff allows before attempt `attempt` in a row: half the longest. */
export function shortestReconnectDelayMs(attempt: number): number {
  return longestReconnectDelayMs(attempt) / 2;
}

/** What the driver knows of a connect's circumstances. */
export interface ConnectSeen {
  readonly nowMs: number;
  /** Whether the client's clock has run true all along (no clock fault): its waits read as long as they were. */
  readonly clockTrue: boolean;
  /** Until when the client's process was last paused (0: never). */
  readonly pausedUntilMs: number;
}

/** The server link's state in which the client waits out its backoff (core/peer/server-link.ts). */
const WAITING_TO_RECONNECT = 'ExpectReconnect';

export class ReconnectPacing {
  /** The server link's state when the client last settled. */
  private linkState: string | null = null;
  /** Since when the client has waited to reconnect (its clock), or null when it is not waiting. */
  private downAtMs: number | null = null;
  /** Connects since a link last opened (never more than the client's own count). */
  private attemptsInARow = 0;
  /** Connects since the client last logged in (never fewer than the client's own count). */
  private attemptsSinceLogin = 0;

  constructor(
    private readonly username: string,
    private readonly violate: BackoffViolation,
  ) {}

  /** The client settled after a batch of inputs, its server link in `linkState`. */
  settled(linkState: string, nowMs: number): void {
    if (linkState === WAITING_TO_RECONNECT && this.linkState !== WAITING_TO_RECONNECT) this.downAtMs = nowMs;
    this.linkState = linkState;
  }

  /** A server connection opened. */
  linkOpened(): void {
    this.attemptsInARow = 0;
  }

  /** The client logged in (login.ok, or its login taken back after an outage). */
  loggedIn(): void {
    this.attemptsSinceLogin = 0;
  }

  /** The client connects to the server. */
  connecting(seen: ConnectSeen): void {
    const downAtMs = this.downAtMs;
    // Not the end of a wait to reconnect: no backoff to judge, and the client's count stays.
    if (this.linkState !== WAITING_TO_RECONNECT || downAtMs === null) return;
    this.downAtMs = null;
    const waitedMs = seen.nowMs - downAtMs;
    const attempt = this.attemptsInARow;
    const sinceLogin = this.attemptsSinceLogin;
    this.attemptsInARow += 1;
    this.attemptsSinceLogin += 1;
    const shortestMs = shortestReconnectDelayMs(attempt);
    if (waitedMs + CLOCK_READING_SLACK_MS < shortestMs) {
      this.violate(`${this.username} reconnected ${waitedMs.toFixed(1)} ms after its link went down, attempt ${attempt + 1} in a row: the backoff allows no less than ${shortestMs} ms`);
    }
    if (!seen.clockTrue || seen.pausedUntilMs > downAtMs) return;
    const longestMs = longestReconnectDelayMs(sinceLogin);
    if (waitedMs >= longestMs + CLOCK_READING_SLACK_MS) {
      this.violate(`${this.username} reconnected ${waitedMs.toFixed(1)} ms after its link went down, attempt ${sinceLogin + 1} at most since its last login: the backoff allows less than ${longestMs} ms`);
    }
  }
}
