/**
 * File transfer, one pure machine per side of one file. The peer machine owns them, feeds them
 * frames and I/O results, and carries out the actions they queue (send a frame, read, write,
 * hash, rename) on the right connection and file.
 *
 * Theory of operation
 * -------------------
 * Sender (OutgoingTransfer):
 *
 *   Offered ──file.accept(0, limit)──▶ Sending ──all bytes sent──▶ Digesting ──digest──▶ AwaitingOk (file.end sent) ──file.ok──▶ Done
 *   Offered ──file.decline──▶ Failed(declined)
 *   Offered/Sending/Digesting/AwaitingOk ──connection lost──▶ Suspended ──file.resume(offset, limit)──▶ Sending
 *   Suspended ──TRANSFER_RESUME_WAIT_MS without a resume──▶ Failed(resume-timeout)
 *   Offered ──TRANSFER_ANSWER_WAIT_MS unanswered──▶ Failed(stalled)
 *   Sending/Digesting/AwaitingOk ──TRANSFER_STALL_MS without moving──▶ Failed(stalled)
 *   any live state ──file.fail / cancel / read error──▶ Failed(reason)
 *
 * The offer carries the name and size only. The file port hashes the bytes as it reads them to
 * send (a read of bytes it has hashed already, after a resume, is not hashed again), so when the
 * last byte is sent the SHA-256 of the whole file is one `digest` away: it goes in `file.end`.
 * A resume never asks for bytes beyond those sent, so the port's hash has no gap.
 *
 * An offer caught by a drop is suspended too: the sender cannot know whether the receiver accepted
 * it. If it did, the receiver resumes it (file.resume from offset 0 or further) on the next session;
 * if not, the receiver's remembered outcome (file.fail connection-lost) ends it, or the wait does.
 *
 * Receiver (IncomingTransfer):
 *
 *   Offered ──accept──▶ Receiving ──written == size and file.end──▶ Verifying ──hash ok──▶ Committing ──renamed──▶ Done
 *                                                                          └─hash bad──▶ Failed(hash-mismatch)
 *   Receiving ──connection lost──▶ Suspended ──new session, writes settled──▶ Rehashing ──prefix hashed──▶ Receiving (file.resume)
 *   Suspended ──TRANSFER_RESUME_WAIT_MS without a new session──▶ Failed(resume-timeout), temp file discarded
 *   Offered ──TRANSFER_ANSWER_WAIT_MS unanswered──▶ Failed(stalled)
 *   Receiving ──TRANSFER_STALL_MS without a byte or file.end──▶ Failed(stalled), temp file discarded
 *
 * Before a resume the receiver re-verifies what it already holds: the port hashes the temporary
 * file's prefix afresh from disk and continues from there, so a prefix changed while the peer was
 * away makes the final check fail (hash-mismatch) instead of being renamed into place.
 *
 * Flow control is by credit: the receiver says up to which absolute byte `limit` the sender may
 * send, and raises it as bytes are written to disk, so no more than TRANSFER_WINDOW_BYTES per
 * transfer are ever in flight or waiting to be written, whatever the file size. The sender keeps
 * at most TRANSFER_READS_IN_FLIGHT_MAX reads outstanding; the runtime completes them in order.
 * Credit bounds what the receiver must buffer; the sender's own memory is bounded by its ReadGate,
 * which the peer machine shares between all transfers on one P2P stream: a read starts only while
 * the stream's queued bytes plus the reads in flight stay within P2P_SEND_QUEUE_BYTES_MAX, so a
 * slow socket stops the reads instead of piling chunks up in memory.
 *
 * The receiver resumes from `writtenOffset`: only bytes the runtime reported written count, and
 * the resume waits until every write handed out has been reported, so the prefix the runtime
 * hashes again is exactly what the resume continues. Reads issued before a drop carry an old `epoch` and are
 * ignored when they complete.
 *
 * A file is only ever renamed into place after the SHA-256 of exactly `size` written bytes
 * matched the sender's `file.end`; otherwise the temporary file is discarded and the transfer fails.
 *
 * Slots: a live transfer that does not move (no byte, credit or answer) for its state's wait
 * fails with `stalled` and tells the peer, so nobody holds a slot with transfers that never move.
 * The owner arms a timer at `stallDeadlineMs` after each step.
 */
