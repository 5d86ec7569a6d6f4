/**
 * PeerHost (core/peer/host.ts) on its own: two peer hosts and the real server host on the
 * simulator's in-memory network and virtual clock, with an in-memory file port. A user signs up,
 * logs in, befriends, opens the P2P channel (the server-brokered token hello), chats and sends a
 * file larger than the send queue bound (so it needs the host's p2p.flushed reports); the host
 * routes every byte, and the file port sees exactly the calls it should.
 * Then what only the host does: a file port failure reaches both users as file.failed, abort()
 * resets the streams (the friend sees the session lost), quit ends in onExit with the host stopped.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, P2P_SEND_QUEUE_BYTES_MAX } from '../../../core/limits.ts';
import type { PeerCommand, PreparedFile } from '../../../core/peer/commands.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { type PeerFiles, PeerHost, type PeerHostNote } from '../../../core/peer/host.ts';
import type { HistoryStore } from '../../../core/peer/history.ts';
import { PeerMachine } from '../../../core/peer/machine.ts';
import { ReadHash } from '../../../core/peer/read-hash.ts';
import { SqliteHistory } from '../../../cli/client/history-store.ts';
import type { Clock } from '../../../core/transport.ts';
import { SimNetwork } from '../../../sim/world/network.ts';
import { Prng } from '../../../sim/world/prng.ts';
import { SERVER_ADDRESS, SERVER_PORT, ServerNode } from '../../../sim/world/server-node.ts';
import { SimClock } from '../../../sim/world/sim-clock.ts';

const P2P_PORT = 5000;
/** Virtual time one file operation takes. */
const FILE_IO_MS = 2;
/** Virtual time a test may run before it must have seen what it waits for. */
const WAIT_MS = 60_000;
/** Past the send queue bound: the transfer completes only if the host reports p2p.flushed. */
const FILE_BYTES = P2P_SEND_QUEUE_BYTES_MAX + 512 * 1024;

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A file port in memory that answers later on the clock, logs every call, and can fail writes. */
class MemoryFiles implements PeerFiles {
  readonly sources = new Map<string, Uint8Array>();
  readonly downloads = new Map<string, Uint8Array[]>();
  readonly committed = new Map<string, Uint8Array>();
  readonly calls: string[] = [];
  /** Every call of every user's port, in order: `${user} ${call} ${transferId} ${offset}`. */
  readonly timeline: string[];
  failWrites = false;
  private readonly hashes = new Map<string, ReadHash>();

  constructor(
    private readonly clock: Clock,
    private readonly user = '',
    timeline: string[] = [],
  ) {
    this.timeline = timeline;
  }

  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    this.calls.push(`read ${transferId}`);
    this.timeline.push(`${this.user} read ${transferId} ${String(offset)}`);
    const source = this.sources.get(path);
    this.later(() => {
      if (source === undefined) return done(new Error('ENOENT'));
      const chunk = source.slice(offset, offset + bytes);
      this.hashOf(transferId).feed(offset, chunk);
      done(chunk);
    });
  }

  digest(transferId: string, done: (result: string | Error) => void): void {
    this.calls.push(`digest ${transferId}`);
    this.timeline.push(`${this.user} digest ${transferId}`);
    this.later(() => done(this.hashOf(transferId).digest()));
  }

  rehash(transferId: string, _bytes: number, done: (error: Error | null) => void): void {
    this.calls.push(`rehash ${transferId}`);
    this.later(() => done(null));
  }

  private hashOf(transferId: string): ReadHash {
    let hash = this.hashes.get(transferId);
    if (hash === undefined) {
      hash = new ReadHash(createHash('sha256'));
      this.hashes.set(transferId, hash);
    }
    return hash;
  }

  closeSource(transferId: string): void {
    this.calls.push(`closeSource ${transferId}`);
  }

  open(transferId: string, done: (error: Error | null) => void): void {
    this.calls.push(`open ${transferId}`);
    this.downloads.set(transferId, []);
    this.later(() => done(null));
  }

  write(transferId: string, _offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    this.calls.push(`write ${transferId}`);
    this.timeline.push(`${this.user} write ${transferId} ${String(_offset)}`);
    // The machine writes in file order: appending is enough.
    this.downloads.get(transferId)?.push(bytes.slice());
    this.later(() => done(this.failWrites ? new Error('ENOSPC') : null));
  }

  finish(transferId: string, done: (result: string | Error) => void): void {
    this.calls.push(`finish ${transferId}`);
    const bytes = Buffer.concat(this.downloads.get(transferId) ?? []);
    this.later(() => done(sha256Hex(bytes)));
  }

  commit(transferId: string, name: string, done: (result: string | Error) => void): void {
    this.calls.push(`commit ${transferId}`);
    this.committed.set(name, Buffer.concat(this.downloads.get(transferId) ?? []));
    this.downloads.delete(transferId);
    this.later(() => done(`/downloads/${name}`));
  }

  discard(transferId: string): void {
    this.calls.push(`discard ${transferId}`);
    this.downloads.delete(transferId);
  }

  closeAll(): void {
    this.calls.push('closeAll');
  }

  private later(fn: () => void): void {
    this.clock.at(this.clock.nowMs() + FILE_IO_MS, fn);
  }
}

