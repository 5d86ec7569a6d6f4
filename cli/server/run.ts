/**
 * The real server: the pure ServerMachine, run by the ServerHost over TCP, with SQLite accounts,
 * scrypt passwords, real timers and an HTTP admin port.
 *
 * `startServer` embeds it (tests, the benchmark); `runServerCommand` is `p2pchat server`: it adds
 * the process concerns (logging set-up, the ready file, signals, exit codes).
 *
 * Shutdown (close): /healthz turns 503; the host stops accepting, tells every client
 * SERVER_SHUTTING_DOWN and closes; we wait (bounded) for clients to hang up and for password jobs
 * in flight to finish (a sign-up whose hash is running is still committed), reset what is left,
 * close the HTTP port and the database.
 */
import { rename, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LevelWithSilent } from 'pino';
import { type PasswordHasher, ServerHost, type ServerHostHooks } from '../../core/server/host.ts';
import { ServerMachine } from '../../core/server/machine.ts';
import { MAIL_SEQ_NODE_SLOTS } from '../../core/server/mailbox.ts';
import { PASSWORD_CHECKS_RUNNING_MAX } from '../../core/limits.ts';
import type { AccountStore, HeldMail, StoreOp, StoreRefusal, StoreSnapshot } from '../../core/store.ts';
import type { Clock, Listener } from '../../core/transport.ts';
import { EXIT_FAILED, EXIT_OK } from '../exit-codes.ts';
import { type LogFormat, type Logger, createLogger } from '../log.ts';
import { realClock } from '../net/real-clock.ts';
import { checkPlainTcpAllowed } from '../net/insecure.ts';
import { TLS_HANDSHAKES_MAX, TLS_HANDSHAKES_PER_ADDRESS_MAX, TcpTransport } from '../net/tcp-transport.ts';
import { type TlsIdentity, loadTlsIdentity } from '../net/tls-identity.ts';
import { createAdminServer } from './admin-http.ts';
import { createLogHooks } from './log-hooks.ts';
import { createServerMetrics } from './metrics.ts';
import { SCRYPT_PARAMS, type ScryptParams, ScryptHasher, newToken } from './password.ts';
import { type DbSynchronous, SqliteStore } from './sqlite-store.ts';
import { PostgresStore, STORE_HEALTH_CHECK_MS } from './postgres-store.ts';

/**
 * How long a read of the whole store while serving (another node's hello, the bus or the
 * database back) may hold this node's thread: far more than a commit's wait (50,000 accounts took
 * 1.9-3.5 s on this 2-core box at load 15), less than start-up's. With a commit's 2 s, such a read
 * failed at every hello and was owed until a store.up that never came.
 */
export const STORE_RELOAD_WAIT_MS = 10_000;
import { NatsBus, checkBusName } from './nats-bus.ts';
import { ClusterRouter } from '../../core/server/cluster.ts';
import { randomBytes } from 'node:crypto';
import { TrackedTransport } from './tracked-transport.ts';

/** How long a graceful shutdown waits for clients to hang up and hash jobs to finish. */
export const SHUTDOWN_GRACE_MS = 2_000;
/** The command's last resort: exit anyway this long after the first signal. */
export const SHUTDOWN_FORCE_EXIT_MS = 5_000;

