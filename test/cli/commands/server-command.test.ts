/**
 * `p2pchat server` option parsing: defaults, every option from its environment variable, the
 * command line beating the environment, and clear errors for invalid values (main turns those
 * into exit code 2). The runtime is never started here: the action is replaced.
 */
import { CommanderError } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { serverCommand } from '../../../cli/commands/server.ts';
import {
  CONNECTIONS_PER_ADDRESS_MAX,
  SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
  TTL_MS_DEFAULT,
  UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
  UNAUTHENTICATED_IDLE_MS,
} from '../../../core/limits.ts';

const ENV_NAMES = [
  'P2PCHAT_HOST',
  'P2PCHAT_PORT',
  'P2PCHAT_HTTP_HOST',
  'P2PCHAT_HTTP_PORT',
  'P2PCHAT_DATA_DIR',
  'P2PCHAT_STORE',
  'P2PCHAT_TTL_MS',
  'P2PCHAT_SESSION_TIMEOUT_MS',
  'P2PCHAT_AUTH_RATE_PER_ADDRESS',
  'P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR',
  'P2PCHAT_CONNECTIONS_PER_ADDRESS',
  'P2PCHAT_UNAUTH_CONNECTIONS_PER_ADDRESS',
  'P2PCHAT_UNAUTH_IDLE_MS',
  'P2PCHAT_DB_SYNCHRONOUS',
  'P2PCHAT_LOG_LEVEL',
  'P2PCHAT_LOG_FORMAT',
  'P2PCHAT_READY_FILE',
  'P2PCHAT_TLS',
  'P2PCHAT_TLS_CERT',
  'P2PCHAT_TLS_KEY',
  'P2PCHAT_ALLOW_INSECURE',
];

function parse(args: string[], env: Record<string, string> = {}): Record<string, unknown> {
  for (const name of ENV_NAMES) delete process.env[name];
  Object.assign(process.env, env);
  const command = serverCommand()
    .action(() => {})
    .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  command.parse(args, { from: 'user' });
  return command.opts();
}

const saved = Object.fromEntries(ENV_NAMES.map((name) => [name, process.env[name]]));
afterEach(() => {
  for (const name of ENV_NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

describe('p2pchat server options', () => {
  it('defaults: chat on 0.0.0.0:12345 over TLS, admin on 127.0.0.1:8080, ./data, limits from core', () => {
    expect(parse([])).toEqual({
      host: '0.0.0.0',
      port: 12_345,
      httpHost: '127.0.0.1',
      httpPort: 8_080,
      dataDir: './data',
      store: 'sqlite',
      ttl: TTL_MS_DEFAULT,
      sessionTimeout: SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
      authRatePerAddress: 10,
      signupsPerAddressPerHour: SIGNUPS_PER_ADDRESS_PER_HOUR,
      connectionsPerAddress: CONNECTIONS_PER_ADDRESS_MAX,
      unauthConnectionsPerAddress: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
      unauthIdle: UNAUTHENTICATED_IDLE_MS,
      dbSynchronous: 'full',
      logLevel: 'info',
      logFormat: 'auto',
      tls: 'on',
      allowInsecure: false,
    });
  });

  it('takes every option from its environment variable', () => {
    const opts = parse([], {
      P2PCHAT_HOST: '127.0.0.1',
      P2PCHAT_PORT: '0',
      P2PCHAT_HTTP_HOST: '0.0.0.0',
      P2PCHAT_HTTP_PORT: '9090',
      P2PCHAT_DATA_DIR: '/var/lib/p2pchat',
      P2PCHAT_STORE: 'postgres://chat:secret@db.internal:5432/chat',
      P2PCHAT_TTL_MS: '5000',
      P2PCHAT_SESSION_TIMEOUT_MS: '2500',
      P2PCHAT_AUTH_RATE_PER_ADDRESS: '0',
      P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR: '0',
      P2PCHAT_CONNECTIONS_PER_ADDRESS: '7',
      P2PCHAT_UNAUTH_CONNECTIONS_PER_ADDRESS: '3',
      P2PCHAT_UNAUTH_IDLE_MS: '200',
      P2PCHAT_DB_SYNCHRONOUS: 'full',
      P2PCHAT_LOG_LEVEL: 'warn',
      P2PCHAT_LOG_FORMAT: 'json',
      P2PCHAT_READY_FILE: '/tmp/ready.json',
      P2PCHAT_TLS: 'off',
      P2PCHAT_TLS_CERT: '/etc/p2pchat/cert.pem',
      P2PCHAT_TLS_KEY: '/etc/p2pchat/key.pem',
      P2PCHAT_ALLOW_INSECURE: '1',
    });
    expect(opts).toEqual({
      host: '127.0.0.1',
      port: 0,
      httpHost: '0.0.0.0',
      httpPort: 9_090,
      dataDir: '/var/lib/p2pchat',
      store: 'postgres://chat:secret@db.internal:5432/chat',
      ttl: 5_000,
      sessionTimeout: 2_500,
      authRatePerAddress: 0,
      signupsPerAddressPerHour: 0,
      connectionsPerAddress: 7,
      unauthConnectionsPerAddress: 3,
      unauthIdle: 200,
      dbSynchronous: 'full',
      logLevel: 'warn',
      logFormat: 'json',
      readyFile: '/tmp/ready.json',
      tls: 'off',
      tlsCert: '/etc/p2pchat/cert.pem',
      tlsKey: '/etc/p2pchat/key.pem',
      allowInsecure: true,
    });
  });

  it('lets the command line beat the environment', () => {
    expect(parse(['--port', '4000', '--log-level', 'debug'], { P2PCHAT_PORT: '5000', P2PCHAT_LOG_LEVEL: 'error' })).toMatchObject({ port: 4_000, logLevel: 'debug' });
  });

  it.each([
    [['--port', '65536'], '--port must be an integer from 0 to 65535'],
    [['--port', '-1'], '--port'],
    [['--http-port', '80.5'], '--http-port must be an integer'],
    [['--ttl', '10'], '--ttl must be an integer from 1000'],
    [['--session-timeout', 'soon'], '--session-timeout must be an integer'],
    [['--auth-rate-per-address', '-3'], '--auth-rate-per-address'],
    [['--log-level', 'verbose'], '--log-level must be one of'],
    [['--db-synchronous', 'off'], '--db-synchronous must be one of normal, full'],
    [['--data-dir', ' '], '--data-dir must not be empty'],
    [['--tls', 'maybe'], '--tls must be one of on, off'],
    [['--bogus'], "unknown option '--bogus'"],
  ])('refuses %j with a clear CommanderError', (args, message) => {
    let caught: unknown;
    try {
      parse(args);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(CommanderError);
    expect((caught as CommanderError).message).toContain(message);
  });

  it('refuses an invalid environment value, naming the variable', () => {
    expect(() => parse([], { P2PCHAT_AUTH_RATE_PER_ADDRESS: 'lots' })).toThrow(/P2PCHAT_AUTH_RATE_PER_ADDRESS/);
  });
});
