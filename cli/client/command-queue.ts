/**
 * The headless client's command queue (docs/CLIENT.md): commands given before `ready`, or
 * several at once (a pasted block), wait here and run in order, one at a time where the protocol
 * needs it, so none is refused with BUSY or SERVER_UNAVAILABLE for arriving early or together.
 * It also gives each answer the `ref` of the command it answers.
 *
 * Lanes. Each command waits for some lanes to be free, and some commands hold a lane while they
 * run:
 * - `server`: the account commands (signup, login, logout, friends, friend.*, account.*) hold it until the
 *   server's reply: the server hashes one password per connection at a time (BUSY otherwise), and
 *   what follows a login needs the login done. Every command that talks to the server waits for
 *   it, and for a server connection being made at that moment (a request would fail now, not in
 *   a moment).
 * - `friend:NAME`: chat.open holds it until chat.opened or chat.failed, file.send until its files
 *   are measured and offered; chat.send, file.send, chat.close and chat.open to that friend wait
 *   for it, so a pasted "open, send" sends into the opened session.
 * A command never overtakes an earlier waiting one to the same friend, and an account command never
 * overtakes an earlier one that talks to the server (a logout before a chat.open); quit waits until
 * everything before it has run and holds no lane, and the messages and transfers our commands
 * started have been acknowledged or ended (a pasted "open, send, send a file, quit" delivers both
 * first). Lanes held
 * longer than COMMAND_ANSWER_WAIT_MS (a server that never answers) are let go.
 *
 * Refs. Each dispatched command gets a tag; the peer machine puts the tag on every event emitted
 * while it handles the command or the server's reply to it (see PeerInput `command`). Answers that
 * arrive later over P2P are matched here by key: chat.opened/chat.failed by friend (chat.open,
 * chat.answer), chat.sent and MESSAGE_UNDELIVERED by message id (chat.send's `id`), file.sent,
 * file.received and file.failed by transfer id (file.send's offers, file.answer, file.cancel).
 *
 * Pure: no clock (time comes in), no I/O; the runtime carries the commands out.
 */
import type { CommandRef, UserCommand } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import { dropOldestPast } from '../../core/bounded.ts';

/** Commands waiting at once; more are refused (QUEUE_FULL), so a runaway writer cannot grow memory. */
export const COMMANDS_QUEUED_MAX = 1024;
/**
 * Longest a command holds its lane waiting for an answer. The machine answers every request (a
 * reply, an error, or SERVER_UNAVAILABLE when the link drops; account.password once the link has
 * taken the login back and knows whether the change happened; chat.open within the server's
 * session timeout), so this only frees the queue behind a server that went silent while we were
 * not logged in (no heartbeat notices it then).
 */
export const COMMAND_ANSWER_WAIT_MS = 60_000;
/** Refs remembered for answers still to come (tags, message ids, transfer ids), oldest dropped first. */
export const COMMAND_REFS_REMEMBERED_MAX = 4096;

/** What the queue asks of the client it feeds. */
export interface CommandQueuePort {
  /** Runs a command with its tag; a promise when it completes later (file.send reads its files first). */
  run(command: UserCommand, tag: number): void | Promise<void>;
  /** Prints an error for a line that was refused before it could run. */
  refuse(code: string, message: string, ref: CommandRef | undefined): void;
  /** A server connection is being made now: server commands wait for it. */
  serverLinkComing(): boolean;
  /** The time, for a command that completes later. */
  nowMs(): number;
}

type Entry =
  | { readonly kind: 'command'; readonly command: UserCommand; readonly ref: CommandRef | undefined }
  | { readonly kind: 'refused'; readonly code: string; readonly message: string; readonly ref: CommandRef | undefined };

/** A lane held by a running command, and what frees it. */
interface Hold {
  readonly tag: number;
  /** reply: any event with its tag (a server request); session: the chat.open's outcome; offered: file.send handed its files over. */
  readonly until: 'reply' | 'session' | 'offered';
  readonly sinceMs: number;
}

const SERVER_LANE = 'server';
/** The commands that hold the server lane until answered. */
const ACCOUNT_COMMANDS: ReadonlySet<string> = new Set([
  'signup',
  'login',
  'logout',
  'friends',
  'friend.request',
  'friend.accept',
  'friend.decline',
  'friend.remove',
  'friend.block',
  'friend.unblock',
  'account.password',
  'account.nickname',
]);
const SERVERLESS_COMMANDS: ReadonlySet<string> = new Set(['test.cut-p2p']);
const FRIEND_ORDERED_COMMANDS: ReadonlySet<string> = new Set(['chat.open', 'chat.send', 'chat.close', 'chat.typing', 'chat.read', 'file.send']);

