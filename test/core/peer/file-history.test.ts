/**
 * What a file event means for the history store (fileHistoryOf in core/peer/history.ts): an
 * offer either way is a new file record, the transfer's end a status change of that record
 * alone (never `through`: files are not read receipts), and a failure names no direction.
 */
import { describe, expect, it } from 'vitest';
import { fileHistoryOf } from '../../../core/peer/history.ts';

describe('file events in history', () => {
  it('an offer we made is an outgoing file record, offered, with its size', () => {
    expect(fileHistoryOf({ event: 'file.offered', username: 'bob', transferId: 't1', name: 'a.bin', size: 9 }, 'alice', 500)).toEqual({
      entry: { friend: 'bob', id: 't1', from: 'alice', text: 'a.bin', atMs: 500, direction: 'out', status: 'offered', kind: 'file', size: 9 },
    });
  });

  it('an offer we got is an incoming file record under the name it will be saved as', () => {
    expect(fileHistoryOf({ event: 'file.offer', from: 'bob', transferId: 't2', name: 'safe.txt', offeredName: '../safe.txt', size: 3 }, 'alice', 600)).toEqual({
      entry: { friend: 'bob', id: 't2', from: 'bob', text: 'safe.txt', atMs: 600, direction: 'in', status: 'offered', kind: 'file', size: 3 },
    });
  });

  it('a file sent or received marks that one record done', () => {
    expect(fileHistoryOf({ event: 'file.sent', transferId: 't1', username: 'bob', size: 9, sha256: 'x' }, 'alice', 0)).toEqual({
      mark: { friend: 'bob', id: 't1', direction: 'out', status: 'done', through: false },
    });
    expect(fileHistoryOf({ event: 'file.received', transferId: 't2', from: 'bob', path: '/d/safe.txt', size: 3, sha256: 'x' }, 'alice', 0)).toEqual({
      mark: { friend: 'bob', id: 't2', direction: 'in', status: 'done', through: false },
    });
  });

  it('a failed transfer with a friend marks its record failed, either direction; one with no friend named changes nothing', () => {
    expect(fileHistoryOf({ event: 'file.failed', transferId: 't3', reason: 'declined', username: 'bob' }, 'alice', 0)).toEqual({
      mark: { friend: 'bob', id: 't3', direction: null, status: 'failed', through: false },
    });
    expect(fileHistoryOf({ event: 'file.failed', transferId: 't4', reason: 'no-such-transfer' }, 'alice', 0)).toBeNull();
  });

  it('other events say nothing to history', () => {
    expect(fileHistoryOf({ event: 'file.progress', transferId: 't1', bytes: 1, size: 9 }, 'alice', 0)).toBeNull();
    expect(fileHistoryOf({ event: 'chat.sent', username: 'bob', id: 1 }, 'alice', 0)).toBeNull();
  });
});
