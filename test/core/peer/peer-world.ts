/**
 * A tiny in-memory world for the pure peer machines: the real server machine, any number of peer
 * machines, P2P streams, file I/O and a virtual clock (the quinn-proto way: step the machines,
 * jump the clock to the next deadline). Nothing here touches a socket, a disk or a timer.
 *
 * P2P streams deliver at once unless the receiving end is paused: then the sender's bytes wait in
 * its send queue. After every data write and whenever a paused reader reads, the world tells the
 * sender how many data bytes have left that queue (`p2p.flushed`), as the client runtime does
 * with Stream.bufferedBytes; the peak of each queue is recorded. File reads complete one settle round after they were asked for, from in-memory
 * sources (or wait on a slow disk, slowDisk, until releaseReads); received files are hashed as they are written, never kept whole.
 */
import { createHash, type Hash } from 'node:crypto';
import { encodeControl, encodeData } from '../../../core/codec.ts';
import type { PeerCommand } from '../../../core/peer/commands.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { type PeerConfig, type PeerEffect, type PeerInput, PeerMachine } from '../../../core/peer/machine.ts';
import { ReadHash } from '../../../core/peer/read-hash.ts';
import { type ServerConfig, type ServerEffect, ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore } from '../../../core/store.ts';
import { SqliteHistory } from '../../../cli/client/history-store.ts';

export const TTL_MS = 9_000;

interface Link {
  readonly peer: string;
  readonly linkId: number;
}

export class World {
  nowMs = 1_000_000;
  server: ServerMachine;
  /** What the server persisted: a restart (restartServer) keeps the accounts, forgets the logins. */
  private readonly store = new MemoryStore();
  readonly peers = new Map<string, PeerMachine>();
  readonly events = new Map<string, ClientEvent[]>();
  /** The ref of each event that answered a command given with one (the headless `ref`). */
  readonly refOf = new WeakMap<ClientEvent, number>();
  readonly exits = new Map<string, number>();
  /** Each peer's history: the client's own SQLite store, in memory. */
  readonly histories = new Map<string, SqliteHistory>();
  private readonly links = new Map<number, Link>();
  private readonly connOf = new Map<string, number>();
  private readonly p2pPeerByPort = new Map<number, string>();
  /** The key each peer proves on its P2P links (its identity's signKey unless a test says otherwise: a man in the middle). */
  readonly presentedKey = new Map<string, string | null>();
  /** Open P2P streams: `${peer}|${streamId}` → the other end. */
  private readonly p2p = new Map<string, { peer: string; streamId: string }>();
  private nextConnId = 1;
  private nextAccepted = 1;
  private tokenSeq = 0;
  serverUp = true;
  /** Files to send: path → bytes. */
  readonly sources = new Map<string, Uint8Array>();
  /** Temporary files being received: `${peer}|${transferId}` → running hash. */
  private readonly partial = new Map<string, { hash: Hash; bytes: number; sha256: string | null }>();
  /** The sender's file hash of each outgoing transfer, fed by its reads (`${peer}|${transferId}`). */
  private readonly sending = new Map<string, ReadHash>();
  /** Rehash requests seen (`${peer}|${transferId}|${bytes}`): a resume re-verifies the prefix. */
  readonly rehashed: string[] = [];
  /** Files moved into place: `${peer}|${transferId}` → their SHA-256 and length. */
  readonly committed = new Map<string, { sha256: string; bytes: number }>();
  /** Temporary files deleted: `${peer}|${transferId}`. */
  readonly discarded: string[] = [];
  /** File operations asked for and not yet completed (they complete when the world is quiet). */
  private pendingIo: Array<() => void> = [];
  /** Transfers whose file reads wait on a slow disk: asked for, answered only by releaseReads. */
  readonly slowDisk = new Set<string>();
  /** The reads the slow disk holds, in the order asked. */
  readonly heldReads: Array<{ readonly peer: string; readonly read: Extract<PeerEffect, { type: 'file.read' }> }> = [];
  /** Peers that do not read their P2P streams: bytes to them wait in the sender's send queue. */
  readonly pausedReaders = new Set<string>();
  /** Send queues of P2P stream ends: `${peer}|${streamId}` → frames not yet delivered. */
  private readonly sendQueues = new Map<string, Uint8Array[]>();
  /** Data-frame bytes written to each stream end so far. */
  private readonly dataWritten = new Map<string, number>();
  /** The largest send queue each stream end ever had after a write. */
  readonly peakQueuedBytes = new Map<string, number>();
  /**
   * How delivered P2P bytes are cut into reads, as a socket cuts them (null: one read per frame).
   * Each piece is copied into its own buffer, as a socket read is.
   */
  deliverySplit: ((bytes: Uint8Array) => Uint8Array[]) | null = null;
  /** Rewrites the control frames a peer sends over P2P (a hostile peer's), or null. */
  p2pRewrite: ((from: string, frame: P2pFrame) => P2pFrame) | null = null;
  /**
   * The next server frame of this type to this peer is lost with its connection: the server sent
   * it, the link drops before the peer reads it (a blip at the worst moment). Cleared once used.
   */
  cutBeforeFrame: { readonly peer: string; readonly type: string } | null = null;
  /**
   * The server's frames of this type to this peer are held up on the way (as a partition of that
   * peer holds them in the stream) until releaseHeld: the link lives, the frame comes late.
   */
  holdFrames: { readonly peer: string; readonly type: string } | null = null;
  /** Peers whose outgoing P2P connects hang (a SYN unanswered): the stream stays in ExpectOpen until the test ends it. */
  readonly hangingConnects = new Set<string>();
  /** The frames holdFrames held, in order, with the connection they were sent on. */
  readonly heldFrames: Array<{ readonly connId: number; readonly frame: Extract<ServerEffect, { type: 'send' }>['frame'] }> = [];

