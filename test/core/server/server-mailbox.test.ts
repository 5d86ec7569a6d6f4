/**
 * The server's mailbox of sealed offline messages (core/server/mailbox.ts, machine.ts): held for
 * a friend who is offline, handed over at its next login (or at once when it is online), deleted
 * on its acknowledgement, with a receipt to the sender now or at its next login; bounded per
 * recipient and per sender share; kept across a restart. The server only ever sees the sealed
 * bytes, never a text (the sealing itself is tested in test/cli/crypto and end to end).
 */
import { describe, expect, it } from 'vitest';
import {
  MAIL_DELIVERIES_IN_FLIGHT_MAX,
  MAIL_RECEIPTS_HELD_PER_USER_MAX,
  MAIL_SEALED_BYTES_MAX,
  MAILBOX_MESSAGES_PER_RECIPIENT_MAX,
  MAILBOX_MESSAGES_PER_SENDER_MAX,
  MAILBOX_BYTES_PER_SENDER_MAX,
} from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

/** A stand-in sealed box: base64 of opaque bytes (the server never looks inside). */
function box(tag: string, bytes = 64): string {
  return Buffer.from(tag.padEnd(bytes, '.').slice(0, bytes)).toString('base64');
}

function harness(): ServerHarness {
  return new ServerHarness({ store: storeWith(['alice', 'bob', 'carol', 'dave', 'erin', 'frank'], [['alice', 'bob'], ['carol', 'bob'], ['dave', 'bob'], ['erin', 'bob'], ['frank', 'bob']]) });
}

