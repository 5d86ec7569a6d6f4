/**
 * The client's history (core/peer/history.ts's HistoryStore) on SQLite: every chat message and
 * file event, per account and friend, in `history.sqlite` in the client's data dir, so it
 * outlives logout, quit and restart. The peer machine says what to append and mark (effects); the
 * host calls this store and feeds its answers back (core/peer/host.ts).
 *
 * - WAL with synchronous NORMAL: a commit survives the process dying (kill -9 included); only an
 *   OS crash or power loss may take the last few. Several clients may share one data dir (rows
 *   carry the account): busy_timeout makes them wait for each other, never fail at once.
 * - Bounded: each append prunes the oldest records of that account and friend beyond
 *   HISTORY_MESSAGES_PER_FRIEND_MAX records or HISTORY_BYTES_PER_FRIEND_MAX bytes of text, in the
 *   same transaction. The count and bytes per account and friend are read once and then kept in
 *   memory, so an append costs a few index steps, not a walk over the friend's records (a friend
 *   who floods us with messages costs us little per message, and a search walks at most their
 *   bytes' worth).
 * - A read mark "through" a message touches only the records after the last read mark of that
 *   direction (kept in read_marks), so repeated or older receipts, which a hostile friend could
 *   send by the thousand, cost one lookup each.
 * - Ids are kept as JSON text, so a message id 7 and "7" stay apart, and are not unique (a script
 *   may reuse its ids across runs): a mark and `before` name the newest record with that id; the
 *   server's receipt for an offline message the newest with that id still `sending` or `queued`,
 *   if any (a newer one the server refused under that id, MESSAGE_ID_TAKEN, is not it).
 * - A status only moves forward (historyStatusRank): a late msg.ack after msg.stored changes nothing.
 * - A read receipt waiting for a session (chat.read with none open) is kept in receipts_owed,
 *   one per account and friend, until a session with that friend opens (the peer machine sends
 *   it then) or the friendship ends; the runtime tells the machine again at the account's next
 *   login, so a program that stops first does not lose it (cli/client/client-runtime.ts).
 * - What a program was sending when it died (killed, crashed) stays `sending`, and an offer it was
 *   making or answering `offered`, with nothing left to move them on: the account's next login
 *   marks them `failed` (settleInterrupted; a partial index keeps that cheap). An offline message
 *   among them may be held by the server all the same: its receipt, told after that login, makes
 *   it `delivered` (or leaves it `failed`, MAIL_UNREADABLE). Any program with
 *   that account logged in before had its sessions end at that login (one login per account), so
 *   nothing of its is still on its way; other accounts on the data dir are not touched.
 * - Our messages still `queued` for anyone not in the friend list a login brings are failed then
 *   (failQueuedExcept: the server deleted them with the friendship, which ended while we were
 *   away); a receipt held for one of them, told after the login, makes it `delivered` all the
 *   same (the friend took it first). A partial index keeps the walk to the queued ones.
 * - Search is instr() over lower() of both sides: the text is matched as it is (%, _, \ and NUL
 *   too; LIKE would stop its pattern at a NUL and match every record), case-insensitive for ASCII
 *   letters (SQLite's lower() folds only those).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HISTORY_BYTES_PER_FRIEND_MAX, HISTORY_MESSAGES_PER_FRIEND_MAX } from '../../core/limits.ts';
import {
  HISTORY_STATUSES,
  type HistoryDirection,
  type HistoryEntry,
  type HistoryKind,
  type HistoryMark,
  type HistoryMessage,
  type HistoryStatus,
  type HistoryStore,
  type FriendshipSeen,
  type MessageId,
  historyStatusRank,
} from '../../core/peer/history.ts';

export const HISTORY_DATABASE_FILE = 'history.sqlite';
/** How long a write waits for another client writing the same database. */
const BUSY_TIMEOUT_MS = 5_000;
/** 1: messages; 2: read_marks; 3: messages_unsettled; 4: receipts_owed; 5: friendships_seen. */
const SCHEMA_VERSION = 5;
/** The statuses a record in flight has; a program that stopped leaves them behind (settleInterrupted). */
const IN_FLIGHT_STATUSES = "('sending', 'offered')";
/** The statuses of our message the server may hold: a receipt (HistoryMark.receipt) looks for these first. */
const HELD_OR_SENDING_STATUSES = "('sending', 'queued')";

