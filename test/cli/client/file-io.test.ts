/**
 * The client's file side on a real file system: chunks handed to FileWriter faster than the disk
 * takes them are written in batches, each answered once by its last chunk, in order, and the file and its hash
 * come out exactly as sent (early flushes included); FileReader's block reads answer each chunk read
 * with its bytes, in the order asked, and hash them into the file's digest (a resume's bytes once);
 * a rehash before a resume hashes the .part prefix as it is on disk; prepareFile only measures;
 * temporary files a dead client left are swept, and nothing else.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FileReader, FileWriter, PART_FILE_ORPHANED_AFTER_MS, prepareFile, sweepOrphanedParts, tempPathFor } from '../../../cli/client/file-io.ts';

let dir = '';

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'p2pchat-file-io-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function promised<T>(start: (done: (result: T) => void) => void): Promise<T> {
  return new Promise((resolve) => start(resolve));
}

/** A file of `bytes` random bytes under the test directory, and a new reader. */
async function readerOf(name: string, bytes: number): Promise<{ data: Buffer; path: string; reader: FileReader }> {
  const data = randomBytes(bytes);
  const path = join(dir, name);
  await writeFile(path, data);
  return { data, path, reader: new FileReader() };
}

describe('FileWriter', () => {
  it('chunks queued all at once (over 16 MiB, uneven sizes) land byte for byte with the right SHA-256, each batch answered once, by its last chunk, in order', async () => {
    const downloads = join(dir, 'downloads');
    const writer = new FileWriter(downloads);
    await writer.init();
    const data = randomBytes(20 * 1024 * 1024 + 777);
    expect(await promised<Error | null>((done) => writer.open('t1', done))).toBeNull();

    const ends: number[] = [];
    const answered: number[] = [];
    let last: Promise<Error | null> = Promise.resolve(null);
    const sizes = [1, 4096, 256 * 1024, 100_000, 3];
    for (let offset = 0, n = 0; offset < data.byteLength; n++) {
      const size = Math.min(sizes[n % sizes.length] ?? 1, data.byteLength - offset);
      const end = offset + size;
      ends.push(end);
      last = promised<Error | null>((done) =>
        writer.write('t1', offset, data.subarray(offset, end), (error) => {
          answered.push(end);
          done(error);
        }),
      );
      offset = end;
    }
    // The last chunk always closes a batch, so it is answered; its end covers every chunk before.
    expect(await last).toBeNull();
    expect(answered.at(-1)).toBe(data.byteLength);
    expect(answered).toEqual([...answered].sort((a, b) => a - b));
    // Chunks that queued behind a running write went out together and were answered once.
    expect(answered.length).toBeLessThan(ends.length);
    expect(answered.every((end) => ends.includes(end))).toBe(true);

    expect(await promised<string | Error>((done) => writer.finish('t1', done))).toBe(sha256(data));
    const path = await promised<string | Error>((done) => writer.commit('t1', 'out.bin', done));
    expect(typeof path).toBe('string');
    expect(sha256(await readFile(String(path)))).toBe(sha256(data));
  });

  it('starts the next batch while the one before it is still being written, never more than two at once, and answers them in order', async () => {
    const writer = new FileWriter(join(dir, 'downloads'));
    await writer.init();
    expect(await promised<Error | null>((done) => writer.open('t2', done))).toBeNull();
    // Every writev of any FileHandle goes through its prototype: count the ones running.
    const probe = await open(join(dir, 'probe.bin'), 'w');
    const prototype = Object.getPrototypeOf(probe) as { writev: (...args: unknown[]) => Promise<unknown> };
    await probe.close();
    const original = prototype.writev;
    let running = 0;
    let most = 0;
    const spy = vi.spyOn(prototype, 'writev').mockImplementation(async function (this: unknown, ...args: unknown[]) {
      running += 1;
      most = Math.max(most, running);
      try {
        return await original.apply(this, args);
      } finally {
        running -= 1;
      }
    });
    try {
      const data = randomBytes(8 * 1024 * 1024);
      const piece = 13 * 1024;
      const answered: number[] = [];
      let last: Promise<Error | null> = Promise.resolve(null);
      for (let offset = 0; offset < data.byteLength; offset += piece) {
        const end = Math.min(offset + piece, data.byteLength);
        last = promised<Error | null>((done) =>
          writer.write('t2', offset, data.subarray(offset, end), (error) => {
            answered.push(end);
            done(error);
          }),
        );
      }
      expect(await last).toBeNull();
      expect(most).toBe(2);
      expect(answered).toEqual([...answered].sort((a, b) => a - b));
      expect(await promised<string | Error>((done) => writer.finish('t2', done))).toBe(sha256(data));
    } finally {
      spy.mockRestore();
      writer.discard('t2');
    }
  });

  it('a write to a transfer that is not open is refused', async () => {
    const writer = new FileWriter(join(dir, 'downloads'));
    const error = await promised<Error | null>((done) => writer.write('nope', 0, new Uint8Array(4), done));
    expect(error).toBeInstanceOf(Error);
  });
});

