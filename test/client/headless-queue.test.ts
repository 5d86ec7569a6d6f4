/**
 * The headless contract as a person uses it (issue 13): a block pasted before `ready` runs whole,
 * in order, with `ready` first; `id` comes back as `ref` on every answer, errors included; a client
 * that sits before login sees no disconnect/reconnect churn from the server's idle close.
 */
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Event, HeadlessClient } from '../helpers/headless-client.ts';
import { TestServer } from '../helpers/in-process-server.ts';

const UNAUTH_IDLE_MS = 1_000;

function noRefusals(client: HeadlessClient): Event[] {
  return client.events.filter((e) => e.event === 'error' && (e.code === 'BUSY' || e.code === 'SERVER_UNAVAILABLE'));
}

describe('headless client: pasted blocks, refs, and a quiet wait before login', () => {
  let server: TestServer;
  const clients: HeadlessClient[] = [];

  beforeAll(async () => {
    server = await TestServer.start({ unauthenticatedIdleMs: UNAUTH_IDLE_MS });
  });

  afterAll(async () => {
    for (const client of clients) client.kill();
    await server?.close();
  });

  it('runs the CLIENT.md walkthrough pasted block by block, the first before ready: every answer, in order, with its ref', async () => {
    const bob = await HeadlessClient.start('bob', {
      server: server.address,
      autoAccept: 'file',
      pasteBeforeReady: [
        { cmd: 'signup', username: 'bob', password: 'battery-staple-2', id: 'b1' },
        { cmd: 'login', username: 'bob', password: 'battery-staple-2', id: 'b2' },
      ],
    });
    clients.push(bob);
    const alice = await HeadlessClient.start('alice', {
      server: server.address,
      pasteBeforeReady: [
        { cmd: 'signup', username: 'alice', password: 'correct-horse-1', id: 'a1' },
        { cmd: 'login', username: 'alice', password: 'correct-horse-1', id: 'a2' },
        { cmd: 'friend.request', username: 'bob', id: 'a3' },
      ],
    });
    clients.push(alice);
    expect(bob.events[0]?.event).toBe('ready');
    expect(alice.events[0]?.event).toBe('ready');
    expect(await bob.waitFor('signup.ok')).toMatchObject({ ref: 'b1' });
    expect(await bob.waitFor('login.ok')).toMatchObject({ ref: 'b2' });
    expect(await alice.waitFor('signup.ok')).toMatchObject({ ref: 'a1' });
    expect(await alice.waitFor('login.ok')).toMatchObject({ ref: 'a2' });
    expect(await alice.waitFor('friend.requested')).toMatchObject({ username: 'bob', ref: 'a3' });

    await bob.waitFor('friend.request', { from: 'alice' });
    bob.send({ cmd: 'friend.accept', username: 'alice', id: 'b3' });
    expect(await bob.waitFor('friend.added')).toMatchObject({ username: 'alice', ref: 'b3' });
    await alice.waitFor('friend.added', { username: 'bob' });

    // The second block, pasted whole: open, send, send a file, quit, each waiting for what it needs.
    const path = join(tmpdir(), `p2pchat-hello-${process.pid}.txt`);
    await writeFile(path, 'hello bob\n');
    alice.sendRaw(
      [
        { cmd: 'chat.open', username: 'bob', id: 'a4' },
        { cmd: 'chat.send', username: 'bob', text: 'hi bob!', id: 'a5' },
        { cmd: 'file.send', username: 'bob', paths: [path], id: 'a6' },
      ]
        .map((line) => `${JSON.stringify(line)}\n`)
        .join(''),
    );
    await bob.waitFor('chat.request', { from: 'alice' });
    bob.send({ cmd: 'chat.answer', username: 'alice', accept: true, id: 'b4' });
    expect(await bob.waitFor('chat.opened')).toMatchObject({ username: 'alice', ref: 'b4' });
    expect(await alice.waitFor('chat.opened')).toMatchObject({ username: 'bob', ref: 'a4' });
    expect(await alice.waitFor('chat.sent')).toMatchObject({ username: 'bob', id: 'a5', ref: 'a5' });
    const offered = await alice.waitFor('file.offered');
    expect(offered).toMatchObject({ name: expect.stringMatching(/^p2pchat-hello-/), ref: 'a6' });
    expect(await alice.waitFor('file.sent', { transferId: offered.transferId })).toMatchObject({ ref: 'a6' });
    expect(await bob.waitFor('chat.message')).toMatchObject({ from: 'alice', text: 'hi bob!' });
    await bob.waitFor('file.received', { transferId: offered.transferId });

    alice.send({ cmd: 'quit', id: 'a7' });
    expect(await alice.waitFor('logout.ok')).toMatchObject({ ref: 'a7' });
    expect(await alice.exited).toBe(0);
    expect(noRefusals(alice)).toEqual([]);
    expect(noRefusals(bob)).toEqual([]);
    expect(alice.badLines).toEqual([]);
  });

  it('gives every error the ref of its command: refused lines, client-side and server-side errors', async () => {
    const carol = await HeadlessClient.start('carol', {
      server: server.address,
      pasteBeforeReady: [
        { cmd: 'fly.away', id: 'c1' },
        { cmd: 'chat.send', username: 'nobody', id: 'c2' },
        { cmd: 'login', username: 'carol', password: 'not-an-account-1', id: 'c3' },
        { cmd: 'signup', username: 'carol', password: 'carol-password-1', id: 'c4' },
        { cmd: 'signup', username: 'carol', password: 'carol-password-1', id: 'c5' },
        { cmd: 'login', username: 'carol', password: 'carol-password-1', id: 7 },
        { cmd: 'chat.send', username: 'nobody', text: 'hello?', id: 'c8' },
        { cmd: 'file.answer', transferId: 'nope', accept: true, id: 'c9' },
        { cmd: 'friends', id: 'c10' },
      ],
    });
    clients.push(carol);
    await carol.waitFor('friends');
    const answers = carol.events.filter((e) => e.event !== 'ready').map((e) => [e.ref, e.event, e.code]);
    expect(answers).toEqual([
      ['c1', 'error', 'UNKNOWN_COMMAND'],
      ['c2', 'error', 'BAD_COMMAND'],
      ['c3', 'error', 'BAD_CREDENTIALS'],
      ['c4', 'signup.ok', undefined],
      ['c5', 'error', 'USERNAME_TAKEN'],
      [7, 'login.ok', undefined],
      ['c8', 'error', 'NO_SUCH_PEER'],
      ['c9', 'error', 'NO_SUCH_TRANSFER'],
      ['c10', 'friends', undefined],
    ]);
    expect(carol.events[0]?.event).toBe('ready');
  });

  it('sits before login through several idle closes of the server without disconnected, reconnected or errors, then logs in', async () => {
    const dave = await HeadlessClient.start('dave', { server: server.address });
    clients.push(dave);
    // Several idle closes pass; a waiting sign-up then proves the link is there when needed.
    await new Promise((done) => setTimeout(done, UNAUTH_IDLE_MS * 3.5));
    dave.send({ cmd: 'signup', username: 'dave', password: 'dave-password-1', id: 'd1' });
    expect(await dave.waitFor('signup.ok')).toMatchObject({ ref: 'd1' });
    expect(dave.events.map((e) => e.event)).toEqual(['ready', 'signup.ok']);
  });
});