import {
  FILE_CHUNK_BYTES,
  TRANSFER_ANSWER_WAIT_MS,
  TRANSFER_PROGRESS_INTERVAL_MS,
  TRANSFER_READS_IN_FLIGHT_MAX,
  TRANSFER_STALL_MS,
  TRANSFER_WINDOW_BYTES,
} from '../limits.ts';
import type { ClientEvent } from './events.ts';
import { type P2pFrame, type TransferFailure, isTransferFailure } from './frames.ts';

export type TransferAction =
  /** A control frame to the peer (dropped by the owner when no channel is open). */
  | { readonly type: 'send'; readonly frame: P2pFrame }
  /** A data frame to the peer: header from core/codec.ts encodeDataHeader, then these bytes. */
  | { readonly type: 'data'; readonly wireStream: number; readonly offset: number; readonly bytes: Uint8Array }
  /** Sender: read `bytes` bytes at `offset`; answer with chunk(epoch, offset, bytes). */
  | { readonly type: 'read'; readonly epoch: number; readonly offset: number; readonly bytes: number }
  /** Sender: the SHA-256 of the whole file, hashed by the port as it read it; answer digested(epoch, sha256). */
  | { readonly type: 'digest'; readonly epoch: number }
  /** Receiver: create the temporary file (empty) and a fresh incremental hash. */
  | { readonly type: 'open' }
  /** Receiver: write at offset and feed the hash; answer written(offset + bytes.length). */
  | { readonly type: 'write'; readonly offset: number; readonly bytes: Uint8Array }
  /** Receiver: hash the temporary file's first `bytes` bytes afresh, continue from there; answer rehashed(epoch). */
  | { readonly type: 'rehash'; readonly epoch: number; readonly bytes: number }
  /** Receiver: flush (fsync) and close the temporary file; answer hashed(sha256 hex). */
  | { readonly type: 'finish' }
  /** Receiver: move the temporary file to a free name derived from `name`; answer committed(path). */
  | { readonly type: 'commit'; readonly name: string }
  /** Receiver: delete the temporary file. */
  | { readonly type: 'discard' }
  | { readonly type: 'event'; readonly event: ClientEvent };

export interface TransferMeta {
  readonly transferId: string;
  /** The other side's username. */
  readonly peer: string;
  readonly wireStream: number;
  readonly size: number;
}

export interface TransferTuning {
  readonly chunkBytes: number;
  readonly windowBytes: number;
  readonly readsInFlightMax: number;
  readonly progressIntervalMs: number;
}

/**
 * The send budget of the stream a transfer sends on. `allows` is asked before each chunk read:
 * may `bytes` more file bytes be read now? A yes reserves nothing: the owner counts the reads in
 * flight through `readingBytes`. `sending` is told of each chunk as it becomes a data frame,
 * before any further read is asked for, so the budget never misses a chunk between the two.
 */
export interface ReadGate {
  allows(bytes: number): boolean;
  sending(bytes: number): void;
}

const OPEN_GATE: ReadGate = { allows: () => true, sending: () => {} };

/**
 * The receiver gives credit back once this share of the window is written, not when half of it
 * is: a sender out of credit must still read the next chunks from its disk before it can send, so
 * the sooner it hears, the less the connection idles. A credit frame is under 100 bytes.
 */
const CREDIT_STEP_SHARE = 1 / 4;

export const TRANSFER_TUNING_DEFAULTS: TransferTuning = {
  chunkBytes: FILE_CHUNK_BYTES,
  windowBytes: TRANSFER_WINDOW_BYTES,
  readsInFlightMax: TRANSFER_READS_IN_FLIGHT_MAX,
  progressIntervalMs: TRANSFER_PROGRESS_INTERVAL_MS,
};

