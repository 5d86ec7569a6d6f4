// The PostgreSQL side of PostgresStore (postgres-store.ts), on its own thread: `pg` is asynchronous
// and AccountStore is synchronous, so the server thread posts a request here and blocks on a shared
// counter until this thread has answered (plain JavaScript: a worker thread loads without the
// TypeScript loader, in tsx and under vitest alike).
//
// Requests run one at a time, in order. A batch that fails because the database cannot be reached
// stays at the head of the line and is retried every RETRY_MS while the server thread waits for it
// (STORE_COMMIT_WAIT_MS); when it stops waiting it withdraws the batch, which is then never
// committed: the server told nobody of it, and a node that dies must not leave a promise behind.
// A batch the database rejects (a constraint) is answered with the error and dropped, as SQLite's
// transaction would be.
//
// Who decides a batch's fate is settled on a shared word (`fate`), so that a batch is either
// committed or withdrawn, never committed after the server thread gave up on it: this thread
// claims a batch (+seq) just before its COMMIT, the server thread withdraws it (-seq: every batch
// up to seq not claimed yet) when its wait is over; whichever compare-and-swap comes first wins.
import { parentPort, workerData } from 'node:worker_threads';
import pg from 'pg';

const { url, signal: signalBuffer, fate: fateBuffer, port, migrations, healthCheckMs, retryMs, connectTimeoutMs } = workerData;
const signal = new Int32Array(signalBuffer);
const fate = new Int32Array(fateBuffer);
/** SQLSTATE classes that mean "the database is not there", as opposed to "it said no". */
const UNREACHABLE_CLASSES = ['08', '57', '53'];

let client = null;
let connecting = null;
let closed = false;
const queue = [];
let running = false;

function unreachable(error) {
  const code = typeof error?.code === 'string' ? error.code : '';
  if (code.length === 5) return UNREACHABLE_CLASSES.includes(code.slice(0, 2));
  // Node socket errors (ECONNREFUSED, ECONNRESET, timeouts) and pg's own "Connection terminated".
  return true;
}

async function connection() {
  if (client !== null) return client;
  connecting ??= (async () => {
    const next = new pg.Client({ connectionString: url, connectionTimeoutMillis: connectTimeoutMs });
    next.on('error', () => {
      // A dropped connection: the next request opens a new one.
      if (client === next) client = null;
    });
    try {
      await next.connect();
    } catch (error) {
      next.end().catch(() => {});
      throw error;
    }
    client = next;
    return next;
  })().finally(() => {
    connecting = null;
  });
  return connecting;
}

function dropConnection() {
  const old = client;
  client = null;
  old?.end().catch(() => {});
}

