/**
 * The receiving side of one file transfer (core/peer/transfer.ts, IncomingTransfer), driven input
 * by input with no peer machine around it: what it asks the port to do, what it tells the sender,
 * and when it refuses. Small numbers (a 16-byte file, an 8-byte window) so each boundary is one
 * byte away. The frame tables themselves are in transfer-rules.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { TRANSFER_ANSWER_WAIT_MS, TRANSFER_STALL_MS } from '../../../core/limits.ts';
import { IncomingTransfer, type TransferAction, type TransferTuning } from '../../../core/peer/transfer.ts';

const SIZE = 16;
const WINDOW = 8;
const TUNING: TransferTuning = { chunkBytes: 4, windowBytes: WINDOW, readsInFlightMax: 2, progressIntervalMs: 1_000_000 };
const META = { transferId: 't1', peer: 'alice', wireStream: 3, size: SIZE };
const SHA = 'a'.repeat(64);

function receiver(size = SIZE, tuning: TransferTuning = TUNING): IncomingTransfer {
  return new IncomingTransfer({ ...META, size }, 'offered name.bin', 'offered_name.bin', 0, tuning);
}

/** Accepted, its open and file.accept taken. */
function accepted(size = SIZE, tuning: TransferTuning = TUNING): IncomingTransfer {
  const t = receiver(size, tuning);
  t.accept(1);
  t.takeActions();
  return t;
}

const sent = (actions: TransferAction[]): unknown[] => actions.flatMap((a) => (a.type === 'send' ? [a.frame] : []));
const events = (actions: TransferAction[]): unknown[] => actions.flatMap((a) => (a.type === 'event' ? [a.event] : []));
const ofType = (actions: TransferAction[], type: TransferAction['type']): TransferAction[] => actions.filter((a) => a.type === type);

function expectRefused(t: IncomingTransfer): void {
  const actions = t.takeActions();
  expect(t.state).toBe('Failed');
  expect(t.failure).toBe('protocol-error');
  expect(sent(actions)).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'protocol-error' }]);
  expect(ofType(actions, 'discard')).toHaveLength(1);
}

describe('a receiver answering an offer', () => {
  it('accepting opens the temporary file and gives one window of credit, not the whole file', () => {
    const t = receiver();
    t.accept(1);
    const actions = t.takeActions();
    expect(actions.filter((a) => a.type !== 'event')).toEqual([
      { type: 'open' },
      { type: 'send', frame: { type: 'file.accept', transferId: 't1', offset: 0, limit: WINDOW } },
    ]);
    expect(events(actions)).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 0, size: SIZE }]);
    expect(t.state).toBe('Receiving');
  });

  it('a file smaller than the window gets its whole size as credit at once', () => {
    const t = receiver(5);
    t.accept(1);
    expect(sent(t.takeActions())).toEqual([{ type: 'file.accept', transferId: 't1', offset: 0, limit: 5 }]);
  });

  it('answering twice does nothing the second time, whichever the answers', () => {
    const t = accepted();
    t.accept(2);
    t.decline();
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Receiving');
    const d = receiver();
    d.decline();
    expect(sent(d.takeActions())).toEqual([{ type: 'file.decline', transferId: 't1' }]);
    d.accept(2);
    d.decline();
    expect(d.takeActions()).toEqual([]);
    expect(d.failure).toBe('declined');
    expect(d.state).toBe('Failed');
    expect(d.outcomeFrame).toEqual({ type: 'file.fail', transferId: 't1', reason: 'declined' });
  });
});