abstract class TransferBase {
  protected actions: TransferAction[] = [];
  protected lastProgressMs = Number.NEGATIVE_INFINITY;
  /** When the transfer last moved (created, answered, a byte, a credit): the stall clock. */
  protected movedAtMs: number;
  failure: string | null = null;

  constructor(
    readonly meta: TransferMeta,
    protected readonly tuning: TransferTuning,
    createdAtMs: number,
  ) {
    this.movedAtMs = createdAtMs;
  }

  /** When this transfer fails as stalled unless it moves first; null while it waits for nothing stallable. */
  abstract get stallDeadlineMs(): number | null;

  /** The owner's stall timer fired: fail if the transfer has not moved since. */
  stallCheck(nowMs: number): void {
    const deadline = this.stallDeadlineMs;
    if (deadline !== null && nowMs >= deadline) this.stalled();
  }

  protected abstract stalled(): void;

  protected moved(nowMs: number): void {
    if (nowMs > this.movedAtMs) this.movedAtMs = nowMs;
  }

  get transferId(): string {
    return this.meta.transferId;
  }

  abstract get finished(): boolean;

  takeActions(): TransferAction[] {
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  protected send(frame: P2pFrame): void {
    this.actions.push({ type: 'send', frame });
  }

  protected emit(event: ClientEvent): void {
    this.actions.push({ type: 'event', event });
  }

  protected progress(bytes: number, nowMs: number, resumedFrom?: number): void {
    if (resumedFrom === undefined && nowMs - this.lastProgressMs < this.tuning.progressIntervalMs) return;
    this.lastProgressMs = nowMs;
    const event: ClientEvent =
      resumedFrom === undefined
        ? { event: 'file.progress', transferId: this.transferId, bytes, size: this.meta.size }
        : { event: 'file.progress', transferId: this.transferId, bytes, size: this.meta.size, resumedFrom };
    this.emit(event);
  }

  protected failedEvent(reason: string): void {
    this.failure = reason;
    this.emit({ event: 'file.failed', transferId: this.transferId, reason, username: this.meta.peer });
  }
}

function remoteReason(reason: string): TransferFailure {
  return isTransferFailure(reason) ? reason : 'protocol-error';
}

// ---- sender ---------------------------------------------------------------------------------------

export type OutgoingState = 'Offered' | 'Sending' | 'Digesting' | 'Suspended' | 'AwaitingOk' | 'Done' | 'Failed';

export class OutgoingTransfer extends TransferBase {
  state: OutgoingState = 'Offered';
  /** Bytes handed out as data frames (the next data offset); a resume may not start past it. */
  private sentOffset = 0;
  /** The next byte to ask the runtime to read. */
  private readOffset = 0;
  private limit = 0;
  /** Bumped on every suspend/resume: reads from before carry an old epoch and are ignored. */
  private epoch = 0;
  /** Lengths of the reads in flight, oldest first (reads complete in order). */
  private readonly pendingReads: number[] = [];
  private pendingReadBytes = 0;
  /** The whole file's SHA-256 once the port gave it (kept for a file.end after a resume). */
  private sha256: string | null = null;
  /** Set by the owner: the budget of the stream this transfer sends on. */
  gate: ReadGate = OPEN_GATE;

  constructor(
    meta: TransferMeta,
    readonly path: string,
    readonly name: string,
    nowMs: number,
    tuning: TransferTuning = TRANSFER_TUNING_DEFAULTS,
  ) {
    super(meta, tuning, nowMs);
  }

  get finished(): boolean {
    return this.state === 'Done' || this.state === 'Failed';
  }

  get bytesSent(): number {
    return this.sentOffset;
  }

  /** Bytes of the reads in flight (they will become data frames). */
  get readingBytes(): number {
    return this.pendingReadBytes;
  }

