/**
 * A PeerHost rig for peer unit tests: peer hosts (core/peer/host.ts) and the real server host on
 * the simulator's in-memory network and virtual clock, with an in-memory file port that answers
 * later on the clock and logs every call. Tests drive users by commands and wait for events on
 * the virtual clock, never on wall time.
 */
import { createHash } from 'node:crypto';
import type { PeerCommand, PreparedFile } from '../../../core/peer/commands.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { type PeerFiles, PeerHost, type PeerHostHooks, type PeerHostNote, type PeerSealer } from '../../../core/peer/host.ts';
import type { HistoryStore } from '../../../core/peer/history.ts';
import { type PeerConfig, PeerMachine } from '../../../core/peer/machine.ts';
import { ReadHash } from '../../../core/peer/read-hash.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../../core/transport.ts';
import { SimNetwork } from '../../../sim/world/network.ts';
import { Prng } from '../../../sim/world/prng.ts';
import { SERVER_ADDRESS, SERVER_PORT, ServerNode, type ServerTuning } from '../../../sim/world/server-node.ts';
import { SimClock } from '../../../sim/world/sim-clock.ts';

export const P2P_PORT = 5000;
/** Virtual time one file operation takes. */
const FILE_IO_MS = 2;
/** Virtual time a test may run before it must have seen what it waits for. */
export const WAIT_MS = 60_000;

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A file port in memory that answers later on the clock, logs every call, and can fail writes. */
export class MemoryFiles implements PeerFiles {
  readonly sources = new Map<string, Uint8Array>();
  /** Each download's chunks by offset: a write at an offset drops what was written from there on (a resume writes again). */
  readonly downloads = new Map<string, Array<{ readonly offset: number; readonly bytes: Uint8Array }>>();
  readonly committed = new Map<string, Uint8Array>();
  readonly calls: string[] = [];
  /** Every call of every user's port, in order: `${user} ${call} ${transferId} ${offset}`. */
  readonly timeline: string[];
  failWrites = false;
  /** The digest of every outgoing transfer fails (a source file gone unreadable at its end). */
  failDigest = false;
  /** Incoming transfers fail at this step: the temporary file cannot be opened, made durable or moved into place. */
  failOpen = false;
  failFinish = false;
  failCommit = false;
  /** Every chunk read answered, and every chunk the host released (sent), in order. */
  readonly answered: Uint8Array[] = [];
  readonly releasedChunks: Uint8Array[] = [];
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
      this.answered.push(chunk);
      done(chunk);
    });
  }

  digest(transferId: string, done: (result: string | Error) => void): void {
    this.calls.push(`digest ${transferId}`);
    this.timeline.push(`${this.user} digest ${transferId}`);
    this.later(() => done(this.failDigest ? new Error('EIO') : this.hashOf(transferId).digest()));
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

  released(bytes: Uint8Array): void {
    this.releasedChunks.push(bytes);
  }

  closeSource(transferId: string): void {
    this.calls.push(`closeSource ${transferId}`);
  }

  open(transferId: string, done: (error: Error | null) => void): void {
    this.calls.push(`open ${transferId}`);
    this.downloads.set(transferId, []);
    this.later(() => done(this.failOpen ? new Error('EACCES') : null));
  }

  write(transferId: string, _offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    this.calls.push(`write ${transferId}`);
    this.timeline.push(`${this.user} write ${transferId} ${String(_offset)}`);
    const chunks = this.downloads.get(transferId);
    if (chunks !== undefined) this.downloads.set(transferId, [...chunks.filter((c) => c.offset < _offset), { offset: _offset, bytes: bytes.slice() }]);
    this.later(() => done(this.failWrites ? new Error('ENOSPC') : null));
  }

  finish(transferId: string, done: (result: string | Error) => void): void {
    this.calls.push(`finish ${transferId}`);
    const bytes = this.bytesOf(transferId);
    this.later(() => done(this.failFinish ? new Error('EIO') : sha256Hex(bytes)));
  }

  commit(transferId: string, name: string, done: (result: string | Error) => void): void {
    this.calls.push(`commit ${transferId}`);
    if (this.failCommit) return this.later(() => done(new Error('EEXIST')));
    this.committed.set(name, this.bytesOf(transferId));
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

  private bytesOf(transferId: string): Uint8Array {
    return Buffer.concat((this.downloads.get(transferId) ?? []).map((c) => c.bytes));
  }

  private later(fn: () => void): void {
    this.clock.at(this.clock.nowMs() + FILE_IO_MS, fn);
  }
}

/**
 * An outgoing P2P stream whose send queue the test empties by hand: every write still reaches the
 * network at once, but counts in bufferedBytes until drainThrough/drainAll let it go (then the
 * host hears onDrain), as a socket whose peer reads slowly would hold it.
 */
export class HeldStream implements Stream {
  private readonly queued: Uint8Array[] = [];
  constructor(
    private readonly inner: Stream,
    private readonly events: StreamEvents,
  ) {}
  get remoteAddress(): string {
    return this.inner.remoteAddress;
  }
  get remotePort(): number {
    return this.inner.remotePort;
  }
  get peerKey(): string | null | undefined {
    return this.inner.peerKey;
  }
  get bufferedBytes(): number {
    return this.queued.reduce((sum, bytes) => sum + bytes.byteLength, 0);
  }
  setEvents(events: StreamEvents): void {
    this.inner.setEvents(events);
  }
  write(bytes: Uint8Array): boolean {
    this.queued.push(bytes);
    return this.inner.write(bytes);
  }
  close(): void {
    this.inner.close();
  }
  reset(): void {
    this.inner.reset();
  }
  /** Lets go of every write up to and including `bytes` (found by identity). */
  drainThrough(bytes: Uint8Array): void {
    const at = this.queued.indexOf(bytes);
    if (at < 0) throw new Error('drainThrough: that chunk was never written or is gone already');
    this.queued.splice(0, at + 1);
    this.events.onDrain();
  }
  drainAll(): void {
    this.queued.splice(0);
    this.events.onDrain();
  }
}

/** A transport whose outgoing P2P streams (anything but the server) are HeldStreams, handed to `onHeld`. */
export class HoldingTransport implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly onHeld: (stream: HeldStream) => void,
  ) {}
  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, onAccept, onReady);
  }
  connect(host: string, port: number, events: StreamEvents): Stream {
    const stream = this.inner.connect(host, port, events);
    if (host === SERVER_ADDRESS) return stream;
    const held = new HeldStream(stream, events);
    this.onHeld(held);
    return held;
  }
}

