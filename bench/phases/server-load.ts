/**
 * The phases on one running server (seeded beforehand): login_rate against raw scrypt,
 * resume_rate, presence_fanout_rate against a bare echo server, session_broker_p99_ms (real
 * clients' chat.open → chat.opened), http_healthz_rps against bare node:http, and
 * http_healthz_p99_under_load_ms (an autocannon probe on /healthz during the login load and
 * during the presence load).
 */
import { join } from 'node:path';
import { encodeControl } from '../../core/codec.ts';
import { startBaselineProcess } from '../baselines.ts';
import type { ScryptRateResult } from '../baselines/scrypt-rate.ts';
import { CHAT_STEP_TIMEOUT_MS, type ChatLoginResult, type ChatOpenResult } from '../chat-clients.ts';
import { loopbackAddresses } from '../config.ts';
import { floodHealthz, type HttpFigures, type LoopDelay, probeHealthz, scrapeLoopDelay } from '../http-load.ts';
import { progress } from '../progress.ts';
import type { RpcChild } from '../rpc.ts';
import { BENCH_PASSWORD, names, seedStore } from '../seed.ts';
import { type BenchServer, startBenchServer } from '../server-launcher.ts';
import { type IntervalCounts, sumIntervalCounts } from '../interval-counts.ts';
import { drainedCount, errorsText, mergeErrors, mergeLatencies, split, startWorkers, stopWorkers, totalCounts } from '../workers.ts';
import type { PhaseContext } from './context.ts';

/** Slack on top of a window for an RPC to answer (set-up, the last replies, IPC). */
const RPC_SLACK_MS = 60_000;
/** One chat.open per caller per this period: just over the server's 1/s per-user session-request limit. */
const SESSION_PACE_MS = 1_100;
/** Chat opens per caller before the measured ones (not recorded): the load workers' JIT warm-up. */
const SESSION_WARMUP_OPENS_PER_CALLER = 1;
/** Real clients starting and logging in at once, per worker. */
const CHAT_LOGIN_CONCURRENCY = 50;
/** The /healthz probe runs during a presence load at this share of the rate measured flat out. */
const PROBE_PRESENCE_LOAD_SHARE = 0.5;
/** How long delivered presence may keep arriving after the flappers stop. */
const PRESENCE_DRAIN_MS_MAX = 3_000;

interface LoopResult {
  readonly logins: number;
  readonly wallMs: number;
  readonly samplesUs: number[];
  readonly errors: Record<string, number>;
  readonly intervalCounts?: IntervalCounts;
}

interface Accounts {
  readonly login: string[];
  readonly resume: string[];
  readonly observers: string[];
  readonly flappers: string[];
  readonly callers: string[];
  readonly callees: string[];
}

function planAccounts(ctx: PhaseContext): Accounts {
  const c = ctx.config;
  return {
    login: names('lg', c.loginConcurrency),
    resume: names('rs', c.resumeUsers),
    observers: names('o', c.observers),
    flappers: names('f', c.flappers),
    callers: names('ca', c.sessionPairs),
    callees: names('cb', c.sessionPairs),
  };
}

export async function runServerLoadPhases(ctx: PhaseContext): Promise<void> {
  const c = ctx.config;
  const accounts = planAccounts(ctx);
  const dataDir = join(ctx.tmpDir, 'server-load');
  const friendships: Array<[string, string]> = [];
  for (const flapper of accounts.flappers) for (const observer of accounts.observers) friendships.push([flapper, observer]);
  accounts.callers.forEach((caller, i) => friendships.push([caller, accounts.callees[i] as string]));
  progress(`seeding ${dataDir}: ${friendships.length} friendships`);
  await seedStore(dataDir, {
    realAccounts: accounts.login,
    cheapAccounts: [...accounts.resume, ...accounts.observers, ...accounts.flappers, ...accounts.callers, ...accounts.callees],
    friendships,
  });
  const server = await startBenchServer({ dataDir, ttlMs: 60_000, label: 'server' });
  const workers = startWorkers(c.loadWorkers, 'load');
  const probes: Probe[] = [];
  try {
    await ctx.phase('login', ['login_rate'], () => loginPhase(ctx, server, workers, accounts, probes));
    await ctx.phase('resume', ['resume_rate'], () => resumePhase(ctx, server, workers, accounts));
    await ctx.phase('presence', ['presence_fanout_rate'], () => presencePhase(ctx, server, workers, accounts, probes));
    recordProbe(ctx, probes);
    await ctx.phase('session brokering', ['session_broker_p99_ms'], () => sessionPhase(ctx, server, workers, accounts));
    await ctx.phase('http', ['http_healthz_rps'], () => httpPhase(ctx, server));
  } finally {
    await stopWorkers(workers);
    await server.stop();
  }
}

