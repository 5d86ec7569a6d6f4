/**
 * The SQLite AccountStore: ops round-trip through a reopen, batches are atomic, WAL and the chosen
 * synchronous mode are set, migrations run once and are recorded in user_version.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { DATABASE_FILE_NAME, MIGRATIONS, SqliteStore } from '../../../cli/server/sqlite-store.ts';
import { MemoryStore, type StoreOp } from '../../../core/store.ts';

const dirs: string[] = [];
function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'p2pchat-store-test-'));
  dirs.push(dir);
  return join(dir, 'nested', 'data');
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const account = (username: string): StoreOp => ({ op: 'account.create', username, nickname: username.toUpperCase(), passwordHash: `scrypt$hash-of-${username}`, createdAtMs: 1_700_000_000_000 });

const OPS: StoreOp[] = [
  account('ann'),
  account('bob'),
  account('cat'),
  account('dan'),
  { op: 'request.add', from: 'ann', to: 'bob' },
  { op: 'request.remove', from: 'ann', to: 'bob' },
  { op: 'friendship.add', a: 'bob', b: 'ann', sinceMs: 1_700_000_000_123 },
  { op: 'friendship.add', a: 'cat', b: 'dan' },
  { op: 'friendship.remove', a: 'dan', b: 'cat' },
  { op: 'request.add', from: 'cat', to: 'ann' },
  { op: 'block.add', blocker: 'ann', blocked: 'dan' },
  { op: 'block.add', blocker: 'bob', blocked: 'dan' },
  { op: 'block.remove', blocker: 'bob', blocked: 'dan' },
];

function sorted<T>(items: readonly T[]): T[] {
  return [...items].map((item) => JSON.stringify(item)).sort().map((text) => JSON.parse(text) as T);
}

describe('SqliteStore', () => {
  it('creates the data directory, and what was applied comes back after a reopen, as the memory store has it', () => {
    const dir = dataDir();
    const store = new SqliteStore({ dataDir: dir });
    store.apply(OPS.slice(0, 5));
    store.apply(OPS.slice(5));
    store.close();

    const memory = new MemoryStore();
    memory.apply(OPS);
    const reopened = new SqliteStore({ dataDir: dir });
    const snapshot = reopened.load();
    const expected = memory.load();
    expect(sorted(snapshot.accounts)).toEqual(sorted(expected.accounts));
    expect(sorted(snapshot.requests)).toEqual(sorted(expected.requests));
    expect(snapshot.blocks).toEqual([['ann', 'dan']]);
    expect(expected.blocks).toEqual([['ann', 'dan']]);
    // Friendships are unordered pairs: compare them ordered (with when they began).
    const pairs = (list: ReadonlyArray<readonly [string, string, number?]>) => sorted(list.map(([a, b, ...since]) => (a < b ? [a, b, ...since] : [b, a, ...since])));
    expect(pairs(snapshot.friendships)).toEqual(pairs(expected.friendships));
    expect(snapshot.friendships).toEqual([['ann', 'bob', 1_700_000_000_123]]);
    reopened.close();
  });

  it('sealed mail and receipts (delivered or failed) come back after a reopen, in seq order, with string and number message ids, as the memory store has them', () => {
    const dir = dataDir();
    const store = new SqliteStore({ dataDir: dir });
    const sealed = (n: number): string => Buffer.alloc(40, n).toString('base64');
    const mailOps: StoreOp[] = [
      account('ann'),
      account('bob'),
      { op: 'mail.add', seq: 2_000, from: 'ann', to: 'bob', messageId: 'm-1', sealed: sealed(1), sentAtMs: 5 },
      { op: 'mail.add', seq: 1_000, from: 'bob', to: 'ann', messageId: 42, sealed: sealed(2), sentAtMs: 4 },
      { op: 'mail.add', seq: 3_000, from: 'ann', to: 'bob', messageId: 'm-2', sealed: sealed(3), sentAtMs: 6 },
      { op: 'mail.remove', to: 'bob', seq: 3_000 },
      { op: 'receipt.add', seq: 900, sender: 'ann', recipient: 'bob', messageId: 7 },
      { op: 'receipt.add', seq: 950, sender: 'ann', recipient: 'bob', messageId: 'x' },
      { op: 'receipt.remove', sender: 'ann', seq: 950 },
      { op: 'receipt.add', seq: 960, sender: 'bob', recipient: 'ann', messageId: 'y', failed: 'MAIL_UNREADABLE' },
      { op: 'receipt.add', seq: 970, sender: 'bob', recipient: 'ann', messageId: 8, failed: 'MAIL_UNREADABLE' },
    ];
    store.apply(mailOps);
    store.close();
    const memory = new MemoryStore();
    memory.apply(mailOps);
    const reopened = new SqliteStore({ dataDir: dir });
    const snapshot = reopened.load();
    expect(snapshot.mail).toEqual(memory.load().mail);
    expect(snapshot.mail?.map((m) => m.messageId)).toEqual([42, 'm-1']);
    expect(snapshot.receipts).toEqual(memory.load().receipts);
    expect(snapshot.receipts).toEqual([
      { seq: 900, sender: 'ann', recipient: 'bob', messageId: 7 },
      { seq: 960, sender: 'bob', recipient: 'ann', messageId: 'y', failed: 'MAIL_UNREADABLE' },
      { seq: 970, sender: 'bob', recipient: 'ann', messageId: 8, failed: 'MAIL_UNREADABLE' },
    ]);
    reopened.close();
  });

  it('applies a batch atomically: a refused op (a taken key) is answered, not thrown, and leaves nothing of its batch behind', () => {
    const store = new SqliteStore({ dataDir: dataDir() });
    expect(store.apply([account('eve')])).toBeNull();
    expect(store.apply([account('fay'), account('eve')])).toEqual({ reason: expect.stringMatching(/UNIQUE constraint/) });
    expect(store.load().accounts.map((a) => a.username)).toEqual(['eve']);
    store.close();
  });

  it('survives power loss by default: synchronous=FULL unless told otherwise', () => {
    const store = new SqliteStore({ dataDir: dataDir() });
    expect(store.synchronousMode).toBe('full');
    store.close();
  });

  it('uses WAL, the chosen synchronous mode, and records its schema version', () => {
    const dir = dataDir();
    const normal = new SqliteStore({ dataDir: dir, synchronous: 'normal' });
    expect(normal.schemaVersion).toBe(MIGRATIONS.length);
    expect(normal.synchronousMode).toBe('normal');
    normal.close();
    const full = new SqliteStore({ dataDir: dir, synchronous: 'full' });
    full.close();
    const db = new Database(join(dir, DATABASE_FILE_NAME), { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('migrates a database from before stored declines: its rows stay; declines, password and nickname changes then round-trip', () => {
    const dir = dataDir();
    mkdirSync(dir, { recursive: true });
    const declinesAt = MIGRATIONS.findIndex((sql) => sql.includes('friend_declines'));
    expect(declinesAt).toBeGreaterThan(0);
    const old = new Database(join(dir, DATABASE_FILE_NAME));
    for (const sql of MIGRATIONS.slice(0, declinesAt)) old.exec(sql);
    old.pragma(`user_version = ${declinesAt}`);
    old.prepare('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) VALUES (?, ?, ?, ?)').run('ann', 'ANN', 'scrypt$old', 1);
    old.prepare('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) VALUES (?, ?, ?, ?)').run('bob', 'BOB', 'scrypt$bob', 2);
    old.close();

    const store = new SqliteStore({ dataDir: dir });
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.load().declines).toEqual([]);
    store.apply([
      { op: 'decline.add', declined: 'bob', decliner: 'ann', atMs: 500 },
      { op: 'decline.add', declined: 'ann', decliner: 'bob', atMs: 100 },
      { op: 'decline.add', declined: 'bob', decliner: 'ann', atMs: 700 },
      { op: 'account.password', username: 'ann', passwordHash: 'scrypt$new' },
      { op: 'account.nickname', username: 'bob', nickname: 'Bobby' },
    ]);
    store.close();
    const reopened = new SqliteStore({ dataDir: dir });
    const snapshot = reopened.load();
    // Oldest first, the order the server forgets them in.
    expect(snapshot.declines).toEqual([
      { declined: 'ann', decliner: 'bob', atMs: 100 },
      { declined: 'bob', decliner: 'ann', atMs: 700 },
    ]);
    expect(snapshot.accounts).toEqual([
      { username: 'ann', nickname: 'ANN', passwordHash: 'scrypt$new', createdAtMs: 1 },
      { username: 'bob', nickname: 'Bobby', passwordHash: 'scrypt$bob', createdAtMs: 2 },
    ]);
    reopened.apply([{ op: 'decline.remove', declined: 'ann', decliner: 'bob' }]);
    expect(reopened.load().declines).toEqual([{ declined: 'bob', decliner: 'ann', atMs: 700 }]);
    reopened.close();
  });

  it('refuses a database written by a newer schema than it knows', () => {
    const dir = dataDir();
    new SqliteStore({ dataDir: dir }).close();
    const db = new Database(join(dir, DATABASE_FILE_NAME));
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SqliteStore({ dataDir: dir })).toThrow(/newer/);
  });

  it('refuses a second store on a data directory that is in use, and opens it once the first is closed', () => {
    const dir = dataDir();
    const first = new SqliteStore({ dataDir: dir });
    first.apply([account('gus')]);
    expect(() => new SqliteStore({ dataDir: dir })).toThrow(/in use by another p2pchat server/);
    first.close();
    const second = new SqliteStore({ dataDir: dir });
    expect(second.load().accounts.map((a) => a.username)).toEqual(['gus']);
    second.close();
  });
});

describe('identity keys in SQLite', () => {
  const keysA = { signKey: `MCowBQYDK2VwAyEA${'A'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'B'.repeat(43)}=` };
  const keysB = { signKey: `MCowBQYDK2VwAyEA${'C'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'D'.repeat(43)}=` };

  it('keeps the keys given at sign-up and replaced at login across a reopen', () => {
    const dir = dataDir();
    const store = new SqliteStore({ dataDir: dir });
    store.apply([{ ...account('ann'), identity: keysA } as StoreOp, account('bob')]);
    store.apply([{ op: 'account.identity', username: 'bob', identity: keysA }]);
    store.apply([{ op: 'account.identity', username: 'bob', identity: keysB }]);
    store.close();
    const reopened = new SqliteStore({ dataDir: dir });
    const byName = new Map(reopened.load().accounts.map((a) => [a.username, a]));
    expect(byName.get('ann')?.identity).toEqual(keysA);
    expect(byName.get('bob')?.identity).toEqual(keysB);
    reopened.close();
  });

  it('migrates a database from before failed receipts: a receipt held then loads as delivered', () => {
    const dir = dataDir();
    new SqliteStore({ dataDir: dir }).close();
    const db = new Database(join(dir, DATABASE_FILE_NAME));
    const failedMigration = MIGRATIONS.findIndex((sql) => sql.includes('ADD COLUMN failed'));
    expect(failedMigration).toBeGreaterThan(0);
    // The migrations after it are rolled back too.
    db.exec('ALTER TABLE mail_receipts DROP COLUMN failed; ALTER TABLE friendships DROP COLUMN since_ms;');
    db.pragma(`user_version = ${failedMigration}`);
    for (const name of ['ann', 'bob']) db.prepare('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) VALUES (?, ?, ?, ?)').run(name, name, 'scrypt$x', 1);
    db.prepare('INSERT INTO mail_receipts (seq, sender, recipient, message_id_json) VALUES (?, ?, ?, ?)').run(5, 'ann', 'bob', '"m"');
    db.close();
    const store = new SqliteStore({ dataDir: dir });
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.load().receipts).toEqual([{ seq: 5, sender: 'ann', recipient: 'bob', messageId: 'm' }]);
    store.close();
  });

  it('migrates a database from before keys: its accounts load without keys and take them later', () => {
    const dir = dataDir();
    new SqliteStore({ dataDir: dir }).close();
    // Roll the file back to the schema before the keys' migration, with one account in it.
    const db = new Database(join(dir, DATABASE_FILE_NAME));
    const keysMigration = MIGRATIONS.findIndex((sql) => sql.includes('sign_key'));
    expect(keysMigration).toBeGreaterThan(0);
    // The migrations after it (the mailbox's tables) are rolled back too.
    db.exec('ALTER TABLE friendships DROP COLUMN since_ms; DROP TABLE mail_receipts; DROP TABLE mail; ALTER TABLE accounts DROP COLUMN sign_key; ALTER TABLE accounts DROP COLUMN seal_key;');
    db.pragma(`user_version = ${keysMigration}`);
    db.prepare('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) VALUES (?, ?, ?, ?)').run('old', 'Old', 'scrypt$x', 1);
    db.close();
    const store = new SqliteStore({ dataDir: dir });
    expect(store.schemaVersion).toBe(MIGRATIONS.length);
    expect(store.load().accounts).toEqual([{ username: 'old', nickname: 'Old', passwordHash: 'scrypt$x', createdAtMs: 1 }]);
    store.apply([{ op: 'account.identity', username: 'old', identity: keysB }]);
    expect(store.load().accounts[0]?.identity).toEqual(keysB);
    store.close();
  });
});
