/**
 * `p2pchat client` without --headless: the blessed dashboard on this terminal, over a headless
 * client run as a child process (child-process-port.ts). Takes the headless client's options.
 *
 * Logs never touch the screen: the dashboard and its child both append to one log file (default
 * DEFAULT_LOG_FILE in the working directory; every line carries its pid and component).
 */
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { format } from 'node:util';
import blessed from 'blessed';
import type { Widgets } from 'blessed';
import type { LevelWithSilent } from 'pino';
import { SESSION_REQUEST_TIMEOUT_MS_DEFAULT } from '../../core/limits.ts';
import { EXIT_USAGE } from '../exit-codes.ts';
import { type Logger, createLogger } from '../log.ts';
import { DashboardApp } from './app.ts';
import { ChildProcessClientPort, headlessClientCommand } from './child-process-port.ts';

export const DEFAULT_LOG_FILE = 'p2pchat-client.log';

export interface DashboardOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly p2pHost?: string;
  readonly p2pPort?: number;
  readonly downloadDir?: string;
  /** Largest file accepted (passed on to the headless client). */
  readonly fileBytesMax?: number;
  /** Default: ./p2pchat-client.log. */
  readonly logFile?: string | null;
  readonly logLevel?: LevelWithSilent;
  /**
   * The countdown of a chat request whose event does not say the server's timeout (`timeoutMs`,
   * which the headless client always sends). Default: the protocol default (30 s). Never read
   * from this process's environment: the server's setting is the server's, not ours.
   */
  readonly chatRequestTimeoutMs?: number;
  /** Passed on to the headless client: its data dir, TLS to the server, the pinned fingerprint. */
  readonly dataDir?: string;
  readonly tls?: boolean;
  /** Tell friends what was read (default on). */
  readonly readReceipts?: boolean;
  readonly serverFingerprint?: string | null;
  readonly allowInsecure?: boolean;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Characters of blessed's start-up complaints kept in the log. */
const BLESSED_NOISE_CHARS_MAX = 4_000;

/**
 * The screen on this terminal. blessed prints (console.error, unconditionally) the terminfo
 * capabilities it cannot compile, e.g. for TERM=screen-256color, although it draws fine without
 * them; that text would land on the user's terminal, so it goes to the log instead.
 */
function createScreen(logger: Logger): Widgets.Screen {
  const consoleError = console.error;
  const noise: string[] = [];
  console.error = (...args: unknown[]) => {
    noise.push(format(...args));
  };
  try {
    return blessed.screen({ smartCSR: true, fullUnicode: true, forceUnicode: true, title: 'p2pchat', warnings: false, autoPadding: true });
  } finally {
    console.error = consoleError;
    if (noise.length > 0) logger.warn({ term: process.env.TERM, blessed: noise.join('\n').slice(0, BLESSED_NOISE_CHARS_MAX) }, 'blessed terminfo warnings');
  }
}

/** Runs the dashboard until the user quits; resolves with the process exit code. */
export async function runDashboard(options: DashboardOptions): Promise<number> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write('p2pchat client: the dashboard needs a terminal; use --headless for the JSON-lines client\n');
    return EXIT_USAGE;
  }
  const logFile = resolve(options.logFile ?? DEFAULT_LOG_FILE);
  const logLevel = options.logLevel ?? 'info';
  const logger = createLogger({ level: logLevel, destination: logFile, format: 'json', base: { component: 'dashboard' } });
  const server = hostPort(options.serverHost, options.serverPort);
  const downloadDir = options.downloadDir ?? './downloads';
  const command = headlessClientCommand({
    server,
    ...(options.p2pHost === undefined ? {} : { p2pHost: options.p2pHost }),
    ...(options.p2pPort === undefined ? {} : { p2pPort: options.p2pPort }),
    downloadDir,
    logFile,
    logLevel,
  });
  if (options.fileBytesMax !== undefined) command.args.push('--max-file-bytes', String(options.fileBytesMax));
  if (options.dataDir !== undefined) command.args.push('--data-dir', options.dataDir);
  if (options.tls === false) command.args.push('--tls', 'off');
  if (options.readReceipts === false) command.args.push('--read-receipts', 'off');
  if (options.serverFingerprint != null) command.args.push('--server-fingerprint', options.serverFingerprint);
  if (options.allowInsecure === true) command.args.push('--allow-insecure');
  logger.info({ server, downloadDir, pid: process.pid }, 'dashboard starting');

  // Line drawing as Unicode, not the ACS charset (tmux captures and some terminals garble ACS):
  // NCURSES_NO_UTF8_ACS is the ncurses switch blessed honours. The dashboard needs a UTF-8
  // terminal anyway for its status symbols (forceUnicode).
  process.env.NCURSES_NO_UTF8_ACS ??= '1';
  const screen = createScreen(logger);
  // The dashboard draws its own cursor (an inverse cell) in the focused field; blessed shows the
  // terminal's again when the screen is destroyed.
  screen.program.hideCursor();
  const port = new ChildProcessClientPort({ command, logger });
  const app = new DashboardApp({
    screen,
    port,
    logger,
    config: {
      serverAddress: server,
      chatRequestTimeoutMs: options.chatRequestTimeoutMs ?? SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
      logFile,
      downloadDir: resolve(downloadDir),
      homeDir: homedir(),
    },
  });
  // A signal (terminal closed, kill) quits cleanly too: log out first. With these listeners in
  // place, blessed's own signal handlers stand aside (they only act when alone).
  const onSignal = (signal: NodeJS.Signals) => {
    logger.info({ signal }, 'signal: quitting');
    void app.quit();
  };
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGHUP', 'SIGINT'];
  for (const signal of signals) process.on(signal, onSignal);
  try {
    return await app.done;
  } finally {
    for (const signal of signals) process.removeListener(signal, onSignal);
    logger.info({}, 'dashboard stopped');
  }
}