/**
 * Probe rounds under each load held against the target: the figure is the median round's p99.
 * A 4 s probe's p99 is about its worst stall, and one stall of the shared machine (another
 * process's burst, a GC) should spoil one round, not the figure.
 */
const PROBE_ROUNDS = 3;
/**
 * Before the rounds, the same load runs this long with both probes, unrecorded: JIT and
 * connection warm-up, and the load's own start (connects, first logins, the previous phase's
 * garbage) kept out of the first round.
 */
const PROBE_WARMUP_MS = 1_000;

/** One probe: the server's /healthz, and at the same moment a bare node:http server in its own process. */
interface Probe {
  readonly during: string;
  /** The median round (by the server's p99). */
  readonly figures: HttpFigures;
  /** The bare server's figures in that same round: what the shared machine's contention alone costs. */
  readonly bare: HttpFigures;
  /** The server's own event-loop delay in that round (null when its metrics are off). */
  readonly loopDelay: LoopDelay | null;
  /** Every round's p99 of the server, in order. */
  readonly roundsP99Ms: readonly number[];
}

interface ProbeRound {
  readonly figures: HttpFigures;
  readonly bare: HttpFigures;
  readonly loopDelay: LoopDelay | null;
}

/**
 * Runs `load` `rounds` times, each time probing the server's /healthz and a bare node:http server
 * side by side (same autocannon settings, same moment), so the report shows how much of the
 * latency is the server's own and how much is two busy cores making every process wait.
 */
async function probeDuring(during: string, server: BenchServer, durationMs: number, rounds: number, load: (durationMs: number) => Promise<unknown>): Promise<Probe> {
  const bareProcess = startBaselineProcess('http baseline (probe)');
  const done: ProbeRound[] = [];
  try {
    const { port } = await bareProcess.call<{ port: number }>('http', {}, RPC_SLACK_MS);
    await Promise.all([load(PROBE_WARMUP_MS), probeHealthz(server.httpPort, PROBE_WARMUP_MS / 1000), probeHealthz(port, PROBE_WARMUP_MS / 1000)]);
    for (let round = 1; round <= rounds; round++) {
      if (rounds > 1) progress(`/healthz probe during ${during}: round ${round}/${rounds}`);
      await scrapeLoopDelay(server.httpPort);
      const [, figures, bare] = await Promise.all([load(durationMs), probeHealthz(server.httpPort, durationMs / 1000), probeHealthz(port, durationMs / 1000)]);
      done.push({ figures, bare, loopDelay: await scrapeLoopDelay(server.httpPort) });
    }
  } finally {
    await bareProcess.stop();
  }
  const median = [...done].sort((a, b) => a.figures.p99Ms - b.figures.p99Ms)[Math.floor(done.length / 2)] as ProbeRound;
  return { during, ...median, roundsP99Ms: done.map((r) => r.figures.p99Ms) };
}

