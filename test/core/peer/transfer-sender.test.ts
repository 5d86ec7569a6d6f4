/**
 * The sending side of one file transfer (core/peer/transfer.ts, OutgoingTransfer), driven input by
 * input with no peer machine around it: which reads it asks the port for (credit, reads in flight,
 * the stream's gate), what goes to the receiver, and when it refuses. A 16-byte file in 4-byte
 * chunks, at most 2 reads in flight. The frame tables themselves are in transfer-rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { TRANSFER_ANSWER_WAIT_MS, TRANSFER_STALL_MS } from '../../../core/limits.ts';
import { OutgoingTransfer, type ReadGate, type TransferAction, type TransferTuning } from '../../../core/peer/transfer.ts';

const SIZE = 16;
const TUNING: TransferTuning = { chunkBytes: 4, windowBytes: 8, readsInFlightMax: 2, progressIntervalMs: 1_000_000 };
const META = { transferId: 't1', peer: 'bob', wireStream: 3, size: SIZE };
const SHA = 'c'.repeat(64);

function sender(size = SIZE, tuning: TransferTuning = TUNING): OutgoingTransfer {
  return new OutgoingTransfer({ ...META, size }, '/src/f.bin', 'f.bin', 0, tuning);
}

const sent = (actions: TransferAction[]): unknown[] => actions.flatMap((a) => (a.type === 'send' ? [a.frame] : []));
const events = (actions: TransferAction[]): unknown[] => actions.flatMap((a) => (a.type === 'event' ? [a.event] : []));
const reads = (actions: TransferAction[]): Array<[number, number]> => actions.flatMap((a) => (a.type === 'read' ? [[a.offset, a.bytes] as [number, number]] : []));

function expectRefused(t: OutgoingTransfer): void {
  const actions = t.takeActions();
  expect(t.state).toBe('Failed');
  expect(t.failure).toBe('protocol-error');
  expect(sent(actions)).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'protocol-error' }]);
}

/** Accepted with `limit` of credit; the first reads taken. */
function sending(limit = SIZE, size = SIZE, tuning: TransferTuning = TUNING): OutgoingTransfer {
  const t = sender(size, tuning);
  t.accepted(0, limit, 1);
  t.takeActions();
  return t;
}

/** The reads at these [offset, bytes] of the first run answered in order at `nowMs`; what that led to. */
function answerReads(t: OutgoingTransfer, answered: [number, number][], nowMs = 2): TransferAction[] {
  const all: TransferAction[] = [];
  for (const [offset, bytes] of answered) {
    t.chunk(1, offset, new Uint8Array(bytes), nowMs);
    all.push(...t.takeActions());
  }
  return all;
}

