/**
 * An offline message whose sender never hears the server hold it (mail.queued) is still in the
 * sender's history: the real server in this process, `p2pchat client --headless` children, and the
 * sender's link to the server through a proxy that holds back what the server says (the server
 * takes the mail.send, its answer waits in the proxy). The record is written before the message
 * goes out (`sending`), as a chat message over a session is.
 *
 * Before: the record was written at mail.queued only, so a program killed while the answer was on
 * its way, or whose link dropped before it (SERVER_UNAVAILABLE) and whose user never sent it again,
 * had the message reach the friend and nothing of it in its own history.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CutProxy } from '../../helpers/cut-proxy.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

/** Time for the sender's client to seal and write its mail.send, and the server to store it (loopback). */
const SEND_SETTLE_MS = 1_500;

describe('offline messages the server holds but never confirmed are in the sender history', () => {
  let server: TestServer;
  let proxy: CutProxy;
  const clients: HeadlessClient[] = [];
  const dirs: string[] = [];

  beforeAll(async () => {
    server = await TestServer.start();
    proxy = await CutProxy.start(Number(server.address.split(':')[1]));
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await proxy?.close();
    await server?.close();
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  /** A sender through the proxy (on a data dir of its own) and its friend, straight to the server. */
  async function senderVia(name: string, friend: string): Promise<{ client: HeadlessClient; dataDir: string; bob: HeadlessClient }> {
    const dataDir = await mkdtemp(join(tmpdir(), `p2pchat-${name}-data-`));
    dirs.push(dataDir);
    const [client, bob] = await Promise.all([HeadlessClient.start(name, { server: `127.0.0.1:${proxy.port}`, dataDir }), HeadlessClient.start(friend, { server: server.address })]);
    clients.push(client, bob);
    await signupAndLogin(client, name);
    await signupAndLogin(bob, friend);
    await befriend(client, name, bob, friend);
    return { client, dataDir, bob };
  }

  async function historyOf(client: HeadlessClient, friend: string, ref: string): Promise<string[]> {
    const page = await client.request({ cmd: 'history', username: friend, id: ref }, 'history', { ref });
    return page.messages.map((m) => `${String(m.id)} ${m.text} ${m.status}`);
  }

  it('a program killed before mail.queued: the message is in its history, failed at the next login until the receipt held for it makes it delivered', async () => {
    const { client: alice, dataDir, bob } = await senderVia('alice', 'bob');
    await bob.request({ cmd: 'logout' }, 'logout.ok');
    await alice.waitFor('presence', { username: 'bob', status: 'offline' });
    await proxy.hold();
    alice.send({ cmd: 'chat.send', username: 'bob', text: 'held, never confirmed', id: 'k1' });
    await sleep(SEND_SETTLE_MS);
    expect(await historyOf(alice, 'bob', 'h1')).toEqual(['k1 held, never confirmed sending']);
    alice.kill();
    await alice.exited;
    await proxy.release();
    // The server kept it: bob gets it, and the receipt waits for alice's next login.
    await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    await bob.waitFor('chat.message', { from: 'alice', id: 'k1' });
    const again = await HeadlessClient.start('alice-again', { server: `127.0.0.1:${proxy.port}`, dataDir });
    clients.push(again);
    await again.request({ cmd: 'login', username: 'alice', password: 'alice-secret-pw' }, 'login.ok');
    await again.waitFor('chat.delivered', { username: 'bob', id: 'k1' });
    expect(await historyOf(again, 'bob', 'h2')).toEqual(['k1 held, never confirmed delivered']);
  });

  it('a link lost before mail.queued (SERVER_UNAVAILABLE), never sent again: still sending, then delivered by the receipt', async () => {
    const { client: carol, bob: dave } = await senderVia('carol', 'dave');
    await dave.request({ cmd: 'logout' }, 'logout.ok');
    await carol.waitFor('presence', { username: 'dave', status: 'offline' });
    await proxy.hold();
    carol.send({ cmd: 'chat.send', username: 'dave', text: 'answer lost with the link', id: 'c1' });
    await sleep(SEND_SETTLE_MS);
    await proxy.cutAll();
    await carol.waitFor('error', { code: 'SERVER_UNAVAILABLE', id: 'c1' });
    await proxy.release();
    await proxy.mend();
    await carol.waitFor('reconnected');
    // Neither held nor refused, as far as carol knows: not failed.
    expect(await historyOf(carol, 'dave', 'h3')).toEqual(['c1 answer lost with the link sending']);
    await dave.request({ cmd: 'login', username: 'dave', password: 'dave-secret-pw' }, 'login.ok');
    await dave.waitFor('chat.message', { from: 'carol', id: 'c1' });
    await carol.waitFor('chat.delivered', { username: 'dave', id: 'c1' });
    expect(await historyOf(carol, 'dave', 'h4')).toEqual(['c1 answer lost with the link delivered']);
  });
});