async function loginPhase(ctx: PhaseContext, server: BenchServer, workers: RpcChild[], accounts: Accounts, probes: Probe[]): Promise<void> {
  const c = ctx.config;
  const worker = workers[0] as RpcChild;
  const loop = { port: server.tcpPort, localAddresses: [], usernames: accounts.login, password: BENCH_PASSWORD, durationMs: c.windowMs };
  // Raw scrypt runs right before and right after the logins and the baseline is the mean, so a
  // change in how busy the shared machine is during the phase moves both sides alike.
  const baseline = startBaselineProcess('scrypt baseline');
  const scryptRound = (when: string): Promise<ScryptRateResult> => {
    progress(`raw scrypt (${when}): ${c.loginConcurrency} in flight for ${c.windowMs} ms`);
    return baseline.call<ScryptRateResult>('scrypt', { concurrency: c.loginConcurrency, durationMs: c.windowMs }, c.windowMs + RPC_SLACK_MS);
  };
  let before: ScryptRateResult;
  let after: ScryptRateResult;
  let result: LoopResult;
  try {
    before = await scryptRound('before');
    progress(`logins: ${accounts.login.length} clients logging in and out for ${c.windowMs} ms`);
    result = await worker.call<LoopResult>('loginLoop', loop, c.windowMs + RPC_SLACK_MS);
    after = await scryptRound('after');
  } finally {
    await baseline.stop();
  }
  const latency = mergeLatencies([result.samplesUs]);
  ctx.charts.latencyCurve('login_rate', 'login', latency.curve);
  ctx.charts.throughputOf('login', 'logins', result.intervalCounts);
  const errors = errorsText(result.errors);
  ctx.record('login_rate', {
    value: (result.logins * 1000) / result.wallMs,
    baseline: (before.hashesPerSec + after.hashesPerSec) / 2,
    details: {
      logins: result.logins,
      windowMs: Math.round(result.wallMs),
      concurrency: c.loginConcurrency,
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      p999Ms: latency.p999Ms,
      scryptBeforePerSec: Math.round(before.hashesPerSec * 10) / 10,
      scryptAfterPerSec: Math.round(after.hashesPerSec * 10) / 10,
    },
    ...(errors === '' ? {} : { note: `errors: ${errors}` }),
  });
  progress('logins again, with the /healthz probe running');
  probes.push(await probeDuring('login', server, c.windowMs, PROBE_ROUNDS, (durationMs) => worker.call<LoopResult>('loginLoop', { ...loop, durationMs }, durationMs + RPC_SLACK_MS)));
}

/**
 * Resume windows; the median window's rate counts. The figure has no same-run baseline to absorb
 * how busy the shared machine is, so one busy window must not make it.
 */
const RESUME_ROUNDS = 3;
/**
 * Each round connects from eight fresh loopback source addresses (127.0.0.100 up): a window leaves
 * thousands of TIME_WAIT sockets behind on its addresses for a minute, and binding a source port
 * among them is slower, so a round on used addresses would measure the last round's debris.
 */
const RESUME_SOURCE_ADDRESS_FIRST = 100;
const RESUME_SOURCE_ADDRESSES_PER_ROUND = 8;

interface ResumeRound {
  readonly resumes: number;
  readonly wallMs: number;
  readonly samplesUs: number[];
  readonly errors: Record<string, number>;
  readonly intervalCounts?: IntervalCounts;
}

async function resumePhase(ctx: PhaseContext, server: BenchServer, workers: RpcChild[], accounts: Accounts): Promise<void> {
  const c = ctx.config;
  const rounds: ResumeRound[] = [];
  for (let round = 1; round <= RESUME_ROUNDS; round++) {
    progress(`resumes: ${accounts.resume.length} clients reconnecting with their token for ${c.windowMs} ms, round ${round}/${RESUME_ROUNDS}`);
    // Every resume is a new TCP connection: spread them over several source addresses so ephemeral
    // ports (28,000 per address here) and TIME_WAIT never run short.
    const addresses = loopbackAddresses(RESUME_SOURCE_ADDRESS_FIRST + (round - 1) * RESUME_SOURCE_ADDRESSES_PER_ROUND, RESUME_SOURCE_ADDRESSES_PER_ROUND);
    rounds.push(
      await (workers[0] as RpcChild).call<ResumeRound>(
        'resumeLoop',
        { port: server.tcpPort, localAddresses: addresses, usernames: accounts.resume, password: BENCH_PASSWORD, durationMs: c.windowMs },
        c.windowMs + RPC_SLACK_MS,
      ),
    );
  }
  const rate = (r: ResumeRound): number => (r.resumes * 1000) / r.wallMs;
  const result = [...rounds].sort((a, b) => rate(a) - rate(b))[Math.floor(rounds.length / 2)] as ResumeRound;
  const latency = mergeLatencies([result.samplesUs]);
  ctx.charts.latencyCurve('resume_rate', 'resume (median round)', latency.curve);
  rounds.forEach((r, i) => ctx.charts.throughputOf('resume', `resumes, round ${i + 1}`, r.intervalCounts));
  const errors = errorsText(mergeErrors(rounds.map((r) => r.errors)));
  ctx.record('resume_rate', {
    value: rate(result),
    details: {
      resumes: result.resumes,
      clients: accounts.resume.length,
      windowMs: Math.round(result.wallMs),
      rounds: RESUME_ROUNDS,
      roundsPerSec: rounds.map((r) => Math.round(rate(r))).join(' '),
      p50Ms: latency.p50Ms,
      p99Ms: latency.p99Ms,
      p999Ms: latency.p999Ms,
    },
    ...(errors === '' ? {} : { note: `errors: ${errors}` }),
  });
}

