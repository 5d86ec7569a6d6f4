/**
 * What the client keeps of what was said: the records the peer machine hands its history store,
 * as data. The store itself (SQLite in the client's data dir) lives in cli/client/history-store.ts;
 * core only says what to append, which statuses change and which pages to read, through effects
 * (machine.ts `history.*`), and hears the answers back as inputs. Nothing here does I/O.
 *
 * One record per chat message or file transfer, per account (the user logged in) and friend:
 *
 *   direction out: sending ─msg.ack─▶ sent ─msg.stored─▶ delivered ─msg.read─▶ read
 *                  sending ─session lost or closed before the ack─▶ failed
 *   no session:    sending (being sealed and left with the server) ─mail.queued─▶ queued
 *                  sending ─refused, or never sent (link down, key unusable)─▶ failed
 *                  sending ─the answer lost with the link─▶ sending (the server may hold it: a receipt settles it)
 *                  sending ─a login after the program stopped─▶ failed ─receipt held: the server had it─▶ delivered
 *                  queued (held sealed by the server for an offline friend) ─▶ delivered ─▶ read
 *                  queued ─mail.failed: the friend's client could not open it─▶ failed
 *                  queued ─the friendship ended, told while logged in─▶ failed (the server deleted it)
 *                  queued ─the friendship found ended at a login─▶ failed ─receipt held from before─▶ delivered
 *                  queued ─the friendship found made again (another `since`) at a login─▶ failed ─receipt─▶ delivered
 *   direction in:  received ─chat.read by our user─▶ read
 *   files:         offered ─▶ done | failed
 *
 * A status only moves forward along these arrows (the store ignores a step back, say a late
 * msg.ack after msg.stored), but for the receipts: `delivered` after `failed` is the server's
 * receipt that the friend took the message (before the friendship ended, or one a stopped program
 * never heard held), so it wins. A read receipt names the last message read: every earlier message
 * of that direction with that friend counts as read too.
 */
import type { ClientEvent } from './events.ts';

export type MessageId = string | number;
export type HistoryDirection = 'in' | 'out';
export type HistoryKind = 'message' | 'file';

/** Every status a record can have, in the order a record moves through them (see the header). */
export const HISTORY_STATUSES = ['offered', 'sending', 'queued', 'sent', 'received', 'delivered', 'done', 'failed', 'read'] as const;
export type HistoryStatus = (typeof HISTORY_STATUSES)[number];

/** The rank of a status: a mark with a lower rank than the record's status is a step back, ignored. */
export function historyStatusRank(status: HistoryStatus): number {
  return HISTORY_STATUSES.indexOf(status);
}

/** A friend and when the friendship with them began (server ms): another start is another friendship. */
export interface FriendshipSeen {
  readonly username: string;
  readonly sinceMs: number;
}

/** One record as the machine hands it to the store. */
export interface HistoryEntry {
  readonly friend: string;
  /** The message id (ours or the friend's) or the transfer id. Not unique across runs: the store keys on its own row order. */
  readonly id: MessageId;
  /** Who said it: the friend (in) or the account (out). */
  readonly from: string;
  /** The message text, or the file name. */
  readonly text: string;
  readonly atMs: number;
  readonly direction: HistoryDirection;
  readonly status: HistoryStatus;
  readonly kind: HistoryKind;
  /** Files: the size in bytes. */
  readonly size?: number;
  /** The message was held by the server while we were away (offline delivery). */
  readonly offline?: boolean;
}

/**
 * A status change: of the newest record with this id, or (through) of it and every earlier one of
 * that direction. direction null: either (a failed transfer names no direction).
 */
export interface HistoryMark {
  readonly friend: string;
  readonly id: MessageId;
  readonly direction: HistoryDirection | null;
  readonly status: HistoryStatus;
  readonly through: boolean;
  /**
   * The server's receipt for a message it held (mail.delivered, mail.failed): of the records with
   * this id, the newest still `sending` or `queued` is the one, else the newest. A newer one under
   * the same id that the server refused (MESSAGE_ID_TAKEN) is failed, and stays so.
   */
  readonly receipt?: true;
}

/** One record as the `history` event shows it (CONTRACTS: id, from, text, at, direction, status; the rest are additions). */
export interface HistoryMessage {
  readonly id: MessageId;
  readonly from: string;
  /** The friend the record belongs to (addition: search results span friends). */
  readonly username: string;
  readonly text: string;
  /** ISO time. */
  readonly at: string;
  readonly direction: HistoryDirection;
  readonly status: HistoryStatus;
  readonly kind: HistoryKind;
  readonly size?: number;
  readonly offline?: boolean;
}

/**
 * The store's side, synchronous (SQLite through better-sqlite3 answers at once); the host
 * (host.ts) calls it for the machine's history effects and feeds the answers back. Each call may
 * throw: the host turns a failure into the machine's `history.failed` input.
 */
export interface HistoryStore {
  append(account: string, entry: HistoryEntry): void;
  mark(account: string, mark: HistoryMark): void;
  /** Newest last: up to `limit` records with `friend` older than the newest record with id `before` (null: the newest). */
  page(account: string, friend: string, limit: number, before: MessageId | null): HistoryMessage[];
  /** Newest first: up to `limit` records whose text contains `text` (case-insensitive), with `friend` or anyone. */
  search(account: string, text: string, friend: string | null, limit: number): HistoryMessage[];
  /** Every message to `friend` still `queued` becomes `failed`: the friendship ended, and the server deleted what it held. */
  failQueued(account: string, friend: string): void;
  /** Every message to anyone not among `friends` still `queued` becomes `failed`: at a login, those friendships ended while we were away. */
  failQueuedExcept(account: string, friends: readonly string[]): void;
  /**
   * When each friendship began, as the server says: kept per account and friend. A friend whose
   * friendship began since we last saw it (another one, after an unfriending we never heard of)
   * has our messages still `queued` for it made `failed`, as failQueued: the old one took them.
   */
  friendshipsSeen(account: string, friends: readonly FriendshipSeen[]): void;
}

/**
 * What a file event means for history: a new record (an offer either way) or a status change
 * (the transfer ended). Other events say nothing to it.
 */
export function fileHistoryOf(event: ClientEvent, account: string, nowMs: number): { readonly entry: HistoryEntry } | { readonly mark: HistoryMark } | null {
  switch (event.event) {
    case 'file.offered':
      return { entry: { friend: event.username, id: event.transferId, from: account, text: event.name, atMs: nowMs, direction: 'out', status: 'offered', kind: 'file', size: event.size } };
    case 'file.offer':
      return { entry: { friend: event.from, id: event.transferId, from: event.from, text: event.name, atMs: nowMs, direction: 'in', status: 'offered', kind: 'file', size: event.size } };
    case 'file.sent':
      return { mark: { friend: event.username, id: event.transferId, direction: 'out', status: 'done', through: false } };
    case 'file.received':
      return { mark: { friend: event.from, id: event.transferId, direction: 'in', status: 'done', through: false } };
    case 'file.failed':
      return event.username === undefined ? null : { mark: { friend: event.username, id: event.transferId, direction: null, status: 'failed', through: false } };
    default:
      return null;
  }
}
