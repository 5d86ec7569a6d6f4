/**
 * The server's mailbox of sealed offline messages, in memory, built from a store snapshot and
 * kept in step with the StoreOps the machine emits (like Directory in accounts.ts). The machine
 * asks it what may be admitted and what to hand over; it never sees a text, only sealed boxes
 * (docs/PROTOCOL.md, "Sealed offline messages").
 *
 * Bounds (core/limits.ts): per recipient, MAILBOX_MESSAGES_PER_RECIPIENT_MAX messages and
 * MAILBOX_BYTES_PER_RECIPIENT_MAX sealed bytes; per (sender, recipient), a quarter of each, so
 * one friend sending without pause fills its own share and never the others'. Receipts held for
 * offline senders: MAIL_RECEIPTS_HELD_PER_USER_MAX each, the oldest dropped first.
 *
 * Seq numbers are unique over the server's life and increase in arrival order: the next is the
 * larger of the last one + 1 and nowMs * MAIL_SEQS_PER_MS, so a restart (which only knows the seqs
 * still held) keeps counting up from its clock instead of handing out a seq a client may remember
 * from before (clients skip a seq they have already shown; see core/peer/mailbox-client.ts).
 *
 * Several nodes of a cluster make seqs for one database (one primary key): each node makes only
 * seqs in its own slot (seq mod `slots` = `slot`), so two nodes queueing mail in the same
 * millisecond never make the same one. A single server has one slot of one.
 */
import {
  MAIL_DELIVERIES_IN_FLIGHT_MAX,
  MAIL_RECEIPTS_HELD_PER_USER_MAX,
  MAILBOX_BYTES_PER_RECIPIENT_MAX,
  MAILBOX_BYTES_PER_SENDER_MAX,
  MAILBOX_MESSAGES_PER_RECIPIENT_MAX,
  MAILBOX_MESSAGES_PER_SENDER_MAX,
} from '../limits.ts';
import { receiptOf, type HeldMail, type MailRecord, type ReceiptRecord, type StoreOp, type StoreSnapshot } from '../store.ts';
import { sealedBytes } from '../frames.ts';

interface Usage {
  messages: number;
  bytes: number;
}

/** One recipient's mail, oldest first, and what it uses in total and per sender. */
interface Box {
  readonly items: MailRecord[];
  readonly total: Usage;
  readonly perSender: Map<string, Usage>;
}

/** What a recipient, or a sender's share, uses when nothing is held. */
const NOTHING_HELD: Readonly<Usage> = { messages: 0, bytes: 0 };

export type Admission = 'ok' | 'recipient-full' | 'sender-share-full';

/** Seqs per millisecond of the clock a seq starts from: room for a burst, far below 2^53 for ages. */
export const MAIL_SEQS_PER_MS = 1000;
/**
 * Slots a cluster's nodes make seqs in (each node one per millisecond, the rest of a burst a
 * millisecond ahead): a node takes slot (its boot number mod this), so two nodes running at once
 * share a slot only if a thousand node starts came between theirs.
 */
export const MAIL_SEQ_NODE_SLOTS = MAIL_SEQS_PER_MS;

export class Mailbox {
  private readonly boxes = new Map<string, Box>();
  /** Receipts owed to each offline sender, oldest first. */
  private readonly receipts = new Map<string, ReceiptRecord[]>();
  /** Per online recipient, the seqs handed over and not yet acknowledged. */
  private readonly inFlight = new Map<string, Set<number>>();
  private lastSeq = 0;

  /**
   * From a snapshot; `previous`, the mailbox this one replaces when a cluster node reads the store
   * again (remote.snapshot), hands on what only the node knows: which mail is in flight (handed
   * over, not yet acknowledged: not pushed again, and the window counts it) if the store still
   * holds it, and the last seq made (none is made twice, though the mail that had it is gone).
   */
  constructor(snapshot: StoreSnapshot, previous?: Mailbox) {
    for (const record of snapshot.mail ?? []) this.apply({ op: 'mail.add', ...record });
    for (const receipt of snapshot.receipts ?? []) this.apply({ op: 'receipt.add', ...receipt });
    if (previous === undefined) return;
    this.lastSeq = Math.max(this.lastSeq, previous.lastSeq);
    for (const [to, flying] of previous.inFlight) {
      const kept = new Set([...flying].filter((seq) => this.get(to, seq) !== undefined));
      // Stryker disable next-line ConditionalExpression,EqualityOperator: an empty set hands over as no set does; kept out only to hold no entry per user
      if (kept.size > 0) this.inFlight.set(to, kept);
    }
  }