export interface ServerOptions {
  /** The server stopped by itself (another process runs with its --node-id): the command exits non-zero. */
  readonly onFatalStop?: (reason: string) => void;
  readonly host: string;
  readonly port: number;
  /** Defaults to 127.0.0.1: the admin port is for the operator. */
  readonly httpHost?: string;
  readonly httpPort: number;
  readonly dataDir: string;
  /**
   * Where accounts live: absent (or "sqlite") for the SQLite file in dataDir, or a
   * postgres://user:password@host:port/database URL shared by several servers (docs/CLUSTER.md).
   */
  readonly storeUrl?: string;
  /** nats://host:port[/cluster]: this server is one node of several sharing storeUrl (docs/CLUSTER.md). */
  readonly busUrl?: string;
  /** This node's name on the bus (letters, digits, - and _); default: made at random at start. */
  readonly nodeId?: string;
  readonly ttlMs?: number;
  readonly sessionTimeoutMs?: number;
  readonly unauthenticatedIdleMs?: number;
  /** Login and sign-up attempts per remote address per second; 0 = unlimited. */
  readonly authRatePerAddress?: number;
  /** Sign-ups per address (IPv6: per /64) per hour, after a small burst; 0 = unlimited. */
  readonly signupsPerAddressPerHour?: number;
  /** Connections per address (IPv6: per /64), all and not logged in; 0 = unlimited. */
  readonly connectionsPerAddress?: number;
  readonly unauthConnectionsPerAddress?: number;
  readonly dbSynchronous?: DbSynchronous;
  /** Tests may lower the scrypt cost; production uses SCRYPT_PARAMS. */
  readonly scrypt?: ScryptParams;
  /** Defaults to a silent logger (embedding code brings its own). */
  readonly logger?: Logger;
  /** Node process metrics (event-loop lag, heap) on /metrics. */
  readonly processMetrics?: boolean;
  readonly shutdownGraceMs?: number;
  /** Once listening, and before the "listening" log line, {"tcpPort","httpPort","pid","tlsFingerprint"} is written here atomically. */
  readonly readyFile?: string;
  /** TLS 1.3 on the chat port (default true). Off is for loopback labs and raw-frame tools. */
  readonly tls?: boolean;
  /** The certificate and key (PEM files); both or neither. Neither: the data dir's own, made on first start. */
  readonly tlsCertPath?: string;
  readonly tlsKeyPath?: string;
  /** With tls off, listen on a non-loopback address anyway. */
  readonly allowInsecure?: boolean;
}

export interface RunningServer {
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly host: ServerHost;
  readonly machine: ServerMachine;
  readonly store: SqliteStore | PostgresStore;
  /** The node's router and bus when it is one node of a cluster, else null. */
  readonly cluster: { readonly nodeId: string; readonly router: ClusterRouter; readonly bus: NatsBus } | null;
  readonly logger: Logger;
  /** The chat port's certificate fingerprint (SHA-256), or null when TLS is off. */
  readonly tlsFingerprint: string | null;
  /** Graceful, bounded shutdown; calling it twice returns the same promise. */
  close(): Promise<void>;
}

/** A clock whose timers can all be cancelled at once, and that arms none after stop(). */
class StoppableClock implements Clock {
  private readonly cancels = new Set<() => void>();
  private stopped = false;

  constructor(private readonly inner: Clock) {}

  nowMs(): number {
    return this.inner.nowMs();
  }

  at(atMs: number, fn: () => void): () => void {
    if (this.stopped) return () => {};
    const cancel = this.inner.at(atMs, () => {
      this.cancels.delete(cancel);
      fn();
    });
    this.cancels.add(cancel);
    return () => {
      this.cancels.delete(cancel);
      cancel();
    };
  }

  stop(): void {
    this.stopped = true;
    for (const cancel of this.cancels) cancel();
    this.cancels.clear();
  }
}

/** Counts hash and verify jobs in flight so shutdown can let them finish before closing the store. */
class TrackedHasher implements PasswordHasher {
  private inFlight = 0;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly inner: PasswordHasher) {}

  hash(password: string, done: (passwordHash: string | null) => void): void {
    this.inFlight += 1;
    this.inner.hash(password, (passwordHash) => this.finish(done, passwordHash));
  }

  verify(password: string, passwordHash: string | null, done: (ok: boolean) => void): void {
    this.inFlight += 1;
    this.inner.verify(password, passwordHash, (ok) => this.finish(done, ok));
  }

  waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  private finish<T>(done: (value: T) => void, value: T): void {
    this.inFlight -= 1;
    try {
      done(value);
    } finally {
      if (this.inFlight === 0 && this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const waiter of waiters) waiter();
      }
    }
  }
}

/** The store as the host sees it: after close, late writes are reported, not thrown into a socket callback. */
class ClosableStore implements AccountStore {
  private closed = false;

  constructor(
    private readonly inner: AccountStore,
    private readonly log: Logger,
  ) {
    const read = inner.heldMailOf;
    if (read !== undefined) this.heldMailOf = (username) => (this.closed ? null : read.call(inner, username));
  }

  load() {
    return this.inner.load();
  }

  readonly heldMailOf?: (username: string) => HeldMail | null;

  apply(ops: readonly StoreOp[]): StoreRefusal | null {
    if (this.closed) {
      this.log.error({ event: 'store.closed', ops: ops.length }, 'store write after close was dropped');
      return null;
    }
    return this.inner.apply(ops);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.inner.close();
  }
}

