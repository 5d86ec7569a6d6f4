/**
 * The one logger factory of the cli/ world: pino, JSON lines by default, pretty on a terminal,
 * secrets redacted by configuration (pino's `redact`), never by hoping no one logs them.
 *
 * Commands whose stdout is a machine contract (the headless client, --json) pass
 * `destination: 'stderr'` or a file path, so their logs never mix with what they print.
 */
import pino, { type Logger, type LevelWithSilent } from 'pino';
import pretty from 'pino-pretty';

export type { Logger } from 'pino';

/** Field names whose values never reach a log: at the top level and one object down. */
const SECRET_FIELDS = ['password', 'token', 'resumeToken', 'passwordHash'] as const;
export const REDACT_PATHS: readonly string[] = SECRET_FIELDS.flatMap((field) => [field, `*.${field}`]);
export const REDACTED = '[Redacted]';

export type LogFormat = 'auto' | 'json' | 'pretty';

/** A destination stream pino can write to (what `pino.destination` returns, or any writable). */
export interface LogSink {
  write(line: string): unknown;
}

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  /** 'stdout' (default), 'stderr', a file path (appended to, created if missing), or a sink. */
  readonly destination?: 'stdout' | 'stderr' | string | LogSink;
  /** 'auto' (default): pretty when the destination is a terminal, JSON otherwise. */
  readonly format?: LogFormat;
  /** Static fields on every line (e.g. { component: 'server' }). */
  readonly base?: Record<string, unknown>;
}

function fdOf(destination: LoggerOptions['destination']): number | null {
  if (destination === undefined || destination === 'stdout') return 1;
  if (destination === 'stderr') return 2;
  return null;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const config: pino.LoggerOptions = {
    level,
    base: { pid: process.pid, ...options.base },
    redact: { paths: [...REDACT_PATHS], censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  const destination = options.destination;
  if (typeof destination === 'object') return pino(config, destination as pino.DestinationStream);
  const fd = fdOf(destination);
  const format = options.format ?? 'auto';
  const isTty = fd !== null && process.env.CI !== 'true' && Boolean(fd === 1 ? process.stdout.isTTY : process.stderr.isTTY);
  if (format === 'pretty' || (format === 'auto' && isTty)) {
    // pino-pretty in the main thread: only for people reading a terminal, never on a hot path
    // that a benchmark measures (those log JSON, or nothing below warn).
    return pino(config, pretty({ destination: fd ?? destination ?? 1, colorize: isTty, sync: true }));
  }
  // Synchronous writes: a line logged just before process.exit (a fatal error, the last
  // shutdown line) must not be lost in a buffer.
  return pino(config, pino.destination({ dest: fd ?? destination, sync: true, mkdir: true }));
}