  /** The seq for a mail arriving now, in this node's slot (see the header). */
  nextSeq(nowMs: number, slot = 0, slots = 1): number {
    const earliest = Math.max(this.lastSeq + 1, Math.floor(nowMs) * MAIL_SEQS_PER_MS);
    const seq = earliest + ((((slot - earliest) % slots) + slots) % slots);
    this.lastSeq = seq;
    return seq;
  }

  /** The mail `from` already left `to` under this message id (a retried send), if any. */
  find(to: string, from: string, messageId: string | number): MailRecord | undefined {
    return this.boxes.get(to)?.items.find((item) => item.from === from && item.messageId === messageId);
  }

  get(to: string, seq: number): MailRecord | undefined {
    return this.boxes.get(to)?.items.find((item) => item.seq === seq);
  }

  /** Whether `to`'s mailbox takes `bytes` more sealed bytes from `from`. */
  admit(to: string, from: string, bytes: number): Admission {
    // An empty mailbox is measured like any other: one mail larger than a share is refused there too.
    const box = this.boxes.get(to);
    const mine = box?.perSender.get(from) ?? NOTHING_HELD;
    const total = box?.total ?? NOTHING_HELD;
    if (mine.messages + 1 > MAILBOX_MESSAGES_PER_SENDER_MAX || mine.bytes + bytes > MAILBOX_BYTES_PER_SENDER_MAX) return 'sender-share-full';
    if (total.messages + 1 > MAILBOX_MESSAGES_PER_RECIPIENT_MAX || total.bytes + bytes > MAILBOX_BYTES_PER_RECIPIENT_MAX) return 'recipient-full';
    return 'ok';
  }

  /** Mail held for `to`, oldest first. */
  held(to: string): readonly MailRecord[] {
    return this.boxes.get(to)?.items ?? [];
  }

  /** Mail between two users, both ways (a friendship ended: it is dropped). */
  between(a: string, b: string): MailRecord[] {
    return [...this.held(a).filter((m) => m.from === b), ...this.held(b).filter((m) => m.from === a)];
  }

  /** Receipts owed to `sender`, oldest first. */
  receiptsFor(sender: string): readonly ReceiptRecord[] {
    return this.receipts.get(sender) ?? [];
  }

  /** The receipt to drop so one more fits for `sender` (the oldest), or null when there is room. */
  receiptToDrop(sender: string): ReceiptRecord | null {
    const held = this.receipts.get(sender);
    return held !== undefined && held.length >= MAIL_RECEIPTS_HELD_PER_USER_MAX ? (held[0] ?? null) : null;
  }

  // ---- handing mail over to an online recipient, a window at a time ----------------------------

  /** The recipient (re)attached or went away: nothing of its mail is in flight any more. */
  resetDelivery(to: string): void {
    this.inFlight.delete(to);
  }

  /** The next mail to push to `to`, oldest first, up to MAIL_DELIVERIES_IN_FLIGHT_MAX not yet acknowledged. */
  nextToDeliver(to: string): MailRecord[] {
    const box = this.boxes.get(to);
    if (box === undefined) return [];
    let flying = this.inFlight.get(to);
    const out: MailRecord[] = [];
    for (const item of box.items) {
      if ((flying?.size ?? 0) >= MAIL_DELIVERIES_IN_FLIGHT_MAX) break;
      if (flying?.has(item.seq) === true) continue;
      flying ??= new Set();
      flying.add(item.seq);
      out.push(item);
    }
    if (flying !== undefined) this.inFlight.set(to, flying);
    return out;
  }

