/**
 * One load-generator process: holds many protocol clients (one process tops out near 19,900
 * sockets here, so the orchestrator spreads big loads over several) and runs the load loops the
 * orchestrator asks for over rpc.ts. Latencies come back as bounded sample reservoirs. For the
 * chat-session figure it holds real clients instead (ClientRuntime, see chat-clients.ts).
 *
 *   node --import tsx bench/load-worker.ts
 */
import net from 'node:net';
import tls from 'node:tls';
import { FrameDecoder } from '../core/codec.ts';
import { ChatClientPool } from './chat-clients.ts';
import { SampleReservoir } from './histogram.ts';
import { IntervalCounter } from './interval-counts.ts';
import { BenchConnection, ServerError, inPool } from './protocol-client.ts';
import { serveRpc } from './rpc.ts';

/** How long any single reply may take before the client counts it as failed. */
const REPLY_TIMEOUT_MS = 30_000;
/** Where a callee says the caller could reach it: never dialled by the benchmark. */
const FAKE_P2P_PORT = 9;

interface Target {
  readonly port: number;
  /** Source addresses to spread connections over (127.0.0.x), when one runs short of ports. */
  readonly localAddresses: readonly string[];
}

const held = new Map<string, BenchConnection>();
const chatClients = new ChatClientPool();
const bareSockets: net.Socket[] = [];
let presenceReceived = 0;
/** Presence notifications per interval, for the HTML report's throughput chart (presenceTimeline). */
const presenceArrivals = new IntervalCounter(Date.now());
let sessionIncomingAnswered = 0;

