/**
 * What crosses the wire: tcpdump on the loopback interface records the server link while a
 * headless client signs up and logs in. Over TLS (the default) the capture holds neither the
 * password nor the username; the control run against a server with --tls off shows that the same
 * capture does see them in clear, so the first result is not a capture that saw nothing.
 *
 * Needs root (or the capture capability) and tcpdump, which .ci/run installs: CI runs as root, so
 * there it always runs (a missing tcpdump fails it). Elsewhere it is skipped, saying why.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, signupAndLogin } from '../helpers/headless-client.ts';
import { TestServer } from '../helpers/in-process-server.ts';

const CAPTURE_START_TIMEOUT_MS = 10_000;

function whyNoCapture(): string | null {
  if (process.env.CI === 'true') return null;
  if (process.platform !== 'linux') return 'captures on the loopback interface are set up for Linux only';
  if (spawnSync('tcpdump', ['--version']).status !== 0) return 'tcpdump is not installed (.ci/run installs it)';
  if (process.getuid?.() !== 0) return 'capturing packets needs root (CI runs as root)';
  return null;
}

const skipReason = whyNoCapture();
if (skipReason !== null) console.warn(`capture test skipped: ${skipReason}`);

/**
 * tcpdump writing every packet of one TCP port on lo to `file`; resolves once it listens.
 * --immediate-mode: otherwise packets wait in the kernel's buffer block, and those still waiting
 * when tcpdump is stopped are counted ("received by filter") but never written.
 */
async function startCapture(port: number, file: string): Promise<ChildProcess> {
  const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-s', '0', '-w', file, 'tcp', 'port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let listening = false;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${stderr}`)), CAPTURE_START_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (!listening) reject(new Error(`tcpdump exited ${code}: ${stderr}`));
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      if (!listening && stderr.includes('listening on')) {
        listening = true;
        clearTimeout(timer);
        resolve();
      }
    });
  });
  return child;
}

/**
 * Stops the capture and returns the file's bytes. SIGTERM, not SIGINT: tcpdump flushes on either,
 * but a test runner may ignore SIGINT, and an ignored signal stays ignored in its children.
 */
async function stopCapture(child: ChildProcess, file: string): Promise<Buffer> {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  child.kill('SIGTERM');
  await exited;
  return readFile(file);
}

/** Signs a new user up and in through a headless client while tcpdump records the server's port. */
async function captureSignupAndLogin(server: TestServer, dir: string, name: string, username: string, password: string, extraArgs: string[]): Promise<Buffer> {
  const file = join(dir, `${name}.pcap`);
  const capture = await startCapture(server.port, file);
  const client = await HeadlessClient.start(name, { server: server.address, dataDir: join(dir, `${name}-data`), extraArgs });
  try {
    await signupAndLogin(client, username, password);
    expect(await client.quit()).toBe(0);
  } finally {
    client.kill();
  }
  return stopCapture(capture, file);
}

describe.skipIf(skipReason !== null)('loopback capture of the server link', () => {
  let dir: string;
  let tlsServer: TestServer;
  let plainServer: TestServer;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pchat-capture-'));
    tlsServer = await TestServer.start();
    plainServer = await TestServer.start({ tls: false });
  });

  afterAll(async () => {
    await tlsServer?.close();
    await plainServer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('over TLS holds neither the password nor the username of a sign-up and login', async () => {
    const username = 'capturedalice';
    const password = 'Correct-Horse-Battery-77';
    const pcap = await captureSignupAndLogin(tlsServer, dir, 'tls', username, password, []);
    // The capture saw the conversation: the handshake, the frames and the goodbye, not one packet.
    expect(pcap.byteLength).toBeGreaterThan(2_000);
    expect(pcap.includes(Buffer.from(password))).toBe(false);
    expect(pcap.includes(Buffer.from(username))).toBe(false);
    expect(pcap.includes(Buffer.from('"password"'))).toBe(false);
  });

  it('control: the same capture against --tls off sees both in clear', async () => {
    const username = 'capturedbob';
    const password = 'Plain-Text-Visible-42';
    const pcap = await captureSignupAndLogin(plainServer, dir, 'plain', username, password, ['--tls', 'off']);
    expect(pcap.includes(Buffer.from(password))).toBe(true);
    expect(pcap.includes(Buffer.from(username))).toBe(true);
  });
});
