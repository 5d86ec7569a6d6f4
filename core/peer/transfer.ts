/**
 * File transfer, one pure machine per side of one file. The peer machine owns them, feeds them
 * frames and I/O results, and carries out the actions they queue (send a frame, read, write,
 * hash, rename) on the right connection and file.
 *
 * Theory of operation
 * -------------------
 * Each side is one union of states (OutgoingPhase, IncomingPhase), each named for what it waits
 * for and holding only that state's data; a transition replaces the state. SENDER_FRAME_RULES and
 * RECEIVER_FRAME_RULES say in which states each frame from the peer is taken, and in which it is
 * ignored (late or repeated after the end: harmless); in any other state the frame is a protocol
 * error: the transfer fails with the stable reason `protocol-error` and the peer is told
 * (file.fail). The port's answers carry an epoch; one from a state already left is stale and
 * ignored.
 *
 * Sender (OutgoingTransfer):
 *
 *   AwaitingAnswer ──file.accept(0, limit)──▶ Sending ──all bytes sent──▶ Digesting ──digest──▶ AwaitingOk (file.end sent) ──file.ok──▶ Done
 *   AwaitingAnswer ──file.decline──▶ Failed(declined)
 *   AwaitingAnswer/Sending/Digesting/AwaitingOk ──connection lost──▶ Suspended ──file.resume(offset, limit)──▶ Sending
 *   Suspended ──TRANSFER_RESUME_WAIT_MS without a resume──▶ Failed(resume-timeout)
 *   AwaitingAnswer ──TRANSFER_ANSWER_WAIT_MS unanswered──▶ Failed(stalled)
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
 *   AwaitingAnswer ──accept──▶ Receiving ──written == size and file.end──▶ Verifying ──hash ok──▶ Committing ──renamed──▶ Done
 *                                                                          └─hash bad──▶ Failed(hash-mismatch)
 *   Receiving ──connection lost──▶ Suspended ──new session, writes settled──▶ Rehashing ──prefix hashed──▶ Receiving (file.resume)
 *   Suspended ──TRANSFER_RESUME_WAIT_MS without a new session──▶ Failed(resume-timeout), temp file discarded
 *   AwaitingAnswer ──connection lost──▶ Failed(connection-lost)
 *   AwaitingAnswer ──TRANSFER_ANSWER_WAIT_MS unanswered──▶ Failed(stalled)
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

// ---- the transition tables ------------------------------------------------------------------------

/** A frame's place in a state: taken (a transition), ignored (late or repeated: harmless), else a protocol error. */
interface FrameRule<S extends string> {
  readonly takes: readonly S[];
  readonly ignores: readonly S[];
}

/** The frames from the receiver that reach a sender. */
export type SenderFrameType = 'file.accept' | 'file.decline' | 'file.credit' | 'file.resume' | 'file.ok' | 'file.fail';
/** The frames from the sender that reach a receiver (`data`: a data frame's bytes). */
export type ReceiverFrameType = 'data' | 'file.end' | 'file.fail';

const SENDER_ENDED: readonly OutgoingState[] = ['Done', 'Failed'];
const RECEIVER_ENDED: readonly IncomingState[] = ['Done', 'Failed'];

/**
 * In which sender states each receiver frame is taken or ignored; in any other state it is a
 * protocol error: the transfer fails with reason `protocol-error`, and the receiver is told.
 * A credit after the last byte went out still counts as movement (see the stall clock); one while
 * suspended is from before the drop. file.ok may reach a suspended sender (the receiver repeats
 * its outcome on a new session); it must come after our file.end (checked by the handler).
 */
