/**
 * The request ledger of the peer-machine driver: every command a step gives the machine is an
 * entry, and every event the machine emits is matched to the entry it answers by what ties them
 * together, never by arrival order:
 *
 * - a chat message by its id (the driver picks it; chat.sent and the errors about it carry it),
 *   a file by its transferId (learned from the file.offered of its own command);
 * - everything else the machine answers a command with by the command's `ref` (docs/CLIENT.md,
 *   `id` and `ref`): the driver gives each command its entry's seq as its ref, and the machine
 *   puts it on every event it emits while handling the command or the server's reply to it (a
 *   local refusal such as NO_SUCH_PEER, login.ok, an error reply), and on the SERVER_UNAVAILABLE
 *   it tells for a request whose link dropped before the reply;
 * - the errors of the commands the driver gives on its own (chat.answer, friend.accept/decline,
 *   file.cancel: no entry stands for them) by their ref, UNTRACKED_REF: they are theirs;
 * - a chat.open's later answer (chat.opened over P2P, chat.failed pushed by the server) by the
 *   friend's username (the machine keeps one request per friend and direction; a chat.failed
 *   marked `incoming` ends the friend's request to us, not ours), once the chat.open reached the
 *   machine (`reached`): one still waiting in the client's command queue is answered when it runs
 *   (a session the friend opened meanwhile: chat.opened at once, with its ref), not by the
 *   friend's session opening before it.
 *
 * An event without a ref is no command's outcome by arrival: an error the machine tells while it
 * hears another request's reply (a stale one, say) answers nothing here. An event that answers an
 * entry that already ended is a second final outcome (`onOutcomeAfterEnd`); an error that names
 * nothing is counted as unattributed, unless the server pushed it unasked (an error frame with no
 * `re` on the wire, such as HEARTBEAT_TIMEOUT or UNAUTHENTICATED_TIMEOUT) or a peer sent it over P2P.
 */
import type { ClientEvent } from '../../core/peer/events.ts';
import { mailFailureSchema } from '../../core/frames.ts';

export type EntryKind = 'signup' | 'login' | 'logout' | 'account.password' | 'friend.request' | 'friend.remove' | 'chat.open' | 'chat.send' | 'file.send';

/**
 * The ref the driver gives the commands it sends on its own (answers to requests: chat.answer,
 * friend.accept or friend.decline; file.cancel), which no step waits for and no entry stands for.
 * Entries' seqs, the refs of steps' commands, start above it. (The machine tags events with the
 * command queue's tags; the driver hands them to the ledger as these refs.)
 */
export const UNTRACKED_REF = 0;

/** Ended entries remembered to recognise a late second outcome (per peer incarnation). */
const ENDED_REMEMBERED_MAX = 256;

export interface LedgerEntry {
  /** Also the ref the driver gives its command (unique in this ledger, as the machine it feeds). */
  readonly seq: number;
  readonly kind: EntryKind;
  /** The other user, where the command names one. */
  readonly username: string | null;
  readonly messageId: string | null;
  transferId: string | null;
  outcome: string | null;
  /** The command went to the machine (it may wait in the client's command queue before). */
  reached: boolean;
  readonly done: (outcome: string) => void;
}

export interface LedgerObserver {
  /** An event answered a request that had already ended. */
  onOutcomeAfterEnd(entry: LedgerEntry, event: ClientEvent): void;
  /** An error event that answers no request and is not one the server pushes unasked. */
  onUnattributed(event: ClientEvent): void;
}

export class RequestLedger {
  private readonly open: LedgerEntry[] = [];
  private readonly ended: LedgerEntry[] = [];
  private nextSeq = UNTRACKED_REF + 1;
  /** Transfers the driver asked to cancel: a NO_SUCH_TRANSFER about one answers the cancel (it had ended). */
  private readonly cancels = new Set<string>();
  /** Codes of the error frames without `re` (pushed unasked) the machine is hearing right now. */
  private pushedErrors: string[] = [];

  constructor(private readonly observer: LedgerObserver) {}

  add(kind: EntryKind, username: string | null, messageId: string | null, done: (outcome: string) => void): LedgerEntry {
    const entry: LedgerEntry = { seq: this.nextSeq++, kind, username, messageId, transferId: null, outcome: null, reached: false, done };
    this.open.push(entry);
    return entry;
  }

  get openCount(): number {
    return this.open.length;
  }

  /** Open entries, oldest first (for explaining a script that did not finish). */
  openEntries(): readonly LedgerEntry[] {
    return this.open;
  }

  /** The machine is about to hear server error frames without `re` with these codes (from the frame tap). */
  onPushedErrorsHeard(codes: string[]): void {
    this.pushedErrors = codes;
  }

  onServerFramesHandled(): void {
    this.pushedErrors = [];
  }

  /** The entry's command went to the machine: a chat.open is answered by its friend's session from now on. */
  reached(entry: LedgerEntry): void {
    entry.reached = true;
  }

  /** Ends every open entry with `outcome` (the process crashed). */
  endAll(outcome: string): void {
    for (const entry of this.open.splice(0)) this.finish(entry, outcome);
  }

  /** The driver asked the machine to cancel this transfer (its outcome still comes as file.failed or file.sent). */
  noteCancel(transferId: string): void {
    this.cancels.add(transferId);
  }