  constructor() {
    this.server = new ServerMachine(this.store.load(), { ttlMs: TTL_MS, newToken: () => `tok${++this.tokenSeq}` });
  }

  /** The server process restarts: every link drops, resume tokens are gone, accounts stay. */
  restartServer(config: Partial<Omit<ServerConfig, 'newToken'>> = {}): void {
    this.server = new ServerMachine(this.store.load(), { ttlMs: TTL_MS, ...config, newToken: () => `tok${++this.tokenSeq}` });
    for (const name of [...this.connOf.keys()]) this.cutServerLink(name);
  }

  addPeer(name: string, p2pPort: number, config: Partial<PeerConfig> = {}): PeerMachine {
    const machine = new PeerMachine({ idPrefix: name, jitterSeed: p2pPort, autoAcceptChat: true, ...config });
    this.peers.set(name, machine);
    this.events.set(name, []);
    if (!this.histories.has(name)) this.histories.set(name, new SqliteHistory({ dataDir: null }));
    this.p2pPeerByPort.set(p2pPort, name);
    this.input(name, { type: 'start', p2pHost: '127.0.0.1', p2pPort });
    return machine;
  }

  input(name: string, input: PeerInput): void {
    this.peers.get(name)!.handle(input, this.nowMs);
    this.settle();
  }

  command(name: string, command: PeerCommand): void {
    this.input(name, { type: 'command', command });
  }

  peer(name: string): PeerMachine {
    return this.peers.get(name)!;
  }

  eventsOf(name: string, event: string): ClientEvent[] {
    return (this.events.get(name) ?? []).filter((e) => e.event === event);
  }

  /** Delivers the frames holdFrames held (on connections still open) and stops holding. */
  releaseHeld(): void {
    this.holdFrames = null;
    for (const { connId, frame } of this.heldFrames.splice(0)) {
      const link = this.links.get(connId);
      if (link !== undefined) this.peers.get(link.peer)!.handle({ type: 'server.bytes', linkId: link.linkId, bytes: encodeControl(frame) }, this.nowMs);
    }
    this.settle();
  }

