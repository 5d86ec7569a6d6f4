/**
 * The transfer machines (core/peer/transfer.ts), sender and receiver, wired together in memory:
 * a tiny simulator with a channel that can drop (losing whatever is in flight) and come back,
 * reads and writes that complete whenever the schedule says, and arbitrary chunk and window
 * sizes. The sender's port hashes what it reads (core/peer/read-hash.ts) and the digest goes in
 * file.end; the receiver's port hashes its prefix again from "disk" before a resume. The properties:
 * the receiver only ever keeps a file byte-identical to the source; when the source changes under
 * the sender, it keeps the file as it was read (one version, never a mix the digest does not
 * cover) or the transfer fails clearly; a .part prefix changed while suspended fails the final
 * check (hash-mismatch).
 */
import { createHash, type Hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { ReadHash } from '../../../core/peer/read-hash.ts';
import { IncomingTransfer, OutgoingTransfer, type TransferAction, type TransferTuning } from '../../../core/peer/transfer.ts';
import { replay } from '../../helpers/fc-replay.ts';

type Wire = { kind: 'control'; frame: P2pFrame } | { kind: 'data'; offset: number; bytes: Uint8Array };

const STEP = ['toReceiver', 'toSender', 'read', 'write', 'hash', 'commit', 'drop', 'reconnect', 'mutate', 'corrupt'] as const;
type Step = (typeof STEP)[number];

interface Outcome {
  senderState: string;
  receiverState: string;
  senderFailure: string | null;
  receiverFailure: string | null;
  committed: Uint8Array | null;
  mutated: boolean;
  /** The source as it was after the mutation (null when none). */
  mutatedFile: Uint8Array | null;
  dropped: boolean;
  /** A byte of the receiver's temporary file changed while the transfer was suspended. */
  corrupted: boolean;
  events: string[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function run(source: Uint8Array, tuning: TransferTuning, schedule: readonly Step[], healSteps: number): Outcome {
  let file = source;
  const meta = { transferId: 't1', peer: 'other', wireStream: 1, size: source.byteLength };
  const sender = new OutgoingTransfer(meta, '/src', 'f.bin', 0, tuning);
  const receiver = new IncomingTransfer(meta, 'f.bin', 'f.bin', 0, tuning);
  const readHash = new ReadHash(createHash('sha256'));
  let digestPending: number | null = null;
  let rehashPending: { epoch: number; bytes: number } | null = null;
  let connected = true;
  let mutated = false;
  let corrupted = false;
  let dropped = false;
  const toReceiver: Wire[] = [];
  const toSender: Wire[] = [];
  const reads: Array<{ epoch: number; offset: number; bytes: number }> = [];
  const writes: Array<{ offset: number; bytes: Uint8Array }> = [];
  let disk = new Uint8Array(0);
  let hash: Hash | null = null;
  let finishPending = false;
  let commitPending = false;
  let committed: Uint8Array | null = null;
  const events: string[] = [];
  let nowMs = 0;

  const route = (actions: TransferAction[], fromSender: boolean): void => {
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          if (connected) (fromSender ? toReceiver : toSender).push({ kind: 'control', frame: action.frame });
          break;
        case 'data':
          if (connected) toReceiver.push({ kind: 'data', offset: action.offset, bytes: action.bytes });
          break;
        case 'read':
          reads.push(action);
          break;
        case 'digest':
          digestPending = action.epoch;
          break;
        case 'rehash':
          rehashPending = { epoch: action.epoch, bytes: action.bytes };
          break;
        case 'open':
          disk = new Uint8Array(meta.size);
          hash = createHash('sha256');
          break;
        case 'write':
          writes.push(action);
          break;
        case 'finish':
          finishPending = true;
          break;
        case 'commit':
          commitPending = true;
          break;
        case 'discard':
          disk = new Uint8Array(0);
          writes.length = 0;
          break;
        case 'event':
          events.push(`${fromSender ? 'sender' : 'receiver'}:${action.event.event}`);
          break;
      }
    }
  };
  const flush = (): void => {
    route(sender.takeActions(), true);
    route(receiver.takeActions(), false);
  };

  const apply = (step: Step): void => {
    nowMs += 1;
    switch (step) {
      case 'toReceiver': {
        const wire = toReceiver.shift();
        if (wire === undefined) return;
        if (wire.kind === 'data') receiver.data(wire.offset, wire.bytes, nowMs);
        else if (wire.frame.type === 'file.end') receiver.end(wire.frame.sha256, nowMs);
        else if (wire.frame.type === 'file.fail') receiver.remoteFailed(wire.frame.reason);
        break;
      }
      case 'toSender': {
        const wire = toSender.shift();
        if (wire === undefined || wire.kind !== 'control') return;
        const frame = wire.frame;
        if (sender.finished) {
          // What the peer machine does for a transfer it no longer has: refuse a resume, ignore the rest.
          if (connected && frame.type === 'file.resume') {
            toReceiver.push({ kind: 'control', frame: { type: 'file.fail', transferId: 't1', reason: 'no-such-transfer' } });
          }
          return;
        }
        if (frame.type === 'file.accept') sender.accepted(frame.offset, frame.limit, nowMs);
        else if (frame.type === 'file.credit') sender.credit(frame.limit, nowMs);
        else if (frame.type === 'file.resume') sender.resumed(frame.offset, frame.limit, nowMs);
        else if (frame.type === 'file.ok') sender.ok(nowMs);
        else if (frame.type === 'file.fail') sender.remoteFailed(frame.reason);
        else if (frame.type === 'file.decline') sender.declined();
        break;
      }
      case 'read': {
        const read = reads.shift();
        if (read === undefined) {
          // The port answers a digest after the reads asked before it.
          if (digestPending === null) return;
          const epoch = digestPending;
          digestPending = null;
          sender.digested(epoch, readHash.digest(), nowMs);
          break;
        }
        const chunk = file.slice(read.offset, read.offset + read.bytes);
        readHash.feed(read.offset, chunk);
        sender.chunk(read.epoch, read.offset, chunk, nowMs);
        break;
      }
      case 'write': {
        if (writes.length === 0 && rehashPending !== null && hash !== null) {
          // The prefix as it is on disk now, not as it was hashed when it arrived.
          const { epoch, bytes } = rehashPending;
          rehashPending = null;
          hash = createHash('sha256').update(disk.subarray(0, bytes));
          receiver.rehashed(epoch, nowMs);
          break;
        }
        const write = writes.shift();
        if (write === undefined || hash === null) return;
        disk.set(write.bytes, write.offset);
        hash.update(write.bytes);
        receiver.written(write.offset + write.bytes.byteLength, nowMs);
        break;
      }
      case 'hash':
        if (!finishPending || hash === null) return;
        finishPending = false;
        receiver.hashed(hash.digest('hex'));
        hash = null;
        break;
      case 'commit':
        if (!commitPending) return;
        commitPending = false;
        committed = disk.slice();
        receiver.committed('/downloads/f.bin');
        break;
      case 'drop':
        if (!connected) return;
        connected = false;
        toReceiver.length = 0;
        toSender.length = 0;
        dropped = true;
        sender.suspend();
        receiver.suspend();
        break;
      case 'reconnect':
        if (connected) return;
        connected = true;
        receiver.reattach(nowMs);
        // The peer machine repeats the outcome of a finished transfer on every new session.
        if (receiver.finished && receiver.outcomeFrame !== null) toSender.push({ kind: 'control', frame: receiver.outcomeFrame });
        break;
      case 'mutate':
        if (file.byteLength === 0 || mutated) return;
        file = file.slice();
        file[file.byteLength >> 1] = (file[file.byteLength >> 1]! + 1) & 0xff;
        mutated = true;
        break;
      case 'corrupt':
        // While the transfer waits for a resume (every write handed out is on disk): the resume
        // hashes the prefix again. Bytes still being written when the peer left finish without one.
        if (connected || corrupted || receiver.state !== 'Suspended' || writes.length > 0 || receiver.bytesWritten === 0) return;
        disk[0] = (disk[0]! + 1) & 0xff;
        corrupted = true;
        break;
    }
    flush();
  };

  receiver.accept(nowMs);
  flush();
  for (const step of schedule) apply(step);
  // Healed phase: no more faults; everything pending is delivered until both sides are done.
  apply('reconnect');
  for (let i = 0; i < healSteps && !(sender.finished && receiver.finished); i++) {
    for (const step of ['toSender', 'read', 'toReceiver', 'write', 'hash', 'commit'] as const) apply(step);
  }
  return {
    senderState: sender.state,
    receiverState: receiver.state,
    senderFailure: sender.failure,
    receiverFailure: receiver.failure,
    committed,
    mutated,
    mutatedFile: mutated ? file : null,
    dropped,
    corrupted,
    events,
  };
}

const tuningArb = fc.record({
  chunkBytes: fc.integer({ min: 1, max: 2_000 }),
  windowBytes: fc.integer({ min: 1, max: 8_000 }),
  readsInFlightMax: fc.integer({ min: 1, max: 4 }),
  progressIntervalMs: fc.constant(0),
});

const faultFreeStep = fc.constantFrom<Step>('toReceiver', 'toSender', 'read', 'write', 'hash', 'commit');
const anyStep = fc.oneof(
  { weight: 20, arbitrary: faultFreeStep },
  { weight: 1, arbitrary: fc.constantFrom<Step>('drop') },
  { weight: 2, arbitrary: fc.constantFrom<Step>('reconnect') },
);

describe('transfer machines', () => {
  it('over arbitrary chunkings, drops and resumes (also before the sender heard the accept), the receiver ends with a byte-identical file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 5_000, size: 'max' }), tuningArb, fc.array(anyStep, { minLength: 20, maxLength: 300, size: 'max' }), (source, tuning, schedule) => {
        const outcome = run(source, tuning, schedule, 200_000);
        // Even an offer caught by a drop before the sender heard its file.accept resumes (from 0).
        expect(outcome.receiverFailure).toBeNull();
        expect(outcome.senderFailure).toBeNull();
        expect(outcome.receiverState).toBe('Done');
        expect(outcome.senderState).toBe('Done');
        expect(outcome.committed).not.toBeNull();
        expect(Buffer.from(outcome.committed!).equals(Buffer.from(source))).toBe(true);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('when the source changes mid-way, the result is a clear failure or the file as it was read (one version), never a mix its digest does not cover', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 5_000, size: 'max' }), tuningArb, fc.array(fc.oneof({ weight: 10, arbitrary: anyStep }, { weight: 1, arbitrary: fc.constantFrom<Step>('mutate') }), { minLength: 20, maxLength: 300, size: 'max' }), (source, tuning, schedule) => {
      const outcome = run(source, tuning, schedule, 200_000);
      if (outcome.committed !== null) {
        // The file as the sender read it: the original, or the changed one when the change came
        // before its byte was read. Bytes read again after the change (a resume) fail the check.
        const kept = Buffer.from(outcome.committed);
        const versions = [source, outcome.mutatedFile].filter((v): v is Uint8Array => v !== null);
        expect(versions.some((v) => kept.equals(Buffer.from(v)))).toBe(true);
        expect(outcome.receiverState).toBe('Done');
      } else {
        expect(outcome.mutated || outcome.dropped).toBe(true);
        expect(outcome.receiverState).toBe('Failed');
        expect(['hash-mismatch', 'io-error', 'no-such-transfer']).toContain(outcome.receiverFailure);
        expect(outcome.senderState).toBe('Failed');
      }
    }),
      { numRuns: 200, ...replay },
    );
  });

  it('a .part prefix changed while the transfer was suspended is never renamed into place: the final check fails with hash-mismatch', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 2, maxLength: 5_000, size: 'max' }),
        tuningArb,
        fc.array(fc.oneof({ weight: 10, arbitrary: anyStep }, { weight: 3, arbitrary: fc.constantFrom<Step>('corrupt') }), { minLength: 20, maxLength: 300, size: 'max' }),
        (source, tuning, schedule) => {
          const outcome = run(source, tuning, schedule, 200_000);
          if (!outcome.corrupted) return;
          expect(outcome.committed).toBeNull();
          expect(outcome.receiverState).toBe('Failed');
          expect(outcome.receiverFailure).toBe('hash-mismatch');
          expect(outcome.senderFailure).toBe('hash-mismatch');
        },
      ),
      { numRuns: 300, ...replay },
    );
  });
});