describe('FileReader', () => {
  it('many reads asked at once answer in the order asked, each with its bytes', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 5);
    const path = join(dir, 'source.bin');
    await writeFile(path, data);
    const reader = new FileReader();
    const chunkBytes = 256 * 1024;
    const order: number[] = [];
    const reads: Promise<void>[] = [];
    for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
      reads.push(
        promised<void>((done) =>
          reader.read('r1', path, offset, chunkBytes, (result) => {
            order.push(offset);
            expect(result).toBeInstanceOf(Uint8Array);
            if (result instanceof Uint8Array) expect(Buffer.from(result).equals(data.subarray(offset, offset + chunkBytes))).toBe(true);
            done();
          }),
        ),
      );
    }
    await Promise.all(reads);
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(order.length).toBe(Math.ceil(data.byteLength / chunkBytes));
    reader.closeAll();
  });

  it('a read back (a resume), a read across the end and a read past it answer the bytes the file holds there', async () => {
    const data = randomBytes(2 * 1024 * 1024 + 100);
    const path = join(dir, 'source-2.bin');
    await writeFile(path, data);
    const reader = new FileReader();
    const ask = (offset: number, bytes: number) => promised<Uint8Array | Error>((done) => reader.read('r2', path, offset, bytes, done));
    const cases: [number, number][] = [[0, 65536], [65536, 65536], [1_500_000, 65536], [65536, 65536], [data.byteLength - 50, 65536], [data.byteLength + 10, 65536]];
    for (const [offset, bytes] of cases) {
      const result = await ask(offset, bytes);
      expect(result).toBeInstanceOf(Uint8Array);
      if (result instanceof Uint8Array) expect(Buffer.from(result).equals(data.subarray(offset, offset + bytes))).toBe(true);
    }
    reader.closeAll();
  });

  it("reuses a block's memory only once every chunk asked from it was released (sent), and answers the new bytes from it", async () => {
    const block = 1024 * 1024;
    const { data, path, reader } = await readerOf('source-reuse.bin', 4 * block);
    const chunkBytes = 256 * 1024;
    const ask = (offset: number) => promised<Uint8Array | Error>((done) => reader.read('r3', path, offset, chunkBytes, done));
    const chunks: Uint8Array[] = [];
    for (let offset = 0; offset < data.byteLength; offset += chunkBytes) {
      const result = await ask(offset);
      if (!(result instanceof Uint8Array)) throw new Error('read failed');
      expect(Buffer.from(result).equals(data.subarray(offset, offset + chunkBytes))).toBe(true);
      chunks.push(result);
      // The first block: released but one chunk, then blocks 2 and 3 fully released as they go.
      if (offset >= block && offset < 3 * block) reader.released(result);
      if (offset < block && offset !== 0) reader.released(result);
    }
    const memoryOf = (index: number): ArrayBufferLike => (chunks[index] as Uint8Array).buffer;
    // Each block is read one ahead, when the block before it is first asked from. Block 1 still
    // has its first chunk out: no later block took its memory. Block 3 was read when block 2 was
    // asked from, with no block free: new memory. Block 2, wholly released as it went, was free
    // once block 3 was asked from: block 4, read then, took its memory.
    // (Compared by identity: a failed toBe would print two 1 MiB buffers.)
    expect([memoryOf(4), memoryOf(8), memoryOf(12)].some((memory) => memory === memoryOf(0))).toBe(false);
    expect(memoryOf(8) === memoryOf(4)).toBe(false);
    expect(memoryOf(12) === memoryOf(4)).toBe(true);
    // A chunk from a reused block still holds its own bytes, and the digest covers the file.
    expect(Buffer.from(chunks[12] as Uint8Array).equals(data.subarray(3 * block, 3 * block + chunkBytes))).toBe(true);
    expect(await promised<string | Error>((done) => reader.digest('r3', done))).toBe(sha256(data));
    // Releasing block 1's last chunk frees it; the memory goes with the reader's last source.
    reader.released(chunks[0] as Uint8Array);
    reader.closeAll();
  });
});

