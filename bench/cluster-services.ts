/**
 * What the cluster phase needs beside its servers: PostgreSQL and NATS on loopback (started by
 * scripts/services.sh, `npm run services`), a fresh schema of its own in the database, and the
 * accounts and friendships written there before the nodes start.
 *
 * The services are found, or started once through scripts/services.sh; when they still do not
 * answer, the phase reports its figures missing with the reason, never as passed.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { CHEAP_SCRYPT_PARAMS, BENCH_PASSWORD } from './seed.ts';
import { REPO_ROOT } from './processes.ts';
import { progress } from './progress.ts';
import { hashPassword } from '../cli/server/password.ts';
import { PostgresStore } from '../cli/server/postgres-store.ts';

/** Where scripts/services.sh puts them; P2PCHAT_BENCH_POSTGRES / P2PCHAT_BENCH_NATS point elsewhere. */
export const BENCH_POSTGRES_URL = process.env.P2PCHAT_BENCH_POSTGRES ?? 'postgres://p2pchat:p2pchat@127.0.0.1:5432/p2pchat';
export const BENCH_NATS_URL = process.env.P2PCHAT_BENCH_NATS ?? 'nats://127.0.0.1:4222';

/** A listening service on loopback answers a connect in microseconds. */
const PROBE_TIMEOUT_MS = 1_000;
/** scripts/services.sh may install both packages from Debian's mirror first. */
const SERVICES_SCRIPT_TIMEOUT_MS = 300_000;
/** Rows per INSERT while seeding (arrays through unnest: one round trip per batch). */
const SEED_ROWS_PER_STATEMENT = 10_000;

function probe(url: string): Promise<boolean> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const socket = new Socket();
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.connect(Number(parsed.port), parsed.hostname);
  });
}

/** The services of the two URLs that do not answer a TCP connect, named for a message (the cluster tests use it too). */
export async function missingServices(postgresUrl: string, natsUrl: string): Promise<string[]> {
  const [postgres, nats] = await Promise.all([probe(postgresUrl), probe(natsUrl)]);
  return [...(postgres ? [] : [`PostgreSQL at ${new URL(postgresUrl).host}`]), ...(nats ? [] : [`NATS at ${new URL(natsUrl).host}`])];
}

export interface ServicesFound {
  readonly ok: boolean;
  /** Why not, when not ok: what did not answer and what starting them said. */
  readonly reason: string;
}

/** Where the cluster phase finds its services, and whether it may start them. */
export interface ServiceUrls {
  readonly postgresUrl: string;
  readonly natsUrl: string;
  /** Run scripts/services.sh when one does not answer (default true). */
  readonly start?: boolean;
}

export const BENCH_SERVICES: ServiceUrls = { postgresUrl: BENCH_POSTGRES_URL, natsUrl: BENCH_NATS_URL };

/** Both services answer, or are started by scripts/services.sh (once) and then answer. */
export async function ensureServices({ postgresUrl, natsUrl, start = true }: ServiceUrls = BENCH_SERVICES): Promise<ServicesFound> {
  const before = await missingServices(postgresUrl, natsUrl);
  if (before.length === 0) return { ok: true, reason: '' };
  if (!start) return { ok: false, reason: `${before.join(' and ')} not answering (start them with \`npm run services\`)` };
  progress(`cluster: ${before.join(' and ')} not answering: starting them with scripts/services.sh`);
  const script = await new Promise<{ ok: boolean; output: string }>((resolve) => {
    execFile('bash', [join(REPO_ROOT, 'scripts', 'services.sh')], { cwd: REPO_ROOT, timeout: SERVICES_SCRIPT_TIMEOUT_MS }, (error, stdout, stderr) => {
      resolve({ ok: error === null, output: `${stdout}${stderr}`.trim().split('\n').slice(-3).join(' / ') });
    });
  });
  const after = await missingServices(postgresUrl, natsUrl);
  if (after.length === 0) return { ok: true, reason: '' };
  return { ok: false, reason: `${after.join(' and ')} not answering; scripts/services.sh ${script.ok ? 'ran' : 'failed'}: ${script.output.slice(0, 300)}` };
}

export interface BenchSchema {
  /** The store URL whose search_path is the fresh schema (what every node gets as --store). */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** A fresh, empty schema for one run, so runs never see each other's rows; migrated to the server's tables. */
export async function freshBenchSchema(baseUrl = BENCH_POSTGRES_URL): Promise<BenchSchema> {
  const { default: pg } = await import('pg');
  const name = `bench_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${name}`);
  // The server's own migrations make the tables (the store runs them as it opens).
  new PostgresStore({ url: url.toString() }).close();
  return {
    url: url.toString(),
    name,
    drop: async () => {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/**
 * Accounts (all with the cheap hash: this phase measures holding and presence, not scrypt; see
 * seed.ts) and friendships, written straight into the schema in a few large statements.
 */
export async function seedPostgres(url: string, plan: { accounts: readonly string[]; friendships: ReadonlyArray<readonly [string, string]> }): Promise<void> {
  const { default: pg } = await import('pg');
  const hash = await hashPassword(BENCH_PASSWORD, CHEAP_SCRYPT_PARAMS);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const createdAtMs = Date.now();
    for (let i = 0; i < plan.accounts.length; i += SEED_ROWS_PER_STATEMENT) {
      const batch = plan.accounts.slice(i, i + SEED_ROWS_PER_STATEMENT);
      await client.query('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) SELECT u, u, $2, $3 FROM unnest($1::text[]) AS u', [batch, hash, createdAtMs]);
    }
    for (let i = 0; i < plan.friendships.length; i += SEED_ROWS_PER_STATEMENT) {
      // Stored once per pair, ordered (a < b), as the store writes them.
      const batch = plan.friendships.slice(i, i + SEED_ROWS_PER_STATEMENT).map(([a, b]) => (a < b ? [a, b] : [b, a]));
      await client.query('INSERT INTO friendships (a, b) SELECT * FROM unnest($1::text[], $2::text[])', [batch.map((pair) => pair[0]), batch.map((pair) => pair[1])]);
    }
  } finally {
    await client.end();
  }
}

/** A NATS URL whose path names a cluster of this run's own, so other users of the same NATS never hear it. */
export function benchBusUrl(baseUrl: string, name: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/${name}`;
}
