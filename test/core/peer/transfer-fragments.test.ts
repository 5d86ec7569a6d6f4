/**
 * File data arrives in pieces: the P2P channels decode data frames in fragment mode (see
 * core/codec.ts), so each socket read's share of a frame goes to the transfer as it arrives, a
 * view, never copied together. The property: whatever the chunk size (up to FILE_CHUNK_BYTES),
 * credit window and the points where the byte stream is cut into reads, the receiver keeps a file
 * byte-identical to the source and both sides finish cleanly. In memory, virtual clock (see
 * peer-world.ts). Replay a failure with the seed and path fast-check prints.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILE_CHUNK_BYTES } from '../../../core/limits.ts';
import { TRANSFER_TUNING_DEFAULTS } from '../../../core/peer/transfer.ts';
import { twoFriends } from './peer-world.ts';
import { replay } from '../../helpers/fc-replay.ts';

/** Cuts `bytes` before each offset in `cuts` (folded into range). */
function cutAt(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let from = 0;
  for (const point of [...points, bytes.byteLength]) {
    if (point > from) pieces.push(bytes.subarray(from, point));
    from = point;
  }
  return pieces;
}

describe('file data in pieces', () => {
  it('property: any chunk size, window and cutting of the byte stream into reads delivers the file byte-identical', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 600_000 }), fc.integer({ min: 512, max: FILE_CHUNK_BYTES }), fc.integer({ min: 1, max: 8 }), fc.array(fc.nat(), { maxLength: 12 }), fc.integer({ min: 1, max: 2 ** 31 }), (fileBytes, chunkBytes, windowChunks, cuts, seed) => {
      const tuning = { ...TRANSFER_TUNING_DEFAULTS, chunkBytes, windowBytes: chunkBytes * windowChunks + (seed % chunkBytes) };
      const world = twoFriends({ tuning });
      world.deliverySplit = (bytes) => cutAt(bytes, cuts);
      const data = new Uint8Array(fileBytes);
      for (let i = 0; i < fileBytes; i += 97) data[i] = (i * 31 + seed) & 0xff;
      world.sources.set('/src/f.bin', data);
      const sha256 = createHash('sha256').update(data).digest('hex');
      world.command('alice', { cmd: 'chat.open', username: 'bob' });
      world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/src/f.bin', name: 'f.bin', size: fileBytes }] });
      const offer = world.eventsOf('bob', 'file.offer')[0] as { transferId: string } | undefined;
      expect(offer).toBeDefined();
      world.command('bob', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
      for (let round = 0; round < 1000 && world.committed.size === 0; round++) world.advance(10);
      expect(world.eventsOf('bob', 'file.failed')).toEqual([]);
      expect(world.eventsOf('alice', 'file.failed')).toEqual([]);
      expect(world.committed.get(`bob|${offer!.transferId}`)).toEqual({ sha256, bytes: fileBytes });
      expect(world.eventsOf('alice', 'file.sent')).toHaveLength(1);
    }),
      { numRuns: 40, ...replay },
    );
  });
});