async function migrate(db) {
  await db.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
  // One migrating server at a time: two nodes starting together must not both run a migration.
  await db.query('BEGIN');
  try {
    await db.query('LOCK TABLE schema_version IN EXCLUSIVE MODE');
    const rows = (await db.query('SELECT version FROM schema_version')).rows;
    if (rows.length === 0) await db.query('INSERT INTO schema_version (version) VALUES (0)');
    const current = rows[0]?.version ?? 0;
    if (current > migrations.length) throw new Error(`database schema version ${current} is newer than this program knows (${migrations.length})`);
    for (let version = current; version < migrations.length; version++) await db.query(migrations[version]);
    await db.query('UPDATE schema_version SET version = $1', [migrations.length]);
    await db.query('COMMIT');
    return migrations.length;
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The server thread gave up on this batch (or on a later one: it waits for one batch at a time). */
function withdrawn(seq) {
  const sealed = Atomics.load(fate, 0);
  return sealed < 0 && -sealed >= seq;
}

/** Thrown when the server thread withdrew the batch before it was claimed: rolled back, dropped. */
class Withdrawn extends Error {}
/** Thrown when the COMMIT of a claimed batch failed: it may or may not have committed. */
class InDoubt extends Error {}

async function applyBatch(db, seq, statements) {
  // Each statement is one small row: bounded, so a database that went silent (no reset, no answer)
  // fails the attempt instead of holding the line for good.
  await db.query({ text: 'BEGIN', query_timeout: connectTimeoutMs });
  try {
    for (const [sql, params] of statements) await db.query({ text: sql, values: params, query_timeout: connectTimeoutMs });
    const sealed = Atomics.load(fate, 0);
    if ((sealed < 0 && -sealed >= seq) || Atomics.compareExchange(fate, 0, sealed, seq) !== sealed) throw new Withdrawn('withdrawn');
  } catch (error) {
    await db.query('ROLLBACK').catch(() => {});
    throw error;
  }
  try {
    await db.query({ text: 'COMMIT', query_timeout: connectTimeoutMs });
  } catch (error) {
    throw new InDoubt(String(error?.message ?? error));
  }
}

async function perform(request) {
  const db = await connection();
  switch (request.kind) {
    case 'migrate':
      return migrate(db);
    // Bounded by the caller's own wait: past it nobody reads the answer, and a database gone
    // silent (no reset) would hold this line, and every request behind it, for good.
    case 'query':
      return (await db.query({ text: request.sql, values: request.params ?? [], query_timeout: request.timeoutMs })).rows;
    case 'queries': {
      const results = [];
      for (const sql of request.sqls) results.push((await db.query({ text: sql, query_timeout: request.timeoutMs })).rows);
      return results;
    }
    case 'apply':
      return applyBatch(db, request.seq, request.statements);
    default:
      throw new Error(`unknown request ${request.kind}`);
  }
}

/** Posts a reply and bumps the shared counter the server thread sleeps on (any reply wakes it). */
function answer(seq, reply) {
  port.postMessage({ seq, ...reply });
  Atomics.add(signal, 0, 1);
  Atomics.notify(signal, 0);
}

async function drain() {
  if (running) return;
  running = true;
  while (queue.length > 0 && !closed) {
    const request = queue[0];
    if (request.kind === 'apply' && withdrawn(request.seq)) {
      queue.shift();
      answer(request.seq, { ok: false, withdrawn: true, error: 'withdrawn before it was committed' });
      continue;
    }
    try {
      const result = await perform(request);
      queue.shift();
      answer(request.seq, { ok: true, result });
      port.postMessage({ kind: 'health', ok: true });
    } catch (error) {
      if (error instanceof Withdrawn) {
        queue.shift();
        answer(request.seq, { ok: false, withdrawn: true, error: 'withdrawn before it was committed' });
        continue;
      }
      if (error instanceof InDoubt) {
        // Not retried: the user who asked was not answered and sends it again (the same id), and
        // what the database holds is read again once it answers.
        dropConnection();
        queue.shift();
        answer(request.seq, { ok: false, inDoubt: true, error: error.message });
        port.postMessage({ kind: 'health', ok: false, error: error.message });
        continue;
      }
      if (request.kind === 'apply' && unreachable(error)) {
        // Kept at the head of the line, retried while the server thread waits for it.
        dropConnection();
        answer(request.seq, { ok: false, retrying: true, error: String(error?.message ?? error) });
        port.postMessage({ kind: 'health', ok: false, error: String(error?.message ?? error) });
        await new Promise((resolve) => setTimeout(resolve, retryMs));
        continue;
      }
      if (unreachable(error)) dropConnection();
      queue.shift();
      answer(request.seq, { ok: false, retrying: false, error: String(error?.message ?? error), code: error?.code });
    }
  }
  running = false;
}

port.on('message', (message) => {
  if (message.kind === 'close') {
    closed = true;
    clearInterval(healthTimer);
    const finish = () => {
      port.close();
      parentPort?.close();
    };
    if (client === null) return finish();
    client.end().then(finish, finish);
    return;
  }
  queue.push(message);
  void drain();
});

// Between requests, the store's health is checked here, so /healthz turns 503 when the database
// goes away even while nobody writes.
// Bounded, and one at a time: a database that goes silent without closing the connection (a
// network partition) answered no check and was never reported lost, while checks piled up.
let checking = false;
async function healthCheck() {
  if (running || closed || checking) return;
  checking = true;
  try {
    const db = await connection();
    await db.query({ text: 'SELECT 1', query_timeout: connectTimeoutMs });
    port.postMessage({ kind: 'health', ok: true });
  } catch (error) {
    dropConnection();
    port.postMessage({ kind: 'health', ok: false, error: String(error?.message ?? error) });
  } finally {
    checking = false;
  }
}
const healthTimer = setInterval(() => void healthCheck(), healthCheckMs);
