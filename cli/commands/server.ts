/**
 * `p2pchat server`: options and their environment variables only; the runtime is imported when
 * the command runs (cli/server/run.ts).
 *
 * Defaults: the chat port listens on 0.0.0.0 (a LAN chat server must be reachable from the other
 * machines); the admin HTTP port listens on 127.0.0.1 (metrics and stats are for the operator,
 * not the LAN). Both can be changed. The chat port speaks TLS 1.3 unless --tls off, which is
 * refused on a non-loopback address without --allow-insecure.
 */
import { Command, Option } from 'commander';
import { LOG_LEVEL_HELP, LOG_LEVEL_NAMES, integerIn, nonEmpty, oneOf } from './option-parsers.ts';
import type { LogFormat } from '../log.ts';
import type { DbSynchronous } from '../server/sqlite-store.ts';
import {
  AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  CONNECTIONS_MAX,
  CONNECTIONS_PER_ADDRESS_MAX,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
  UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
  SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
  TTL_MS_DEFAULT,
  TTL_MS_MAX,
  TTL_MS_MIN,
  UNAUTHENTICATED_IDLE_MS,
} from '../../core/limits.ts';

export const SERVER_PORT_DEFAULT = 12_345;
export const HTTP_PORT_DEFAULT = 8_080;
export const SERVER_HOST_DEFAULT = '0.0.0.0';
export const HTTP_HOST_DEFAULT = '127.0.0.1';
export const DATA_DIR_DEFAULT = './data';
/** Shortest session-request timeout and unauthenticated idle limit accepted (tests use short ones). */
const SHORT_MS_MIN = 50;
const LONG_MS_MAX = 3_600_000;
const AUTH_RATE_MAX = 1_000_000;