/** Waits until the presence counter stops growing; returns the count and when it last grew. */
function drainedPresence(workers: RpcChild[], startMs: number): Promise<{ delivered: number; lastGrowthMs: number }> {
  return drainedCount(async () => (await totalCounts(workers)).presenceReceived, startMs, PRESENCE_DRAIN_MS_MAX);
}

async function presencePhase(ctx: PhaseContext, server: BenchServer, workers: RpcChild[], accounts: Accounts, probes: Probe[]): Promise<void> {
  const c = ctx.config;
  const observerSlices = split(accounts.observers, workers.length);
  progress(`presence: ${accounts.observers.length} observers logging in`);
  const logins = await Promise.all(
    workers.map((worker, i) =>
      worker.call<{ loggedIn: number; errors: Record<string, number> }>('holdLogins', { port: server.tcpPort, localAddresses: [], usernames: observerSlices[i], password: BENCH_PASSWORD, concurrency: 100 }, RPC_SLACK_MS),
    ),
  );
  const observersIn = logins.reduce((sum, l) => sum + l.loggedIn, 0);
  if (observersIn < accounts.observers.length) throw new Error(`only ${observersIn} observers logged in: ${errorsText(mergeErrors(logins.map((l) => l.errors)))}`);
  const flap = { port: server.tcpPort, localAddresses: [], usernames: accounts.flappers, password: BENCH_PASSWORD, durationMs: c.windowMs };
  // The echo baseline runs right before and right after the presence load; its rate is the mean.
  const echoProcess = startBaselineProcess('echo baseline');
  let echoBefore: { rate: number; messages: number };
  let echoAfter: { rate: number; messages: number };
  let flapped: LoopResult;
  let notifications: number;
  let presenceRate: number;
  let presenceWindowMs: number;
  try {
    const { port } = await echoProcess.call<{ port: number }>('echo', {}, RPC_SLACK_MS);
    // The same size as a presence frame, through the same codec.
    const frame = [...encodeControl({ type: 'presence', username: accounts.flappers[0] ?? 'f0', status: 'offline' })];
    const echoRound = async (when: string): Promise<{ rate: number; messages: number }> => {
      progress(`bare echo server (${when}): ${accounts.observers.length} connections, ${c.echoWindow} messages in flight each, for ${c.windowMs} ms`);
      const echoed = await Promise.all(
        workers.map((worker, i) =>
          worker.call<{ messages: number; wallMs: number }>('echoLoop', { port, localAddresses: [], connections: observerSlices[i]?.length ?? 0, durationMs: c.windowMs, window: c.echoWindow, frame }, c.windowMs + RPC_SLACK_MS),
        ),
      );
      const messages = echoed.reduce((sum, e) => sum + e.messages, 0);
      return { messages, rate: (messages * 1000) / Math.max(...echoed.map((e) => e.wallMs)) };
    };
    echoBefore = await echoRound('before');
    progress(`presence: ${accounts.flappers.length} flappers (each a friend of every observer) logging in and out for ${c.windowMs} ms`);
    const beforeCount = (await totalCounts(workers)).presenceReceived;
    const startMs = Date.now();
    flapped = await (workers[0] as RpcChild).call<LoopResult>('loginLoop', flap, c.windowMs + RPC_SLACK_MS);
    const { delivered, lastGrowthMs } = await drainedPresence(workers, startMs);
    notifications = delivered - beforeCount;
    ctx.charts.throughputOf('presence', 'flapper logins', flapped.intervalCounts);
    const timelines = await Promise.all(workers.map((worker) => worker.call<IntervalCounts>('presenceTimeline', { fromMs: startMs, toMs: lastGrowthMs }, RPC_SLACK_MS)));
    ctx.charts.throughputOf('presence', 'presence notifications delivered', sumIntervalCounts(timelines));
    presenceWindowMs = lastGrowthMs - startMs;
    presenceRate = (notifications * 1000) / presenceWindowMs;
    echoAfter = await echoRound('after');
  } finally {
    await echoProcess.stop();
  }
  const echoRate = (echoBefore.rate + echoAfter.rate) / 2;
  const echoMessages = echoBefore.messages + echoAfter.messages;
  const errors = errorsText(flapped.errors);
  ctx.record('presence_fanout_rate', {
    value: presenceRate,
    baseline: echoRate,
    details: {
      notifications,
      observers: accounts.observers.length,
      flappers: accounts.flappers.length,
      flapperLogins: flapped.logins,
      windowMs: presenceWindowMs,
      echoMessages,
      echoConnections: accounts.observers.length,
      echoBeforePerSec: Math.round(echoBefore.rate),
      echoAfterPerSec: Math.round(echoAfter.rate),
    },
    ...(errors === '' ? {} : { note: `errors: ${errors}` }),
  });

  // Flat out, the server's one event loop is saturated and any request queues behind the fanout;
  // the probe's figure is taken at half that rate (a heavy but sustainable load), and the
  // saturated p99 is kept in the details too.
  const cyclesPerSec = (flapped.logins * 1000) / flapped.wallMs;
  const cyclePeriodMs = accounts.flappers.length / (cyclesPerSec * PROBE_PRESENCE_LOAD_SHARE);
  progress(`presence paced at ${Math.round(PROBE_PRESENCE_LOAD_SHARE * 100)}% (${(cyclesPerSec * PROBE_PRESENCE_LOAD_SHARE).toFixed(0)} flaps/s), with the /healthz probe running`);
  probes.push(await probeDuring('presence', server, c.windowMs, PROBE_ROUNDS, (durationMs) => (workers[0] as RpcChild).call<LoopResult>('loginLoop', { ...flap, cyclePeriodMs, durationMs }, durationMs + RPC_SLACK_MS)));
  progress('presence flat out, with the /healthz probe running (for the details only)');
  probes.push(await probeDuring('presenceSaturated', server, c.windowMs, 1, (durationMs) => (workers[0] as RpcChild).call<LoopResult>('loginLoop', { ...flap, durationMs }, durationMs + RPC_SLACK_MS)));
  await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RPC_SLACK_MS)));
}

