/**
 * The send room of a P2P stream (core/peer/machine.ts gateFor, sendRoom, onFlushed, pumpReads):
 * the data frames queued on a stream plus the chunks being read for it, each counted with its
 * frame's header, never pass P2P_SEND_QUEUE_BYTES_MAX, not by one byte; the room is used to the
 * byte; it is counted per stream, so one friend's reads leave another friend's room alone; and
 * room a slow reader frees goes to the stream's sending transfers in turn. In the pure world
 * (peer-world.ts): bob (or carol) stops reading, and what alice writes waits in her send queue.
 */
import { describe, expect, it } from 'vitest';
import { DATA_HEADER_BYTES, FRAME_HEADER_BYTES } from '../../../core/codec.ts';
import { FILE_CHUNK_BYTES, P2P_SEND_QUEUE_BYTES_MAX, TRANSFER_READS_IN_FLIGHT_MAX, TRANSFER_WINDOW_BYTES } from '../../../core/limits.ts';
import type { PeerEffect } from '../../../core/peer/machine.ts';
import { TRANSFER_TUNING_DEFAULTS } from '../../../core/peer/transfer.ts';
import { type World, carolJoins, twoFriends } from './peer-world.ts';

/** What one data frame adds to its chunk on the wire. */
const OVERHEAD_BYTES = FRAME_HEADER_BYTES + DATA_HEADER_BYTES;
/** A whole chunk as the room counts it. */
const FRAME_BYTES = FILE_CHUNK_BYTES + OVERHEAD_BYTES;
/** Whole chunks that fit in an empty stream's room, and what they leave. */
const WHOLE_CHUNKS = Math.floor(P2P_SEND_QUEUE_BYTES_MAX / FRAME_BYTES);
const ROOM_LEFT_BYTES = P2P_SEND_QUEUE_BYTES_MAX - WHOLE_CHUNKS * FRAME_BYTES;
/** A file whose last, shorter chunk, with its header, fills the room left to the byte. */
const EXACT_FILL_BYTES = WHOLE_CHUNKS * FILE_CHUNK_BYTES + (ROOM_LEFT_BYTES - OVERHEAD_BYTES);

type FileRead = Extract<PeerEffect, { type: 'file.read' }>;

/** Every batch of effects `name`'s machine hands the world from now on (one batch per input it handled). */
function effectBatches(world: World, name: string): PeerEffect[][] {
  const batches: PeerEffect[][] = [];
  const machine = world.peer(name);
  const take = machine.takeEffects.bind(machine);
  machine.takeEffects = () => {
    const effects = take();
    if (effects.length > 0) batches.push(effects);
    return effects;
  };
  return batches;
}

/** alice offers `to` these files (sizes) and returns their transfer ids, in order. */
function offer(world: World, to: string, sizes: readonly number[]): string[] {
  const before = world.eventsOf('alice', 'file.offered').length;
  const files = sizes.map((size, i) => {
    const path = `/src/${to}-${before + i}.bin`;
    world.sources.set(path, new Uint8Array(size).fill(before + i));
    return { path, name: `${to}-${before + i}.bin`, size };
  });
  world.command('alice', { cmd: 'file.send', username: to, files });
  return (world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>).slice(before).map((e) => e.transferId);
}

function accept(world: World, who: string, transferId: string): void {
  world.command(who, { cmd: 'file.answer', transferId, accept: true });
}

/** The data frames alice wrote to a stream, in bytes on the wire. */
function dataBytes(effects: readonly PeerEffect[], streamId: string, transferChunks?: Map<number, number>): number {
  let total = 0;
  for (const effect of effects) {
    if (effect.type !== 'p2p.data' || effect.streamId !== streamId) continue;
    total += effect.bytes.byteLength + OVERHEAD_BYTES;
    transferChunks?.set(effect.wireStream, (transferChunks.get(effect.wireStream) ?? 0) + effect.bytes.byteLength);
  }
  return total;
}

/** alice has a session with bob (her stream out:1), and bob has stopped reading it. */
function slowBob(config: Parameters<typeof twoFriends>[0] = {}): { world: World; batches: PeerEffect[][] } {
  const world = twoFriends(config);
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.peer('alice').openSessions()).toEqual(['bob']);
  const batches = effectBatches(world, 'alice');
  return { world, batches };
}

