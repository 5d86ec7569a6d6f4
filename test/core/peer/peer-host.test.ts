/**
 * PeerHost (core/peer/host.ts) on its own: two peer hosts and the real server host on the
 * simulator's in-memory network and virtual clock, with an in-memory file port. A user signs up,
 * logs in, befriends, opens the P2P channel (the server-brokered token hello), chats and sends a
 * file larger than the send queue bound (so it needs the host's p2p.flushed reports); the host
 * routes every byte, and the file port sees exactly the calls it should (each chunk it answered is
 * released once sent).
 * Then what only the host does: a file port failure reaches both users as file.failed, abort()
 * resets the streams (the friend sees the session lost), quit ends in onExit with the host stopped.
 */
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, P2P_SEND_QUEUE_BYTES_MAX } from '../../../core/limits.ts';
import { SqliteHistory } from '../../../cli/client/history-store.ts';
import type { HistoryStore } from '../../../core/peer/history.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../../../sim/world/server-node.ts';
import { simIdentityOf, simSealer } from '../../../sim/world/sim-sealer.ts';
import type { ConnectIntent } from '../../../core/transport.ts';
import { HeldStream, HoldingTransport, Rig, fileOf, sha256Hex } from './host-rig.ts';

/** Past the send queue bound: the transfer completes only if the host reports p2p.flushed. */
const FILE_BYTES = P2P_SEND_QUEUE_BYTES_MAX + 512 * 1024;

