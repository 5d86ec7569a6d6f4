/**
 * Offline messages on the client side (core/peer/mailbox-client.ts), through its port: what is
 * sealed for whom, what goes to the server, and how boxes handed over are opened, checked, shown
 * once in order and acknowledged. The port records every call; sealing and opening are answered
 * by the test, as the runtime's crypto would.
 */
import { describe, expect, it } from 'vitest';
import { MAIL_IDS_REMEMBERED_MAX, SERVER_REQUESTS_PENDING_MAX } from '../../../core/limits.ts';
import { MAIL_PLAINTEXT_BYTES_MAX, MailboxClient, type MailboxPort } from '../../../core/peer/mailbox-client.ts';

type Call = { readonly call: keyof MailboxPort; readonly args: readonly unknown[] };

function rig(options: { readonly sendMailAnswers?: (number | null)[] } = {}) {
  const calls: Call[] = [];
  let nextRequest = 100;
  const answers = options.sendMailAnswers ?? [];
  const record =
    (call: keyof MailboxPort) =>
    (...args: unknown[]): void => {
      calls.push({ call, args });
    };
  const port: MailboxPort = {
    emit: record('emit'),
    emitError: record('emitError'),
    sendMail: (...args) => {
      calls.push({ call: 'sendMail', args });
      return answers.length > 0 ? answers.shift()! : nextRequest++;
    },
    sendAck: record('sendAck'),
    seal: record('seal'),
    open: record('open'),
    record: record('record'),
    mark: record('mark'),
  };
  const mail = new MailboxClient(port);
  const of = (call: keyof MailboxPort): unknown[][] => calls.filter((c) => c.call === call).map((c) => [...c.args]);
  return { mail, calls, of, clear: () => (calls.length = 0) };
}

const BOB_KEY = 'bob-seal-key';
const box = (plaintext: object): string => JSON.stringify(plaintext);
const deliver = (seq: number, from = 'bob', messageId: string | number = `m${seq}`) => ({ type: 'mail.deliver' as const, seq, from, messageId, sealed: `box${seq}`, sentAtMs: 5 });
const inside = (seq: number, from = 'bob', to = 'alice', id: string | number = `m${seq}`) => box({ v: 1, from, to, id, text: `text ${seq}`, sentAtMs: 50 + seq });