  get readsInFlight(): number {
    return this.pendingReads.length;
  }

  get stallDeadlineMs(): number | null {
    switch (this.state) {
      case 'Offered':
        return this.movedAtMs + TRANSFER_ANSWER_WAIT_MS;
      case 'Sending':
      case 'Digesting':
      case 'AwaitingOk':
        return this.movedAtMs + TRANSFER_STALL_MS;
      case 'Suspended': // its own wait: TRANSFER_RESUME_WAIT_MS
      case 'Done':
      case 'Failed':
        return null;
    }
  }

  protected stalled(): void {
    this.fail('stalled');
  }

  /** The gate may have room again: start what reads credit and the gate allow. */
  pumpReads(): void {
    this.pump();
  }

  accepted(offset: number, limit: number, nowMs: number): void {
    // The receiver has nothing yet: a start past 0 would leave a gap in the port's hash.
    if (this.state !== 'Offered' || offset !== 0) return this.protocolError();
    this.start(offset, limit, nowMs, false);
  }

  resumed(offset: number, limit: number, nowMs: number): void {
    // The receiver cannot hold bytes that were never sent.
    if (this.state !== 'Suspended' || offset > this.sentOffset) return this.protocolError();
    this.start(offset, limit, nowMs, true);
  }

  private start(offset: number, limit: number, nowMs: number, resuming: boolean): void {
    if (offset > this.meta.size || limit < offset) return this.protocolError();
    this.epoch += 1;
    this.dropReads();
    this.moved(nowMs);
    this.sentOffset = offset;
    this.readOffset = offset;
    this.limit = limit;
    if (resuming) this.progress(offset, nowMs, offset);
    if (offset === this.meta.size) return this.allSent();
    this.state = 'Sending';
    this.pump();
  }

  credit(limit: number, nowMs: number): void {
    if (this.finished || limit <= this.limit) return;
    this.limit = limit;
    this.moved(nowMs);
    this.pump();
  }

  /** A read finished. Stale (old epoch) or unexpected results are ignored. */
  chunk(epoch: number, offset: number, bytes: Uint8Array, nowMs: number): void {
    if (epoch !== this.epoch || this.state !== 'Sending') return;
    const expected = this.pendingReads.shift();
    if (expected === undefined) return;
    this.pendingReadBytes -= expected;
    if (offset !== this.sentOffset || bytes.byteLength !== expected) {
      // The file shrank or changed under us: the receiver's hash would fail anyway.
      return this.fail('io-error');
    }
    this.actions.push({ type: 'data', wireStream: this.meta.wireStream, offset, bytes });
    this.gate.sending(bytes.byteLength);
    this.sentOffset += bytes.byteLength;
    this.moved(nowMs);
    this.progress(this.sentOffset, nowMs);
    if (this.sentOffset === this.meta.size) return this.allSent();
    this.pump();
  }

  /** Every byte is out: file.end with the digest, asking the port for it first if need be. */
  private allSent(): void {
    if (this.sha256 !== null) return this.sendEnd(this.sha256);
    this.state = 'Digesting';
    this.actions.push({ type: 'digest', epoch: this.epoch });
  }

  /** The port's SHA-256 of the whole file. Kept when it comes during a drop (a resume at the end sends it). */
  digested(epoch: number, sha256: string, nowMs: number): void {
    if (this.finished) return;
    this.sha256 = sha256;
    if (epoch !== this.epoch || this.state !== 'Digesting') return;
    this.moved(nowMs);
    this.sendEnd(sha256);
  }

  private sendEnd(sha256: string): void {
    this.state = 'AwaitingOk';
    this.send({ type: 'file.end', transferId: this.transferId, sha256 });
  }

  readFailed(epoch: number): void {
    if (epoch !== this.epoch || this.finished || this.state === 'Suspended') return;
    this.fail('io-error');
  }

