/**
 * The transfer machines (core/peer/transfer.ts), sender and receiver, wired together in memory:
 * a tiny simulator with a channel that can drop (losing whatever is in flight) and come back,
 * reads and writes that complete whenever the schedule says, and arbitrary chunk and window
 * sizes. The property: the receiver only ever keeps a file byte-identical to the source; when the
 * source changes under the sender, the transfer fails clearly instead.
 */
import { createHash, type Hash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { IncomingTransfer, OutgoingTransfer, type TransferAction, type TransferTuning } from '../../../core/peer/transfer.ts';
import { replay } from '../../helpers/fc-replay.ts';

type Wire = { kind: 'control'; frame: P2pFrame } | { kind: 'data'; offset: number; bytes: Uint8Array };

const STEP = ['toReceiver', 'toSender', 'read', 'write', 'hash', 'commit', 'drop', 'reconnect', 'mutate'] as const;
type Step = (typeof STEP)[number];

interface Outcome {
  senderState: string;
  receiverState: string;
  senderFailure: string | null;
  receiverFailure: string | null;
  committed: Uint8Array | null;
  mutated: boolean;
  dropped: boolean;
  events: string[];
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function run(source: Uint8Array, tuning: TransferTuning, schedule: readonly Step[], healSteps: number): Outcome {
  let file = source;
  const meta = { transferId: 't1', peer: 'other', wireStream: 1, size: source.byteLength, sha256: sha256(source) };
  const sender = new OutgoingTransfer(meta, '/src', 'f.bin', tuning);
  const receiver = new IncomingTransfer(meta, 'f.bin', 'f.bin', tuning);
  let connected = true;
  let mutated = false;
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
        if (wire.kind === 'data') receiver.data(wire.offset, wire.bytes);
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
        else if (frame.type === 'file.credit') sender.credit(frame.limit);
        else if (frame.type === 'file.resume') sender.resumed(frame.offset, frame.limit, nowMs);
        else if (frame.type === 'file.ok') sender.ok(nowMs);
        else if (frame.type === 'file.fail') sender.remoteFailed(frame.reason);
        else if (frame.type === 'file.decline') sender.declined();
        break;
      }
      case 'read': {
        const read = reads.shift();
        if (read === undefined) return;
        sender.chunk(read.epoch, read.offset, file.slice(read.offset, read.offset + read.bytes), nowMs);
        break;
      }
      case 'write': {
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
    dropped,
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

  it('when the source changes mid-way, the result is a clear failure or a byte-identical file, never a wrong file', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 5_000, size: 'max' }), tuningArb, fc.array(fc.oneof({ weight: 10, arbitrary: anyStep }, { weight: 1, arbitrary: fc.constantFrom<Step>('mutate') }), { minLength: 20, maxLength: 300, size: 'max' }), (source, tuning, schedule) => {
      const outcome = run(source, tuning, schedule, 200_000);
      if (outcome.committed !== null) {
        // Kept only if every byte it holds was read before the change.
        expect(Buffer.from(outcome.committed).equals(Buffer.from(source))).toBe(true);
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
});