export interface User {
  readonly name: string;
  readonly host: PeerHost;
  readonly files: MemoryFiles;
  readonly events: ClientEvent[];
  /** For each event: the virtual time it came, and the ref of the command it answers (if any). */
  readonly eventAtMs: number[];
  readonly eventRefs: Array<number | undefined>;
  readonly notes: PeerHostNote[];
  exitCode: number | null;
}

export class Rig {
  readonly clock = new SimClock();
  readonly network = new SimNetwork(this.clock, new Prng(7), { latency: () => 1, bandwidthBytesPerSec: 50_000_000 });
  readonly server: ServerNode;
  /** Both users' file port calls, in order. */
  readonly timeline: string[] = [];
  private nextAddress = 1;
  /** The transport each new user gets, from the network's: a test may wrap it (HoldingTransport). */
  transportOf: (name: string, transport: Transport) => Transport = (_name, transport) => transport;
  /** The hooks each new user's host gets, from the rig's (which log notes): a test may add to them, or give none (undefined). */
  hooksOf: (name: string, hooks: PeerHostHooks) => PeerHostHooks | undefined = (_name, hooks) => hooks;
  /** Each new user's machine configuration over the rig's defaults (a test's own `config` still wins). */
  configOf: (name: string) => Partial<PeerConfig> = () => ({});
  /** Users whose sink has onEvent only (no onExit, no onSettled). */
  readonly eventsOnly = new Set<string>();

  /**
   * server: the server's configuration (its TTL, idle limits...), defaults otherwise.
   * hashCostMs: the virtual time each password check (sign-up hash, login verify) takes.
   */
  constructor(server: ServerTuning = {}, hashCostMs = 1) {
    this.server = new ServerNode(this.clock, this.network, new Prng(8), server, hashCostMs);
    this.server.start();
  }

  /** sealer: seals and opens offline messages (none: the host's own, which seals nothing). */
  addUser(name: string, history?: HistoryStore, config: Partial<PeerConfig> = {}, sealer?: PeerSealer): User {
    const address = `10.0.0.${this.nextAddress++}`;
    const files = new MemoryFiles(this.clock, name, this.timeline);
    const machine = new PeerMachine({ serverHost: SERVER_ADDRESS, serverPort: SERVER_PORT, autoAcceptChat: true, autoAcceptFile: true, idPrefix: name, jitterSeed: this.nextAddress, p2pAdvertiseHost: address, ...this.configOf(name), ...config });
    const user: User = { name, files, events: [], eventAtMs: [], eventRefs: [], notes: [], exitCode: null, host: null as unknown as PeerHost };
    const onEvent = (event: ClientEvent, ref?: number): void => {
      user.events.push(event);
      user.eventAtMs.push(this.clock.nowMs());
      user.eventRefs.push(ref);
    };
    const onExit = (code: number): void => {
      user.exitCode = code;
    };
    const hooks = this.hooksOf(name, { localAddressOf: () => address, onNote: (note) => user.notes.push(note) });
    const host = new PeerHost({
      machine,
      transport: this.transportOf(name, this.network.transport(address)),
      clock: this.clock,
      files,
      ...(history === undefined ? {} : { history }),
      ...(sealer === undefined ? {} : { sealer }),
      sink: this.eventsOnly.has(name) ? { onEvent } : { onEvent, onExit },
      ...(hooks === undefined ? {} : { hooks }),
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

export function fileOf(files: MemoryFiles, name: string, bytes: number): PreparedFile & { readonly sha256: string } {
  const content = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) content[i] = (i * 31 + 7) & 0xff;
  const path = `/src/${name}`;
  files.sources.set(path, content);
  return { path, name, size: bytes, sha256: sha256Hex(content) };
}

