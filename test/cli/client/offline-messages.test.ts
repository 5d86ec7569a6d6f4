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
import { MAILBOX_MESSAGES_PER_SENDER_MAX } from '../../../core/limits.ts';
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

  it('past the sender’s share of the mailbox: MAILBOX_FULL naming the friend and the message, under its ref; room again once the friend took them', async () => {
    // bob is offline since the test above; its one message waits for him too.
    const held = 1;
    const room = MAILBOX_MESSAGES_PER_SENDER_MAX - held;
    const block = Array.from({ length: room + 1 }, (_, i) => JSON.stringify({ cmd: 'chat.send', username: 'bob', text: `note ${i}`, id: `f${i}` })).join('\n');
    alice.sendRaw(`${block}\n`);
    const full = await alice.waitFor('error', { code: 'MAILBOX_FULL' }, 60_000);
    expect(full).toMatchObject({ code: 'MAILBOX_FULL', username: 'bob', id: `f${room}`, ref: `f${room}` });
    expect(alice.seen('chat.queued').filter((e) => String(e.id).startsWith('f'))).toHaveLength(room);
    // bob comes back and takes them all, in order; alice hears each delivered and may write again.
    await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    await bob.waitFor('chat.message', { id: `f${room - 1}` }, 60_000);
    const notes = bob.seen('chat.message').filter((e) => String(e.id).startsWith('f'));
    expect(notes.map((e) => e.text)).toEqual(Array.from({ length: room }, (_, i) => `note ${i}`));
    expect(notes.every((e) => e.offline === true)).toBe(true);
    await alice.waitFor('chat.delivered', { id: `f${room - 1}` }, 60_000);
    await bob.request({ cmd: 'logout' }, 'logout.ok');
    await alice.waitFor('presence', { username: 'bob', status: 'offline' });
    await alice.request({ cmd: 'chat.send', username: 'bob', text: 'one more', id: 'again' }, 'chat.queued', { id: 'again' });
  }, 120_000);

  it('a second message under an id the server still holds from us is refused MESSAGE_ID_TAKEN under its ref, never queued and lost; the first arrives', async () => {
    // bob is offline since the test above, and 'again' ("one more") waits for him.
    const refused = await alice.request({ cmd: 'chat.send', username: 'bob', text: 'a different text', id: 'again' }, 'error', { code: 'MESSAGE_ID_TAKEN' });
    expect(refused).toMatchObject({ username: 'bob', id: 'again', ref: 'again' });
    expect(alice.seen('chat.queued').filter((e) => e.id === 'again')).toHaveLength(1);
    await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    await alice.waitFor('chat.delivered', { id: 'again' }, 60_000);
    expect(bob.seen('chat.message').filter((e) => e.id === 'again').map((e) => e.text)).toEqual(['one more']);
    // Both are in alice's history: the refused one failed, and the receipt (about the one held) left it so.
    const history = await alice.request({ cmd: 'history', username: 'bob', limit: 2, id: 'h-again' }, 'history');
    expect(history.messages).toEqual([
      expect.objectContaining({ id: 'again', text: 'one more', status: 'delivered' }),
      expect.objectContaining({ id: 'again', text: 'a different text', status: 'failed' }),
    ]);
  }, 120_000);
});
