/**
 * The headless contract as a person uses it: a block pasted before `ready` runs whole,
 * in order, with `ready` first; `id` comes back as `ref` on every answer, errors included; a client
 * that sits before login sees no disconnect/reconnect churn from the server's idle close.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.ts';
import { type Event, HeadlessClient } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

/** Long enough that a sign-up sent just after a reconnect reaches the server well inside it, even on a busy machine. */
const UNAUTH_IDLE_MS = 2_000;
/** "Several": more than one close and reconnect, so a churn that starts on the second would show. */
const IDLE_CLOSES_AWAITED = 3;

function idleCloses(server: TestServer): number {
  return server.machine.stats().errors.UNAUTHENTICATED_TIMEOUT ?? 0;
}

/** The walkthrough's pasted blocks, in order, from docs/CLIENT.md itself: `# shell 1` is alice, `# shell 2` bob. */
function walkthroughBlocks(): { shell: 'alice' | 'bob'; commands: Record<string, unknown>[] }[] {
  const doc = readFileSync(join(import.meta.dirname, '..', '..', '..', 'docs', 'CLIENT.md'), 'utf8');
  const walkthrough = doc.slice(doc.indexOf('## Try it'), doc.indexOf('## Options'));
  const blocks: { shell: 'alice' | 'bob'; commands: Record<string, unknown>[] }[] = [];
  for (const match of walkthrough.matchAll(/```sh\n([\s\S]*?)```/g)) {
    // A "# shell N" comment starts what is pasted into that shell, until the next one.
    for (const line of (match[1] ?? '').split('\n')) {
      const shell = /^# shell (\d)/.exec(line);
      if (shell !== null) blocks.push({ shell: shell[1] === '1' ? 'alice' : 'bob', commands: [] });
      else if (line.startsWith('{')) blocks.at(-1)?.commands.push(JSON.parse(line) as Record<string, unknown>);
    }
  }
  return blocks.filter((block) => block.commands.length > 0);
}

function paste(client: HeadlessClient, commands: readonly Record<string, unknown>[]): void {
  client.sendRaw(commands.map((command) => `${JSON.stringify(command)}\n`).join(''));
}

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

  it('runs the CLIENT.md walkthrough as its blocks are pasted, the first before ready: every answer, in order, with its ref', async () => {
    const blocks = walkthroughBlocks();
    expect(blocks.map((block) => block.shell)).toEqual(['bob', 'alice', 'bob', 'alice', 'bob', 'alice']);
    const [bobStart, aliceStart, bobAccept, aliceOpen, bobAnswer, aliceSend] = blocks.map((block) => block.commands);
    const bob = await HeadlessClient.start('bob', { server: server.address, autoAccept: 'file', pasteBeforeReady: bobStart });
    clients.push(bob);
    expect(await bob.waitFor('login.ok')).toMatchObject({ ref: 'b2' });
    const alice = await HeadlessClient.start('alice', { server: server.address, pasteBeforeReady: aliceStart });
    clients.push(alice);
    expect(bob.events[0]?.event).toBe('ready');
    expect(alice.events[0]?.event).toBe('ready');
    expect(await bob.waitFor('signup.ok')).toMatchObject({ ref: 'b1' });
    expect(await alice.waitFor('signup.ok')).toMatchObject({ ref: 'a1' });
    expect(await alice.waitFor('login.ok')).toMatchObject({ ref: 'a2' });
    expect(await alice.waitFor('friend.requested')).toMatchObject({ username: 'bob', ref: 'a3' });

    await bob.waitFor('friend.request', { from: 'alice' });
    paste(bob, bobAccept ?? []);
    expect(await bob.waitFor('friend.added')).toMatchObject({ username: 'alice', ref: 'b3' });
    await alice.waitFor('friend.added', { username: 'bob' });

    // The open block and the send block pasted as one: the message and the file wait for the session.
    const path = join(tmpdir(), `p2pchat-hello-${process.pid}.txt`);
    await writeFile(path, 'hello bob\n');
    const withOurFile = (aliceSend ?? []).map((command) => (Array.isArray(command.paths) ? { ...command, paths: [path] } : command));
    paste(alice, [...(aliceOpen ?? []), ...withOurFile]);
    await bob.waitFor('chat.request', { from: 'alice' });
    paste(bob, bobAnswer ?? []);
    await bob.waitFor('chat.opened', { username: 'alice' });
    await alice.waitFor('chat.opened', { username: 'bob' });
    expect(await alice.waitFor('chat.sent')).toMatchObject({ username: 'bob', id: 'a5', ref: 'a5' });
    const offered = await alice.waitFor('file.offered');
    expect(offered).toMatchObject({ name: expect.stringMatching(/^p2pchat-hello-/), ref: 'a6' });
    expect(await alice.waitFor('file.sent', { transferId: offered.transferId })).toMatchObject({ ref: 'a6' });
    expect(await bob.waitFor('chat.message')).toMatchObject({ from: 'alice', text: 'hi bob!' });
    await bob.waitFor('file.received', { transferId: offered.transferId });
    expect(await alice.waitFor('logout.ok')).toMatchObject({ ref: 'a7' });
    expect(await alice.exited).toBe(0);

    // Every command with an id was answered with its ref; nothing was refused for coming early.
    for (const [client, commands] of [[alice, [...(aliceStart ?? []), ...(aliceOpen ?? []), ...(aliceSend ?? [])]], [bob, [...(bobStart ?? []), ...(bobAccept ?? []), ...(bobAnswer ?? [])]]] as const) {
      for (const command of commands) if (command.id !== undefined) expect(client.events.some((e) => e.ref === command.id), String(command.id)).toBe(true);
      expect(noRefusals(client)).toEqual([]);
      expect(client.badLines).toEqual([]);
    }
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
    // server.key (the pinned TLS certificate, once after ready) answers no command.
    const answers = carol.events.filter((e) => e.event !== 'ready' && e.event !== 'server.key').map((e) => [e.ref, e.event, e.event === 'error' ? e.code : undefined]);
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
    const connectionsBefore = server.machine.stats().connections;
    const dave = await HeadlessClient.start('dave', { server: server.address });
    clients.push(dave);
    const daveLinked = () => server.machine.stats().connections === connectionsBefore + 1;
    await eventually(daveLinked, "dave's link up", UNAUTH_IDLE_MS * 10);
    // Several idle closes pass (the server counts each one it sends), and dave's link is back
    // after the last: a sign-up then proves the link is there when needed. (Sent at the very
    // moment of a close, it would race the server's idle timer, as any client's would.)
    const idleClosesBefore = idleCloses(server);
    await eventually(
      () => idleCloses(server) >= idleClosesBefore + IDLE_CLOSES_AWAITED && daveLinked(),
      `${IDLE_CLOSES_AWAITED} idle closes of dave's link, and the link back`,
      UNAUTH_IDLE_MS * 30,
    );
    dave.send({ cmd: 'signup', username: 'dave', password: 'dave-password-1', id: 'd1' });
    expect(await dave.waitFor('signup.ok')).toMatchObject({ ref: 'd1' });
    expect(dave.events.map((e) => e.event)).toEqual(['ready', 'server.key', 'signup.ok']);
  });
});
