/**
 * The outage-reported checker (both drivers: the peer machine's events, and the light client's
 * server link actions they come from): a client tells its user of each outage of its server link
 * exactly as docs/PROTOCOL.md says: `disconnected` once when a link it had been
 * welcomed on is lost, `reconnected` once when it is back (logged in again, or welcomed with no
 * login to take back, or its login refused on the way), and nothing else. The dashboard shows
 * "reconnecting" between the two; a second `disconnected`, a `reconnected` with no outage, a
 * drop never told, or an outage never ended would each leave it showing the wrong thing.
 *
 * The rules, judged on the events and on the server link's state each time the client settles
 * after a batch of inputs (core/peer/server-link.ts names the states; nothing else is read from
 * the machine):
 * - `disconnected` while an outage is already told: told twice.
 * - `disconnected` while the client, when it last settled, had no link that could have been
 *   welcomed (waiting to reconnect, or its connection not yet open): an outage of nothing.
 *   A link whose welcome and loss came in the same batch is not judged (its state was never
 *   seen welcomed).
 * - `reconnected` with no outage told: back from nowhere.
 * - settled waiting to reconnect, having last settled on a welcomed link, with no outage told:
 *   a drop the user was never told of.
 * - settled logged in, or welcomed with no login to take back, while an outage is told: back
 *   without saying so.
 * - at the end of the healed phase, a running client still in a told outage (liveness).
 */

export type OutageViolation = (detail: string) => void;

/** The server link's states in which the client has been welcomed on a live link (server-link.ts `WELCOMED`, restated). */
const WELCOMED_STATES: ReadonlySet<string> = new Set(['ExpectLogin', 'ExpectLoginOk', 'LoggedIn', 'ExpectLogoutOk']);
/** States with no link that could have been welcomed since: nothing to lose. */
const NO_WELCOMED_LINK_STATES: ReadonlySet<string> = new Set(['ExpectStart', 'ExpectReconnect', 'ExpectOpen']);
/** States in which an outage is over: the link is back and not taking a login back. */
const BACK_STATES: ReadonlySet<string> = new Set(['ExpectLogin', 'LoggedIn']);
/** The server link's state in which the client waits out its backoff. */
const WAITING_TO_RECONNECT = 'ExpectReconnect';

export class OutageReports {
  /** The server link's state when the client last settled (ExpectStart before it ever did). */
  private linkState = 'ExpectStart';
  /** A `disconnected` was told and no `reconnected` since. */
  private outageTold = false;
  /** When that outage was told (the client's clock), for the liveness note. */
  private toldAtMs = 0;

  constructor(
    private readonly username: string,
    private readonly violate: OutageViolation,
  ) {}

  /** The client told its user `disconnected`. */
  disconnected(nowMs: number): void {
    if (this.outageTold) {
      this.violate(`${this.username} said disconnected twice in one outage (the first at ${Math.round(this.toldAtMs)} ms, no reconnected between)`);
    } else if (NO_WELCOMED_LINK_STATES.has(this.linkState)) {
      this.violate(`${this.username} said disconnected while it had no welcomed link to lose (its server link in ${this.linkState})`);
    }
    this.outageTold = true;
    this.toldAtMs = nowMs;
  }

  /** The client told its user `reconnected`. */
  reconnected(): void {
    if (!this.outageTold) this.violate(`${this.username} said reconnected with no outage told (its server link was in ${this.linkState})`);
    this.outageTold = false;
  }

  /** The client settled after a batch of inputs, its server link in `linkState`. */
  settled(linkState: string): void {
    const before = this.linkState;
    this.linkState = linkState;
    if (linkState === WAITING_TO_RECONNECT && WELCOMED_STATES.has(before) && !this.outageTold) {
      this.violate(`${this.username} lost its server link (in ${before}) and waits to reconnect, but never said disconnected`);
    }
    if (BACK_STATES.has(linkState) && this.outageTold) {
      this.violate(`${this.username} is back on its server link (${linkState}) but never said reconnected after the outage it told at ${Math.round(this.toldAtMs)} ms`);
      // Told once per outage: the next judgement starts afresh.
      this.outageTold = false;
    }
  }

  /** At the end of the healed phase: the outage the client still tells of, or null. */
  unfinished(): string | null {
    return this.outageTold ? `still says disconnected (since ${Math.round(this.toldAtMs)} ms, its server link in ${this.linkState})` : null;
  }
}
