/**
 * The client's history store (cli/client/history-store.ts) on its own: bounded per friend with the
 * oldest pruned first, statuses that only move forward, read marks through a message, paging back
 * with `before`, a search that treats %, _ and NUL as text, ids that keep their type, and records that
 * outlive the process (a second store on the same data dir reads them).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import type { HistoryEntry } from '../../../core/peer/history.ts';
import { HISTORY_DATABASE_FILE, SqliteHistory } from '../../../cli/client/history-store.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function entry(id: string | number, text: string, over: Partial<HistoryEntry> = {}): HistoryEntry {
  return { friend: 'bob', id, from: 'alice', text, atMs: 1_700_000_000_000, direction: 'out', status: 'sending', kind: 'message', ...over };
}

describe('the SQLite history store', () => {
  it('keeps at most perFriendMax records per account and friend, pruning the oldest; other friends and accounts are untouched', () => {
    const store = new SqliteHistory({ dataDir: null, perFriendMax: 3 });
    store.append('alice', entry('c1', 'to carol', { friend: 'carol' }));
    store.append('bob', entry('b1', 'bob to alice', { friend: 'alice', from: 'bob' }));
    for (let i = 1; i <= 5; i++) store.append('alice', entry(i, `m${i}`));
    expect(store.page('alice', 'bob', 10, null).map((m) => m.id)).toEqual([3, 4, 5]);
    expect(store.count('alice', 'carol')).toBe(1);
    expect(store.count('bob', 'alice')).toBe(1);
  });

  it('keeps at most perFriendBytesMax bytes of text (UTF-8) per account and friend, pruning the oldest: a friend sending the largest messages keeps fewer of them', () => {
    const store = new SqliteHistory({ dataDir: null, perFriendBytesMax: 100 });
    store.append('alice', entry('c1', 'c'.repeat(90), { friend: 'carol' }));
    for (let i = 1; i <= 5; i++) store.append('alice', entry(i, 'x'.repeat(40), { direction: 'in', from: 'bob' }));
    // 40 bytes each: two fit in 100, three do not.
    expect(store.page('alice', 'bob', 10, null).map((m) => m.id)).toEqual([4, 5]);
    // Bytes, not characters: 30 three-byte characters are 90 bytes, so only the newest is kept.
    store.append('alice', entry(6, '\u4e2d'.repeat(30), { direction: 'in', from: 'bob' }));
    expect(store.page('alice', 'bob', 10, null).map((m) => m.id)).toEqual([6]);
    expect(store.count('alice', 'carol')).toBe(1);
  });

  it('the bytes bound holds across a restart: a new store adds up what the old one kept', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-'));
    dirs.push(dir);
    const first = new SqliteHistory({ dataDir: dir, perFriendBytesMax: 100 });
    for (let i = 1; i <= 2; i++) first.append('alice', entry(i, 'x'.repeat(40)));
    first.close();
    const second = new SqliteHistory({ dataDir: dir, perFriendBytesMax: 100 });
    second.append('alice', entry(3, 'x'.repeat(40)));
    expect(second.page('alice', 'bob', 10, null).map((m) => m.id)).toEqual([2, 3]);
    second.close();
  });

  it('a status only moves forward; a read mark through a message reads the earlier ones of that direction, not failed ones', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry(1, 'one'));
    store.append('alice', entry(2, 'two'));
    store.append('alice', entry(3, 'three'));
    store.append('alice', entry('in', 'from bob', { direction: 'in', from: 'bob', status: 'received' }));
    store.mark('alice', { friend: 'bob', id: 1, direction: 'out', status: 'delivered', through: false });
    store.mark('alice', { friend: 'bob', id: 1, direction: 'out', status: 'sent', through: false });
    store.mark('alice', { friend: 'bob', id: 2, direction: 'out', status: 'failed', through: false });
    expect(store.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['delivered', 'failed', 'sending', 'received']);
    store.mark('alice', { friend: 'bob', id: 3, direction: 'out', status: 'read', through: true });
    expect(store.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['read', 'failed', 'read', 'received']);
  });

  it('read marks move only forward: an older receipt after a newer one changes nothing, a later one reads only what came since', () => {
    const store = new SqliteHistory({ dataDir: null });
    for (const id of [1, 2, 3]) store.append('alice', entry(id, `m${id}`, { status: 'delivered' }));
    store.mark('alice', { friend: 'bob', id: 2, direction: 'out', status: 'read', through: true });
    store.append('alice', entry(4, 'm4', { status: 'delivered' }));
    // A hostile friend's stale receipt (or a replay) finds nothing to do.
    store.mark('alice', { friend: 'bob', id: 1, direction: 'out', status: 'read', through: true });
    expect(store.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['read', 'read', 'delivered', 'delivered']);
    store.mark('alice', { friend: 'bob', id: 4, direction: 'out', status: 'read', through: true });
    expect(store.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['read', 'read', 'read', 'read']);
  });

  it('the bound holds across a restart: a new store counts what the old one kept before pruning', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-'));
    dirs.push(dir);
    const first = new SqliteHistory({ dataDir: dir, perFriendMax: 3 });
    for (let i = 1; i <= 3; i++) first.append('alice', entry(i, `m${i}`));
    first.close();
    const second = new SqliteHistory({ dataDir: dir, perFriendMax: 3 });
    second.append('alice', entry(4, 'm4'));
    expect(second.page('alice', 'bob', 10, null).map((m) => m.id)).toEqual([2, 3, 4]);
    second.close();
  });

  it('opens a database of the first version (no read_marks) and upgrades it: what it held stays, read marks work', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-'));
    dirs.push(dir);
    const old = new Database(join(dir, HISTORY_DATABASE_FILE));
    old.exec(`
      CREATE TABLE messages (seq INTEGER PRIMARY KEY AUTOINCREMENT, account TEXT NOT NULL, friend TEXT NOT NULL, id TEXT NOT NULL,
        sender TEXT NOT NULL, body TEXT NOT NULL, at_ms INTEGER NOT NULL, direction TEXT NOT NULL, status TEXT NOT NULL,
        kind TEXT NOT NULL, size INTEGER, offline INTEGER NOT NULL DEFAULT 0);
      INSERT INTO messages (account, friend, id, sender, body, at_ms, direction, status, kind) VALUES ('alice', 'bob', '"v1"', 'alice', 'from v1', 0, 'out', 'delivered', 'message');
      PRAGMA user_version = 1;
    `);
    old.close();
    const store = new SqliteHistory({ dataDir: dir });
    store.mark('alice', { friend: 'bob', id: 'v1', direction: 'out', status: 'read', through: true });
    expect(store.page('alice', 'bob', 10, null).map((m) => [m.id, m.text, m.status])).toEqual([['v1', 'from v1', 'read']]);
    store.close();
  });

  it('ids keep their type (7 and "7" are two messages), and before names the newest record with that id', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry(7, 'number'));
    store.append('alice', entry('7', 'string'));
    store.append('alice', entry(8, 'after'));
    expect(store.page('alice', 'bob', 10, 8).map((m) => m.id)).toEqual([7, '7']);
    expect(store.page('alice', 'bob', 10, '7').map((m) => m.text)).toEqual(['number']);
    expect(store.page('alice', 'bob', 10, 'nope')).toEqual([]);
  });

  it('search is case-insensitive, newest first, and % or _ in the text are matched literally', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry(1, 'Lunch at noon?'));
    store.append('alice', entry(2, '100% sure', { friend: 'carol' }));
    store.append('alice', entry(3, 'LUNCH again'));
    store.append('alice', entry(4, 'snake_case'));
    expect(store.search('alice', 'lunch', null, 10).map((m) => m.id)).toEqual([3, 1]);
    expect(store.search('alice', '%', null, 10).map((m) => m.id)).toEqual([2]);
    expect(store.search('alice', 'e_c', null, 10).map((m) => m.id)).toEqual([4]);
    expect(store.search('alice', '100%', 'bob', 10)).toEqual([]);
    expect(store.search('alice', 'lunch', null, 1).map((m) => m.id)).toEqual([3]);
  });

  it('search matches a NUL, a backslash or a quote as the text it is, not as the end of the pattern: a NUL finds only texts that hold one', () => {
    // Before: LIKE stops at a NUL in its pattern, so "\u0000" searched "%" and found every record.
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry(1, 'plain words'));
    store.append('alice', entry(2, 'before\u0000after'));
    store.append('alice', entry(3, 'a \\ backslash and "quotes"'));
    expect(store.search('alice', '\u0000', null, 10).map((m) => m.id)).toEqual([2]);
    expect(store.search('alice', 'before\u0000AFTER', 'bob', 10).map((m) => m.id)).toEqual([2]);
    expect(store.search('alice', 'plain\u0000', null, 10)).toEqual([]);
    expect(store.search('alice', '\\', null, 10).map((m) => m.id)).toEqual([3]);
    expect(store.search('alice', '"QUOTES"', null, 10).map((m) => m.id)).toEqual([3]);
  });

  it('failQueued fails our messages to that friend still queued, and nothing else: not theirs, not other friends\' or accounts\'', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry('q1', 'held', { status: 'queued' }));
    store.append('alice', entry('d1', 'taken', { status: 'delivered' }));
    store.append('alice', entry('in', 'theirs', { direction: 'in', from: 'bob', status: 'received' }));
    store.append('alice', entry('q2', 'to carol', { friend: 'carol', status: 'queued' }));
    store.append('carol', entry('q3', 'carol to bob', { status: 'queued' }));
    store.failQueued('alice', 'bob');
    expect(store.page('alice', 'bob', 10, null).map((m) => `${String(m.id)} ${m.status}`)).toEqual(['q1 failed', 'd1 delivered', 'in received']);
    expect(store.page('alice', 'carol', 10, null).map((m) => m.status)).toEqual(['queued']);
    expect(store.page('carol', 'bob', 10, null).map((m) => m.status)).toEqual(['queued']);
  });

  it('read receipts owed: one per account and friend (the newest replaces), ids keep their type, gone once told, and outlive the store', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-'));
    dirs.push(dir);
    const store = new SqliteHistory({ dataDir: dir });
    store.oweReceipt('bob', 'alice', 'a1');
    store.oweReceipt('bob', 'carol', 7);
    store.oweReceipt('bob', 'alice', 'a2');
    store.oweReceipt('dave', 'alice', 'x');
    expect(store.owedReceipts('bob')).toEqual([{ friend: 'alice', id: 'a2' }, { friend: 'carol', id: 7 }]);
    store.receiptTold('bob', 'alice');
    store.close();
    const again = new SqliteHistory({ dataDir: dir });
    expect(again.owedReceipts('bob')).toEqual([{ friend: 'carol', id: 7 }]);
    expect(again.owedReceipts('dave')).toEqual([{ friend: 'alice', id: 'x' }]);
    again.close();
  });

  it('failQueuedExcept fails our queued messages to anyone not among the friends given, and nothing else', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry('q1', 'to ex-friend bob', { status: 'queued' }));
    store.append('alice', entry('s1', 'bob, sending', { status: 'sending' }));
    store.append('alice', entry('q2', 'to carol', { friend: 'carol', status: 'queued' }));
    store.append('alice', entry('q3', 'to dave', { friend: 'dave', status: 'queued' }));
    store.append('alice', entry('in', 'from erin', { friend: 'erin', direction: 'in', from: 'erin', status: 'queued' }));
    store.append('carol', entry('q4', 'carol to bob', { status: 'queued' }));
    store.failQueuedExcept('alice', ['carol', 'erin']);
    const statuses = (account: string, friend: string) => store.page(account, friend, 10, null).map((m) => `${String(m.id)} ${m.status}`);
    expect([...statuses('alice', 'bob'), ...statuses('alice', 'carol'), ...statuses('alice', 'dave'), ...statuses('alice', 'erin'), ...statuses('carol', 'bob')]).toEqual([
      'q1 failed', 's1 sending', 'q2 queued', 'q3 failed', 'in queued', 'q4 queued',
    ]);
  });

  it('friendshipsSeen: a friendship that began since we last saw it (another one) fails our queued messages to that friend; the first sight, or the same start again, fails nothing; per account; kept across a reopen', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-friendships-'));
    dirs.push(dir);
    const store = new SqliteHistory({ dataDir: dir });
    store.append('alice', entry('q1', 'queued before we knew', { status: 'queued' }));
    store.friendshipsSeen('alice', [{ username: 'bob', sinceMs: 100 }, { username: 'carol', sinceMs: 50 }]);
    store.friendshipsSeen('alice', [{ username: 'bob', sinceMs: 100 }]);
    store.append('alice', entry('q2', 'to carol', { friend: 'carol', status: 'queued' }));
    store.append('carol', entry('q3', 'carol to bob', { status: 'queued' }));
    const statuses = (account: string, friend: string) => store.page(account, friend, 10, null).map((m) => `${String(m.id)} ${m.status}`);
    expect([...statuses('alice', 'bob'), ...statuses('alice', 'carol')]).toEqual(['q1 queued', 'q2 queued']);
    store.close();
    const again = new SqliteHistory({ dataDir: dir });
    again.friendshipsSeen('alice', [{ username: 'bob', sinceMs: 100 }, { username: 'carol', sinceMs: 70 }]);
    expect([...again.page('alice', 'bob', 10, null), ...again.page('alice', 'carol', 10, null)].map((m) => `${String(m.id)} ${m.status}`)).toEqual(['q1 queued', 'q2 failed']);
    expect(again.page('carol', 'bob', 10, null).map((m) => m.status)).toEqual(['queued']);
    again.close();
  });

  it('a receipt for one of ours failed at a login (its friendship found ended) makes it delivered: they took it before they left', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry('q1', 'taken before', { status: 'queued' }));
    store.append('alice', entry('in', 'theirs', { direction: 'in', from: 'bob', status: 'received' }));
    store.failQueuedExcept('alice', []);
    store.mark('alice', { friend: 'bob', id: 'q1', direction: 'out', status: 'delivered', through: false });
    expect(store.page('alice', 'bob', 10, null).map((m) => `${String(m.id)} ${m.status}`)).toEqual(['q1 delivered', 'in received']);
    // Only a receipt lifts it: a late ack or a read of a failed one changes nothing.
    store.append('alice', entry('f1', 'never acked', { status: 'failed' }));
    store.mark('alice', { friend: 'bob', id: 'f1', direction: 'out', status: 'sent', through: false });
    expect(store.page('alice', 'bob', 1, null).map((m) => m.status)).toEqual(['failed']);
  });

  it('an offline message recorded sending moves on to queued (the server holds it), then delivered; a queued one never goes back to sending', () => {
    // Before: queued ranked below sending, so the server's mail.queued was a step back, ignored.
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry('o1', 'offline'));
    store.mark('alice', { friend: 'bob', id: 'o1', direction: 'out', status: 'queued', through: false });
    expect(store.page('alice', 'bob', 1, null).map((m) => m.status)).toEqual(['queued']);
    store.mark('alice', { friend: 'bob', id: 'o1', direction: 'out', status: 'sending', through: false });
    expect(store.page('alice', 'bob', 1, null).map((m) => m.status)).toEqual(['queued']);
    store.mark('alice', { friend: 'bob', id: 'o1', direction: 'out', status: 'delivered', through: false, receipt: true });
    expect(store.page('alice', 'bob', 1, null).map((m) => m.status)).toEqual(['delivered']);
  });

  it('a receipt names the newest of ours with its id still sending or queued, not a newer one the server refused under that id (MESSAGE_ID_TAKEN); with none such, the newest', () => {
    const store = new SqliteHistory({ dataDir: null });
    store.append('alice', entry('m1', 'held', { status: 'queued' }));
    store.append('alice', entry('m1', 'another text, refused', { status: 'failed' }));
    store.append('alice', entry('m2', 'answer lost'));
    store.append('alice', entry('m2', 'refused too', { status: 'failed' }));
    store.append('alice', entry('m1', 'theirs, same id', { direction: 'in', from: 'bob', status: 'received' }));
    store.mark('alice', { friend: 'bob', id: 'm1', direction: 'out', status: 'delivered', through: false, receipt: true });
    store.mark('alice', { friend: 'bob', id: 'm2', direction: 'out', status: 'failed', through: false, receipt: true });
    const statuses = () => store.page('alice', 'bob', 10, null).map((m) => `${m.text}: ${m.status}`);
    expect(statuses()).toEqual(['held: delivered', 'another text, refused: failed', 'answer lost: failed', 'refused too: failed', 'theirs, same id: received']);
    // A program killed before the answer: failed at the next login, the receipt lifts it.
    store.append('alice', entry('m3', 'killed before the answer'));
    store.settleInterrupted('alice');
    store.mark('alice', { friend: 'bob', id: 'm3', direction: 'out', status: 'delivered', through: false, receipt: true });
    expect(statuses().at(-1)).toBe('killed before the answer: delivered');
    // Not a receipt: the newest, as before.
    store.append('alice', entry('m4', 'first'));
    store.append('alice', entry('m4', 'second', { status: 'failed' }));
    store.mark('alice', { friend: 'bob', id: 'm4', direction: 'out', status: 'sent', through: false });
    expect(statuses().slice(-2)).toEqual(['first: sending', 'second: failed']);
  });

  it('settleInterrupted fails what an account left sending or offered, nothing else of it and nothing of other accounts, through its partial index', () => {
    const store = new SqliteHistory({ dataDir: null });
    const statuses = ['sending', 'offered', 'queued', 'sent', 'delivered', 'received', 'read', 'done', 'failed'] as const;
    for (const [i, status] of statuses.entries()) {
      store.append('alice', entry(i, status, { status, kind: status === 'offered' || status === 'done' ? 'file' : 'message' }));
      store.append('carol', entry(i, status, { status }));
    }
    expect(store.settleInterrupted('alice')).toBe(2);
    expect(store.page('alice', 'bob', 50, null).map((m) => m.status)).toEqual(['failed', 'failed', 'queued', 'sent', 'delivered', 'received', 'read', 'done', 'failed']);
    expect(store.page('carol', 'bob', 50, null).map((m) => m.status)).toEqual([...statuses]);
    expect(store.settleInterrupted('alice')).toBe(0);
    const db = (store as unknown as { db: Database.Database }).db;
    const plan = db.prepare("EXPLAIN QUERY PLAN UPDATE messages SET status = 'failed' WHERE account = ? AND status IN ('sending', 'offered')").all('alice');
    expect(JSON.stringify(plan)).toContain('messages_unsettled');
  });

  it('records outlive the store: a new one on the same data dir (a restarted client) reads them, in WAL mode', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-history-'));
    dirs.push(dir);
    const first = new SqliteHistory({ dataDir: dir });
    first.append('alice', entry('keep', 'kept across restarts', { atMs: Date.UTC(2026, 0, 2, 3, 4, 5) }));
    first.close();
    const second = new SqliteHistory({ dataDir: dir });
    expect(second.path).toBe(join(dir, HISTORY_DATABASE_FILE));
    expect(second.page('alice', 'bob', 10, null)).toEqual([
      { id: 'keep', from: 'alice', username: 'bob', text: 'kept across restarts', at: '2026-01-02T03:04:05.000Z', direction: 'out', status: 'sending', kind: 'message' },
    ]);
    second.close();
  });
});
