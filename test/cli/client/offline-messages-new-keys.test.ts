/**
 * A friend who moves to a new data dir (new identity keys) while we stay online: the real server
 * in this process and `p2pchat client --headless` children. The server tells us the new keys at
 * once (friend.updated with them, peer.key.changed here), so an offline message we send from then
 * on is sealed to them and opens on the friend's new program.
 *
 * Before: our client kept sealing to the old key until its next friend view; the new program could
 * open none of those messages (MAIL_UNREADABLE), and we heard chat.delivered for each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

let server: TestServer | undefined;
const clients: HeadlessClient[] = [];
const dirs: string[] = [];

afterAll(async () => {
  for (const client of clients) client.kill();
  await server?.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

it('a friend logging in from a new data dir: we hear the new keys at once, and what we send offline from then on opens there', async () => {
  server = await TestServer.start();
  const [alice, bob] = await Promise.all(['alice', 'bob'].map((name) => HeadlessClient.start(name, { server: server!.address })));
  clients.push(alice!, bob!);
  await Promise.all([signupAndLogin(alice!, 'alice'), signupAndLogin(bob!, 'bob')]);
  await befriend(alice!, 'alice', bob!, 'bob');
  await bob!.request({ cmd: 'quit' }, 'logout.ok');
  await alice!.waitFor('presence', { username: 'bob', status: 'offline' });

  const newDir = mkdtempSync(join(tmpdir(), 'p2pchat-bob-new-keys-'));
  dirs.push(newDir);
  const moved = await HeadlessClient.start('bob-moved', { server: server.address, dataDir: newDir });
  clients.push(moved);
  await moved.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
  const changed = await alice!.waitFor('peer.key.changed', { username: 'bob' });
  expect(changed.old).not.toBe(changed.new);
  await moved.request({ cmd: 'logout' }, 'logout.ok');
  await alice!.waitFor('presence', { username: 'bob', status: 'offline' });

  await alice!.request({ cmd: 'chat.send', username: 'bob', text: 'sealed to the new keys', id: 'n1' }, 'chat.queued', { id: 'n1' });
  await moved.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
  expect(await moved.waitFor('chat.message', { id: 'n1' })).toMatchObject({ from: 'alice', text: 'sealed to the new keys', offline: true });
  await alice!.waitFor('chat.delivered', { id: 'n1' });
  expect(moved.seen('error').filter((e) => e.code === 'MAIL_UNREADABLE')).toEqual([]);
}, 120_000);