describe('mailbox: held for an offline friend, handed over at login', () => {
  it('queues for an offline friend, delivers at its next login in order, deletes on ack, and tells the sender', () => {
    const h = harness();
    const alice = h.login('alice');
    for (const n of [1, 2, 3]) h.send(alice, { type: 'mail.send', id: n, username: 'bob', messageId: `m${n}`, sealed: box(`s${n}`) });
    expect(h.framesOf(alice, 'mail.queued').map((f) => [f.re, f.messageId])).toEqual([[1, 'm1'], [2, 'm2'], [3, 'm3']]);
    expect(h.store.mailRecords).toHaveLength(3);

    const bob = h.login('bob');
    const delivered = h.framesOf(bob, 'mail.deliver');
    expect(delivered.map((f) => [f.from, f.messageId, f.sealed])).toEqual([['alice', 'm1', box('s1')], ['alice', 'm2', box('s2')], ['alice', 'm3', box('s3')]]);
    for (const f of delivered) h.send(bob, { type: 'mail.ack', seq: f.seq });
    expect(h.store.mailRecords).toHaveLength(0);
    expect(h.framesOf(alice, 'mail.delivered').map((f) => [f.username, f.messageId])).toEqual([['bob', 'm1'], ['bob', 'm2'], ['bob', 'm3']]);
  });

  it('pushes at once to a friend who is online (it has no session with the sender, or the sender would not use the mailbox)', () => {
    const h = harness();
    const { alice, bob } = h.online('alice', 'bob') as { alice: number; bob: number };
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 7, sealed: box('x') });
    expect(h.framesOf(bob, 'mail.deliver').map((f) => f.messageId)).toEqual([7]);
  });

  it('a repeated delivery (no ack before the link dropped) comes again at the next login; a second ack is ignored', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'a', sealed: box('a') });
    let bob = h.login('bob');
    const first = h.framesOf(bob, 'mail.deliver')[0];
    h.send(bob, { type: 'logout' });
    bob = h.login('bob');
    const again = h.framesOf(bob, 'mail.deliver')[0];
    expect(again?.seq).toBe(first?.seq);
    h.send(bob, { type: 'mail.ack', seq: again?.seq ?? 0 });
    h.send(bob, { type: 'mail.ack', seq: again?.seq ?? 0 });
    expect(h.framesOf(alice, 'mail.delivered')).toHaveLength(1);
  });

  it('a retried send (the same message id and box) is answered again and held once', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'dup', sealed: box('a') });
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'dup', sealed: box('a') });
    expect(h.framesOf(alice, 'mail.queued')).toHaveLength(2);
    expect(h.store.mailRecords).toHaveLength(1);
  });

  it('another box under a message id held from the same sender is refused MESSAGE_ID_TAKEN and not kept (never a silent mail.queued); once the first is taken the id is free, and other senders and recipients never collide', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', id: 1, username: 'bob', messageId: 'm1', sealed: box('first') });
    h.send(alice, { type: 'mail.send', id: 2, username: 'bob', messageId: 'm1', sealed: box('second') });
    expect(h.framesOf(alice, 'mail.queued').map((f) => f.re)).toEqual([1]);
    expect(h.framesOf(alice, 'error').map((f) => [f.re, f.code])).toEqual([[2, 'MESSAGE_ID_TAKEN']]);
    expect(h.store.mailRecords.map((m) => m.sealed)).toEqual([box('first')]);
    const carol = h.login('carol');
    h.send(carol, { type: 'mail.send', id: 3, username: 'bob', messageId: 'm1', sealed: box('carol') });
    expect(h.framesOf(carol, 'mail.queued').map((f) => f.re)).toEqual([3]);
    const bob = h.login('bob');
    for (const f of h.framesOf(bob, 'mail.deliver')) h.send(bob, { type: 'mail.ack', seq: f.seq });
    h.send(bob, { type: 'logout' });
    h.send(alice, { type: 'mail.send', id: 4, username: 'bob', messageId: 'm1', sealed: box('third') });
    expect(h.framesOf(alice, 'mail.queued').map((f) => f.re)).toEqual([1, 4]);
  });

  it('a receipt for an offline sender waits for its next login, then goes', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'r1', sealed: box('a') });
    h.send(alice, { type: 'logout' });
    const bob = h.login('bob');
    h.send(bob, { type: 'mail.ack', seq: h.framesOf(bob, 'mail.deliver')[0]?.seq ?? 0 });
    h.restart();
    const back = h.login('alice');
    expect(h.framesOf(back, 'mail.delivered').map((f) => [f.username, f.messageId])).toEqual([['bob', 'r1']]);
    const again = h.login('alice');
    expect(h.framesOf(again, 'mail.delivered')).toHaveLength(0);
  });

  it('mail the recipient acknowledges as unreadable is deleted, and its sender hears mail.failed MAIL_UNREADABLE, never mail.delivered: at once when online, else after its next login (kept across a restart)', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'u1', sealed: box('a') });
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'u2', sealed: box('b') });
    let bob = h.login('bob');
    const [first] = h.framesOf(bob, 'mail.deliver');
    h.send(bob, { type: 'mail.ack', seq: first?.seq ?? 0, unreadable: true });
    expect(h.framesOf(alice, 'mail.failed').map((f) => [f.username, f.messageId, f.code])).toEqual([['bob', 'u1', 'MAIL_UNREADABLE']]);
    expect(h.framesOf(alice, 'mail.delivered')).toEqual([]);
    // alice away: the failure is held as a receipt, in the store, and told after her next login.
    h.send(alice, { type: 'logout' });
    h.send(bob, { type: 'logout' });
    bob = h.login('bob');
    h.send(bob, { type: 'mail.ack', seq: h.framesOf(bob, 'mail.deliver')[0]?.seq ?? 0, unreadable: true });
    expect(h.store.mailRecords).toHaveLength(0);
    h.restart();
    const back = h.login('alice');
    expect(h.framesOf(back, 'mail.failed').map((f) => [f.username, f.messageId, f.code])).toEqual([['bob', 'u2', 'MAIL_UNREADABLE']]);
    expect(h.framesOf(back, 'mail.delivered')).toEqual([]);
    expect(h.framesOf(h.login('alice'), 'mail.failed')).toEqual([]);
  });

  it(`at most MAIL_RECEIPTS_HELD_PER_USER_MAX (${MAIL_RECEIPTS_HELD_PER_USER_MAX}) receipts are held for an offline sender: one more drops the oldest, in the store too`, () => {
    const store = storeWith(['alice', 'bob'], [['alice', 'bob']]);
    store.apply(Array.from({ length: MAIL_RECEIPTS_HELD_PER_USER_MAX }, (_, i) => ({ op: 'receipt.add' as const, seq: i + 1, sender: 'alice', recipient: 'bob', messageId: `old${i}` })));
    // alice, offline all along, sent one more before (her next login would be told them all).
    store.apply([{ op: 'mail.add', seq: MAIL_RECEIPTS_HELD_PER_USER_MAX + 1, from: 'alice', to: 'bob', messageId: 'new', sealed: box('a'), sentAtMs: 0 }]);
    const h = new ServerHarness({ store });
    const bob = h.login('bob');
    h.send(bob, { type: 'mail.ack', seq: h.framesOf(bob, 'mail.deliver')[0]?.seq ?? 0 });
    const held = (h.store.load().receipts ?? []).map((r) => r.messageId);
    expect(held).toHaveLength(MAIL_RECEIPTS_HELD_PER_USER_MAX);
    expect(held).not.toContain('old0');
    expect(held).toContain('old1');
    expect(held).toContain('new');
  });

  it('a receipt for a sender whose connection dropped (still online, detached) waits for its resume, then goes', () => {
    const h = harness();
    const alice = h.login('alice');
    const token = h.tokenOf(alice);
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'r1', sealed: box('a') });
    h.close(alice);
    const bob = h.login('bob');
    h.send(bob, { type: 'mail.ack', seq: h.framesOf(bob, 'mail.deliver')[0]?.seq ?? 0 });
    const back = h.resume('alice', token);
    expect(h.framesOf(back, 'mail.delivered').map((f) => [f.username, f.messageId])).toEqual([['bob', 'r1']]);
  });

  it('hands a full mailbox over a window at a time: the next mail goes as each one is acknowledged', () => {
    const h = harness();
    const alice = h.login('alice');
    const total = MAIL_DELIVERIES_IN_FLIGHT_MAX + 5;
    for (let n = 0; n < total; n++) h.send(alice, { type: 'mail.send', username: 'bob', messageId: n, sealed: box(`${n}`) });
    const bob = h.login('bob');
    expect(h.framesOf(bob, 'mail.deliver')).toHaveLength(MAIL_DELIVERIES_IN_FLIGHT_MAX);
    const seen: Array<string | number> = [];
    for (let i = 0; i < total; i++) {
      const next = h.framesOf(bob, 'mail.deliver')[i];
      if (next === undefined) break;
      seen.push(next.messageId);
      h.send(bob, { type: 'mail.ack', seq: next.seq });
    }
    expect(seen).toEqual([...Array(total).keys()]);
  });
});

