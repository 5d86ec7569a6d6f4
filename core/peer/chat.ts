/**
 * Chat with each friend, as a pure state machine composed by the peer machine (machine.ts): the
 * messages, acknowledgements, receipts and typing indicators that travel over an open P2P session,
 * and what each of them means for the user (events) and for the history store (records and
 * status marks, see history.ts). The peer machine owns the P2P channels and their streams; it
 * tells this machine when a session with a friend opens and ends, and hands it the chat frames
 * of open sessions. Actions come back as data (never callbacks), like the session broker's.
 *
 * Theory of operation
 * -------------------
 * One chat per friend, in one state (Chat), named for what it waits for:
 *
 *   (none) ─────────────opened──▶ Open
 *   ExpectSession ──────opened──▶ Open (the read receipt it held is sent first)
 *   Open ───────────────ended───▶ (none), or ExpectSession when a read receipt is owed
 *   (none) ──chat.read (no session)──▶ ExpectSession (the receipt waits for the next session)
 *   ExpectSession ──unfriended, or another account logged in──▶ (none) (the receipt goes)
 *
 * CHAT_FRAME_RULES says in which states each chat frame is accepted; a frame for a chat in any
 * other state is a protocol error (a `protocol-error` action; the frame is dropped). The user's
 * commands: chat.send needs Open (else NO_SUCH_PEER); chat.typing needs Open (else it is
 * dropped: a typing indicator is worth nothing later); chat.read is taken in any state.
 *
 * Messages carry ids and are acknowledged (`msg.ack`: chat.sent) in order; the receiver stores each
 * one in its history and says so (`msg.stored`: chat.delivered); when its user has read up to a
 * message and read receipts are on, it says that too (`msg.read`: chat.read). Messages not
 * acknowledged when the session ends are reported MESSAGE_UNDELIVERED and marked failed.
 * Typing indicators go out at most once per CHAT_TYPING_INTERVAL_MS; incoming ones faster than
 * half that are ignored (a friend cannot flood the user with them; half, so a well-behaved sender's
 * indicators that arrive bunched by the network still get through).
 */
import { type ErrorCode } from '../errors.ts';
import { CHATS_WITHOUT_SESSION_MAX, CHAT_TYPING_INTERVAL_MS, CHAT_UNACKED_MESSAGES_MAX, CONTROL_FRAME_BYTES_MAX } from '../limits.ts';
import type { ClientEvent } from './events.ts';
import { type P2pFrame, type P2pFrameOf, SESSION_END_REASONS } from './frames.ts';
import type { HistoryEntry, HistoryMark, MessageId } from './history.ts';

/**
 * The chat.closed reasons (CONTRACTS.md): the bye frame's (`closed`, `offline`, `unfriended`) and
 * `error`, the session's connection dropped or failed without a bye (a friend's program killed,
 * the network cut): the contract's name for it, kept.
 */
export const CHAT_CLOSED_REASONS = [...SESSION_END_REASONS, 'error'] as const;
export type ChatClosedReason = (typeof CHAT_CLOSED_REASONS)[number];
/** The chat.closed reason of a session whose connection ended without a bye. */
export const CONNECTION_FAILED: ChatClosedReason = 'error';

export type Chat =
  /** No session with the friend: waits for one, to send the read receipt it holds. */
  | { readonly state: 'ExpectSession'; readonly friend: string; readonly readOwed: MessageId }
  /**
   * A session is open on streamId: waits for messages and receipts both ways. unacked: ids of
   * messages sent and not yet acknowledged, oldest first. typingSentAtMs / typingHeardAtMs: the
   * last typing indicator sent and taken (null: none yet).
   */
  | {
      readonly state: 'Open';
      readonly friend: string;
      readonly streamId: string;
      readonly unacked: readonly MessageId[];
      readonly typingSentAtMs: number | null;
      readonly typingHeardAtMs: number | null;
    };

export type ChatStateName = Chat['state'];
export type ChatFrame = P2pFrameOf<'msg' | 'msg.ack' | 'msg.stored' | 'msg.read' | 'typing'>;
type ChatFrameType = ChatFrame['type'];

/** In which chat states each chat frame is accepted (the transition table for the friend's side). */
export const CHAT_FRAME_RULES: Readonly<Record<ChatFrameType, readonly ChatStateName[]>> = {
  msg: ['Open'],
  'msg.ack': ['Open'],
  'msg.stored': ['Open'],
  'msg.read': ['Open'],
  typing: ['Open'],
};

export function isChatFrame(frame: P2pFrame): frame is ChatFrame {
  return frame.type in CHAT_FRAME_RULES;
}

/** A history record as the chat knows it: the composition adds `from` (it knows the account). */
export type ChatRecord = Omit<HistoryEntry, 'from'>;