/** Errors that end a sent message's way (it counts as underway until one of these or an ack). */
const MESSAGE_FATE_ERRORS: ReadonlySet<string> = new Set(['MESSAGE_UNDELIVERED', 'MAILBOX_FULL', 'BLOCKED', 'NOT_FRIENDS', 'SERVER_UNAVAILABLE', 'PEER_KEY_UNKNOWN']);

function friendLane(username: string): string {
  return `friend:${username}`;
}

/** The lanes a command waits for, and the one it holds while it runs (if any). */
function lanesOf(command: UserCommand): { readonly waits: readonly string[]; readonly holds: string | null } {
  const waits: string[] = [];
  if (!SERVERLESS_COMMANDS.has(command.cmd)) waits.push(SERVER_LANE);
  if (FRIEND_ORDERED_COMMANDS.has(command.cmd) && 'username' in command && command.username !== undefined) waits.push(friendLane(command.username));
  if (ACCOUNT_COMMANDS.has(command.cmd)) return { waits, holds: SERVER_LANE };
  if ((command.cmd === 'chat.open' || command.cmd === 'file.send') && 'username' in command) return { waits, holds: friendLane(command.username) };
  return { waits, holds: null };
}

/** A map that forgets its oldest keys beyond a bound. */
class BoundedMap<K, V> extends Map<K, V> {
  override set(key: K, value: V): this {
    this.delete(key);
    super.set(key, value);
    dropOldestPast(this, COMMAND_REFS_REMEMBERED_MAX);
    return this;
  }
}

export class CommandQueue {
  private ready = false;
  private readonly waiting: Entry[] = [];
  private readonly held = new Map<string, Hold>();
  private nextTag = 1;
  private pumping = false;
  /** Tag → the script's ref, for commands that had one. */
  private readonly refsByTag = new BoundedMap<number, CommandRef>();
  /**
   * Keyed answers still to come. A chat.open and an accepting chat.answer with the same friend
   * are two requests (one each way) that may be pending at once: kept apart, and told apart by
   * chat.failed's `incoming`.
   */
  private readonly refsByChatOpen = new BoundedMap<string, CommandRef>();
  private readonly refsByChatAnswer = new BoundedMap<string, CommandRef>();
  private readonly refsByMessage = new BoundedMap<string | number, CommandRef>();
  private readonly refsByTransfer = new BoundedMap<string, CommandRef>();
  /** Transfers our commands started (file.send's offers, accepted file.answer) that have not ended: quit waits for them. */
  private readonly transfersUnderway = new BoundedMap<string, true>();
  /** Messages our chat.sends put on the way, per friend, not yet acknowledged or reported undelivered: quit waits for them. */
  private readonly messagesUnderway = new BoundedMap<string, number>();
  /** The tag of the command running now, and whether it was refused at once (an error while it ran). */
  private runningTag: number | null = null;
  private runningRefused = false;
  /**
   * Since when a quit at the head has waited for messages and transfers with no news of them
   * (an ack, progress, an end): after COMMAND_ANSWER_WAIT_MS of silence (a peer that hung) it goes.
   */
  private drainQuietSinceMs: number | null = null;

  constructor(private readonly port: CommandQueuePort) {}

  /** A command line arrived (parsed, or refused with an error to print in its turn). */
  push(entry: Entry, nowMs: number): void {
    if (this.waiting.length >= COMMANDS_QUEUED_MAX) {
      this.port.refuse('QUEUE_FULL', `more than ${COMMANDS_QUEUED_MAX} commands waiting`, entry.ref);
      return;
    }
    this.waiting.push(entry);
    this.pump(nowMs);
  }

  /**
   * An event from the client, with the tag of the command it answers if the machine knew it.
   * Returns the ref to print on it (if any). Call `pump` after printing it, so answers keep their
   * order before the commands they release.
   */
  onEvent(event: ClientEvent, tag: number | undefined): CommandRef | undefined {
    if (event.event === 'ready') this.ready = true;
    if (event.event === 'error' && tag !== undefined && tag === this.runningTag) this.runningRefused = true;
    this.countMessages(event, tag);
    if (this.drainQuietSinceMs !== null && (event.event === 'chat.sent' || event.event.startsWith('file.'))) this.drainQuietSinceMs = this.port.nowMs();
    if (event.event === 'file.offered' && tag !== undefined) this.transfersUnderway.set(event.transferId, true);
    if (event.event === 'file.sent' || event.event === 'file.received' || event.event === 'file.failed') this.transfersUnderway.delete(event.transferId);
    if (tag !== undefined) this.releaseTag(tag, event);
    const byTag = tag === undefined ? undefined : this.refsByTag.get(tag);
    const byKey = this.keyedRef(event, byTag);
    return byTag ?? byKey;
  }

