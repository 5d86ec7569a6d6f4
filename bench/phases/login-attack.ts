/**
 * login_under_attack_p99_ms: the p99 of a legitimate login (connect, login, answer) while 20
 * other addresses flood the server with logins, each staying inside its own per-address limit
 * (AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC, not lifted here as the other phases lift it). Every flood
 * login costs the server a full scrypt, unknown usernames included, so together they ask for far
 * more scrypt than the machine has: the figure shows the password checks are bounded and shared
 * fairly across addresses (docs/SECURITY.md; 8.5 s without that, target <= 1 s).
 *
 * The server is the real command in its own process with its default limits; the flood and the
 * legitimate clients run here, on 127.0.0.x source addresses of their own. Each legitimate login
 * comes from an address not used for a while (a person logs in once, not back to back; a client
 * that did would only compete with itself for its address's share). One that gets BUSY retries
 * after LEGIT_RETRY_MS; its latency counts from the connect of its first attempt.
 */
import { join } from 'node:path';
import { AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC } from '../../core/limits.ts';
import { loopbackAddresses } from '../config.ts';
import { LatencyHistogram } from '../histogram.ts';
import { IntervalCounter } from '../interval-counts.ts';
import { progress } from '../progress.ts';
import { BenchConnection, ServerError } from '../protocol-client.ts';
import { BENCH_PASSWORD, seedStore } from '../seed.ts';
import { startBenchServer } from '../server-launcher.ts';
import { type PhaseContext, sleep } from './context.ts';

/** The login flood of docs/SECURITY.md: this many addresses flood at once. */
export const ATTACK_ADDRESSES = 20;
/** Connections each flooding address keeps busy (one login in flight on each). */
const ATTACK_CONNECTIONS_PER_ADDRESS = 4;
/** Legitimate users logging in one after the other, in parallel. */
const LEGIT_USERS = 2;
/** Source addresses the legitimate logins take in turn (127.0.0.x after the flood's). */
const LEGIT_ADDRESSES = 120;
/** A legitimate client told BUSY tries again after this long. */
const LEGIT_RETRY_MS = 50;
/** The flood runs this long before the legitimate logins are measured (the wait line fills). */
const FLOOD_WARM_UP_MS = 3_000;
const REPLY_TIMEOUT_MS = 30_000;

export async function runLoginAttackPhase(ctx: PhaseContext): Promise<void> {
  await ctx.phase('login under attack', ['login_under_attack_p99_ms'], () => measure(ctx));
}

async function measure(ctx: PhaseContext): Promise<void> {
  const windowMs = ctx.config.windowMs;
  const dataDir = join(ctx.tmpDir, 'attack-server');
  const legitNames = Array.from({ length: LEGIT_USERS }, (_, i) => `legit${i}`);
  // Real scrypt for the legitimate accounts: each login pays what a real one pays.
  await seedStore(dataDir, { realAccounts: legitNames, cheapAccounts: [], friendships: [] });
  const server = await startBenchServer({ dataDir, ttlMs: 30_000, label: 'attack server', keepAddressLimits: true });
  const attackAddresses = loopbackAddresses(100, ATTACK_ADDRESSES);
  const legitAddresses = loopbackAddresses(100 + ATTACK_ADDRESSES, LEGIT_ADDRESSES);
  let nextLegitAddress = 0;
  const floodCounts = { attempts: 0, badCredentials: 0, busy: 0, rateLimited: 0, other: 0 };
  // Over time, for the report: the flood's checked answers (a scrypt each) against its BUSY
  // answers (turned away without one), and the legitimate logins served among them.
  const phaseStartMs = Date.now();
  const overTime: FloodOverTime = { checked: new IntervalCounter(phaseStartMs), turnedAway: new IntervalCounter(phaseStartMs) };
  const legitServed = new IntervalCounter(phaseStartMs);
  let flooding = true;
  try {
    progress(`login flood: ${ATTACK_ADDRESSES} addresses x ${ATTACK_CONNECTIONS_PER_ADDRESS} connections, each address at most ${AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC} logins/s`);
    const floods = attackAddresses.map((address) => floodFrom(server.tcpPort, address, () => flooding, floodCounts, overTime));
    await sleep(FLOOD_WARM_UP_MS);
    const histogram = new LatencyHistogram();
    let busyRetries = 0;
    const endMs = Date.now() + windowMs;
    await Promise.all(
      legitNames.map(async (username) => {
        // At least a few samples each, however slow the server is.
        for (let n = 0; Date.now() < endMs || n < 3; n++) {
          const address = legitAddresses[nextLegitAddress++ % legitAddresses.length] as string;
          const result = await legitLogin(server.tcpPort, address, username);
          histogram.recordMs(result.ms);
          legitServed.add(Date.now());
          busyRetries += result.busyRetries;
        }
      }),
    );
    flooding = false;
    await Promise.all(floods);
    const summary = histogram.summary();
    ctx.charts.latencyCurve('login_under_attack_p99_ms', 'legitimate login during the flood', summary.curve);
    ctx.charts.throughputOf('login under attack', 'flood logins checked (BAD_CREDENTIALS)', overTime.checked.take());
    ctx.charts.throughputOf('login under attack', 'flood logins turned away (BUSY)', overTime.turnedAway.take());
    ctx.charts.throughputOf('login under attack', 'legitimate logins served', legitServed.take());
    ctx.record('login_under_attack_p99_ms', {
      value: summary.p99Ms,
      details: {
        legitLogins: summary.count,
        p50Ms: summary.p50Ms,
        maxMs: summary.maxMs,
        legitBusyRetries: busyRetries,
        attackAddresses: ATTACK_ADDRESSES,
        floodAttempts: floodCounts.attempts,
        floodBadCredentials: floodCounts.badCredentials,
        floodBusy: floodCounts.busy,
        floodRateLimited: floodCounts.rateLimited,
      },
    });
  } finally {
    flooding = false;
    await server.stop();
  }
}