  /** Drops a peer's server connection, as a network blip would (both ends see a close). */
  cutServerLink(name: string): void {
    const connId = this.connOf.get(name);
    if (connId === undefined) return;
    this.closeConn(connId);
    this.settle();
  }

  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (let i = 0; i < 100_000; i++) {
      const next = this.nextDeadline();
      if (next === null || next > target) break;
      this.nowMs = Math.max(this.nowMs, next);
      this.server.handleTimeout(this.nowMs);
      for (const machine of this.peers.values()) machine.handleTimeout(this.nowMs);
      this.settle();
    }
    this.nowMs = target;
  }

  private nextDeadline(): number | null {
    const all = [this.server.nextTimeoutMs(), ...[...this.peers.values()].map((m) => m.nextTimeoutMs())].filter((t): t is number => t !== null);
    return all.length === 0 ? null : Math.min(...all);
  }

  /** A paused reader reads whole frames, at least `bytes` of them, from every stream to it. */
  readSome(name: string, bytes: number): void {
    for (const [key, queue] of this.sendQueues) {
      const other = this.p2p.get(key);
      if (other?.peer !== name) continue;
      let delivered = 0;
      while (delivered < bytes && queue.length > 0) {
        const frame = queue.shift()!;
        delivered += frame.byteLength;
        this.peers.get(name)!.handle({ type: 'p2p.bytes', streamId: other.streamId, bytes: frame }, this.nowMs);
      }
      this.reportFlushed(key);
    }
    this.settle();
  }

  /** `from` sends `to` a raw P2P control frame over their open stream (a hostile or buggy friend). */
  injectP2p(from: string, to: string, frame: Record<string, unknown>): void {
    for (const [key, other] of this.p2p) {
      if (!key.startsWith(`${from}|`) || other.peer !== to) continue;
      this.peers.get(to)!.handle({ type: 'p2p.bytes', streamId: other.streamId, bytes: encodeControl(frame) }, this.nowMs);
      this.settle();
      return;
    }
    throw new Error(`no P2P stream from ${from} to ${to}`);
  }

  /** The slow disk answers every read it held, in order, and is slow no more. */
  releaseReads(): void {
    this.slowDisk.clear();
    for (const { peer, read } of this.heldReads.splice(0)) this.pendingIo.push(() => this.read(peer, read));
    this.settle();
  }

  /** Resets the P2P connection between two peers (both ends see it close; queued bytes are lost). */
  cutP2p(a: string, b: string): void {
    for (const [key, other] of [...this.p2p]) {
      if (!key.startsWith(`${a}|`) || other.peer !== b) continue;
      const streamId = key.slice(a.length + 1);
      this.p2p.delete(key);
      this.p2p.delete(`${other.peer}|${other.streamId}`);
      this.sendQueues.delete(key);
      this.sendQueues.delete(`${other.peer}|${other.streamId}`);
      this.peers.get(a)!.handle({ type: 'p2p.closed', streamId, error: 'ECONNRESET' }, this.nowMs);
      this.peers.get(b)!.handle({ type: 'p2p.closed', streamId: other.streamId, error: 'ECONNRESET' }, this.nowMs);
    }
    this.settle();
  }

  queuedBytes(key: string): number {
    return (this.sendQueues.get(key) ?? []).reduce((sum, frame) => sum + frame.byteLength, 0);
  }

  /** What the client runtime does after a data write and on drain: tell the sender what left the queue. */
  private reportFlushed(key: string): void {
    const queued = this.queuedBytes(key);
    this.peakQueuedBytes.set(key, Math.max(this.peakQueuedBytes.get(key) ?? 0, queued));
    const bytes = Math.max(0, (this.dataWritten.get(key) ?? 0) - queued);
    const [peer, streamId] = [key.slice(0, key.indexOf('|')), key.slice(key.indexOf('|') + 1)];
    this.peers.get(peer)?.handle({ type: 'p2p.flushed', streamId, bytes }, this.nowMs);
  }

  /** Carries out effects until every machine is quiet and no file operation is pending (bounded). */
  private keyOf(name: string): string | null {
    return this.presentedKey.has(name) ? this.presentedKey.get(name)! : (this.peers.get(name)?.config.identity?.signKey ?? null);
  }

  private settle(): void {
    for (let round = 0; round < 1_000_000; round++) {
      let quiet = true;
      const serverEffects = this.server.takeEffects();
      if (serverEffects.length > 0) quiet = false;
      for (const effect of serverEffects) this.serverEffect(effect);
      for (const [name, machine] of this.peers) {
        const effects = machine.takeEffects();
        if (effects.length > 0) quiet = false;
        for (const effect of effects) this.peerEffect(name, effect);
      }
      if (quiet) {
        if (this.pendingIo.length === 0) return;
        const io = this.pendingIo;
        this.pendingIo = [];
        for (const complete of io) complete();
      }
    }
    throw new Error('world did not settle');
  }

  private serverEffect(effect: ServerEffect): void {
    switch (effect.type) {
      case 'send': {
        const link = this.links.get(effect.connId);
        if (link !== undefined && this.cutBeforeFrame?.peer === link.peer && this.cutBeforeFrame.type === effect.frame.type) {
          this.cutBeforeFrame = null;
          return this.closeConn(effect.connId);
        }
        if (link !== undefined && this.holdFrames?.peer === link.peer && this.holdFrames.type === effect.frame.type) {
          this.heldFrames.push({ connId: effect.connId, frame: effect.frame });
          return;
        }
        if (link !== undefined) this.peers.get(link.peer)!.handle({ type: 'server.bytes', linkId: link.linkId, bytes: encodeControl(effect.frame) }, this.nowMs);
        return;
      }
      case 'close':
        return this.closeConn(effect.connId);
      case 'hash':
        return this.server.handle({ type: 'hashed', jobId: effect.jobId, passwordHash: `h:${effect.password}` }, this.nowMs);
      case 'verify':
        return this.server.handle({ type: 'verified', jobId: effect.jobId, ok: effect.passwordHash === `h:${effect.password}` }, this.nowMs);
      case 'persist':
        this.store.apply([effect.op]);
        return;
      case 'commit':
        return this.server.handle({ type: 'committed', jobId: effect.jobId, refused: this.store.apply(effect.ops) !== null }, this.nowMs);
    }
  }

  private closeConn(connId: number): void {
    const link = this.links.get(connId);
    if (link === undefined) return;
    this.links.delete(connId);
    if (this.connOf.get(link.peer) === connId) this.connOf.delete(link.peer);
    this.server.handle({ type: 'closed', connId }, this.nowMs);
    this.peers.get(link.peer)!.handle({ type: 'server.closed', linkId: link.linkId, error: null }, this.nowMs);
  }

  private peerEffect(name: string, effect: PeerEffect): void {
    const machine = this.peers.get(name)!;
    switch (effect.type) {
      case 'server.connect': {
        if (!this.serverUp) {
          machine.handle({ type: 'server.closed', linkId: effect.linkId, error: 'ECONNREFUSED' }, this.nowMs);
          return;
        }
        const connId = this.nextConnId++;
        this.links.set(connId, { peer: name, linkId: effect.linkId });
        this.connOf.set(name, connId);
        machine.handle({ type: 'server.open', linkId: effect.linkId, localAddress: '127.0.0.1' }, this.nowMs);
        this.server.handle({ type: 'open', connId, remoteAddress: '127.0.0.1' }, this.nowMs);
        return;
      }
      case 'server.send': {
        const connId = this.connOf.get(name);
        if (connId !== undefined && this.links.get(connId)?.linkId === effect.linkId) {
          this.server.handle({ type: 'bytes', connId, bytes: encodeControl(effect.frame) }, this.nowMs);
        }
        return;
      }
      case 'server.close': {
        const connId = this.connOf.get(name);
        if (connId !== undefined && this.links.get(connId)?.linkId === effect.linkId) this.closeConn(connId);
        return;
      }
      case 'p2p.connect': {
        if (this.hangingConnects.has(name)) return;
        const target = this.p2pPeerByPort.get(effect.port);
        if (target === undefined) return machine.handle({ type: 'p2p.closed', streamId: effect.streamId, error: 'ECONNREFUSED' }, this.nowMs);
        const accepted = `in:${this.nextAccepted++}`;
        this.p2p.set(`${name}|${effect.streamId}`, { peer: target, streamId: accepted });
        this.p2p.set(`${target}|${accepted}`, { peer: name, streamId: effect.streamId });
        this.peers.get(target)!.handle({ type: 'p2p.accepted', streamId: accepted, remoteAddress: '127.0.0.1', peerKey: this.keyOf(name) }, this.nowMs);
        machine.handle({ type: 'p2p.open', streamId: effect.streamId, peerKey: this.keyOf(target) }, this.nowMs);
        return;
      }
      case 'p2p.send':
      case 'p2p.data': {
        const key = `${name}|${effect.streamId}`;
        const other = this.p2p.get(key);
        if (other === undefined) return;
        const bytes = effect.type === 'p2p.send' ? encodeControl(this.p2pRewrite?.(name, effect.frame) ?? effect.frame) : encodeData(effect.wireStream, effect.offset, effect.bytes);
        if (this.pausedReaders.has(other.peer)) {
          const queue = this.sendQueues.get(key) ?? [];
          queue.push(bytes);
          this.sendQueues.set(key, queue);
        } else {
          const receiver = this.peers.get(other.peer)!;
          const pieces = this.deliverySplit === null ? [bytes] : this.deliverySplit(bytes).map((piece) => piece.slice());
          for (const piece of pieces) receiver.handle({ type: 'p2p.bytes', streamId: other.streamId, bytes: piece }, this.nowMs);
        }
        if (effect.type === 'p2p.data') {
          this.dataWritten.set(key, (this.dataWritten.get(key) ?? 0) + bytes.byteLength);
          this.reportFlushed(key);
        }
        return;
      }
      case 'p2p.close':
      case 'p2p.reset': {
        const other = this.p2p.get(`${name}|${effect.streamId}`);
        this.p2p.delete(`${name}|${effect.streamId}`);
        if (other === undefined) return;
        this.p2p.delete(`${other.peer}|${other.streamId}`);
        machine.handle({ type: 'p2p.closed', streamId: effect.streamId, error: null }, this.nowMs);
        this.peers.get(other.peer)!.handle({ type: 'p2p.closed', streamId: other.streamId, error: null }, this.nowMs);
        return;
      }
      case 'event':
        this.events.get(name)!.push(effect.event);
        if (effect.ref !== undefined) this.refOf.set(effect.event, effect.ref);
        return;
      case 'exit':
        this.exits.set(name, effect.code);
        return;
      case 'history.append':
        this.histories.get(name)!.append(effect.account, effect.entry);
        if (effect.confirm) machine.handle({ type: 'history.stored', friend: effect.entry.friend, id: effect.entry.id }, this.nowMs);
        return;
      case 'history.mark':
        this.histories.get(name)!.mark(effect.account, effect.mark);
        return;
      case 'history.fail-queued':
        this.histories.get(name)!.failQueued(effect.account, effect.friend);
        return;
      case 'history.fail-queued-except':
        this.histories.get(name)!.failQueuedExcept(effect.account, effect.friends);
        return;
      case 'history.page':
        machine.handle({ type: 'history.answer', queryId: effect.queryId, messages: this.histories.get(name)!.page(effect.account, effect.friend, effect.limit, effect.before) }, this.nowMs);
        return;
      case 'history.search':
        machine.handle(
          { type: 'history.answer', queryId: effect.queryId, messages: this.histories.get(name)!.search(effect.account, effect.text, effect.friend, effect.limit) },
          this.nowMs,
        );
        return;
      case 'file.read':
        if (this.slowDisk.has(effect.transferId)) this.heldReads.push({ peer: name, read: effect });
        else this.pendingIo.push(() => this.read(name, effect));
        return;
      case 'file.digest':
        this.pendingIo.push(() => {
          const { transferId, epoch } = effect;
          machine.handle({ type: 'file.digested', transferId, epoch, sha256: this.readHash(name, transferId).digest() }, this.nowMs);
        });
        return;
      case 'file.rehash':
        // The download's hash lives in memory here: nothing on a disk to read again.
        this.rehashed.push(`${name}|${effect.transferId}|${String(effect.bytes)}`);
        this.pendingIo.push(() => machine.handle({ type: 'file.rehashed', transferId: effect.transferId, epoch: effect.epoch }, this.nowMs));
        return;
      case 'file.open':
        this.partial.set(`${name}|${effect.transferId}`, { hash: createHash('sha256'), bytes: 0, sha256: null });
        return;
      case 'file.write':
        this.pendingIo.push(() => {
          const file = this.partial.get(`${name}|${effect.transferId}`);
          if (file === undefined) return machine.handle({ type: 'file.io-failed', transferId: effect.transferId }, this.nowMs);
          file.hash.update(effect.bytes);
          file.bytes += effect.bytes.byteLength;
          machine.handle({ type: 'file.written', transferId: effect.transferId, offset: effect.offset + effect.bytes.byteLength }, this.nowMs);
        });
        return;
      case 'file.finish':
        this.pendingIo.push(() => {
          const file = this.partial.get(`${name}|${effect.transferId}`);
          if (file === undefined) return machine.handle({ type: 'file.io-failed', transferId: effect.transferId }, this.nowMs);
          file.sha256 = file.hash.digest('hex');
          machine.handle({ type: 'file.hashed', transferId: effect.transferId, sha256: file.sha256 }, this.nowMs);
        });
        return;
      case 'file.commit':
        this.pendingIo.push(() => {
          const key = `${name}|${effect.transferId}`;
          const file = this.partial.get(key);
          if (file?.sha256 == null) return machine.handle({ type: 'file.io-failed', transferId: effect.transferId }, this.nowMs);
          this.partial.delete(key);
          this.committed.set(key, { sha256: file.sha256, bytes: file.bytes });
          machine.handle({ type: 'file.committed', transferId: effect.transferId, path: `/downloads/${effect.name}` }, this.nowMs);
        });
        return;
      case 'file.discard':
        this.partial.delete(`${name}|${effect.transferId}`);
        this.discarded.push(`${name}|${effect.transferId}`);
        return;
    }
  }

  private read(name: string, effect: Extract<PeerEffect, { type: 'file.read' }>): void {
    const machine = this.peers.get(name)!;
    const source = this.sources.get(effect.path);
    const { transferId, epoch, offset } = effect;
    if (source === undefined) return machine.handle({ type: 'file.read-failed', transferId, epoch }, this.nowMs);
    const chunk = source.subarray(offset, offset + effect.bytes);
    this.readHash(name, transferId).feed(offset, chunk);
    machine.handle({ type: 'file.chunk', transferId, epoch, offset, bytes: chunk }, this.nowMs);
  }

  private readHash(name: string, transferId: string): ReadHash {
    const key = `${name}|${transferId}`;
    let hash = this.sending.get(key);
    if (hash === undefined) {
      hash = new ReadHash(createHash('sha256'));
      this.sending.set(key, hash);
    }
    return hash;
  }
}

