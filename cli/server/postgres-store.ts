/**
 * The AccountStore on PostgreSQL: what several server processes share (docs/CLUSTER.md). The same
 * tables as the SQLite store, the same contract: a snapshot read at start-up, then atomic batches.
 *
 * AccountStore is synchronous (the host commits a batch before it announces it), and `pg` is not:
 * the driver runs on a worker thread (postgres-worker.mjs) and this thread blocks on a shared
 * counter until the worker answers, as better-sqlite3 blocks on its file. A commit on loopback
 * takes about a millisecond; writes are sign-ups and friend changes, never heartbeats.
 *
 * When the database cannot be reached, the worker retries a batch in order while this thread waits
 * for it (STORE_COMMIT_WAIT_MS); past that the batch is withdrawn, never to be committed, and
 * answered as unavailable (a StoreRefusal with `unavailable`): the host tells nobody of it. Before,
 * it was left to the worker's retries and announced as committed, and lost for good if the node
 * died before the database came back. The store then reports itself unhealthy (`healthy`,
 * `onHealth`), so the server turns /healthz to 503 and refuses logins and writes until a commit or
 * a health check succeeds again. A batch the database rejects (a constraint) is refused.
 */
import { MessageChannel, Worker, receiveMessageOnPort } from 'node:worker_threads';
import { failedOf, receiptOf, type AccountRecord, type AccountStore, type DeclineRecord, type HeldMail, type MailRecord, type ReceiptRecord, type StoreOp, type StoreRefusal, type StoreSnapshot } from '../../core/store.ts';

/** How long a write blocks the server thread before it is left to the worker's retries. */
export const STORE_COMMIT_WAIT_MS = 2_000;
/** Start-up (connect, migrate, read the snapshot) may wait longer: nothing is served yet. */
export const STORE_START_WAIT_MS = 15_000;
/** How often the worker checks the database while nothing is written, and retries a failed batch. */
export const STORE_HEALTH_CHECK_MS = 1_000;
export const STORE_RETRY_MS = 500;
/** A connection attempt's bound: a database that does not answer is as good as down. */
const STORE_CONNECT_TIMEOUT_MS = 2_000;

/** Migration i (0-based) moves the schema from version i to i + 1. Append only; never edit one that shipped. */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `CREATE TABLE accounts (
     username      TEXT PRIMARY KEY,
     nickname      TEXT NOT NULL,
     password_hash TEXT NOT NULL,
     created_at_ms BIGINT NOT NULL
   );
   -- Each friendship once, as an ordered pair (a < b), so (a, b) and (b, a) cannot both exist.
   CREATE TABLE friendships (
     a TEXT NOT NULL REFERENCES accounts(username),
     b TEXT NOT NULL REFERENCES accounts(username),
     PRIMARY KEY (a, b),
     CHECK (a < b)
   );
   CREATE TABLE friend_requests (
     from_user TEXT NOT NULL REFERENCES accounts(username),
     to_user   TEXT NOT NULL REFERENCES accounts(username),
     PRIMARY KEY (from_user, to_user)
   );
   CREATE TABLE blocks (
     blocker TEXT NOT NULL REFERENCES accounts(username),
     blocked TEXT NOT NULL REFERENCES accounts(username),
     PRIMARY KEY (blocker, blocked)
   );`,
  // Declined friend requests, kept for their cool-down so a restart does not let the declined ask again at once.
  `CREATE TABLE friend_declines (
     declined TEXT NOT NULL REFERENCES accounts(username),
     decliner TEXT NOT NULL REFERENCES accounts(username),
     at_ms    BIGINT NOT NULL,
     PRIMARY KEY (declined, decliner)
   );`,
  // Identity keys (base64 SPKI DER): NULL for accounts made before keys existed, until their
  // first login from a client that has keys registers them.
  `ALTER TABLE accounts ADD COLUMN sign_key TEXT;
   ALTER TABLE accounts ADD COLUMN seal_key TEXT;`,
  // Sealed offline messages and the receipts owed to offline senders (as in the SQLite store; the
  // sealed box as base64 text, the sender's message id as JSON).
  `CREATE TABLE mail (
     seq             BIGINT PRIMARY KEY,
     from_user       TEXT NOT NULL REFERENCES accounts(username),
     to_user         TEXT NOT NULL REFERENCES accounts(username),
     message_id_json TEXT NOT NULL,
     sealed          TEXT NOT NULL,
     sent_at_ms      BIGINT NOT NULL
   );
   CREATE INDEX mail_by_recipient ON mail (to_user, seq);
   CREATE TABLE mail_receipts (
     seq             BIGINT PRIMARY KEY,
     sender          TEXT NOT NULL REFERENCES accounts(username),
     recipient       TEXT NOT NULL REFERENCES accounts(username),
     message_id_json TEXT NOT NULL
   );`,
  // Each start of a node takes the next number: its session request ids and its offline-mail
  // seq slot come from it, so they never repeat across nodes or restarts.
  `CREATE SEQUENCE node_boots;`,
  // Each login or resume on any node takes the next number: announcements about a user carry it,
  // so a node drops a late word about an older login (core/server/cluster.ts).
  `CREATE SEQUENCE login_epochs;`,
  // A receipt may say the mail failed (MAIL_UNREADABLE: core/frames.ts mailFailureSchema);
  // NULL: delivered, as every receipt before this column.
  `ALTER TABLE mail_receipts ADD COLUMN failed TEXT;`,
  // When a friendship began (ms): one ended and made again has another, so a client tells that its
  // offline messages from before went with the old one. NULL for friendships made before this.
  `ALTER TABLE friendships ADD COLUMN since_ms BIGINT;`,
];