interface Row {
  seq: number;
  friend: string;
  id: string;
  sender: string;
  body: string;
  at_ms: number;
  direction: HistoryDirection;
  status: HistoryStatus;
  kind: HistoryKind;
  size: number | null;
  offline: number;
}

const COLUMNS = 'seq, friend, id, sender, body, at_ms, direction, status, kind, size, offline';

export interface SqliteHistoryOptions {
  /** The client's data dir; null: an in-memory database (tests). */
  readonly dataDir: string | null;
  /** Records kept per account and friend (tests lower it). */
  readonly perFriendMax?: number;
  /** Bytes of text (UTF-8) kept per account and friend (tests lower it). */
  readonly perFriendBytesMax?: number;
}

/** What the runtime asks of its history beyond the peer machine's HistoryStore (see the header). */
export interface RuntimeHistory {
  settleInterrupted(account: string): number;
  oweReceipt(account: string, friend: string, id: MessageId): void;
  receiptTold(account: string, friend: string): void;
  owedReceipts(account: string): ReadonlyArray<{ readonly friend: string; readonly id: MessageId }>;
}

export class SqliteHistory implements HistoryStore, RuntimeHistory {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly perFriendMax: number;
  private readonly perFriendBytesMax: number;
  private readonly statements;
  private readonly appendTx: (account: string, entry: HistoryEntry) => void;
  /** Records and their bytes of text per account and friend (`${account}\0${friend}`), read once from the database. */
  private readonly held = new Map<string, { count: number; bytes: number }>();

