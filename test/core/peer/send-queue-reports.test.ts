/**
 * The runtime's reports of what left a P2P stream's send queue (`p2p.flushed`, core/peer/machine.ts
 * onFlushed) only ever open the room the stream really has: a report claiming more than was ever
 * written (a runtime bug, or a count that wrapped) cannot let the sender queue past
 * P2P_SEND_QUEUE_BYTES_MAX, and reports about streams that carry no session change nothing. In the
 * pure world (peer-world.ts): real server and peer machines, in memory.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { P2P_SEND_QUEUE_BYTES_MAX } from '../../../core/limits.ts';
import { type World, aliceAwaitingHelloOk, recordEffects, twoFriends } from './peer-world.ts';

/** alice sends bob two large files he accepted and then reads nothing: alice's queue to him is full. */
function fullQueue(): { world: World; key: string } {
  const world = twoFriends();
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  const files = [0, 1].map((i) => {
    const path = `/src/f${i}.bin`;
    world.sources.set(path, new Uint8Array(6 * 1024 * 1024).fill(i));
    return { path, name: `f${i}.bin`, size: 6 * 1024 * 1024 };
  });
  world.command('alice', { cmd: 'file.send', username: 'bob', files });
  world.pausedReaders.add('bob');
  for (const offer of world.eventsOf('bob', 'file.offer')) {
    world.command('bob', { cmd: 'file.answer', transferId: String((offer as { transferId: string }).transferId), accept: true });
  }
  const key = 'alice|out:1';
  expect(world.queuedBytes(key)).toBeGreaterThan(P2P_SEND_QUEUE_BYTES_MAX / 2);
  expect(world.queuedBytes(key)).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX);
  return { world, key };
}

describe('p2p.flushed reports', () => {
  it('a report of more bytes gone than were ever written opens no more room than the stream has', () => {
    const { world, key } = fullQueue();
    const queued = world.queuedBytes(key);
    world.input('alice', { type: 'p2p.flushed', streamId: 'out:1', bytes: 1e12 });
    // Everything written counts as gone (no more), so at most one queue's worth more may follow.
    expect(world.queuedBytes(key)).toBeLessThanOrEqual(queued + P2P_SEND_QUEUE_BYTES_MAX);
  });

  it('reports about a stream no session uses, or one the machine never had, change nothing', () => {
    const { world, key } = fullQueue();
    const queued = world.queuedBytes(key);
    world.peer('alice').handle({ type: 'p2p.accepted', streamId: 'in:stranger', remoteAddress: '10.0.0.9', peerKey: null }, world.nowMs);
    world.input('alice', { type: 'p2p.flushed', streamId: 'in:stranger', bytes: 1e12 });
    world.input('alice', { type: 'p2p.flushed', streamId: 'nowhere', bytes: 1e12 });
    expect(world.queuedBytes(key)).toBe(queued);
  });

  it('a report about a stream still greeting (our hello sent, no session yet) changes nothing, and the session opens as usual', () => {
    const world = aliceAwaitingHelloOk();
    world.input('alice', { type: 'p2p.flushed', streamId: 'out:1', bytes: 0 });
    world.pausedReaders.delete('bob');
    world.readSome('bob', Number.POSITIVE_INFINITY);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });

  it('a report about our greeting stream to a friend frees no room on the session already open with that friend (two sessions crossing)', () => {
    const world = twoFriends();
    world.pausedReaders.add('bob');
    // alice calls (out:1, her hello unread at bob); bob calls too and alice takes his stream as her session.
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    const effects = recordEffects(world, 'alice');
    world.sources.set('/src/big.bin', new Uint8Array(6 * 1024 * 1024).fill(3));
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/src/big.bin', name: 'big.bin', size: 6 * 1024 * 1024 }] });
    const offer = effects.find((e) => e.type === 'p2p.send' && e.frame.type === 'file.offer');
    if (offer?.type !== 'p2p.send' || offer.frame.type !== 'file.offer') throw new Error('no offer sent');
    const session = offer.streamId;
    expect(session).not.toBe('out:1');
    // bob's accept, as his client would send it on that session: alice fills the session's queue.
    const transferId = offer.frame.files[0]!.transferId;
    world.input('alice', { type: 'p2p.bytes', streamId: session, bytes: encodeControl({ type: 'file.accept', transferId, offset: 0, limit: 6 * 1024 * 1024 }) });
    const queued = world.queuedBytes(`alice|${session}`);
    expect(queued).toBeGreaterThan(P2P_SEND_QUEUE_BYTES_MAX / 2);
    world.input('alice', { type: 'p2p.flushed', streamId: 'out:1', bytes: 1e12 });
    expect(world.queuedBytes(`alice|${session}`)).toBe(queued);
  });

  it('the transfers still finish once the reader reads again', () => {
    const { world } = fullQueue();
    for (let round = 0; round < 10_000 && world.committed.size < 2; round++) world.readSome('bob', 256 * 1024);
    expect(world.eventsOf('alice', 'file.sent')).toHaveLength(2);
  });

  it('room that opens on the stream goes to its transfers in turn: two files share a slow reader, neither waits for the other to finish', () => {
    const { world } = fullQueue();
    const progress = (): Map<string, number> => {
      const latest = new Map<string, number>();
      for (const e of world.eventsOf('bob', 'file.progress') as Array<{ transferId: string; bytes: number }>) latest.set(e.transferId, e.bytes);
      return latest;
    };
    // A slow reader: 64 KiB each 100 ms (file.progress is told at most so often).
    for (let round = 0; round < 10_000 && world.eventsOf('bob', 'file.received').length === 0; round++) {
      world.readSome('bob', 64 * 1024);
      world.advance(100);
    }
    const [first] = world.eventsOf('bob', 'file.received') as Array<{ transferId: string }>;
    const other = [...progress()].find(([transferId]) => transferId !== first!.transferId);
    // When the first file is in, the other is well on its way (at least a third), not still at its start.
    expect(other?.[1] ?? 0).toBeGreaterThan((6 * 1024 * 1024) / 3);
  });
});
