/**
 * The limits of file transfer in the pure peer machines (in memory, virtual clock; see
 * peer-world.ts): the sender's memory stays within P2P_SEND_QUEUE_BYTES_MAX per P2P stream however
 * many large files a slow reader has accepted; a suspended transfer gives up after
 * TRANSFER_RESUME_WAIT_MS (the receiver deletes its temporary file); and an offer whose acceptance
 * was lost with the connection resumes from offset 0 on the next session.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES, P2P_SEND_QUEUE_BYTES_MAX, TRANSFER_RESUME_WAIT_MS, TRANSFER_WINDOW_BYTES } from '../../../core/limits.ts';
import type { PreparedFile } from '../../../core/peer/commands.ts';
import { carolJoins, twoFriends, type World } from './peer-world.ts';

/** A file whose every 64 KiB block differs, so a misplaced chunk changes its hash. */
function makeSource(world: World, path: string, bytes: number, seed: number): PreparedFile & { readonly sha256: string } {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i += 4096) data[i] = (i / 4096 + seed) & 0xff;
  world.sources.set(path, data);
  return { path, name: path.slice(path.lastIndexOf('/') + 1), size: bytes, sha256: createHash('sha256').update(data).digest('hex') };
}

function openChat(world: World): void {
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.eventsOf('bob', 'chat.opened').at(-1)).toEqual({ event: 'chat.opened', username: 'alice' });
}

function transferIds(world: World, name: string): string[] {
  return world.eventsOf(name, 'file.offered').map((e) => String((e as { transferId: string }).transferId));
}

function failures(world: World, name: string): Array<{ transferId: string; reason: string }> {
  return world.eventsOf(name, 'file.failed').map((e) => {
    const failed = e as { transferId: string; reason: string };
    return { transferId: failed.transferId, reason: failed.reason };
  });
}

/** alice's end of her P2P stream to bob (the one she opened). */
function aliceStreamKey(world: World): string {
  const keys = [...world.peakQueuedBytes.keys()].filter((key) => key.startsWith('alice|'));
  expect(keys).toHaveLength(1);
  return keys[0]!;
}

/**
 * Alice sends bob a 2 MiB file; bob accepts and takes 256 KiB of it, then their P2P link is cut:
 * the transfer is suspended mid-way on both sides, bob's reader running again.
 */
function suspendedMidWay(path: string, seed: number): { world: World; file: ReturnType<typeof makeSource>; transferId: string } {
  const world = twoFriends();
  openChat(world);
  const file = makeSource(world, path, 2 * 1024 * 1024, seed);
  world.pausedReaders.add('bob');
  world.command('alice', { cmd: 'file.send', username: 'bob', files: [file] });
  world.readSome('bob', 1);
  const [transferId] = transferIds(world, 'alice');
  world.command('bob', { cmd: 'file.answer', transferId: transferId!, accept: true });
  world.readSome('bob', 256 * 1024);
  world.cutP2p('alice', 'bob');
  world.pausedReaders.delete('bob');
  return { world, file, transferId: transferId! };
}

