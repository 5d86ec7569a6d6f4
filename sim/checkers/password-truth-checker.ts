/**
 * The password-truth checker (driver peer-machine): a client's word about its password, and the
 * credentials it logs itself back in with, match what the server holds.
 *
 * - A password change's final answer matches the server's store when it is given: `ok` (the
 *   client's account.updated) only if the store holds the new password; a refusal (an error code
 *   that says the change did not happen: the server's BAD_CREDENTIALS, PASSWORD_INVALID,
 *   RATE_LIMITED, BUSY, INTERNAL, NOT_LOGGED_IN, the client's QUEUE_FULL, or SERVER_UNAVAILABLE
 *   saying "the old password still works", docs/CLIENT.md) only if it does not. Any other end
 *   (SERVER_UNAVAILABLE when nobody can tell: the user quit or logged out before the login was
 *   taken back) claims nothing and is not judged; nor is a change to the password the store
 *   already held. Judged when the answer is given: a change the server has not applied by then
 *   can no longer be (the connection that asked for it is gone or taken over: core/server/machine.ts
 *   `passwordChangeConn`).
 * - A login the client sends on its own (no login of the user's awaiting its answer: the link
 *   taking its login back after a resume was refused) uses the password the user last logged in
 *   with or changed to (a change answered ok), or, while a change awaits its answer, that change's
 *   new one. A password the server refused to take stays out of it.
 * - A resume carries the last resume token the server gave this client (login.ok, or the
 *   account.updated answering its password change): a client that kept an older one is refused,
 *   and logs in again after a blip shorter than the TTL where it should have resumed.
 *
 * The store's truth comes from the simulated store (sim/world/sim-store.ts), the tokens from the
 * frames on the wire, and what the client should hold from the step outcomes: nothing is read from
 * the client's own bookkeeping (core/peer/server-link.ts `Account`), whose bugs an oracle sharing
 * it would share.
 */

export type PasswordViolation = (detail: string) => void;

/** The server's store, as the checker asks it. */
export interface StoredPasswords {
  /** Whether the store holds `password` as `username`'s password now. */
  holds(username: string, password: string): boolean;
}

/** Final answers to account.password that say the change did not happen (docs/CLIENT.md, docs/PROTOCOL.md). */
const REFUSALS: ReadonlySet<string> = new Set(['BAD_CREDENTIALS', 'PASSWORD_INVALID', 'RATE_LIMITED', 'BUSY', 'INTERNAL', 'NOT_LOGGED_IN', 'QUEUE_FULL']);
/** SERVER_UNAVAILABLE answers a change whose answer a drop took; only this detail says it did not happen. */
const NOT_CHANGED_DETAIL = /old password still works/;

interface Change {
  readonly to: string;
  /** The store held `to` already when the change was typed: no answer can be told apart. */
  readonly heldBefore: boolean;
}

export class PasswordTruth {
  /** The password the client should log in with on its own: its last good login's, or the last change answered ok. */
  private password: string | null = null;
  /** The change awaiting its answer (one at a time: a user types the next after the answer). */
  private change: Change | null = null;
  /** The user's logins awaiting their answer: a login sent meanwhile is (or may be) theirs. */
  private userLogins = 0;
  /** The last resume token the server sent this client, or null before any. */
  private token: string | null = null;

  constructor(
    private readonly username: string,
    private readonly stored: StoredPasswords,
    private readonly violate: PasswordViolation,
  ) {}

  /** The user typed a login with `password`. */
  loginTyped(): void {
    this.userLogins += 1;
  }

  /** The user's login ended `outcome` (`ok`: the client now holds `password`). */
  loginAnswered(password: string, outcome: string): void {
    this.userLogins = Math.max(0, this.userLogins - 1);
    if (outcome === 'ok') this.password = password;
  }

  /** The user typed account.password to `to`. */
  changeTyped(to: string): void {
    this.change = { to, heldBefore: this.stored.holds(this.username, to) };
  }

  /** The change's final answer: a step outcome, with the error's detail when it has one. */
  changeAnswered(outcome: string, detail: string | undefined): void {
    const change = this.change;
    this.change = null;
    if (change === null) return;
    if (outcome === 'ok') this.password = change.to;
    if (change.heldBefore) return;
    const held = this.stored.holds(this.username, change.to);
    if (outcome === 'ok' && !held) {
      this.violate(`${this.username}'s password change was answered ok, but the server's store does not hold the new password`);
    }
    const refused = REFUSALS.has(outcome) || (outcome === 'SERVER_UNAVAILABLE' && detail !== undefined && NOT_CHANGED_DETAIL.test(detail));
    if (refused && held) {
      this.violate(`${this.username}'s password change was answered ${outcome}${detail === undefined ? '' : ` ("${detail}")`}, but the server's store holds the new password`);
    }
  }

  /** A resume token the server sent this client (login.ok, account.updated). */
  tokenGiven(token: string): void {
    this.token = token;
  }

  /** The client sent a login frame with `password`; whether it is the client's own (no login of the user's awaits its answer). */
  loginSent(password: string): boolean {
    if (this.userLogins > 0) return false;
    if (this.password === null || password === this.password) return true;
    if (this.change !== null && password === this.change.to) return true;
    const pending = this.change === null ? 'no password change awaiting its answer' : 'a change to another password awaiting its answer';
    this.violate(`${this.username} logged itself back in with a password it was never told holds (${pending}): the user's last login or change answered ok says otherwise`);
    return true;
  }

  /** The client sent a resume frame with `token`. */
  resumeSent(token: string): void {
    if (this.token === null || token === this.token) return;
    this.violate(`${this.username} resumed with a token other than the last one the server gave it (a password change's account.updated replaces it): the server refuses it, and the client logs in again where it should have resumed`);
  }
}
