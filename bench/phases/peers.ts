/**
 * `--peers`: ejabberd and Prosody, when installed, each started on loopback (bench/peers/) and
 * loaded with the same shape of work as our own phases, at the same sizes, from @xmpp/client load
 * workers (bench/peers/xmpp-worker.ts):
 *
 *   connections_held, rss_per_connection_kb   `held` logged-in idle users (and the same warm-up);
 *   presence_fanout_rate                       `observers` online, each with every one of `flappers`
 *                                              on its roster (subscription both), the flappers
 *                                              going unavailable and available for the window;
 *   login_rate                                 `loginConcurrency` clients logging in for the window
 *                                              with the server's default scheme (SCRAM-SHA-1);
 *   login_rate_matched_cost                    the peer's same figure beside ours with a scrypt
 *                                              cost that takes as long as the peer's PBKDF2.
 *
 * p2pchat's held, RSS and presence figures are the ones this run's `held` and `server` phases
 * measured (same sizes); its two login figures are measured here, on one server of its own.
 * Every figure goes into the report's `peers` section as p2pchat / peer.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SOCKETS_PER_WORKER_MAX, loopbackAddresses } from '../config.ts';
import { forkTs } from '../processes.ts';
import { progress } from '../progress.ts';
import { RpcChild } from '../rpc.ts';
import { BENCH_PASSWORD, names, seedStore } from '../seed.ts';
import { startBenchServer } from '../server-launcher.ts';
import { drainedCount, errorsText, mergeErrors, mergeLatencies, split, startWorkers, stopWorkers } from '../workers.ts';
import { SCRYPT_PARAMS } from '../../cli/server/password.ts';
import type { ResultName } from '../names.ts';
import { type MatchedCost, matchScryptCost } from '../peers/matched-cost.ts';
import { PEER_SCRAM_ITERATIONS, type PeerServer, lookUpPeer, startEjabberd, startProsody } from '../peers/peer-servers.ts';
import { PEER_NAMES, type PeerFigure, type PeerName, type PeerSide, missingPeerSection, peerFigure, peerSection } from '../peers/peer-report.ts';
import type { XmppMechanism } from '../peers/xmpp-worker.ts';
import { type PhaseContext, sleep } from './context.ts';

const XMPP_WORKER_MODULE = fileURLToPath(new URL('../peers/xmpp-worker.ts', import.meta.url));
const RPC_SLACK_MS = 60_000;
/** Logins in flight per worker while filling up (as the held phase). */
const LOGINS_IN_FLIGHT_PER_WORKER = 200;
const FILL_TIMEOUT_MS = 600_000;
/** As the held phase: a warm-up share of the count, logged in and out before RSS is first read. */
const WARM_UP_SHARE = 0.05;
const WARM_UP_MIN = 200;
const RSS_SETTLE_MS = 1_500;
/** How long delivered presence may keep arriving after the flappers stop. */
const PRESENCE_DRAIN_MS_MAX = 3_000;
/**
 * Source addresses of the peers' clients: after the held phase's (127.0.0.20 up) and the resumes'
 * (127.0.0.100 to .123), a block per peer, so no peer binds among another's TIME_WAIT sockets.
 */
const SOURCE_ADDRESS_FIRST: Record<PeerName, number> = { ejabberd: 140, prosody: 180 };

/** Our figures this run already measured, with the same sizes as the peers get. */
function ours(ctx: PhaseContext, name: ResultName, phase: string): PeerSide {
  const result = ctx.results.get(name);
  if (result === undefined || result.missing || result.value === null) return { value: null, note: `not measured in this run: add the ${phase} phase (--phases ${phase},...)` };
  return { value: result.value, ...(result.details === undefined ? {} : { details: result.details }) };
}