describe('mailbox: refusals and bounds', () => {
  it('refuses mail for someone who is not a friend (NOT_FRIENDS) and holds nothing', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', id: 1, username: 'carol', messageId: 'x', sealed: box('x') });
    expect(h.errors(alice)).toEqual(['NOT_FRIENDS']);
    expect(h.store.mailRecords).toHaveLength(0);
  });

  it('refuses a sealed box above MAIL_SEALED_BYTES_MAX or not base64 (BAD_FRAME)', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'big', sealed: Buffer.alloc(MAIL_SEALED_BYTES_MAX + 3).toString('base64') });
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'txt', sealed: 'hello there, not base64!' });
    expect(h.errors(alice)).toEqual(['BAD_FRAME', 'BAD_FRAME']);
    expect(h.store.mailRecords).toHaveLength(0);
  });

  it('a sealed box of exactly MAIL_SEALED_BYTES_MAX bytes is held; the longest base64 text allowed, unpadded (one byte more), is BAD_FRAME', () => {
    const h = harness();
    const alice = h.login('alice');
    const atBound = Buffer.alloc(MAIL_SEALED_BYTES_MAX, 0xab).toString('base64');
    const oneByteOver = `${atBound.replace(/=+$/, '')}${'A'.repeat(4 - (atBound.replace(/=+$/, '').length % 4))}`;
    expect(oneByteOver).toHaveLength(atBound.length);
    expect(Buffer.from(oneByteOver, 'base64')).toHaveLength(MAIL_SEALED_BYTES_MAX + 1);
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'at-bound', sealed: atBound });
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'over', sealed: oneByteOver });
    expect(h.errors(alice)).toEqual(['BAD_FRAME']);
    expect(h.store.mailRecords.map((m) => m.messageId)).toEqual(['at-bound']);
  });

  it('mail frames before login are refused (NOT_LOGGED_IN)', () => {
    const h = harness();
    const c = h.open();
    h.send(c, { type: 'mail.send', username: 'bob', messageId: 'x', sealed: box('x') });
    h.send(c, { type: 'mail.ack', seq: 1 });
    expect(h.errors(c)).toEqual(['NOT_LOGGED_IN', 'NOT_LOGGED_IN']);
  });

  it('one sender fills only its own share (MAILBOX_FULL for it), and the other friends still reach the recipient', () => {
    const h = harness();
    const alice = h.login('alice');
    for (let n = 0; n < MAILBOX_MESSAGES_PER_SENDER_MAX + 3; n++) h.send(alice, { type: 'mail.send', username: 'bob', messageId: n, sealed: box(`${n}`) });
    expect(h.framesOf(alice, 'mail.queued')).toHaveLength(MAILBOX_MESSAGES_PER_SENDER_MAX);
    expect(h.errors(alice)).toEqual(['MAILBOX_FULL', 'MAILBOX_FULL', 'MAILBOX_FULL']);
    // The sender reads that it is its own share that is full, not the whole mailbox.
    expect(h.last(alice)).toMatchObject({ detail: 'your share of their mailbox is full' });
    const carol = h.login('carol');
    h.send(carol, { type: 'mail.send', username: 'bob', messageId: 'hi', sealed: box('hi') });
    expect(h.framesOf(carol, 'mail.queued')).toHaveLength(1);
  });

  // The byte bound alone (mail of any size, not full-size): test/core/server/mailbox-limits.test.ts.
  it('a share of full-size mails holds as many as its bytes allow, MAILBOX_MESSAGES_PER_SENDER_MAX: its bytes are sized to match', () => {
    const h = harness();
    const alice = h.login('alice');
    const perMessage = MAIL_SEALED_BYTES_MAX;
    const fits = Math.floor(MAILBOX_BYTES_PER_SENDER_MAX / perMessage);
    for (let n = 0; n < fits + 1; n++) h.send(alice, { type: 'mail.send', username: 'bob', messageId: n, sealed: Buffer.alloc(perMessage, n).toString('base64') });
    expect(h.framesOf(alice, 'mail.queued')).toHaveLength(Math.min(fits, MAILBOX_MESSAGES_PER_SENDER_MAX));
  });

  it('the whole mailbox is bounded: the fifth sender finds it full once four shares are used', () => {
    const h = harness();
    const senders = ['alice', 'carol', 'dave', 'erin'];
    for (const sender of senders) {
      const c = h.login(sender);
      for (let n = 0; n < MAILBOX_MESSAGES_PER_SENDER_MAX; n++) h.send(c, { type: 'mail.send', username: 'bob', messageId: n, sealed: box(`${n}`, 16) });
    }
    expect(h.store.mailRecords).toHaveLength(MAILBOX_MESSAGES_PER_RECIPIENT_MAX);
    const frank = h.login('frank');
    h.send(frank, { type: 'mail.send', username: 'bob', messageId: 'late', sealed: box('late') });
    expect(h.errors(frank)).toEqual(['MAILBOX_FULL']);
    expect(h.last(frank)).toMatchObject({ detail: 'their mailbox is full' });
  });

  it('mail from a blocked sender is answered as queued and never kept', () => {
    const h = harness();
    const bob = h.login('bob');
    h.send(bob, { type: 'friend.block', username: 'alice' });
    h.send(bob, { type: 'logout' });
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'x', sealed: box('x') });
    expect(h.framesOf(alice, 'mail.queued')).toHaveLength(1);
    expect(h.store.mailRecords).toHaveLength(0);
  });

  it('ending the friendship drops the mail still held between them', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'x', sealed: box('x') });
    h.send(alice, { type: 'friend.remove', username: 'bob' });
    expect(h.store.mailRecords).toHaveLength(0);
  });
});