describe('the send room of a P2P stream', () => {
  it('is used to the byte: a file whose last, shorter chunk exactly fills the room left is read and written whole while the reader reads nothing', () => {
    // The premises: a shorter last chunk, and credit for the whole file from the accept alone.
    expect(ROOM_LEFT_BYTES - OVERHEAD_BYTES).toBeGreaterThan(0);
    expect(ROOM_LEFT_BYTES - OVERHEAD_BYTES).toBeLessThan(FILE_CHUNK_BYTES);
    expect(EXACT_FILL_BYTES).toBeLessThanOrEqual(TRANSFER_WINDOW_BYTES);
    const { world, batches } = slowBob();
    const [id] = offer(world, 'bob', [EXACT_FILL_BYTES]);
    world.pausedReaders.add('bob');
    accept(world, 'bob', id!);
    const chunks = new Map<number, number>();
    expect(dataBytes(batches.flat(), 'out:1', chunks)).toBe(P2P_SEND_QUEUE_BYTES_MAX);
    expect([...chunks.values()]).toEqual([EXACT_FILL_BYTES]);
  });

  it('is never passed by one byte: a last chunk one byte too big for the room left waits until the reader reads, then the file lands', () => {
    const { world, batches } = slowBob();
    const [id] = offer(world, 'bob', [EXACT_FILL_BYTES + 1]);
    world.pausedReaders.add('bob');
    accept(world, 'bob', id!);
    const reads = batches.flat().filter((e): e is FileRead => e.type === 'file.read');
    expect(reads).toHaveLength(WHOLE_CHUNKS);
    expect(dataBytes(batches.flat(), 'out:1')).toBe(WHOLE_CHUNKS * FRAME_BYTES);
    world.pausedReaders.delete('bob');
    world.readSome('bob', Number.POSITIVE_INFINITY);
    expect(world.eventsOf('bob', 'file.received')).toHaveLength(1);
    expect([...world.committed.values()].map((c) => c.bytes)).toEqual([EXACT_FILL_BYTES + 1]);
  });

  it('counts the chunks being read: while one file waits on a slow disk, a second file to the same friend reads only the room its reads leave', () => {
    const { world, batches } = slowBob();
    const [slow, other] = offer(world, 'bob', [6 * 1024 * 1024, 6 * 1024 * 1024]);
    world.slowDisk.add(slow!);
    world.pausedReaders.add('bob');
    accept(world, 'bob', slow!);
    expect(world.heldReads).toHaveLength(TRANSFER_READS_IN_FLIGHT_MAX);
    accept(world, 'bob', other!);
    // The slow file's reads hold their chunks and headers: the other gets the rest, in whole chunks.
    const heldBytes = TRANSFER_READS_IN_FLIGHT_MAX * FRAME_BYTES;
    expect(dataBytes(batches.flat(), 'out:1')).toBe(Math.floor((P2P_SEND_QUEUE_BYTES_MAX - heldBytes) / FRAME_BYTES) * FRAME_BYTES);
    // The disk answers at last: everything queued stays within the bound.
    world.releaseReads();
    expect(dataBytes(batches.flat(), 'out:1')).toBe(WHOLE_CHUNKS * FRAME_BYTES);
  });

  it("is counted per stream: carol's chunks being read do not shrink bob's room", () => {
    const { world, batches } = slowBob();
    carolJoins(world, 'alice');
    world.command('alice', { cmd: 'chat.open', username: 'carol' });
    expect(world.peer('alice').openSessions()).toEqual(['bob', 'carol']);
    const [forCarol] = offer(world, 'carol', [6 * 1024 * 1024]);
    world.slowDisk.add(forCarol!);
    accept(world, 'carol', forCarol!);
    expect(world.heldReads).toHaveLength(TRANSFER_READS_IN_FLIGHT_MAX);
    const [forBob] = offer(world, 'bob', [EXACT_FILL_BYTES]);
    world.pausedReaders.add('bob');
    accept(world, 'bob', forBob!);
    expect(dataBytes(batches.flat(), 'out:1')).toBe(P2P_SEND_QUEUE_BYTES_MAX);
  });
});