  constructor(options: SqliteHistoryOptions) {
    this.perFriendMax = options.perFriendMax ?? HISTORY_MESSAGES_PER_FRIEND_MAX;
    this.perFriendBytesMax = options.perFriendBytesMax ?? HISTORY_BYTES_PER_FRIEND_MAX;
    if (options.dataDir === null) {
      this.path = ':memory:';
    } else {
      mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
      this.path = join(options.dataDir, HISTORY_DATABASE_FILE);
    }
    this.db = new Database(this.path);
    this.db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    // Every statement is IF NOT EXISTS: a database of an older version gains what it lacks
    // (version 1 had no read_marks), a current one is left as it is.
    {
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS messages (
          seq INTEGER PRIMARY KEY AUTOINCREMENT,
          account TEXT NOT NULL,
          friend TEXT NOT NULL,
          id TEXT NOT NULL,
          sender TEXT NOT NULL,
          body TEXT NOT NULL,
          at_ms INTEGER NOT NULL,
          direction TEXT NOT NULL,
          status TEXT NOT NULL,
          kind TEXT NOT NULL,
          size INTEGER,
          offline INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS messages_by_friend ON messages (account, friend, seq);
        CREATE INDEX IF NOT EXISTS messages_by_id ON messages (account, friend, id);
        CREATE INDEX IF NOT EXISTS messages_unsettled ON messages (account) WHERE status IN ${IN_FLIGHT_STATUSES};
        CREATE INDEX IF NOT EXISTS messages_queued ON messages (account, friend) WHERE direction = 'out' AND status = 'queued';
        CREATE TABLE IF NOT EXISTS read_marks (
          account TEXT NOT NULL,
          friend TEXT NOT NULL,
          direction TEXT NOT NULL,
          seq INTEGER NOT NULL,
          PRIMARY KEY (account, friend, direction)
        );
        -- When each friendship began, as the server last said (friendshipsSeen): another start means
        -- the one our queued messages went to ended, and took them.
        CREATE TABLE IF NOT EXISTS friendships_seen (
          account TEXT NOT NULL,
          friend TEXT NOT NULL,
          since_ms INTEGER NOT NULL,
          PRIMARY KEY (account, friend)
        );
        CREATE TABLE IF NOT EXISTS receipts_owed (
          account TEXT NOT NULL,
          friend TEXT NOT NULL,
          id TEXT NOT NULL,
          PRIMARY KEY (account, friend)
        );
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    }
    this.statements = {
      insert: this.db.prepare<[string, string, string, string, string, number, string, string, string, number | null, number]>(
        'INSERT INTO messages (account, friend, id, sender, body, at_ms, direction, status, kind, size, offline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      held: this.db.prepare<[string, string], { n: number; bytes: number }>(
        'SELECT count(*) AS n, coalesce(sum(length(CAST(body AS BLOB))), 0) AS bytes FROM messages WHERE account = ? AND friend = ?',
      ),
      oldest: this.db.prepare<[string, string], { seq: number; bytes: number }>(
        'SELECT seq, length(CAST(body AS BLOB)) AS bytes FROM messages WHERE account = ? AND friend = ? ORDER BY seq ASC',
      ),
      pruneThrough: this.db.prepare<[string, string, number]>('DELETE FROM messages WHERE account = ? AND friend = ? AND seq <= ?'),
      readMark: this.db.prepare<[string, string, string], { seq: number }>('SELECT seq FROM read_marks WHERE account = ? AND friend = ? AND direction = ?'),
      setReadMark: this.db.prepare<[string, string, string, number]>(
        'INSERT INTO read_marks (account, friend, direction, seq) VALUES (?, ?, ?, ?) ON CONFLICT (account, friend, direction) DO UPDATE SET seq = excluded.seq',
      ),
      newestWithId: this.db.prepare<[string, string, string], { seq: number; direction: HistoryDirection; status: HistoryStatus }>(
        'SELECT seq, direction, status FROM messages WHERE account = ? AND friend = ? AND id = ? ORDER BY seq DESC LIMIT 1',
      ),
      newestWithIdIn: this.db.prepare<[string, string, string, string], { seq: number; direction: HistoryDirection; status: HistoryStatus }>(
        'SELECT seq, direction, status FROM messages WHERE account = ? AND friend = ? AND id = ? AND direction = ? ORDER BY seq DESC LIMIT 1',
      ),
      newestUnsettledWithIdIn: this.db.prepare<[string, string, string, string], { seq: number; direction: HistoryDirection; status: HistoryStatus }>(
        `SELECT seq, direction, status FROM messages WHERE account = ? AND friend = ? AND id = ? AND direction = ? AND status IN ${HELD_OR_SENDING_STATUSES} ORDER BY seq DESC LIMIT 1`,
      ),
      setStatus: this.db.prepare<[string, number]>('UPDATE messages SET status = ? WHERE seq = ?'),
      oweReceipt: this.db.prepare<[string, string, string]>(
        'INSERT INTO receipts_owed (account, friend, id) VALUES (?, ?, ?) ON CONFLICT (account, friend) DO UPDATE SET id = excluded.id',
      ),
      receiptTold: this.db.prepare<[string, string]>('DELETE FROM receipts_owed WHERE account = ? AND friend = ?'),
      owedReceipts: this.db.prepare<[string], { friend: string; id: string }>('SELECT friend, id FROM receipts_owed WHERE account = ? ORDER BY rowid'),
      queuedFriends: this.db.prepare<[string], { friend: string }>(`SELECT DISTINCT friend FROM messages WHERE account = ? AND direction = 'out' AND status = 'queued'`),
      friendshipSince: this.db.prepare<[string, string], { since_ms: number }>('SELECT since_ms FROM friendships_seen WHERE account = ? AND friend = ?'),
      seeFriendship: this.db.prepare<[string, string, number]>(
        'INSERT INTO friendships_seen (account, friend, since_ms) VALUES (?, ?, ?) ON CONFLICT (account, friend) DO UPDATE SET since_ms = excluded.since_ms',
      ),
      failQueued: this.db.prepare<[string, string]>(`UPDATE messages SET status = 'failed' WHERE account = ? AND friend = ? AND direction = 'out' AND status = 'queued'`),
      failInFlight: this.db.prepare<[string]>(`UPDATE messages SET status = 'failed' WHERE account = ? AND status IN ${IN_FLIGHT_STATUSES}`),
      page: this.db.prepare<[string, string, number, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND friend = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
      ),
      searchOne: this.db.prepare<[string, string, string, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND friend = ? AND instr(lower(body), lower(?)) > 0 ORDER BY seq DESC LIMIT ?`,
      ),
      searchAll: this.db.prepare<[string, string, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND instr(lower(body), lower(?)) > 0 ORDER BY seq DESC LIMIT ?`,
      ),
    };
    this.appendTx = this.db.transaction((account: string, entry: HistoryEntry) => {
      this.statements.insert.run(
        account,
        entry.friend,
        JSON.stringify(entry.id),
        entry.from,
        entry.text,
        entry.atMs,
        entry.direction,
        entry.status,
        entry.kind,
        entry.size ?? null,
        entry.offline === true ? 1 : 0,
      );
      const key = `${account}\u0000${entry.friend}`;
      let held = this.held.get(key);
      if (held === undefined) {
        // Read once, with the record just inserted in it.
        const row = this.statements.held.get(account, entry.friend);
        held = { count: row?.n ?? 1, bytes: row?.bytes ?? 0 };
        this.held.set(key, held);
      } else {
        held.count += 1;
        held.bytes += Buffer.byteLength(entry.text, 'utf8');
      }
      if (held.count > this.perFriendMax || held.bytes > this.perFriendBytesMax) this.pruneOldest(account, entry.friend, held);
    });
  }

  append(account: string, entry: HistoryEntry): void {
    this.appendTx(account, entry);
  }

  /** Deletes the oldest records of the friend until both bounds hold (inside the append's transaction). */
  private pruneOldest(account: string, friend: string, held: { count: number; bytes: number }): void {
    let through: number | null = null;
    for (const row of this.statements.oldest.iterate(account, friend)) {
      if (held.count <= this.perFriendMax && held.bytes <= this.perFriendBytesMax) break;
      through = row.seq;
      held.count -= 1;
      held.bytes -= row.bytes;
    }
    if (through !== null) this.statements.pruneThrough.run(account, friend, through);
  }

  mark(account: string, mark: HistoryMark): void {
    const id = JSON.stringify(mark.id);
    // A receipt is about the message the server held: not a newer one under its id it refused.
    const unsettled = mark.receipt === true && mark.direction !== null ? this.statements.newestUnsettledWithIdIn.get(account, mark.friend, id, mark.direction) : undefined;
    const target =
      unsettled ??
      (mark.direction === null
        ? this.statements.newestWithId.get(account, mark.friend, id)
        : this.statements.newestWithIdIn.get(account, mark.friend, id, mark.direction));
    if (target === undefined) return;
    if (!mark.through) {
      // A receipt for one failed at a login (its friendship found ended): taken before it ended (history.ts).
      const takenBefore = target.status === 'failed' && mark.status === 'delivered';
      if (takenBefore || historyStatusRank(target.status) < historyStatusRank(mark.status)) this.statements.setStatus.run(mark.status, target.seq);
      return;
    }
    // Through: this record and the earlier ones of its direction that have not reached the status
    // yet (failed ones stay failed: they never arrived).
    const behind = HISTORY_STATUSES.filter((status) => status !== 'failed' && historyStatusRank(status) < historyStatusRank(mark.status));
    if (behind.length === 0) return;
    const since = this.statements.readMark.get(account, mark.friend, target.direction)?.seq ?? 0;
    if (target.seq <= since) return;
    this.markThrough(account, mark, target.direction, since, target.seq, behind);
  }

  /** Marks the records after the last read mark up to `upTo`, and moves the mark, at once. */
  private markThrough(account: string, mark: HistoryMark, direction: HistoryDirection, since: number, upTo: number, behind: readonly HistoryStatus[]): void {
    const update = this.db.prepare(
      `UPDATE messages SET status = ? WHERE account = ? AND friend = ? AND direction = ? AND seq > ? AND seq <= ? AND status IN (${behind.map(() => '?').join(', ')})`,
    );
    this.db.transaction(() => {
      update.run(mark.status, account, mark.friend, direction, since, upTo, ...behind);
      this.statements.setReadMark.run(account, mark.friend, direction, upTo);
    })();
  }

  /**
   * A read receipt for `friend` waits for the next session (chat.read with none open): kept here
   * too, so a program that stops before that session does not lose it. The newest replaces an
   * older one (it covers every earlier message).
   */
  oweReceipt(account: string, friend: string, id: MessageId): void {
    this.statements.oweReceipt.run(account, friend, JSON.stringify(id));
  }

  /** The receipt owed to `friend` went out with a session that opened, or the friendship ended. */
  receiptTold(account: string, friend: string): void {
    this.statements.receiptTold.run(account, friend);
  }

  /** The receipts `account` still owes, oldest first: told again at its next login. */
  owedReceipts(account: string): Array<{ readonly friend: string; readonly id: MessageId }> {
    return this.statements.owedReceipts.all(account).map((row) => ({ friend: row.friend, id: JSON.parse(row.id) as MessageId }));
  }

  failQueued(account: string, friend: string): void {
    this.statements.failQueued.run(account, friend);
  }

  /**
   * A friendship that began since we last saw it is another one: the server dropped what it held
   * of ours with the one before (the queued ones fail, as failQueued). The first one seen for a
   * friend is only kept: messages queued before this was kept are not judged.
   */
  friendshipsSeen(account: string, friends: readonly FriendshipSeen[]): void {
    this.db.transaction(() => {
      for (const { username, sinceMs } of friends) {
        const before = this.statements.friendshipSince.get(account, username)?.since_ms;
        if (before === sinceMs) continue;
        if (before !== undefined) this.statements.failQueued.run(account, username);
        this.statements.seeFriendship.run(account, username, sinceMs);
      }
    })();
  }

  /** The friends with our messages still queued are few: each one not among `friends` is failed as failQueued does. */
  failQueuedExcept(account: string, friends: readonly string[]): void {
    const keep = new Set(friends);
    this.db.transaction(() => {
      for (const { friend } of this.statements.queuedFriends.all(account)) if (!keep.has(friend)) this.statements.failQueued.run(account, friend);
    })();
  }

  /**
   * `account` logged in on this program: what it left `sending` or `offered` when a program
   * stopped is marked `failed` (see the header). Answers how many records changed.
   */
  settleInterrupted(account: string): number {
    return this.statements.failInFlight.run(account).changes;
  }

  page(account: string, friend: string, limit: number, before: MessageId | null): HistoryMessage[] {
    let beforeSeq = Number.MAX_SAFE_INTEGER;
    if (before !== null) {
      const target = this.statements.newestWithId.get(account, friend, JSON.stringify(before));
      if (target === undefined) return [];
      beforeSeq = target.seq;
    }
    return this.statements.page.all(account, friend, beforeSeq, limit).reverse().map(toMessage);
  }

  search(account: string, text: string, friend: string | null, limit: number): HistoryMessage[] {
    const rows = friend === null ? this.statements.searchAll.all(account, text, limit) : this.statements.searchOne.all(account, friend, text, limit);
    return rows.map(toMessage);
  }

  /** Records kept for an account and friend (tests). */
  count(account: string, friend: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM messages WHERE account = ? AND friend = ?').get(account, friend) as { n: number }).n;
  }

  close(): void {
    this.db.close();
  }
}

function toMessage(row: Row): HistoryMessage {
  return {
    id: JSON.parse(row.id) as MessageId,
    from: row.sender,
    username: row.friend,
    text: row.body,
    at: new Date(row.at_ms).toISOString(),
    direction: row.direction,
    status: row.status,
    kind: row.kind,
    ...(row.size === null ? {} : { size: row.size }),
    ...(row.offline === 1 ? { offline: true } : {}),
  };
}