function startXmppWorkers(count: number, label: string): RpcChild[] {
  // The peers present the run's own self-signed certificate on loopback.
  return Array.from({ length: count }, (_, i) => new RpcChild(forkTs(XMPP_WORKER_MODULE, [], { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' }), `${label} xmpp worker ${i}`));
}

interface LoginLoopResult {
  readonly logins: number;
  readonly wallMs: number;
  readonly samplesUs: number[];
  readonly errors: Record<string, number>;
}

interface OurLogins {
  readonly defaultScheme: PeerSide;
  readonly matched: Record<PeerName, PeerSide>;
}

/** p2pchat's login_rate with its default scrypt, and with the cost matched to each peer's PBKDF2, on one server of its own. */
async function measureOurLogins(ctx: PhaseContext, matched: Record<PeerName, MatchedCost>): Promise<OurLogins> {
  const c = ctx.config;
  const defaultAccounts = names('pd', c.loginConcurrency);
  const matchedAccounts = { ejabberd: names('pe', c.loginConcurrency), prosody: names('pp', c.loginConcurrency) };
  const dataDir = join(ctx.tmpDir, 'server-peers');
  await seedStore(dataDir, {
    realAccounts: defaultAccounts,
    cheapAccounts: [],
    friendships: [],
    accountsWithParams: PEER_NAMES.map((peer) => ({ usernames: matchedAccounts[peer], params: matched[peer].params })),
  });
  const server = await startBenchServer({ dataDir, ttlMs: 60_000, label: 'p2pchat server (peers)' });
  const [worker] = startWorkers(1, 'peers p2pchat');
  try {
    const loop = async (usernames: string[], what: string, details: Record<string, number | string>): Promise<PeerSide> => {
      progress(`peers: p2pchat logins (${what}), ${usernames.length} clients for ${c.windowMs} ms`);
      const result = await (worker as RpcChild).call<LoginLoopResult>('loginLoop', { port: server.tcpPort, localAddresses: [], usernames, password: BENCH_PASSWORD, durationMs: c.windowMs }, c.windowMs + RPC_SLACK_MS);
      const latency = mergeLatencies([result.samplesUs]);
      const errors = errorsText(result.errors);
      return {
        value: (result.logins * 1000) / result.wallMs,
        details: { ...details, logins: result.logins, concurrency: usernames.length, windowMs: result.wallMs, p50Ms: latency.p50Ms, p99Ms: latency.p99Ms },
        ...(errors === '' ? {} : { note: `errors: ${errors}` }),
      };
    };
    const scheme = (p: { N: number; r: number; p: number }): string => `scrypt N=${p.N} r=${p.r} p=${p.p}`;
    const defaultScheme = await loop(defaultAccounts, 'default scrypt', { scheme: scheme(SCRYPT_PARAMS), measured: 'login on an open TLS connection (login, logout, login...)' });
    const matchedSides = {} as Record<PeerName, PeerSide>;
    for (const peer of PEER_NAMES) {
      const cost = matched[peer];
      matchedSides[peer] = await loop(matchedAccounts[peer], `scrypt matched to ${peer}`, {
        scheme: scheme(cost.params),
        matchedTo: `PBKDF2-SHA1 x ${PEER_SCRAM_ITERATIONS[peer]}: ${cost.pbkdf2Ms.toFixed(2)} ms here; this scrypt ${cost.scryptMs.toFixed(2)} ms`,
      });
    }
    return { defaultScheme, matched: matchedSides };
  } finally {
    await stopWorkers([worker as RpcChild]);
    await server.stop();
  }
}

export async function runPeersPhase(ctx: PhaseContext): Promise<void> {
  progress('peers: matching our scrypt cost to each peer\'s PBKDF2-SHA1');
  const matched = { ejabberd: matchScryptCost(PEER_SCRAM_ITERATIONS.ejabberd), prosody: matchScryptCost(PEER_SCRAM_ITERATIONS.prosody) };
  let ourLogins: OurLogins;
  try {
    ourLogins = await measureOurLogins(ctx, matched);
  } catch (error) {
    const note = `our login server failed: ${error instanceof Error ? error.message : String(error)}`;
    ourLogins = { defaultScheme: { value: null, note }, matched: { ejabberd: { value: null, note }, prosody: { value: null, note } } };
  }
  for (const peer of PEER_NAMES) {
    const found = await lookUpPeer(peer);
    if (!found.installed) {
      progress(`peers: ${peer} missing: ${found.reason}`);
      ctx.peers.push(missingPeerSection(peer, found.reason));
      continue;
    }
    try {
      ctx.peers.push(await measurePeer(ctx, peer, found.command, found.version, ourLogins, matched[peer]));
    } catch (error) {
      const reason = `${peer} ${found.version} could not be measured: ${error instanceof Error ? error.message : String(error)}`;
      progress(`peers: ${reason}`);
      ctx.peers.push(missingPeerSection(peer, reason, found.version));
    }
  }
}

async function measurePeer(ctx: PhaseContext, peer: PeerName, command: string, version: string, ourLogins: OurLogins, matched: MatchedCost) {
  const c = ctx.config;
  const scratch = join(ctx.tmpDir, `peer-${peer}`);
  const server: PeerServer = peer === 'ejabberd' ? await startEjabberd(command, version, scratch) : await startProsody(command, version, scratch);
  const held = names('xh', c.held);
  const warmUpCount = Math.max(WARM_UP_MIN, Math.round(c.held * WARM_UP_SHARE));
  const warmUp = names('xw', warmUpCount);
  const observers = names('xo', c.observers);
  const flappers = names('xf', c.flappers);
  const loginAccounts = names('xl', c.loginConcurrency);
  const workerCount = Math.max(c.loadWorkers, Math.ceil(c.held / SOCKETS_PER_WORKER_MAX));
  const workers = startXmppWorkers(workerCount, peer);
  const figures: PeerFigure[] = [];
  let note: string | undefined;
  try {
    const setUpStartMs = Date.now();
    progress(`peers: ${peer}: ${held.length + warmUp.length + observers.length + flappers.length + loginAccounts.length} accounts, ${observers.length * flappers.length * 2} roster items`);
    await server.registerAccounts(loginAccounts, BENCH_PASSWORD);
    await server.registerCheapAccounts([...held, ...warmUp, ...observers, ...flappers], BENCH_PASSWORD);
    await server.setRosters([...observers.map((o) => [o, flappers] as const), ...flappers.map((f) => [f, observers] as const)]);
    const setUpMs = Date.now() - setUpStartMs;
    const target = (mechanism: XmppMechanism, addresses: string[]) => ({ port: server.c2sPort, localAddresses: addresses, password: BENCH_PASSWORD, mechanism });
    const addressFirst = SOURCE_ADDRESS_FIRST[peer];

    // Logins with the default scheme.
    progress(`peers: ${peer}: ${loginAccounts.length} clients logging in (SCRAM-SHA-1) for ${c.windowMs} ms`);
    const peerLogin: PeerSide = await (async (): Promise<PeerSide> => {
      const loginResult = await (workers[0] as RpcChild).call<LoginLoopResult>(
        'loginLoop',
        { ...target('SCRAM-SHA-1', loopbackAddresses(addressFirst, 4)), usernames: loginAccounts, durationMs: c.windowMs },
        c.windowMs + RPC_SLACK_MS,
      );
      const loginLatency = mergeLatencies([loginResult.samplesUs]);
      const loginErrors = errorsText(loginResult.errors);
      return {
        value: (loginResult.logins * 1000) / loginResult.wallMs,
        details: {
          scheme: `SCRAM-SHA-1, PBKDF2-SHA1 x ${PEER_SCRAM_ITERATIONS[peer]}`,
          measured: 'a whole login on a new connection each time (TCP, STARTTLS, SASL, resource bind), then the stream closed',
          logins: loginResult.logins,
          concurrency: loginAccounts.length,
          windowMs: loginResult.wallMs,
          p50Ms: loginLatency.p50Ms,
          p99Ms: loginLatency.p99Ms,
        },
        ...(loginErrors === '' ? {} : { note: `errors: ${loginErrors}` }),
      };
    })().catch(failedSide);
    figures.push(peerFigure('login_rate', ourLogins.defaultScheme, peerLogin));
    figures.push(peerFigure('login_rate_matched_cost', ourLogins.matched[peer], peerLogin));

    // Presence fan-out; a step that fails leaves its figures missing on the peer's side, with why, and the next step still runs.
    const presenceSide = await presence(server, workers, target, addressFirst + 4, observers, flappers, c.windowMs).catch(failedSide);
    figures.push(peerFigure('presence_fanout_rate', ours(ctx, 'presence_fanout_rate', 'server'), presenceSide));

    // Held connections and RSS per connection.
    const { heldSide, rssSide } = await holdAndRss(server, workers, target, addressFirst + 8, held, warmUp, c.holdMs).catch((error: unknown) => ({ heldSide: failedSide(error), rssSide: failedSide(error) }));
    figures.push(peerFigure('connections_held', ours(ctx, 'connections_held', 'held'), heldSide));
    figures.push(peerFigure('rss_per_connection_kb', ours(ctx, 'rss_per_connection_kb', 'held'), rssSide));
    const stray = errorsText(mergeErrors((await Promise.all(workers.map((worker) => worker.call<{ strayErrors: Record<string, number> }>('counts', {}, 30_000).catch(() => ({ strayErrors: { 'worker gone': 1 } }))))).map((x) => x.strayErrors)));
    note = `set-up (accounts and rosters through the admin interface) took ${(setUpMs / 1000).toFixed(1)} s${stray === '' ? '' : `; client errors outside any request: ${stray}`}`;
  } finally {
    await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RPC_SLACK_MS).catch(() => null)));
    await stopWorkers(workers);
    await server.stop();
  }
  return peerSection({
    peer,
    version,
    settings: {
      ...server.settings,
      version,
      matchedCost: `our scrypt N=${matched.params.N} r=${matched.params.r} p=${matched.params.p} (${matched.scryptMs.toFixed(2)} ms here) against PBKDF2-SHA1 x ${PEER_SCRAM_ITERATIONS[peer]} (${matched.pbkdf2Ms.toFixed(2)} ms here)`,
      loadGenerator: `@xmpp/client in ${workers.length} worker processes (SCRAM's PBKDF2 through node:crypto)`,
      held: held.length,
      observers: observers.length,
      flappers: flappers.length,
      loginConcurrency: loginAccounts.length,
      windowMs: c.windowMs,
    },
    figures,
    ...(note === undefined ? {} : { note }),
  });
}

function failedSide(error: unknown): PeerSide {
  return { value: null, note: `failed: ${error instanceof Error ? error.message : String(error)}` };
}

interface WorkerCounts {
  readonly held: number;
  readonly open: number;
  readonly presenceReceived: number;
}

async function totalCounts(workers: readonly RpcChild[]): Promise<WorkerCounts> {
  const all = await Promise.all(workers.map((worker) => worker.call<WorkerCounts>('counts', {}, 30_000)));
  return { held: all.reduce((s, x) => s + x.held, 0), open: all.reduce((s, x) => s + x.open, 0), presenceReceived: all.reduce((s, x) => s + x.presenceReceived, 0) };
}

type TargetOf = (mechanism: XmppMechanism, addresses: string[]) => { port: number; localAddresses: string[]; password: string; mechanism: XmppMechanism };

async function presence(server: PeerServer, workers: RpcChild[], target: TargetOf, addressFirst: number, observers: string[], flappers: string[], windowMs: number): Promise<PeerSide> {
  const slices = split(observers, workers.length);
  progress(`peers: ${server.peer}: ${observers.length} observers and ${flappers.length} flappers logging in`);
  const logins = await Promise.all(
    workers.map((worker, i) =>
      worker.call<{ loggedIn: number; errors: Record<string, number> }>('holdLogins', { ...target(server.cheapMechanism, loopbackAddresses(addressFirst + i % 4, 1)), usernames: slices[i], concurrency: 100, countPresence: true }, FILL_TIMEOUT_MS),
    ),
  );
  const flapperLogin = await (workers[0] as RpcChild).call<{ loggedIn: number; errors: Record<string, number> }>('holdLogins', { ...target(server.cheapMechanism, []), usernames: flappers, concurrency: 100 }, FILL_TIMEOUT_MS);
  const observersIn = logins.reduce((sum, l) => sum + l.loggedIn, 0);
  if (observersIn < observers.length || flapperLogin.loggedIn < flappers.length) {
    throw new Error(`presence: only ${observersIn} observers and ${flapperLogin.loggedIn} flappers logged in: ${errorsText(mergeErrors([...logins.map((l) => l.errors), flapperLogin.errors]))}`);
  }
  // The initial presences of the logins just made are still arriving: let them settle first.
  await drained(workers, Date.now());
  const before = (await totalCounts(workers)).presenceReceived;
  progress(`peers: ${server.peer}: flappers going unavailable and available for ${windowMs} ms`);
  const startMs = Date.now();
  const flapped = await (workers[0] as RpcChild).call<{ changes: number; wallMs: number; errors: Record<string, number> }>('flapLoop', { usernames: flappers, durationMs: windowMs }, windowMs + RPC_SLACK_MS);
  const { delivered, lastGrowthMs } = await drained(workers, startMs);
  await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RPC_SLACK_MS)));
  const notifications = delivered - before;
  const errors = errorsText(flapped.errors);
  return {
    value: (notifications * 1000) / (lastGrowthMs - startMs),
    details: {
      notifications,
      observers: observers.length,
      flappers: flappers.length,
      presenceChanges: flapped.changes,
      windowMs: lastGrowthMs - startMs,
      measured: 'presence stanzas from the flappers received by the observers, until delivery stops; each flapper sends unavailable then available on its stream, a ping after each',
    },
    ...(errors === '' ? {} : { note: `errors: ${errors}` }),
  };
}