export const SENDER_FRAME_RULES: Readonly<Record<SenderFrameType, FrameRule<OutgoingState>>> = {
  'file.accept': { takes: ['AwaitingAnswer'], ignores: SENDER_ENDED },
  'file.decline': { takes: ['AwaitingAnswer'], ignores: SENDER_ENDED },
  'file.credit': { takes: ['Sending', 'Digesting', 'AwaitingOk'], ignores: ['Suspended', ...SENDER_ENDED] },
  'file.resume': { takes: ['Suspended'], ignores: SENDER_ENDED },
  'file.ok': { takes: ['AwaitingOk', 'Suspended'], ignores: SENDER_ENDED },
  'file.fail': { takes: ['AwaitingAnswer', 'Sending', 'Digesting', 'AwaitingOk', 'Suspended'], ignores: SENDER_ENDED },
};

/** In which receiver states each sender frame is taken or ignored; in any other, a protocol error (as above). */
export const RECEIVER_FRAME_RULES: Readonly<Record<ReceiverFrameType, FrameRule<IncomingState>>> = {
  data: { takes: ['Receiving'], ignores: RECEIVER_ENDED },
  'file.end': { takes: ['Receiving'], ignores: RECEIVER_ENDED },
  'file.fail': { takes: ['AwaitingAnswer', 'Receiving', 'Suspended', 'Rehashing', 'Verifying', 'Committing'], ignores: RECEIVER_ENDED },
};

/** 'take', 'ignore' or 'refuse' (a protocol error) for a frame in a state, by a table above. */
function ruling<S extends string>(rule: FrameRule<S>, state: S): 'take' | 'ignore' | 'refuse' {
  if (rule.takes.includes(state)) return 'take';
  return rule.ignores.includes(state) ? 'ignore' : 'refuse';
}

// ---- sender ---------------------------------------------------------------------------------------

/**
 * A sender in one state, named for what it waits for, holding only that state's data. The
 * counters of Sending change in place as chunks go out (one object per run of chunks, not one per
 * chunk); every other transition replaces the state.
 */
export type OutgoingPhase =
  /** The offer is out: waits for the receiver's file.accept or file.decline. */
  | { readonly state: 'AwaitingAnswer' }
  /**
   * Waits for credit, the gate and the reads in flight (oldest first, completed in order).
   * sentOffset: bytes handed out as data frames (the next data offset); readOffset: the next byte
   * to ask the port for; limit: the receiver's credit; epoch: this run's reads (older ones are stale).
   */
  | {
      readonly state: 'Sending';
      readonly epoch: number;
      sentOffset: number;
      readOffset: number;
      limit: number;
      readonly pendingReads: number[];
      pendingReadBytes: number;
    }
  /** Every byte is out: waits for the port's digest of the whole file. */
  | { readonly state: 'Digesting'; readonly epoch: number; readonly limit: number }
  /** file.end sent: waits for file.ok. */
  | { readonly state: 'AwaitingOk'; readonly limit: number }
  /** The channel dropped: waits for the receiver's file.resume (or its verdict) on a new session. */
  | { readonly state: 'Suspended'; readonly sentOffset: number }
  | { readonly state: 'Done' }
  | { readonly state: 'Failed'; readonly reason: string };

export type OutgoingState = OutgoingPhase['state'];

export class OutgoingTransfer extends TransferBase {
  private phase: OutgoingPhase = { state: 'AwaitingAnswer' };
  /** Bumped on every run of reads (a start or resume) and every suspend: reads from before are stale. */
  private epoch = 0;
  /**
   * The whole file's SHA-256 once the port gave it. Not a state's: it is a fact about the file,
   * kept across a drop (it may arrive while suspended) for a file.end after a resume at the end.
   */
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

  get state(): OutgoingState {
    return this.phase.state;
  }

  get finished(): boolean {
    return this.phase.state === 'Done' || this.phase.state === 'Failed';
  }

  get bytesSent(): number {
    const p = this.phase;
    switch (p.state) {
      case 'Sending':
      case 'Suspended':
        return p.sentOffset;
      case 'Digesting':
      case 'AwaitingOk':
      case 'Done':
        return this.meta.size;
      case 'AwaitingAnswer':
      case 'Failed':
        return 0;
    }
  }

  /** Bytes of the reads in flight (they will become data frames). */
  get readingBytes(): number {
    return this.phase.state === 'Sending' ? this.phase.pendingReadBytes : 0;
  }