  /** Recipients with mail held: a mailbox emptied is forgotten, so memory follows the mail held, not every user ever mailed. */
  get recipients(): number {
    return this.boxes.size;
  }

  /**
   * `username`'s mail and the receipts owed to it, replaced by what the shared store holds (a
   * cluster node reads them when the user attaches). Mail already handed over and still held stays
   * in flight (not pushed twice); what the store no longer holds is gone from here too.
   */
  replaceHeld(username: string, held: HeldMail): void {
    const flying = this.inFlight.get(username);
    this.boxes.delete(username);
    this.receipts.delete(username);
    for (const record of [...held.mail].sort((a, b) => a.seq - b.seq)) this.apply({ op: 'mail.add', ...record, to: username });
    for (const receipt of [...held.receipts].sort((a, b) => a.seq - b.seq)) this.apply({ op: 'receipt.add', ...receipt, sender: username });
    if (flying === undefined) return;
    const kept = new Set([...flying].filter((seq) => this.get(username, seq) !== undefined));
    if (kept.size === 0) this.inFlight.delete(username);
    else this.inFlight.set(username, kept);
  }

  // ---- kept in step with the store -----------------------------------------------------------

  apply(op: StoreOp): void {
    switch (op.op) {
      case 'mail.add': {
        // Heard twice (read from the store at attach, then its commit over the bus): kept once.
        if (this.get(op.to, op.seq) !== undefined) return;
        const box = this.boxOf(op.to);
        const record: MailRecord = { seq: op.seq, from: op.from, to: op.to, messageId: op.messageId, sealed: op.sealed, sentAtMs: op.sentAtMs };
        box.items.push(record);
        // Oldest first even when another node's older mail arrives after a newer one was read.
        const before = box.items[box.items.length - 2];
        if (before !== undefined && before.seq > record.seq) box.items.sort((a, b) => a.seq - b.seq);
        const bytes = sealedBytes(op.sealed);
        const mine = box.perSender.get(op.from) ?? { messages: 0, bytes: 0 };
        box.perSender.set(op.from, mine);
        mine.messages += 1;
        mine.bytes += bytes;
        box.total.messages += 1;
        box.total.bytes += bytes;
        if (op.seq > this.lastSeq) this.lastSeq = op.seq;
        return;
      }
      case 'mail.remove': {
        const box = this.boxes.get(op.to);
        this.inFlight.get(op.to)?.delete(op.seq);
        if (box === undefined) return;
        const index = box.items.findIndex((item) => item.seq === op.seq);
        if (index < 0) return;
        const [record] = box.items.splice(index, 1);
        if (record === undefined) return;
        const bytes = sealedBytes(record.sealed);
        box.total.messages -= 1;
        box.total.bytes -= bytes;
        const mine = box.perSender.get(record.from);
        if (mine !== undefined) {
          mine.messages -= 1;
          mine.bytes -= bytes;
          if (mine.messages <= 0) box.perSender.delete(record.from);
        }
        if (box.items.length === 0) this.boxes.delete(op.to);
        return;
      }
      case 'receipt.add': {
        if (this.receipts.get(op.sender)?.some((r) => r.seq === op.seq) === true) return;
        const held = this.receipts.get(op.sender) ?? [];
        this.receipts.set(op.sender, held);
        held.push(receiptOf(op));
        if (op.seq > this.lastSeq) this.lastSeq = op.seq;
        return;
      }
      case 'receipt.remove': {
        const held = this.receipts.get(op.sender);
        if (held === undefined) return;
        const index = held.findIndex((r) => r.seq === op.seq);
        if (index >= 0) held.splice(index, 1);
        if (held.length === 0) this.receipts.delete(op.sender);
        return;
      }
      default:
        return;
    }
  }

  private boxOf(to: string): Box {
    let box = this.boxes.get(to);
    if (box === undefined) {
      box = { items: [], total: { messages: 0, bytes: 0 }, perSender: new Map() };
      this.boxes.set(to, box);
    }
    return box;
  }
}