describe('a sender reading the file', () => {
  it('on accept, asks for chunk-sized reads from offset 0, no more than the reads-in-flight bound', () => {
    const t = sender();
    t.accepted(0, SIZE, 1);
    expect(reads(t.takeActions())).toEqual([[0, 4], [4, 4]]);
    expect(t.readsInFlight).toBe(2);
    expect(t.readingBytes).toBe(8);
  });

  it('reads no byte past the credit: the last read before it is cut short', () => {
    const t = sender();
    t.accepted(0, 6, 1);
    const first = reads(t.takeActions());
    expect(first).toEqual([[0, 4], [4, 2]]);
    const after = answerReads(t, first);
    expect(reads(after)).toEqual([]);
    expect(t.state).toBe('Sending');
    expect(t.bytesSent).toBe(6);
    expect(t.readsInFlight).toBe(0);
    expect(t.readingBytes).toBe(0);
  });

  it('reads no byte past the file\'s end, whatever the credit', () => {
    const t = sender(6);
    t.accepted(0, 100, 1);
    expect(reads(t.takeActions())).toEqual([[0, 4], [4, 2]]);
  });

  it('each chunk read goes out as a data frame at its offset, and the next read starts', () => {
    const t = sending();
    const bytes = new Uint8Array([9, 9, 9, 9]);
    t.chunk(1, 0, bytes, 2);
    expect(t.takeActions().filter((a) => a.type !== 'event')).toEqual([
      { type: 'data', wireStream: 3, offset: 0, bytes },
      { type: 'read', epoch: 1, offset: 8, bytes: 4 },
    ]);
    expect(t.bytesSent).toBe(4);
    expect(t.readsInFlight).toBe(2);
    expect(t.readingBytes).toBe(8);
  });

  it('a credit raises the limit and starts the reads it allows; one that raises nothing is not movement', () => {
    const t = sending(4);
    answerReads(t, [[0, 4]], 2);
    t.credit(4, 50);
    expect(t.takeActions()).toEqual([]);
    expect(t.stallDeadlineMs).toBe(2 + TRANSFER_STALL_MS);
    t.credit(3, 60);
    expect(t.stallDeadlineMs).toBe(2 + TRANSFER_STALL_MS);
    t.credit(12, 70);
    expect(reads(t.takeActions())).toEqual([[4, 4], [8, 4]]);
    expect(t.stallDeadlineMs).toBe(70 + TRANSFER_STALL_MS);
  });

  it('the stream\'s gate stops the reads, is told of each chunk sent, and pumpReads starts them again', () => {
    let room = 4;
    const told: number[] = [];
    const gate: ReadGate = { allows: (bytes) => bytes <= room, sending: (bytes) => told.push(bytes) };
    const t = sender();
    t.gate = gate;
    t.accepted(0, SIZE, 1);
    expect(reads(t.takeActions())).toEqual([[0, 4], [4, 4]]);
    room = 0;
    t.chunk(1, 0, new Uint8Array(4), 2);
    expect(reads(t.takeActions())).toEqual([]);
    expect(told).toEqual([4]);
    room = 4;
    t.pumpReads();
    expect(reads(t.takeActions())).toEqual([[8, 4]]);
  });

  it('pumpReads outside Sending does nothing', () => {
    for (const t of [sender(), sending(SIZE, 4)]) {
      if (t.state === 'Sending') answerReads(t, [[0, 4]]);
      t.pumpReads();
      expect(t.takeActions()).toEqual([]);
      expect(t.readsInFlight).toBe(0);
      expect(t.readingBytes).toBe(0);
    }
  });

  it('a chunk that is not the one asked for (the file shrank or changed) fails the transfer with io-error', () => {
    const short = sending();
    short.chunk(1, 0, new Uint8Array(3), 2);
    expect(short.failure).toBe('io-error');
    expect(sent(short.takeActions())).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'io-error' }]);
    const misplaced = sending();
    misplaced.chunk(1, 4, new Uint8Array(4), 2);
    expect(misplaced.failure).toBe('io-error');
  });

  it('a chunk from a run of reads before a drop, or with no read in flight, is ignored', () => {
    const t = sending(4);
    answerReads(t, [[0, 4]]);
    t.chunk(1, 4, new Uint8Array(4), 3);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Sending');
    t.suspend();
    t.resumed(4, SIZE, 4);
    t.takeActions();
    t.chunk(1, 4, new Uint8Array(4), 5);
    expect(t.takeActions()).toEqual([]);
    expect(t.bytesSent).toBe(4);
  });

  it('a failed read fails the transfer with io-error only if it is of the current run', () => {
    const t = sending();
    t.readFailed(0);
    expect(t.state).toBe('Sending');
    t.readFailed(1);
    expect(t.failure).toBe('io-error');
    const digesting = sending(4, 4);
    answerReads(digesting, [[0, 4]]);
    expect(digesting.state).toBe('Digesting');
    digesting.readFailed(1);
    expect(digesting.failure).toBe('io-error');
    const waiting = sender();
    waiting.readFailed(0);
    expect(waiting.state).toBe('AwaitingAnswer');
  });
});

