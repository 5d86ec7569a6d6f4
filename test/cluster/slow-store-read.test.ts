/**
 * A read of the whole store that takes longer than a commit's wait while the database is up (a
 * big store on a busy machine: 50,000 accounts took 1.9-3.5 s here at load 15; here a table lock
 * another session holds for a few seconds). Before, a node's hello made every other node read the
 * store with STORE_COMMIT_WAIT_MS (2 s) as its bound: the read failed, was owed "until the
 * database answers again", and the database never stopped answering, so it was never made: what
 * the node committed while cut off the bus (an account, a password changed) stayed unknown there.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { clusterServices } from '../helpers/cluster-services.ts';
import { clusterPerTest, eventually } from '../helpers/cluster-nodes.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';

const services = await clusterServices('cluster tests (a slow read of the store)');
const current = clusterPerTest(services, { ttlMs: 10_000 });
const LOCK_HELD_MS = 3_500;

/** Another session holds the accounts table locked for `ms` (in its own process: the nodes here block this one's thread). */
async function lockAccounts(storeUrl: string, ms: number): Promise<void> {
  const source = `
    const pg = require('pg');
    const client = new pg.Client({ connectionString: process.argv[1] });
    (async () => {
      await client.connect();
      await client.query('BEGIN');
      await client.query('LOCK TABLE accounts IN ACCESS EXCLUSIVE MODE');
      process.stdout.write('locked\\n');
      setTimeout(async () => { await client.query('COMMIT'); await client.end(); }, Number(process.argv[2]));
    })();`;
  const child = spawn(process.execPath, ['-e', source, storeUrl, String(ms)], { stdio: ['ignore', 'pipe', 'inherit'], cwd: process.cwd() });
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line')) as [string];
  if (line !== 'locked') throw new Error(`the locker said ${line}`);
}

describe.skipIf(!services.available)('a read of the whole store slower than a commit', { timeout: 90_000 }, () => {
  it("a node back on the bus is read by the others though the read takes longer than STORE_COMMIT_WAIT_MS: an account made behind their back is known", async () => {
    const cluster = current();
    const proxy = await CutProxy.start(Number(new URL(services.natsUrl).port));
    try {
      const a = await cluster.addNode();
      const b = await cluster.addNode({ busUrl: proxy.via(cluster.busUrl) });
      await proxy.cutAll();
      await eventually(async () => (await fetch(`http://127.0.0.1:${b.httpPort}/healthz`)).status === 503, 'B reports the lost bus');
      // As B would commit it while cut off: its word on the bus never reaches A.
      await cluster.sql('INSERT INTO accounts (username, nickname, password_hash, created_at_ms) VALUES ($1, $1, $2, $3)', ['zoe', 'scrypt$1$1$1$c2FsdA==$aGFzaA==', Date.now()]);
      await lockAccounts(cluster.storeUrl, LOCK_HELD_MS);
      await proxy.mend();
      await eventually(() => a.machine.hasAccount('zoe') && b.machine.hasAccount('zoe'), 'A and B read the store once the lock is gone', 20_000);
      expect(await (await fetch(`http://127.0.0.1:${a.httpPort}/healthz`)).text()).toContain('ok');
    } finally {
      await proxy.close();
    }
  });
});
