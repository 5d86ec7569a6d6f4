/**
 * The file side of transfers, for the client runtime (NodePeerFiles, the PeerFiles port of
 * core/peer/host.ts on node:fs): reads at offsets for sending, hashed as they are answered (the
 * SHA-256 goes in the transfer's final frame, so nothing reads the file before it moves), and for
 * receiving a temporary file written in order with an incremental SHA-256, flushed (fsync) before
 * it is moved into place under a name that is free (never overwriting: link(2) fails on an
 * existing name, then the next candidate is tried).
 *
 * Receiving: operations of one transfer run one after the other (a promise chain per transfer);
 * chunks are hashed as they arrive (in file order) and those that queue up behind a running write
 * go out together in one writev; past every EARLY_FLUSH_BYTES an fdatasync starts beside the
 * writes, so the disk works during the transfer and the final fsync is short.
 * Sending: chunk reads are answered from READ_BLOCK_BYTES blocks (one per transfer held at a
 * time, half the machine's read-ahead), blocks of one transfer are read side by side, and
 * answers come in the order the reads were asked for; each answer feeds the transfer's SHA-256
 * with the bytes past those it has hashed (a resume reads some again).
 * Resuming a download: the temporary file's prefix is hashed again from disk (rehash), so what
 * the final check covers is what is on disk, not what was once in memory.
 * Temporary files left by a client that died mid-transfer (killed, crashed, the machine off) are
 * deleted when a client next starts on the same download directory, once nothing has written
 * them for PART_FILE_ORPHANED_AFTER_MS (sweepOrphanedParts).
 */
import { createHash, type Hash } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readdir, rename, stat, unlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { FILE_NAME_CANDIDATES_MAX, TRANSFER_READ_AHEAD_BYTES } from '../../core/limits.ts';
import { candidateName } from '../../core/peer/file-names.ts';
import type { PreparedFile } from '../../core/peer/commands.ts';
import type { PeerFiles } from '../../core/peer/host.ts';
import { ReadHash } from '../../core/peer/read-hash.ts';

/** Block size of the read that hashes a download's prefix again before a resume: few long calls. */
const REHASH_READ_BYTES = 4 * 1024 * 1024;

const PART_FILE_PREFIX = '.p2pchat-';
const PART_FILE_SUFFIX = '.part';

export function tempPathFor(downloadDir: string, transferId: string): string {
  // transferId matches [A-Za-z0-9_-] (checked by the frame schema): safe inside a file name.
  return join(downloadDir, `${PART_FILE_PREFIX}${transferId}${PART_FILE_SUFFIX}`);
}

/**
 * A temporary file nothing has written for this long belongs to no live transfer: a live one
 * writes, or fails and deletes it, within TRANSFER_STALL_MS (60 s) of its last byte, and a
 * suspended one within TRANSFER_RESUME_WAIT_MS (5 min) of its drop. A day leaves a wide margin
 * for a download directory two running clients share (another client's transfer is never
 * touched) and for clocks that jump.
 */
export const PART_FILE_ORPHANED_AFTER_MS = 24 * 60 * 60_000;

/**
 * Deletes the temporary files of transfers that died with their client (see
 * PART_FILE_ORPHANED_AFTER_MS): without this, every transfer a crash interrupted left its bytes,
 * up to the whole file, hidden in the download directory for ever. Returns the names deleted;
 * a file that cannot be read or deleted is left as it is.
 */
export async function sweepOrphanedParts(downloadDir: string, nowMs: number): Promise<string[]> {
  const deleted: string[] = [];
  for (const name of await readdir(downloadDir)) {
    if (!name.startsWith(PART_FILE_PREFIX) || !name.endsWith(PART_FILE_SUFFIX)) continue;
    const path = join(downloadDir, name);
    try {
      const info = await stat(path);
      if (!info.isFile() || nowMs - info.mtimeMs < PART_FILE_ORPHANED_AFTER_MS) continue;
      await unlink(path);
      deleted.push(name);
    } catch {
      // Gone meanwhile, or not ours to delete: nothing to do.
    }
  }
  return deleted;
}

/** Measures a file to offer (no read of its bytes). Throws (ENOENT, EISDIR, ...) when it cannot be. */
export async function prepareFile(path: string): Promise<PreparedFile> {
  const absolute = resolve(path);
  const info = await stat(absolute);
  if (!info.isFile()) throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
  return { path: absolute, name: basename(absolute), size: info.size };
}

