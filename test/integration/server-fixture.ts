/**
 * Starts the real server in-process for integration tests: loopback, port 0 for both ports, a
 * fresh temporary data directory, no per-address auth limit (all test clients share 127.0.0.1),
 * and a cheap scrypt cost so a few dozen sign-ups stay fast. Stop it with `stop()` in afterAll.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningServer, type ServerOptions, startServer } from '../../cli/server/run.ts';

/** Lower than production (16384) only to keep test sign-ups cheap; the format and code path are the same. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 } as const;

export interface TestServer extends RunningServer {
  readonly dataDir: string;
  /** Closes the server and removes its data directory. */
  stop(): Promise<void>;
}

export function tempDataDir(): string {
  return mkdtempSync(join(tmpdir(), 'p2pchat-server-test-'));
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? tempDataDir();
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    httpHost: '127.0.0.1',
    httpPort: 0,
    authRatePerAddress: 0,
    // Every test client connects from 127.0.0.1: tests of the per-address limits set them.
    signupsPerAddressPerHour: 0,
    connectionsPerAddress: 0,
    unauthConnectionsPerAddress: 0,
    scrypt: TEST_SCRYPT,
    processMetrics: false,
    ...options,
    dataDir,
  });
  return {
    ...server,
    dataDir,
    async stop() {
      await server.close();
      if (options.dataDir === undefined) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
