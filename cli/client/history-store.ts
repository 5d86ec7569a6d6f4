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
 *   HISTORY_MESSAGES_PER_FRIEND_MAX, in the same transaction.
 * - Ids are kept as JSON text, so a message id 7 and "7" stay apart, and are not unique (a script
 *   may reuse its ids across runs): a mark and `before` name the newest record with that id.
 * - A status only moves forward (historyStatusRank): a late msg.ack after msg.stored changes nothing.
 * - Search is SQL LIKE with the pattern's own % and _ escaped: case-insensitive for ASCII letters.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { HISTORY_MESSAGES_PER_FRIEND_MAX } from '../../core/limits.ts';
import {
  HISTORY_STATUSES,
  type HistoryDirection,
  type HistoryEntry,
  type HistoryKind,
  type HistoryMark,
  type HistoryMessage,
  type HistoryStatus,
  type HistoryStore,
  type MessageId,
  historyStatusRank,
} from '../../core/peer/history.ts';

export const HISTORY_DATABASE_FILE = 'history.sqlite';
/** How long a write waits for another client writing the same database. */
const BUSY_TIMEOUT_MS = 5_000;
const SCHEMA_VERSION = 1;

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
}

export class SqliteHistory implements HistoryStore {
  readonly path: string;
  private readonly db: Database.Database;
  private readonly perFriendMax: number;
  private readonly statements;
  private readonly appendTx: (account: string, entry: HistoryEntry) => void;

  constructor(options: SqliteHistoryOptions) {
    this.perFriendMax = options.perFriendMax ?? HISTORY_MESSAGES_PER_FRIEND_MAX;
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
    if ((this.db.pragma('user_version', { simple: true }) as number) < SCHEMA_VERSION) {
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
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    }
    this.statements = {
      insert: this.db.prepare<[string, string, string, string, string, number, string, string, string, number | null, number]>(
        'INSERT INTO messages (account, friend, id, sender, body, at_ms, direction, status, kind, size, offline) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // The seq of the newest record beyond the bound: it and everything older go.
      pruneFrom: this.db.prepare<[string, string, number], { seq: number }>(
        'SELECT seq FROM messages WHERE account = ? AND friend = ? ORDER BY seq DESC LIMIT 1 OFFSET ?',
      ),
      prune: this.db.prepare<[string, string, number]>('DELETE FROM messages WHERE account = ? AND friend = ? AND seq <= ?'),
      newestWithId: this.db.prepare<[string, string, string], { seq: number; direction: HistoryDirection; status: HistoryStatus }>(
        'SELECT seq, direction, status FROM messages WHERE account = ? AND friend = ? AND id = ? ORDER BY seq DESC LIMIT 1',
      ),
      newestWithIdIn: this.db.prepare<[string, string, string, string], { seq: number; direction: HistoryDirection; status: HistoryStatus }>(
        'SELECT seq, direction, status FROM messages WHERE account = ? AND friend = ? AND id = ? AND direction = ? ORDER BY seq DESC LIMIT 1',
      ),
      setStatus: this.db.prepare<[string, number]>('UPDATE messages SET status = ? WHERE seq = ?'),
      page: this.db.prepare<[string, string, number, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND friend = ? AND seq < ? ORDER BY seq DESC LIMIT ?`,
      ),
      searchOne: this.db.prepare<[string, string, string, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND friend = ? AND body LIKE ? ESCAPE '\\' ORDER BY seq DESC LIMIT ?`,
      ),
      searchAll: this.db.prepare<[string, string, number], Row>(
        `SELECT ${COLUMNS} FROM messages WHERE account = ? AND body LIKE ? ESCAPE '\\' ORDER BY seq DESC LIMIT ?`,
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
      const beyond = this.statements.pruneFrom.get(account, entry.friend, this.perFriendMax);
      if (beyond !== undefined) this.statements.prune.run(account, entry.friend, beyond.seq);
    });
  }

  append(account: string, entry: HistoryEntry): void {
    this.appendTx(account, entry);
  }

  mark(account: string, mark: HistoryMark): void {
    const id = JSON.stringify(mark.id);
    const target =
      mark.direction === null
        ? this.statements.newestWithId.get(account, mark.friend, id)
        : this.statements.newestWithIdIn.get(account, mark.friend, id, mark.direction);
    if (target === undefined) return;
    if (!mark.through) {
      if (historyStatusRank(target.status) < historyStatusRank(mark.status)) this.statements.setStatus.run(mark.status, target.seq);
      return;
    }
    // Through: this record and the earlier ones of its direction that have not reached the status
    // yet (failed ones stay failed: they never arrived).
    const behind = HISTORY_STATUSES.filter((status) => status !== 'failed' && historyStatusRank(status) < historyStatusRank(mark.status));
    if (behind.length === 0) return;
    this.db
      .prepare(`UPDATE messages SET status = ? WHERE account = ? AND friend = ? AND direction = ? AND seq <= ? AND status IN (${behind.map(() => '?').join(', ')})`)
      .run(mark.status, account, mark.friend, target.direction, target.seq, ...behind);
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
    const pattern = `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    const rows = friend === null ? this.statements.searchAll.all(account, pattern, limit) : this.statements.searchOne.all(account, friend, pattern, limit);
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
