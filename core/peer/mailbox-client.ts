/**
 * Offline messages on the client side: a chat.send to a friend with no open session is sealed
 * for that friend's identity key and left with the server (mail.send); mail the server hands
 * over (mail.deliver) is opened, shown once as chat.message with `offline: true`, and
 * acknowledged (mail.ack), after which the server deletes it and tells the sender
 * (mail.delivered → chat.delivered). One that does not open is acknowledged as unreadable, and its
 * sender hears mail.failed instead (→ error MAIL_UNREADABLE, the record failed). Composed by the
 * peer machine (machine.ts).
 *
 * History: a message of ours is recorded `sending` before it is sealed, so it is kept whatever
 * comes next (a program killed, a link lost before the server's answer: the server may hold it
 * and the friend get it); mail.queued marks it `queued`, a refusal or a box that never went out
 * `failed`, and the server's receipts (mail.delivered, mail.failed) settle the rest (history.ts).
 *
 * Pure: sealing and opening are crypto, so they are effects (`seal`, `open`) the runtime carries
 * out (cli/crypto/sealed-box.ts in the real client; a stand-in in the simulator) and answers with
 * inputs. What is sealed is defined here: the JSON of MailPlaintext, which names sender and
 * recipient and the message id, so a box the server hands over under another sender's name or
 * message id is refused.
 *
 * Order and exactly-once: boxes are opened in the order the server hands them over (which is
 * arrival order per recipient, so per sender too), and a box whose open finishes early waits for
 * the ones before it. A seq already shown (its ack was lost with the link, so the server hands it
 * over again) is acknowledged again and not shown; the last MAIL_IDS_REMEMBERED_MAX seqs are
 * remembered for that.
 */
import { z } from 'zod';
import type { ServerFrameOf } from '../frames.ts';
import { MAIL_IDS_REMEMBERED_MAX, MAIL_SEALED_BYTES_MAX, SERVER_REQUESTS_PENDING_MAX } from '../limits.ts';
import type { ErrorCode } from '../errors.ts';
import type { ChatRecord } from './chat.ts';
import type { ClientEvent } from './events.ts';
import type { HistoryMark } from './history.ts';
import { dropOldestPast } from '../bounded.ts';

/** What a sealed box adds to its plaintext (version, ephemeral X25519 key, tag): cli/crypto/sealed-box.ts. */
export const SEALED_BOX_OVERHEAD_BYTES = 1 + 32 + 16;
/** Largest plaintext (the JSON of MailPlaintext, UTF-8) that seals within MAIL_SEALED_BYTES_MAX. */
export const MAIL_PLAINTEXT_BYTES_MAX = MAIL_SEALED_BYTES_MAX - SEALED_BOX_OVERHEAD_BYTES;

/** What is inside a sealed box, as JSON (docs/PROTOCOL.md, "Sealed offline messages"). */
export const mailPlaintextSchema = z.object({
  v: z.literal(1),
  from: z.string(),
  to: z.string(),
  id: z.union([z.string(), z.number()]),
  text: z.string(),
  sentAtMs: z.number(),
});
export type MailPlaintext = z.infer<typeof mailPlaintextSchema>;

const utf8 = new TextEncoder();

/** What the composition must do for the mailbox client. */
export interface MailboxPort {
  emit(event: ClientEvent, ref: number | undefined): void;
  emitError(code: ErrorCode, detail: string | undefined, username: string, id: string | number, ref: number | undefined): void;
  /** Sends mail.send; the reply (mail.queued or an error) carries `ref`. Null when the link is down. */
  sendMail(username: string, messageId: string | number, sealed: string, ref: number | undefined): number | null;
  /** mail.ack: we are done with it (stored, or `unreadable`, so its sender hears it failed). */
  sendAck(seq: number, unreadable: boolean): void;
  seal(ticket: number, sealKey: string, plaintext: string): void;
  open(seq: number, sealed: string): void;
  /** History (history.ts): a message being left or shown, and one of ours held, delivered or failed. */
  record(entry: ChatRecord): void;
  mark(mark: HistoryMark): void;
}