describe('file transfer limits in the peer machine', () => {
  it(`a slow reader with many large files accepted never makes the sender queue more than P2P_SEND_QUEUE_BYTES_MAX (${P2P_SEND_QUEUE_BYTES_MAX} bytes)`, () => {
    const world = twoFriends();
    openChat(world);
    const fileCount = 16;
    const fileBytes = 6 * 1024 * 1024 + 123;
    const files = Array.from({ length: fileCount }, (_, i) => makeSource(world, `/src/f${i}.bin`, fileBytes, i));
    world.command('alice', { cmd: 'file.send', username: 'bob', files });
    // bob accepts everything (credit for every file: far more than the queue bound) and then reads slowly.
    world.pausedReaders.add('bob');
    for (const offer of world.eventsOf('bob', 'file.offer')) {
      world.command('bob', { cmd: 'file.answer', transferId: String((offer as { transferId: string }).transferId), accept: true });
    }
    expect(fileCount * Math.min(fileBytes, TRANSFER_WINDOW_BYTES)).toBeGreaterThan(8 * P2P_SEND_QUEUE_BYTES_MAX);
    const key = aliceStreamKey(world);
    // The queue filled up to the bound, and stopped there: the reads stopped, not the credit.
    expect(world.queuedBytes(key)).toBeGreaterThan(P2P_SEND_QUEUE_BYTES_MAX - 2 * FILE_CHUNK_BYTES);
    expect(world.queuedBytes(key)).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX);
    for (let round = 0; round < 10_000 && world.committed.size < fileCount; round++) world.readSome('bob', 256 * 1024);
    expect(world.peakQueuedBytes.get(key)).toBeLessThanOrEqual(P2P_SEND_QUEUE_BYTES_MAX);
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
    for (const [i, transferId] of transferIds(world, 'alice').entries()) {
      expect(world.committed.get(`bob|${transferId}`)).toEqual({ sha256: files[i]!.sha256, bytes: fileBytes });
    }
    expect(world.eventsOf('alice', 'file.sent')).toHaveLength(fileCount);
  });

  it(`a transfer suspended by a drop fails with resume-timeout after TRANSFER_RESUME_WAIT_MS (${TRANSFER_RESUME_WAIT_MS} ms), and the receiver deletes its temporary file`, () => {
    const world = twoFriends();
    openChat(world);
    const file = makeSource(world, '/src/big.bin', 3 * 1024 * 1024, 1);
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [file] });
    world.readSome('bob', 1);
    const [transferId] = transferIds(world, 'alice');
    world.command('bob', { cmd: 'file.answer', transferId: transferId!, accept: true });
    world.readSome('bob', 512 * 1024);
    world.cutP2p('alice', 'bob');
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'error' }]);
    world.advance(TRANSFER_RESUME_WAIT_MS - 1);
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
    expect(world.discarded).toEqual([]);
    world.advance(2);
    expect(failures(world, 'alice')).toEqual([{ transferId, reason: 'resume-timeout' }]);
    expect(failures(world, 'bob')).toEqual([{ transferId, reason: 'resume-timeout' }]);
    expect(world.discarded).toEqual([`bob|${transferId}`]);
    expect(world.committed.size).toBe(0);
    expect(world.peers.get('alice')!.transferCount()).toBe(0);
    expect(world.peers.get('bob')!.transferCount()).toBe(0);
    // A later session hears bob's outcome, and alice, who gave up already, ignores it.
    openChat(world);
    expect(failures(world, 'alice')).toHaveLength(1);
  });

  it('a suspended transfer gives up TRANSFER_RESUME_WAIT_MS after its own drop, even if a session with another friend drops meanwhile', () => {
    const { world, transferId } = suspendedMidWay('/src/own-wait.bin', 7);
    const droppedAtMs = world.nowMs;
    world.advance(TRANSFER_RESUME_WAIT_MS / 2);
    // carol, a friend of both, chats with each; both sessions drop half-way through the wait.
    carolJoins(world, 'alice');
    world.command('carol', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'friend.accept', username: 'carol' });
    world.command('carol', { cmd: 'chat.open', username: 'alice' });
    world.command('carol', { cmd: 'chat.open', username: 'bob' });
    expect(world.peer('alice').openSessions()).toEqual(['carol']);
    expect(world.peer('bob').openSessions()).toEqual(['carol']);
    world.cutP2p('carol', 'alice');
    world.cutP2p('carol', 'bob');
    world.advance(droppedAtMs + TRANSFER_RESUME_WAIT_MS - 1 - world.nowMs);
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
    world.advance(2);
    // The upload (alice) and the download (bob) each end at their own deadline, not carol's.
    expect(failures(world, 'alice')).toEqual([{ transferId, reason: 'resume-timeout' }]);
    expect(failures(world, 'bob')).toEqual([{ transferId, reason: 'resume-timeout' }]);
  });

  it('a suspended transfer resumed within TRANSFER_RESUME_WAIT_MS completes, and its old deadline does nothing', () => {
    const { world, file, transferId } = suspendedMidWay('/src/mid.bin', 2);
    world.advance(TRANSFER_RESUME_WAIT_MS - 1_000);
    openChat(world);
    expect(world.committed.get(`bob|${transferId}`)).toEqual({ sha256: file.sha256, bytes: file.size });
    world.advance(TRANSFER_RESUME_WAIT_MS);
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
    expect(world.eventsOf('alice', 'file.sent')).toHaveLength(1);
  });

  it('a suspended download waits for its own sender: a session with another friend neither resumes it nor spoils its resume', () => {
    const { world, file, transferId } = suspendedMidWay('/src/other.bin', 5);
    carolJoins(world, 'bob');
    world.command('carol', { cmd: 'chat.open', username: 'bob' });
    expect(world.peer('bob').openSessions()).toEqual(['carol']);
    // Nothing of alice's download moves while her session is down: no re-hash, no resume asked.
    expect(world.rehashed).toEqual([]);
    openChat(world);
    expect(world.rehashed).toHaveLength(1);
    expect(world.committed.get(`bob|${transferId}`)).toEqual({ sha256: file.sha256, bytes: file.size });
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
  });

  it('an offer accepted just before a drop, the accept lost with the connection, resumes from offset 0 on the next session', () => {
    const world = twoFriends();
    openChat(world);
    const file = makeSource(world, '/src/lost-accept.bin', 1024 * 1024 + 7, 3);
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [file] });
    const [transferId] = transferIds(world, 'alice');
    // bob's file.accept waits in bob's send queue (alice does not read) and dies with the connection.
    world.pausedReaders.add('alice');
    world.command('bob', { cmd: 'file.answer', transferId: transferId!, accept: true });
    world.cutP2p('alice', 'bob');
    world.pausedReaders.delete('alice');
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
    openChat(world);
    expect(world.committed.get(`bob|${transferId}`)).toEqual({ sha256: file.sha256, bytes: file.size });
    expect(world.eventsOf('alice', 'file.sent')).toHaveLength(1);
    expect(world.eventsOf('bob', 'file.progress').some((e) => (e as { resumedFrom?: number }).resumedFrom === 0)).toBe(true);
    // The sender says where it resumed from too (once only the receiver did).
    expect(world.eventsOf('alice', 'file.progress').some((e) => (e as { resumedFrom?: number }).resumedFrom === 0)).toBe(true);
    expect(failures(world, 'alice')).toEqual([]);
    expect(failures(world, 'bob')).toEqual([]);
  });

  it('an offer still unanswered at a drop fails with connection-lost: at once at the receiver, at the sender when the next session opens', () => {
    const world = twoFriends();
    openChat(world);
    const file = makeSource(world, '/src/unanswered.bin', 10_000, 4);
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [file] });
    const [transferId] = transferIds(world, 'alice');
    world.cutP2p('alice', 'bob');
    expect(failures(world, 'bob')).toEqual([{ transferId, reason: 'connection-lost' }]);
    expect(failures(world, 'alice')).toEqual([]);
    openChat(world);
    expect(failures(world, 'alice')).toEqual([{ transferId, reason: 'connection-lost' }]);
    expect(world.peers.get('alice')!.transferCount()).toBe(0);
  });

  it('an offer lost with the connection (never seen by the receiver) ends with resume-timeout at the sender', () => {
    const world = twoFriends();
    openChat(world);
    const file = makeSource(world, '/src/never-seen.bin', 10_000, 5);
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [file] });
    const [transferId] = transferIds(world, 'alice');
    world.cutP2p('alice', 'bob');
    world.pausedReaders.delete('bob');
    expect(world.eventsOf('bob', 'file.offer')).toEqual([]);
    openChat(world);
    expect(failures(world, 'alice')).toEqual([]);
    world.advance(TRANSFER_RESUME_WAIT_MS);
    expect(failures(world, 'alice')).toEqual([{ transferId, reason: 'resume-timeout' }]);
  });
});
