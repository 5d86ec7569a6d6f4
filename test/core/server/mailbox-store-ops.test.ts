/**
 * Mailbox kept in step with the store (core/server/mailbox.ts): a removal takes out exactly the
 * mail or receipt named and is harmless when it is already gone (heard twice: once applied here,
 * once over a cluster's bus); a receipt heard twice is held once; seqs a node hears late from
 * another never pull its next seq back; a mailbox emptied is forgotten; the store's view at
 * attach leaves in flight only the mail it still holds; ending a friendship finds only the mail
 * between the two.
 */
import { describe, expect, it } from 'vitest';
import { MAIL_DELIVERIES_IN_FLIGHT_MAX, MAIL_RECEIPTS_HELD_PER_USER_MAX } from '../../../core/limits.ts';
import { Mailbox } from '../../../core/server/mailbox.ts';
import type { MailRecord, ReceiptRecord } from '../../../core/store.ts';

const empty = { accounts: [], friendships: [], requests: [], blocks: [] };

function mail(seq: number, from = 'alice', to = 'bob'): MailRecord {
  return { seq, from, to, messageId: `m${seq}`, sealed: 'AAAA', sentAtMs: seq };
}

function receipt(seq: number, sender = 'alice'): ReceiptRecord {
  return { seq, sender, recipient: 'bob', messageId: `m${seq}` };
}

const seqs = (records: readonly { seq: number }[]): number[] => records.map((r) => r.seq);

describe('Mailbox: removing mail', () => {
  it('takes out exactly the seq named; an unknown seq, or a recipient with no mail, changes nothing', () => {
    const box = new Mailbox({ ...empty, mail: [mail(1), mail(2), mail(3)] });
    box.apply({ op: 'mail.remove', to: 'bob', seq: 2 });
    expect(seqs(box.held('bob'))).toEqual([1, 3]);
    box.apply({ op: 'mail.remove', to: 'bob', seq: 99 });
    expect(seqs(box.held('bob'))).toEqual([1, 3]);
    box.apply({ op: 'mail.remove', to: 'nobody', seq: 1 });
    expect(seqs(box.held('bob'))).toEqual([1, 3]);
  });

  it('a mailbox emptied is forgotten, so memory follows the mail held; a user never mailed holds none', () => {
    const box = new Mailbox({ ...empty, mail: [mail(1), mail(2, 'alice', 'carol')] });
    expect(box.recipients).toBe(2);
    box.apply({ op: 'mail.remove', to: 'bob', seq: 1 });
    expect(box.recipients).toBe(1);
    expect(box.held('bob')).toEqual([]);
    expect(box.held('nobody')).toEqual([]);
  });
});

describe('Mailbox.between (a friendship ended)', () => {
  it('finds the mail between the two, both ways, and none of either one with anyone else', () => {
    const box = new Mailbox({ ...empty, mail: [mail(1, 'alice', 'bob'), mail(2, 'carol', 'bob'), mail(3, 'bob', 'alice'), mail(4, 'dave', 'alice')] });
    expect(seqs(box.between('alice', 'bob'))).toEqual([3, 1]);
    expect(seqs(box.between('bob', 'carol'))).toEqual([2]);
  });
});

describe('Mailbox: receipts owed to offline senders', () => {
  it('a receipt heard twice is held once, among others too', () => {
    const box = new Mailbox({ ...empty, receipts: [receipt(3), receipt(5)] });
    box.apply({ op: 'receipt.add', ...receipt(3) });
    expect(seqs(box.receiptsFor('alice'))).toEqual([3, 5]);
  });

  it('removing one takes out exactly the seq named; an unknown seq, or a sender owed none, changes nothing', () => {
    const box = new Mailbox({ ...empty, receipts: [receipt(3), receipt(5), receipt(7)] });
    box.apply({ op: 'receipt.remove', sender: 'alice', seq: 5 });
    expect(seqs(box.receiptsFor('alice'))).toEqual([3, 7]);
    box.apply({ op: 'receipt.remove', sender: 'alice', seq: 99 });
    expect(seqs(box.receiptsFor('alice'))).toEqual([3, 7]);
    box.apply({ op: 'receipt.remove', sender: 'nobody', seq: 3 });
    expect(seqs(box.receiptsFor('alice'))).toEqual([3, 7]);
  });

  it(`below MAIL_RECEIPTS_HELD_PER_USER_MAX (${MAIL_RECEIPTS_HELD_PER_USER_MAX}) nothing is dropped for one more; at it, the oldest`, () => {
    const box = new Mailbox({ ...empty, receipts: [receipt(3)] });
    expect(box.receiptToDrop('alice')).toBeNull();
    expect(box.receiptToDrop('nobody')).toBeNull();
    const full = new Mailbox({ ...empty, receipts: Array.from({ length: MAIL_RECEIPTS_HELD_PER_USER_MAX }, (_, n) => receipt(n + 1)) });
    expect(full.receiptToDrop('alice')).toEqual(receipt(1));
  });

  it('those the store reads at attach are held oldest first, whatever order it read them in', () => {
    const box = new Mailbox(empty);
    box.replaceHeld('alice', { mail: [], receipts: [receipt(9), receipt(3), receipt(6), receipt(1)] });
    expect(seqs(box.receiptsFor('alice'))).toEqual([1, 3, 6, 9]);
  });
});

describe('Mailbox: seqs heard late never pull the next seq back', () => {
  it('an older mail heard from another node after a newer one is held leaves the next seq above the newer', () => {
    const box = new Mailbox({ ...empty, mail: [mail(5000)] });
    box.apply({ op: 'mail.add', ...mail(10, 'dave', 'carol') });
    expect(box.nextSeq(0)).toBe(5001);
  });

  it('receipts count too: with all mail acknowledged, the next seq stays above the receipts still owed, an older one heard late included', () => {
    const box = new Mailbox({ ...empty, receipts: [receipt(7000)] });
    box.apply({ op: 'receipt.add', ...receipt(10, 'carol') });
    expect(box.nextSeq(0)).toBe(7001);
  });
});

describe("Mailbox.replaceHeld: what is in flight after the store's view", () => {
  it('mail acknowledged on another node no longer fills the window: a full window of the mail the store still holds goes', () => {
    const window = MAIL_DELIVERIES_IN_FLIGHT_MAX;
    const first = Array.from({ length: window }, (_, n) => mail(n + 1));
    const box = new Mailbox({ ...empty, mail: first });
    expect(box.nextToDeliver('bob')).toHaveLength(window);
    const later = Array.from({ length: window + 4 }, (_, n) => mail(window + n + 1));
    box.replaceHeld('bob', { mail: later, receipts: [] });
    expect(seqs(box.nextToDeliver('bob'))).toEqual(seqs(later.slice(0, window)));
  });
});