describe('a receiver taking data', () => {
  it('hands each data frame to the port as a write at its offset', () => {
    const t = accepted();
    const bytes = new Uint8Array([1, 2, 3, 4]);
    t.data(0, bytes, 2);
    t.data(4, bytes, 2);
    expect(t.takeActions()).toEqual([
      { type: 'write', offset: 0, bytes },
      { type: 'write', offset: 4, bytes },
    ]);
  });

  it('a receiver refuses a chunk that does not start where the last one ended (a gap or an overlap)', () => {
    const gap = accepted();
    gap.data(1, new Uint8Array(2), 2);
    expectRefused(gap);
    const overlap = accepted();
    overlap.data(0, new Uint8Array(4), 2);
    overlap.data(3, new Uint8Array(2), 2);
    overlap.takeActions();
    expect(overlap.state).toBe('Failed');
  });

  it('a receiver refuses a chunk past the credit it gave, and takes one ending exactly at it', () => {
    const exact = accepted();
    exact.data(0, new Uint8Array(WINDOW), 2);
    expect(ofType(exact.takeActions(), 'write')).toHaveLength(1);
    expect(exact.state).toBe('Receiving');
    const over = accepted();
    over.data(0, new Uint8Array(WINDOW + 1), 2);
    expectRefused(over);
  });

  it('a receiver refuses a chunk past the offered size, even with credit up to the end', () => {
    const t = accepted(6);
    t.data(0, new Uint8Array(7), 2);
    expectRefused(t);
  });

  it('an empty data frame writes nothing and does not count as movement: it cannot keep a transfer from stalling', () => {
    const t = accepted();
    t.data(0, new Uint8Array(0), TRANSFER_STALL_MS - 1);
    expect(t.takeActions()).toEqual([]);
    expect(t.stallDeadlineMs).toBe(1 + TRANSFER_STALL_MS);
    t.stallCheck(1 + TRANSFER_STALL_MS);
    expect(t.failure).toBe('stalled');
  });
});

describe('a receiver giving credit back', () => {
  it('raises the credit to a window past the written bytes once a quarter of the window is written, and not before', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(1, 3);
    // 7 of the 8 credited bytes still unwritten: more than three quarters of the window.
    expect(sent(t.takeActions())).toEqual([]);
    t.written(2, 4);
    // 6 left: exactly three quarters, so the credit goes back.
    expect(sent(t.takeActions())).toEqual([{ type: 'file.credit', transferId: 't1', limit: 2 + WINDOW }]);
    t.written(3, 5);
    expect(sent(t.takeActions())).toEqual([]);
  });

  it('never gives credit past the offered size, and none once the whole size is credited', () => {
    const t = accepted(12);
    t.data(0, new Uint8Array(8), 2);
    t.written(8, 3);
    expect(sent(t.takeActions())).toEqual([{ type: 'file.credit', transferId: 't1', limit: 12 }]);
    t.data(8, new Uint8Array(2), 4);
    t.written(10, 5);
    expect(sent(t.takeActions())).toEqual([]);
  });

  it('a write report for bytes not handed out, or already reported, changes nothing', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(4, 3);
    t.takeActions();
    const deadline = t.stallDeadlineMs;
    t.written(4, 50);
    t.written(3, 50);
    t.written(5, 50);
    expect(t.takeActions()).toEqual([]);
    expect(t.stallDeadlineMs).toBe(deadline);
  });

  it('a write moves the stall clock: bytes reaching the disk keep the transfer alive', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(4, 40);
    expect(t.stallDeadlineMs).toBe(40 + TRANSFER_STALL_MS);
  });
});