  /**
   * Matches one event, emitted with the ref of the command it answers (undefined: none); returns
   * whether it answered an entry. An error tagged UNTRACKED_REF answers a command the driver gave
   * on its own, which no entry stands for: it is that command's, never a step's.
   */
  onEvent(event: ClientEvent, ref?: number): boolean {
    if (event.event === 'error' && event.code === 'NO_SUCH_TRANSFER' && this.cancels.delete(String((event as unknown as { id?: unknown }).id))) return true;
    if (ref === UNTRACKED_REF && event.event === 'error') return true;
    // A cancel is otherwise answered by the transfer's own final outcome, matched below.
    if (event.event === 'file.sent' || event.event === 'file.failed') this.cancels.delete(event.transferId);
    const byKey = this.correlated(event);
    if (byKey !== null) return this.apply(byKey, event);
    // Not every event a command's handling emits answers it (a login.ok's friend.request, a chat.failed ending a session with a non-friend).
    const cause = ref === undefined ? null : this.findAny((e) => e.seq === ref);
    if (cause !== null && this.apply(cause, event)) return true;
    // The end of a friend's request to us (we are the callee) answers no chat.open of ours, even
    // one to the same friend pending meanwhile (it has its own outcome to come).
    if (event.event === 'chat.failed' && event.incoming === true) return false;
    if ((event.event === 'chat.opened' || event.event === 'chat.failed') && event.username !== undefined) {
      const entry = this.find((e) => e.kind === 'chat.open' && e.reached && e.username === event.username);
      if (entry !== null) return this.apply(entry, event);
      return false;
    }
    if (event.event === 'error' && ref === undefined && !this.pushedErrors.includes(event.code) && !String(event.detail ?? '').startsWith('from ')) this.observer.onUnattributed(event);
    return false;
  }

  /** The entry an event names by a key only one request has (message id, transfer id), open or ended. */
  private correlated(event: ClientEvent): LedgerEntry | null {
    if (event.event === 'chat.sent' || event.event === 'chat.queued' || (event.event === 'error' && hasField(event, 'id'))) {
      const id = String((event as { id: unknown }).id);
      return this.findAny((e) => e.messageId === id);
    }
    if (event.event === 'file.sent' || event.event === 'file.failed') {
      return this.findAny((e) => e.transferId !== null && e.transferId === event.transferId);
    }
    return null;
  }

  private apply(entry: LedgerEntry, event: ClientEvent): boolean {
    if (event.event === 'file.offered' && entry.kind === 'file.send' && entry.transferId === null) {
      entry.transferId = event.transferId;
      return true;
    }
    // What became of a message the server held (mail.failed: the error of its code, naming the
    // message) is later news of it, as chat.delivered is, not a second answer to its chat.send.
    if (entry.outcome === 'queued' && event.event === 'error' && (mailFailureSchema.options as readonly string[]).includes(event.code)) return true;
    const outcome = finalOutcome(entry, event);
    if (outcome === undefined) return false;
    if (entry.outcome !== null) {
      this.observer.onOutcomeAfterEnd(entry, event);
      return true;
    }
    const at = this.open.indexOf(entry);
    if (at >= 0) this.open.splice(at, 1);
    this.finish(entry, outcome);
    return true;
  }

  private finish(entry: LedgerEntry, outcome: string): void {
    entry.outcome = outcome;
    this.ended.push(entry);
    if (this.ended.length > ENDED_REMEMBERED_MAX) this.ended.shift();
    entry.done(outcome);
  }

  private find(match: (entry: LedgerEntry) => boolean): LedgerEntry | null {
    for (const entry of this.open) if (match(entry)) return entry;
    return null;
  }

  private findAny(match: (entry: LedgerEntry) => boolean): LedgerEntry | null {
    return this.find(match) ?? this.findEnded(match);
  }

  private findEnded(match: (entry: LedgerEntry) => boolean): LedgerEntry | null {
    for (let i = this.ended.length - 1; i >= 0; i--) {
      const entry = this.ended[i] as LedgerEntry;
      if (match(entry)) return entry;
    }
    return null;
  }
}

function hasField(event: ClientEvent, field: string): boolean {
  return (event as unknown as Record<string, unknown>)[field] !== undefined;
}

/** The final outcome `event` gives `entry`, or undefined when it is not an answer to it. */
function finalOutcome(entry: LedgerEntry, event: ClientEvent): string | undefined {
  if (event.event === 'error') return event.code;
  switch (entry.kind) {
    case 'signup':
      return event.event === 'signup.ok' ? 'ok' : undefined;
    case 'login':
      return event.event === 'login.ok' ? 'ok' : undefined;
    case 'logout':
      return event.event === 'logout.ok' ? 'ok' : undefined;
    case 'account.password':
      return event.event === 'account.updated' ? 'ok' : undefined;
    case 'friend.request':
      if ((event.event === 'friend.requested' || event.event === 'friend.added') && event.username === entry.username) return 'ok';
      return undefined;
    case 'friend.remove':
      return event.event === 'friend.removed' && event.username === entry.username ? 'ok' : undefined;
    case 'chat.open':
      if (event.event === 'chat.opened' && event.username === entry.username) return 'established';
      if (event.event === 'chat.failed' && event.username === entry.username && event.incoming !== true) return event.reason;
      return undefined;
    case 'chat.send':
      // Over an open session it is acknowledged by the peer; with none, held by the server.
      if (event.event === 'chat.queued') return 'queued';
      return event.event === 'chat.sent' ? 'ok' : undefined;
    case 'file.send':
      if (event.event === 'file.sent') return 'ok';
      if (event.event === 'file.failed') return `file-${event.reason}`;
      return undefined;
  }
}
