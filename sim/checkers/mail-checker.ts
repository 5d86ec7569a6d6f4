/**
 * The mail-exactly-once checker: every offline message the server said it holds (chat.queued) is
 * shown to its recipient (chat.message with `offline: true`) exactly once, in the order its sender
 * sent it, once the recipient is back, across server crashes and restarts.
 *
 * - A message shown twice to one run of the recipient's program, or shown after a later message
 *   of the same sender, is a violation at once. (A recipient whose process crashed may be shown
 *   again what it had not acknowledged: the mailbox hands over until acknowledged; that is
 *   counted as mail_repeated_after_crash, not a violation.)
 * - A message shown that its sender never sent is a violation.
 * - At the end of the healed phase, every message held (queued) for a recipient who is online by
 *   then must have been shown. A message whose sender never heard chat.queued (the link dropped
 *   first) may or may not have been held; it is judged only if it was shown.
 */
export type MailViolation = (detail: string) => void;

interface Sent {
  /** Position in its sender's sends to that recipient. */
  readonly index: number;
  queued: boolean;
  /** The recipient program runs (incarnations) that showed it. */
  shownIn: number[];
}

export class MailChecker {
  /** "from\0to" → message id → what is known of it. */
  private readonly pairs = new Map<string, Map<string, Sent>>();
  /** "from\0to\0incarnation" → the index of the last message shown. */
  private readonly lastShown = new Map<string, number>();
  private sentCount = 0;
  queued = 0;
  shown = 0;
  repeatedAfterCrash = 0;

  constructor(private readonly violate: MailViolation) {}

  /** The sender gave chat.send for an offline message (before any answer). */
  onSent(from: string, to: string, id: string): void {
    const pair = this.pair(from, to);
    if (!pair.has(id)) pair.set(id, { index: this.sentCount++, queued: false, shownIn: [] });
  }

  /** The sender heard chat.queued: the server holds it. */
  onQueued(from: string, to: string, id: string): void {
    const sent = this.pairs.get(`${from}\u0000${to}`)?.get(id);
    if (sent === undefined) return this.violate(`${from} was told the server holds message ${id} for ${to}, which it never sent`);
    if (!sent.queued) this.queued += 1;
    sent.queued = true;
  }

  /** The recipient (in its `incarnation`-th program run) was shown an offline message. */
  onShown(to: string, from: string, id: string, incarnation: number): void {
    this.shown += 1;
    const sent = this.pairs.get(`${from}\u0000${to}`)?.get(id);
    if (sent === undefined) return this.violate(`${to} was shown offline message ${id} from ${from}, which ${from} never sent`);
    if (sent.shownIn.includes(incarnation)) return this.violate(`${to} was shown offline message ${id} from ${from} twice`);
    if (sent.shownIn.length > 0) this.repeatedAfterCrash += 1;
    sent.shownIn.push(incarnation);
    const key = `${from}\u0000${to}\u0000${incarnation}`;
    const last = this.lastShown.get(key);
    if (last !== undefined && sent.index < last) this.violate(`${to} was shown offline message ${id} from ${from} after a later one: out of order`);
    this.lastShown.set(key, Math.max(last ?? -1, sent.index));
  }

  /** The end of the healed phase: messages held for recipients that are online must all have been shown. */
  checkAtEnd(isOnline: (username: string) => boolean): void {
    const missing: string[] = [];
    let missingCount = 0;
    for (const [key, messages] of this.pairs) {
      const [from = '', to = ''] = key.split('\u0000');
      if (!isOnline(to)) continue;
      for (const [id, sent] of messages) {
        if (!sent.queued || sent.shownIn.length > 0) continue;
        missingCount += 1;
        if (missing.length < 10) missing.push(`${from}→${to} ${id}`);
      }
    }
    if (missingCount > 0) this.violate(`${missingCount} offline messages held by the server were never shown to their online recipient: ${missing.join(', ')}`);
  }

  private pair(from: string, to: string): Map<string, Sent> {
    const key = `${from}\u0000${to}`;
    let pair = this.pairs.get(key);
    if (pair === undefined) {
      pair = new Map();
      this.pairs.set(key, pair);
    }
    return pair;
  }
}