/** Feeds `hash` with the first `bytes` bytes of the file at `path`; the next block is read while one is hashed. */
async function hashPrefix(path: string, bytes: number, hash: Hash): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const buffers = [Buffer.allocUnsafe(REHASH_READ_BYTES), Buffer.allocUnsafe(REHASH_READ_BYTES)] as const;
    let turn = 0;
    let position = 0;
    let pending = handle.read(buffers[0], 0, Math.min(REHASH_READ_BYTES, bytes), 0);
    while (position < bytes) {
      const { bytesRead, buffer } = await pending;
      if (bytesRead === 0) throw new Error(`temporary file shorter than ${String(bytes)} bytes`);
      position += bytesRead;
      turn ^= 1;
      if (position < bytes) pending = handle.read(buffers[turn] ?? buffers[0], 0, Math.min(REHASH_READ_BYTES, bytes - position), position);
      hash.update(buffer.subarray(0, bytesRead));
    }
  } finally {
    await handle.close();
  }
}

/** Whether a read of `bytes` at `offset` lies within the block. */
function covers(block: ReadBlock, offset: number, bytes: number): boolean {
  return offset >= block.offset && offset + bytes <= block.offset + block.size;
}

/** Reads `bytes` bytes at `offset` into `buffer` (fewer at the end of the file). */
async function readFully(handlePromise: Promise<FileHandle>, offset: number, bytes: number, buffer: Buffer): Promise<Uint8Array | Error> {
  try {
    const handle = await handlePromise;
    let filled = 0;
    // A short read before the end is retried; zero bytes means the file ended early.
    while (filled < bytes) {
      const { bytesRead } = await handle.read(buffer, filled, bytes - filled, offset + filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/**
 * The sender reads files in blocks this large and answers chunk reads from them: half of what one
 * transfer may have in reads at once (TRANSFER_READ_AHEAD_BYTES), so two blocks are read side by
 * side in the thread pool and the next is on its way while one is sent. The block after the one
 * being read from is read ahead, before the machine asks for it: the machine reads no further than
 * the receiver's credit, and a credit used to wait for a thread-pool read before anything moved
 * (the receiver gives credit in steps of a quarter window, so the transfer moved in lockstep:
 * credit, read, send, write, credit). Measured on the bench machine: from a credit to the next
 * data frame, 0.8-2.0 ms at the median before, 0.4-0.9 ms with the block read ahead. A transfer
 * holds at most two blocks beyond what the machine asked for, outside its accounting.
 */
const READ_BLOCK_BYTES = TRANSFER_READ_AHEAD_BYTES / 2;

/**
 * Read blocks whose chunks were all sent are kept for the next reads, up to this many per reader
 * (while it has sources open). Fresh memory is expensive to fill: the kernel faults in and zeroes
 * every page on first touch, and a block per MiB sent was most of the sender's CPU on the bench
 * machine (a virtual machine, where a page fault costs several microseconds; docs/BENCHMARKS.md).
 * A transfer's chunks in flight stay within P2P_SEND_QUEUE_BYTES_MAX (4 MiB) plus the block read
 * from and the one read ahead, so this many blocks let a steady transfer run on reused memory alone.
 */
const READ_BLOCKS_POOLED_MAX = 8;

interface ReadBlock {
  readonly offset: number;
  /** Bytes asked of the file (fewer come back at its end). */
  readonly size: number;
  readonly result: Promise<Uint8Array | Error>;
  /** The block's memory when it may be reused (READ_BLOCK_BYTES long); null for a larger one-off. */
  readonly memory: Buffer | null;
  /** Chunks asked from this block and not yet released (sent): each may still be in a socket. */
  outstanding: number;
  /** No more chunks will be asked from it (a newer block took its place, or its source closed). */
  retired: boolean;
  /** Its read is still running: the thread pool may still write into its memory. */
  reading: boolean;
}

interface OpenRead {
  readonly handle: Promise<FileHandle>;
  chain: Promise<void>;
  /** The last block read (at most one per transfer is read from). */
  block: ReadBlock | null;
  /** The block after it, read ahead of the machine's asking; promoted when a read reaches it. */
  next: ReadBlock | null;
  /** The SHA-256 of the file, fed as reads are answered. */
  readonly hash: ReadHash;
}

/**
 * Open read handles of outgoing transfers, one per transfer, answers delivered in order. Chunk
 * reads are answered from READ_BLOCK_BYTES blocks: one thread-pool round trip (and one buffer)
 * per block instead of per chunk. A transfer holds at most one block beyond what was asked for.
 * A block's memory is reused once it is retired and every chunk asked from it was released
 * (released: the host saw it leave the socket's queue); chunks never sent are never released, and
 * their block is left to the garbage collector.
 */
export class FileReader {
  private readonly handles = new Map<string, OpenRead>();
  /** Free block memory, READ_BLOCK_BYTES each (at most READ_BLOCKS_POOLED_MAX). */
  private readonly pool: Buffer[] = [];
  /** The block each reusable memory belongs to, found from a released chunk's ArrayBuffer. */
  private readonly blocks = new WeakMap<ArrayBufferLike, ReadBlock>();

  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    const entry = this.entry(transferId, path);
    let block = entry.block;
    if (block === null || !covers(block, offset, bytes)) {
      if (block !== null) this.retire(block);
      const next = entry.next;
      entry.next = null;
      if (next !== null && covers(next, offset, bytes)) {
        block = next;
      } else {
        if (next !== null) this.retire(next);
        block = this.startBlock(entry, offset, bytes);
      }
      entry.block = block;
      // The block after it is read now, before the machine asks (see READ_BLOCK_BYTES).
      if (block.memory !== null) entry.next = this.startBlock(entry, block.offset + READ_BLOCK_BYTES, READ_BLOCK_BYTES);
    }
    block.outstanding += 1;
    const from = offset - block.offset;
    const result = block.result;
    entry.chain = entry.chain.then(async () => {
      const read = await result;
      if (read instanceof Error) return done(read);
      const chunk = read.subarray(Math.min(from, read.byteLength), Math.min(from + bytes, read.byteLength));
      entry.hash.feed(offset, chunk);
      done(chunk);
    });
  }

  /**
   * Starts reading a block at once (blocks run side by side in the thread pool); only the answers
   * wait for each other, so they still arrive in the order they were asked for.
   */
  private startBlock(entry: OpenRead, offset: number, bytes: number): ReadBlock {
    const memory = bytes <= READ_BLOCK_BYTES ? (this.pool.pop() ?? Buffer.allocUnsafeSlow(READ_BLOCK_BYTES)) : null;
    const size = Math.max(READ_BLOCK_BYTES, bytes);
    const block: ReadBlock = { offset, size, result: readFully(entry.handle, offset, size, memory ?? Buffer.allocUnsafe(size)), memory, outstanding: 0, retired: false, reading: true };
    if (memory !== null) this.blocks.set(memory.buffer, block);
    // A block read ahead may be retired before its read is done (a resume reads elsewhere, the
    // transfer ends): its memory goes back to the pool only once the thread pool is done with it.
    void block.result.then(() => {
      block.reading = false;
      this.recycle(block);
    });
    return block;
  }

  /** The SHA-256 of every byte answered so far, after the reads asked before. */
  digest(transferId: string, done: (result: string | Error) => void): void {
    const entry = this.entry(transferId, null);
    entry.chain = entry.chain.then(() => done(entry.hash.digest()));
  }

  /** A zero-byte file is never read: its digest needs an entry all the same (opened lazily, never used). */
  private entry(transferId: string, path: string | null): OpenRead {
    let entry = this.handles.get(transferId);
    if (entry === undefined) {
      const handle = path === null ? Promise.reject(new Error('no source path')) : open(path, 'r');
      handle.catch(() => {});
      entry = { handle, chain: Promise.resolve(), block: null, next: null, hash: new ReadHash(createHash('sha256')) };
      this.handles.set(transferId, entry);
    }
    return entry;
  }

  /** A chunk this reader answered has been sent: its block's memory may be reused once all of its chunks are. */
  released(bytes: Uint8Array): void {
    const block = this.blocks.get(bytes.buffer);
    if (block === undefined || block.outstanding === 0) return;
    block.outstanding -= 1;
    this.recycle(block);
  }

  private retire(block: ReadBlock): void {
    block.retired = true;
    this.recycle(block);
  }

  private recycle(block: ReadBlock): void {
    if (!block.retired || block.outstanding > 0 || block.reading || block.memory === null) return;
    this.blocks.delete(block.memory.buffer);
    if (this.pool.length < READ_BLOCKS_POOLED_MAX) this.pool.push(block.memory);
  }

  close(transferId: string): void {
    const entry = this.handles.get(transferId);
    if (entry === undefined) return;
    this.handles.delete(transferId);
    if (entry.block !== null) this.retire(entry.block);
    if (entry.next !== null) this.retire(entry.next);
    // Nothing left to send: the free blocks go (chunks still in a socket come back later, bounded).
    if (this.handles.size === 0) this.pool.length = 0;
    void entry.chain.then(async () => (await entry.handle).close()).catch(() => {});
  }

  closeAll(): void {
    for (const transferId of [...this.handles.keys()]) this.close(transferId);
  }
}

interface PendingWrite {
  readonly bytes: Uint8Array;
  readonly done: (error: Error | null) => void;
}

/** Contiguous chunks waiting for one writev (the machine hands them out in file order). */
interface WriteBatch {
  readonly offset: number;
  end: number;
  readonly writes: PendingWrite[];
}

interface Incoming {
  handle: FileHandle | null;
  /** Replaced by a rehash before a resume. */
  hash: Hash;
  chain: Promise<void>;
  failed: boolean;
  /** The batch not yet started: chunks arriving while a write runs join it. */
  batch: WriteBatch | null;
  /** Bytes written since the last early flush was started. */
  unflushedBytes: number;
  /** The early flush running beside the writes, if any (finish waits for it). */
  flushing: Promise<void> | null;
  /** The last batch's write and answer (never rejects); null before the first. */
  writing: Promise<void> | null;
  /** The writes started and not yet answered, oldest first (at most WRITES_IN_FLIGHT_MAX). */
  readonly running: Promise<void>[];
}

/** Written bytes after which the receiver starts an early fdatasync (see FileWriter.write). */
const EARLY_FLUSH_BYTES = 16 * 1024 * 1024;

/** Chunks one writev carries at most (well under IOV_MAX). */
const WRITE_BATCH_CHUNKS_MAX = 64;
/**
 * Writes of one download that run at once. One at a time, the thread pool sat idle from the end
 * of each write until the main thread had heard of it and started the next (the main thread
 * being busy decrypting and hashing what arrived meanwhile): 79-175 ms per 128 MiB on the bench
 * machine, beside 1.0-2.3 s of writing. With two, the next batch is already queued in the kernel
 * when one ends. Not more: the writes of one file take turns on its inode anyway.
 */
const WRITES_IN_FLIGHT_MAX = 2;

/** Temporary files of incoming transfers. */
export class FileWriter {
  private readonly files = new Map<string, Incoming>();

  constructor(private readonly downloadDir: string) {}

  async init(): Promise<void> {
    await mkdir(this.downloadDir, { recursive: true });
  }

  open(transferId: string, done: (error: Error | null) => void): void {
    const entry: Incoming = { handle: null, hash: createHash('sha256'), chain: Promise.resolve(), failed: false, batch: null, unflushedBytes: 0, flushing: null, writing: null, running: [] };
    this.files.set(transferId, entry);
    this.step(transferId, async () => {
      entry.handle = await open(tempPathFor(this.downloadDir, transferId), 'w');
    }, done);
  }

  /**
   * Chunks that arrive while an earlier write is still running are written together by one
   * writev when their turn comes: one thread-pool round trip for many chunks. Once they are
   * written only the last chunk's `done` is answered: its end covers the others (PeerFiles.write).
   */
  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    const entry = this.files.get(transferId);
    if (entry === undefined) return done(new Error('no such incoming file'));
    // Hashed as it arrives, while earlier chunks are written in the thread pool. The machine hands
    // out each byte once, in order, and resumes only once every handed-out write is reported, so
    // the hash still covers exactly the bytes written (a failed write fails the transfer).
    if (!entry.failed) entry.hash.update(bytes);
    const open = entry.batch;
    if (open !== null && open.end === offset && open.writes.length < WRITE_BATCH_CHUNKS_MAX) {
      open.writes.push({ bytes, done });
      open.end += bytes.byteLength;
      return;
    }
    const batch: WriteBatch = { offset, end: offset + bytes.byteLength, writes: [{ bytes, done }] };
    entry.batch = batch;
    entry.chain = entry.chain.then(async () => {
      if (entry.failed) return;
      // From here on the batch takes no more chunks: its write starts now.
      if (entry.batch === batch) entry.batch = null;
      const handle = entry.handle;
      const before = entry.writing;
      const result: Promise<Error | null> =
        handle === null
          ? Promise.resolve(new Error('temporary file is not open'))
          : writeAll(handle, batch.writes.map((write) => write.bytes), batch.offset).then(
              () => {
                this.wrote(entry, handle, batch.end - batch.offset);
                return null;
              },
              (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
            );
      // One answer per batch, in order (after the batch before it): the last chunk's end covers
      // the chunks before it (the machine counts written bytes by their end), and a failure is
      // reported once. An answer per chunk was a machine input per piece of a frame a socket read
      // delivered: 10,240 per 128 MiB, against about 210 batches.
      const answered = (before ?? Promise.resolve()).then(async () => {
        const error = await result;
        if (entry.failed) return;
        if (error !== null) entry.failed = true;
        batch.writes.at(-1)?.done(error);
      });
      entry.writing = answered;
      entry.running.push(answered);
      // The next step (the next batch's write) starts only while fewer than WRITES_IN_FLIGHT_MAX
      // run, so the thread pool does not wait for the main thread to hear of one write before it
      // starts the next.
      while (entry.running.length >= WRITES_IN_FLIGHT_MAX) await entry.running.shift();
    });
  }

  /** A write is done: count it towards the next early flush, and start one when it is due. */
  private wrote(entry: Incoming, handle: FileHandle, bytes: number): void {
    entry.unflushedBytes += bytes;
    if (entry.unflushedBytes < EARLY_FLUSH_BYTES || entry.flushing !== null) return;
    // Start the disk writing now, beside the next writes, so the final fsync finds little left to
    // do. It promises nothing: the final fsync still covers every byte.
    entry.unflushedBytes = 0;
    entry.flushing = handle.datasync().catch(() => {}).finally(() => {
      entry.flushing = null;
    });
  }

  /**
   * Before a resume: a fresh hash of the temporary file's first `bytes` bytes as they are on disk,
   * continued by the writes that follow. The machine asks only once every write it handed out is
   * reported, and sends nothing more until this answers, so no write races it.
   */
  rehash(transferId: string, bytes: number, done: (error: Error | null) => void): void {
    this.step(transferId, async (entry) => {
      await entry.writing;
      const hash = createHash('sha256');
      await hashPrefix(tempPathFor(this.downloadDir, transferId), bytes, hash);
      entry.hash = hash;
    }, done);
  }

  /** fsync, close, and the SHA-256 of everything written. */
  finish(transferId: string, done: (result: string | Error) => void): void {
    let digest = '';
    this.step(transferId, async (entry) => {
      await entry.writing;
      if (entry.handle === null) throw new Error('temporary file is not open');
      if (entry.flushing !== null) await entry.flushing;
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
      await entry?.writing;
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

/** The PeerHost's file port on node:fs: sources read by FileReader, downloads written by FileWriter under `downloadDir`. */
export class NodePeerFiles implements PeerFiles {
  private readonly reader = new FileReader();
  private readonly writer: FileWriter;

  constructor(downloadDir: string) {
    this.writer = new FileWriter(downloadDir);
  }

  /** Creates the download directory. */
  init(): Promise<void> {
    return this.writer.init();
  }

  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    this.reader.read(transferId, path, offset, bytes, done);
  }

  released(bytes: Uint8Array): void {
    this.reader.released(bytes);
  }

  digest(transferId: string, done: (result: string | Error) => void): void {
    this.reader.digest(transferId, done);
  }

  closeSource(transferId: string): void {
    this.reader.close(transferId);
  }

  rehash(transferId: string, bytes: number, done: (error: Error | null) => void): void {
    this.writer.rehash(transferId, bytes, done);
  }

  open(transferId: string, done: (error: Error | null) => void): void {
    this.writer.open(transferId, done);
  }

  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    this.writer.write(transferId, offset, bytes, done);
  }

  finish(transferId: string, done: (result: string | Error) => void): void {
    this.writer.finish(transferId, done);
  }

  commit(transferId: string, name: string, done: (result: string | Error) => void): void {
    this.writer.commit(transferId, name, done);
  }

  discard(transferId: string): void {
    this.writer.discard(transferId);
  }

  closeAll(): void {
    this.reader.closeAll();
    this.writer.discardAll();
  }
}

/** Writes every buffer at `position` onwards, retrying short writes. */
async function writeAll(handle: FileHandle, buffers: Uint8Array[], position: number): Promise<void> {
  let rest = buffers;
  let at = position;
  while (rest.length > 0) {
    const { bytesWritten } = await handle.writev(rest, at);
    at += bytesWritten;
    let skipped = bytesWritten;
    let first = 0;
    while (first < rest.length && skipped >= (rest[first]?.byteLength ?? 0)) {
      skipped -= rest[first]?.byteLength ?? 0;
      first++;
    }
    rest = rest.slice(first);
    const head = rest[0];
    if (head !== undefined && skipped > 0) rest[0] = head.subarray(skipped);
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