describe('mailbox: durability', () => {
  it('mail held survives a server restart and is delivered once after it, with seqs that keep increasing', () => {
    const h = harness();
    const alice = h.login('alice');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'before', sealed: box('b') });
    const seqBefore = h.store.mailRecords[0]?.seq ?? 0;
    h.restart();
    const alice2 = h.login('alice');
    h.send(alice2, { type: 'mail.send', username: 'bob', messageId: 'after', sealed: box('a') });
    const bob = h.login('bob');
    const delivered = h.framesOf(bob, 'mail.deliver');
    expect(delivered.map((f) => f.messageId)).toEqual(['before', 'after']);
    expect(delivered[1]?.seq ?? 0).toBeGreaterThan(seqBefore);
  });

  it('a seq is never handed out twice, even after the mailbox emptied and the server restarted', () => {
    const h = harness();
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 1, sealed: box('1') });
    const first = h.framesOf(bob, 'mail.deliver')[0]?.seq ?? 0;
    h.send(bob, { type: 'mail.ack', seq: first });
    h.restart();
    h.advance(1);
    const alice2 = h.login('alice');
    const bob2 = h.login('bob');
    h.send(alice2, { type: 'mail.send', username: 'bob', messageId: 2, sealed: box('2') });
    expect(h.framesOf(bob2, 'mail.deliver')[0]?.seq ?? 0).toBeGreaterThan(first);
  });
});