  /** Runs every waiting command whose lanes are free. */
  pump(nowMs: number): void {
    if (this.pumping || !this.ready) return;
    this.pumping = true;
    try {
      this.releaseExpired(nowMs);
      while (this.runNext(nowMs)) {
        // each pass re-reads the lanes: the command just run may have freed or taken some
      }
    } finally {
      this.pumping = false;
    }
  }

  /** When the oldest held lane expires (the runtime pumps then), or null. */
  nextDeadlineMs(): number | null {
    let earliest: number | null = this.drainQuietSinceMs === null ? null : this.drainQuietSinceMs + COMMAND_ANSWER_WAIT_MS;
    for (const hold of this.held.values()) {
      const due = hold.sinceMs + COMMAND_ANSWER_WAIT_MS;
      if (earliest === null || due < earliest) earliest = due;
    }
    return earliest;
  }

  get waitingCount(): number {
    return this.waiting.length;
  }

  private runNext(nowMs: number): boolean {
    const blocked = new Set<string>(this.held.keys());
    if (this.port.serverLinkComing()) blocked.add(SERVER_LANE);
    // An account command never overtakes an earlier command that talks to the server.
    let serverUserWaiting = false;
    for (const [index, entry] of this.waiting.entries()) {
      if (entry.kind === 'refused') {
        this.waiting.splice(index, 1);
        this.port.refuse(entry.code, entry.message, entry.ref);
        return true;
      }
      const lanes = lanesOf(entry.command);
      // quit comes last: after everything before it has run and been answered.
      if (entry.command.cmd === 'quit' && (index > 0 || blocked.size > 0 || this.draining(nowMs))) return false;
      const overtakes = lanes.holds === SERVER_LANE && serverUserWaiting;
      if (overtakes || lanes.waits.some((lane) => blocked.has(lane))) {
        // What waits keeps its place on its lanes: a later command on the same lane waits behind it.
        for (const lane of lanes.waits) if (lane !== SERVER_LANE) blocked.add(lane);
        if (lanes.holds !== null) blocked.add(lanes.holds);
        if (lanes.waits.includes(SERVER_LANE)) serverUserWaiting = true;
        continue;
      }
      this.waiting.splice(index, 1);
      this.start(entry.command, entry.ref, lanes.holds, nowMs);
      return true;
    }
    return false;
  }

  private start(command: UserCommand, ref: CommandRef | undefined, holds: string | null, nowMs: number): void {
    const tag = this.nextTag++;
    if (ref !== undefined) {
      this.refsByTag.set(tag, ref);
      this.rememberKeys(command, ref);
    }
    const until = command.cmd === 'chat.open' ? 'session' : command.cmd === 'file.send' ? 'offered' : 'reply';
    if (holds !== null) this.held.set(holds, { tag, until, sinceMs: nowMs });
    if (command.cmd === 'file.answer' && command.accept) this.transfersUnderway.set(command.transferId, true);
    this.runningTag = tag;
    this.runningRefused = false;
    const done = this.port.run(command, tag);
    this.runningTag = null;
    if (command.cmd === 'chat.send' && !this.runningRefused) this.messagesUnderway.set(command.username, (this.messagesUnderway.get(command.username) ?? 0) + 1);
    if (done === undefined) {
      if (until === 'offered' && holds !== null && this.held.get(holds)?.tag === tag) this.held.delete(holds);
      return;
    }
    void done.then(() => {
      if (holds !== null && this.held.get(holds)?.tag === tag) this.held.delete(holds);
      this.pump(this.port.nowMs());
    });
  }

  private rememberKeys(command: UserCommand, ref: CommandRef): void {
    switch (command.cmd) {
      case 'chat.open':
        this.refsByChatOpen.set(command.username, ref);
        return;
      case 'chat.answer':
        if (command.accept) this.refsByChatAnswer.set(command.username, ref);
        return;
      case 'chat.send':
        if (command.id !== undefined) this.refsByMessage.set(command.id, ref);
        return;
      case 'file.answer':
      case 'file.cancel':
        this.refsByTransfer.set(command.transferId, ref);
        return;
      default:
        return;
    }
  }