function drained(workers: RpcChild[], startMs: number): Promise<{ delivered: number; lastGrowthMs: number }> {
  return drainedCount(async () => (await totalCounts(workers)).presenceReceived, startMs, PRESENCE_DRAIN_MS_MAX);
}

async function holdAndRss(server: PeerServer, workers: RpcChild[], target: TargetOf, addressFirst: number, held: string[], warmUp: string[], holdMs: number): Promise<{ heldSide: PeerSide; rssSide: PeerSide }> {
  const fill = (usernames: string[], firstAddress: number) => {
    const slices = split(usernames, workers.length);
    return Promise.all(
      workers.map((worker, i) =>
        worker.call<{ loggedIn: number; errors: Record<string, number> }>(
          'holdLogins',
          { ...target(server.cheapMechanism, loopbackAddresses(firstAddress + i, 1)), usernames: slices[i] ?? [], concurrency: LOGINS_IN_FLIGHT_PER_WORKER },
          FILL_TIMEOUT_MS,
        ),
      ),
    );
  };
  progress(`peers: ${server.peer}: warming up with ${warmUp.length} clients (logged in, then out)`);
  await fill(warmUp, addressFirst + workers.length);
  await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RPC_SLACK_MS)));
  await sleep(RSS_SETTLE_MS);
  const rssBeforeKb = await server.rssKb();
  progress(`peers: ${server.peer}: ${held.length} clients logging in from ${workers.length} worker processes`);
  const fillStartMs = Date.now();
  const fills = await fill(held, addressFirst);
  const fillMs = Date.now() - fillStartMs;
  const loggedIn = fills.reduce((sum, f) => sum + f.loggedIn, 0);
  progress(`peers: ${server.peer}: ${loggedIn} logged in after ${(fillMs / 1000).toFixed(1)} s; holding ${holdMs} ms`);
  await sleep(holdMs);
  const counts = await totalCounts(workers);
  const sessions = await server.sessions().catch(() => null);
  await sleep(RSS_SETTLE_MS);
  const rssAfterKb = await server.rssKb();
  const heldCount = Math.min(counts.open, sessions ?? counts.open);
  const errors = errorsText(mergeErrors(fills.map((f) => f.errors)));
  await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, FILL_TIMEOUT_MS)));
  return {
    heldSide: {
      value: heldCount,
      details: { target: held.length, loggedIn, openClientSide: counts.open, serverSessions: sessions ?? 'not reported', fillMs, holdMs, workers: workers.length },
      ...(errors === '' ? {} : { note: `login errors: ${errors}` }),
    },
    rssSide: heldCount === 0 ? { value: null, note: 'no connection was held' } : { value: (rssAfterKb - rssBeforeKb) / heldCount, details: { connections: heldCount, warmUpConnections: warmUp.length, rssBeforeKb, rssAfterKb } },
  };
}