type Statement = readonly [sql: string, params: readonly (string | number | null)[]];

function ordered(a: string, b: string): [string, string] {
  return a < b ? [a, b] : [b, a];
}

/** One op as SQL. Adds are idempotent (ON CONFLICT DO NOTHING): two nodes may record the same pair. */
export function statementsOf(op: StoreOp): Statement[] {
  switch (op.op) {
    case 'account.create':
      return [
        [
          'INSERT INTO accounts (username, nickname, password_hash, created_at_ms, sign_key, seal_key) VALUES ($1, $2, $3, $4, $5, $6)',
          [op.username, op.nickname, op.passwordHash, op.createdAtMs, op.identity?.signKey ?? null, op.identity?.sealKey ?? null],
        ],
      ];
    case 'account.identity':
      return [['UPDATE accounts SET sign_key = $1, seal_key = $2 WHERE username = $3', [op.identity.signKey, op.identity.sealKey, op.username]]];
    case 'friendship.add':
      return [['INSERT INTO friendships (a, b, since_ms) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [...ordered(op.a, op.b), op.sinceMs ?? null]]];
    case 'friendship.remove':
      return [['DELETE FROM friendships WHERE a = $1 AND b = $2', ordered(op.a, op.b)]];
    case 'request.add':
      return [['INSERT INTO friend_requests (from_user, to_user) VALUES ($1, $2) ON CONFLICT DO NOTHING', [op.from, op.to]]];
    case 'request.remove':
      return [['DELETE FROM friend_requests WHERE from_user = $1 AND to_user = $2', [op.from, op.to]]];
    case 'block.add':
      return [['INSERT INTO blocks (blocker, blocked) VALUES ($1, $2) ON CONFLICT DO NOTHING', [op.blocker, op.blocked]]];
    case 'block.remove':
      return [['DELETE FROM blocks WHERE blocker = $1 AND blocked = $2', [op.blocker, op.blocked]]];
    case 'account.password':
      return [['UPDATE accounts SET password_hash = $1 WHERE username = $2', [op.passwordHash, op.username]]];
    case 'account.nickname':
      return [['UPDATE accounts SET nickname = $1 WHERE username = $2', [op.nickname, op.username]]];
    case 'decline.add':
      return [
        [
          'INSERT INTO friend_declines (declined, decliner, at_ms) VALUES ($1, $2, $3) ON CONFLICT (declined, decliner) DO UPDATE SET at_ms = EXCLUDED.at_ms',
          [op.declined, op.decliner, op.atMs],
        ],
      ];
    case 'decline.remove':
      return [['DELETE FROM friend_declines WHERE declined = $1 AND decliner = $2', [op.declined, op.decliner]]];
    case 'mail.add':
      return [
        [
          'INSERT INTO mail (seq, from_user, to_user, message_id_json, sealed, sent_at_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING',
          [op.seq, op.from, op.to, JSON.stringify(op.messageId), op.sealed, op.sentAtMs],
        ],
      ];
    case 'mail.remove':
      return [['DELETE FROM mail WHERE seq = $1', [op.seq]]];
    case 'receipt.add':
      return [
        [
          'INSERT INTO mail_receipts (seq, sender, recipient, message_id_json, failed) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING',
          [op.seq, op.sender, op.recipient, JSON.stringify(op.messageId), op.failed ?? null],
        ],
      ];
    case 'receipt.remove':
      return [['DELETE FROM mail_receipts WHERE seq = $1', [op.seq]]];
  }
}

const SNAPSHOT_QUERIES = [
  'SELECT username, nickname, password_hash, created_at_ms, sign_key, seal_key FROM accounts ORDER BY username',
  'SELECT a, b, since_ms FROM friendships ORDER BY a, b',
  'SELECT from_user, to_user FROM friend_requests ORDER BY from_user, to_user',
  'SELECT blocker, blocked FROM blocks ORDER BY blocker, blocked',
  'SELECT declined, decliner, at_ms FROM friend_declines ORDER BY at_ms, declined, decliner',
  'SELECT seq, from_user, to_user, message_id_json, sealed, sent_at_ms FROM mail ORDER BY seq',
  'SELECT seq, sender, recipient, message_id_json, failed FROM mail_receipts ORDER BY seq',
];

interface MailRow {
  readonly seq: string;
  readonly from_user: string;
  readonly to_user: string;
  readonly message_id_json: string;
  readonly sealed: string;
  readonly sent_at_ms: string;
}

interface ReceiptRow {
  readonly seq: string;
  readonly sender: string;
  readonly recipient: string;
  readonly message_id_json: string;
  readonly failed: string | null;
}

function mailRecordOf(row: MailRow): MailRecord {
  return { seq: Number(row.seq), from: row.from_user, to: row.to_user, messageId: JSON.parse(row.message_id_json) as string | number, sealed: row.sealed, sentAtMs: Number(row.sent_at_ms) };
}

function receiptRecordOf(row: ReceiptRow): ReceiptRecord {
  return receiptOf({ seq: Number(row.seq), sender: row.sender, recipient: row.recipient, messageId: JSON.parse(row.message_id_json) as string | number, ...failedOf(row.failed) });
}

interface Reply {
  readonly seq: number;
  readonly ok: boolean;
  readonly result?: unknown;
  readonly error?: string;
  /** PostgreSQL's SQLSTATE of a refused statement. */
  readonly code?: string;
  /** A batch that failed to reach the database and is tried again (a note: the final answer follows). */
  readonly retrying?: boolean;
  /** A batch this thread withdrew, rolled back and dropped by the worker. */
  readonly withdrawn?: boolean;
  /** A batch whose COMMIT went out and failed: the database may or may not hold it. */
  readonly inDoubt?: boolean;
}

/** SQLSTATE class 23, integrity constraint violation: the database read the batch and refused it (a taken key). */
const SQLSTATE_CONSTRAINT_CLASS = '23';

export interface PostgresStoreOptions {
  /** postgres://user:password@host:port/database */
  readonly url: string;
  readonly commitWaitMs?: number;
}

export class PostgresStore implements AccountStore {
  private readonly worker: Worker;
  private readonly port;
  /** Bumped by the worker at each reply: this thread sleeps on it. */
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  /** Who settled the last batch's fate: +seq the worker claimed it for COMMIT, -seq this thread withdrew it (postgres-worker.mjs). */
  private readonly fate = new Int32Array(new SharedArrayBuffer(4));
  private nextSeq = 1;
  private readonly replies = new Map<number, Reply>();
  private readonly commitWaitMs: number;
  private healthyNow = true;
  private lastError: string | null = null;
  private readonly healthListeners = new Set<(healthy: boolean) => void>();
  private closed = false;
  readonly schemaVersion: number;

  constructor(options: PostgresStoreOptions) {
    this.commitWaitMs = options.commitWaitMs ?? STORE_COMMIT_WAIT_MS;
    const channel = new MessageChannel();
    this.port = channel.port1;
    this.worker = new Worker(new URL('./postgres-worker.mjs', import.meta.url), {
      workerData: {
        url: options.url,
        signal: this.signal.buffer,
        fate: this.fate.buffer,
        port: channel.port2,
        migrations: POSTGRES_MIGRATIONS,
        healthCheckMs: STORE_HEALTH_CHECK_MS,
        retryMs: STORE_RETRY_MS,
        connectTimeoutMs: STORE_CONNECT_TIMEOUT_MS,
      },
      transferList: [channel.port2],
    });
    // Neither keeps the process alive: the server's own sockets do, and close() ends both.
    this.worker.unref();
    this.port.on('message', (message: Reply | { kind: 'health'; ok: boolean; error?: string }) => this.onMessage(message));
    this.port.unref();
    try {
      this.schemaVersion = this.call({ kind: 'migrate' }, STORE_START_WAIT_MS) as number;
    } catch (error) {
      this.close();
      throw error;
    }
  }

  /** False while the database cannot be reached (a commit waits in the worker's retry line). */
  get healthy(): boolean {
    return this.healthyNow;
  }

  get healthError(): string | null {
    return this.lastError;
  }

  onHealth(listener: (healthy: boolean) => void): () => void {
    this.healthListeners.add(listener);
    return () => this.healthListeners.delete(listener);
  }

  /** The whole store; waits at most `waitMs` (by default start-up's bound: nothing is served yet). */
  load(waitMs = STORE_START_WAIT_MS): StoreSnapshot {
    const [accountRows, friendshipRows, requestRows, blockRows, declineRows, mailRows, receiptRows] = this.call({ kind: 'queries', sqls: SNAPSHOT_QUERIES }, waitMs) as [
      { username: string; nickname: string; password_hash: string; created_at_ms: string; sign_key: string | null; seal_key: string | null }[],
      { a: string; b: string; since_ms: string | null }[],
      { from_user: string; to_user: string }[],
      { blocker: string; blocked: string }[],
      { declined: string; decliner: string; at_ms: string }[],
      { seq: string; from_user: string; to_user: string; message_id_json: string; sealed: string; sent_at_ms: string }[],
      ReceiptRow[],
    ];
    const accounts = accountRows.map(
      (row): AccountRecord => ({
        username: row.username,
        nickname: row.nickname,
        passwordHash: row.password_hash,
        createdAtMs: Number(row.created_at_ms),
        ...(row.sign_key === null || row.seal_key === null ? {} : { identity: { signKey: row.sign_key, sealKey: row.seal_key } }),
      }),
    );
    return {
      accounts,
      friendships: friendshipRows.map((row): readonly [string, string, number?] => (row.since_ms === null ? [row.a, row.b] : [row.a, row.b, Number(row.since_ms)])),
      requests: requestRows.map((row) => [row.from_user, row.to_user] as const),
      blocks: blockRows.map((row) => [row.blocker, row.blocked] as const),
      declines: declineRows.map((row): DeclineRecord => ({ declined: row.declined, decliner: row.decliner, atMs: Number(row.at_ms) })),
      mail: mailRows.map(mailRecordOf),
      receipts: receiptRows.map(receiptRecordOf),
    };
  }

  apply(ops: readonly StoreOp[]): StoreRefusal | null {
    if (ops.length === 0) return null;
    const statements = ops.flatMap((op) => statementsOf(op));
    const seq = this.post({ kind: 'apply', statements });
    const deadline = performance.now() + this.commitWaitMs;
    let reply = this.wait(seq, this.commitWaitMs);
    // A database that comes back within the wait (a blip, a restart) still commits the batch.
    while (reply?.retrying === true) {
      this.setHealth(false, reply.error ?? 'the database does not answer');
      reply = this.wait(seq, deadline - performance.now());
    }
    if (reply === null) {
      const sealed = Atomics.load(this.fate, 0);
      if (sealed !== seq && Atomics.compareExchange(this.fate, 0, sealed, -seq) === sealed) {
        // Withdrawn: never committed, so nothing of it may be announced (the host drops it).
        return this.unavailable(`no commit within ${this.commitWaitMs} ms`);
      }
      // The worker claimed it first: its COMMIT is out, bounded by the statement timeout there.
      reply = this.wait(seq, STORE_CONNECT_TIMEOUT_MS + STORE_COMMIT_WAIT_MS);
      if (reply === null) return this.unavailable(`its COMMIT was not answered within ${STORE_CONNECT_TIMEOUT_MS + STORE_COMMIT_WAIT_MS} ms`);
    }
    if (reply.ok) return null;
    if (reply.withdrawn === true || reply.inDoubt === true) return this.unavailable(reply.error ?? 'not committed');
    // Rolled back whole; another node took the key first (two sign-ups of one name at once).
    if (reply.code?.startsWith(SQLSTATE_CONSTRAINT_CLASS) === true) return { reason: reply.error ?? `constraint ${reply.code}` };
    throw new Error(`PostgreSQL refused a batch: ${reply.error ?? 'unknown error'}`);
  }

  /** Not committed, and never will be by this store (unless its COMMIT was in doubt): said to the host as such. */
  private unavailable(why: string): StoreRefusal {
    this.setHealth(false, why);
    return { reason: `the database did not commit the batch: ${why}`, unavailable: true };
  }

  /**
   * One user's held mail and the receipts owed to it, as the database has them now (read when the
   * user attaches to a node: what any node queued). Null when the database does not answer in
   * time: the node then hands over what it heard of (its memory), as before.
   */
  heldMailOf(username: string): HeldMail | null {
    try {
      const mail = this.call({ kind: 'query', sql: 'SELECT seq, from_user, to_user, message_id_json, sealed, sent_at_ms FROM mail WHERE to_user = $1 ORDER BY seq', params: [username] }, this.commitWaitMs) as MailRow[];
      const receipts = this.call({ kind: 'query', sql: 'SELECT seq, sender, recipient, message_id_json, failed FROM mail_receipts WHERE sender = $1 ORDER BY seq', params: [username] }, this.commitWaitMs) as ReceiptRow[];
      return { mail: mail.map(mailRecordOf), receipts: receipts.map(receiptRecordOf) };
    } catch {
      return null;
    }
  }

  /** A number no start of any node sharing this database had before (PostgreSQL's sequence). */
  nextBootNumber(): number {
    const [row] = this.query<{ boot: string }>("SELECT nextval('node_boots') AS boot");
    return Number(row?.boot);
  }

  /**
   * A login epoch: larger than every one taken before it by any node. Null when the database does
   * not answer in time (the login is then announced unordered, as before epochs).
   */
  nextLoginEpoch(): number | null {
    try {
      const [row] = this.call({ kind: 'query', sql: "SELECT nextval('login_epochs') AS epoch", params: [] }, this.commitWaitMs) as { epoch: string }[];
      return row === undefined ? null : Number(row.epoch);
    } catch {
      return null;
    }
  }

  /** Reads for tests and tools (the server reads only the snapshot). */
  query<Row>(sql: string, params: readonly (string | number)[] = []): Row[] {
    return this.call({ kind: 'query', sql, params }, STORE_START_WAIT_MS) as Row[];
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.postMessage({ kind: 'close' });
    // The worker ends its connection and exits; terminate() is the bound if it cannot.
    const terminate = setTimeout(() => void this.worker.terminate(), STORE_CONNECT_TIMEOUT_MS);
    terminate.unref();
    this.worker.once('exit', () => clearTimeout(terminate));
    this.port.close();
  }

  private call(request: object, waitMs: number): unknown {
    const seq = this.post({ ...request, timeoutMs: waitMs });
    const reply = this.wait(seq, waitMs);
    if (reply === null) throw new Error(`PostgreSQL did not answer within ${waitMs} ms`);
    if (!reply.ok) throw new Error(`PostgreSQL: ${reply.error ?? 'unknown error'}`);
    return reply.result;
  }

  private post(request: object): number {
    if (this.closed) throw new Error('the PostgreSQL store is closed');
    const seq = this.nextSeq++;
    this.port.postMessage({ ...request, seq });
    return seq;
  }

  /** Blocks until the worker answered `seq` (or a retry note for it), or waitMs passed: null. */
  private wait(seq: number, waitMs: number): Reply | null {
    const deadline = performance.now() + waitMs;
    for (;;) {
      // Read before the port is drained: a reply posted after the drain has moved the counter on.
      const seen = Atomics.load(this.signal, 0);
      for (let message = receiveMessageOnPort(this.port); message !== undefined; message = receiveMessageOnPort(this.port)) {
        this.onMessage(message.message as Reply);
      }
      const reply = this.replies.get(seq);
      const leftMs = deadline - performance.now();
      if (reply !== undefined || leftMs <= 0) {
        // Bounded: one request is waited for at a time; late answers to earlier ones only told of health.
        for (const old of this.replies.keys()) if (old <= seq) this.replies.delete(old);
        return reply ?? null;
      }
      Atomics.wait(this.signal, 0, seen, leftMs);
    }
  }

  private onMessage(message: Reply | { kind: 'health'; ok: boolean; error?: string }): void {
    if ('kind' in message) {
      this.setHealth(message.ok, message.error ?? null);
      return;
    }
    this.replies.set(message.seq, message);
    if (message.ok) this.setHealth(true, null);
  }

  private setHealth(healthy: boolean, error: string | null): void {
    this.lastError = error;
    if (healthy === this.healthyNow) return;
    this.healthyNow = healthy;
    for (const listener of this.healthListeners) listener(healthy);
  }
}