/** The flood's answers per interval: checked (a full scrypt ran) and turned away (BUSY). */
interface FloodOverTime {
  readonly checked: IntervalCounter;
  readonly turnedAway: IntervalCounter;
}

/** One address's flood: its connections each send wrong logins back to back, paced to the per-address limit. */
async function floodFrom(port: number, address: string, going: () => boolean, counts: Record<string, number>, overTime: FloodOverTime): Promise<void> {
  const spacingMs = (1000 * ATTACK_CONNECTIONS_PER_ADDRESS) / AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC;
  let seq = 0;
  const open = new Set<BenchConnection>();
  // At the end the flood is cut off at once, not drained: its waits would only delay the next phase.
  const stopped = (async () => {
    while (going()) await sleep(50);
    for (const connection of open) connection.destroy();
  })();
  const lane = async (lane: number): Promise<void> => {
    while (going()) {
      let connection: BenchConnection;
      try {
        connection = await BenchConnection.connect({ port, localAddress: address, timeoutMs: REPLY_TIMEOUT_MS });
      } catch {
        await sleep(spacingMs);
        continue;
      }
      open.add(connection);
      while (going() && connection.open) {
        const startedMs = Date.now();
        counts.attempts = (counts.attempts ?? 0) + 1;
        // A fresh unknown username each time: the per-username slow-down never applies, every
        // attempt costs the server a full scrypt against the dummy hash.
        try {
          await connection.request({ type: 'login', username: `nobody-${address}-${lane}-${seq++}`, password: 'flood-password' }, 'login.ok', REPLY_TIMEOUT_MS);
          counts.other = (counts.other ?? 0) + 1;
        } catch (error) {
          const code = error instanceof ServerError ? String(error.frame.code) : 'closed';
          const key = code === 'BAD_CREDENTIALS' ? 'badCredentials' : code === 'BUSY' ? 'busy' : code === 'RATE_LIMITED' ? 'rateLimited' : 'other';
          counts[key] = (counts[key] ?? 0) + 1;
          if (key === 'badCredentials') overTime.checked.add(Date.now());
          else if (key === 'busy') overTime.turnedAway.add(Date.now());
        }
        await sleep(Math.max(0, spacingMs - (Date.now() - startedMs)));
      }
      connection.destroy();
      open.delete(connection);
    }
  };
  await Promise.all([stopped, ...Array.from({ length: ATTACK_CONNECTIONS_PER_ADDRESS }, (_, i) => lane(i))]);
}

/** Connect, log in (retrying on BUSY), close: milliseconds from the connect to login.ok. */
async function legitLogin(port: number, address: string, username: string): Promise<{ ms: number; busyRetries: number }> {
  const startedMs = performance.now();
  const connection = await BenchConnection.connect({ port, localAddress: address, timeoutMs: REPLY_TIMEOUT_MS });
  let busyRetries = 0;
  try {
    for (;;) {
      try {
        await connection.request({ type: 'login', username, password: BENCH_PASSWORD }, 'login.ok', REPLY_TIMEOUT_MS);
        return { ms: performance.now() - startedMs, busyRetries };
      } catch (error) {
        if (!(error instanceof ServerError) || error.frame.code !== 'BUSY') throw error;
        busyRetries += 1;
        await sleep(LEGIT_RETRY_MS);
      }
    }
  } finally {
    connection.destroy();
  }
}
