/**
 * The file side of transfers, for the client runtime: reads at offsets for sending, and for
 * receiving a temporary file written in order with an incremental SHA-256, flushed (fsync) before
 * it is moved into place under a name that is free (never overwriting: link(2) fails on an
 * existing name, then the next candidate is tried).
 *
 * Operations of one transfer run one after the other (a promise chain per transfer), so the hash
 * sees the bytes in file order and reads complete in the order they were asked for.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { type FileHandle, link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FILE_NAME_CANDIDATES_MAX } from '../../core/limits.ts';
import { candidateName } from '../../core/peer/file-names.ts';
import type { PreparedFile } from '../../core/peer/commands.ts';

export function tempPathFor(downloadDir: string, transferId: string): string {
  // transferId matches [A-Za-z0-9_-] (checked by the frame schema): safe inside a file name.
  return join(downloadDir, `.p2pchat-${transferId}.part`);
}

/** Measures and hashes a file to offer. Throws (ENOENT, EISDIR, ...) when it cannot be read. */
export async function prepareFile(path: string): Promise<PreparedFile> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  if (!info.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
  const hash = createHash('sha256');
  await new Promise<void>((done, fail) => {
    createReadStream(absolute, { highWaterMark: 1024 * 1024 })
      .on('data', (chunk) => hash.update(chunk))
      .on('error', fail)
      .on('end', () => done());
  });
  return { path: absolute, name: basename(absolute), size: info.size, sha256: hash.digest('hex') };
}

/** Open read handles of outgoing transfers, one per transfer, reads chained in order. */
export class FileReader {
  private readonly handles = new Map<string, { handle: Promise<FileHandle>; chain: Promise<void> }>();

  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    let entry = this.handles.get(transferId);
    if (entry === undefined) {
      const handle = open(path, 'r');
      handle.catch(() => {});
      entry = { handle, chain: Promise.resolve() };
      this.handles.set(transferId, entry);
    }
    const current = entry;
    current.chain = current.chain.then(async () => {
      try {
        const handle = await current.handle;
        const buffer = Buffer.allocUnsafe(bytes);
        let filled = 0;
        // A short read before the end is retried; zero bytes means the file ended early.
        while (filled < bytes) {
          const { bytesRead } = await handle.read(buffer, filled, bytes - filled, offset + filled);
          if (bytesRead === 0) break;
          filled += bytesRead;
        }
        done(buffer.subarray(0, filled));
      } catch (error) {
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  close(transferId: string): void {
    const entry = this.handles.get(transferId);
    if (entry === undefined) return;
    this.handles.delete(transferId);
    void entry.chain.then(async () => (await entry.handle).close()).catch(() => {});
  }

  closeAll(): void {
    for (const transferId of [...this.handles.keys()]) this.close(transferId);
  }
}

interface Incoming {
  handle: FileHandle | null;
  readonly hash: Hash;
  chain: Promise<void>;
  failed: boolean;
}

/** Temporary files of incoming transfers. */
export class FileWriter {
  private readonly files = new Map<string, Incoming>();

  constructor(private readonly downloadDir: string) {}

  async init(): Promise<void> {
    await mkdir(this.downloadDir, { recursive: true });
  }

  open(transferId: string, done: (error: Error | null) => void): void {
    const entry: Incoming = { handle: null, hash: createHash('sha256'), chain: Promise.resolve(), failed: false };
    this.files.set(transferId, entry);
    this.step(transferId, async () => {
      entry.handle = await open(tempPathFor(this.downloadDir, transferId), 'w');
    }, done);
  }

  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    this.step(transferId, async (entry) => {
      if (entry.handle === null) throw new Error('temporary file is not open');
      let written = 0;
      while (written < bytes.byteLength) {
        const result = await entry.handle.write(bytes, written, bytes.byteLength - written, offset + written);
        written += result.bytesWritten;
      }
      entry.hash.update(bytes);
    }, done);
  }

  /** fsync, close, and the SHA-256 of everything written. */
  finish(transferId: string, done: (result: string | Error) => void): void {
    let digest = '';
    this.step(transferId, async (entry) => {
      if (entry.handle === null) throw new Error('temporary file is not open');
      await entry.handle.sync();
      await entry.handle.close();
      entry.handle = null;
      digest = entry.hash.digest('hex');
    }, (error) => done(error ?? digest));
  }

  /** Moves the verified file to the first free candidate name; never overwrites. */
  commit(transferId: string, name: string, done: (result: string | Error) => void): void {
    let finalPath = '';
    this.step(transferId, async () => {
      const temp = tempPathFor(this.downloadDir, transferId);
      for (let n = 0; n < FILE_NAME_CANDIDATES_MAX; n++) {
        const candidate = join(this.downloadDir, candidateName(name, n));
        try {
          await link(temp, candidate);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === 'EEXIST') continue;
          if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw error;
          // No hard links here: check, then rename (a small race a single user can live with).
          if (await exists(candidate)) continue;
          await rename(temp, candidate);
          finalPath = resolve(candidate);
          return;
        }
        await unlink(temp);
        finalPath = resolve(candidate);
        return;
      }
      throw new Error(`no free name for ${name}`);
    }, (error) => {
      this.files.delete(transferId);
      done(error ?? finalPath);
    });
  }

  /** Deletes the temporary file, after whatever is still queued for it. */
  discard(transferId: string): void {
    const entry = this.files.get(transferId);
    const temp = tempPathFor(this.downloadDir, transferId);
    const chain = entry?.chain ?? Promise.resolve();
    this.files.delete(transferId);
    void chain.then(async () => {
      await entry?.handle?.close().catch(() => {});
      await unlink(temp).catch(() => {});
    });
  }

  discardAll(): void {
    for (const transferId of [...this.files.keys()]) this.discard(transferId);
  }

  private step(transferId: string, op: (entry: Incoming) => Promise<void>, done: (error: Error | null) => void): void {
    const entry = this.files.get(transferId);
    if (entry === undefined) return done(new Error('no such incoming file'));
    entry.chain = entry.chain.then(async () => {
      if (entry.failed) return;
      try {
        await op(entry);
        done(null);
      } catch (error) {
        entry.failed = true;
        done(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