describe('a receiver at the end of the file', () => {
  function allWritten(): IncomingTransfer {
    const t = accepted(8);
    t.data(0, new Uint8Array(8), 2);
    t.written(8, 3);
    t.takeActions();
    return t;
  }

  it('file.end before the last byte arrived is a protocol error', () => {
    const t = accepted(8);
    t.data(0, new Uint8Array(7), 2);
    t.takeActions();
    t.end(SHA, 3);
    expectRefused(t);
  });

  it('a second file.end is a protocol error, even while the last writes are still going on', () => {
    const t = accepted(8);
    t.data(0, new Uint8Array(8), 2);
    t.end(SHA, 3);
    t.takeActions();
    expect(t.state).toBe('Receiving');
    t.end(SHA, 4);
    expectRefused(t);
  });

  it('verifies only when every byte is written and file.end is in, in either order', () => {
    const endFirst = accepted(8);
    endFirst.data(0, new Uint8Array(8), 2);
    endFirst.end(SHA, 3);
    expect(ofType(endFirst.takeActions(), 'finish')).toEqual([]);
    endFirst.written(8, 4);
    expect(ofType(endFirst.takeActions(), 'finish')).toEqual([{ type: 'finish' }]);
    expect(endFirst.state).toBe('Verifying');
    const writtenFirst = allWritten();
    writtenFirst.end(SHA, 4);
    expect(writtenFirst.takeActions()).toEqual([{ type: 'finish' }]);
  });

  it('a matching hash commits under the sanitized name, and the commit tells the sender and the user', () => {
    const t = allWritten();
    t.end(SHA, 4);
    t.hashed(SHA);
    expect(t.takeActions().filter((a) => a.type !== 'finish')).toEqual([{ type: 'commit', name: 'offered_name.bin' }]);
    expect(t.state).toBe('Committing');
    t.committed('/downloads/offered_name.bin');
    expect(t.takeActions()).toEqual([
      { type: 'send', frame: { type: 'file.ok', transferId: 't1' } },
      { type: 'event', event: { event: 'file.received', transferId: 't1', from: 'alice', path: '/downloads/offered_name.bin', size: 8, sha256: SHA } },
    ]);
    expect(t.outcomeFrame).toEqual({ type: 'file.ok', transferId: 't1' });
  });

  it('a hash that differs from the sender\'s fails with hash-mismatch and discards the temporary file', () => {
    const t = allWritten();
    t.end(SHA, 4);
    t.takeActions();
    t.hashed('b'.repeat(64));
    const actions = t.takeActions();
    expect(ofType(actions, 'discard')).toHaveLength(1);
    expect(ofType(actions, 'commit')).toEqual([]);
    expect(sent(actions)).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'hash-mismatch' }]);
    expect(t.failure).toBe('hash-mismatch');
  });

  it('port answers for a step the receiver is not at are ignored', () => {
    const t = allWritten();
    t.hashed(SHA);
    t.committed('/downloads/x');
    t.rehashed(1, 5);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Receiving');
    t.end(SHA, 6);
    t.takeActions();
    t.written(8, 7);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Verifying');
    const unanswered = receiver();
    unanswered.written(4, 8);
    expect(unanswered.takeActions()).toEqual([]);
    expect(unanswered.stallDeadlineMs).toBe(TRANSFER_ANSWER_WAIT_MS);
  });

  it('a write or read error of the port fails the transfer with io-error, telling the sender', () => {
    const t = allWritten();
    t.ioFailed();
    const actions = t.takeActions();
    expect(sent(actions)).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'io-error' }]);
    expect(ofType(actions, 'discard')).toHaveLength(1);
    expect(t.failure).toBe('io-error');
  });

  it('a transfer ends once: a later failure, abort or cancel says and does nothing', () => {
    const t = allWritten();
    t.cancel();
    t.takeActions();
    t.fail('io-error');
    t.abort('connection-lost');
    t.cancel();
    expect(t.takeActions()).toEqual([]);
    expect(t.failure).toBe('cancelled');
    expect(t.outcomeFrame).toEqual({ type: 'file.fail', transferId: 't1', reason: 'cancelled' });
  });

  it('has no outcome to repeat while it is still going, and no stall deadline once it is checking or over', () => {
    const t = allWritten();
    expect(t.outcomeFrame).toBeNull();
    t.end(SHA, 4);
    expect(t.stallDeadlineMs).toBeNull();
    expect(t.outcomeFrame).toBeNull();
    t.hashed(SHA);
    expect(t.stallDeadlineMs).toBeNull();
    t.committed('/downloads/x');
    expect(t.stallDeadlineMs).toBeNull();
    const failed = accepted();
    failed.cancel();
    expect(failed.stallDeadlineMs).toBeNull();
  });

  it('reports as written only the bytes the port confirmed, then the whole size from the check on', () => {
    const t = accepted(8);
    expect(receiver().bytesWritten).toBe(0);
    t.data(0, new Uint8Array(8), 2);
    expect(t.bytesWritten).toBe(0);
    t.written(5, 3);
    expect(t.bytesWritten).toBe(5);
    t.written(8, 4);
    t.end(SHA, 5);
    expect(t.state).toBe('Verifying');
    expect(t.bytesWritten).toBe(8);
    t.hashed(SHA);
    expect(t.bytesWritten).toBe(8);
    t.committed('/downloads/x');
    expect(t.bytesWritten).toBe(8);
    t.cancel();
    const failed = accepted(8);
    failed.data(0, new Uint8Array(8), 2);
    failed.written(8, 3);
    failed.cancel();
    expect(failed.bytesWritten).toBe(0);
  });
});

