/**
 * Mailbox.replaceHeld (a cluster node takes one user's mail as the shared store holds it, when the
 * user attaches): what the store holds replaces what the node heard, mail already handed over
 * stays in flight (not pushed twice), and a commit heard over the bus after the read is kept once.
 */
import { describe, expect, it } from 'vitest';
import { Mailbox } from '../../../core/server/mailbox.ts';
import type { MailRecord } from '../../../core/store.ts';

const empty = { accounts: [], friendships: [], requests: [], blocks: [] };

function mail(seq: number, from = 'alice'): MailRecord {
  return { seq, from, to: 'bob', messageId: `m${seq}`, sealed: 'AAAA', sentAtMs: seq };
}

describe('Mailbox.replaceHeld', () => {
  it('takes the store view: mail heard of only here goes, mail the store adds comes, oldest first', () => {
    const box = new Mailbox({ ...empty, mail: [mail(10), mail(20)] });
    box.replaceHeld('bob', { mail: [mail(30), mail(20), mail(5)], receipts: [] });
    expect(box.held('bob').map((m) => m.seq)).toEqual([5, 20, 30]);
  });

  it('keeps mail already handed over in flight, and pushes only the rest', () => {
    const box = new Mailbox({ ...empty, mail: [mail(10)] });
    expect(box.nextToDeliver('bob').map((m) => m.seq)).toEqual([10]);
    box.replaceHeld('bob', { mail: [mail(10), mail(15)], receipts: [] });
    expect(box.nextToDeliver('bob').map((m) => m.seq)).toEqual([15]);
  });

  it('keeps a mail once when its commit is heard over the bus after the store read', () => {
    const box = new Mailbox(empty);
    box.replaceHeld('bob', { mail: [mail(7)], receipts: [{ seq: 3, sender: 'bob', recipient: 'carol', messageId: 'x' }] });
    box.apply({ op: 'mail.add', ...mail(7) });
    box.apply({ op: 'receipt.add', seq: 3, sender: 'bob', recipient: 'carol', messageId: 'x' });
    expect(box.held('bob')).toHaveLength(1);
    expect(box.receiptsFor('bob')).toHaveLength(1);
    // An older mail from another node heard after a newer one: still oldest first.
    box.apply({ op: 'mail.add', ...mail(4, 'dave') });
    expect(box.held('bob').map((m) => m.seq)).toEqual([4, 7]);
  });
});

describe('a Mailbox made from a snapshot that replaces another (the store read again)', () => {
  it('keeps in flight the mail handed over that the store still holds, and forgets the marks of mail it no longer holds', () => {
    const before = new Mailbox({ ...empty, mail: [mail(10), mail(20)] });
    expect(before.nextToDeliver('bob').map((m) => m.seq)).toEqual([10, 20]);
    const after = new Mailbox({ ...empty, mail: [mail(20), mail(30)] }, before);
    expect(after.nextToDeliver('bob').map((m) => m.seq)).toEqual([30]);
    // 10 was acknowledged elsewhere; heard of again, it is no longer marked as handed over.
    after.apply({ op: 'mail.add', ...mail(10) });
    expect(after.nextToDeliver('bob').map((m) => m.seq)).toEqual([10]);
  });

  it('never makes a seq the one it replaces made', () => {
    const before = new Mailbox(empty);
    const made = before.nextSeq(1);
    expect(new Mailbox(empty, before).nextSeq(1)).toBeGreaterThan(made);
    // Nor below what the store holds.
    expect(new Mailbox({ ...empty, mail: [mail(made + 5)] }, before).nextSeq(1)).toBe(made + 6);
  });
});
