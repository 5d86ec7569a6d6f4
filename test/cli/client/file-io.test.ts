/**
 * The client's file side on a real file system: chunks handed to FileWriter faster than the disk
 * takes them are written in batches yet answered one by one, in order, and the file and its hash
 * come out exactly as sent (early flushes included); FileReader's block reads answer each chunk read
 * with its bytes, in the order asked; prepareFile hashes files of any size with its double-buffered reads.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileReader, FileWriter, prepareFile } from '../../../cli/client/file-io.ts';

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

describe('FileWriter', () => {
  it('chunks queued all at once (over 16 MiB, uneven sizes) are answered in order and land byte for byte, with the right SHA-256', async () => {
    const downloads = join(dir, 'downloads');
    const writer = new FileWriter(downloads);
    await writer.init();
    const data = randomBytes(20 * 1024 * 1024 + 777);
    expect(await promised<Error | null>((done) => writer.open('t1', done))).toBeNull();

    const answered: number[] = [];
    const answers: Promise<Error | null>[] = [];
    const sizes = [1, 4096, 256 * 1024, 100_000, 3];
    for (let offset = 0, n = 0; offset < data.byteLength; n++) {
      const size = Math.min(sizes[n % sizes.length] ?? 1, data.byteLength - offset);
      const end = offset + size;
      const chunk = data.subarray(offset, end);
      answers.push(
        promised<Error | null>((done) =>
          writer.write('t1', offset, chunk, (error) => {
            answered.push(end);
            done(error);
          }),
        ),
      );
      offset = end;
    }
    expect((await Promise.all(answers)).every((error) => error === null)).toBe(true);
    expect(answered).toEqual([...answered].sort((a, b) => a - b));
    expect(answered.at(-1)).toBe(data.byteLength);

    expect(await promised<string | Error>((done) => writer.finish('t1', done))).toBe(sha256(data));
    const path = await promised<string | Error>((done) => writer.commit('t1', 'out.bin', done));
    expect(typeof path).toBe('string');
    expect(sha256(await readFile(String(path)))).toBe(sha256(data));
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
});

describe('prepareFile', () => {
  it('hashes files of 0 bytes, under one read block, and over several blocks', async () => {
    for (const bytes of [0, 1000, 9 * 1024 * 1024 + 3]) {
      const data = randomBytes(bytes);
      const path = join(dir, `prepare-${bytes}.bin`);
      await writeFile(path, data);
      const prepared = await prepareFile(path);
      expect(prepared.size).toBe(bytes);
      expect(prepared.sha256).toBe(sha256(data));
    }
  });
});