  /** An event tagged with a command's tag answers it: the lane it holds (server requests) is free. */
  private releaseTag(tag: number, event: ClientEvent): void {
    for (const [lane, hold] of this.held) {
      if (hold.tag !== tag || hold.until === 'offered') continue;
      // A chat.open holds its friend's lane until the session opens or fails, not on the server's ack.
      if (hold.until === 'session' && event.event !== 'error' && event.event !== 'chat.opened' && event.event !== 'chat.failed') continue;
      this.held.delete(lane);
    }
  }

  /** Refs of answers that come later, by key; also frees a friend's lane when its chat.open ends. */
  private keyedRef(event: ClientEvent, byTag: CommandRef | undefined): CommandRef | undefined {
    switch (event.event) {
      case 'chat.failed':
        // The friend's request to us ended: it answers our yes to it, and our own chat.open to
        // that friend, if one is pending, still waits for its outcome.
        if (event.incoming === true) return this.takeRef(this.refsByChatAnswer, event.username);
        this.releaseChatOpen(event.username);
        return this.takeRef(this.refsByChatOpen, event.username);
      case 'chat.opened': {
        // One session with the friend: it answers whichever of the two asked for it.
        this.releaseChatOpen(event.username);
        return this.takeRef(this.refsByChatOpen, event.username) ?? this.takeRef(this.refsByChatAnswer, event.username);
      }
      case 'chat.sent':
      case 'chat.delivered': {
        const ref = this.refsByMessage.get(event.id);
        this.refsByMessage.delete(event.id);
        return ref;
      }
      case 'chat.queued':
        // Kept for the chat.delivered that follows when the friend takes it.
        return this.refsByMessage.get(event.id);
      case 'error': {
        const id = (event as { id?: unknown }).id;
        if (event.code !== 'MESSAGE_UNDELIVERED' || (typeof id !== 'string' && typeof id !== 'number')) return undefined;
        const ref = this.refsByMessage.get(id);
        this.refsByMessage.delete(id);
        return ref;
      }
      case 'file.offered':
        if (byTag !== undefined) this.refsByTransfer.set(event.transferId, byTag);
        return undefined;
      case 'file.sent':
      case 'file.received':
      case 'file.failed': {
        const ref = this.refsByTransfer.get(event.transferId);
        this.refsByTransfer.delete(event.transferId);
        return ref;
      }
      default:
        return undefined;
    }
  }

  /** True while a quit at the head must still wait for messages or transfers (bounded by silence). */
  private draining(nowMs: number): boolean {
    if (this.transfersUnderway.size === 0 && this.messagesUnderway.size === 0) {
      this.drainQuietSinceMs = null;
      return false;
    }
    if (this.drainQuietSinceMs === null) this.drainQuietSinceMs = nowMs;
    if (nowMs - this.drainQuietSinceMs < COMMAND_ANSWER_WAIT_MS) return true;
    this.drainQuietSinceMs = null;
    return false;
  }

  /**
   * A message's fate: acknowledged, held by the server (chat.queued), reported undelivered or not
   * left with the server, or its session closed (which reports the rest). An error while the
   * chat.send itself runs is a refusal: that message was never counted.
   */
  private countMessages(event: ClientEvent, tag: number | undefined): void {
    let friend: string | null = null;
    if (event.event === 'chat.sent' || event.event === 'chat.queued') friend = event.username;
    else if (event.event === 'error' && MESSAGE_FATE_ERRORS.has(event.code) && (tag === undefined || tag !== this.runningTag)) {
      const username = (event as { username?: unknown }).username;
      friend = typeof username === 'string' ? username : null;
    } else if (event.event === 'chat.closed') {
      this.messagesUnderway.delete(event.username);
      return;
    }
    if (friend === null) return;
    const count = (this.messagesUnderway.get(friend) ?? 0) - 1;
    if (count > 0) this.messagesUnderway.set(friend, count);
    else this.messagesUnderway.delete(friend);
  }

  private takeRef<K>(refs: BoundedMap<K, CommandRef>, key: K): CommandRef | undefined {
    const ref = refs.get(key);
    refs.delete(key);
    return ref;
  }

  private releaseChatOpen(username: string): void {
    const lane = friendLane(username);
    if (this.held.get(lane)?.until === 'session') this.held.delete(lane);
  }

  private releaseExpired(nowMs: number): void {
    for (const [lane, hold] of this.held) {
      if (nowMs - hold.sinceMs >= COMMAND_ANSWER_WAIT_MS) this.held.delete(lane);
    }
  }
}
