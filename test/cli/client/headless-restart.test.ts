/**
 * A client program killed and started again within the server's TTL, over real TCP: the server
 * still holds the dead program's login (no logout reached it), and the new program logs in by
 * password and takes that login over. What the dead program had asked for must not stand in the
 * new one's way: its pending chat request ends for the friend (`cancelled`), and the new program's
 * own chat.open to that friend goes through at once, not `already-pending` until the old request's
 * session timeout (PROTOCOL.md, "A second login ... takes the session over"). And the temporary
 * file of a download the dead program had under way does not stay in the download directory for ever.
 * Nor does its history say for ever that a message it was sending, or a file it was offering, is
 * still on its way: the new program's login marks them failed.
 */
import { access, mkdtemp, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PART_FILE_ORPHANED_AFTER_MS, tempPathFor } from '../../../cli/client/file-io.ts';
import { eventually } from '../../helpers/eventually.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

/** Long enough that the dead program's request could not time out during the test. */
const SESSION_TIMEOUT_MS = 120_000;

describe('headless client: a program restarted within the TTL', () => {
  let server: TestServer;
  const clients: HeadlessClient[] = [];

  beforeAll(async () => {
    server = await TestServer.start({ sessionTimeoutMs: SESSION_TIMEOUT_MS });
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
  });

  it("asks the same friend again at once: the dead program's pending request ends for the friend", async () => {
    const aliceDataDir = await mkdtemp(join(tmpdir(), 'p2pchat-alice-data-'));
    const [alice, bob] = await Promise.all([
      HeadlessClient.start('alice', { server: server.address, dataDir: aliceDataDir }),
      HeadlessClient.start('bob', { server: server.address }),
    ]);
    clients.push(alice, bob);
    await signupAndLogin(alice, 'alice');
    await signupAndLogin(bob, 'bob');
    await befriend(alice, 'alice', bob, 'bob');

    alice.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    alice.kill();

    // The same user, the same data dir (her keys, her pinned server), a new program.
    const again = await HeadlessClient.start('alice', { server: server.address, dataDir: aliceDataDir });
    clients.push(again);
    await again.request({ cmd: 'login', username: 'alice', password: 'alice-secret-pw' }, 'login.ok');
    expect(await bob.waitFor('chat.failed', { username: 'alice' })).toMatchObject({ reason: 'cancelled', incoming: true });

    again.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    bob.send({ cmd: 'chat.answer', username: 'alice', accept: true });
    await Promise.all([again.waitFor('chat.opened', { username: 'bob' }), bob.waitFor('chat.opened', { username: 'alice' })]);
    again.send({ cmd: 'chat.send', username: 'bob', text: 'back again' });
    expect(await bob.waitFor('chat.message', { from: 'alice' })).toMatchObject({ text: 'back again' });
  });

  it("deletes, when it starts, the temporary file of a download a dead program left in its download directory", async () => {
    const downloadDir = await mkdtemp(join(tmpdir(), 'p2pchat-carol-downloads-'));
    const orphan = tempPathFor(downloadDir, 'cut-short');
    await writeFile(orphan, 'half a file');
    const longAgoS = (Date.now() - PART_FILE_ORPHANED_AFTER_MS - 60_000) / 1_000;
    await utimes(orphan, longAgoS, longAgoS);
    const carol = await HeadlessClient.start('carol', { server: server.address, downloadDir });
    clients.push(carol);
    await eventually(async () => !(await access(orphan).then(() => true, () => false)), 'the orphaned .part deleted', 20_000);
  });

  it('marks failed, at the next login, the message and the file offer a program killed mid-send left in its history', async () => {
    // Before: `sending` and `offered` for ever, though no program was sending anything any more.
    const aliceDataDir = await mkdtemp(join(tmpdir(), 'p2pchat-carol-data-'));
    const [carol, dave] = await Promise.all([
      HeadlessClient.start('carol', { server: server.address, dataDir: aliceDataDir }),
      HeadlessClient.start('dave', { server: server.address, autoAccept: 'chat' }),
    ]);
    clients.push(carol, dave);
    await signupAndLogin(carol, 'carol');
    await signupAndLogin(dave, 'dave');
    await befriend(carol, 'carol', dave, 'dave');
    await carol.request({ cmd: 'chat.open', username: 'dave' }, 'chat.opened');
    await carol.request({ cmd: 'chat.send', username: 'dave', text: 'acknowledged', id: 'c1' }, 'chat.delivered', { id: 'c1' });
    const path = join(aliceDataDir, 'offer.bin');
    await writeFile(path, '');
    await truncate(path, 1024 * 1024);
    // dave stopped: nothing is acknowledged, and his answer to the offer never comes.
    dave.child.kill('SIGSTOP');
    try {
      carol.send({ cmd: 'chat.send', username: 'dave', text: 'never acknowledged', id: 'c2' });
      await carol.request({ cmd: 'file.send', username: 'dave', paths: [path], id: 'f1' }, 'file.offered');
      const before = await carol.request({ cmd: 'history', username: 'dave', id: 'h1' }, 'history', { ref: 'h1' });
      expect(before.messages.map((m) => `${m.id} ${m.status}`)).toEqual(['c1 delivered', 'c2 sending', `${before.messages[2]?.id} offered`]);
      carol.child.kill('SIGKILL');
      await carol.exited;
    } finally {
      dave.child.kill('SIGCONT');
    }
    const again = await HeadlessClient.start('carol-again', { server: server.address, dataDir: aliceDataDir });
    clients.push(again);
    await again.request({ cmd: 'login', username: 'carol', password: 'carol-secret-pw' }, 'login.ok');
    const after = await again.request({ cmd: 'history', username: 'dave', id: 'h2' }, 'history', { ref: 'h2' });
    expect(after.messages.map((m) => m.status)).toEqual(['delivered', 'failed', 'failed']);
  });
});
