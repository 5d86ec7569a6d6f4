/**
 * MemoryStore's refusal (core/store.ts), as a database's unique key refuses: a batch that creates
 * an account whose name is taken (already stored, or twice in the batch) is refused whole, nothing
 * of it applied, with a reason that names the account; any other batch is applied. hasAccount and
 * hasFriendship and passwordHashOf answer from what was applied (the simulator's announced-is-committed asks them).
 */
import { describe, expect, it } from 'vitest';
import { MemoryStore, failedOf, receiptOf, type StoreOp } from '../../core/store.ts';

function create(username: string): StoreOp {
  return { op: 'account.create', username, nickname: username, passwordHash: 'h', createdAtMs: 0 };
}

describe('MemoryStore', () => {
  it('refuses a batch creating a taken name, says which, and applies nothing of it', () => {
    const store = new MemoryStore();
    expect(store.apply([create('alice')])).toBeNull();
    expect(store.apply([create('bob'), create('alice')])).toEqual({ reason: 'account alice exists' });
    expect(store.load().accounts.map((a) => a.username)).toEqual(['alice']);
  });

  it('refuses a batch that creates one name twice', () => {
    const store = new MemoryStore();
    expect(store.apply([create('carol'), { op: 'account.nickname', username: 'carol', nickname: 'C' }, create('carol')])).toEqual({ reason: 'account carol exists' });
    expect(store.load().accounts).toEqual([]);
  });

  it('says which accounts and friendships it holds: a friendship in either order, until removed; nothing of a refused batch', () => {
    const store = new MemoryStore();
    store.apply([create('alice'), create('bob'), { op: 'friendship.add', a: 'alice', b: 'bob' }]);
    store.apply([create('carol'), create('alice'), { op: 'friendship.add', a: 'alice', b: 'carol' }]);
    expect([store.hasAccount('alice'), store.hasAccount('bob'), store.hasAccount('carol')]).toEqual([true, true, false]);
    expect([store.hasFriendship('alice', 'bob'), store.hasFriendship('bob', 'alice'), store.hasFriendship('alice', 'carol')]).toEqual([true, true, false]);
    store.apply([{ op: 'friendship.remove', a: 'bob', b: 'alice' }]);
    expect(store.hasFriendship('alice', 'bob')).toBe(false);
  });

  it("gives an account's committed password hash: the latest change applied, none for an account it does not hold", () => {
    const store = new MemoryStore();
    store.apply([create('alice'), { op: 'account.password', username: 'alice', passwordHash: 'h2' }]);
    store.apply([{ op: 'account.password', username: 'zed', passwordHash: 'h3' }]);
    expect([store.passwordHashOf('alice'), store.passwordHashOf('zed')]).toEqual(['h2', null]);
  });
});

describe('receipts as the stores read them back', () => {
  // A failed receipt answers its sender mail.failed, any other mail.delivered (core/server/machine.ts).
  it("a receipt's failed column holds its code, or NULL for a delivered one (every receipt from before the column)", () => {
    expect(failedOf('MAIL_UNREADABLE')).toEqual({ failed: 'MAIL_UNREADABLE' });
    expect(failedOf(null)).toEqual({});
    const delivered = receiptOf({ seq: 1, sender: 'alice', recipient: 'bob', messageId: 'm1', ...failedOf(null) });
    const failed = receiptOf({ seq: 2, sender: 'alice', recipient: 'bob', messageId: 'm2', ...failedOf('MAIL_UNREADABLE') });
    expect([delivered, failed]).toEqual([
      { seq: 1, sender: 'alice', recipient: 'bob', messageId: 'm1' },
      { seq: 2, sender: 'alice', recipient: 'bob', messageId: 'm2', failed: 'MAIL_UNREADABLE' },
    ]);
  });
});