  get readsInFlight(): number {
    return this.phase.state === 'Sending' ? this.phase.pendingReads.length : 0;
  }

  get stallDeadlineMs(): number | null {
    switch (this.phase.state) {
      case 'AwaitingAnswer':
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
    if (this.phase.state === 'Sending') this.pump(this.phase);
  }

  // ---- the receiver's frames (SENDER_FRAME_RULES) ------------------------------------------------

  accepted(offset: number, limit: number, nowMs: number): void {
    if (!this.admits('file.accept')) return;
    // The receiver has nothing yet: a start past 0 would leave a gap in the port's hash.
    if (offset !== 0) return this.protocolError();
    this.start(offset, limit, nowMs, false);
  }

  resumed(offset: number, limit: number, nowMs: number): void {
    if (!this.admits('file.resume') || this.phase.state !== 'Suspended') return;
    // The receiver cannot hold bytes that were never sent.
    if (offset > this.phase.sentOffset) return this.protocolError();
    this.start(offset, limit, nowMs, true);
  }

  credit(limit: number, nowMs: number): void {
    if (!this.admits('file.credit')) return;
    const p = this.phase;
    if (p.state === 'Sending') {
      if (limit <= p.limit) return;
      p.limit = limit;
      this.moved(nowMs);
      return this.pump(p);
    }
    if ((p.state === 'Digesting' || p.state === 'AwaitingOk') && limit > p.limit) {
      // The receiver is still writing the last bytes: the transfer moves.
      this.phase = { ...p, limit };
      this.moved(nowMs);
    }
  }

  ok(nowMs: number): void {
    if (!this.admits('file.ok')) return;
    // Never before our file.end (a suspended sender may have sent it before the drop).
    if (this.sha256 === null) return this.protocolError();
    this.phase = { state: 'Done' };
    this.progress(this.meta.size, nowMs);
    this.emit({ event: 'file.sent', transferId: this.transferId, username: this.meta.peer, size: this.meta.size, sha256: this.sha256 });
  }

  declined(): void {
    if (!this.admits('file.decline')) return;
    this.phase = { state: 'Failed', reason: 'declined' };
    this.failedEvent('declined');
  }

  remoteFailed(reason: string): void {
    if (!this.admits('file.fail')) return;
    const failure = remoteReason(reason);
    this.phase = { state: 'Failed', reason: failure };
    this.failedEvent(failure);
  }

  // ---- the port's answers ---------------------------------------------------------------------

  /** A read finished. Stale (old epoch) or unexpected results are ignored. */
  chunk(epoch: number, offset: number, bytes: Uint8Array, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'Sending' || epoch !== p.epoch) return;
    const expected = p.pendingReads.shift();
    if (expected === undefined) return;
    p.pendingReadBytes -= expected;
    if (offset !== p.sentOffset || bytes.byteLength !== expected) {
      // The file shrank or changed under us: the receiver's hash would fail anyway.
      return this.fail('io-error');
    }
    this.actions.push({ type: 'data', wireStream: this.meta.wireStream, offset, bytes });
    this.gate.sending(bytes.byteLength);
    p.sentOffset += bytes.byteLength;
    this.moved(nowMs);
    this.progress(p.sentOffset, nowMs);
    if (p.sentOffset === this.meta.size) return this.allSent(p.epoch, p.limit);
    this.pump(p);
  }

  /** The port's SHA-256 of the whole file. Kept when it comes during a drop (a resume at the end sends it). */
  digested(epoch: number, sha256: string, nowMs: number): void {
    if (this.finished) return;
    this.sha256 = sha256;
    const p = this.phase;
    if (p.state !== 'Digesting' || epoch !== p.epoch) return;
    this.moved(nowMs);
    this.sendEnd(sha256, p.limit);
  }

  readFailed(epoch: number): void {
    const p = this.phase;
    if ((p.state !== 'Sending' && p.state !== 'Digesting') || epoch !== p.epoch) return;
    this.fail('io-error');
  }