export function serverCommand(): Command {
  return new Command('server')
    .description('run the presence and session server (TCP chat port, HTTP admin port, SQLite accounts)')
    // addCommand() does not pass the program's exitOverride down: without this, a bad option
    // exits 1 inside commander instead of reaching main's usage-error exit code 2.
    .exitOverride()
    .addOption(new Option('--host <address>', 'address the chat port listens on').env('P2PCHAT_HOST').default(SERVER_HOST_DEFAULT).argParser(nonEmpty('--host')))
    .addOption(new Option('--port <port>', 'chat TCP port (0 = any free port)').env('P2PCHAT_PORT').default(SERVER_PORT_DEFAULT).argParser(integerIn('--port', 0, 65_535)))
    .addOption(new Option('--http-host <address>', 'address the admin HTTP port listens on').env('P2PCHAT_HTTP_HOST').default(HTTP_HOST_DEFAULT).argParser(nonEmpty('--http-host')))
    .addOption(new Option('--http-port <port>', 'admin HTTP port (0 = any free port)').env('P2PCHAT_HTTP_PORT').default(HTTP_PORT_DEFAULT).argParser(integerIn('--http-port', 0, 65_535)))
    .addOption(new Option('--data-dir <dir>', 'directory of the SQLite database (created if missing)').env('P2PCHAT_DATA_DIR').default(DATA_DIR_DEFAULT).argParser(nonEmpty('--data-dir')))
    .addOption(new Option('--ttl <ms>', 'log a user out after this long without a heartbeat').env('P2PCHAT_TTL_MS').default(TTL_MS_DEFAULT).argParser(integerIn('--ttl', TTL_MS_MIN, TTL_MS_MAX)))
    .addOption(
      new Option('--session-timeout <ms>', 'how long a callee has to answer a chat-session request')
        .env('P2PCHAT_SESSION_TIMEOUT_MS')
        .default(SESSION_REQUEST_TIMEOUT_MS_DEFAULT)
        .argParser(integerIn('--session-timeout', SHORT_MS_MIN, LONG_MS_MAX)),
    )
    .addOption(
      new Option('--auth-rate-per-address <n>', 'login and sign-up attempts per second per remote address (0 = unlimited)')
        .env('P2PCHAT_AUTH_RATE_PER_ADDRESS')
        .default(AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC)
        .argParser(integerIn('--auth-rate-per-address', 0, AUTH_RATE_MAX)),
    )
    .addOption(
      new Option('--signups-per-address-per-hour <n>', 'sign-ups per remote address (IPv6: per /64) per hour, after a burst of 3 (0 = unlimited)')
        .env('P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR')
        .default(SIGNUPS_PER_ADDRESS_PER_HOUR)
        .argParser(integerIn('--signups-per-address-per-hour', 0, AUTH_RATE_MAX)),
    )
    .addOption(
      new Option('--connections-per-address <n>', 'connections one remote address (IPv6: one /64) may hold (0 = unlimited)')
        .env('P2PCHAT_CONNECTIONS_PER_ADDRESS')
        .default(CONNECTIONS_PER_ADDRESS_MAX)
        .argParser(integerIn('--connections-per-address', 0, CONNECTIONS_MAX)),
    )
    .addOption(
      new Option('--unauth-connections-per-address <n>', 'of those, connections not logged in (0 = unlimited)')
        .env('P2PCHAT_UNAUTH_CONNECTIONS_PER_ADDRESS')
        .default(UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX)
        .argParser(integerIn('--unauth-connections-per-address', 0, CONNECTIONS_MAX)),
    )
    .addOption(
      new Option('--unauth-idle <ms>', 'close connections that have not logged in after this long')
        .env('P2PCHAT_UNAUTH_IDLE_MS')
        .default(UNAUTHENTICATED_IDLE_MS)
        .argParser(integerIn('--unauth-idle', SHORT_MS_MIN, LONG_MS_MAX))
        .hideHelp(),
    )
    .addOption(
      new Option('--store <url>', 'where accounts live: sqlite (a file in --data-dir) or postgres://user:password@host:port/db, shared by a cluster')
        .env('P2PCHAT_STORE')
        .default('sqlite')
        .argParser(nonEmpty('--store')),
    )
    .addOption(
      new Option('--bus <url>', 'nats://host:port[/cluster]: run as one node of a cluster sharing --store postgres://... (docs/CLUSTER.md)')
        .env('P2PCHAT_BUS')
        .argParser(nonEmpty('--bus')),
    )
    .addOption(new Option('--node-id <id>', "this node's name on the bus (A-Z a-z 0-9 _ -); default: made at random").env('P2PCHAT_NODE_ID').argParser(nonEmpty('--node-id')))
    .addOption(
      new Option('--db-synchronous <mode>', 'SQLite synchronous mode: normal (kill -9 safe) or full (power-loss safe)')
        .env('P2PCHAT_DB_SYNCHRONOUS')
        .default('full')
        .argParser(oneOf<DbSynchronous>('--db-synchronous', ['normal', 'full'])),
    )
    .addOption(new Option('--log-level <level>', LOG_LEVEL_HELP).env('P2PCHAT_LOG_LEVEL').default('info').argParser(oneOf('--log-level', LOG_LEVEL_NAMES)))
    .addOption(new Option('--log-format <format>', 'auto (pretty on a terminal), json or pretty').env('P2PCHAT_LOG_FORMAT').default('auto').argParser(oneOf<LogFormat>('--log-format', ['auto', 'json', 'pretty'])))
    .addOption(new Option('--ready-file <path>', 'once listening, write {"tcpPort","httpPort","pid","tlsFingerprint"} as JSON to this file').env('P2PCHAT_READY_FILE'))
    .addOption(new Option('--tls <mode>', 'TLS 1.3 on the chat port: on, or off (plain TCP, loopback only unless --allow-insecure)').env('P2PCHAT_TLS').default('on').argParser(oneOf('--tls', ['on', 'off'])))
    .addOption(new Option('--tls-cert <path>', 'certificate (PEM) for the chat port; default: made on first start in the data dir').env('P2PCHAT_TLS_CERT').argParser(nonEmpty('--tls-cert')))
    .addOption(new Option('--tls-key <path>', 'private key (PEM) of --tls-cert').env('P2PCHAT_TLS_KEY').argParser(nonEmpty('--tls-key')))
    .addOption(new Option('--allow-insecure', 'with --tls off, listen on a non-loopback address anyway').env('P2PCHAT_ALLOW_INSECURE').default(false))
    .action(async (opts: RawServerOptions) => {
      const { runServerCommand } = await import('../server/run.ts');
      await runServerCommand({
        host: opts.host,
        port: opts.port,
        httpHost: opts.httpHost,
        httpPort: opts.httpPort,
        dataDir: opts.dataDir,
        storeUrl: opts.store,
        ...(opts.bus === undefined ? {} : { busUrl: opts.bus }),
        ...(opts.nodeId === undefined ? {} : { nodeId: opts.nodeId }),
        ttlMs: opts.ttl,
        sessionTimeoutMs: opts.sessionTimeout,
        unauthenticatedIdleMs: opts.unauthIdle,
        authRatePerAddress: opts.authRatePerAddress,
        signupsPerAddressPerHour: opts.signupsPerAddressPerHour,
        connectionsPerAddress: opts.connectionsPerAddress,
        unauthConnectionsPerAddress: opts.unauthConnectionsPerAddress,
        dbSynchronous: opts.dbSynchronous as 'normal' | 'full',
        logLevel: opts.logLevel as 'info',
        logFormat: opts.logFormat as 'auto',
        ...(opts.readyFile === undefined ? {} : { readyFile: opts.readyFile }),
        tls: opts.tls === 'on',
        ...(opts.tlsCert === undefined ? {} : { tlsCertPath: opts.tlsCert }),
        ...(opts.tlsKey === undefined ? {} : { tlsKeyPath: opts.tlsKey }),
        allowInsecure: opts.allowInsecure,
      });
    });
}

interface RawServerOptions {
  host: string;
  port: number;
  httpHost: string;
  httpPort: number;
  dataDir: string;
  store: string;
  bus?: string;
  nodeId?: string;
  ttl: number;
  sessionTimeout: number;
  unauthIdle: number;
  authRatePerAddress: number;
  signupsPerAddressPerHour: number;
  connectionsPerAddress: number;
  unauthConnectionsPerAddress: number;
  dbSynchronous: string;
  logLevel: string;
  logFormat: string;
  readyFile?: string;
  tls: string;
  tlsCert?: string;
  tlsKey?: string;
  allowInsecure: boolean;
}
