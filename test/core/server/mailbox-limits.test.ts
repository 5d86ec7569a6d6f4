/**
 * Mailbox's bounds (core/server/mailbox.ts, core/limits.ts), on the class itself: a sealed box is
 * counted in the bytes its base64 decodes to; a sender's share and the whole mailbox are bounded
 * in bytes as well as messages (a limit is reached when a mail would go past it, not when it fills
 * it exactly); and mail acknowledged frees what it used, for its sender and for the whole.
 *
 * Through the server the byte bounds match the message bounds (a share's bytes are
 * MAILBOX_MESSAGES_PER_SENDER_MAX full-size mails), so they are stated here with mail of any size.
 */
import { describe, expect, it } from 'vitest';
import {
  MAIL_SEALED_BYTES_MAX,
  MAILBOX_BYTES_PER_RECIPIENT_MAX,
  MAILBOX_BYTES_PER_SENDER_MAX,
  MAILBOX_MESSAGES_PER_RECIPIENT_MAX,
  MAILBOX_MESSAGES_PER_SENDER_MAX,
} from '../../../core/limits.ts';
import { Mailbox } from '../../../core/server/mailbox.ts';
import { sealedBytes } from '../../../core/frames.ts';
import type { MailRecord } from '../../../core/store.ts';

const empty = { accounts: [], friendships: [], requests: [], blocks: [] };

/** Senders enough to fill a whole mailbox with their shares. */
const FOUR_SENDERS = ['alice', 'carol', 'dave', 'erin'] as const;

let nextSeq = 1;
/** A mail to bob of exactly `bytes` sealed bytes. */
function mail(from: string, bytes = 16): MailRecord {
  const seq = nextSeq++;
  return { seq, from, to: 'bob', messageId: `m${seq}`, sealed: Buffer.alloc(bytes, seq % 251).toString('base64'), sentAtMs: seq };
}

function mailbox(...records: MailRecord[]): Mailbox {
  return new Mailbox({ ...empty, mail: records });
}

describe('sealedBytes', () => {
  it('is what the base64 decodes to, whatever its padding (none, one or two =)', () => {
    for (const bytes of [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, MAIL_SEALED_BYTES_MAX - 1, MAIL_SEALED_BYTES_MAX]) {
      expect(sealedBytes(Buffer.alloc(bytes, 0xab).toString('base64'))).toBe(bytes);
    }
  });
});

describe('Mailbox.admit: a share and the whole mailbox, in bytes', () => {
  it("a sender's share is counted in bytes too: it takes a mail that fills it exactly, and refuses one byte more", () => {
    const box = mailbox(mail('alice', MAILBOX_BYTES_PER_SENDER_MAX - 10));
    expect(box.admit('bob', 'alice', 10)).toBe('ok');
    expect(box.admit('bob', 'alice', 11)).toBe('sender-share-full');
    // Another sender's share is its own.
    expect(box.admit('bob', 'carol', 11)).toBe('ok');
  });

  it('one mail larger than a whole share is refused as over the share, to an empty mailbox as to one holding mail', () => {
    expect(mailbox().admit('bob', 'alice', MAILBOX_BYTES_PER_SENDER_MAX + 1)).toBe('sender-share-full');
    expect(mailbox(mail('carol')).admit('bob', 'alice', MAILBOX_BYTES_PER_SENDER_MAX + 1)).toBe('sender-share-full');
    expect(mailbox().admit('bob', 'alice', MAILBOX_BYTES_PER_SENDER_MAX)).toBe('ok');
  });

  it('the whole mailbox is counted in bytes too: a fifth sender fills it exactly, and one byte more finds it full', () => {
    const [last, ...rest] = FOUR_SENDERS;
    const box = mailbox(...rest.map((from) => mail(from, MAILBOX_BYTES_PER_SENDER_MAX)), mail(last, MAILBOX_BYTES_PER_SENDER_MAX - 10));
    expect(MAILBOX_BYTES_PER_SENDER_MAX * FOUR_SENDERS.length).toBe(MAILBOX_BYTES_PER_RECIPIENT_MAX);
    expect(box.admit('bob', 'frank', 10)).toBe('ok');
    expect(box.admit('bob', 'frank', 11)).toBe('recipient-full');
  });
});

describe('Mailbox: mail acknowledged frees what it used', () => {
  it("in messages, for its sender's share, which counts again from what is left", () => {
    const held = Array.from({ length: MAILBOX_MESSAGES_PER_SENDER_MAX }, () => mail('alice'));
    const box = mailbox(...held);
    expect(box.admit('bob', 'alice', 16)).toBe('sender-share-full');
    box.apply({ op: 'mail.remove', to: 'bob', seq: held[0]!.seq });
    expect(box.admit('bob', 'alice', 16)).toBe('ok');
    box.apply({ op: 'mail.add', ...mail('alice') });
    expect(box.admit('bob', 'alice', 16)).toBe('sender-share-full');
  });

  it("in bytes, for its sender's share", () => {
    const big = mail('alice', MAILBOX_BYTES_PER_SENDER_MAX - 100);
    const box = mailbox(big, mail('alice', 100));
    expect(box.admit('bob', 'alice', 1)).toBe('sender-share-full');
    box.apply({ op: 'mail.remove', to: 'bob', seq: big.seq });
    expect(box.admit('bob', 'alice', MAILBOX_BYTES_PER_SENDER_MAX - 100)).toBe('ok');
  });

  it('in messages, for the whole mailbox', () => {
    const held = FOUR_SENDERS.flatMap((from) => Array.from({ length: MAILBOX_MESSAGES_PER_SENDER_MAX }, () => mail(from)));
    expect(held).toHaveLength(MAILBOX_MESSAGES_PER_RECIPIENT_MAX);
    const box = mailbox(...held);
    expect(box.admit('bob', 'frank', 16)).toBe('recipient-full');
    box.apply({ op: 'mail.remove', to: 'bob', seq: held[0]!.seq });
    expect(box.admit('bob', 'frank', 16)).toBe('ok');
  });

  it('in bytes, for the whole mailbox', () => {
    const held = FOUR_SENDERS.map((from) => mail(from, MAILBOX_BYTES_PER_SENDER_MAX));
    const box = mailbox(...held);
    expect(box.admit('bob', 'frank', 1)).toBe('recipient-full');
    box.apply({ op: 'mail.remove', to: 'bob', seq: held[0]!.seq });
    expect(box.admit('bob', 'frank', MAILBOX_BYTES_PER_SENDER_MAX)).toBe('ok');
  });
});