function localAddressFor(target: Target, index: number): string | undefined {
  return target.localAddresses.length === 0 ? undefined : target.localAddresses[index % target.localAddresses.length];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorText(error: unknown): string {
  if (error instanceof ServerError) return String(error.frame.code);
  return error instanceof Error ? error.message : String(error);
}

class ErrorTally {
  readonly counts: Record<string, number> = {};
  add(error: unknown): void {
    const key = errorText(error).slice(0, 80);
    this.counts[key] = (this.counts[key] ?? 0) + 1;
  }
}

async function connectAndLogin(target: Target, index: number, username: string, password: string): Promise<{ connection: BenchConnection; resumeToken: string }> {
  const connection = await BenchConnection.connect({ port: target.port, localAddress: localAddressFor(target, index), timeoutMs: REPLY_TIMEOUT_MS });
  try {
    const ok = await connection.request({ type: 'login', username, password }, 'login.ok', REPLY_TIMEOUT_MS);
    return { connection, resumeToken: String(ok.resumeToken) };
  } catch (error) {
    connection.destroy();
    throw error;
  }
}

/** Logs every username in and keeps it: heartbeats running, presence counted, session requests accepted. */
async function holdLogins(args: Target & { usernames: string[]; password: string; concurrency: number }) {
  const errors = new ErrorTally();
  const perInterval = new IntervalCounter(Date.now());
  await inPool(args.usernames, args.concurrency, async (username, index) => {
    try {
      const { connection } = await connectAndLogin(args, index, username, args.password);
      connection.onPush('presence', () => {
        presenceReceived += 1;
        presenceArrivals.add(Date.now());
      });
      connection.onPush('session.incoming', (frame) => {
        sessionIncomingAnswered += 1;
        connection.send({ type: 'session.answer', requestId: String(frame.requestId), accept: true, host: '127.0.0.1', port: FAKE_P2P_PORT });
      });
      // Replies to our own answers and pushes we do not act on.
      for (const ignored of ['session.pending', 'session.answered', 'session.withdrawn', 'friend.added']) connection.onPush(ignored, () => {});
      connection.startHeartbeat();
      held.set(username, connection);
      perInterval.add(Date.now());
    } catch (error) {
      errors.add(error);
    }
  });
  return { loggedIn: held.size, errors: errors.counts, intervalCounts: perInterval.take() };
}

function counts() {
  let open = 0;
  let heartbeatAcks = 0;
  for (const connection of held.values()) {
    if (connection.open) open += 1;
    heartbeatAcks += connection.heartbeatAcks;
  }
  return { held: held.size, open, heartbeatAcks, presenceReceived, sessionIncomingAnswered, bareOpen: bareSockets.filter((s) => !s.destroyed).length };
}

/**
 * Closes every held connection and bare socket, and lets every real chat client log out and
 * exit. With `logout`, held users log out first (and the
 * server forgets them at once) instead of staying online, detached, until their TTL.
 */
async function releaseAll(args: { logout?: boolean } = {}) {
  if (args.logout === true) {
    await inPool([...held.values()], 200, (connection) =>
      connection.open ? connection.request({ type: 'logout' }, 'logout.ok', REPLY_TIMEOUT_MS).then(() => {}, () => {}) : Promise.resolve(),
    );
  }
  for (const connection of held.values()) connection.destroy();
  held.clear();
  for (const socket of bareSockets.splice(0)) socket.destroy();
  await chatClients.releaseAll();
  return { released: true };
}

/**
 * Each username on its own connection: login, logout, login again... until the window ends. With
 * `cyclePeriodMs`, each user starts one cycle per period at most (a paced load, not a flood).
 */
async function loginLoop(args: Target & { usernames: string[]; password: string; durationMs: number; cyclePeriodMs?: number }) {
  const errors = new ErrorTally();
  const reservoir = new SampleReservoir();
  let logins = 0;
  let logouts = 0;
  const startedMs = performance.now();
  const endMs = startedMs + args.durationMs;
  const perInterval = new IntervalCounter(performance.timeOrigin + startedMs);
  await Promise.all(
    args.usernames.map(async (username, index) => {
      let connection: BenchConnection | null = null;
      try {
        connection = await BenchConnection.connect({ port: args.port, localAddress: localAddressFor(args, index), timeoutMs: REPLY_TIMEOUT_MS });
        const periodMs = args.cyclePeriodMs ?? 0;
        let nextCycleMs = performance.now() + Math.random() * periodMs;
        while (performance.now() < endMs) {
          if (periodMs > 0) {
            await sleep(Math.max(0, nextCycleMs - performance.now()));
            nextCycleMs += periodMs;
            if (performance.now() >= endMs) break;
          }
          const sentMs = performance.now();
          await connection.request({ type: 'login', username, password: args.password }, 'login.ok', REPLY_TIMEOUT_MS);
          const doneMs = performance.now();
          reservoir.recordMs(doneMs - sentMs);
          // Only completions inside the window count: requests still in flight at its end would
          // otherwise stretch it with a tail of falling concurrency.
          if (doneMs <= endMs) {
            logins += 1;
            perInterval.add(performance.timeOrigin + doneMs);
          }
          await connection.request({ type: 'logout' }, 'logout.ok', REPLY_TIMEOUT_MS);
          logouts += 1;
        }
      } catch (error) {
        errors.add(error);
      } finally {
        connection?.destroy();
      }
    }),
  );
  return { logins, logouts, wallMs: args.durationMs, samplesUs: reservoir.take(), errors: errors.counts, intervalCounts: perInterval.take() };
}

/**
 * Each username logs in once, then reconnects with its resume token on a fresh connection, again
 * and again: the server takes the session over (closing the old connection) without scrypt.
 */
async function resumeLoop(args: Target & { usernames: string[]; password: string; durationMs: number }) {
  const errors = new ErrorTally();
  const reservoir = new SampleReservoir();
  let resumes = 0;
  let connectionIndex = args.usernames.length;
  const sessions = await Promise.all(
    args.usernames.map((username, index) =>
      connectAndLogin(args, index, username, args.password).then(
        (login) => ({ username, ...login }),
        (error: unknown) => (errors.add(error), null),
      ),
    ),
  );
  const startedMs = performance.now();
  const endMs = startedMs + args.durationMs;
  const perInterval = new IntervalCounter(performance.timeOrigin + startedMs);
  await Promise.all(
    sessions.map(async (session) => {
      if (session === null) return;
      let current = session.connection;
      let token = session.resumeToken;
      try {
        while (performance.now() < endMs) {
          const sentMs = performance.now();
          const next = await BenchConnection.connect({ port: args.port, localAddress: localAddressFor(args, connectionIndex++), timeoutMs: REPLY_TIMEOUT_MS });
          current.destroy();
          current = next;
          const ok = await next.request({ type: 'resume', username: session.username, token }, 'login.ok', REPLY_TIMEOUT_MS);
          const doneMs = performance.now();
          reservoir.recordMs(doneMs - sentMs);
          if (doneMs <= endMs) {
            resumes += 1;
            perInterval.add(performance.timeOrigin + doneMs);
          }
          token = String(ok.resumeToken);
        }
      } catch (error) {
        errors.add(error);
      } finally {
        current.destroy();
      }
    }),
  );
  return { resumes, wallMs: args.durationMs, samplesUs: reservoir.take(), errors: errors.counts, intervalCounts: perInterval.take() };
}

/** Real clients (ClientRuntime) logged in here, for session_broker_p99_ms (chat-clients.ts). */
async function chatLogins(args: { port: number; serverFingerprint: string; usernames: string[]; password: string; downloadDir: string; concurrency: number }) {
  return chatClients.loginAll({ serverPort: args.port, serverFingerprint: args.serverFingerprint, usernames: args.usernames, password: args.password, downloadDir: args.downloadDir, concurrency: args.concurrency });
}

/** Callers held here open chats with their callees (held here or in another worker), paced. */
async function chatOpens(args: { pairs: Array<[string, string]>; opensPerCaller: number; paceMs: number; windowMs?: number }) {
  return chatClients.openChats(args);
}

/**
 * Messages through the bare echo server, `window` in flight per connection, each echoed frame
 * decoded by the same codec (and JSON parse) that the protocol clients run on every presence
 * frame: the two figures differ only in the server.
 */
async function echoLoop(args: Target & { connections: number; durationMs: number; window: number; frame: number[] }) {
  const frame = Buffer.from(args.frame);
  let delivered = 0;
  const sockets: net.Socket[] = [];
  await inPool(Array.from({ length: args.connections }, (_, i) => i), 64, (i) =>
    new Promise<void>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: args.port, localAddress: localAddressFor(args, i) }, () => resolve());
      socket.setNoDelay(true);
      socket.once('error', reject);
      sockets.push(socket);
    }),
  );
  const startedMs = performance.now();
  const endMs = startedMs + args.durationMs;
  let running = true;
  for (const socket of sockets) {
    const decoder = new FrameDecoder();
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk);
      let messages = 0;
      for (let decoded = decoder.next(); decoded !== null; decoded = decoder.next()) {
        if (decoded.kind === 'control' && (decoded.message as { type?: unknown }).type !== undefined) messages += 1;
      }
      delivered += messages;
      // Closed loop: every echoed message is replaced by a new one until the window ends.
      if (running) for (let i = 0; i < messages; i++) socket.write(frame);
    });
    for (let i = 0; i < args.window; i++) socket.write(frame);
  }
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, endMs - performance.now())));
  running = false;
  const wallMs = performance.now() - startedMs;
  const count = delivered;
  for (const socket of sockets) socket.destroy();
  return { messages: count, wallMs };
}

