/**
 * The request ledger of the peer-machine driver: every command a step gives the machine is an
 * entry, and every event the machine emits is matched to the entry it answers by what ties them
 * together, never by arrival order:
 *
 * - a chat message by its id (the driver picks it; chat.sent and the errors about it carry it),
 *   a file by its transferId (learned from the file.offered of its own command);
 * - a server request by its request id: the driver sees the frame the command sent (its `id`, from
 *   the host's effects) and the frame tap tells which reply frames (`re`) the machine is hearing
 *   when an event comes out;
 * - an event emitted while the command itself is being handled (a local refusal such as
 *   NO_SUCH_PEER or SESSION_PENDING) by that command;
 * - a chat.open's answer by the friend's username (the machine keeps one request per friend and
 *   direction; a chat.failed marked `incoming` ends the friend's request to us, not ours);
 * - SERVER_UNAVAILABLE outside any reply: the link dropped, and the machine fails every request
 *   sent on it, oldest first; but an error the machine tags as the answer to one of the driver's
 *   own commands is that command's (onEvent's `untracked`).
 *
 * An event that answers no open entry but names one that already ended is a second final outcome
 * (`onOutcomeAfterEnd`); an error that names nothing and arrives outside every reply and command is
 * counted as unattributed, unless the server pushed it unasked (an error frame with no `re` on the
 * wire, such as HEARTBEAT_TIMEOUT or UNAUTHENTICATED_TIMEOUT) or a peer sent it over P2P.
 */
import type { ClientEvent } from '../../core/peer/events.ts';

export type EntryKind = 'signup' | 'login' | 'logout' | 'friend.request' | 'friend.remove' | 'chat.open' | 'chat.send' | 'file.send';

/** The client frame type each server-backed command sends. */
const FRAME_TYPE_OF: Readonly<Partial<Record<EntryKind, string>>> = {
  signup: 'signup',
  login: 'login',
  logout: 'logout',
  'friend.request': 'friend.request',
  'friend.remove': 'friend.remove',
  'chat.open': 'session.request',
};

/** Ended entries remembered to recognise a late second outcome (per peer incarnation). */
const ENDED_REMEMBERED_MAX = 256;

export interface LedgerEntry {
  readonly seq: number;
  readonly kind: EntryKind;
  /** The other user, where the command names one. */
  readonly username: string | null;
  readonly messageId: string | null;
  transferId: string | null;
  /** The server request id of the frame the command sent, once seen. */
  requestId: number | null;
  outcome: string | null;
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
  private nextSeq = 1;
  /** The entry whose command the machine is handling right now. */
  private handling: LedgerEntry | null = null;
  /** Request ids of the reply frames the machine is hearing right now. */
  private replies: number[] = [];
  /** Transfers the driver asked to cancel: a NO_SUCH_TRANSFER about one answers the cancel (it had ended). */
  private readonly cancels = new Set<string>();
  /** Codes of the error frames without `re` (pushed unasked) the machine is hearing right now. */
  private pushedErrors: string[] = [];

  constructor(private readonly observer: LedgerObserver) {}

  add(kind: EntryKind, username: string | null, messageId: string | null, done: (outcome: string) => void): LedgerEntry {
    const entry: LedgerEntry = { seq: this.nextSeq++, kind, username, messageId, transferId: null, requestId: null, outcome: null, done };
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

  /** Runs `input` (the command's hand-over to the machine) with `entry` as the cause of what comes out. */
  handle(entry: LedgerEntry, input: () => void): void {
    this.handling = entry;
    try {
      input();
    } finally {
      this.handling = null;
    }
  }

  /** The machine sent a frame to the server: the command being handled owns its id. */
  onFrameSent(frame: { readonly type: string; readonly id?: number }): void {
    const entry = this.handling;
    if (entry === null || entry.requestId !== null || frame.id === undefined || FRAME_TYPE_OF[entry.kind] !== frame.type) return;
    entry.requestId = frame.id;
  }

  /** The machine is about to hear these server frames (from the frame tap). */
  onRepliesHeard(requestIds: number[], pushedErrors: string[]): void {
    this.replies = requestIds;
    this.pushedErrors = pushedErrors;
  }

  onRepliesHandled(): void {
    this.replies = [];
    this.pushedErrors = [];
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
   * Matches one event; returns whether it answered an entry. `untracked`: the machine tagged it as
   * the answer to a command the driver gave on its own, which no entry stands for (chat.answer,
   * friend.accept or friend.decline, file.cancel): an error so tagged is that command's, never a
   * step's, whatever it says (the SERVER_UNAVAILABLE of a chat.answer lost with its link was once
   * taken for a login's, which the link was sending again).
   */
  onEvent(event: ClientEvent, untracked = false): boolean {
    if (event.event === 'error' && event.code === 'NO_SUCH_TRANSFER' && this.cancels.delete(String((event as unknown as { id?: unknown }).id))) return true;
    if (untracked && event.event === 'error') return true;
    // A cancel is otherwise answered by the transfer's own final outcome, matched below.
    if (event.event === 'file.sent' || event.event === 'file.failed') this.cancels.delete(event.transferId);
    const byKey = this.correlated(event);
    if (byKey !== null) return this.apply(byKey, event);
    const cause = this.handling ?? this.replyEntry(event);
    if (cause !== null) return this.apply(cause, event);
    // The end of a friend's request to us (we are the callee) answers no chat.open of ours, even
    // one to the same friend pending meanwhile (it has its own outcome to come).
    if (event.event === 'chat.failed' && event.incoming === true) return false;
    if ((event.event === 'chat.opened' || event.event === 'chat.failed') && event.username !== undefined) {
      const entry = this.find((e) => e.kind === 'chat.open' && e.username === event.username);
      if (entry !== null) return this.apply(entry, event);
      return false;
    }
    if (event.event === 'error' && event.code === 'SERVER_UNAVAILABLE' && !hasField(event, 'username') && !hasField(event, 'id')) {
      // The link dropped: the machine fails every request it had sent on it, oldest first.
      const entry = this.find((e) => e.requestId !== null && e.kind !== 'chat.open' && e.kind !== 'logout');
      if (entry !== null) return this.apply(entry, event);
    }
    if (event.event === 'error' && !this.pushedErrors.includes(event.code) && !String(event.detail ?? '').startsWith('from ')) this.observer.onUnattributed(event);
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

  /** The open entry among the replies being heard that this event can answer. */
  private replyEntry(event: ClientEvent): LedgerEntry | null {
    if (this.replies.length === 0) return null;
    for (const id of this.replies) {
      const entry = this.findAny((e) => e.requestId === id);
      if (entry !== null && finalOutcome(entry, event) !== undefined) return entry;
    }
    return null;
  }

  private apply(entry: LedgerEntry, event: ClientEvent): boolean {
    if (event.event === 'file.offered' && entry.kind === 'file.send' && entry.transferId === null) {
      entry.transferId = event.transferId;
      return true;
    }
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
