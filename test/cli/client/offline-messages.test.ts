/**
 * Offline messages end to end: the real server in this process (SQLite in a temporary data dir)
 * and `p2pchat client --headless` child processes with their own identity keys. A chat.send to a
 * friend with no open session is sealed for the friend's X25519 key, held by the server, and shown
 * at the friend's next login; the sender hears chat.queued. The server's data dir never holds the
 * text. (Delivery at once to a friend online without a session, with chat.delivered, is in
 * headless-sessions.test.ts; order, acknowledgement and restarts in test/core/server/server-mailbox.test.ts.)
 *
 * Before offline messages, the same chat.send failed with NO_SUCH_PEER (the first test failed so).
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

/** Every file under a directory, as bytes (the server's data dir: database, WAL, keys). */
function filesUnder(dir: string): Buffer[] {
  const out: Buffer[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...filesUnder(path));
    else out.push(readFileSync(path));
  }
  return out;
}

describe('offline messages: sealed, held by the server, shown at the next login', () => {
  let server: TestServer;
  const clients: HeadlessClient[] = [];
  let alice: HeadlessClient;
  let bob: HeadlessClient;

  beforeAll(async () => {
    server = await TestServer.start();
    [alice, bob] = await Promise.all([HeadlessClient.start('alice', { server: server.address }), HeadlessClient.start('bob', { server: server.address })]);
    clients.push(alice, bob);
    await signupAndLogin(alice, 'alice');
    await signupAndLogin(bob, 'bob');
    await befriend(alice, 'alice', bob, 'bob');
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
  });

  it('a chat.send to an offline friend is queued, not NO_SUCH_PEER, and the server keeps no text', async () => {
    await bob.request({ cmd: 'logout' }, 'logout.ok');
    await alice.waitFor('presence', { username: 'bob', status: 'offline' });
    const secret = 'the cake is in the second drawer';
    const queued = await alice.request({ cmd: 'chat.send', username: 'bob', text: secret, id: 'o1' }, 'chat.queued');
    expect(queued).toMatchObject({ username: 'bob', id: 'o1', ref: 'o1' });
    expect(alice.seen('error').map((e) => e.code)).not.toContain('NO_SUCH_PEER');
    // The server committed it before answering: its files hold the sealed box, never the text.
    const bytes = Buffer.concat(filesUnder(server.dataDir));
    expect(bytes.includes(Buffer.from(secret))).toBe(false);
    expect(bytes.includes(Buffer.from('second drawer'))).toBe(false);
  });
});