/**
 * Raw sockets that only connect and stay (the bare servers' side of rss_per_connection_kb): plain,
 * or with `tls` TLS 1.3 ones (the bare server's certificate is throwaway: not checked).
 */
async function bareHold(args: Target & { count: number; concurrency: number; tls?: boolean }) {
  const errors = new ErrorTally();
  await inPool(Array.from({ length: args.count }, (_, i) => i), args.concurrency, (i) =>
    new Promise<void>((resolve) => {
      const options = { host: '127.0.0.1', port: args.port, localAddress: localAddressFor(args, i) };
      const connected = (): void => {
        bareSockets.push(socket);
        resolve();
      };
      const socket = args.tls === true ? tls.connect({ ...options, minVersion: 'TLSv1.3', rejectUnauthorized: false }, connected) : net.connect(options, connected);
      socket.once('error', (error) => {
        errors.add(error);
        resolve();
      });
    }),
  );
  return { open: bareSockets.filter((s) => !s.destroyed).length, errors: errors.counts };
}

/** One friend pair of the presence probe: the observer stays logged in, the flapper logs in and out. */
interface ProbePair {
  readonly observer: string;
  readonly observerPort: number;
  readonly flapper: string;
  readonly flapperPort: number;
  /** Which figure its samples go to ('cross': the two on different nodes; 'local': on one node). */
  readonly label: string;
}