function recordProbe(ctx: PhaseContext, probes: ReadonlyArray<Probe>): void {
  // The saturated run is reported in the details, not held against the target (see presencePhase).
  const held = probes.filter((p) => p.during !== 'presenceSaturated');
  if (held.length === 0) return ctx.missing('http_healthz_p99_under_load_ms', 'no probe ran (the login and presence phases failed)');
  const worst = held.reduce((a, b) => (b.figures.p99Ms > a.figures.p99Ms ? b : a));
  // bareP99Ms: the bare server beside the figure's own round (the regression gate reads it).
  const details: Record<string, number | string> = { probeRounds: PROBE_ROUNDS, bareP99Ms: worst.bare.p99Ms };
  for (const probe of probes) {
    if (probe.roundsP99Ms.length > 1) details[`${probe.during}RoundsP99Ms`] = probe.roundsP99Ms.join(' ');
    details[`${probe.during}P50Ms`] = probe.figures.p50Ms;
    details[`${probe.during}P99Ms`] = probe.figures.p99Ms;
    details[`${probe.during}P999Ms`] = probe.figures.p999Ms;
    details[`${probe.during}Requests`] = probe.figures.requests;
    details[`${probe.during}Errors`] = probe.figures.errors + probe.figures.non2xx;
    details[`${probe.during}BareP99Ms`] = probe.bare.p99Ms;
    if (probe.loopDelay !== null) {
      details[`${probe.during}ServerLoopDelayP99Ms`] = probe.loopDelay.p99Ms;
      details[`${probe.during}ServerLoopDelayMaxMs`] = probe.loopDelay.maxMs;
    }
  }
  for (const probe of probes) {
    ctx.charts.latencyCurve('http_healthz_p99_under_load_ms', `server during ${probe.during}`, probe.figures.curve);
    ctx.charts.latencyCurve('http_healthz_p99_under_load_ms', `bare node:http during ${probe.during}`, probe.bare.curve);
  }
  const failures = held.reduce((sum, p) => sum + p.figures.errors + p.figures.non2xx, 0);
  ctx.record('http_healthz_p99_under_load_ms', {
    value: worst.figures.p99Ms,
    details,
    note: `worst of the probes during ${held.map((p) => p.during).join(' and ')} (${worst.during}), each the median of ${PROBE_ROUNDS} rounds${held.length < 2 ? '; only one load phase ran' : ''}${failures > 0 ? `; ${failures} probe requests failed` : ''}`,
  });
}

