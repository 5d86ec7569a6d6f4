/**
 * History, receipts and the end of sessions through real headless client processes: alice and
 * bob chat; alice sees chat.sent, chat.delivered (bob stored it) and chat.read (bob read it), bob
 * sees alice typing; alice quits (bob sees chat.closed reason offline) and a new alice process
 * on the same data dir finds the conversation in `history` and `history.search`, with the
 * statuses it reached, after logout and login too.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { HISTORY_DATABASE_FILE } from '../../../cli/client/history-store.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

describe('headless client: what was said is kept', () => {
  const clients: HeadlessClient[] = [];
  const dirs: string[] = [];
  let server: TestServer | undefined;

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
    for (const dir of [...dirs, ...clients.map((c) => c.downloadDir)]) await rm(dir, { recursive: true, force: true });
  });

  it('receipts and typing over P2P; the chat ends offline on quit; history and search after a restart and a re-login', async () => {
    server = await TestServer.start();
    const aliceData = await mkdtemp(join(tmpdir(), 'p2pchat-alice-history-'));
    dirs.push(aliceData);
    const alice = await HeadlessClient.start('alice', { server: server.address, dataDir: aliceData });
    const bob = await HeadlessClient.start('bob', { server: server.address, autoAccept: 'chat' });
    clients.push(alice, bob);
    await Promise.all([signupAndLogin(alice, 'alice', 'alice-password'), signupAndLogin(bob, 'bob')]);
    await befriend(alice, 'alice', bob, 'bob');
    await alice.request({ cmd: 'chat.open', username: 'bob' }, 'chat.opened', { username: 'bob' });

    alice.send({ cmd: 'chat.send', username: 'bob', text: 'lunch at noon?', id: 'a1' });
    await alice.waitFor('chat.sent', { id: 'a1' });
    await alice.waitFor('chat.delivered', { username: 'bob', id: 'a1' });
    await bob.waitFor('chat.message', { from: 'alice', id: 'a1' });
    alice.send({ cmd: 'chat.typing', username: 'bob' });
    await bob.waitFor('chat.typing', { from: 'alice' });
    bob.send({ cmd: 'chat.read', username: 'alice', id: 'a1' });
    await alice.waitFor('chat.read', { username: 'bob', id: 'a1' });
    bob.send({ cmd: 'chat.send', username: 'alice', text: 'Noon works', id: 'b1' });
    await alice.waitFor('chat.message', { from: 'bob', id: 'b1' });
    await bob.waitFor('chat.delivered', { id: 'b1' });

    expect(await alice.quit()).toBe(0);
    await bob.waitFor('chat.closed', { username: 'alice', reason: 'offline' });
    expect(existsSync(join(aliceData, HISTORY_DATABASE_FILE))).toBe(true);

    const again = await HeadlessClient.start('alice', { server: server.address, dataDir: aliceData });
    clients.push(again);
    await again.request({ cmd: 'login', username: 'alice', password: 'alice-password' }, 'login.ok');
    const page = await again.request({ cmd: 'history', username: 'bob', id: 'h1' }, 'history');
    expect(page.messages.map((m) => [m.id, m.from, m.text, m.direction, m.status])).toEqual([
      ['a1', 'alice', 'lunch at noon?', 'out', 'read'],
      ['b1', 'bob', 'Noon works', 'in', 'received'],
    ]);
    expect(page).toMatchObject({ username: 'bob', ref: 'h1' });
    await again.request({ cmd: 'logout' }, 'logout.ok');
    await again.request({ cmd: 'login', username: 'alice', password: 'alice-password' }, 'login.ok');
    const found = await again.request({ cmd: 'history.search', text: 'NOON' }, 'history');
    expect(found.messages.map((m) => m.id)).toEqual(['b1', 'a1']);
  });

  it('a history.sqlite that cannot be opened is said on stdout at the start (error HISTORY_UNAVAILABLE right after ready), not only in the log; the client runs on', async () => {
    // Before: only a log line on stderr said nothing would be kept; a script learned it at its
    // first `history` command, if ever (friends' chat.delivered never came meanwhile).
    server ??= await TestServer.start();
    const dataDir = await mkdtemp(join(tmpdir(), 'p2pchat-broken-history-'));
    dirs.push(dataDir);
    writeFileSync(join(dataDir, HISTORY_DATABASE_FILE), 'this is not an SQLite database, it is a note\n');
    const carol = await HeadlessClient.start('carol', { server: server.address, dataDir });
    clients.push(carol);
    const told = await carol.waitFor('error', { code: 'HISTORY_UNAVAILABLE' });
    expect(carol.events.map((e) => e.event).indexOf('error')).toBe(carol.events.findIndex((e) => e.event === 'ready') + 1);
    expect(told.message).toContain(HISTORY_DATABASE_FILE);
    await signupAndLogin(carol, 'carol');
    const asked = await carol.request({ cmd: 'history', username: 'alice', id: 'h1' }, 'error', { ref: 'h1' });
    expect(asked.code).toBe('HISTORY_UNAVAILABLE');
  });

  it('a message the server held for a friend we then remove is failed in our history, not queued for ever', async () => {
    // Before: the server deleted it with the friendship, and the history said queued.
    server ??= await TestServer.start();
    const [erin, frank] = await Promise.all([HeadlessClient.start('erin', { server: server.address }), HeadlessClient.start('frank', { server: server.address })]);
    clients.push(erin, frank);
    await Promise.all([signupAndLogin(erin, 'erin'), signupAndLogin(frank, 'frank')]);
    await befriend(erin, 'erin', frank, 'frank');
    await frank.request({ cmd: 'logout' }, 'logout.ok');
    await erin.request({ cmd: 'chat.send', username: 'frank', text: 'held for you', id: 'e1' }, 'chat.queued', { id: 'e1' });
    await erin.request({ cmd: 'friend.remove', username: 'frank' }, 'friend.removed');
    const history = await erin.request({ cmd: 'history', username: 'frank', id: 'h1' }, 'history', { ref: 'h1' });
    expect(history.messages.map((m) => `${String(m.id)} ${m.status}`)).toEqual(['e1 failed']);
  });

  it('friendships that ended while we were logged out: at the login, ours the server deleted with them are failed, one the friend took before is delivered', async () => {
    // Before: both stayed queued for ever (friend.removed is not held for a logged-out user).
    // ines, on another program, removes kim before kim ever logs in again; then jack takes his
    // message (its receipt held for ines) and removes her.
    server ??= await TestServer.start();
    const [ines, jack, kim] = await Promise.all(['ines', 'jack', 'kim'].map((name) => HeadlessClient.start(name, { server: server!.address })));
    clients.push(ines!, jack!, kim!);
    await Promise.all([signupAndLogin(ines!, 'ines'), signupAndLogin(jack!, 'jack'), signupAndLogin(kim!, 'kim')]);
    await befriend(ines!, 'ines', jack!, 'jack');
    await befriend(ines!, 'ines', kim!, 'kim');
    await Promise.all([jack!.request({ cmd: 'logout' }, 'logout.ok'), kim!.request({ cmd: 'logout' }, 'logout.ok')]);
    await ines!.request({ cmd: 'chat.send', username: 'jack', text: 'jack gets this', id: 'i1' }, 'chat.queued', { id: 'i1' });
    await ines!.request({ cmd: 'chat.send', username: 'kim', text: 'kim never does', id: 'i2' }, 'chat.queued', { id: 'i2' });
    await ines!.request({ cmd: 'logout' }, 'logout.ok');
    const elsewhere = await HeadlessClient.start('ines-elsewhere', { server: server.address });
    clients.push(elsewhere);
    await elsewhere.request({ cmd: 'login', username: 'ines', password: 'ines-secret-pw' }, 'login.ok');
    await elsewhere.request({ cmd: 'friend.remove', username: 'kim' }, 'friend.removed');
    await elsewhere.request({ cmd: 'logout' }, 'logout.ok');
    await jack!.request({ cmd: 'login', username: 'jack', password: 'jack-secret-pw' }, 'login.ok');
    await jack!.waitFor('chat.message', { id: 'i1' });
    await jack!.request({ cmd: 'friend.remove', username: 'ines' }, 'friend.removed');
    await ines!.request({ cmd: 'login', username: 'ines', password: 'ines-secret-pw' }, 'login.ok');
    await ines!.waitFor('chat.delivered', { username: 'jack', id: 'i1' });
    const toJack = await ines!.request({ cmd: 'history', username: 'jack', id: 'h1' }, 'history', { ref: 'h1' });
    const toKim = await ines!.request({ cmd: 'history', username: 'kim', id: 'h2' }, 'history', { ref: 'h2' });
    expect([...toJack.messages, ...toKim.messages].map((m) => `${String(m.id)} ${m.status}`)).toEqual(['i1 delivered', 'i2 failed']);
  });

  it('a friendship ended and made again while we were logged out: at the login, ours the server deleted with the old one are failed, though the friend is on the list again', async () => {
    // Before: it stayed queued for ever (the login's list has mona again, so the check of
    // friends missing from it did not see it). lena's other program ends and remakes the
    // friendship: a logged-out program cannot, so another one of the account must log in.
    server ??= await TestServer.start();
    const [lena, mona] = await Promise.all(['lena', 'mona'].map((name) => HeadlessClient.start(name, { server: server!.address })));
    clients.push(lena!, mona!);
    await Promise.all([signupAndLogin(lena!, 'lena'), signupAndLogin(mona!, 'mona')]);
    await befriend(lena!, 'lena', mona!, 'mona');
    await mona!.request({ cmd: 'logout' }, 'logout.ok');
    await lena!.request({ cmd: 'chat.send', username: 'mona', text: 'gone with the old friendship', id: 'l1' }, 'chat.queued', { id: 'l1' });
    await lena!.request({ cmd: 'logout' }, 'logout.ok');
    const elsewhere = await HeadlessClient.start('lena-elsewhere', { server: server.address });
    clients.push(elsewhere);
    await elsewhere.request({ cmd: 'login', username: 'lena', password: 'lena-secret-pw' }, 'login.ok');
    await elsewhere.request({ cmd: 'friend.remove', username: 'mona' }, 'friend.removed');
    await elsewhere.request({ cmd: 'friend.request', username: 'mona' }, 'friend.requested');
    await elsewhere.request({ cmd: 'logout' }, 'logout.ok');
    await mona!.request({ cmd: 'login', username: 'mona', password: 'mona-secret-pw' }, 'login.ok');
    await mona!.request({ cmd: 'friend.accept', username: 'lena' }, 'friend.added');
    await mona!.request({ cmd: 'logout' }, 'logout.ok');
    expect(mona!.seen('chat.message')).toEqual([]);
    const back = await lena!.request({ cmd: 'login', username: 'lena', password: 'lena-secret-pw' }, 'login.ok');
    expect(back.friends.map((f) => f.username)).toEqual(['mona']);
    const toMona = await lena!.request({ cmd: 'history', username: 'mona', id: 'h1' }, 'history', { ref: 'h1' });
    expect(toMona.messages.map((m) => `${String(m.id)} ${m.status}`)).toEqual(['l1 failed']);
    // One queued under the new friendship stays queued at the next login.
    await lena!.request({ cmd: 'chat.send', username: 'mona', text: 'held under the new one', id: 'l2' }, 'chat.queued', { id: 'l2' });
    await lena!.request({ cmd: 'logout' }, 'logout.ok');
    await lena!.request({ cmd: 'login', username: 'lena', password: 'lena-secret-pw' }, 'login.ok');
    const again = await lena!.request({ cmd: 'history', username: 'mona', id: 'h2' }, 'history', { ref: 'h2' });
    expect(again.messages.map((m) => `${String(m.id)} ${m.status}`)).toEqual(['l1 failed', 'l2 queued']);
  });

  it('a read receipt given with no session open outlives the reader\'s program: told when the next session opens after a restart', async () => {
    // Before: it waited in the program's memory only, and bob quitting lost it; alice never heard
    // chat.read for messages he read while she was away (offline messages are read so, as a rule).
    server ??= await TestServer.start();
    const gregData = await mkdtemp(join(tmpdir(), 'p2pchat-greg-history-'));
    dirs.push(gregData);
    const hana = await HeadlessClient.start('hana', { server: server.address });
    const greg = await HeadlessClient.start('greg', { server: server.address, dataDir: gregData });
    clients.push(hana, greg);
    await Promise.all([signupAndLogin(hana, 'hana'), signupAndLogin(greg, 'greg')]);
    await befriend(hana, 'hana', greg, 'greg');
    await greg.request({ cmd: 'logout' }, 'logout.ok');
    await hana.request({ cmd: 'chat.send', username: 'greg', text: 'read me later', id: 'r1' }, 'chat.queued', { id: 'r1' });
    await greg.request({ cmd: 'login', username: 'greg', password: 'greg-secret-pw' }, 'login.ok');
    await greg.waitFor('chat.message', { id: 'r1' });
    await hana.waitFor('chat.delivered', { id: 'r1' });
    greg.send({ cmd: 'chat.read', username: 'hana', id: 'r1' });
    expect(await greg.quit()).toBe(0);
    const again = await HeadlessClient.start('greg-again', { server: server.address, dataDir: gregData, autoAccept: 'chat' });
    clients.push(again);
    await again.request({ cmd: 'login', username: 'greg', password: 'greg-secret-pw' }, 'login.ok');
    await hana.request({ cmd: 'chat.open', username: 'greg' }, 'chat.opened', { username: 'greg' });
    expect(await hana.waitFor('chat.read', { username: 'greg' })).toMatchObject({ id: 'r1' });
    // Told once: the next session carries it no more.
    await hana.request({ cmd: 'chat.close', username: 'greg' }, 'chat.closed');
    await hana.request({ cmd: 'chat.open', username: 'greg' }, 'chat.opened', { username: 'greg' });
    await hana.request({ cmd: 'chat.send', username: 'greg', text: 'still there?', id: 'r2' }, 'chat.delivered', { id: 'r2' });
    expect(hana.seen('chat.read')).toHaveLength(1);
  });
});