describe('mailbox client: leaving mail', () => {
  it('seals the message for the friend key as JSON naming sender, recipient, id, text and time, and sends the box with the command ref', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { signKey: 's', sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'hello', 'm1', 1_000, 7);
    expect(of('seal')).toEqual([[1, BOB_KEY, JSON.stringify({ v: 1, from: 'alice', to: 'bob', id: 'm1', text: 'hello', sentAtMs: 1_000 })]]);
    mail.sealed(1, 'SEALED');
    expect(of('sendMail')).toEqual([['bob', 'm1', 'SEALED', 7]]);
    expect(of('emitError')).toEqual([]);
  });

  it('records the message sending at its send time before sealing it; the server holding it (mail.queued) marks it queued and says chat.queued', () => {
    // Before: recorded at mail.queued only (a program killed before it, or a link lost, kept nothing).
    const { mail, of, calls } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'hello', 'm1', 1_000, undefined);
    expect(calls.map((c) => c.call)).toEqual(['record', 'seal']);
    expect(of('record')).toEqual([[{ friend: 'bob', id: 'm1', text: 'hello', atMs: 1_000, direction: 'out', status: 'sending', kind: 'message' }]]);
    mail.sealed(1, 'SEALED');
    expect(of('mark')).toEqual([]);
    mail.onQueued({ type: 'mail.queued', re: 100, username: 'bob', messageId: 'm1' });
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'queued', through: false }]]);
    expect(of('emit')).toEqual([[{ event: 'chat.queued', username: 'bob', id: 'm1' }, undefined]]);
    // The reply is used up: a second one for the same request marks nothing.
    mail.onQueued({ type: 'mail.queued', re: 100, username: 'bob', messageId: 'm1' });
    mail.onQueued({ type: 'mail.queued', username: 'bob', messageId: 'm2' });
    expect(of('record')).toHaveLength(1);
    expect(of('mark')).toHaveLength(1);
    expect(of('emit')).toHaveLength(3);
  });

  it('refused before it goes (no key, too long, QUEUE_FULL), nothing is recorded: the error says it was not sent', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }, { username: 'carol' }]);
    mail.send('alice', 'carol', 'hi', 'm0', 0, undefined);
    mail.send('alice', 'bob', 'x'.repeat(MAIL_PLAINTEXT_BYTES_MAX), 'm1', 0, undefined);
    for (let i = 0; i <= SERVER_REQUESTS_PENDING_MAX; i++) mail.send('alice', 'bob', 'hi', i, 0, undefined);
    expect(of('record')).toHaveLength(SERVER_REQUESTS_PENDING_MAX);
    expect(of('emitError').map((args) => args[0])).toEqual(['PEER_KEY_UNKNOWN', 'MESSAGE_TOO_LONG', 'QUEUE_FULL']);
  });

  it('a friend without a seal key (none, or an empty one) or a stranger gets PEER_KEY_UNKNOWN and nothing is sealed', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob' }, { username: 'carol', identity: { sealKey: '' } } as { username: string }]);
    for (const friend of ['bob', 'carol', 'dave']) mail.send('alice', friend, 'hi', 'm1', 0, 3);
    expect(of('seal')).toEqual([]);
    expect(of('emitError').map((args) => [args[0], args[1], args[2]])).toEqual(
      ['bob', 'carol', 'dave'].map((friend) => ['PEER_KEY_UNKNOWN', 'no open session, and no identity key to seal an offline message with', friend]),
    );
  });

  it('a message whose sealed envelope would pass MAIL_PLAINTEXT_BYTES_MAX is MESSAGE_TOO_LONG; one exactly at it is sealed', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    const envelope = JSON.stringify({ v: 1, from: 'alice', to: 'bob', id: 'm1', text: '', sentAtMs: 0 }).length;
    const fits = 'x'.repeat(MAIL_PLAINTEXT_BYTES_MAX - envelope);
    mail.send('alice', 'bob', fits, 'm1', 0, undefined);
    expect(of('seal')).toHaveLength(1);
    mail.send('alice', 'bob', `${fits}x`, 'm1', 0, undefined);
    expect(of('seal')).toHaveLength(1);
    expect(of('emitError')).toEqual([['MESSAGE_TOO_LONG', `an offline message holds at most ${MAIL_PLAINTEXT_BYTES_MAX} bytes with its envelope`, 'bob', 'm1', undefined]]);
  });

  it('at most SERVER_REQUESTS_PENDING_MAX messages wait for sealing or the server; the next is QUEUE_FULL', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    const half = SERVER_REQUESTS_PENDING_MAX / 2;
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) mail.send('alice', 'bob', 'hi', i, 0, undefined);
    // Half of them leave sealing for the server: they still count until the server answers.
    for (let ticket = 1; ticket <= half; ticket++) mail.sealed(ticket, 'S');
    mail.send('alice', 'bob', 'one too many', 'late', 0, 9);
    expect(of('emitError')).toEqual([['QUEUE_FULL', 'too many offline messages waiting for the server', 'bob', 'late', 9]]);
    mail.onQueued({ type: 'mail.queued', re: 100, username: 'bob', messageId: 0 });
    mail.send('alice', 'bob', 'room again', 'next', 0, undefined);
    expect(of('seal')).toHaveLength(SERVER_REQUESTS_PENDING_MAX + 1);
  });

  it('a key that cannot seal is PEER_KEY_UNKNOWN; a sealing answer for no message (or a second one) is ignored', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'hi', 'm1', 0, 4);
    mail.sealed(1, null);
    mail.sealed(1, 'S');
    mail.sealed(99, 'S');
    expect(of('emitError')).toEqual([['PEER_KEY_UNKNOWN', 'the identity key could not be used to seal', 'bob', 'm1', 4]]);
    expect(of('sendMail')).toEqual([]);
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'failed', through: false }]]);
  });

  it('with the server link down when the box is ready, the message is SERVER_UNAVAILABLE', () => {
    const { mail, of } = rig({ sendMailAnswers: [null] });
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'hi', 'm1', 0, 4);
    mail.sealed(1, 'S');
    expect(of('emitError')).toEqual([['SERVER_UNAVAILABLE', 'the offline message was not left with the server', 'bob', 'm1', 4]]);
    expect(mail.failedSend(100)).toBeNull();
    // It never went out: held by nobody.
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'failed', through: false }]]);
  });

  it('an error reply names the message it was about, once, and marks it failed (the server refused it)', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'hi', 'm1', 0, undefined);
    mail.sealed(1, 'S');
    expect(mail.failedSend(100)).toMatchObject({ friend: 'bob', id: 'm1' });
    expect(mail.failedSend(100)).toBeNull();
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'failed', through: false }]]);
  });

  it('a message whose answer the link lost stays as recorded (the server may hold it); sent again with the link still down, its box is kept for the next try and its record not failed', () => {
    const { mail, of } = rig({ sendMailAnswers: [100, null] });
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'one', 'm1', 1_000, 1);
    mail.sealed(1, 'S1');
    mail.linkLost();
    expect(of('mark')).toEqual([]);
    mail.send('alice', 'bob', 'one', 'm1', 2_000, 2);
    expect(of('emitError').at(-1)).toEqual(['SERVER_UNAVAILABLE', 'the offline message was not left with the server', 'bob', 'm1', 2]);
    expect(of('mark')).toEqual([]);
    // Before: the box was dropped at that try, so the next one was sealed anew (MESSAGE_ID_TAKEN at the server).
    mail.send('alice', 'bob', 'one', 'm1', 3_000, 3);
    expect(of('sendMail').map((args) => args[2])).toEqual(['S1', 'S1', 'S1']);
    expect(of('seal')).toHaveLength(1);
    // One record for the three tries.
    expect(of('record')).toHaveLength(1);
    // The rig's request ids: 100 given, null, then 100 again from its own count.
    mail.onQueued({ type: 'mail.queued', re: 100, username: 'bob', messageId: 'm1' });
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'queued', through: false }]]);
  });

  it('a message whose answer the link lost, sent again with the same text under the same id, sends the same box (not sealed anew, its first send time kept); another text is sealed anew', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'one', 'm1', 1_000, 1);
    mail.send('alice', 'bob', 'two', 7, 1_000, 2);
    mail.sealed(1, 'S1');
    mail.sealed(2, 'S2');
    mail.linkLost();
    mail.send('alice', 'bob', 'one', 'm1', 5_000, 3);
    mail.send('alice', 'bob', 'two', '7', 5_000, 4);
    mail.send('alice', 'bob', 'changed', 7, 5_000, 5);
    expect(of('seal').map((args) => args[0])).toEqual([1, 2, 3, 4]);
    expect(of('sendMail')).toEqual([['bob', 'm1', 'S1', 1], ['bob', 7, 'S2', 2], ['bob', 'm1', 'S1', 3]]);
    mail.onQueued({ type: 'mail.queued', re: 102, username: 'bob', messageId: 'm1' });
    // Recorded at each first send (one, two, changed), not again when sent again.
    expect(of('record').map(([entry]) => (entry as { text: string }).text)).toEqual(['one', 'two', 'two', 'changed']);
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'queued', through: false }]]);
    // Used once: held now, so the next send of it is sealed anew (and the server tells it apart).
    mail.send('alice', 'bob', 'one', 'm1', 6_000, 6);
    expect(of('seal').map((args) => args[0])).toEqual([1, 2, 3, 4, 5]);
    // Another account on this program never sends alice's box (it names her).
    mail.send('alice', 'bob', 'three', 9, 1_000, 7);
    mail.sealed(6, 'S9');
    mail.linkLost();
    mail.send('carol', 'bob', 'three', 9, 7_000, 8);
    expect(of('seal').map((args) => args[0])).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(of('sendMail').filter((args) => args[2] === 'S9')).toHaveLength(1);
  });

  it(`at most SERVER_REQUESTS_PENDING_MAX (${SERVER_REQUESTS_PENDING_MAX}) boxes of unanswered sends are kept: the oldest is sealed anew`, () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    for (let round = 0; round < 2; round++) {
      const first = round * SERVER_REQUESTS_PENDING_MAX;
      for (let n = first; n < first + SERVER_REQUESTS_PENDING_MAX; n++) mail.send('alice', 'bob', `t${n}`, n, 0, undefined);
      for (let n = first; n < first + SERVER_REQUESTS_PENDING_MAX; n++) mail.sealed(n + 1, `S${n}`);
      mail.linkLost();
    }
    const sealedBefore = of('seal').length;
    mail.send('alice', 'bob', 't0', 0, 0, undefined);
    mail.send('alice', 'bob', `t${SERVER_REQUESTS_PENDING_MAX}`, SERVER_REQUESTS_PENDING_MAX, 0, undefined);
    expect(of('seal').length).toBe(sealedBefore + 1);
    expect(of('sendMail').at(-1)).toEqual(['bob', SERVER_REQUESTS_PENDING_MAX, `S${SERVER_REQUESTS_PENDING_MAX}`, undefined]);
  });

  it('a lost link reports each message the server has not confirmed, once', () => {
    const { mail, of } = rig();
    mail.setFriends([{ username: 'bob', identity: { sealKey: BOB_KEY } } as { username: string }]);
    mail.send('alice', 'bob', 'one', 'm1', 0, 1);
    mail.send('alice', 'bob', 'two', 'm2', 0, 2);
    mail.sealed(1, 'S1');
    mail.sealed(2, 'S2');
    mail.linkLost();
    mail.linkLost();
    const detail = 'the server connection closed before it said it holds the offline message';
    expect(of('emitError')).toEqual([
      ['SERVER_UNAVAILABLE', detail, 'bob', 'm1', 1],
      ['SERVER_UNAVAILABLE', detail, 'bob', 'm2', 2],
    ]);
  });

  it('the friend list says who may get mail: replaced by setFriends, grown by addFriends, shrunk by forget', () => {
    const { mail } = rig();
    mail.setFriends([{ username: 'bob' }]);
    mail.addFriends([{ username: 'carol' }]);
    expect([mail.isFriend('bob'), mail.isFriend('carol')]).toEqual([true, true]);
    mail.forget('bob');
    expect(mail.isFriend('bob')).toBe(false);
    mail.setFriends([{ username: 'dave' }]);
    expect([mail.isFriend('carol'), mail.isFriend('dave')]).toEqual([false, true]);
  });

  it('the friend storing our message (mail.delivered) marks it delivered and says chat.delivered', () => {
    const { mail, of } = rig();
    mail.onDelivered({ type: 'mail.delivered', username: 'bob', messageId: 'm1' });
    // A receipt: about the message the server held under that id, not a newer one it refused.
    expect(of('mark')).toEqual([[{ friend: 'bob', id: 'm1', direction: 'out', status: 'delivered', through: false, receipt: true }]]);
    expect(of('emit')).toEqual([[{ event: 'chat.delivered', username: 'bob', id: 'm1' }, undefined]]);
  });

  it('our mail reaching nobody (mail.failed) marks it failed and says the error of its code, naming the friend and the message', () => {
    const { mail, of } = rig();
    mail.onFailed({ type: 'mail.failed', username: 'bob', messageId: 'm1', code: 'MAIL_UNREADABLE' });
    mail.onFailed({ type: 'mail.failed', username: 'carol', messageId: 7, code: 'MAIL_UNREADABLE' });
    expect(of('mark')).toEqual([
      [{ friend: 'bob', id: 'm1', direction: 'out', status: 'failed', through: false, receipt: true }],
      [{ friend: 'carol', id: 7, direction: 'out', status: 'failed', through: false, receipt: true }],
    ]);
    expect(of('emitError')).toEqual([
      ['MAIL_UNREADABLE', 'their client could not open the offline message: it is gone, send it again', 'bob', 'm1', undefined],
      ['MAIL_UNREADABLE', 'their client could not open the offline message: it is gone, send it again', 'carol', 7, undefined],
    ]);
    expect(of('emit')).toEqual([]);
  });
});