describe('FileReader read-ahead', () => {
  it('reads the block after the one asked from before the machine asks for it, so a credit finds its bytes already read', async () => {
    const block = 1024 * 1024;
    const { data, path, reader } = await readerOf('source-ahead.bin', 3 * block);
    const ask = (offset: number) => promised<Uint8Array | Error>((done) => reader.read('r4', path, offset, 65536, done));
    expect(await ask(0)).toBeInstanceOf(Uint8Array);
    // Let the read-ahead of the second block finish, then change the file under it: the second
    // block is answered as it was read ahead, the third (read when the second is first asked) as
    // it is now.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const changed = Buffer.from(data);
    changed.fill(0x55, block);
    const handle = await open(path, 'r+');
    await handle.write(changed, block, 2 * block, block);
    await handle.close();
    const second = await ask(block);
    const third = await ask(2 * block);
    if (!(second instanceof Uint8Array) || !(third instanceof Uint8Array)) throw new Error('read failed');
    expect(Buffer.from(second).equals(data.subarray(block, block + 65536))).toBe(true);
    expect(Buffer.from(third).equals(changed.subarray(2 * block, 2 * block + 65536))).toBe(true);
    reader.closeAll();
  });
});

describe('prepareFile', () => {
  it('measures files of 0 bytes, under one read block, and over several blocks, without a digest (that comes while sending)', async () => {
    for (const bytes of [0, 1000, 9 * 1024 * 1024 + 3]) {
      const path = join(dir, `prepare-${bytes}.bin`);
      await writeFile(path, randomBytes(bytes));
      const prepared = await prepareFile(path);
      expect(prepared).toEqual({ path, name: `prepare-${bytes}.bin`, size: bytes });
    }
  });
});

describe('FileReader digest', () => {
  it('is the SHA-256 of the whole file from the reads that send it, a resume reading some bytes again (not hashed twice), and the same when asked again', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 321);
    const path = join(dir, 'digest-source.bin');
    await writeFile(path, data);
    const reader = new FileReader();
    const chunkBytes = 64 * 1024;
    const readRange = async (from: number, to: number): Promise<void> => {
      for (let offset = from; offset < to; offset += chunkBytes) {
        await promised<Uint8Array | Error>((done) => reader.read('d1', path, offset, Math.min(chunkBytes, to - offset), done));
      }
    };
    await readRange(0, 1_000_000);
    // A resume from a point before the last byte read, at an offset off the chunk grid.
    await readRange(700_001, data.byteLength);
    const digest = await promised<string | Error>((done) => reader.digest('d1', done));
    expect(digest).toBe(sha256(data));
    expect(await promised<string | Error>((done) => reader.digest('d1', done))).toBe(digest);
    // A file of zero bytes is never read: its digest is the empty one.
    expect(await promised<string | Error>((done) => reader.digest('d0', done))).toBe(sha256(new Uint8Array(0)));
    reader.closeAll();
  });
});