async function sessionPhase(ctx: PhaseContext, server: BenchServer, workers: RpcChild[], accounts: Accounts): Promise<void> {
  const c = ctx.config;
  const downloadDir = join(ctx.tmpDir, 'chat-downloads');
  // Pair i: the caller in worker i mod W, its callee in the next worker, so every worker holds as
  // many callers as callees and each chat.open crosses processes, as between two real clients.
  const perWorker = workers.map(() => ({ usernames: [] as string[], pairs: [] as Array<[string, string]> }));
  accounts.callers.forEach((caller, i) => {
    const callee = accounts.callees[i] as string;
    perWorker[i % workers.length]?.usernames.push(caller);
    perWorker[i % workers.length]?.pairs.push([caller, callee]);
    perWorker[(i + 1) % workers.length]?.usernames.push(callee);
  });
  progress(`chat sessions: ${accounts.callers.length * 2} real clients (ClientRuntime, auto-accepting chats) starting and logging in, in ${workers.length} workers`);
  const logins = await Promise.all(
    workers.map((worker, i) =>
      worker.call<ChatLoginResult>('chatLogins', { port: server.tcpPort, serverFingerprint: server.tlsFingerprint, usernames: perWorker[i]?.usernames ?? [], password: BENCH_PASSWORD, downloadDir, concurrency: CHAT_LOGIN_CONCURRENCY }, RPC_SLACK_MS),
    ),
  );
  const loggedIn = logins.reduce((sum, l) => sum + l.loggedIn, 0);
  const loginErrors = errorsText(mergeErrors(logins.map((l) => l.errors)));
  if (loggedIn < accounts.callers.length * 2) progress(`chat sessions: only ${loggedIn} clients logged in: ${loginErrors}`);
  const offeredPerSec = Math.round((accounts.callers.length * 1000) / SESSION_PACE_MS);
  progress(`chat sessions: warm-up, each caller opens and closes a chat with its callee ${SESSION_WARMUP_OPENS_PER_CALLER} time(s), not recorded`);
  const openRound = (opensPerCaller: number): Promise<ChatOpenResult[]> =>
    Promise.all(
      workers.map((worker, i) =>
        worker.call<ChatOpenResult>(
          'chatOpens',
          // The server allows one session request per second per user (after a burst of 10).
          { pairs: perWorker[i]?.pairs ?? [], opensPerCaller, paceMs: SESSION_PACE_MS, windowMs: (opensPerCaller + 1) * SESSION_PACE_MS },
          // The window, then the last open and its close at their step timeouts (openChats starts none after the window).
          (opensPerCaller + 1) * SESSION_PACE_MS + 2 * CHAT_STEP_TIMEOUT_MS + RPC_SLACK_MS,
        ),
      ),
    );
  let warmup: ChatOpenResult[];
  let results: ChatOpenResult[];
  try {
    // The workers have just started: their first opens run the clients' code before the JIT has
    // compiled it. One round at the same pace, not recorded, so the figure is the system's, not
    // the load generator's warm-up.
    warmup = await openRound(SESSION_WARMUP_OPENS_PER_CALLER);
    progress(`chat sessions: each caller opens a chat with its callee ${c.sessionRequestsPerCaller} times, one every ${SESSION_PACE_MS} ms (${offeredPerSec}/s offered), closing each once opened`);
    results = await openRound(c.sessionRequestsPerCaller);
  } finally {
    await Promise.all(workers.map((worker) => worker.call('releaseAll', {}, RPC_SLACK_MS)));
  }
  const opened = results.reduce((sum, r) => sum + r.opened, 0);
  const latency = mergeLatencies(results.map((r) => r.samplesUs));
  ctx.charts.latencyCurve('session_broker_p99_ms', 'chat.open to chat.opened', latency.curve);
  ctx.charts.throughputOf('session brokering', 'chats opened', sumIntervalCounts(results.map((r) => r.intervalCounts)));
  const problems = errorsText(mergeErrors([...logins.map((l) => l.errors), ...warmup.map((r) => r.failures), ...results.map((r) => r.failures)]));
  if (opened === 0) throw new Error(`no chat was opened: ${problems}`);
  const wallMs = Math.max(...results.map((r) => r.wallMs));
  ctx.record('session_broker_p99_ms', {
    value: latency.p99Ms,
    details: {
      measured: 'chat.open to chat.opened in the caller, through the real client core (ClientRuntime over TCP): brokering, P2P connect and token hello',
      pairs: accounts.callers.length,
      clients: loggedIn,
      workers: workers.length,
      opensPerCaller: c.sessionRequestsPerCaller,
      warmupSessions: warmup.reduce((sum, r) => sum + r.opened, 0),
      paceMs: SESSION_PACE_MS,
      sessions: opened,
      offeredPerSec,
      perSec: Math.round((opened * 1000) / wallMs),
      p50Ms: latency.p50Ms,
      p999Ms: latency.p999Ms,
      maxMs: latency.maxMs,
      // Both workers' CPU over the round per session opened (each session has its caller in one
      // worker and its callee in the other): what bounds the figure on this machine (BENCHMARKS.md).
      workersCpuMsPerSession: Math.round((results.reduce((sum, r) => sum + r.cpuMs, 0) / opened) * 100) / 100,
      fullHandshakes: results.reduce((sum, r) => sum + r.handshakes.full, 0),
      resumedHandshakes: results.reduce((sum, r) => sum + r.handshakes.resumed, 0),
    },
    ...(problems === '' ? {} : { note: `not opened: ${problems}` }),
  });
}

