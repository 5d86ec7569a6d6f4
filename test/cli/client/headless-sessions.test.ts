/**
 * The headless client over real TCP on loopback: the real server in this process, two or three
 * `p2pchat client --headless` child processes driven only through stdin and stdout.
 * Proves sign-up, friends, presence, chat sessions (accept, reject, timeout) and ordered,
 * acknowledged messages both ways.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const SESSION_TIMEOUT_MS = 1_500;

describe('headless client: accounts, friends, presence and chat sessions over TCP', () => {
  let server: TestServer;
  const clients: HeadlessClient[] = [];
  let alice: HeadlessClient;
  let bob: HeadlessClient;
  let carol: HeadlessClient;

  beforeAll(async () => {
    server = await TestServer.start({ sessionTimeoutMs: SESSION_TIMEOUT_MS });
    [alice, bob, carol] = await Promise.all([
      HeadlessClient.start('alice', { server: server.address }),
      HeadlessClient.start('bob', { server: server.address }),
      HeadlessClient.start('carol', { server: server.address }),
    ]);
    clients.push(alice, bob, carol);
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
  });

  it('signs up, refuses a taken name, and logs in with an empty friend list', async () => {
    const login = await signupAndLogin(alice, 'alice');
    expect(login).toMatchObject({ event: 'login.ok', friends: [] });
    expect(new Date(login.at).toString()).not.toBe('Invalid Date');
    const taken = await bob.request({ cmd: 'signup', username: 'alice', password: 'another-password' }, 'error');
    expect(taken.code).toBe('USERNAME_TAKEN');
    await signupAndLogin(bob, 'bob');
    await signupAndLogin(carol, 'carol');
  });

  it('answers unknown and malformed lines with an error event and goes on', async () => {
    alice.sendRaw('this is not json\n');
    expect((await alice.waitFor('error')).code).toBe('BAD_COMMAND');
    alice.sendRaw(`${JSON.stringify({ cmd: 'fly.away' })}\n`);
    expect((await alice.waitFor('error')).code).toBe('UNKNOWN_COMMAND');
    alice.sendRaw(`${JSON.stringify({ cmd: 'chat.send', username: 'bob' })}\n`);
    expect((await alice.waitFor('error')).code).toBe('BAD_COMMAND');
    // The old test hook is gone from the client: it is an unknown command like any other.
    alice.sendRaw(`${JSON.stringify({ cmd: 'test.cut-p2p', username: 'bob' })}\n`);
    expect((await alice.waitFor('error')).code).toBe('UNKNOWN_COMMAND');
    const friends = await alice.request({ cmd: 'friends' }, 'friends');
    expect(friends).toMatchObject({ friends: [], pending: [] });
  });

  it('makes friends by request and acceptance, and shows presence', async () => {
    await befriend(alice, 'alice', bob, 'bob');
    await alice.request({ cmd: 'friend.request', username: 'carol' }, 'friend.requested', { username: 'carol' });
    await carol.waitFor('friend.request', { from: 'alice' });
    const pending = await carol.request({ cmd: 'friends' }, 'friends');
    expect(pending.pending).toEqual(['alice']);
    await carol.request({ cmd: 'friend.decline', username: 'alice' }, 'friend.declined', { username: 'alice' });
    await alice.waitFor('friend.declined', { username: 'carol' });
    const list = await alice.request({ cmd: 'friends' }, 'friends');
    expect(list.friends).toMatchObject([{ username: 'bob', nickname: 'bob', status: 'online', identity: expect.any(Object), safetyNumber: expect.any(String) }]);
  });

  it('tells friends when a user logs out and logs back in', async () => {
    await bob.request({ cmd: 'logout' }, 'logout.ok');
    await alice.waitFor('presence', { username: 'bob', status: 'offline' });
    const login = await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw' }, 'login.ok');
    expect(login.friends).toMatchObject([{ username: 'alice', nickname: 'alice', status: 'online', safetyNumber: expect.any(String) }]);
    await alice.waitFor('presence', { username: 'bob', status: 'online' });
  });

  it('fails a chat request to a non-friend or an offline friend with the reason', async () => {
    expect((await alice.request({ cmd: 'chat.open', username: 'carol' }, 'chat.failed')).reason).toBe('not-friends');
  });

  it('rejects a chat session when the friend says no', async () => {
    alice.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    bob.send({ cmd: 'chat.answer', username: 'alice', accept: false });
    expect(await alice.waitFor('chat.failed', { username: 'bob' })).toMatchObject({ reason: 'rejected' });
  });

  it('times a chat request out when the friend never answers', async () => {
    alice.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    expect(await alice.waitFor('chat.failed', { username: 'bob' }, SESSION_TIMEOUT_MS + 5_000)).toMatchObject({ reason: 'timeout' });
    expect(await bob.waitFor('chat.failed', { username: 'alice' })).toMatchObject({ reason: 'timeout' });
  });

  it('opens a session on acceptance and carries acknowledged messages both ways, in order', async () => {
    alice.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    bob.send({ cmd: 'chat.answer', username: 'alice', accept: true });
    await Promise.all([alice.waitFor('chat.opened', { username: 'bob' }), bob.waitFor('chat.opened', { username: 'alice' })]);

    const count = 50;
    for (let i = 0; i < count; i++) {
      alice.send({ cmd: 'chat.send', username: 'bob', text: `a→b ${i}` });
      bob.send({ cmd: 'chat.send', username: 'alice', text: `b→a ${i}`, id: `b${i}` });
    }
    for (let i = 0; i < count; i++) {
      expect((await bob.waitFor('chat.message', { from: 'alice' })).text).toBe(`a→b ${i}`);
      expect(await alice.waitFor('chat.message', { from: 'bob' })).toMatchObject({ text: `b→a ${i}`, id: `b${i}` });
    }
    for (let i = 0; i < count; i++) {
      await alice.waitFor('chat.sent', { username: 'bob' });
      expect((await bob.waitFor('chat.sent', { username: 'alice' })).id).toBe(`b${i}`);
    }
    const texts = alice.seen('chat.message').map((e) => e.text);
    expect(texts).toEqual(Array.from({ length: count }, (_, i) => `b→a ${i}`));

    alice.send({ cmd: 'chat.close', username: 'bob' });
    await Promise.all([alice.waitFor('chat.closed', { username: 'bob' }), bob.waitFor('chat.closed', { username: 'alice' })]);
    // No session now: sealed for bob's identity key and handed over by the server (before: NO_SUCH_PEER).
    expect(await alice.request({ cmd: 'chat.send', username: 'bob', text: 'gone', id: 'late' }, 'chat.queued')).toMatchObject({ username: 'bob', id: 'late' });
    expect(await bob.waitFor('chat.message', { from: 'alice', id: 'late' })).toMatchObject({ text: 'gone', offline: true });
    await alice.waitFor('chat.delivered', { username: 'bob', id: 'late' });
  });

  it('prints nothing but JSON events and quits cleanly (logout first, exit 0) on EOF', async () => {
    const code = await carol.quit();
    expect(code).toBe(0);
    expect(carol.seen('logout.ok')).toHaveLength(1);
    for (const client of clients) expect(client.badLines).toEqual([]);
    expect(alice.events[0]?.event).toBe('ready');
  });
});