interface Sealing {
  /** The account sending (the box names it). */
  readonly me: string;
  readonly friend: string;
  readonly id: string | number;
  readonly text: string;
  readonly sentAtMs: number;
  readonly ref: number | undefined;
}

/** A send whose answer the link lost: the box it sent, so a resend is the same box (the server tells it apart). */
interface Unanswered {
  readonly text: string;
  readonly sentAtMs: number;
  readonly sealed: string;
}

function unansweredKey(me: string, friend: string, id: string | number): string {
  // JSON keeps the id 1 apart from the id "1", as the server does; the box names its sender, so
  // another account logged in on this program never sends it.
  return `${me}\u0000${friend}\u0000${JSON.stringify(id)}`;
}

interface Opening {
  readonly seq: number;
  readonly from: string;
  readonly messageId: string | number;
  /** null until the runtime answered; then the text, or an Error when the box did not open. */
  result: { readonly text: string; readonly sentAtMs: number } | Error | null;
}

export class MailboxClient {
  /**
   * Our friends, as the server's friend views list them, each with its X25519 identity public key
   * (base64 SPKI DER) when it carries one (null: the friend never registered keys).
   */
  private readonly friends = new Map<string, string | null>();
  private readonly sealing = new Map<number, Sealing>();
  private nextTicket = 1;
  /** mail.send requests awaiting their reply: request id → friend, message id, command ref (for errors) and the box. */
  private readonly sent = new Map<number, Sealing & { readonly sealed: string }>();
  /**
   * Sends whose answer the link lost (SERVER_UNAVAILABLE), oldest first, at most
   * SERVER_REQUESTS_PENDING_MAX: the server may hold them. Sending one again with the same text
   * sends the same box, which the server takes for the message sent again (held once); a box
   * sealed anew would be another message under a held id to it (MESSAGE_ID_TAKEN).
   */
  private readonly unanswered = new Map<string, Unanswered>();
  /** Boxes handed over, in the server's order, until shown. */
  private readonly opening: Opening[] = [];
  /** Seqs shown (false) or found unreadable (true), oldest first (bounded): a repeated delivery is acknowledged as before, not shown again. */
  private readonly unreadableBySeq = new Map<number, boolean>();

  constructor(private readonly port: MailboxPort) {}

  /** The whole friend list (login.ok, friends): who we may leave mail for, and their identity keys. */
  setFriends(friends: ReadonlyArray<{ readonly username: string }>): void {
    this.friends.clear();
    this.addFriends(friends);
  }

  /** A friend view (friend.added) may carry the identity keys. */
  addFriends(friends: ReadonlyArray<{ readonly username: string }>): void {
    for (const friend of friends) {
      const sealKey = (friend as { identity?: { sealKey?: unknown } }).identity?.sealKey;
      this.friends.set(friend.username, typeof sealKey === 'string' && sealKey.length > 0 ? sealKey : null);
    }
  }

  /** The friendship ended (friend.removed). */
  forget(friend: string): void {
    this.friends.delete(friend);
  }

  isFriend(username: string): boolean {
    return this.friends.has(username);
  }