  // ---- the owner's inputs ---------------------------------------------------------------------

  cancel(): void {
    this.fail('cancelled');
  }

  /**
   * The channel dropped: wait for the receiver's file.resume (or its verdict) on a new session.
   * An offer not yet answered waits too: its file.accept may have been lost with the connection.
   */
  suspend(): void {
    const p = this.phase;
    if (p.state === 'Suspended' || p.state === 'Done' || p.state === 'Failed') return;
    this.epoch += 1;
    this.phase = { state: 'Suspended', sentOffset: this.bytesSent };
  }

  /** TRANSFER_RESUME_WAIT_MS passed since the suspend: give up if still suspended. */
  resumeTimedOut(): void {
    if (this.phase.state === 'Suspended') this.abort('resume-timeout');
  }

  /** Ends without telling the peer (the session is gone or was closed). */
  abort(reason: TransferFailure): void {
    if (this.finished) return;
    this.phase = { state: 'Failed', reason };
    this.failedEvent(reason);
  }

  /** Ends and tells the peer. */
  fail(reason: TransferFailure): void {
    if (this.finished) return;
    this.phase = { state: 'Failed', reason };
    this.send({ type: 'file.fail', transferId: this.transferId, reason });
    this.failedEvent(reason);
  }

  // ---- transitions ----------------------------------------------------------------------------

  /** Whether the table takes this frame now; a frame it refuses fails the transfer (protocol-error). */
  private admits(frame: SenderFrameType): boolean {
    const verdict = ruling(SENDER_FRAME_RULES[frame], this.phase.state);
    if (verdict === 'refuse') this.protocolError();
    return verdict === 'take';
  }

  private start(offset: number, limit: number, nowMs: number, resuming: boolean): void {
    if (offset > this.meta.size || limit < offset) return this.protocolError();
    this.epoch += 1;
    this.moved(nowMs);
    if (resuming) this.progress(offset, nowMs, offset);
    if (offset === this.meta.size) return this.allSent(this.epoch, limit);
    const sending: OutgoingPhase = { state: 'Sending', epoch: this.epoch, sentOffset: offset, readOffset: offset, limit, pendingReads: [], pendingReadBytes: 0 };
    this.phase = sending;
    this.pump(sending);
  }

  /** Every byte is out: file.end with the digest, asking the port for it first if need be. */
  private allSent(epoch: number, limit: number): void {
    if (this.sha256 !== null) return this.sendEnd(this.sha256, limit);
    this.phase = { state: 'Digesting', epoch, limit };
    this.actions.push({ type: 'digest', epoch });
  }

  private sendEnd(sha256: string, limit: number): void {
    this.phase = { state: 'AwaitingOk', limit };
    this.send({ type: 'file.end', transferId: this.transferId, sha256 });
  }

  private protocolError(): void {
    this.fail('protocol-error');
  }

  private pump(p: Extract<OutgoingPhase, { state: 'Sending' }>): void {
    const end = Math.min(p.limit, this.meta.size);
    while (this.phase === p && p.pendingReads.length < this.tuning.readsInFlightMax && p.readOffset < end) {
      const bytes = Math.min(this.tuning.chunkBytes, end - p.readOffset);
      if (!this.gate.allows(bytes)) return;
      this.actions.push({ type: 'read', epoch: p.epoch, offset: p.readOffset, bytes });
      p.pendingReads.push(bytes);
      p.pendingReadBytes += bytes;
      p.readOffset += bytes;
    }
  }
}

// ---- receiver -------------------------------------------------------------------------------------

/**
 * A receiver in one state, named for what it waits for, holding only that state's data.
 * receivedOffset: bytes handed to the port to write; writtenOffset: bytes it reported written
 * (where a resume starts); limit: the credit given; expectedSha256: the sender's file.end, once
 * it came. Receiving's counters change in place as bytes arrive and are written.
 */