describe('mailbox: the shared store\'s view at attach (a cluster node)', () => {
  it('a user held here gets the receipts the store still owes it (told once, then deleted) and mail another node queued', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    h.store.apply([{ op: 'receipt.add', seq: 7, sender: 'alice', recipient: 'bob', messageId: 'm7' }]);
    h.input({
      type: 'stored.mail',
      username: 'alice',
      held: {
        mail: [{ seq: 9, from: 'bob', to: 'alice', messageId: 'elsewhere', sealed: box('e'), sentAtMs: 5 }],
        receipts: [{ seq: 7, sender: 'alice', recipient: 'bob', messageId: 'm7' }],
      },
    });
    expect(h.framesOf(alice, 'mail.delivered').map((f) => [f.username, f.messageId])).toEqual([['bob', 'm7']]);
    expect(h.store.load().receipts).toEqual([]);
    expect(h.framesOf(alice, 'mail.deliver').map((f) => [f.seq, f.from, f.messageId])).toEqual([[9, 'bob', 'elsewhere']]);
  });

  it('for a user gone offline, or detached, by the time the store answers, nothing is told: the receipt stays owed', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const receipt = { seq: 7, sender: 'alice', recipient: 'bob', messageId: 'm7' };
    h.store.apply([{ op: 'receipt.add', ...receipt }]);
    h.input({ type: 'stored.mail', username: 'alice', held: { mail: [], receipts: [receipt] } });
    const alice = h.login('alice');
    h.store.apply([{ op: 'receipt.add', ...receipt }]);
    h.close(alice);
    h.input({ type: 'stored.mail', username: 'alice', held: { mail: [], receipts: [receipt] } });
    expect(h.store.load().receipts).toEqual([receipt]);
  });

  it('for a user another node holds, nothing is told from here: the receipt stays owed in the store (its node tells it)', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const receipt = { seq: 7, sender: 'alice', recipient: 'bob', messageId: 'm7' };
    h.store.apply([{ op: 'receipt.add', ...receipt }]);
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 't' });
    h.input({ type: 'stored.mail', username: 'alice', held: { mail: [], receipts: [receipt] } });
    expect(h.store.load().receipts).toEqual([receipt]);
  });
});

describe('mailbox: the store read again (remote.snapshot, a cluster node)', () => {
  // Found by helper-86: the reload replaced the mailbox whole, so mail handed over and not yet
  // acknowledged was pushed again at the next hand-over (clients skip a seq they showed, but the
  // wire carried the copy, and the in-flight window counted wrong).
  it('keeps mail handed over and not yet acknowledged in flight: the next push carries only new mail', () => {
    const h = harness();
    const { alice, bob } = h.online('alice', 'bob') as { alice: number; bob: number };
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'm1', sealed: box('one') });
    expect(h.framesOf(bob, 'mail.deliver').map((f) => f.messageId)).toEqual(['m1']);
    h.machine.handle({ type: 'remote.snapshot', snapshot: h.store.load() }, h.nowMs);
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'm2', sealed: box('two') });
    expect(h.framesOf(bob, 'mail.deliver').map((f) => f.messageId)).toEqual(['m1', 'm2']);
    // The acknowledgement of the first still frees its place; a mail gone from the store is not kept in flight.
    const [first] = h.framesOf(bob, 'mail.deliver');
    h.send(bob, { type: 'mail.ack', seq: Number(first?.seq) });
    expect(h.store.mailRecords.map((m) => m.messageId)).toEqual(['m2']);
  });

  it('makes no seq again that it made before the read, though the mail that had it is gone', () => {
    const h = harness();
    const { alice, bob } = h.online('alice', 'bob') as { alice: number; bob: number };
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'm1', sealed: box('one') });
    const [first] = h.framesOf(bob, 'mail.deliver');
    h.send(bob, { type: 'mail.ack', seq: Number(first?.seq) });
    h.machine.handle({ type: 'remote.snapshot', snapshot: h.store.load() }, h.nowMs);
    h.send(alice, { type: 'mail.send', username: 'bob', messageId: 'm2', sealed: box('two') });
    const [, second] = h.framesOf(bob, 'mail.deliver');
    expect(Number(second?.seq)).toBeGreaterThan(Number(first?.seq));
  });
});