  /** chat.send with no open session: seal for the friend (answered by `sealed`). */
  send(me: string, friend: string, text: string, id: string | number, nowMs: number, ref: number | undefined): void {
    const sealKey = this.friends.get(friend) ?? null;
    if (sealKey === null) return this.port.emitError('PEER_KEY_UNKNOWN', 'no open session, and no identity key to seal an offline message with', friend, id, ref);
    const plaintext = JSON.stringify({ v: 1, from: me, to: friend, id, text, sentAtMs: nowMs } satisfies MailPlaintext);
    if (utf8.encode(plaintext).byteLength > MAIL_PLAINTEXT_BYTES_MAX) {
      return this.port.emitError('MESSAGE_TOO_LONG', `an offline message holds at most ${MAIL_PLAINTEXT_BYTES_MAX} bytes with its envelope`, friend, id, ref);
    }
    if (this.sealing.size + this.sent.size >= SERVER_REQUESTS_PENDING_MAX) {
      return this.port.emitError('QUEUE_FULL', 'too many offline messages waiting for the server', friend, id, ref);
    }
    const key = unansweredKey(me, friend, id);
    const again = this.unanswered.get(key);
    if (again !== undefined && again.text === text) {
      // Sent again after a lost answer: its record, written at the first send, is the one it moves
      // on; its box is kept until it went out (a try with the link still down leaves it for the next).
      if (this.leave({ me, friend, id, text, sentAtMs: again.sentAtMs, ref }, again.sealed, false)) this.unanswered.delete(key);
      return;
    }
    // Recorded before anything goes out (effects run in order), as a chat message over a session
    // is: a program killed before the server's answer, or a link lost before it, still has the
    // message in its history, though the server may hold it and the friend get it.
    this.port.record({ friend, id, text, atMs: nowMs, direction: 'out', status: 'sending', kind: 'message' });
    const ticket = this.nextTicket++;
    this.sealing.set(ticket, { me, friend, id, text, sentAtMs: nowMs, ref });
    this.port.seal(ticket, sealKey, plaintext);
  }

  /** The runtime sealed a message: leave it with the server. */
  sealed(ticket: number, sealed: string | null): void {
    const job = this.sealing.get(ticket);
    if (job === undefined) return;
    this.sealing.delete(ticket);
    if (sealed === null) {
      this.markFailed(job);
      return this.port.emitError('PEER_KEY_UNKNOWN', 'the identity key could not be used to seal', job.friend, job.id, job.ref);
    }
    this.leave(job, sealed, true);
  }

  /** Sends the box (fresh: never sent before); false when the link is down and it could not go. */
  private leave(job: Sealing, sealed: string, fresh: boolean): boolean {
    const requestId = this.port.sendMail(job.friend, job.id, sealed, job.ref);
    if (requestId === null) {
      // A box that never went out is held by nobody; one sent before (its answer lost) may be:
      // its record stays as it was.
      if (fresh) this.markFailed(job);
      this.port.emitError('SERVER_UNAVAILABLE', 'the offline message was not left with the server', job.friend, job.id, job.ref);
      return false;
    }
    this.sent.set(requestId, { ...job, sealed });
    return true;
  }

  private markFailed(job: { readonly friend: string; readonly id: string | number }): void {
    this.port.mark({ friend: job.friend, id: job.id, direction: 'out', status: 'failed', through: false });
  }

  /** The server holds it (the reply carries the command's ref). */
  onQueued(frame: ServerFrameOf<'mail.queued'>): void {
    const job = frame.re === undefined ? undefined : this.sent.get(frame.re);
    if (frame.re !== undefined) this.sent.delete(frame.re);
    if (job !== undefined) this.port.mark({ friend: job.friend, id: job.id, direction: 'out', status: 'queued', through: false });
    this.port.emit({ event: 'chat.queued', username: frame.username, id: frame.messageId }, undefined);
  }

  /** An error reply to a mail.send (refused, so not held): which message it was about, if it was one; its record fails. */
  failedSend(re: number): { readonly friend: string; readonly id: string | number } | null {
    const sent = this.sent.get(re);
    if (sent === undefined) return null;
    this.sent.delete(re);
    this.markFailed(sent);
    return sent;
  }

  /**
   * The link dropped: the replies owed to our mail.sends will not come. Each is reported
   * SERVER_UNAVAILABLE with its friend and id; the server may hold it all the same, and sending it
   * again under the same id with the same text (the same box: `unanswered`) is answered chat.queued
   * without a second copy.
   */
  linkLost(): void {
    for (const job of this.sent.values()) {
      this.port.emitError('SERVER_UNAVAILABLE', 'the server connection closed before it said it holds the offline message', job.friend, job.id, job.ref);
      const key = unansweredKey(job.me, job.friend, job.id);
      this.unanswered.delete(key);
      this.unanswered.set(key, { text: job.text, sentAtMs: job.sentAtMs, sealed: job.sealed });
      dropOldestPast(this.unanswered, SERVER_REQUESTS_PENDING_MAX);
    }
    this.sent.clear();
    // Boxes handed over and not yet shown are handed over again at the next login.
    this.opening.length = 0;
  }