export type IncomingPhase =
  /** An offer came: waits for the user's answer (file.answer, or auto-accept). */
  | { readonly state: 'AwaitingAnswer' }
  /** Waits for data frames, the writes in flight, and file.end. */
  | { readonly state: 'Receiving'; receivedOffset: number; writtenOffset: number; limit: number; readonly expectedSha256: string | null }
  /**
   * The channel dropped: waits for a new session (reattach) and for the writes still in flight.
   * A session back before those writes settle (`connected` again) owes the resume once they do.
   */
  | { readonly state: 'Suspended'; readonly receivedOffset: number; readonly writtenOffset: number; readonly expectedSha256: string | null }
  /** Waits for the port to hash the temporary file's prefix afresh (then file.resume). */
  | { readonly state: 'Rehashing'; readonly rehashEpoch: number; readonly writtenOffset: number; readonly expectedSha256: string | null }
  /** Every byte written and file.end in: waits for the port's hash of the temporary file. */
  | { readonly state: 'Verifying'; readonly expectedSha256: string }
  /** The hash matched: waits for the port to move the file into place. */
  | { readonly state: 'Committing'; readonly expectedSha256: string }
  | { readonly state: 'Done' }
  | { readonly state: 'Failed'; readonly reason: string };

export type IncomingState = IncomingPhase['state'];

/** The states in which the temporary file exists (a failure discards it). */
const WITH_TEMPORARY_FILE: readonly IncomingState[] = ['Receiving', 'Suspended', 'Rehashing', 'Verifying', 'Committing'];

export class IncomingTransfer extends TransferBase {
  private phase: IncomingPhase = { state: 'AwaitingAnswer' };
  /**
   * False while the channel to the peer is down. Not a state's: a transfer can end in any state
   * with the peer away, and its outcome frame then waits for the next session. In Suspended it
   * also says whether a session is back, owed a resume once the writes in flight settle.
   */
  private connected = true;
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

  get state(): IncomingState {
    return this.phase.state;
  }

  /**
   * Done or failed: the owner may forget it. An outcome decided while the peer was away is not
   * lost: the owner remembers `outcomeFrame` and repeats it when the next session opens.
   */
  get finished(): boolean {
    return this.phase.state === 'Done' || this.phase.state === 'Failed';
  }

  get bytesWritten(): number {
    const p = this.phase;
    switch (p.state) {
      case 'Receiving':
      case 'Suspended':
      case 'Rehashing':
        return p.writtenOffset;
      case 'Verifying':
      case 'Committing':
      case 'Done':
        return this.meta.size;
      case 'AwaitingAnswer':
      case 'Failed':
        return 0;
    }
  }