describe('a receiver across a drop', () => {
  it('a resume re-verifies the bytes already held: the port hashes the written prefix before file.resume goes', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(4, 3);
    t.suspend();
    t.takeActions();
    expect(t.bytesWritten).toBe(4);
    t.reattach(10);
    expect(t.takeActions()).toEqual([{ type: 'rehash', epoch: 1, bytes: 4 }]);
    expect(t.state).toBe('Rehashing');
    expect(t.bytesWritten).toBe(4);
    t.rehashed(1, 11);
    const actions = t.takeActions();
    expect(sent(actions)).toEqual([{ type: 'file.resume', transferId: 't1', offset: 4, limit: 4 + WINDOW }]);
    expect(events(actions)).toEqual([{ event: 'file.progress', transferId: 't1', bytes: 4, size: SIZE, resumedFrom: 4 }]);
    expect(t.state).toBe('Receiving');
    expect(t.stallDeadlineMs).toBe(11 + TRANSFER_STALL_MS);
  });

  it('a resume with nothing written yet goes at once from offset 0, with no rehash', () => {
    const t = accepted();
    t.suspend();
    t.reattach(10);
    expect(t.takeActions()).toEqual([
      { type: 'send', frame: { type: 'file.resume', transferId: 't1', offset: 0, limit: WINDOW } },
      { type: 'event', event: { event: 'file.progress', transferId: 't1', bytes: 0, size: SIZE, resumedFrom: 0 } },
    ]);
  });

  it('the resume credit never goes past the offered size', () => {
    const t = accepted(10);
    t.data(0, new Uint8Array(6), 2);
    t.written(6, 3);
    t.suspend();
    t.reattach(4);
    t.rehashed(1, 5);
    expect(sent(t.takeActions())).toContainEqual({ type: 'file.resume', transferId: 't1', offset: 6, limit: 10 });
  });

  it('the resume waits for every write handed out before the drop, and resumes from the last one', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.data(4, new Uint8Array(4), 2);
    t.written(4, 3);
    t.data(8, new Uint8Array(4), 3);
    t.suspend();
    t.takeActions();
    t.reattach(5);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Suspended');
    // One of the two writes in flight has landed: the prefix on disk is not yet all we took.
    t.written(8, 6);
    expect(t.takeActions()).toEqual([]);
    expect(t.state).toBe('Suspended');
    t.written(12, 7);
    expect(ofType(t.takeActions(), 'rehash')).toEqual([{ type: 'rehash', epoch: 1, bytes: 12 }]);
  });

  it('a write landing while the peer is still away starts no resume; the next session does', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.data(4, new Uint8Array(4), 2);
    t.suspend();
    t.written(4, 3);
    t.written(8, 4);
    expect(ofType(t.takeActions(), 'rehash')).toEqual([]);
    expect(t.state).toBe('Suspended');
    t.reattach(5);
    expect(t.takeActions()).toEqual([{ type: 'rehash', epoch: 1, bytes: 8 }]);
  });

  it('a session that dropped again before the writes settled owes no resume', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.data(4, new Uint8Array(4), 2);
    t.suspend();
    t.reattach(3);
    t.suspend();
    t.written(4, 4);
    t.written(8, 5);
    expect(ofType(t.takeActions(), 'rehash')).toEqual([]);
  });

  it('the last write landing while suspended, with file.end already in, goes on to verify', () => {
    const t = accepted(8);
    t.data(0, new Uint8Array(8), 2);
    t.end(SHA, 3);
    t.suspend();
    t.takeActions();
    t.written(8, 4);
    expect(t.takeActions()).toEqual([{ type: 'finish' }]);
    expect(t.state).toBe('Verifying');
  });

  it('a rehash overtaken by another drop is ignored, and the next session rehashes afresh', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(4, 3);
    t.takeActions();
    t.suspend();
    t.reattach(4);
    t.suspend();
    expect(t.state).toBe('Suspended');
    t.rehashed(1, 5);
    expect(sent(t.takeActions())).toEqual([]);
    t.reattach(6);
    expect(t.takeActions()).toEqual([{ type: 'rehash', epoch: 2, bytes: 4 }]);
    t.rehashed(1, 7);
    expect(t.takeActions()).toEqual([]);
    t.rehashed(2, 7);
    expect(sent(t.takeActions())).toEqual([{ type: 'file.resume', transferId: 't1', offset: 4, limit: 4 + WINDOW }]);
  });

  it('an outcome decided while the peer is away is not sent then, and is kept for the next session', () => {
    const t = accepted();
    t.data(0, new Uint8Array(4), 2);
    t.written(4, 3);
    t.takeActions();
    t.suspend();
    t.cancel();
    const actions = t.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(ofType(actions, 'discard')).toHaveLength(1);
    expect(t.outcomeFrame).toEqual({ type: 'file.fail', transferId: 't1', reason: 'cancelled' });
  });

  it('the resume wait ends only a suspended transfer: resume-timeout, the temporary file discarded', () => {
    const live = accepted();
    live.resumeTimedOut();
    expect(live.state).toBe('Receiving');
    const t = accepted();
    t.suspend();
    t.takeActions();
    t.resumeTimedOut();
    expect(ofType(t.takeActions(), 'discard')).toHaveLength(1);
    expect(t.failure).toBe('resume-timeout');
  });

  it('an unanswered offer caught by a drop fails with connection-lost and has no file to discard', () => {
    const t = receiver();
    t.suspend();
    const actions = t.takeActions();
    expect(ofType(actions, 'discard')).toEqual([]);
    expect(sent(actions)).toEqual([]);
    expect(t.failure).toBe('connection-lost');
  });
});

