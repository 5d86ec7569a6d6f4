/**
 * The headless client pins the server's TLS certificate (CONTRACTS.md section 4): trust on first
 * use into <data-dir>/known-servers, the pin kept across runs, a changed certificate refused with
 * SERVER_KEY_CHANGED before any frame is sent, --server-fingerprint to pin up front (and so to
 * accept a new key on purpose), and --tls off refused for a server off this machine.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KNOWN_SERVERS_FILE } from '../../cli/client/known-servers.ts';
import { InsecureAddressError } from '../../cli/net/insecure.ts';
import { startServer } from '../../cli/server/run.ts';
import { HeadlessClient, signupAndLogin } from '../helpers/headless-client.ts';
import { TestServer } from '../helpers/in-process-server.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** A fingerprint that is not the server's: what a client pinned before the server's key changed. */
const OLD_FINGERPRINT = `0F:${'AA:'.repeat(30)}F0`;

describe('headless client: pinning the server certificate', () => {
  let server: TestServer;
  let dataDir: string;
  const clients: HeadlessClient[] = [];
  const start = async (name: string, extraArgs: string[] = []): Promise<HeadlessClient> => {
    const client = await HeadlessClient.start(name, { server: server.address, dataDir, extraArgs });
    clients.push(client);
    return client;
  };
  const framesIn = (): number => server.running?.machine.stats().framesIn ?? -1;
  const pinFile = (): Promise<string> => readFile(join(dataDir, KNOWN_SERVERS_FILE), 'utf8');

  beforeAll(async () => {
    server = await TestServer.start();
    dataDir = await mkdtemp(join(tmpdir(), 'p2pchat-pinning-'));
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('trusts the server on first use: ready first, then server.key, and the pin is written', async () => {
    const client = await start('first');
    const key = await client.waitFor('server.key');
    expect(key).toMatchObject({ fingerprint: server.fingerprint, pinned: false, firstUse: true, server: server.address });
    expect(client.events[0]?.event).toBe('ready');
    expect(await pinFile()).toContain(`${server.address} ${server.fingerprint}\n`);
    await signupAndLogin(client, 'pinner');
    expect(await client.quit()).toBe(0);
  });

  it('finds the pin on the next run', async () => {
    const client = await start('again');
    expect(await client.waitFor('server.key')).toMatchObject({ fingerprint: server.fingerprint, pinned: true, firstUse: false });
    expect(await client.quit()).toBe(0);
  });

  it('refuses a changed certificate with SERVER_KEY_CHANGED, naming both fingerprints and the way out, and sends nothing', async () => {
    await writeFile(join(dataDir, KNOWN_SERVERS_FILE), `${server.address} ${OLD_FINGERPRINT}\n`);
    const before = framesIn();
    const client = await start('changed');
    const refused = await client.waitFor('error', { code: 'SERVER_KEY_CHANGED' });
    expect(refused).toMatchObject({ pinned: OLD_FINGERPRINT, presented: server.fingerprint, server: server.address });
    expect(String(refused.message)).toContain(`--server-fingerprint ${server.fingerprint}`);
    expect(String(refused.message)).toContain(OLD_FINGERPRINT);
    // A login now cannot go anywhere: the password stays here.
    await client.request({ cmd: 'login', username: 'pinner', password: 'pinner-secret-pw' }, 'error', { code: 'SERVER_UNAVAILABLE' });
    expect(framesIn()).toBe(before);
    expect(client.seen('server.key')).toEqual([]);
    expect(await pinFile()).toContain(OLD_FINGERPRINT);
    expect(await client.quit()).toBe(0);
  });

  it('accepts the new certificate on purpose with --server-fingerprint, which replaces the pin', async () => {
    const client = await start('accept', ['--server-fingerprint', server.fingerprint.replace(/:/g, '').toLowerCase()]);
    expect(await client.waitFor('server.key')).toMatchObject({ fingerprint: server.fingerprint, pinned: true });
    await client.request({ cmd: 'login', username: 'pinner', password: 'pinner-secret-pw' }, 'login.ok');
    const pins = await pinFile();
    expect(pins).toContain(`${server.address} ${server.fingerprint}\n`);
    expect(pins).not.toContain(OLD_FINGERPRINT);
    expect(await client.quit()).toBe(0);
  });

  it('refuses a server that does not match --server-fingerprint', async () => {
    const client = await start('wrong', ['--server-fingerprint', OLD_FINGERPRINT]);
    const refused = await client.waitFor('error', { code: 'SERVER_KEY_CHANGED' });
    expect(String(refused.message)).toContain('given with --server-fingerprint');
    expect(await client.quit()).toBe(0);
  });

  it('refuses the server when the pins cannot be read, saying why', async () => {
    const brokenDir = await mkdtemp(join(tmpdir(), 'p2pchat-pinning-broken-'));
    try {
      // A directory where the file should be: unreadable as a pin file.
      await mkdir(join(brokenDir, KNOWN_SERVERS_FILE));
      const before = framesIn();
      const client = await HeadlessClient.start('broken', { server: server.address, dataDir: brokenDir });
      clients.push(client);
      const refused = await client.waitFor('error', { code: 'KNOWN_SERVERS_FAILED' });
      expect(String(refused.message)).toContain('cannot check');
      expect(framesIn()).toBe(before);
      expect(await client.quit()).toBe(0);
    } finally {
      await rm(brokenDir, { recursive: true, force: true });
    }
  });

  it('with --tls off, refuses a server off this machine unless --allow-insecure', async () => {
    const args = ['--import', 'tsx', 'cli/main.ts', 'client', '--headless', '--server', '192.0.2.1:9', '--tls', 'off', '--data-dir', dataDir, '--log-level', 'silent'];
    const run = spawnSync(process.execPath, args, { cwd: ROOT, input: '', encoding: 'utf8', timeout: 30_000 });
    // It never becomes ready: it says why on stdout (a JSON error event) and exits 1.
    expect(run.status).toBe(1);
    const event = JSON.parse(run.stdout.trim().split('\n')[0] ?? '{}') as Record<string, unknown>;
    expect(event).toMatchObject({ event: 'error', code: 'INSECURE_ADDRESS' });
    expect(String(event.message)).toContain('--allow-insecure');
  });

  it('the server with TLS off refuses a non-loopback address unless --allow-insecure', async () => {
    const options = { host: '0.0.0.0', port: 0, httpPort: 0, dataDir, tls: false };
    await expect(startServer(options)).rejects.toBeInstanceOf(InsecureAddressError);
  });
});