describe('a sender at the end of the file', () => {
  it('after the last byte asks the port for the digest, sends it in file.end, and is done at file.ok', () => {
    const t = sending(SIZE, 8, { ...TUNING, progressIntervalMs: 0 });
    const actions = answerReads(t, [[0, 4], [4, 4]]);
    expect(actions.filter((a) => a.type === 'digest')).toEqual([{ type: 'digest', epoch: 1 }]);
    expect(t.state).toBe('Digesting');
    expect(t.bytesSent).toBe(8);
    t.digested(1, SHA, 3);
    expect(t.takeActions()).toEqual([{ type: 'send', frame: { type: 'file.end', transferId: 't1', sha256: SHA } }]);
    expect(t.state).toBe('AwaitingOk');
    expect(t.bytesSent).toBe(8);
    t.ok(4);
    expect(t.takeActions()).toEqual([
      { type: 'event', event: { event: 'file.progress', transferId: 't1', bytes: 8, size: 8 } },
      { type: 'event', event: { event: 'file.sent', transferId: 't1', username: 'bob', size: 8, sha256: SHA } },
    ]);
    expect(t.state).toBe('Done');
    expect(t.bytesSent).toBe(8);
    expect(t.stallDeadlineMs).toBeNull();
  });

  it('a digest of an earlier run is kept but sends nothing', () => {
    const t = sending(SIZE, 4);
    answerReads(t, [[0, 4]]);
    t.digested(0, SHA, 3);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Digesting');
  });

  it('a digest that arrives during a drop is kept: a resume at the end sends file.end with it at once', () => {
    const t = sending(SIZE, 4);
    answerReads(t, [[0, 4]]);
    t.suspend();
    t.digested(1, SHA, 3);
    expect(t.takeActions()).toEqual([]);
    t.resumed(4, 4, 5);
    const actions = t.takeActions();
    expect(actions.filter((a) => a.type === 'digest')).toEqual([]);
    expect(sent(actions)).toEqual([{ type: 'file.end', transferId: 't1', sha256: SHA }]);
    expect(events(actions)).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 4, size: 4, resumedFrom: 4 }]);
  });

  it('a digest after the transfer failed is dropped', () => {
    const t = sending(SIZE, 4);
    answerReads(t, [[0, 4]]);
    t.cancel();
    t.takeActions();
    t.digested(1, SHA, 3);
    expect(t.takeActions()).toEqual([]);
    t.ok(4);
    expect(t.state).toBe('Failed');
  });

  it('an empty file goes straight to its digest on accept, with no read', () => {
    const t = sender(0);
    t.accepted(0, 0, 1);
    expect(t.takeActions()).toEqual([{ type: 'digest', epoch: 1 }]);
  });

  it('a credit after the last byte counts as movement only if it raises the limit', () => {
    const t = sending(4, 4);
    answerReads(t, [[0, 4]], 2);
    t.credit(4, 30);
    expect(t.stallDeadlineMs).toBe(2 + TRANSFER_STALL_MS);
    t.credit(8, 40);
    expect(t.stallDeadlineMs).toBe(40 + TRANSFER_STALL_MS);
    t.digested(1, SHA, 45);
    t.credit(8, 50);
    expect(t.stallDeadlineMs).toBe(45 + TRANSFER_STALL_MS);
    t.credit(9, 60);
    expect(t.stallDeadlineMs).toBe(60 + TRANSFER_STALL_MS);
    expect(t.takeActions().filter((a) => a.type === 'read')).toEqual([]);
  });

  it('file.ok before our file.end (a suspended sender that never sent it) is a protocol error', () => {
    const t = sending();
    t.suspend();
    t.ok(3);
    expectRefused(t);
  });
});

describe('a sender across a drop', () => {
  it('resumes from the receiver\'s offset with its new credit, reading afresh from there', () => {
    const t = sending();
    answerReads(t, [[0, 4]]);
    t.suspend();
    expect(t.state).toBe('Suspended');
    expect(t.bytesSent).toBe(4);
    t.resumed(2, 6, 10);
    const actions = t.takeActions();
    expect(reads(actions)).toEqual([[2, 4]]);
    expect(events(actions)).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 2, size: SIZE, resumedFrom: 2 }]);
    expect(t.bytesSent).toBe(2);
    expect(t.stallDeadlineMs).toBe(10 + TRANSFER_STALL_MS);
  });

  it('a resume past the bytes sent is a protocol error; one exactly at them is taken', () => {
    const past = sending();
    answerReads(past, [[0, 4]]);
    past.suspend();
    past.resumed(5, SIZE, 3);
    expectRefused(past);
    const at = sending();
    answerReads(at, [[0, 4]]);
    at.suspend();
    at.resumed(4, SIZE, 3);
    expect(at.state).toBe('Sending');
  });

  it('a resume whose credit ends before its offset is a protocol error; credit equal to it is taken', () => {
    const below = sending();
    answerReads(below, [[0, 4]]);
    below.suspend();
    below.resumed(4, 3, 3);
    expectRefused(below);
    const equal = sending();
    answerReads(equal, [[0, 4]]);
    equal.suspend();
    equal.resumed(4, 4, 3);
    expect(equal.state).toBe('Sending');
    expect(equal.takeActions().filter((a) => a.type === 'read')).toEqual([]);
  });

  it('an accept from any offset but 0 is a protocol error', () => {
    const t = sender();
    t.accepted(4, SIZE, 1);
    expectRefused(t);
  });

  it('a suspended offer resumed from 0 starts sending as if accepted', () => {
    const t = sender();
    t.suspend();
    expect(t.state).toBe('Suspended');
    expect(t.bytesSent).toBe(0);
    t.resumed(0, 8, 5);
    expect(reads(t.takeActions())).toEqual([[0, 4], [4, 4]]);
  });

  it('a drop while digesting keeps every byte as sent', () => {
    const t = sending(SIZE, 4);
    answerReads(t, [[0, 4]]);
    t.suspend();
    t.resumed(4, 4, 3);
    expect(t.takeActions()).toEqual([
      { type: 'event', event: { event: 'file.progress', transferId: 't1', bytes: 4, size: 4, resumedFrom: 4 } },
      { type: 'digest', epoch: 3 },
    ]);
  });

  it('a drop after the end leaves nothing to suspend', () => {
    const t = sending(SIZE, 4);
    answerReads(t, [[0, 4]]);
    t.digested(1, SHA, 3);
    t.ok(4);
    t.suspend();
    expect(t.state).toBe('Done');
    const failed = sender();
    failed.cancel();
    failed.suspend();
    expect(failed.state).toBe('Failed');
    expect(failed.bytesSent).toBe(0);
  });

  it('a second drop keeps the first suspension', () => {
    const t = sending();
    answerReads(t, [[0, 4]]);
    t.suspend();
    t.suspend();
    t.resumed(4, SIZE, 3);
    expect(reads(t.takeActions())).toEqual([[4, 4], [8, 4]]);
  });

  it('the resume wait fails only a suspended sender, with resume-timeout and without telling the peer', () => {
    const live = sending();
    live.resumeTimedOut();
    expect(live.state).toBe('Sending');
    const t = sending();
    t.suspend();
    t.resumeTimedOut();
    const actions = t.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(events(actions)).toEqual([{ event: 'file.failed', transferId: 't1', reason: 'resume-timeout', username: 'bob' }]);
    expect(t.failure).toBe('resume-timeout');
  });
});

