/**
 * The reconnect-backoff checker (driver peer-machine): a client whose server link dropped comes
 * back no sooner than docs/PROTOCOL.md's backoff allows, so many clients that lost the same server
 * do not hammer it as it restarts. The n-th attempt in a row waits at least half of
 * min(RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN × 2^n) (the jitter scales each delay to
 * 50-100%).
 *
 * Only lower bounds are judged, so no fault makes a false alarm: a paused process's timers fire
 * late, and a clock stepped forward reads a longer wait, both on the safe side. The delay is read
 * on the client's own clock, from the moment its link went down to the next connect.
 *
 * Which attempt a connect is: the client starts counting again once a link is back for good
 * (welcomed, or logged in: core/peer/server-link.ts), never before the link opened. So this
 * counts attempts since the last link that opened at all, which is never more than the client's
 * own count: the bound it implies is never stricter than the real one.
 *
 * The one connect allowed at once: a link the server closed for sitting before login (the client
 * reconnects at once, quietly: docs/CLIENT.md), told by the client not being logged in.
 */
import { RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN } from '../../core/limits.ts';

/**
 * Slack on the measured wait: local clock readings under drift are floats converted from true
 * time, so a wait of exactly the bound can read a hair short of it.
 */
const CLOCK_READING_SLACK_MS = 1;

export type BackoffViolation = (detail: string) => void;

/** The shortest wait the backoff allows before attempt `attempt` in a row (0: the first). */
export function shortestReconnectDelayMs(attempt: number): number {
  return Math.min(RECONNECT_DELAY_MS_MAX, RECONNECT_DELAY_MS_MIN * 2 ** Math.min(attempt, 30)) / 2;
}

export class ReconnectPacing {
  /** When the link last went down (the client's clock), or null while one is up or being made. */
  private downAtMs: number | null = null;
  /** Connects since a link last opened. */
  private attemptsInARow = 0;

  constructor(
    private readonly username: string,
    private readonly violate: BackoffViolation,
  ) {}

  /** The server link went down (closed by either side, or never opened). */
  linkDown(nowMs: number): void {
    if (this.downAtMs === null) this.downAtMs = nowMs;
  }

  /** A server connection opened. */
  linkOpened(): void {
    this.attemptsInARow = 0;
  }

  /** The client connects to the server; loggedIn: whether it holds a login now. */
  connecting(nowMs: number, loggedIn: boolean): void {
    const downAtMs = this.downAtMs;
    this.downAtMs = null;
    // Its first connection of all, or one after a quit: no backoff to judge.
    if (downAtMs === null) return;
    const waitedMs = nowMs - downAtMs;
    // Not a backoff attempt: the client's count stays where it was.
    if (waitedMs === 0 && !loggedIn) return;
    const attempt = this.attemptsInARow;
    this.attemptsInARow += 1;
    const shortestMs = shortestReconnectDelayMs(attempt);
    if (waitedMs + CLOCK_READING_SLACK_MS < shortestMs) {
      this.violate(`${this.username} reconnected ${waitedMs.toFixed(1)} ms after its link went down, attempt ${attempt + 1} in a row: the backoff allows no less than ${shortestMs} ms`);
    }
  }
}