describe('mailbox client: mail handed over', () => {
  it('a box is opened, recorded as an offline message, shown with its send time, then acknowledged', () => {
    const { mail, calls, of } = rig();
    mail.onDeliver(deliver(1));
    expect(of('open')).toEqual([[1, 'box1']]);
    mail.opened('alice', 1, inside(1));
    expect(calls.slice(1).map((c) => c.call)).toEqual(['record', 'emit', 'sendAck']);
    expect(of('record')).toEqual([[{ friend: 'bob', id: 'm1', text: 'text 1', atMs: 51, direction: 'in', status: 'received', kind: 'message', offline: true }]]);
    expect(of('emit')).toEqual([[{ event: 'chat.message', from: 'bob', text: 'text 1', id: 'm1', offline: true, sentAtMs: 51 }, undefined]]);
    expect(of('sendAck')).toEqual([[1, false]]);
  });

  it('boxes are shown in the order handed over: one opened early waits for those before it', () => {
    const { mail, of } = rig();
    mail.onDeliver(deliver(1));
    mail.onDeliver(deliver(2));
    mail.opened('alice', 2, inside(2));
    expect(of('emit')).toEqual([]);
    mail.opened('alice', 1, inside(1));
    expect(of('emit').map((args) => (args[0] as { id: string }).id)).toEqual(['m1', 'm2']);
    expect(of('sendAck')).toEqual([[1, false], [2, false]]);
  });

  it('a box handed over again while it is being opened is not opened twice; once shown it is only acknowledged again', () => {
    const { mail, of } = rig();
    mail.onDeliver(deliver(1));
    mail.onDeliver(deliver(1));
    expect(of('open')).toHaveLength(1);
    mail.opened('alice', 1, inside(1));
    mail.opened('alice', 1, inside(1));
    mail.onDeliver(deliver(1));
    expect(of('open')).toHaveLength(1);
    expect(of('emit')).toHaveLength(1);
    expect(of('sendAck')).toEqual([[1, false], [1, false]]);
  });

  it('a box that does not open, holds no JSON, holds no message, or names another sender, recipient or id is MAIL_UNREADABLE and still acknowledged, as unreadable (again so when handed over again)', () => {
    const cases: Array<[string | null, string]> = [
      [null, 'the sealed box does not open with our identity key'],
      ['not json', 'the sealed box holds no JSON'],
      [box({ v: 2, from: 'bob', to: 'alice', id: 'm1', text: 't', sentAtMs: 1 }), 'the sealed box holds no message'],
      [inside(1, 'mallory'), 'the sealed box names mallory → alice, message m1, not what the server said'],
      [inside(1, 'bob', 'carol'), 'the sealed box names bob → carol, message m1, not what the server said'],
      [inside(1, 'bob', 'alice', 'other'), 'the sealed box names bob → alice, message other, not what the server said'],
    ];
    for (const [plaintext, reason] of cases) {
      const { mail, of } = rig();
      mail.onDeliver(deliver(1));
      mail.opened('alice', 1, plaintext);
      expect(of('emitError')).toEqual([['MAIL_UNREADABLE', reason, 'bob', 'm1', undefined]]);
      expect(of('emit')).toEqual([]);
      expect(of('record')).toEqual([]);
      mail.onDeliver(deliver(1));
      expect(of('sendAck')).toEqual([[1, true], [1, true]]);
    }
  });

  it('only the first open answer counts: a second one for a box waiting its turn changes nothing', () => {
    const { mail, of } = rig();
    mail.onDeliver(deliver(1));
    mail.onDeliver(deliver(2));
    mail.opened('alice', 2, inside(2));
    mail.opened('alice', 2, null);
    mail.opened('alice', 1, inside(1));
    expect(of('emitError')).toEqual([]);
    expect(of('emit').map((args) => (args[0] as { text: string }).text)).toEqual(['text 1', 'text 2']);
  });

  it('an open answer for a box not handed over is ignored', () => {
    const { mail, calls } = rig();
    mail.opened('alice', 5, inside(5));
    expect(calls).toEqual([]);
  });

  it('boxes not shown when the link drops are forgotten (the server hands them over again), shown ones stay remembered', () => {
    const { mail, of } = rig();
    mail.onDeliver(deliver(1));
    mail.onDeliver(deliver(2));
    mail.opened('alice', 1, inside(1));
    mail.linkLost();
    mail.opened('alice', 2, inside(2));
    expect(of('emit')).toHaveLength(1);
    mail.onDeliver(deliver(2));
    mail.onDeliver(deliver(1));
    expect(of('open')).toEqual([[1, 'box1'], [2, 'box2'], [2, 'box2']]);
    mail.opened('alice', 2, inside(2));
    expect(of('emit')).toHaveLength(2);
    expect(of('sendAck')).toEqual([[1, false], [1, false], [2, false]]);
  });

  it('the last MAIL_IDS_REMEMBERED_MAX seqs shown are remembered: the oldest beyond is shown again if handed over again', () => {
    const { mail, of } = rig();
    for (let seq = 1; seq <= MAIL_IDS_REMEMBERED_MAX + 1; seq++) {
      mail.onDeliver(deliver(seq));
      mail.opened('alice', seq, inside(seq));
    }
    const opensBefore = of('open').length;
    mail.onDeliver(deliver(2));
    expect(of('open')).toHaveLength(opensBefore);
    mail.onDeliver(deliver(1));
    expect(of('open')).toHaveLength(opensBefore + 1);
  });
});