describe('room a slow reader frees', () => {
  /**
   * alice sends bob three files he accepted (after a fourth he has not answered) and carol one, with
   * one read in flight per transfer: both streams are full. Each report then frees room for three
   * chunks on bob's stream, and the reads that follow it at once show the round's order.
   * `idleReports`: after each round, that many reports that free nothing (the same running total
   * again: the runtime reports after every data write, and a write the socket only buffered moves
   * the total not at all).
   */
  function rounds(count: number, idleReports = 0): { order: string[][]; ids: string[] } {
    // bob's window is wide enough that credit never stops the first file: only the room does.
    const { world, batches } = slowBob({ tuning: { ...TRANSFER_TUNING_DEFAULTS, readsInFlightMax: 1, windowBytes: 4 * TRANSFER_WINDOW_BYTES } });
    carolJoins(world, 'alice');
    world.command('alice', { cmd: 'chat.open', username: 'carol' });
    const [forCarol] = offer(world, 'carol', [6 * 1024 * 1024]);
    world.pausedReaders.add('carol');
    accept(world, 'carol', forCarol!);
    const ids = offer(world, 'bob', [6 * 1024 * 1024, 6 * 1024 * 1024, 6 * 1024 * 1024, 6 * 1024 * 1024]);
    world.pausedReaders.add('bob');
    for (const id of ids.slice(1)) accept(world, 'bob', id);
    const written = dataBytes(batches.flat(), 'out:1');
    expect(written).toBe(WHOLE_CHUNKS * FRAME_BYTES);
    const order: string[][] = [];
    for (let round = 1; round <= count; round++) {
      const seen = batches.length;
      world.input('alice', { type: 'p2p.flushed', streamId: 'out:1', bytes: round * 3 * FRAME_BYTES });
      const reads = batches[seen]!.filter((e): e is FileRead => e.type === 'file.read');
      order.push(reads.map((read) => read.transferId));
      for (let idle = 0; idle < idleReports; idle++) world.input('alice', { type: 'p2p.flushed', streamId: 'out:1', bytes: round * 3 * FRAME_BYTES });
    }
    // The chunks those reads brought filled the room again, and no more.
    expect(dataBytes(batches.flat(), 'out:1')).toBe(written + count * 3 * FRAME_BYTES);
    return { order, ids };
  }

  it('goes to the sending transfers of that stream in turn: each report starts with the next one, and only the ones sending to that friend take part', () => {
    const { order, ids } = rounds(6);
    const [, a, b, c] = ids;
    expect(order).toEqual([
      [b, c, a],
      [c, a, b],
      [a, b, c],
      [b, c, a],
      [c, a, b],
      [a, b, c],
    ]);
  });

  it('is not handed on by a report that frees nothing: with such reports after every round, each room freed still starts with the next transfer', () => {
    // Two idle reports a round: were each to take a turn, the three transfers would start in the same order every time.
    // The same machines without them give the order the test above states.
    expect(rounds(4, 2).order).toEqual(rounds(4).order);
  });

  it('still restarts reads after a round with nothing sending (an offer declined), so a file to a slow reader moves as the reader reads', () => {
    const { world, batches } = slowBob();
    const [declined] = offer(world, 'bob', [1000]);
    world.command('bob', { cmd: 'file.answer', transferId: declined!, accept: false });
    expect(world.eventsOf('alice', 'file.failed')).toHaveLength(1);
    const [id] = offer(world, 'bob', [6 * 1024 * 1024]);
    world.pausedReaders.add('bob');
    accept(world, 'bob', id!);
    const full = dataBytes(batches.flat(), 'out:1');
    expect(full).toBe(WHOLE_CHUNKS * FRAME_BYTES);
    // bob reads one frame: too little for a credit, room for one chunk, which alice reads and writes at once.
    world.readSome('bob', 1);
    expect(world.eventsOf('bob', 'file.progress').length).toBeGreaterThan(0);
    expect(dataBytes(batches.flat(), 'out:1')).toBe(full + FRAME_BYTES);
  });
});
