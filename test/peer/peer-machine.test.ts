/**
 * The peer machine against the real server machine, both pure, wired by a tiny in-memory world
 * with a virtual clock (the quinn-proto way: step the machines, jump the clock to the next
 * deadline). Proves the server-link behaviour that is hard to time over real TCP: a short network
 * blip resumes with the token and causes no offline/online flap at the friends; heartbeats keep
 * an idle user online; reconnect delays are bounded and jittered; quit logs out first.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl, encodeData } from '../../core/codec.ts';
import { RECONNECT_DELAY_MS_MAX } from '../../core/limits.ts';
import { Backoff } from '../../core/peer/backoff.ts';
import type { PeerCommand } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import { type PeerEffect, type PeerInput, PeerMachine } from '../../core/peer/machine.ts';
import { type ServerEffect, ServerMachine } from '../../core/server/machine.ts';
import { MemoryStore } from '../../core/store.ts';

const TTL_MS = 9_000;

interface Link {
  readonly peer: string;
  readonly linkId: number;
}

class World {
  nowMs = 1_000_000;
  readonly server: ServerMachine;
  readonly peers = new Map<string, PeerMachine>();
  readonly events = new Map<string, ClientEvent[]>();
  readonly exits = new Map<string, number>();
  private readonly links = new Map<number, Link>();
  private readonly connOf = new Map<string, number>();
  private readonly p2pPeerByPort = new Map<number, string>();
  /** Open P2P streams: `${peer}|${streamId}` → the other end. */
  private readonly p2p = new Map<string, { peer: string; streamId: string }>();
  private nextConnId = 1;
  private nextAccepted = 1;
  private tokenSeq = 0;
  serverUp = true;

  constructor() {
    this.server = new ServerMachine(new MemoryStore().load(), { ttlMs: TTL_MS, newToken: () => `tok${++this.tokenSeq}` });
  }

  addPeer(name: string, p2pPort: number): PeerMachine {
    const machine = new PeerMachine({ idPrefix: name, jitterSeed: p2pPort, autoAcceptChat: true });
    this.peers.set(name, machine);
    this.events.set(name, []);
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

  eventsOf(name: string, event: string): ClientEvent[] {
    return (this.events.get(name) ?? []).filter((e) => e.event === event);
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

  /** Carries out effects until every machine is quiet (bounded). */
  private settle(): void {
    for (let round = 0; round < 10_000; round++) {
      let quiet = true;
      const serverEffects = this.server.takeEffects();
      if (serverEffects.length > 0) quiet = false;
      for (const effect of serverEffects) this.serverEffect(effect);
      for (const [name, machine] of this.peers) {
        const effects = machine.takeEffects();
        if (effects.length > 0) quiet = false;
        for (const effect of effects) this.peerEffect(name, effect);
      }
      if (quiet) return;
    }
    throw new Error('world did not settle');
  }

  private serverEffect(effect: ServerEffect): void {
    switch (effect.type) {
      case 'send': {
        const link = this.links.get(effect.connId);
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
        return;
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
        const target = this.p2pPeerByPort.get(effect.port);
        if (target === undefined) return machine.handle({ type: 'p2p.closed', streamId: effect.streamId, error: 'ECONNREFUSED' }, this.nowMs);
        const accepted = `in:${this.nextAccepted++}`;
        this.p2p.set(`${name}|${effect.streamId}`, { peer: target, streamId: accepted });
        this.p2p.set(`${target}|${accepted}`, { peer: name, streamId: effect.streamId });
        this.peers.get(target)!.handle({ type: 'p2p.accepted', streamId: accepted, remoteAddress: '127.0.0.1' }, this.nowMs);
        machine.handle({ type: 'p2p.open', streamId: effect.streamId }, this.nowMs);
        return;
      }
      case 'p2p.send':
      case 'p2p.data': {
        const other = this.p2p.get(`${name}|${effect.streamId}`);
        if (other === undefined) return;
        const bytes = effect.type === 'p2p.send' ? encodeControl(effect.frame) : encodeData(effect.wireStream, effect.offset, effect.bytes);
        this.peers.get(other.peer)!.handle({ type: 'p2p.bytes', streamId: other.streamId, bytes }, this.nowMs);
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
        return;
      case 'exit':
        this.exits.set(name, effect.code);
        return;
      default:
        return; // file I/O: not exercised here
    }
  }
}

function twoFriends(): World {
  const world = new World();
  world.addPeer('alice', 7001);
  world.addPeer('bob', 7002);
  for (const name of ['alice', 'bob']) {
    world.command(name, { cmd: 'signup', username: name, password: `${name}-password` });
    world.command(name, { cmd: 'login', username: name, password: `${name}-password` });
  }
  world.command('alice', { cmd: 'friend.request', username: 'bob' });
  world.command('bob', { cmd: 'friend.accept', username: 'alice' });
  return world;
}

describe('peer machine with the server machine, in memory', () => {
  it('says ready, signs up, logs in and befriends', () => {
    const world = twoFriends();
    expect(world.eventsOf('alice', 'ready')).toHaveLength(1);
    expect(world.eventsOf('alice', 'login.ok')).toHaveLength(1);
    expect(world.eventsOf('alice', 'friend.added')).toEqual([{ event: 'friend.added', username: 'bob', nickname: 'bob', status: 'online' }]);
  });

  it('a short blip resumes with the token: disconnected, reconnected, and no presence flap at the friend', () => {
    const world = twoFriends();
    const presenceBefore = world.eventsOf('bob', 'presence').length;
    world.cutServerLink('alice');
    expect(world.eventsOf('alice', 'disconnected')).toHaveLength(1);
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    // The resumed login's friend list is handed over, so what changed during the blip shows.
    expect(world.eventsOf('alice', 'friends').at(-1)).toMatchObject({ friends: [{ username: 'bob', status: 'online' }] });
    expect(world.eventsOf('bob', 'presence')).toHaveLength(presenceBefore);
    expect(world.server.stats().resumes).toBe(1);
    expect(world.server.isOnline('alice')).toBe(true);
  });

  it('a blip keeps the P2P session and its messages flowing', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    world.cutServerLink('alice');
    world.cutServerLink('bob');
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'during the blip', id: 1 });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([{ event: 'chat.message', from: 'alice', text: 'during the blip', id: 1 }]);
    expect(world.eventsOf('alice', 'chat.sent')).toEqual([{ event: 'chat.sent', username: 'bob', id: 1 }]);
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
  });

  it('heartbeats keep an idle user online for many TTLs', () => {
    const world = twoFriends();
    world.advance(TTL_MS * 5);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.eventsOf('bob', 'presence').filter((e) => 'status' in e && e.status === 'offline')).toEqual([]);
  });

  it('retries a server that is down with bounded delays, then logs back in', () => {
    const world = twoFriends();
    world.serverUp = false;
    world.cutServerLink('alice');
    world.advance(60_000);
    expect(world.eventsOf('alice', 'disconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(0);
    world.serverUp = true;
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.server.isOnline('alice')).toBe(true);
  });

  it('quit logs out first, then exits 0', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'quit' });
    expect(world.eventsOf('alice', 'logout.ok')).toHaveLength(1);
    expect(world.exits.get('alice')).toBe(0);
    expect(world.eventsOf('bob', 'presence').at(-1)).toEqual({ event: 'presence', username: 'alice', status: 'offline' });
  });

  it('backoff delays grow, stay within [min/2, max] and differ between seeds', () => {
    const a = new Backoff(1);
    const b = new Backoff(2);
    const delaysA = Array.from({ length: 12 }, () => a.nextDelayMs());
    const delaysB = Array.from({ length: 12 }, () => b.nextDelayMs());
    for (const delay of [...delaysA, ...delaysB]) {
      expect(delay).toBeGreaterThanOrEqual(125);
      expect(delay).toBeLessThanOrEqual(RECONNECT_DELAY_MS_MAX);
    }
    expect(delaysA.at(-1)).toBeGreaterThan(delaysA[0]!);
    expect(delaysA).not.toEqual(delaysB);
  });
});