  ok(nowMs: number): void {
    // A file.ok repeated on a new session may reach us suspended; never before our file.end.
    if ((this.state !== 'AwaitingOk' && this.state !== 'Suspended') || this.sha256 === null) return this.protocolError();
    this.state = 'Done';
    this.progress(this.meta.size, nowMs);
    this.emit({ event: 'file.sent', transferId: this.transferId, username: this.meta.peer, size: this.meta.size, sha256: this.sha256 });
  }

  declined(): void {
    if (this.state !== 'Offered') return this.protocolError();
    this.state = 'Failed';
    this.failedEvent('declined');
  }

  remoteFailed(reason: string): void {
    if (this.finished) return;
    this.state = 'Failed';
    this.dropReads();
    this.failedEvent(remoteReason(reason));
  }

  cancel(): void {
    this.fail('cancelled');
  }

  /**
   * The channel dropped: wait for the receiver's file.resume (or its verdict) on a new session.
   * An offer not yet answered waits too: its file.accept may have been lost with the connection.
   */
  suspend(): void {
    if (this.state !== 'Offered' && this.state !== 'Sending' && this.state !== 'Digesting' && this.state !== 'AwaitingOk') return;
    this.state = 'Suspended';
    this.epoch += 1;
    this.dropReads();
  }

  /** TRANSFER_RESUME_WAIT_MS passed since the suspend: give up if still suspended. */
  resumeTimedOut(): void {
    if (this.state === 'Suspended') this.abort('resume-timeout');
  }

  /** Ends without telling the peer (the session is gone or was closed). */
  abort(reason: TransferFailure): void {
    if (this.finished) return;
    this.state = 'Failed';
    this.dropReads();
    this.failedEvent(reason);
  }

  /** Ends and tells the peer. */
  fail(reason: TransferFailure): void {
    if (this.finished) return;
    this.state = 'Failed';
    this.dropReads();
    this.send({ type: 'file.fail', transferId: this.transferId, reason });
    this.failedEvent(reason);
  }

  private protocolError(): void {
    this.fail('protocol-error');
  }

  private dropReads(): void {
    this.pendingReads.length = 0;
    this.pendingReadBytes = 0;
  }

  private pump(): void {
    const end = Math.min(this.limit, this.meta.size);
    while (this.state === 'Sending' && this.pendingReads.length < this.tuning.readsInFlightMax && this.readOffset < end) {
      const bytes = Math.min(this.tuning.chunkBytes, end - this.readOffset);
      if (!this.gate.allows(bytes)) return;
      this.actions.push({ type: 'read', epoch: this.epoch, offset: this.readOffset, bytes });
      this.pendingReads.push(bytes);
      this.pendingReadBytes += bytes;
      this.readOffset += bytes;
    }
  }
}

// ---- receiver -------------------------------------------------------------------------------------

export type IncomingState = 'Offered' | 'Receiving' | 'Suspended' | 'Rehashing' | 'Verifying' | 'Committing' | 'Done' | 'Failed';

export class IncomingTransfer extends TransferBase {
  state: IncomingState = 'Offered';
  /** Bytes handed to the runtime to write. */
  private receivedOffset = 0;
  /** Bytes the runtime reported written: where a resume starts. */
  private writtenOffset = 0;
  private limit = 0;
  private opened = false;
  /** False while the channel to the peer is down. */
  private connected = true;
  /** A resume is owed once the writes in flight are reported. */
  private resumeOwed = false;
  /** The sender's SHA-256 of the whole file, from its file.end. */
  private expectedSha256: string | null = null;
  /** Bumped on each rehash: the answer of one a drop overtook is ignored. */
  private rehashEpoch = 0;

  constructor(
    meta: TransferMeta,
    /** The raw offered name and the sanitized one the file is saved under. */
    readonly offeredName: string,
    readonly name: string,
    nowMs: number,
    tuning: TransferTuning = TRANSFER_TUNING_DEFAULTS,
  ) {
    super(meta, tuning, nowMs);
  }