  get stallDeadlineMs(): number | null {
    switch (this.phase.state) {
      case 'AwaitingAnswer':
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
    const p = this.phase;
    if (p.state === 'Done') return { type: 'file.ok', transferId: this.transferId };
    if (p.state === 'Failed') return { type: 'file.fail', transferId: this.transferId, reason: p.reason };
    return null;
  }

  // ---- the user's answer ----------------------------------------------------------------------

  accept(nowMs: number): void {
    if (this.phase.state !== 'AwaitingAnswer') return;
    const limit = Math.min(this.meta.size, this.tuning.windowBytes);
    this.phase = { state: 'Receiving', receivedOffset: 0, writtenOffset: 0, limit, expectedSha256: null };
    this.moved(nowMs);
    this.actions.push({ type: 'open' });
    this.send({ type: 'file.accept', transferId: this.transferId, offset: 0, limit });
    this.progress(0, nowMs);
  }

  decline(): void {
    if (this.phase.state !== 'AwaitingAnswer') return;
    this.phase = { state: 'Failed', reason: 'declined' };
    this.send({ type: 'file.decline', transferId: this.transferId });
    this.failedEvent('declined');
  }

  // ---- the sender's frames (RECEIVER_FRAME_RULES) ------------------------------------------------

  data(offset: number, bytes: Uint8Array, nowMs: number): void {
    if (!this.admits('data') || this.phase.state !== 'Receiving') return;
    const p = this.phase;
    const end = offset + bytes.byteLength;
    if (offset !== p.receivedOffset || end > p.limit || end > this.meta.size) return this.fail('protocol-error');
    if (bytes.byteLength === 0) return;
    p.receivedOffset = end;
    this.moved(nowMs);
    this.actions.push({ type: 'write', offset, bytes });
  }

  /** The sender's file.end: allowed once, after the last byte arrived. */
  end(sha256: string, nowMs: number): void {
    if (!this.admits('file.end') || this.phase.state !== 'Receiving') return;
    const p = this.phase;
    if (p.receivedOffset !== this.meta.size || p.expectedSha256 !== null) return this.fail('protocol-error');
    const receiving = { ...p, expectedSha256: sha256 };
    this.phase = receiving;
    this.moved(nowMs);
    this.finishIfComplete(receiving);
  }

  remoteFailed(reason: string): void {
    if (!this.admits('file.fail')) return;
    this.ended(remoteReason(reason));
  }

  // ---- the port's answers ---------------------------------------------------------------------

  /** `offset`: the end of the written bytes after this write. */
  written(offset: number, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'Receiving' && p.state !== 'Suspended') return;
    if (offset <= p.writtenOffset || offset > p.receivedOffset) return;
    this.moved(nowMs);
    this.progress(offset, nowMs);
    if (p.state === 'Receiving') {
      p.writtenOffset = offset;
      if (this.finishIfComplete(p)) return;
      return this.grantCredit(p);
    }
    const suspended = { ...p, writtenOffset: offset };
    this.phase = suspended;
    if (this.finishIfComplete(suspended)) return;
    // Resume only once every write handed out is on disk, so the prefix hashed again is all of it.
    if (this.connected && offset === suspended.receivedOffset) this.startResume(suspended, nowMs);
  }

  /** The port hashed the temporary file's prefix afresh (rehash): the resume may go. */
  rehashed(epoch: number, nowMs: number): void {
    const p = this.phase;
    if (p.state !== 'Rehashing' || epoch !== p.rehashEpoch) return;
    this.sendResume(p.writtenOffset, p.expectedSha256, nowMs);
  }

  hashed(sha256: string): void {
    const p = this.phase;
    if (p.state !== 'Verifying') return;
    if (sha256 !== p.expectedSha256) return this.fail('hash-mismatch');
    this.phase = { state: 'Committing', expectedSha256: p.expectedSha256 };
    this.actions.push({ type: 'commit', name: this.name });
  }

  committed(path: string): void {
    const p = this.phase;
    if (p.state !== 'Committing') return;
    this.phase = { state: 'Done' };
    this.notify({ type: 'file.ok', transferId: this.transferId });
    this.emit({ event: 'file.received', transferId: this.transferId, from: this.meta.peer, path, size: this.meta.size, sha256: p.expectedSha256 });
  }

  ioFailed(): void {
    this.fail('io-error');
  }

  // ---- the owner's inputs ---------------------------------------------------------------------

  cancel(): void {
    this.fail('cancelled');
  }

  /**
   * Holds a slot without moving: an offer not answered yet, or accepted with no byte received.
   * Such a transfer may be pushed out (failed `busy`) to make room for another friend's offer.
   */
  get idle(): boolean {
    const p = this.phase;
    return p.state === 'AwaitingAnswer' || (p.state === 'Receiving' && p.receivedOffset === 0);
  }

  suspend(): void {
    this.connected = false;
    const p = this.phase;
    if (p.state === 'AwaitingAnswer') return this.abort('connection-lost');
    if (p.state === 'Receiving') {
      this.phase = { state: 'Suspended', receivedOffset: p.receivedOffset, writtenOffset: p.writtenOffset, expectedSha256: p.expectedSha256 };
    } else if (p.state === 'Rehashing') {
      // Every write was settled before the rehash began: nothing is in flight.
      this.phase = { state: 'Suspended', receivedOffset: p.writtenOffset, writtenOffset: p.writtenOffset, expectedSha256: p.expectedSha256 };
    }
  }