export type ChatAction =
  | { readonly type: 'send'; readonly streamId: string; readonly frame: P2pFrame }
  | { readonly type: 'event'; readonly event: ClientEvent }
  | { readonly type: 'error'; readonly code: ErrorCode; readonly detail?: string; readonly username: string; readonly id?: MessageId }
  /** Append to history; confirm: tell the chat (stored) once it is in, so the sender hears msg.stored. */
  | { readonly type: 'record'; readonly entry: ChatRecord; readonly confirm: boolean }
  | { readonly type: 'mark'; readonly mark: HistoryMark }
  | { readonly type: 'protocol-error'; readonly friend: string; readonly frameType: string; readonly state: ChatStateName | 'none' };

export interface ChatOptions {
  /** Prefix of generated message ids, distinct per client run. */
  readonly idPrefix: string;
  /** Send read receipts (msg.read) when the user reads; off: chat.read only marks our own history. */
  readonly readReceipts: boolean;
}

const utf8 = new TextEncoder();
/** Room left in a control frame for the fields around a chat text. */
const FRAME_ENVELOPE_BYTES = 256;

export class ChatMachine {
  private readonly chats = new Map<string, Chat>();
  private actions: ChatAction[] = [];
  private nextMessageSeq = 1;

  constructor(private readonly options: ChatOptions) {}

  // ---- views ----------------------------------------------------------------------------------

  stateOf(friend: string): ChatStateName | null {
    return this.chats.get(friend)?.state ?? null;
  }

  isOpen(friend: string): boolean {
    return this.chats.get(friend)?.state === 'Open';
  }

  /** Messages sent to `friend` on the open session and not yet acknowledged. */
  unackedCount(friend: string): number {
    const chat = this.chats.get(friend);
    return chat?.state === 'Open' ? chat.unacked.length : 0;
  }

  takeActions(): ChatAction[] {
    const actions = this.actions;
    this.actions = [];
    return actions;
  }

  // ---- the session's life (told by the composition) --------------------------------------------

  /** A session with `friend` is open on `streamId` (a newer one replaces the old: ended first). */
  opened(friend: string, streamId: string): void {
    const before = this.chats.get(friend);
    this.chats.delete(friend);
    this.chats.set(friend, { state: 'Open', friend, streamId, unacked: [], typingSentAtMs: null, typingHeardAtMs: null });
    if (before?.state === 'ExpectSession') this.sendFrame(streamId, { type: 'msg.read', id: before.readOwed });
  }

  /**
   * The session with `friend` ended. reason: the chat.closed reason, or null when no chat.closed
   * is due (a newer session took its place). Unacknowledged messages are reported undelivered.
   */
  ended(friend: string, reason: ChatClosedReason | null): void {
    const chat = this.chats.get(friend);
    if (chat?.state !== 'Open') return;
    this.chats.delete(friend);
    for (const id of chat.unacked) {
      this.actions.push({ type: 'error', code: 'MESSAGE_UNDELIVERED', detail: `message ${String(id)} to ${friend}`, username: friend, id });
      this.actions.push({ type: 'mark', mark: { friend, id, direction: 'out', status: 'failed', through: false } });
    }
    if (reason !== null) this.emit({ event: 'chat.closed', username: friend, reason });
  }

  /** `friend` is a friend no more: a read receipt waiting for a session goes (none will open). */
  forget(friend: string): void {
    if (this.chats.get(friend)?.state === 'ExpectSession') this.chats.delete(friend);
  }

  /**
   * Another account logged in on this program: every read receipt waiting for a session goes. It
   * was the last account's, and the next session with that friend would carry it under the new
   * account's name, about a message that account never got.
   */
  forgetReceipts(): void {
    for (const chat of [...this.chats.values()]) if (chat.state === 'ExpectSession') this.chats.delete(chat.friend);
  }

  // ---- the user's commands ----------------------------------------------------------------------

  send(friend: string, text: string, requestedId: MessageId | undefined, nowMs: number): void {
    const chat = this.chats.get(friend);
    if (chat?.state !== 'Open') return this.error('NO_SUCH_PEER', friend, requestedId);
    if (chat.unacked.length >= CHAT_UNACKED_MESSAGES_MAX) return this.error('QUEUE_FULL', friend, requestedId);
    // JSON escaping can grow a text up to six-fold: the frame must still fit a control frame.
    if (utf8.encode(JSON.stringify(text)).byteLength > CONTROL_FRAME_BYTES_MAX - FRAME_ENVELOPE_BYTES) {
      return this.error('BAD_COMMAND', friend, requestedId, 'text too long once encoded');
    }
    const id = requestedId ?? `${this.options.idPrefix}-m${this.nextMessageSeq++}`;
    this.chats.set(friend, { ...chat, unacked: [...chat.unacked, id] });
    this.actions.push({ type: 'record', entry: { friend, id, text, atMs: nowMs, direction: 'out', status: 'sending', kind: 'message' }, confirm: false });
    this.sendFrame(chat.streamId, { type: 'msg', id, text });
  }

