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
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

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
async function startCapture(port: number | null, file: string): Promise<ChildProcess> {
  const filter = port === null ? ['tcp'] : ['tcp', 'port', String(port)];
  const child = spawn('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-s', '0', '-w', file, ...filter], { stdio: ['ignore', 'ignore', 'pipe'] });
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
  const capture = await startCapture(server.tcpPort, file);
  const client = await HeadlessClient.start(name, { server: server.address, dataDir: join(dir, `${name}-data`), extraArgs });
  try {
    await signupAndLogin(client, username, password);
    expect(await client.quit()).toBe(0);
  } finally {
    client.kill();
  }
  return stopCapture(capture, file);
}

/**
 * Two headless clients become friends, chat and send a file while tcpdump records every TCP
 * packet on lo (the server link and the peer-to-peer link). Returns the capture.
 */
async function captureChatAndFile(server: TestServer, dir: string, name: string, text: string, fileBytes: Buffer, extraArgs: string[]): Promise<Buffer> {
  const file = join(dir, `${name}.pcap`);
  const source = join(dir, `${name}-secret.bin`);
  await writeFile(source, fileBytes);
  const alice = await HeadlessClient.start(`${name}-alice`, { server: server.address, dataDir: join(dir, `${name}-alice-data`), extraArgs });
  const bob = await HeadlessClient.start(`${name}-bob`, { server: server.address, dataDir: join(dir, `${name}-bob-data`), extraArgs, autoAccept: 'chat,file' });
  try {
    await signupAndLogin(alice, `${name}alice`);
    await signupAndLogin(bob, `${name}bob`);
    await befriend(alice, `${name}alice`, bob, `${name}bob`);
    const capture = await startCapture(null, file);
    await alice.request({ cmd: 'chat.open', username: `${name}bob` }, 'chat.opened');
    await alice.request({ cmd: 'chat.send', username: `${name}bob`, text, id: 'secret' }, 'chat.sent');
    expect((await bob.waitFor('chat.message')).text).toBe(text);
    alice.send({ cmd: 'file.send', username: `${name}bob`, paths: [source] });
    const received = await bob.waitFor('file.received');
    expect(await readFile(received.path)).toEqual(fileBytes);
    expect(await alice.quit()).toBe(0);
    expect(await bob.quit()).toBe(0);
    return await stopCapture(capture, file);
  } finally {
    alice.kill();
    bob.kill();
  }
}

describe.skipIf(skipReason !== null)('loopback capture of chat and a file between two clients', () => {
  let dir: string;
  let tlsServer: TestServer;
  let plainServer: TestServer;
  const text = 'The-Eagle-Lands-At-Dawn-3141';
  // Bytes no handshake or frame would hold by chance: a repeated marker.
  const fileBytes = Buffer.from('FILE-BYTES-NEVER-IN-CLEAR-2718;'.repeat(2_000));
  const marker = Buffer.from('FILE-BYTES-NEVER-IN-CLEAR-2718;');

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'p2pchat-capture-p2p-'));
    tlsServer = await TestServer.start();
    plainServer = await TestServer.start({ tls: false });
  });

  afterAll(async () => {
    await tlsServer?.close();
    await plainServer?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('over TLS with identity certificates holds neither the chat text nor the file bytes', async () => {
    const pcap = await captureChatAndFile(tlsServer, dir, 'enc', text, fileBytes, []);
    expect(pcap.byteLength).toBeGreaterThan(fileBytes.byteLength);
    expect(pcap.includes(Buffer.from(text))).toBe(false);
    expect(pcap.includes(marker)).toBe(false);
  });

  it('control: the same capture with --tls off sees both in clear', async () => {
    const pcap = await captureChatAndFile(plainServer, dir, 'plain', text, fileBytes, ['--tls', 'off']);
    expect(pcap.includes(Buffer.from(text))).toBe(true);
    expect(pcap.includes(marker)).toBe(true);
  });
});

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