  onDelivered(frame: ServerFrameOf<'mail.delivered'>): void {
    this.port.mark({ friend: frame.username, id: frame.messageId, direction: 'out', status: 'delivered', through: false, receipt: true });
    this.port.emit({ event: 'chat.delivered', username: frame.username, id: frame.messageId }, undefined);
  }

  /**
   * A mail of ours reached nobody and is gone: the friend's client could not open it
   * (MAIL_UNREADABLE). Its history
   * record fails, and the user hears it as that error, naming the friend and the message.
   */
  onFailed(frame: ServerFrameOf<'mail.failed'>): void {
    this.port.mark({ friend: frame.username, id: frame.messageId, direction: 'out', status: 'failed', through: false, receipt: true });
    this.port.emitError(frame.code, 'their client could not open the offline message: it is gone, send it again', frame.username, frame.messageId, undefined);
  }

  /** A box for us: opened in the order given; one already shown is only acknowledged again. */
  onDeliver(frame: ServerFrameOf<'mail.deliver'>): void {
    // Handed over again after a lost ack: acknowledged again as it was the first time.
    const unreadable = this.unreadableBySeq.get(frame.seq);
    if (unreadable !== undefined) return this.port.sendAck(frame.seq, unreadable);
    if (this.opening.some((o) => o.seq === frame.seq)) return;
    this.opening.push({ seq: frame.seq, from: frame.from, messageId: frame.messageId, result: null });
    this.port.open(frame.seq, frame.sealed);
  }

  /** The runtime opened a box (plaintext: its UTF-8 text), or could not (null). */
  opened(me: string | null, seq: number, plaintext: string | null): void {
    const opening = this.opening.find((o) => o.seq === seq);
    if (opening === undefined || opening.result !== null) return;
    opening.result = this.check(me, opening, plaintext);
    this.showReady();
  }

  /** Checks that a box says what the server said of it: sender, recipient (us) and message id. */
  private check(me: string | null, opening: Opening, plaintext: string | null): Opening['result'] {
    if (plaintext === null) return new Error('the sealed box does not open with our identity key');
    let value: unknown;
    try {
      value = JSON.parse(plaintext);
    } catch {
      return new Error('the sealed box holds no JSON');
    }
    const parsed = mailPlaintextSchema.safeParse(value);
    if (!parsed.success) return new Error('the sealed box holds no message');
    const inside = parsed.data;
    if (inside.from !== opening.from || inside.to !== me || inside.id !== opening.messageId) {
      return new Error(`the sealed box names ${inside.from} → ${inside.to}, message ${String(inside.id)}, not what the server said`);
    }
    return { text: inside.text, sentAtMs: inside.sentAtMs };
  }

  /** Shows the boxes at the head whose open finished, in order, and acknowledges each. */
  private showReady(): void {
    for (let head = this.opening[0]; head !== undefined && head.result !== null; head = this.opening[0]) {
      this.opening.shift();
      const result = head.result;
      this.remember(head.seq, result instanceof Error);
      if (result instanceof Error) {
        // It will never open: acknowledged as unreadable so it does not block the mailbox and its
        // sender hears it failed (not delivered), and reported here.
        this.port.emitError('MAIL_UNREADABLE', result.message, head.from, head.messageId, undefined);
      } else {
        // Recorded before the ack goes out (effects run in order): acknowledged means stored.
        this.port.record({ friend: head.from, id: head.messageId, text: result.text, atMs: result.sentAtMs, direction: 'in', status: 'received', kind: 'message', offline: true });
        this.port.emit({ event: 'chat.message', from: head.from, text: result.text, id: head.messageId, offline: true, sentAtMs: result.sentAtMs }, undefined);
      }
      this.port.sendAck(head.seq, result instanceof Error);
    }
  }

  private remember(seq: number, unreadable: boolean): void {
    this.unreadableBySeq.set(seq, unreadable);
    dropOldestPast(this.unreadableBySeq, MAIL_IDS_REMEMBERED_MAX);
  }
}
