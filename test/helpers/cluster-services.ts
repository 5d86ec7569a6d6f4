/**
 * The services cluster tests need: PostgreSQL and the NATS bus on loopback (scripts/services.sh
 * starts both; `.ci/run` calls it). A suite asks `clusterServices()` once, at collection:
 *   - both answer: the suite runs against them;
 *   - one is missing outside CI: the suite is skipped, and says so loudly on stderr;
 *   - one is missing in CI (CI=true): collection throws, so the run fails instead of passing
 *     without having tested anything.
 */
import { missingServices } from '../../bench/cluster-services.ts';

export const TEST_POSTGRES_URL = process.env.P2PCHAT_TEST_POSTGRES ?? 'postgres://p2pchat:p2pchat@127.0.0.1:5432/p2pchat';
export const TEST_NATS_URL = process.env.P2PCHAT_TEST_NATS ?? 'nats://127.0.0.1:4222';

export interface ClusterServices {
  readonly available: boolean;
  readonly postgresUrl: string;
  readonly natsUrl: string;
}

export async function clusterServices(suite: string): Promise<ClusterServices> {
  const missing = await missingServices(TEST_POSTGRES_URL, TEST_NATS_URL);
  if (missing.length > 0) {
    const why = `${suite}: ${missing.join(' and ')} not answering`;
    if (process.env.CI === 'true') throw new Error(`${why}; in CI these services must run (.ci/run starts them with scripts/services.sh)`);
    process.stderr.write(`\n*** SKIPPED ${why}. Start them with \`npm run services\` (scripts/services.sh) to run these tests. ***\n\n`);
  }
  return { available: missing.length === 0, postgresUrl: TEST_POSTGRES_URL, natsUrl: TEST_NATS_URL };
}

/**
 * A fresh, empty schema in the test database for one test (so suites never see each other's
 * rows), as a connection URL whose search_path points at it; dropped by the returned function.
 */
export async function freshPostgresSchema(baseUrl: string = TEST_POSTGRES_URL): Promise<{ url: string; drop: () => Promise<void> }> {
  const { default: pg } = await import('pg');
  const schema = `test_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
    },
  };
}
