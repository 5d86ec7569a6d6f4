/**
 * The PostgreSQL AccountStore against a real PostgreSQL (scripts/services.sh): ops round-trip
 * through a reopen as the memory store has them, batches are atomic, migrations run once, and a
 * store whose database is gone reports itself unhealthy instead of blocking or losing the batch.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { POSTGRES_MIGRATIONS, PostgresStore } from '../../../cli/server/postgres-store.ts';
import { MemoryStore, type StoreOp } from '../../../core/store.ts';
import { clusterServices, freshPostgresSchema } from '../../helpers/cluster-services.ts';

const services = await clusterServices('PostgresStore tests');
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function schemaUrl(): Promise<string> {
  const schema = await freshPostgresSchema(services.postgresUrl);
  cleanups.push(schema.drop);
  return schema.url;
}

function open(url: string, commitWaitMs?: number): PostgresStore {
  const store = new PostgresStore({ url, ...(commitWaitMs === undefined ? {} : { commitWaitMs }) });
  cleanups.push(() => store.close());
  return store;
}

const account = (username: string): StoreOp => ({ op: 'account.create', username, nickname: username.toUpperCase(), passwordHash: `scrypt$hash-of-${username}`, createdAtMs: 1_700_000_000_000 });

const OPS: StoreOp[] = [
  account('ann'),
  account('bob'),
  account('cat'),
  account('dan'),
  { op: 'request.add', from: 'ann', to: 'bob' },
  { op: 'request.remove', from: 'ann', to: 'bob' },
  { op: 'friendship.add', a: 'bob', b: 'ann' },
  { op: 'friendship.add', a: 'cat', b: 'dan' },
  { op: 'friendship.remove', a: 'dan', b: 'cat' },
  { op: 'request.add', from: 'cat', to: 'ann' },
  { op: 'block.add', blocker: 'ann', blocked: 'dan' },
  { op: 'block.add', blocker: 'bob', blocked: 'dan' },
  { op: 'block.remove', blocker: 'bob', blocked: 'dan' },
  { op: 'account.password', username: 'ann', passwordHash: 'scrypt$new-hash-of-ann' },
  { op: 'account.nickname', username: 'bob', nickname: 'Bobby' },
  { op: 'decline.add', declined: 'dan', decliner: 'ann', atMs: 900 },
  { op: 'decline.add', declined: 'cat', decliner: 'bob', atMs: 300 },
  { op: 'decline.add', declined: 'dan', decliner: 'ann', atMs: 1_000 },
  { op: 'decline.add', declined: 'ann', decliner: 'cat', atMs: 200 },
  { op: 'decline.remove', declined: 'ann', decliner: 'cat' },
];

function sorted<T>(items: readonly T[]): T[] {
  return [...items].map((item) => JSON.stringify(item)).sort().map((text) => JSON.parse(text) as T);
}

describe.skipIf(!services.available)('PostgresStore', () => {
  it('creates its schema, and what was applied comes back after a reopen, as the memory store has it', async () => {
    const url = await schemaUrl();
    const store = open(url);
    expect(store.schemaVersion).toBe(POSTGRES_MIGRATIONS.length);
    store.apply(OPS.slice(0, 5));
    store.apply(OPS.slice(5));
    store.close();

    const memory = new MemoryStore();
    memory.apply(OPS);
    const snapshot = open(url).load();
    const expected = memory.load();
    expect(sorted(snapshot.accounts)).toEqual(sorted(expected.accounts));
    expect(sorted(snapshot.requests)).toEqual(sorted(expected.requests));
    expect(snapshot.blocks).toEqual([['ann', 'dan']]);
    expect(snapshot.friendships).toEqual([['ann', 'bob']]);
    // Oldest first, as the memory store and SQLite give them.
    expect(snapshot.declines).toEqual(expected.declines);
    expect(snapshot.declines).toEqual([
      { declined: 'cat', decliner: 'bob', atMs: 300 },
      { declined: 'dan', decliner: 'ann', atMs: 1_000 },
    ]);
  });

  it('sealed mail and receipts (delivered or failed) come back after a reopen, in seq order, as the memory store has them', async () => {
    const url = await schemaUrl();
    const sealed = (n: number): string => Buffer.alloc(40, n).toString('base64');
    const mailOps: StoreOp[] = [
      account('ann'),
      account('bob'),
      { op: 'mail.add', seq: 1_700_000_000_000_000, from: 'ann', to: 'bob', messageId: 'm-1', sealed: sealed(1), sentAtMs: 1_700_000_000_000 },
      { op: 'mail.add', seq: 1_000, from: 'bob', to: 'ann', messageId: 42, sealed: sealed(2), sentAtMs: 4 },
      { op: 'mail.add', seq: 3_000, from: 'ann', to: 'bob', messageId: 'm-2', sealed: sealed(3), sentAtMs: 6 },
      { op: 'mail.remove', to: 'bob', seq: 3_000 },
      { op: 'receipt.add', seq: 900, sender: 'ann', recipient: 'bob', messageId: 7 },
      { op: 'receipt.add', seq: 950, sender: 'ann', recipient: 'bob', messageId: 'x' },
      { op: 'receipt.remove', sender: 'ann', seq: 950 },
      { op: 'receipt.add', seq: 960, sender: 'bob', recipient: 'ann', messageId: 'y', failed: 'MAIL_UNREADABLE' },
      { op: 'receipt.add', seq: 970, sender: 'bob', recipient: 'ann', messageId: 8, failed: 'MAIL_UNREADABLE' },
    ];
    open(url).apply(mailOps);
    const memory = new MemoryStore();
    memory.apply(mailOps);
    const snapshot = open(url).load();
    expect(snapshot.mail).toEqual(memory.load().mail);
    expect(snapshot.receipts).toEqual(memory.load().receipts);
  });

  it('applies a batch atomically: a refused op (a taken key) is answered, not thrown, and leaves nothing of its batch behind', async () => {
    const store = open(await schemaUrl());
    expect(store.apply([account('eve')])).toBeNull();
    expect(store.apply([account('fay'), account('eve')])).toEqual({ reason: expect.stringMatching(/duplicate key/) });
    expect(store.load().accounts.map((a) => a.username)).toEqual(['eve']);
    expect(store.healthy).toBe(true);
  });

  it('runs each migration once: a second store on the same schema finds it current', async () => {
    const url = await schemaUrl();
    open(url).apply([account('gus')]);
    const again = open(url);
    expect(again.schemaVersion).toBe(POSTGRES_MIGRATIONS.length);
    expect(again.query<{ version: number }>('SELECT version FROM schema_version')).toEqual([{ version: POSTGRES_MIGRATIONS.length }]);
    expect(again.load().accounts.map((a) => a.username)).toEqual(['gus']);
  });

  it('two stores on one database see each other\'s commits (what two nodes share)', async () => {
    const url = await schemaUrl();
    const a = open(url);
    const b = open(url);
    a.apply([account('hal'), account('ivy'), { op: 'friendship.add', a: 'ivy', b: 'hal' }]);
    expect(b.load().friendships).toEqual([['hal', 'ivy']]);
  });

  it('refuses to start when the database does not answer', () => {
    expect(() => new PostgresStore({ url: 'postgres://p2pchat:p2pchat@127.0.0.1:1/p2pchat' })).toThrow(/PostgreSQL/);
  });
});