  /** The user is typing to `friend`: one indicator per interval, only on an open session. */
  typing(friend: string, nowMs: number): void {
    const chat = this.chats.get(friend);
    if (chat?.state !== 'Open') return;
    if (chat.typingSentAtMs !== null && nowMs - chat.typingSentAtMs < CHAT_TYPING_INTERVAL_MS) return;
    this.chats.set(friend, { ...chat, typingSentAtMs: nowMs });
    this.sendFrame(chat.streamId, { type: 'typing' });
  }

  /** The user read `friend`'s messages up to `id`: marked in history, and told to the friend when receipts are on. */
  read(friend: string, id: MessageId): void {
    this.actions.push({ type: 'mark', mark: { friend, id, direction: 'in', status: 'read', through: true } });
    if (!this.options.readReceipts) return;
    const chat = this.chats.get(friend);
    if (chat?.state === 'Open') return this.sendFrame(chat.streamId, { type: 'msg.read', id });
    // No session: the receipt waits for the next one (the newest receipt replaces an older one).
    this.chats.delete(friend);
    this.chats.set(friend, { state: 'ExpectSession', friend, readOwed: id });
    this.forgetOldestWithoutSession();
  }

  /** The history store holds the friend's message `id`: tell the friend (chat.delivered on its side). */
  stored(friend: string, id: MessageId): void {
    const chat = this.chats.get(friend);
    if (chat?.state === 'Open') this.sendFrame(chat.streamId, { type: 'msg.stored', id });
  }

  // ---- the friend's frames ----------------------------------------------------------------------

  /** A chat frame on the session stream `streamId` with `friend`. */
  frame(friend: string, streamId: string, frame: ChatFrame, nowMs: number): void {
    const chat = this.chats.get(friend);
    if (chat === undefined || !CHAT_FRAME_RULES[frame.type].includes(chat.state)) {
      this.actions.push({ type: 'protocol-error', friend, frameType: frame.type, state: chat?.state ?? 'none' });
      return;
    }
    if (chat.state !== 'Open' || chat.streamId !== streamId) return; // an older stream's late frame
    switch (frame.type) {
      case 'msg':
        this.sendFrame(streamId, { type: 'msg.ack', id: frame.id });
        this.actions.push({ type: 'record', entry: { friend, id: frame.id, text: frame.text, atMs: nowMs, direction: 'in', status: 'received', kind: 'message' }, confirm: true });
        return this.emit({ event: 'chat.message', from: friend, text: frame.text, id: frame.id });
      case 'msg.ack':
        return this.acknowledged(chat, frame.id);
      case 'msg.stored':
        // The ack travels first on the same stream; a stored without it still means it arrived.
        this.acknowledged(chat, frame.id);
        this.actions.push({ type: 'mark', mark: { friend, id: frame.id, direction: 'out', status: 'delivered', through: false } });
        return this.emit({ event: 'chat.delivered', username: friend, id: frame.id });
      case 'msg.read':
        this.actions.push({ type: 'mark', mark: { friend, id: frame.id, direction: 'out', status: 'read', through: true } });
        return this.emit({ event: 'chat.read', username: friend, id: frame.id });
      case 'typing':
        if (chat.typingHeardAtMs !== null && nowMs - chat.typingHeardAtMs < CHAT_TYPING_INTERVAL_MS / 2) return;
        this.chats.set(friend, { ...chat, typingHeardAtMs: nowMs });
        return this.emit({ event: 'chat.typing', from: friend });
    }
  }

  // ---- helpers ----------------------------------------------------------------------------------

  /** `chat`: the friend's open chat as frame() just read it (nothing has changed it since). */
  private acknowledged(chat: Extract<Chat, { state: 'Open' }>, id: MessageId): void {
    const index = chat.unacked.indexOf(id);
    if (index < 0) return;
    this.chats.set(chat.friend, { ...chat, unacked: chat.unacked.filter((_, i) => i !== index) });
    this.actions.push({ type: 'mark', mark: { friend: chat.friend, id, direction: 'out', status: 'sent', through: false } });
    this.emit({ event: 'chat.sent', username: chat.friend, id });
  }

  private forgetOldestWithoutSession(): void {
    let waiting = 0;
    for (const chat of this.chats.values()) if (chat.state === 'ExpectSession') waiting += 1;
    if (waiting <= CHATS_WITHOUT_SESSION_MAX) return;
    for (const chat of this.chats.values()) {
      if (chat.state !== 'ExpectSession') continue;
      this.chats.delete(chat.friend);
      return;
    }
  }

  private sendFrame(streamId: string, frame: P2pFrame): void {
    this.actions.push({ type: 'send', streamId, frame });
  }

  private emit(event: ClientEvent): void {
    this.actions.push({ type: 'event', event });
  }

  private error(code: ErrorCode, username: string, id: MessageId | undefined, detail?: string): void {
    this.actions.push({ type: 'error', code, username, ...(id === undefined ? {} : { id }), ...(detail === undefined ? {} : { detail }) });
  }
}