  /** TRANSFER_RESUME_WAIT_MS passed since the suspend: give up, and drop the temporary file. */
  resumeTimedOut(): void {
    if (this.phase.state === 'Suspended') this.abort('resume-timeout');
  }

  /** A new session with the peer is open: pick up where the written bytes end. */
  reattach(nowMs: number): void {
    this.connected = true;
    const p = this.phase;
    if (p.state !== 'Suspended') return;
    // With writes still in flight, the last of them starts the resume (written).
    if (p.writtenOffset === p.receivedOffset) this.startResume(p, nowMs);
  }

  /** Ends without telling the peer (it is away, or the session is gone). */
  abort(reason: TransferFailure): void {
    if (this.finished) return;
    this.ended(reason);
  }

  fail(reason: TransferFailure): void {
    if (this.finished) return;
    this.notify({ type: 'file.fail', transferId: this.transferId, reason });
    this.ended(reason);
  }

  // ---- transitions ----------------------------------------------------------------------------

  /** Whether the table takes this frame now; a frame it refuses fails the transfer (protocol-error). */
  private admits(frame: ReceiverFrameType): boolean {
    const verdict = ruling(RECEIVER_FRAME_RULES[frame], this.phase.state);
    if (verdict === 'refuse') this.fail('protocol-error');
    return verdict === 'take';
  }

  private ended(reason: string): void {
    const hadFile = WITH_TEMPORARY_FILE.includes(this.phase.state);
    this.phase = { state: 'Failed', reason };
    if (hadFile) this.actions.push({ type: 'discard' });
    this.failedEvent(reason);
  }

  /** Sends now; while the peer is away, the owner repeats the outcome on the next session. */
  private notify(frame: P2pFrame): void {
    if (this.connected) this.send(frame);
  }

  /** Re-verify what is on disk (the port hashes the prefix again), then resume. */
  private startResume(p: Extract<IncomingPhase, { state: 'Suspended' }>, nowMs: number): void {
    if (p.writtenOffset === 0) return this.sendResume(0, p.expectedSha256, nowMs);
    this.rehashEpoch += 1;
    this.phase = { state: 'Rehashing', rehashEpoch: this.rehashEpoch, writtenOffset: p.writtenOffset, expectedSha256: p.expectedSha256 };
    this.actions.push({ type: 'rehash', epoch: this.rehashEpoch, bytes: p.writtenOffset });
  }

  private sendResume(writtenOffset: number, expectedSha256: string | null, nowMs: number): void {
    const limit = Math.min(this.meta.size, writtenOffset + this.tuning.windowBytes);
    this.phase = { state: 'Receiving', receivedOffset: writtenOffset, writtenOffset, limit, expectedSha256 };
    this.moved(nowMs);
    this.send({ type: 'file.resume', transferId: this.transferId, offset: writtenOffset, limit });
    this.progress(writtenOffset, nowMs, writtenOffset);
  }

  private grantCredit(p: Extract<IncomingPhase, { state: 'Receiving' }>): void {
    if (p.limit >= this.meta.size) return;
    if (p.limit - p.writtenOffset > this.tuning.windowBytes * (1 - CREDIT_STEP_SHARE)) return;
    p.limit = Math.min(this.meta.size, p.writtenOffset + this.tuning.windowBytes);
    this.send({ type: 'file.credit', transferId: this.transferId, limit: p.limit });
  }

  /** Every byte written and file.end in: verify (Receiving, or Suspended with the last write just done). */
  private finishIfComplete(p: Extract<IncomingPhase, { state: 'Receiving' | 'Suspended' }>): boolean {
    if (p.writtenOffset !== this.meta.size || p.expectedSha256 === null) return false;
    this.phase = { state: 'Verifying', expectedSha256: p.expectedSha256 };
    this.actions.push({ type: 'finish' });
    return true;
  }
}
