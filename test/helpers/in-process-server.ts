/**
 * The real server (cli/server/run.ts startServer), embedded in the test process on loopback with
 * a temporary data directory and a cheap scrypt cost, so client tests start in milliseconds.
 * `restart()` brings it back on the same port with the same accounts: a server that vanished.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, startServer } from '../../cli/server/run.ts';

export interface TestServerOptions {
  readonly sessionTimeoutMs?: number;
  readonly ttlMs?: number;
  /** TLS on the chat port (default true, as the real server). */
  readonly tls?: boolean;
  readonly unauthenticatedIdleMs?: number;
}

export class TestServer {
  private server: RunningServer | null = null;
  port = 0;
  /** The server's TLS certificate fingerprint (the same across restarts: it stays in the data dir). */
  fingerprint = '';

  private constructor(
    private readonly dataDir: string,
    private readonly options: TestServerOptions,
  ) {}

  static async start(options: TestServerOptions = {}): Promise<TestServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'p2pchat-server-'));
    const server = new TestServer(dataDir, options);
    await server.boot(0);
    return server;
  }

  /** The running server (null while stopped), for its stats. */
  get running(): RunningServer | null {
    return this.server;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  private async boot(port: number): Promise<void> {
    this.server = await startServer({
      host: '127.0.0.1',
      port,
      httpHost: '127.0.0.1',
      httpPort: 0,
      dataDir: this.dataDir,
      scrypt: { N: 1024, r: 8, p: 1 },
      authRatePerAddress: 0,
      // Every test client connects from 127.0.0.1: the per-address limits are not what these test.
      signupsPerAddressPerHour: 0,
      connectionsPerAddress: 0,
      unauthConnectionsPerAddress: 0,
      processMetrics: false,
      shutdownGraceMs: 500,
      ...(this.options.sessionTimeoutMs === undefined ? {} : { sessionTimeoutMs: this.options.sessionTimeoutMs }),
      ...(this.options.ttlMs === undefined ? {} : { ttlMs: this.options.ttlMs }),
      ...(this.options.tls === undefined ? {} : { tls: this.options.tls }),
      ...(this.options.unauthenticatedIdleMs === undefined ? {} : { unauthenticatedIdleMs: this.options.unauthenticatedIdleMs }),
    });
    this.port = this.server.tcpPort;
    this.fingerprint = this.server.tlsFingerprint ?? '';
  }

  /** Stops the server (clients see their connection close). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    await server?.close();
  }

  /** Starts it again on the same port, with the accounts it had. */
  async restart(): Promise<void> {
    await this.stop();
    await this.boot(this.port);
  }

  async close(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