describe('PeerHost over the in-memory network', () => {
  it('connects and logs in, opens the token-checked P2P channel, delivers a chat message and a file past the send queue bound through the file port', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    expect(alice.events.find((e) => e.event === 'chat.opened')).toEqual({ event: 'chat.opened', username: 'bob' });
    expect(alice.notes).toContainEqual({ event: 'server.connected', host: SERVER_ADDRESS, port: SERVER_PORT });
    expect(bob.notes.some((n) => n.event === 'p2p.accepted')).toBe(true);

    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'hello over p2p' }, (e) => e.event === 'chat.sent');
    expect(rig.waitFor(bob, (e) => e.event === 'chat.message', bobFrom)).toMatchObject({ from: 'alice', text: 'hello over p2p' });

    const file = fileOf(alice.files, 'notes.bin', FILE_BYTES);
    const sent = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, (e) => e.event === 'file.sent' || e.event === 'file.failed');
    expect(sent).toMatchObject({ event: 'file.sent', size: FILE_BYTES, sha256: file.sha256 });
    const received = rig.waitFor(bob, (e) => e.event === 'file.received' || e.event === 'file.failed');
    expect(received).toMatchObject({ event: 'file.received', from: 'alice', size: FILE_BYTES, sha256: file.sha256, path: '/downloads/notes.bin' });
    expect(sha256Hex(bob.files.committed.get('notes.bin') ?? new Uint8Array(0))).toBe(file.sha256);

    const transferId = sent.event === 'file.sent' ? sent.transferId : '';
    // The sender read and then released its source; the receiver opened, wrote, finished, committed.
    expect(alice.files.calls.filter((c) => c.startsWith('read')).length).toBeGreaterThan(0);
    expect(alice.files.calls.at(-1)).toBe(`closeSource ${transferId}`);
    expect(bob.files.calls[0]).toBe(`open ${transferId}`);
    expect(bob.files.calls.slice(-2)).toEqual([`finish ${transferId}`, `commit ${transferId}`]);
    // Every chunk the sender's port answered went out and was handed back once, in the order sent.
    expect(alice.files.releasedChunks.length).toBe(alice.files.answered.length);
    alice.files.releasedChunks.forEach((chunk, i) => expect(chunk).toBe(alice.files.answered[i]));
  });

  it("a P2P connect tells the transport whom it is meant to reach (the friend and the key the server vouches for: what a resumed TLS session is kept under); the server link's tells nothing", () => {
    const rig = new Rig();
    const intents: Array<ConnectIntent | undefined> = [];
    rig.transportOf = (name, transport) =>
      name === 'alice'
        ? {
            listen: (host, port, onAccept, onReady) => transport.listen(host, port, onAccept, onReady),
            connect: (host, port, events, intent) => {
              intents.push(intent);
              return transport.connect(host, port, events, intent);
            },
          }
        : transport;
    const { alice } = rig.friendsInSession();
    // As alice was told it: the rig's users register no identity keys, so the server vouches for none.
    const added = alice.events.find((e) => e.event === 'friend.added');
    const friendsKey = added?.event === 'friend.added' ? (added.identity?.signKey ?? null) : 'never added';
    expect(intents.slice(1)).toEqual([{ peer: 'bob', vouchedKey: friendsKey }]);
    expect(intents[0]).toBeUndefined();
  });

  it('the file port gets each chunk back only once the stream has sent it: none while the socket holds them, exactly those a drain lets go, oldest first', () => {
    const rig = new Rig();
    const held: HeldStream[] = [];
    rig.transportOf = (name, transport) => (name === 'alice' ? new HoldingTransport(transport, (stream) => held.push(stream)) : transport);
    const { alice, bob } = rig.friendsInSession();
    const stream = held[0] as HeldStream;
    expect(held).toHaveLength(1);
    // A drain before any data (the hello and chat frames left) tells the machine of no data flushed.
    stream.drainAll();
    const file = fileOf(alice.files, 'held.bin', FILE_BYTES);
    alice.host.input({ type: 'command', command: { cmd: 'file.send', username: 'bob', files: [file] } });
    // The socket lets nothing go: the sender fills its send queue and waits, its chunks all held.
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.files.answered.length).toBeGreaterThan(2);
    expect(alice.files.answered.length * FILE_CHUNK_BYTES).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX);
    expect(alice.files.releasedChunks).toEqual([]);
    // The first two chunks leave the socket: those two come back, no more.
    stream.drainThrough(alice.files.answered[1] as Uint8Array);
    expect(alice.files.releasedChunks).toHaveLength(2);
    alice.files.releasedChunks.forEach((chunk, i) => expect(chunk).toBe(alice.files.answered[i]));
    // Let everything go as it is written, until the transfer is done: every chunk back once, in order.
    for (let i = 0; i < 10_000 && !alice.events.some((e) => e.event === 'file.sent' || e.event === 'file.failed'); i++) {
      stream.drainAll();
      rig.clock.runUntil(rig.clock.nowMs() + 10);
    }
    expect(rig.waitFor(alice, (e) => e.event === 'file.sent' || e.event === 'file.failed')).toMatchObject({ event: 'file.sent', sha256: file.sha256 });
    expect(rig.waitFor(bob, (e) => e.event === 'file.received' || e.event === 'file.failed')).toMatchObject({ event: 'file.received', sha256: file.sha256 });
    stream.drainAll();
    expect(alice.files.releasedChunks.length).toBe(alice.files.answered.length);
    alice.files.releasedChunks.forEach((chunk, i) => expect(chunk).toBe(alice.files.answered[i]));
  });

  it('a file larger than the read-ahead starts moving at once: bytes reach the receiver before the sender has read the whole file, and the digest is asked only after the last read', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const fileBytes = 16 * 1024 * 1024 + 3;
    const file = fileOf(alice.files, 'big.bin', fileBytes);
    const sent = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, (e) => e.event === 'file.sent' || e.event === 'file.failed');
    expect(sent).toMatchObject({ event: 'file.sent', size: fileBytes, sha256: file.sha256 });
    expect(rig.waitFor(bob, (e) => e.event === 'file.received' || e.event === 'file.failed')).toMatchObject({ event: 'file.received', sha256: file.sha256 });
    const firstWrite = rig.timeline.findIndex((c) => c.startsWith('bob write '));
    const readsBefore = rig.timeline.slice(0, firstWrite).filter((c) => c.startsWith('alice read '));
    const lastRead = rig.timeline.findLastIndex((c) => c.startsWith('alice read '));
    const digest = rig.timeline.findIndex((c) => c.startsWith('alice digest '));
    expect(firstWrite).toBeGreaterThan(0);
    // The first bytes were on the receiver's disk once the sender had read at most its send queue's
    // worth (a quarter of this file), not the whole file first.
    expect(readsBefore.length * FILE_CHUNK_BYTES).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX);
    expect(firstWrite).toBeLessThan(lastRead);
    expect(digest).toBeGreaterThan(lastRead);
    expect(rig.timeline.filter((c) => c.startsWith('alice digest '))).toHaveLength(1);
  });

  it('a download cut by a network reset resumes on the next session: the receiver has its port rehash what it kept, and the file arrives whole', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const file = fileOf(alice.files, 'resumed.bin', 32 * 1024 * 1024);
    alice.host.input({ type: 'command', command: { cmd: 'file.send', username: 'bob', files: [file] } });
    for (let i = 0; i < 1_000 && bob.files.calls.filter((c) => c.startsWith('write')).length < 1; i++) rig.clock.runUntil(rig.clock.nowMs() + 1);
    const aliceFrom = alice.events.length;
    rig.network.resetNode('10.0.0.1');
    rig.waitFor(alice, (e) => e.event === 'reconnected', aliceFrom);
    rig.command(alice, { cmd: 'chat.open', username: 'bob' }, (e) => e.event === 'chat.opened' || e.event === 'chat.failed');
    expect(rig.waitFor(bob, (e) => e.event === 'file.received' || e.event === 'file.failed')).toMatchObject({ event: 'file.received', sha256: file.sha256 });
    const transferId = bob.files.calls.find((c) => c.startsWith('open '))?.slice(5);
    expect(bob.files.calls).toContain(`rehash ${String(transferId)}`);
    expect(sha256Hex(bob.files.committed.get('resumed.bin') ?? new Uint8Array(0))).toBe(file.sha256);
  });

  it('a failing file port fails the transfer on both sides, and the download is discarded', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    bob.files.failWrites = true;
    const file = fileOf(alice.files, 'big.bin', FILE_BYTES);
    const failed = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, (e) => e.event === 'file.sent' || e.event === 'file.failed');
    expect(failed.event).toBe('file.failed');
    expect(rig.waitFor(bob, (e) => e.event === 'file.failed' || e.event === 'file.received').event).toBe('file.failed');
    expect(bob.notes.some((n) => n.event === 'file.io.failed')).toBe(true);
    expect(bob.files.calls.some((c) => c.startsWith('discard'))).toBe(true);
  });

  it('abort() resets every stream at once: the friend loses the session, the host hears nothing more', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const aliceSeen = alice.events.length;
    const bobFrom = bob.events.length;
    alice.host.abort();
    expect(alice.host.stopped).toBe(true);
    expect(alice.host.p2pPort).toBe(0);
    expect(alice.files.calls.at(-1)).toBe('closeAll');
    // The reset itself reaches bob: the session is lost, not closed later for alice going offline.
    expect(rig.waitFor(bob, (e) => e.event === 'chat.closed', bobFrom)).toEqual({ event: 'chat.closed', username: 'alice', reason: 'error' });
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.events.length).toBe(aliceSeen);
  });

  it('the history port: the friend stores a message and says so (chat.delivered), reads it (chat.read), types; history and history.search answer from the store', () => {
    const rig = new Rig();
    const stores = { alice: new SqliteHistory({ dataDir: null }), bob: new SqliteHistory({ dataDir: null }) };
    const { alice, bob } = rig.friendsInSession(stores);
    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'kept', id: 'k1' }, (e) => e.event === 'chat.delivered');
    rig.waitFor(bob, (e) => e.event === 'chat.message', bobFrom);
    bob.host.input({ type: 'command', command: { cmd: 'chat.typing', username: 'alice' } });
    rig.waitFor(alice, (e) => e.event === 'chat.typing');
    bob.host.input({ type: 'command', command: { cmd: 'chat.read', username: 'alice', id: 'k1' } });
    expect(rig.waitFor(alice, (e) => e.event === 'chat.read')).toEqual({ event: 'chat.read', username: 'bob', id: 'k1' });
    const page = rig.command(alice, { cmd: 'history', username: 'bob' }, (e) => e.event === 'history' || e.event === 'error');
    expect(page).toMatchObject({ event: 'history', username: 'bob', messages: [{ id: 'k1', from: 'alice', text: 'kept', direction: 'out', status: 'read' }] });
    const found = rig.command(bob, { cmd: 'history.search', text: 'KEP' }, (e) => e.event === 'history' || e.event === 'error');
    expect(found).toMatchObject({ event: 'history', text: 'KEP', messages: [{ id: 'k1', from: 'alice', username: 'alice', direction: 'in', status: 'read' }] });
    // Only the receiver says a message is stored: alice storing her own copy tells bob nothing.
    expect(bob.events.filter((e) => e.event === 'chat.delivered')).toEqual([]);
  });

  it('without a history port: no chat.delivered (nothing was stored), and history answers HISTORY_UNAVAILABLE', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession({ alice: new SqliteHistory({ dataDir: null }) });
    const from = alice.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'not kept there', id: 'n1' }, (e) => e.event === 'chat.sent');
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.events.slice(from).filter((e) => e.event === 'chat.delivered')).toEqual([]);
    const answer = rig.command(bob, { cmd: 'history', username: 'alice' }, (e) => e.event === 'history' || e.event === 'error');
    expect(answer).toMatchObject({ event: 'error', code: 'HISTORY_UNAVAILABLE', username: 'alice' });
    const search = rig.command(bob, { cmd: 'history.search', text: 'kept' }, (e) => e.event === 'history' || e.event === 'error');
    expect(search).toMatchObject({ event: 'error', code: 'HISTORY_UNAVAILABLE' });
    // No store is not a failing store: nothing was tried, so nothing failed.
    bob.host.input({ type: 'command', command: { cmd: 'chat.read', username: 'alice', id: 'n1' } });
    expect(bob.notes.filter((n) => n.event === 'history.failed')).toEqual([]);
  });

  it('quit logs out, then the host stops and tells onExit', () => {
    const rig = new Rig();
    const alice = rig.addUser('alice');
    rig.waitFor(alice, (e) => e.event === 'ready');
    rig.command(alice, { cmd: 'signup', username: 'alice', password: 'correct horse' }, (e) => e.event === 'signup.ok');
    rig.command(alice, { cmd: 'login', username: 'alice', password: 'correct horse' }, (e) => e.event === 'login.ok');
    alice.host.input({ type: 'command', command: { cmd: 'quit' } });
    for (let i = 0; i < 100 && alice.exitCode === null; i++) rig.clock.runUntil(rig.clock.nowMs() + 10);
    expect(alice.exitCode).toBe(0);
    expect(alice.host.stopped).toBe(true);
    expect(alice.host.p2pPort).toBe(0);
    // The machine closed its server link, and the host closed the stream: the server holds no connection.
    rig.clock.runUntil(rig.clock.nowMs() + 100);
    expect(rig.server.host?.connectionCount).toBe(0);
  });

  it('a network reset of the user: the host notes both closes with their error, the machine hears them (disconnected, the session lost) and logs back in', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const aliceFrom = alice.events.length;
    const bobFrom = bob.events.length;
    const resetAtMs = rig.clock.nowMs();
    rig.network.resetNode('10.0.0.1');
    rig.waitFor(alice, (e) => e.event === 'reconnected', aliceFrom);
    expect(alice.events.slice(aliceFrom).map((e) => e.event)).toContain('disconnected');
    // The machine hears of the dropped server stream at once, not at its next missed heartbeat.
    const disconnectedAtMs = alice.eventAtMs[alice.events.findIndex((e, i) => i >= aliceFrom && e.event === 'disconnected')];
    expect((disconnectedAtMs ?? Infinity) - resetAtMs).toBeLessThan(100);
    expect(rig.waitFor(bob, (e) => e.event === 'chat.closed', bobFrom)).toMatchObject({ username: 'alice' });
    const closes = alice.notes.filter((n) => n.event === 'server.closed' || n.event === 'p2p.closed');
    expect(closes.map((n) => n.event).sort()).toEqual(['p2p.closed', 'server.closed']);
    for (const note of closes) expect(note).toMatchObject({ error: expect.any(String) });
    expect(closes.find((n) => n.event === 'p2p.closed')).toMatchObject({ streamId: expect.any(String) });
    // Logged in again on a new connection: commands reach the server.
    rig.command(alice, { cmd: 'friends' }, (e) => e.event === 'friends');
  });

  it('bob notes the accepted P2P stream with the address it came from, and its close', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    expect(bob.notes).toContainEqual({ event: 'p2p.accepted', streamId: 'in:1', remote: expect.stringMatching(/^10\.0\.0\.1:\d+$/) });
    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.close', username: 'bob' }, (e) => e.event === 'chat.closed');
    rig.waitFor(bob, (e) => e.event === 'chat.closed', bobFrom);
    rig.clock.runUntil(rig.clock.nowMs() + 100);
    expect(bob.notes).toContainEqual({ event: 'p2p.closed', streamId: 'in:1', error: null });
  });

  it('a file whose read fails is noted (file.read.failed) and fails on both sides', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const file = { path: '/src/gone.bin', name: 'gone.bin', size: 10_000 };
    const failed = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, (e) => e.event === 'file.sent' || e.event === 'file.failed');
    expect(failed).toMatchObject({ event: 'file.failed', reason: 'io-error' });
    expect(alice.notes).toContainEqual({ event: 'file.read.failed', transferId: expect.any(String), error: new Error('ENOENT') });
    expect(rig.waitFor(bob, (e) => e.event === 'file.failed' || e.event === 'file.received').event).toBe('file.failed');
    expect(alice.files.calls).toContain(`closeSource ${(failed as { transferId: string }).transferId}`);
  });

  it('a file whose digest fails at its end is noted and fails on both sides; nothing is committed', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    alice.files.failDigest = true;
    const file = fileOf(alice.files, 'small.bin', 5_000);
    const failed = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, (e) => e.event === 'file.sent' || e.event === 'file.failed');
    expect(failed).toMatchObject({ event: 'file.failed', reason: 'io-error' });
    expect(alice.notes).toContainEqual({ event: 'file.read.failed', transferId: expect.any(String), error: new Error('EIO') });
    expect(rig.waitFor(bob, (e) => e.event === 'file.failed' || e.event === 'file.received').event).toBe('file.failed');
    expect(bob.files.committed.size).toBe(0);
  });

  it('a history store that throws: the host notes it, history queries answer HISTORY_UNAVAILABLE, chat goes on', () => {
    const broken: HistoryStore = {
      append: () => {
        throw new Error('disk full');
      },
      mark: () => {
        throw new Error('disk full');
      },
      page: () => {
        throw new Error('disk full');
      },
      search: () => {
        throw new Error('disk full');
      },
      failQueued: () => {
        throw new Error('disk full at the unfriending');
      },
      failQueuedExcept: () => {
        throw new Error('disk full at the login');
      },
      friendshipsSeen: () => {
        throw new Error('disk full at the friendships');
      },
    };
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession({ alice: broken });
    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'kept nowhere' }, (e) => e.event === 'chat.sent');
    rig.waitFor(bob, (e) => e.event === 'chat.message', bobFrom);
    expect(alice.notes).toContainEqual({ event: 'history.failed', operation: 'history.append', error: new Error('disk full') });
    // Told by what threw: the login's fail-queued-except went to failQueuedExcept, not another call.
    expect(alice.notes).toContainEqual({ event: 'history.failed', operation: 'history.fail-queued-except', error: new Error('disk full at the login') });
    // And the friendships seen at the login went to friendshipsSeen.
    expect(alice.notes).toContainEqual({ event: 'history.failed', operation: 'history.friendships-seen', error: new Error('disk full at the friendships') });
    for (const command of [{ cmd: 'history' as const, username: 'bob' }, { cmd: 'history.search' as const, text: 'kept' }]) {
      const answer = rig.command(alice, command, (e) => e.event === 'history' || e.event === 'error');
      expect(answer).toMatchObject({ event: 'error', code: 'HISTORY_UNAVAILABLE' });
    }
    rig.command(alice, { cmd: 'friend.remove', username: 'bob' }, (e) => e.event === 'friend.removed');
    expect(alice.notes.filter((n) => n.event === 'history.failed').map((n) => (n as { operation: string }).operation)).toEqual(
      expect.arrayContaining(['history.fail-queued-except', 'history.append', 'history.page', 'history.search', 'history.fail-queued']),
    );
    // The unfriending's fail-queued went to failQueued, not another call.
    expect(alice.notes).toContainEqual({ event: 'history.failed', operation: 'history.fail-queued', error: new Error('disk full at the unfriending') });
  });

  it('offline messages through the sealer: sealed for the friend, opened by it and shown once; without a sealer nothing can be sealed', () => {
    const rig = new Rig();
    const keys = { alice: simIdentityOf('alice'), bob: simIdentityOf('bob'), carol: simIdentityOf('carol') };
    const alice = rig.addUser('alice', undefined, { identity: keys.alice }, simSealer(keys.alice.sealKey));
    const bob = rig.addUser('bob', undefined, { identity: keys.bob }, simSealer(keys.bob.sealKey));
    const carol = rig.addUser('carol', undefined, { identity: keys.carol });
    for (const user of [alice, bob, carol]) {
      rig.waitFor(user, (e) => e.event === 'ready');
      rig.command(user, { cmd: 'signup', username: user.name, password: 'correct horse' }, (e) => e.event === 'signup.ok');
      rig.command(user, { cmd: 'login', username: user.name, password: 'correct horse' }, (e) => e.event === 'login.ok');
    }
    for (const friend of [bob, carol]) {
      const from = friend.events.length;
      rig.command(alice, { cmd: 'friend.request', username: friend.name }, (e) => e.event === 'friend.requested');
      rig.waitFor(friend, (e) => e.event === 'friend.request', from);
      rig.command(friend, { cmd: 'friend.accept', username: 'alice' }, (e) => e.event === 'friend.added');
    }
    // No session open: the message is sealed and left with the server, which hands it to bob.
    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'sealed hello', id: 'o1' }, (e) => e.event === 'chat.queued' || e.event === 'error');
    expect(rig.waitFor(bob, (e) => e.event === 'chat.message', bobFrom)).toMatchObject({ from: 'alice', text: 'sealed hello', id: 'o1', offline: true });
    rig.waitFor(alice, (e) => e.event === 'chat.delivered');
    // carol has no sealer: a message to her is sealed by alice, but carol cannot open it.
    const carolFrom = carol.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'carol', text: 'unreadable', id: 'o2' }, (e) => e.event === 'chat.queued' || e.event === 'error');
    expect(rig.waitFor(carol, (e) => e.event === 'error', carolFrom)).toMatchObject({ code: 'MAIL_UNREADABLE', username: 'alice' });
    // Its sender learns it failed (the same code, naming carol and the message), not that it was delivered.
    expect(rig.waitFor(alice, (e) => e.event === 'error' && e.code === 'MAIL_UNREADABLE')).toMatchObject({ username: 'carol', id: 'o2' });
    expect(alice.events.filter((e) => e.event === 'chat.delivered').map((e) => (e as { id: unknown }).id)).toEqual(['o1']);
    // And carol cannot seal one either.
    const failed = rig.command(carol, { cmd: 'chat.send', username: 'alice', text: 'no sealer', id: 'o3' }, (e) => e.event === 'chat.queued' || e.event === 'error');
    expect(failed).toMatchObject({ event: 'error', code: 'PEER_KEY_UNKNOWN', detail: 'the identity key could not be used to seal' });
  });

  it('timers run through the host: an idle user heartbeats past many TTLs and stays online', () => {
    const rig = new Rig({ ttlMs: 3_000 });
    const { alice, bob } = rig.friendsInSession();
    const bobFrom = bob.events.length;
    rig.clock.runUntil(rig.clock.nowMs() + 30_000);
    expect(bob.events.slice(bobFrom).filter((e) => e.event === 'presence')).toEqual([]);
    expect(rig.server.machine?.isOnline('alice')).toBe(true);
    expect(alice.events.filter((e) => e.event === 'disconnected')).toEqual([]);
  });

  it('a frozen host hears nothing (no timers, no inputs), so the server times its user out and friends see it offline', () => {
    const rig = new Rig({ ttlMs: 3_000 });
    const { alice, bob } = rig.friendsInSession();
    const aliceSeen = alice.events.length;
    const bobFrom = bob.events.length;
    alice.host.freeze();
    alice.host.input({ type: 'command', command: { cmd: 'friends' } });
    expect(rig.waitFor(bob, (e) => e.event === 'presence', bobFrom)).toEqual({ event: 'presence', username: 'alice', status: 'offline' });
    expect(alice.events.length).toBe(aliceSeen);
    expect(alice.host.stopped).toBe(false);
  });

  it('after stop() commands are dropped, the listener is closed and the files released; a second stop changes nothing', () => {
    const rig = new Rig();
    const { alice } = rig.friendsInSession();
    const seen = alice.events.length;
    alice.host.stop();
    alice.host.stop();
    expect(alice.files.calls.filter((c) => c === 'closeAll')).toHaveLength(1);
    expect(alice.host.p2pPort).toBe(0);
    alice.host.input({ type: 'command', command: { cmd: 'friends' } });
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.events.length).toBe(seen);
  });
});