describe('a receiver\'s stall clock', () => {
  it('an unanswered offer waits TRANSFER_ANSWER_WAIT_MS, a receiving transfer TRANSFER_STALL_MS, the rest nothing', () => {
    const t = receiver();
    expect(t.stallDeadlineMs).toBe(TRANSFER_ANSWER_WAIT_MS);
    t.stallCheck(TRANSFER_ANSWER_WAIT_MS - 1);
    expect(t.state).toBe('AwaitingAnswer');
    t.accept(100);
    expect(t.stallDeadlineMs).toBe(100 + TRANSFER_STALL_MS);
    t.data(0, new Uint8Array(4), 200);
    t.written(4, 300);
    t.suspend();
    expect(t.stallDeadlineMs).toBeNull();
    t.stallCheck(Number.MAX_SAFE_INTEGER);
    expect(t.state).toBe('Suspended');
    t.reattach(400);
    expect(t.state).toBe('Rehashing');
    expect(t.stallDeadlineMs).toBeNull();
  });

  it('an offer nobody answers fails with stalled at its deadline and tells the sender', () => {
    const t = receiver();
    t.stallCheck(TRANSFER_ANSWER_WAIT_MS);
    expect(sent(t.takeActions())).toEqual([{ type: 'file.fail', transferId: 't1', reason: 'stalled' }]);
    expect(t.failure).toBe('stalled');
  });

  it('a clock that reads earlier than the last movement does not move the deadline back', () => {
    const t = receiver();
    t.accept(500);
    t.data(0, new Uint8Array(4), 100);
    expect(t.stallDeadlineMs).toBe(500 + TRANSFER_STALL_MS);
  });
});

describe('a receiver told the sender failed', () => {
  it('takes a known reason as given and any other as protocol-error, discarding the file without answering', () => {
    const known = accepted();
    known.remoteFailed('io-error');
    const actions = known.takeActions();
    expect(sent(actions)).toEqual([]);
    expect(ofType(actions, 'discard')).toHaveLength(1);
    expect(events(actions)).toEqual([{ event: 'file.failed', transferId: 't1', reason: 'io-error', username: 'alice' }]);
    const unknown = accepted();
    unknown.remoteFailed('no such reason');
    expect(unknown.failure).toBe('protocol-error');
  });
});
