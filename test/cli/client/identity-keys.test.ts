/**
 * Identity keys end to end, two headless clients over the real server: each data dir gets its
 * keys (0600) on first use, friends see each other's safety number (the same on both sides), the
 * `fingerprint` command answers it, and a friend who comes back with other keys (a new data dir)
 * is reported once with peer.key.changed.
 */
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_FILE, loadOrCreateIdentity } from '../../../cli/client/identity-keys.ts';
import { KNOWN_PEERS_FILE } from '../../../cli/client/known-peers.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

describe('identity keys, safety numbers and key changes (headless, real server)', () => {
  let server: TestServer;
  const clients: HeadlessClient[] = [];
  let aliceDir: string;
  let alice: HeadlessClient;
  let bob: HeadlessClient;

  beforeAll(async () => {
    server = await TestServer.start();
    aliceDir = await mkdtemp(join(tmpdir(), 'p2pchat-alice-keys-'));
    [alice, bob] = await Promise.all([HeadlessClient.start('alice', { server: server.address, dataDir: aliceDir }), HeadlessClient.start('bob', { server: server.address })]);
    clients.push(alice, bob);
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
  });

  it('makes the keys in the data dir, readable by the owner only, and registers them at sign-up', async () => {
    await signupAndLogin(alice, 'alice');
    await signupAndLogin(bob, 'bob');
    const file = join(aliceDir, IDENTITY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    const { identity, created } = loadOrCreateIdentity(aliceDir);
    expect(created).toBe(false);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ signKey: identity.publicKeys.signKey });
    const stored = server.running.store.load().accounts.find((account) => account.username === 'alice');
    expect(stored?.identity).toEqual(identity.publicKeys);
  });

  it('friends get the same safety number on both sides, and fingerprint answers it', async () => {
    await befriend(alice, 'alice', bob, 'bob');
    const atAlice = alice.seen('friend.added').find((e) => e.username === 'bob');
    const atBob = bob.seen('friend.added').find((e) => e.username === 'alice');
    expect(atAlice?.safetyNumber).toMatch(/^\d{5}( \d{5}){5}$/);
    expect(atAlice?.safetyNumber).toBe(atBob?.safetyNumber);
    const asked = await alice.request({ cmd: 'fingerprint', username: 'bob', id: 'fp' }, 'fingerprint');
    expect(asked).toMatchObject({ username: 'bob', safetyNumber: atAlice?.safetyNumber, ref: 'fp' });
    const own = await alice.request({ cmd: 'fingerprint' }, 'fingerprint');
    expect(own).toMatchObject({ username: 'alice' });
    expect(own.safetyNumber).not.toBe(atAlice?.safetyNumber);
    const unknown = await alice.request({ cmd: 'fingerprint', username: 'nobody' }, 'error');
    expect(unknown).toMatchObject({ code: 'PEER_KEY_UNKNOWN', username: 'nobody' });
    const friends = await alice.request({ cmd: 'friends' }, 'friends');
    expect(friends.friends).toMatchObject([{ username: 'bob', safetyNumber: atAlice?.safetyNumber }]);
    expect(JSON.parse(await readFile(join(aliceDir, KNOWN_PEERS_FILE), 'utf8')).peers.bob).toBeDefined();
  });

  it('a friend back with new keys (a login from a fresh data dir registers them) is reported once', async () => {
    const before = alice.seen('friend.added').find((e) => e.username === 'bob')?.safetyNumber;
    await bob.quit();
    const bob2 = await HeadlessClient.start('bob2', { server: server.address });
    clients.push(bob2);
    await bob2.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    await alice.request({ cmd: 'friends' }, 'friends');
    const changed = await alice.waitFor('peer.key.changed', { username: 'bob' });
    expect(changed.old).toBe(before);
    expect(changed.new).not.toBe(before);
    const after = await alice.request({ cmd: 'friends' }, 'friends');
    expect(after.friends).toMatchObject([{ username: 'bob', safetyNumber: changed.new }]);
    // Told once: the new keys are remembered now.
    expect(alice.seen('peer.key.changed')).toHaveLength(1);
    const atBob = (await bob2.request({ cmd: 'fingerprint', username: 'alice' }, 'fingerprint')).safetyNumber;
    expect(atBob).toBe(changed.new);
  });
});