describe('FileWriter rehash', () => {
  async function resumeDownload(corrupt: boolean): Promise<{ digest: string | Error; expected: string }> {
    const downloads = join(dir, `rehash-${String(corrupt)}`);
    const writer = new FileWriter(downloads);
    await writer.init();
    const data = randomBytes(5 * 1024 * 1024 + 9);
    const half = 2 * 1024 * 1024 + 5;
    expect(await promised<Error | null>((done) => writer.open('t1', done))).toBeNull();
    expect(await promised<Error | null>((done) => writer.write('t1', 0, data.subarray(0, half), done))).toBeNull();
    if (corrupt) {
      // Someone changed the .part file on disk while the transfer was suspended.
      const handle = await open(tempPathFor(downloads, 't1'), 'r+');
      await handle.write(Buffer.from([data[1000]! ^ 0xff]), 0, 1, 1000);
      await handle.close();
    }
    expect(await promised<Error | null>((done) => writer.rehash('t1', half, done))).toBeNull();
    expect(await promised<Error | null>((done) => writer.write('t1', half, data.subarray(half), done))).toBeNull();
    const digest = await promised<string | Error>((done) => writer.finish('t1', done));
    writer.discard('t1');
    return { digest, expected: sha256(data) };
  }

  it('hashes the prefix as it is on disk and continues with the writes after it', async () => {
    const { digest, expected } = await resumeDownload(false);
    expect(digest).toBe(expected);
  });

  it('a prefix changed on disk while suspended no longer matches the sender', async () => {
    const { digest, expected } = await resumeDownload(true);
    expect(typeof digest).toBe('string');
    expect(digest).not.toBe(expected);
  });

  it('a prefix longer than the temporary file is an error', async () => {
    const writer = new FileWriter(join(dir, 'rehash-short'));
    await writer.init();
    expect(await promised<Error | null>((done) => writer.open('t2', done))).toBeNull();
    expect(await promised<Error | null>((done) => writer.write('t2', 0, randomBytes(100), done))).toBeNull();
    expect(await promised<Error | null>((done) => writer.rehash('t2', 200, done))).toBeInstanceOf(Error);
    writer.discard('t2');
  });
});

describe('sweepOrphanedParts', () => {
  it('deletes the temporary files nothing wrote for PART_FILE_ORPHANED_AFTER_MS, and leaves fresh ones and every other file', async () => {
    const downloads = join(dir, 'sweep');
    await mkdir(downloads);
    const nowMs = Date.now();
    const stale = tempPathFor(downloads, 'dead-transfer');
    const fresh = tempPathFor(downloads, 'live-transfer');
    const received = join(downloads, 'holiday.jpg');
    const lookalike = join(downloads, '.p2pchat-notes.txt');
    for (const path of [stale, fresh, received, lookalike]) await writeFile(path, 'bytes');
    const oldS = (nowMs - PART_FILE_ORPHANED_AFTER_MS - 1_000) / 1_000;
    for (const path of [stale, received, lookalike]) await utimes(path, oldS, oldS);
    // Just inside the bound: a transfer some other client on this directory may still finish.
    const recentS = (nowMs - PART_FILE_ORPHANED_AFTER_MS + 60_000) / 1_000;
    await utimes(fresh, recentS, recentS);
    expect(await sweepOrphanedParts(downloads, nowMs)).toEqual(['.p2pchat-dead-transfer.part']);
    expect((await readdir(downloads)).sort()).toEqual(['.p2pchat-live-transfer.part', '.p2pchat-notes.txt', 'holiday.jpg']);
  });

  it('a directory with nothing to sweep sweeps nothing', async () => {
    const downloads = join(dir, 'sweep-empty');
    await mkdir(downloads);
    expect(await sweepOrphanedParts(downloads, Date.now())).toEqual([]);
  });
});
