/**
 * The real server (cli/server/run.ts startServer), embedded in the test process: loopback, port 0
 * for both ports, a fresh temporary data directory, no per-address auth limit (all test clients
 * share 127.0.0.1) and a cheap scrypt cost, so tests start it in milliseconds. The one in-process
 * server of the tests, for the server's integration tests and the clients' alike.
 *
 * `stop()` shuts it down gracefully and keeps its data (calling it twice returns the same
 * promise); `restart()` brings it back on the same port with the same accounts (a server that
 * vanished); `close()` stops it and removes the data directory it made.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, type ServerOptions, startServer } from '../../cli/server/run.ts';

/** Lower than production (16384) only to keep test sign-ups cheap; the format and code path are the same. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 } as const;

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'p2pchat-server-test-'));
}

export class TestServer {
  private server: RunningServer | null = null;
  private stopping: Promise<void> | null = null;
  private portInUse = 0;
  /** The server's TLS certificate fingerprint (the same across restarts: it stays in the data dir). */
  fingerprint = '';

  private constructor(
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    private readonly options: Partial<ServerOptions>,
  ) {}

  static async start(options: Partial<ServerOptions> = {}): Promise<TestServer> {
    const server = new TestServer(options.dataDir ?? tempDataDir(), options.dataDir === undefined, options);
    await server.boot(options.port ?? 0);
    return server;
  }

  /** The running server; throws while it is stopped. */
  get running(): RunningServer {
    if (this.server === null) throw new Error('the test server is stopped');
    return this.server;
  }

  get machine(): RunningServer['machine'] {
    return this.running.machine;
  }

  get tcpPort(): number {
    return this.portInUse;
  }

  get httpPort(): number {
    return this.running.httpPort;
  }

  /** HOST:PORT for a client's --server. */
  get address(): string {
    return `127.0.0.1:${this.portInUse}`;
  }

  /** Graceful shutdown; the data stays. */
  stop(): Promise<void> {
    this.stopping ??= this.server?.close() ?? Promise.resolve();
    return this.stopping;
  }

  /** Starts it again on the same port, with the accounts it had. */
  async restart(): Promise<void> {
    await this.stop();
    await this.boot(this.portInUse);
  }

  /** Stops it and removes the data directory it made. */
  async close(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  private async boot(port: number): Promise<void> {
    this.server = await startServer({
      host: '127.0.0.1',
      httpHost: '127.0.0.1',
      httpPort: 0,
      authRatePerAddress: 0,
      // Every test client connects from 127.0.0.1: tests of the per-address limits set them.
      signupsPerAddressPerHour: 0,
      connectionsPerAddress: 0,
      unauthConnectionsPerAddress: 0,
      scrypt: TEST_SCRYPT,
      processMetrics: false,
      shutdownGraceMs: 500,
      ...this.options,
      port,
      dataDir: this.dataDir,
    });
    this.stopping = null;
    this.portInUse = this.server.tcpPort;
    this.fingerprint = this.server.tlsFingerprint ?? '';
  }
}