function listenTcp(host: ServerHost, address: string, port: number): Promise<Listener> {
  return new Promise((resolve, reject) => {
    host.listen(address, port, (result) => (result instanceof Error ? reject(result) : resolve(result)));
  });
}

function listenHttp(server: http.Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address, port }, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function closeHttp(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const logger = options.logger ?? createLogger({ level: 'silent' });
  const tlsIdentity = await prepareTls(options, logger);
  const graceMs = options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS;
  const startedAtMs = Date.now();
  const httpHost = options.httpHost ?? '127.0.0.1';
  if (options.busUrl !== undefined && !/^postgres(ql)?:\/\//.test(options.storeUrl ?? '')) {
    throw new Error('--bus needs --store postgres://...: the nodes of a cluster share one database');
  }
  const nodeId = checkBusName(options.nodeId ?? `n${randomBytes(4).toString('hex')}`, 'node id');
  const backing = openStore(options);
  let bus: NatsBus | null = null;
  if (options.busUrl !== undefined) {
    try {
      // Subscribed before the snapshot is read: what other nodes commit meanwhile is not missed.
      bus = await NatsBus.connect(options.busUrl, nodeId, (error) => logger.warn({ event: 'bus.bad-message', err: error }, 'a bus message could not be read or sent'));
    } catch (error) {
      backing.close();
      throw new Error(`--bus ${redactUrl(options.busUrl)}: ${String((error as Error).message ?? error)}`);
    }
  }
  const store = new ClosableStore(backing, logger);
  // A cluster node's number for this start: request ids `<node>.<boot>.s<n>` and the mail seq slot.
  const boot = bus !== null && backing instanceof PostgresStore ? backing.nextBootNumber() : null;
  const authRate = options.authRatePerAddress;
  const machine = new ServerMachine(store.load(), {
    newToken,
    // One scrypt per core: a login waiting behind a flood gets its check done soonest.
    passwordChecksRunningMax: Math.max(1, Math.min(PASSWORD_CHECKS_RUNNING_MAX, availableParallelism())),
    ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }),
    ...(options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: options.sessionTimeoutMs }),
    ...(options.unauthenticatedIdleMs === undefined ? {} : { unauthenticatedIdleMs: options.unauthenticatedIdleMs }),
    ...(authRate === undefined ? {} : { authAttemptsPerAddressPerSec: authRate }),
    ...(options.signupsPerAddressPerHour === undefined ? {} : { signupsPerAddressPerHour: options.signupsPerAddressPerHour }),
    ...(options.connectionsPerAddress === undefined ? {} : { connectionsPerAddressMax: options.connectionsPerAddress }),
    ...(options.unauthConnectionsPerAddress === undefined ? {} : { unauthenticatedConnectionsPerAddressMax: options.unauthConnectionsPerAddress }),
    ...(bus === null || boot === null
      ? {}
      : { clustered: true, sessionRequestIdPrefix: `${nodeId}.${boot}.s`, mailSeqSlot: boot % MAIL_SEQ_NODE_SLOTS, mailSeqSlots: MAIL_SEQ_NODE_SLOTS }),
  });
  const transport = new TrackedTransport(
    new TcpTransport({
      coalesceWrites: true,
      // A connection in mid-handshake is one not logged in yet: the same per-address knob bounds both,
      // and lifting it (0, a load lab on few addresses) lifts the total under way too.
      ...(tlsIdentity === null
        ? {}
        : {
            tlsServer: {
              cert: tlsIdentity.cert,
              key: tlsIdentity.key,
              handshakesPerAddressMax: options.unauthConnectionsPerAddress ?? TLS_HANDSHAKES_PER_ADDRESS_MAX,
              handshakesMax: options.unauthConnectionsPerAddress === 0 ? 0 : TLS_HANDSHAKES_MAX,
            },
          }),
    }),
  );
  const tlsFingerprint = tlsIdentity?.fingerprint ?? null;
  const hasher = new TrackedHasher(new ScryptHasher(options.scrypt ?? SCRYPT_PARAMS));
  const clock = new StoppableClock(realClock);
  /**
   * The store read again (other nodes committed what this one did not hear), or null if it cannot
   * be now: then it is read once the database answers again. A database known to be away is not
   * waited for: the read would hold this thread (every client's heartbeat) for its whole bound.
   */
  let storeReadOwed = false;
  /** The machine applied a batch the database withdrew: until the store is read again, writes are refused (storeHealthy). */
  let memoryAhead = false;
  let storeRetry: ReturnType<typeof setTimeout> | null = null;
  const readStoreAgain = (why: string): StoreSnapshot | null => {
    try {
      if (backing instanceof PostgresStore && !backing.healthy) throw new Error('the database does not answer');
      const snapshot = backing instanceof PostgresStore ? backing.load(STORE_RELOAD_WAIT_MS) : backing.load();
      if (memoryAhead) {
        memoryAhead = false;
        // Told after the snapshot is in (the caller feeds it now): writes are taken again.
        queueMicrotask(() => healthChanged());
      }
      return snapshot;
    } catch (error) {
      storeReadOwed = true;
      logger.error({ event: 'store.reload-failed', why, err: error }, `the store could not be read again (${why}): it is read once the database answers`);
      // A read slower than its bound while the database answers: tried again soon, not left for a
      // store.up that would never come (the store stayed unknown here for good).
      if (backing instanceof PostgresStore && backing.healthy && closing === null) {
        storeRetry ??= setTimeout(() => {
          storeRetry = null;
          readOwedStore('a read of the store was owed');
        }, STORE_HEALTH_CHECK_MS);
        storeRetry.unref();
      }
      return null;
    }
  };
  /** The read owed, if any, made now (the database answers). */
  const readOwedStore = (why: string): void => {
    if (!storeReadOwed || closing !== null) return;
    storeReadOwed = false;
    const snapshot = readStoreAgain(why);
    if (snapshot !== null) host.input({ type: 'remote.snapshot', snapshot });
  };
  // The router and the host need each other: the router feeds the host, the host routes through it.
  let hostRef: ServerHost | null = null;
  const router =
    bus === null
      ? null
      : new ClusterRouter({
          nodeId,
          bus,
          // A dead node's users go offline elsewhere within one user TTL, as a silent user would.
          leaseTtlMs: machine.config.ttlMs,
          input: (input) => hostRef?.input(input),
          heldUsers: (visit) => machine.heldUsers(visit),
          nowMs: () => clock.nowMs(),
          // The shared database orders one user's logins across nodes (docs/CLUSTER.md).
          ...(backing instanceof PostgresStore ? { nextLoginEpoch: () => backing.nextLoginEpoch() } : {}),
          // A node that says hello may have committed things while off the bus that we never heard.
          readStore: (node) => {
            logger.info({ event: 'cluster.hello', node }, `node ${node} joined the cluster (or came back to the bus): reading the store again`);
            return readStoreAgain(`node ${node} joined the cluster`);
          },
          ...(boot === null ? {} : { boot }),
          duplicateNode: (newer) => duplicateNode(newer),
          nodeLost: (node, users) =>
            logger.warn({ event: 'cluster.node-lost', node, users }, `node ${node} was not heard from for ${machine.config.ttlMs} ms (its lease): its ${users} users are offline here`),
        });
  const hooks: ServerHostHooks = {
    ...createLogHooks(logger),
    // The machine applied a batch the database withdrew: its memory is ahead of the truth until read again.
    onStoreUnavailable: (refusal, ops) => {
      storeReadOwed = true;
      memoryAhead = true;
      logger.error({ event: 'store.withdrawn', reason: refusal.reason, ops: ops.length }, 'the database did not commit a batch: nothing of it was announced; the store is read again once it answers');
    },
  };
  const host = new ServerHost({ machine, transport, store, hasher, clock, hooks, ...(router === null ? {} : { cluster: router }) });
  hostRef = host;

  let closing: Promise<void> | null = null;
  let serving = true;
  let tcpPort = 0;
  let httpPort = 0;
  const registry = createServerMetrics(() => machine.stats(), { processMetrics: options.processMetrics ?? true });
  const storeHealthy = (): boolean => !(backing instanceof PostgresStore) || (backing.healthy && !memoryAhead);
  const busHealthy = (): boolean => bus === null || bus.connected;
  const unhealthyReason = (): string | null =>
    storeHealthy() ? (busHealthy() ? null : 'bus unreachable') : busHealthy() ? 'database unreachable' : 'database and bus unreachable';
  // Without its database or bus a node would split the truth: it refuses new logins until both are back.
  let lastHealthy = true;
  let lastBus = true;
  let lastStore = true;
  const healthChanged = (): void => {
    const healthy = unhealthyReason() === null;
    // The bus and the store on their own too: a node without the bus refuses to forward session
    // answers, a node without the store refuses every change (the other may be down already).
    const busUp = busHealthy();
    const storeUp = storeHealthy();
    if ((healthy === lastHealthy && busUp === lastBus && storeUp === lastStore) || closing !== null) return;
    lastHealthy = healthy;
    lastBus = busUp;
    lastStore = storeUp;
    host.input({ type: 'cluster.health', healthy, bus: busUp, store: storeUp });
  };
  if (backing instanceof PostgresStore) {
    backing.onHealth((healthy) => {
      if (healthy) logger.info({ event: 'store.up' }, 'the database answers again');
      else logger.error({ event: 'store.down', error: backing.healthError }, 'the database does not answer');
      if (healthy) readOwedStore('the database answers again');
      healthChanged();
    });
  }
  if (bus !== null) {
    bus.onStatus((connected) => {
      if (connected) {
        logger.info({ event: 'bus.up' }, 'the bus is back: reading the store again and joining the cluster again');
        if (closing === null) {
          // What other nodes committed while this one heard nothing is in the database.
          const snapshot = readStoreAgain('the bus came back');
          if (snapshot !== null) host.input({ type: 'remote.snapshot', snapshot });
          host.joinCluster();
        }
      } else {
        logger.error({ event: 'bus.down' }, 'the bus connection is lost');
      }
      healthChanged();
    });
  }
  const admin = createAdminServer({
    isServing: () => serving,
    unhealthyReason,
    registry,
    stats: () => ({ ...machine.stats(), uptimeMs: Date.now() - startedAtMs, tcpPort, httpPort, serving, tls: { enabled: tlsFingerprint !== null, fingerprint: tlsFingerprint }, store: { kind: backing instanceof PostgresStore ? 'postgres' : 'sqlite', healthy: storeHealthy() },
      ...(router === null ? {} : { cluster: { nodeId, busConnected: busHealthy(), remoteUsers: router.remoteUserCount, nodesHeard: router.liveNodes() } }) }),
  });

  try {
    httpPort = await listenHttp(admin, httpHost, options.httpPort);
    // After listening, an error (EMFILE on accept) must be logged, not thrown as uncaught.
    admin.on('error', (error) => logger.error({ event: 'http.error', err: error }, 'admin HTTP server error'));
    tcpPort = (await listenTcp(host, options.host, options.port)).port;
    if (router !== null) host.joinCluster();
    if (options.readyFile !== undefined) await writeReadyFile(options.readyFile, { tcpPort, httpPort, pid: process.pid, tlsFingerprint });
  } catch (error) {
    host.shutdown();
    clock.stop();
    await closeHttp(admin, 0);
    await bus?.close();
    store.close();
    throw error;
  }

  /**
   * Two processes given one --node-id: each drops the other's words as its own, so neither's users
   * are seen by the other and the others get two whole lists under one name. The one that started
   * later stops (it is the mistake: the other was serving), saying why; the earlier one says so too.
   */
  let duplicateSaid = false;
  function duplicateNode(newer: boolean | null): void {
    if (duplicateSaid) return;
    duplicateSaid = true;
    if (newer !== true) {
      // The earlier one, or one that cannot tell (the other says no start number): it goes on.
      logger.error({ event: 'cluster.duplicate-node-id', nodeId, stopping: false }, `another process runs with node id ${nodeId}${newer === false ? ' (started later: it stops)' : ''}; give each node its own --node-id`);
      return;
    }
    logger.fatal({ event: 'cluster.duplicate-node-id', nodeId, stopping: true }, `another process runs with node id ${nodeId} (started earlier): stopping; give each node its own --node-id`);
    void close().then(() => options.onFatalStop?.('duplicate-node-id'));
  }

  const close = (): Promise<void> => {
    closing ??= (async () => {
      serving = false;
      logger.info({ event: 'shutdown', connections: transport.openStreams }, 'shutting down');
      host.shutdown();
      const [clientsGone, jobsDone] = await Promise.all([transport.waitIdle(graceMs), hasher.waitIdle(graceMs)]);
      if (!clientsGone) {
        logger.warn({ event: 'shutdown.reset', connections: transport.openStreams }, 'clients did not hang up in time: resetting');
        transport.resetAll();
      }
      if (!jobsDone) logger.warn({ event: 'shutdown.jobs' }, 'password jobs still running at shutdown');
      clock.stop();
      await closeHttp(admin, graceMs);
      await bus?.close();
      store.close();
      registry.clear();
      logger.info({ event: 'stopped' }, 'stopped');
    })();
    return closing;
  };

  logger.info(
    { event: 'listening', host: options.host, tcpPort, tls: tlsFingerprint !== null, tlsFingerprint, httpHost, httpPort, dataDir: options.dataDir, store: redactUrl(options.storeUrl ?? 'sqlite'), ...(bus === null ? {} : { bus: redactUrl(options.busUrl ?? ''), nodeId }), accounts: machine.stats().accounts },
    `listening on ${tlsFingerprint === null ? 'plain tcp' : 'tls'} ${options.host}:${tcpPort}, http ${httpHost}:${httpPort}`,
  );
  return { tcpPort, httpPort, host, machine, store: backing, cluster: router === null || bus === null ? null : { nodeId, router, bus }, logger, tlsFingerprint, close };
}