interface User {
  readonly name: string;
  readonly host: PeerHost;
  readonly files: MemoryFiles;
  readonly events: ClientEvent[];
  readonly notes: PeerHostNote[];
  exitCode: number | null;
}

class Rig {
  readonly clock = new SimClock();
  readonly network = new SimNetwork(this.clock, new Prng(7), { latency: () => 1, bandwidthBytesPerSec: 50_000_000 });
  readonly server = new ServerNode(this.clock, this.network, new Prng(8), {}, 1);
  /** Both users' file port calls, in order. */
  readonly timeline: string[] = [];
  private nextAddress = 1;

  constructor() {
    this.server.start();
  }

  addUser(name: string, history?: HistoryStore): User {
    const address = `10.0.0.${this.nextAddress++}`;
    const files = new MemoryFiles(this.clock, name, this.timeline);
    const machine = new PeerMachine({ serverHost: SERVER_ADDRESS, serverPort: SERVER_PORT, autoAcceptChat: true, autoAcceptFile: true, idPrefix: name, jitterSeed: this.nextAddress, p2pAdvertiseHost: address });
    const user: User = { name, files, events: [], notes: [], exitCode: null, host: null as unknown as PeerHost };
    const host = new PeerHost({
      machine,
      transport: this.network.transport(address),
      clock: this.clock,
      files,
      ...(history === undefined ? {} : { history }),
      sink: {
        onEvent: (event) => user.events.push(event),
        onExit: (code) => {
          user.exitCode = code;
        },
      },
      hooks: {
        localAddressOf: () => address,
        onNote: (note) => user.notes.push(note),
      },
    });
    (user as { host: PeerHost }).host = host;
    host.listen(address, P2P_PORT, (result) => {
      if (result instanceof Error) throw result;
    });
    return user;
  }

  /** Runs the clock until `user` has an event that `match` accepts (searching from event `from`). */
  waitFor(user: User, match: (event: ClientEvent) => boolean, from = 0): ClientEvent {
    const deadlineMs = this.clock.nowMs() + WAIT_MS;
    for (;;) {
      const found = user.events.slice(from).find(match);
      if (found !== undefined) return found;
      if (this.clock.nowMs() >= deadlineMs) throw new Error(`${user.name} never saw the event; it saw ${JSON.stringify(user.events.map((e) => e.event))}`);
      this.clock.runUntil(this.clock.nowMs() + 10);
    }
  }

  command(user: User, command: PeerCommand, until: (event: ClientEvent) => boolean): ClientEvent {
    const from = user.events.length;
    user.host.input({ type: 'command', command });
    return this.waitFor(user, until, from);
  }

  /** Two friends logged in, with an open chat session from alice to bob. */
  friendsInSession(histories: { alice?: HistoryStore; bob?: HistoryStore } = {}): { alice: User; bob: User } {
    const alice = this.addUser('alice', histories.alice);
    const bob = this.addUser('bob', histories.bob);
    for (const user of [alice, bob]) {
      this.waitFor(user, (e) => e.event === 'ready');
      this.command(user, { cmd: 'signup', username: user.name, password: 'correct horse' }, (e) => e.event === 'signup.ok');
      this.command(user, { cmd: 'login', username: user.name, password: 'correct horse' }, (e) => e.event === 'login.ok');
    }
    const bobFrom = bob.events.length;
    this.command(alice, { cmd: 'friend.request', username: 'bob' }, (e) => e.event === 'friend.requested');
    this.waitFor(bob, (e) => e.event === 'friend.request', bobFrom);
    this.command(bob, { cmd: 'friend.accept', username: 'alice' }, (e) => e.event === 'friend.added');
    this.waitFor(alice, (e) => e.event === 'friend.added');
    this.command(alice, { cmd: 'chat.open', username: 'bob' }, (e) => e.event === 'chat.opened' || e.event === 'chat.failed');
    this.waitFor(bob, (e) => e.event === 'chat.opened');
    return { alice, bob };
  }
}

function fileOf(files: MemoryFiles, name: string, bytes: number): PreparedFile & { readonly sha256: string } {
  const content = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) content[i] = (i * 31 + 7) & 0xff;
  const path = `/src/${name}`;
  files.sources.set(path, content);
  return { path, name, size: bytes, sha256: sha256Hex(content) };
}

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
    expect(rig.waitFor(bob, (e) => e.event === 'chat.closed', bobFrom)).toMatchObject({ username: 'alice' });
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
  });
});
