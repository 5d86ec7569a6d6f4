/**
 * `p2pchat client`: the blessed dashboard or, with --headless, the JSON-lines client of
 * docs/CLIENT.md. Options only here; the runtime is imported when the command runs.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVEL_HELP, LOG_LEVEL_NAMES, hostPort, integerIn, oneOf } from './option-parsers.ts';
import { FILE_BYTES_MAX_DEFAULT } from '../../core/limits.ts';
import { normalizeFingerprint } from '../net/tls-identity.ts';

export const CLIENT_DATA_DIR_DEFAULT = './p2pchat-client';

export interface ClientCommandOptions {
  headless: boolean;
  server: { host: string; port: number };
  p2pHost: string;
  p2pPort: number;
  downloadDir: string;
  autoAccept: { chat: boolean; file: boolean };
  maxFileBytes: number;
  logFile?: string;
  logLevel: (typeof LOG_LEVEL_NAMES)[number];
  dataDir: string;
  tls: 'on' | 'off';
  readReceipts: 'on' | 'off';
  serverFingerprint?: string;
  allowInsecure: boolean;
  faultCutP2pAfterBytes?: number;
}

function parseFingerprint(value: string): string {
  const fingerprint = normalizeFingerprint(value);
  if (fingerprint === null) throw new InvalidArgumentError('expected a SHA-256 fingerprint: 64 hex digits, with or without ":" between pairs');
  return fingerprint;
}

function parseAutoAccept(value: string): { chat: boolean; file: boolean } {
  const parts = value.split(',').map((part) => part.trim()).filter((part) => part.length > 0);
  for (const part of parts) if (part !== 'chat' && part !== 'file') throw new InvalidArgumentError('expected a list of: chat, file');
  return { chat: parts.includes('chat'), file: parts.includes('file') };
}

export function clientCommand(): Command {
  return new Command('client')
    .description('the chat client: the terminal dashboard, or --headless for the JSON-lines client')
    .addOption(new Option('--headless', 'JSON lines on stdin/stdout instead of the dashboard').env('P2PCHAT_HEADLESS').default(false))
    .addOption(new Option('--server <host:port>', 'the chat server to connect to').env('P2PCHAT_SERVER').default({ host: '127.0.0.1', port: 12345 }, '127.0.0.1:12345').argParser(hostPort('--server')))
    .addOption(new Option('--p2p-host <host>', 'address the P2P listener binds').env('P2PCHAT_P2P_HOST').default('0.0.0.0'))
    .addOption(new Option('--p2p-port <port>', 'P2P listener port (0 = any)').env('P2PCHAT_P2P_PORT').default(0).argParser(integerIn('--p2p-port', 0, 65_535)))
    .addOption(new Option('--download-dir <dir>', 'where received files go').env('P2PCHAT_DOWNLOAD_DIR').default('./downloads'))
    .addOption(new Option('--auto-accept <list>', 'answer yes without asking, for bots and tests: chat, file or chat,file (headless only)').env('P2PCHAT_AUTO_ACCEPT').default({ chat: false, file: false }, 'none').argParser(parseAutoAccept))
    .addOption(new Option('--max-file-bytes <bytes>', 'largest file accepted; larger offers are refused (file.failed reason too-large)').env('P2PCHAT_MAX_FILE_BYTES').default(FILE_BYTES_MAX_DEFAULT, `${FILE_BYTES_MAX_DEFAULT / 2 ** 30} GiB`).argParser(integerIn('--max-file-bytes', 0, Number.MAX_SAFE_INTEGER)))
    .addOption(new Option('--log-file <path>', 'where JSON log lines go (appended); default: stderr with --headless, ./p2pchat-client.log for the dashboard (never the screen)').env('P2PCHAT_LOG_FILE'))
    .addOption(new Option('--log-level <level>', LOG_LEVEL_HELP).env('P2PCHAT_LOG_LEVEL').default('info').argParser(oneOf('--log-level', LOG_LEVEL_NAMES)))
    .addOption(new Option('--data-dir <dir>', 'what the client keeps across runs: identity keys (identity.json), pinned server certificates (known-servers), friends\' keys (known-peers.json), what was said (history.sqlite)').env('P2PCHAT_CLIENT_DATA_DIR').default(CLIENT_DATA_DIR_DEFAULT))
    .addOption(new Option('--tls <mode>', 'TLS to the server: on, or off (plain TCP, loopback servers only unless --allow-insecure)').env('P2PCHAT_TLS').default('on').argParser(oneOf('--tls', ['on', 'off'])))
    .addOption(new Option('--read-receipts <mode>', 'tell friends what you read (chat.read): on, or off').env('P2PCHAT_READ_RECEIPTS').default('on').argParser(oneOf('--read-receipts', ['on', 'off'])))
    .addOption(new Option('--server-fingerprint <sha256>', "pin the server's certificate up front (64 hex digits) instead of trusting it on first use; default: none (the first certificate seen is pinned)").env('P2PCHAT_SERVER_FINGERPRINT').argParser(parseFingerprint))
    .addOption(new Option('--allow-insecure', 'with --tls off, connect to a non-loopback server anyway').env('P2PCHAT_ALLOW_INSECURE').default(false))
    // Fault injection for the headless client tests (cli/net/cutting-transport.ts): not in --help.
    .addOption(new Option('--fault-cut-p2p-after-bytes <bytes>').argParser(integerIn('--fault-cut-p2p-after-bytes', 1, Number.MAX_SAFE_INTEGER)).hideHelp())
    .addHelpText(
      'after',
      [
        '',
        'Each option also reads the environment variable shown. With --headless the client reads one',
        'JSON command a line on stdin ({"cmd":"login",...}) and writes one JSON event a line on stdout;',
        'the commands and events, with examples, are in docs/CLIENT.md. The dashboard\'s keys are in',
        'docs/DASHBOARD.md (F1 in the dashboard).',
      ].join('\n'),
    )
    .action(async (options: ClientCommandOptions) => {
      if (!options.headless) {
        const { runDashboard } = await import('../dashboard/run.ts');
        process.exitCode = await runDashboard({
          serverHost: options.server.host,
          serverPort: options.server.port,
          p2pHost: options.p2pHost,
          p2pPort: options.p2pPort,
          downloadDir: options.downloadDir,
          fileBytesMax: options.maxFileBytes,
          logFile: options.logFile ?? null,
          logLevel: options.logLevel,
          dataDir: options.dataDir,
          tls: options.tls === 'on',
          readReceipts: options.readReceipts === 'on',
          serverFingerprint: options.serverFingerprint ?? null,
          allowInsecure: options.allowInsecure,
        });
        return;
      }
      const { runHeadless } = await import('../client/headless.ts');
      await runHeadless({
        serverHost: options.server.host,
        serverPort: options.server.port,
        p2pHost: options.p2pHost,
        p2pPort: options.p2pPort,
        downloadDir: options.downloadDir,
        autoAcceptChat: options.autoAccept.chat,
        autoAcceptFile: options.autoAccept.file,
        fileBytesMax: options.maxFileBytes,
        logFile: options.logFile ?? null,
        logLevel: options.logLevel,
        dataDir: options.dataDir,
        tls: options.tls === 'on',
        readReceipts: options.readReceipts === 'on',
        serverFingerprint: options.serverFingerprint ?? null,
        allowInsecure: options.allowInsecure,
        faultCutP2pAfterBytes: options.faultCutP2pAfterBytes ?? null,
      });
    });
}