/** Flood rounds per side, alternating server and bare: the best of each (a stall of the shared machine hits one round, not both). */
const HTTP_ROUNDS = 3;

async function httpPhase(ctx: PhaseContext, server: BenchServer): Promise<void> {
  const seconds = ctx.config.httpSeconds;
  const bareProcess = startBaselineProcess('http baseline');
  const real: HttpFigures[] = [];
  const bare: HttpFigures[] = [];
  try {
    const { port } = await bareProcess.call<{ port: number }>('http', {}, RPC_SLACK_MS);
    for (let round = 1; round <= HTTP_ROUNDS; round++) {
      progress(`autocannon round ${round}/${HTTP_ROUNDS}: the server's /healthz for ${seconds} s, then a bare node:http server`);
      real.push(await floodHealthz(server.httpPort, seconds));
      bare.push(await floodHealthz(port, seconds));
    }
  } finally {
    await bareProcess.stop();
  }
  const best = (runs: HttpFigures[]): HttpFigures => runs.reduce((a, b) => (b.rps > a.rps ? b : a));
  const realBest = best(real);
  const bareBest = best(bare);
  ctx.charts.latencyCurve('http_healthz_rps', 'server /healthz (best round)', realBest.curve);
  ctx.charts.latencyCurve('http_healthz_rps', 'bare node:http (best round)', bareBest.curve);
  // The rounds alternate, so each side's series shows its own rounds with the other's as gaps.
  ctx.charts.throughputOf('http', 'server /healthz replies', sumIntervalCounts(real.map((r) => r.intervalCounts)));
  ctx.charts.throughputOf('http', 'bare node:http replies', sumIntervalCounts(bare.map((r) => r.intervalCounts)));
  const failures = real.reduce((sum, r) => sum + r.errors + r.non2xx, 0);
  ctx.record('http_healthz_rps', {
    value: realBest.rps,
    baseline: bareBest.rps,
    details: {
      seconds,
      rounds: HTTP_ROUNDS,
      p99Ms: realBest.p99Ms,
      bareP99Ms: bareBest.p99Ms,
      roundsRps: real.map((r) => Math.round(r.rps)).join(' '),
      bareRoundsRps: bare.map((r) => Math.round(r.rps)).join(' '),
    },
    ...(failures > 0 ? { note: `${failures} requests failed or were not 2xx` } : {}),
  });
}