  /**
   * Done or failed: the owner may forget it. An outcome decided while the peer was away is not
   * lost: the owner remembers `outcomeFrame` and repeats it when the next session opens.
   */
  get finished(): boolean {
    return this.state === 'Done' || this.state === 'Failed';
  }

  get bytesWritten(): number {
    return this.writtenOffset;
  }

  get stallDeadlineMs(): number | null {
    switch (this.state) {
      case 'Offered':
        return this.movedAtMs + TRANSFER_ANSWER_WAIT_MS;
      case 'Receiving':
        return this.movedAtMs + TRANSFER_STALL_MS;
      case 'Suspended': // its own wait: TRANSFER_RESUME_WAIT_MS
      case 'Rehashing': // local disk work, then Receiving again
      case 'Verifying':
      case 'Committing':
      case 'Done':
      case 'Failed':
        return null;
    }
  }

  protected stalled(): void {
    this.fail('stalled');
  }

  /** The frame that told the sender how this ended, to repeat on a later session (it may have been lost). */
  get outcomeFrame(): P2pFrame | null {
    if (this.state === 'Done') return { type: 'file.ok', transferId: this.transferId };
    if (this.state === 'Failed' && this.failure !== null) return { type: 'file.fail', transferId: this.transferId, reason: this.failure };
    return null;
  }

  accept(nowMs: number): void {
    if (this.state !== 'Offered') return;
    this.state = 'Receiving';
    this.opened = true;
    this.moved(nowMs);
    this.actions.push({ type: 'open' });
    this.limit = Math.min(this.meta.size, this.tuning.windowBytes);
    this.send({ type: 'file.accept', transferId: this.transferId, offset: 0, limit: this.limit });
    this.progress(0, nowMs);
  }

  decline(): void {
    if (this.state !== 'Offered') return;
    this.state = 'Failed';
    this.send({ type: 'file.decline', transferId: this.transferId });
    this.failedEvent('declined');
  }

  data(offset: number, bytes: Uint8Array, nowMs: number): void {
    if (this.state === 'Done' || this.state === 'Failed') return; // late bytes after an end: harmless
    if (this.state !== 'Receiving') return this.fail('protocol-error');
    const end = offset + bytes.byteLength;
    if (offset !== this.receivedOffset || end > this.limit || end > this.meta.size) return this.fail('protocol-error');
    if (bytes.byteLength === 0) return;
    this.receivedOffset = end;
    this.moved(nowMs);
    this.actions.push({ type: 'write', offset, bytes });
  }

  /** The sender's file.end: allowed once, after the last byte arrived. */
  end(sha256: string, nowMs: number): void {
    if (this.state === 'Done' || this.state === 'Failed') return;
    if (this.state !== 'Receiving' || this.receivedOffset !== this.meta.size || this.expectedSha256 !== null) return this.fail('protocol-error');
    this.expectedSha256 = sha256;
    this.moved(nowMs);
    this.finishIfComplete();
  }

  written(offset: number, nowMs: number): void {
    if (this.state === 'Done' || this.state === 'Failed' || this.state === 'Offered') return;
    if (offset <= this.writtenOffset || offset > this.receivedOffset) return;
    this.writtenOffset = offset;
    this.moved(nowMs);
    this.progress(offset, nowMs);
    if (this.finishIfComplete()) return;
    // Resume only once every write handed out is on disk, so the prefix hashed again is all of it.
    if (this.state === 'Suspended' && this.resumeOwed && this.connected && offset === this.receivedOffset) return this.startResume(nowMs);
    if (this.state === 'Receiving') this.grantCredit();
  }

  /** The port hashed the temporary file's prefix afresh (rehash): the resume may go. */
  rehashed(epoch: number, nowMs: number): void {
    if (this.state !== 'Rehashing' || epoch !== this.rehashEpoch) return;
    this.sendResume(nowMs);
  }

