/**
 * The server under load runs as the real command in its own process, never inside the load
 * generator: `node --import tsx cli/main.ts server --port 0 --http-port 0 --ready-file F ...`.
 * Its ports come back through the ready file; its RSS from /proc; its counters from
 * /api/v1/stats on the admin port.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { progress } from './progress.ts';
import { rssKbOf, spawnCli, stopChild } from './processes.ts';

/** How long the server may take to start (tsx compiles on first run; the snapshot loads). */
const SERVER_START_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 100;

/**
 * Every load client connects from a handful of loopback addresses: the per-address limits, which
 * exist against one host abusing the server (password guessing, sign-up and connection hoarding),
 * would stop a benchmark that plays thousands of users from one host. Lifted here, except in the
 * attack phase, which measures them.
 */
const BENCH_ADDRESS_LIMITS_LIFTED = {
  P2PCHAT_AUTH_RATE_PER_ADDRESS: '0',
  P2PCHAT_SIGNUPS_PER_ADDRESS_PER_HOUR: '0',
  P2PCHAT_CONNECTIONS_PER_ADDRESS: '0',
  P2PCHAT_UNAUTH_CONNECTIONS_PER_ADDRESS: '0',
};

export interface BenchServerOptions {
  readonly dataDir: string;
  readonly ttlMs: number;
  readonly label: string;
  /** Keep the per-address limits at their defaults (the attack phase measures them); others lift them. */
  readonly keepAddressLimits?: boolean;
  /** More `p2pchat server` options (a cluster node's --store, --bus, --node-id). */
  readonly extraArgs?: readonly string[];
}

export interface BenchServer {
  readonly tcpPort: number;
  readonly httpPort: number;
  readonly pid: number;
  /** The chat port's certificate fingerprint (the bench's real clients pin it). */
  readonly tlsFingerprint: string;
  rssKb(): Promise<number>;
  stats(): Promise<Record<string, unknown>>;
  stop(): Promise<void>;
}

export async function startBenchServer(options: BenchServerOptions): Promise<BenchServer> {
  const readyFile = join(options.dataDir, 'ready.json');
  const child = spawnCli(
    [
      'server',
      '--host', '127.0.0.1',
      '--port', '0',
      '--http-port', '0',
      '--data-dir', options.dataDir,
      '--ttl', String(options.ttlMs),
      '--log-level', 'warn',
      '--log-format', 'json',
      '--ready-file', readyFile,
      ...(options.extraArgs ?? []),
    ],
    options.keepAddressLimits === true ? {} : BENCH_ADDRESS_LIMITS_LIFTED,
  );
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') progress(`${options.label} stderr: ${line.slice(0, 300)}`);
  });
  let exited = false;
  child.once('exit', () => (exited = true));
  const deadlineMs = Date.now() + SERVER_START_TIMEOUT_MS;
  let ready: { tcpPort: number; httpPort: number; pid: number; tlsFingerprint: string } | null = null;
  while (ready === null) {
    if (exited) throw new Error(`${options.label}: the server exited before it was ready`);
    if (Date.now() > deadlineMs) {
      await stopChild(child);
      throw new Error(`${options.label}: not ready within ${SERVER_START_TIMEOUT_MS} ms`);
    }
    ready = await readFile(readyFile, 'utf8').then((text) => JSON.parse(text) as { tcpPort: number; httpPort: number; pid: number; tlsFingerprint: string }, () => null);
    if (ready === null) await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  const { tcpPort, httpPort, pid, tlsFingerprint } = ready;
  progress(`${options.label}: listening on tls ${tcpPort}, http ${httpPort} (pid ${pid})`);
  return {
    tcpPort,
    tlsFingerprint,
    httpPort,
    pid,
    rssKb: () => rssKbOf(pid),
    stats: async () => {
      const response = await fetch(`http://127.0.0.1:${httpPort}/api/v1/stats`);
      return (await response.json()) as Record<string, unknown>;
    },
    stop: () => stopChild(child, 10_000),
  };
}