/** The SQLite file in the data directory, or the PostgreSQL database a storeUrl names. */
function openStore(options: ServerOptions): SqliteStore | PostgresStore {
  const url = options.storeUrl;
  if (url === undefined || url === 'sqlite') return new SqliteStore({ dataDir: options.dataDir, synchronous: options.dbSynchronous ?? 'full' });
  if (/^postgres(ql)?:\/\//.test(url)) return new PostgresStore({ url });
  throw new Error(`--store: ${redactUrl(url)} is neither "sqlite" nor a postgres:// URL`);
}

/** A URL as it may be logged: without its password. */
export function redactUrl(url: string): string {
  if (!url.includes('://')) return url;
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(not a URL)';
  }
}

/**
 * The chat port's TLS identity (logged with its fingerprint, which clients pin), or null when TLS
 * is off: then a warning, and a non-loopback address is refused unless allowInsecure.
 */
async function prepareTls(options: ServerOptions, logger: Logger): Promise<TlsIdentity | null> {
  if (options.tls === false) {
    checkPlainTcpAllowed('listen on', options.host, options.allowInsecure === true);
    logger.warn({ event: 'tls.off', host: options.host }, 'TLS is off: logins, tokens and messages cross the network in clear');
    return null;
  }
  const identity = await loadTlsIdentity({
    dataDir: options.dataDir,
    ...(options.tlsCertPath === undefined ? {} : { certPath: options.tlsCertPath }),
    ...(options.tlsKeyPath === undefined ? {} : { keyPath: options.tlsKeyPath }),
  });
  logger.info(
    { event: 'tls.certificate', fingerprint: identity.fingerprint, source: identity.source, certPath: identity.certPath },
    `TLS certificate SHA-256 fingerprint ${identity.fingerprint} (${identity.source === 'generated' ? 'made now, in' : 'read from'} ${identity.certPath})`,
  );
  return identity;
}