  hashed(sha256: string): void {
    if (this.state !== 'Verifying') return;
    if (sha256 !== this.expectedSha256) return this.fail('hash-mismatch');
    this.state = 'Committing';
    this.actions.push({ type: 'commit', name: this.name });
  }

  committed(path: string): void {
    if (this.state !== 'Committing' || this.expectedSha256 === null) return;
    this.state = 'Done';
    this.opened = false;
    this.notify({ type: 'file.ok', transferId: this.transferId });
    this.emit({ event: 'file.received', transferId: this.transferId, from: this.meta.peer, path, size: this.meta.size, sha256: this.expectedSha256 });
  }

  ioFailed(): void {
    this.fail('io-error');
  }

  cancel(): void {
    this.fail('cancelled');
  }

  remoteFailed(reason: string): void {
    if (this.state === 'Done' || this.state === 'Failed') return;
    this.ended(remoteReason(reason));
  }

  suspend(): void {
    this.connected = false;
    if (this.state === 'Offered') return this.abort('connection-lost');
    if (this.state === 'Receiving' || this.state === 'Rehashing') {
      this.state = 'Suspended';
      this.resumeOwed = false;
    }
  }

  /** TRANSFER_RESUME_WAIT_MS passed since the suspend: give up, and drop the temporary file. */
  resumeTimedOut(): void {
    if (this.state === 'Suspended') this.abort('resume-timeout');
  }

  /** A new session with the peer is open: pick up where the written bytes end. */
  reattach(nowMs: number): void {
    this.connected = true;
    if (this.state !== 'Suspended') return;
    if (this.writtenOffset === this.receivedOffset) return this.startResume(nowMs);
    this.resumeOwed = true;
  }

  /** Ends without telling the peer (it is away, or the session is gone). */
  abort(reason: TransferFailure): void {
    if (this.state === 'Done' || this.state === 'Failed') return;
    this.ended(reason);
  }

  fail(reason: TransferFailure): void {
    if (this.state === 'Done' || this.state === 'Failed') return;
    this.notify({ type: 'file.fail', transferId: this.transferId, reason });
    this.ended(reason);
  }

  private ended(reason: string): void {
    this.state = 'Failed';
    if (this.opened) this.actions.push({ type: 'discard' });
    this.opened = false;
    this.failedEvent(reason);
  }

  /** Sends now; while the peer is away, the owner repeats the outcome on the next session. */
  private notify(frame: P2pFrame): void {
    if (this.connected) this.send(frame);
  }

  /** Re-verify what is on disk (the port hashes the prefix again), then resume. */
  private startResume(nowMs: number): void {
    this.resumeOwed = false;
    if (this.writtenOffset === 0) return this.sendResume(nowMs);
    this.state = 'Rehashing';
    this.rehashEpoch += 1;
    this.actions.push({ type: 'rehash', epoch: this.rehashEpoch, bytes: this.writtenOffset });
  }

  private sendResume(nowMs: number): void {
    this.state = 'Receiving';
    this.moved(nowMs);
    this.limit = Math.min(this.meta.size, this.writtenOffset + this.tuning.windowBytes);
    this.send({ type: 'file.resume', transferId: this.transferId, offset: this.writtenOffset, limit: this.limit });
    this.progress(this.writtenOffset, nowMs, this.writtenOffset);
  }

  private grantCredit(): void {
    if (this.limit >= this.meta.size) return;
    if (this.limit - this.writtenOffset > this.tuning.windowBytes * (1 - CREDIT_STEP_SHARE)) return;
    this.limit = Math.min(this.meta.size, this.writtenOffset + this.tuning.windowBytes);
    this.send({ type: 'file.credit', transferId: this.transferId, limit: this.limit });
  }

  private finishIfComplete(): boolean {
    if (this.writtenOffset !== this.meta.size || this.expectedSha256 === null || (this.state !== 'Receiving' && this.state !== 'Suspended')) return false;
    this.state = 'Verifying';
    this.actions.push({ type: 'finish' });
    return true;
  }
}
