/**
 * Parsers for command-line options and their environment variables, shared by every subcommand:
 * each refuses a bad value with a message naming the option, and commander exits 2 on it.
 * Light on purpose (commander only): subcommand modules load at every start-up.
 */
import { InvalidArgumentError } from 'commander';
import type { LevelWithSilent } from 'pino';

/**
 * The log levels, defined once: pino's, spelled out here (checked against pino's type, imported
 * as a type only) so that option parsing does not load pino.
 */
export const LOG_LEVEL_NAMES = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const satisfies readonly LevelWithSilent[];
/** The --log-level option's help text, from the list. */
export const LOG_LEVEL_HELP = `${LOG_LEVEL_NAMES.slice(0, -1).join(', ')} or ${LOG_LEVEL_NAMES.at(-1)}`;

export function integerIn(name: string, min: number, max: number): (value: string) => number {
  return (value) => {
    const trimmed = value.trim();
    const parsed = /^[0-9]+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
    if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}, got "${value}"`);
    }
    return parsed;
  };
}

export function oneOf<T extends string>(name: string, allowed: readonly T[]): (value: string) => T {
  return (value) => {
    const found = allowed.find((candidate) => candidate === value);
    if (found === undefined) throw new InvalidArgumentError(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
    return found;
  };
}

export function nonEmpty(name: string): (value: string) => string {
  return (value) => {
    if (value.trim() === '') throw new InvalidArgumentError(`${name} must not be empty`);
    return value;
  };
}

/** HOST:PORT, with [IPv6]:PORT accepted. */
export function hostPort(name: string): (value: string) => { host: string; port: number } {
  return (value) => {
    const match = /^(.+):(\d{1,5})$/.exec(value.trim());
    const port = match === null ? Number.NaN : Number(match[2]);
    if (match === null || !(port >= 1 && port <= 65_535)) throw new InvalidArgumentError(`${name} must be HOST:PORT, got "${value}"`);
    return { host: match[1]!.replace(/^\[(.*)\]$/, '$1'), port };
  };
}