/**
 * cluster_presence_p99_ms and its one-node baseline: each pair's observer logs in and stays; each
 * round, its only friend (the flapper) connects, and the time from its login frame sent to the
 * observer's `presence online` for it is one sample; the flapper then logs out (the observer's
 * `presence offline` awaited, so rounds never overlap) and hangs up. Every pair runs its rounds
 * at once, each started at a random point of `gapMs`, so cross-node and one-node samples are
 * taken side by side under the same load.
 */
async function presenceProbe(args: { pairs: ProbePair[]; rounds: number; gapMs: number; password: string; localAddresses: string[] }) {
  const errors = new ErrorTally();
  const reservoirs = new Map<string, SampleReservoir>();
  const reservoirOf = (label: string): SampleReservoir => {
    let reservoir = reservoirs.get(label);
    if (reservoir === undefined) {
      reservoir = new SampleReservoir();
      reservoirs.set(label, reservoir);
    }
    return reservoir;
  };
  let connectionIndex = 0;
  await Promise.all(
    args.pairs.map(async (pair) => {
      let observer: BenchConnection | null = null;
      try {
        observer = (await connectAndLogin({ port: pair.observerPort, localAddresses: args.localAddresses }, connectionIndex++, pair.observer, args.password)).connection;
        observer.startHeartbeat();
        let waiting: { status: string; arrived: (atMs: number) => void } | null = null;
        observer.onPush('presence', (frame) => {
          if (waiting === null || frame.username !== pair.flapper || frame.status !== waiting.status) return;
          const { arrived } = waiting;
          waiting = null;
          arrived(performance.now());
        });
        const presence = (status: string): Promise<number> => {
          const arrival = new Promise<number>((resolve, reject) => {
            const timer = setTimeout(() => {
              waiting = null;
              reject(new Error(`no presence ${status} within ${REPLY_TIMEOUT_MS} ms`));
            }, REPLY_TIMEOUT_MS);
            waiting = { status, arrived: (atMs) => (clearTimeout(timer), resolve(atMs)) };
          });
          // Awaited below; a rejection while the login is still awaited is not unhandled.
          arrival.catch(() => {});
          return arrival;
        };
        for (let round = 0; round < args.rounds; round++) {
          await sleep(Math.random() * args.gapMs);
          const flapper = await BenchConnection.connect({ port: pair.flapperPort, localAddress: localAddressFor({ port: pair.flapperPort, localAddresses: args.localAddresses }, connectionIndex++), timeoutMs: REPLY_TIMEOUT_MS });
          try {
            const online = presence('online');
            const sentMs = performance.now();
            await flapper.request({ type: 'login', username: pair.flapper, password: args.password }, 'login.ok', REPLY_TIMEOUT_MS);
            reservoirOf(pair.label).recordMs((await online) - sentMs);
            const offline = presence('offline');
            await flapper.request({ type: 'logout' }, 'logout.ok', REPLY_TIMEOUT_MS);
            await offline;
          } finally {
            flapper.destroy();
          }
        }
        // Logged out, not left detached: the users the nodes count afterwards are the held ones.
        await observer.request({ type: 'logout' }, 'logout.ok', REPLY_TIMEOUT_MS);
      } catch (error) {
        errors.add(error);
      } finally {
        observer?.destroy();
      }
    }),
  );
  return { samplesUs: Object.fromEntries([...reservoirs].map(([label, reservoir]) => [label, reservoir.take()])), errors: errors.counts };
}

/** Presence notifications received here per interval between two wall-clock times (the HTML report). */
function presenceTimeline(args: { fromMs: number; toMs: number }) {
  return presenceArrivals.take(args.fromMs, args.toMs);
}

serveRpc({ holdLogins, counts, presenceTimeline, releaseAll, loginLoop, resumeLoop, chatLogins, chatOpens, echoLoop, bareHold, presenceProbe });