// ---- the command ---------------------------------------------------------------------------------

export interface ServerCommandOptions extends Omit<ServerOptions, 'logger'> {
  readonly logLevel: LevelWithSilent;
  readonly logFormat: LogFormat;
}

async function writeReadyFile(path: string, content: object): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, `${JSON.stringify(content)}\n`);
  await rename(temporary, path);
}

export async function runServerCommand(options: ServerCommandOptions): Promise<void> {
  const logger = createLogger({ level: options.logLevel, format: options.logFormat, base: { component: 'server' } });
  process.on('uncaughtException', (error) => {
    logger.fatal({ event: 'crash', err: error }, 'uncaught exception');
    process.exit(EXIT_FAILED);
  });
  let server: RunningServer;
  try {
    server = await startServer({ ...options, logger, onFatalStop: () => process.exit(EXIT_FAILED) });
  } catch (error) {
    logger.fatal({ event: 'start.failed', err: error }, 'the server could not start');
    process.exit(EXIT_FAILED);
  }
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (signalled) {
      logger.warn({ event: 'shutdown.forced', signal }, 'second signal: exiting now');
      process.exit(EXIT_FAILED);
    }
    signalled = true;
    logger.info({ event: 'signal', signal }, `received ${signal}`);
    const force = setTimeout(() => {
      logger.error({ event: 'shutdown.forced' }, 'shutdown took too long: exiting');
      process.exit(EXIT_FAILED);
    }, SHUTDOWN_FORCE_EXIT_MS);
    force.unref();
    server.close().then(
      () => process.exit(EXIT_OK),
      (error: unknown) => {
        logger.error({ event: 'shutdown.failed', err: error }, 'shutdown failed');
        process.exit(EXIT_FAILED);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