export function twoFriends(config: Partial<PeerConfig> = {}): World {
  const world = new World();
  world.addPeer('alice', 7001, config);
  world.addPeer('bob', 7002, config);
  for (const name of ['alice', 'bob']) {
    world.command(name, { cmd: 'signup', username: name, password: `${name}-password` });
    world.command(name, { cmd: 'login', username: name, password: `${name}-password` });
  }
  world.command('alice', { cmd: 'friend.request', username: 'bob' });
  world.command('bob', { cmd: 'friend.accept', username: 'alice' });
  return world;
}

/** carol joins (signs up and logs in on port 7003) and becomes `friend`'s friend (she asks, they accept). */
export function carolJoins(world: World, friend: string): void {
  world.addPeer('carol', 7003);
  world.command('carol', { cmd: 'signup', username: 'carol', password: 'carol-password' });
  world.command('carol', { cmd: 'login', username: 'carol', password: 'carol-password' });
  world.command('carol', { cmd: 'friend.request', username: friend });
  world.command(friend, { cmd: 'friend.accept', username: 'carol' });
}

/** Every effect `name`'s machine hands the world from now on, in order. */
export function recordEffects(world: World, name: string): PeerEffect[] {
  const seen: PeerEffect[] = [];
  const machine = world.peer(name);
  const take = machine.takeEffects.bind(machine);
  machine.takeEffects = () => {
    const effects = take();
    seen.push(...effects);
    return effects;
  };
  return seen;
}

/** alice asked bob for a session and sent her hello; bob has not read it: alice waits for hello.ok. */
export function aliceAwaitingHelloOk(config: Partial<PeerConfig> = {}): World {
  const world = twoFriends(config);
  world.pausedReaders.add('bob');
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  if (world.eventsOf('alice', 'chat.opened').length > 0) throw new Error('the session opened: bob read the hello');
  return world;
}

/** Bob said yes to alice's chat.open; alice's session.established is held up on the way (releaseHeld delivers it): the world and the token her hello would bring. */
export function heldCallerToken(): { world: World; token: string } {
  const world = twoFriends({ autoAcceptChat: false });
  world.holdFrames = { peer: 'alice', type: 'session.established' };
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  world.command('bob', { cmd: 'chat.answer', username: 'alice', accept: true });
  const held = world.heldFrames[0]?.frame;
  if (held?.type !== 'session.established') throw new Error('no session.established held for alice');
  return { world, token: held.token };
}
