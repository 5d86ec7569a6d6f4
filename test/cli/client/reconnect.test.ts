/**
 * A client whose server vanishes: it reports `disconnected`, keeps its open P2P sessions (chat
 * still flows peer to peer), reconnects with backoff, logs back in on its own, and reports
 * `reconnected` when the server is back; its friends see it online again.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

describe('headless client: the server vanishes and comes back', () => {
  let server: TestServer;
  let alice: HeadlessClient;
  let bob: HeadlessClient;

  beforeAll(async () => {
    server = await TestServer.start();
    [alice, bob] = await Promise.all([
      HeadlessClient.start('alice', { server: server.address }),
      HeadlessClient.start('bob', { server: server.address, autoAccept: 'chat' }),
    ]);
    await Promise.all([signupAndLogin(alice, 'alice'), signupAndLogin(bob, 'bob')]);
    await befriend(alice, 'alice', bob, 'bob');
    await alice.request({ cmd: 'chat.open', username: 'bob' }, 'chat.opened', { username: 'bob' });
    await bob.waitFor('chat.opened', { username: 'alice' });
  });

  afterAll(async () => {
    alice?.kill();
    bob?.kill();
    await server?.close();
    for (const client of [alice, bob]) if (client !== undefined) await rm(client.downloadDir, { recursive: true, force: true });
  });

  it('reports disconnected, keeps chatting peer to peer, and reports reconnected', async () => {
    await server.stop();
    await Promise.all([alice.waitFor('disconnected'), bob.waitFor('disconnected')]);

    // The P2P session does not depend on the server.
    alice.send({ cmd: 'chat.send', username: 'bob', text: 'still here?', id: 'during-outage' });
    expect(await bob.waitFor('chat.message', { from: 'alice' })).toMatchObject({ text: 'still here?', id: 'during-outage' });
    await alice.waitFor('chat.sent', { username: 'bob', id: 'during-outage' });
    expect(alice.seen('chat.closed')).toEqual([]);

    // While it is away, server requests fail at once with a stable code.
    expect((await alice.request({ cmd: 'friends' }, 'error')).code).toBe('SERVER_UNAVAILABLE');

    await server.restart();
    await Promise.all([alice.waitFor('reconnected', {}, 15_000), bob.waitFor('reconnected', {}, 15_000)]);
    // The friend list pushed just before `reconnected` may predate bob's return: take it first.
    await alice.waitFor('friends');
    // Logged in again without being asked: the friend list answers and shows the friend online.
    const friends = await alice.request({ cmd: 'friends' }, 'friends');
    expect(friends.friends).toMatchObject([{ username: 'bob', nickname: 'bob', status: 'online' }]);
    expect(alice.seen('disconnected')).toHaveLength(1);
    expect(alice.seen('reconnected')).toHaveLength(1);

    bob.send({ cmd: 'chat.send', username: 'alice', text: 'back', id: 'after' });
    expect(await alice.waitFor('chat.message', { from: 'bob' })).toMatchObject({ text: 'back' });
  });
});