describe('a sender\'s stall clock and end', () => {
  it('an offer waits TRANSFER_ANSWER_WAIT_MS for its answer, a moving transfer TRANSFER_STALL_MS, a suspended one nothing', () => {
    const t = sender();
    expect(t.stallDeadlineMs).toBe(TRANSFER_ANSWER_WAIT_MS);
    t.accepted(0, SIZE, 7);
    expect(t.stallDeadlineMs).toBe(7 + TRANSFER_STALL_MS);
    t.stallCheck(6 + TRANSFER_STALL_MS);
    expect(t.state).toBe('Sending');
    t.suspend();
    expect(t.stallDeadlineMs).toBeNull();
    t.stallCheck(Number.MAX_SAFE_INTEGER);
    expect(t.state).toBe('Suspended');
  });

  it('a transfer that did not move by its deadline fails with stalled and tells the receiver', () => {
    const t = sending();
    t.stallCheck(1 + TRANSFER_STALL_MS);
    expect(sent(t.takeActions())).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'stalled' }]);
    expect(t.failure).toBe('stalled');
  });

  it('a decline ends the offer as declined; a remote failure with an unknown reason as protocol-error', () => {
    const d = sender();
    d.declined();
    expect(d.takeActions()).toEqual([{ type: 'event', event: { event: 'file.failed', transferId: 't1', reason: 'declined', username: 'bob' } }]);
    expect(d.state).toBe('Failed');
    expect(d.finished).toBe(true);
    expect(d.stallDeadlineMs).toBeNull();
    const f = sending();
    f.remoteFailed('disk on fire');
    expect(sent(f.takeActions())).toEqual([]);
    expect(f.failure).toBe('protocol-error');
    const k = sending();
    k.remoteFailed('cancelled');
    expect(k.failure).toBe('cancelled');
  });

  it('a transfer ends once: cancel and abort after the end change nothing', () => {
    const t = sender();
    t.cancel();
    t.takeActions();
    t.cancel();
    t.abort('connection-lost');
    expect(t.takeActions()).toEqual([]);
    expect(t.failure).toBe('cancelled');
  });
});

describe('progress', () => {
  it('is reported at most once per interval while bytes go out, and always at a resume', () => {
    const t = sending(SIZE, SIZE, { ...TUNING, progressIntervalMs: 100 });
    t.chunk(1, 0, new Uint8Array(4), 100);
    expect(events(t.takeActions())).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 4, size: SIZE }]);
    t.chunk(1, 4, new Uint8Array(4), 199);
    expect(events(t.takeActions())).toEqual([]);
    t.chunk(1, 8, new Uint8Array(4), 200);
    expect(events(t.takeActions())).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 12, size: SIZE }]);
    t.suspend();
    t.resumed(12, SIZE, 201);
    expect(events(t.takeActions())).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 12, size: SIZE, resumedFrom: 12 }]);
  });
});
