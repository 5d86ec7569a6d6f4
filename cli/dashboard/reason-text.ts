/**
 * What the dashboard tells a person for each reason and error code the client reports: one short
 * sentence saying what happened and, where there is one, what to do, with the code itself kept in
 * parentheses at the end, so the user can search for it and quote it in a report.
 *
 * The codes are the headless client's (docs/CLIENT.md, fixed by the contract): `chat.failed`,
 * `chat.closed` and `file.failed` reasons (kebab-case) and `error` codes (UPPER_SNAKE). The JSON
 * lines keep them as they are; only what the dashboard shows changes here.
 *
 * The core exports the set of each reason's values as a type (ErrorCode, TransferFailure,
 * ChatFailedReason, ChatClosedReason) and writes only those, so each table is a Record over its
 * type and a new value without a sentence does not compile. The client's own error codes are
 * listed here (CLIENT_ERROR_CODES); test/cli/dashboard/reason-text.test.ts reads the client's
 * code for UPPER_SNAKE literals, so a new one without a sentence fails there.
 *
 * A code no table knows (a newer server or client) falls back to a neutral sentence with the code,
 * or the event's own message with it; nothing here throws on any string.
 */
import type { ErrorCode } from '../../core/errors.ts';
import type { ChatClosedReason } from '../../core/peer/chat.ts';
import type { ChatFailedReason } from '../../core/peer/events.ts';
import type { TransferFailure } from '../../core/peer/frames.ts';

/** A sentence about one user (`who`: a username or a friend's label), or about none. */
type Said = string | ((who: string) => string);

/** Who an error is about when the event names nobody (capitalised at the start of a sentence). */
const SOMEONE = 'that user';

// ---------------------------------------------------------------------------------------------
// chat.failed: a chat session that did not open, ours to them (mine) or theirs to us (theirs).


interface ChatFailureText {
  /** Our request to them, or the session we were connecting to them. */
  readonly mine: (who: string) => string;
  /** Their request to us (chat.failed with `incoming`); absent: it does not end theirs. */
  readonly theirs?: (who: string) => string;
}

const CHAT_FAILURE_TEXT: Readonly<Record<ChatFailedReason, ChatFailureText>> = {
  // The server's (session.failed to the caller, session.withdrawn to the callee).
  rejected: { mine: (who) => `${who} declined your chat request`, theirs: (who) => `You declined the chat request from ${who}` },
  timeout: {
    mine: (who) => `${who} did not answer your chat request in time: try again later, or just write (the server keeps messages for them)`,
    theirs: (who) => `The chat request from ${who} timed out before it was answered`,
  },
  offline: {
    mine: (who) => `${who} is offline: what you write now waits for them, sealed, at the server`,
    theirs: (who) => `${who} went offline before their chat request was answered`,
  },
  'not-friends': {
    mine: (who) => `${who} is not your friend (any more): send a friend request first`,
    theirs: (who) => `The chat request from ${who} ended: you are not friends any more`,
  },
  cancelled: { mine: (who) => `Your chat request to ${who} was withdrawn`, theirs: (who) => `${who} withdrew their chat request` },
  'rate-limited': { mine: (who) => `Too many chat requests in a short time: wait a minute, then ask ${who} again` },
  'too-many-requests': { mine: (who) => `Too many chat requests are waiting (yours or ${who}'s): try again once some are answered` },
  'already-pending': { mine: (who) => `You asked ${who} for a chat already: wait for their answer` },
  // The client's own.
  unreachable: { mine: (who) => `${who} could not be reached: their client may be behind a firewall or NAT, or just went offline` },
  'server-unavailable': { mine: (who) => `The link to the server dropped before it took your request to ${who}: ask again once reconnected` },
  'logged-out': {
    mine: (who) => `Your login ended before the chat with ${who} could open: log in and ask again`,
    theirs: (who) => `The chat request from ${who} ended with your login`,
  },
  replaced: {
    mine: (who) => `Your chat request to ${who} was replaced by a newer one`,
    theirs: (who) => `${who} asked again: their newer chat request takes the place of this one`,
  },
  'peer-key-mismatch': {
    mine: (who) => `The client at ${who}'s address did not prove ${who}'s identity key, so the chat was refused: compare safety numbers with them another way`,
  },
  'peer-error': { mine: (who) => `${who}'s client refused the connection with an error of its own: try again; if it repeats, one of you may need to update` },
  'bad-frame': { mine: (who) => `${who}'s client did not understand this client's greeting: one of you may need to update` },
  'bad-session-token': { mine: (who) => `${who}'s client refused the session's one-time token: ask for the chat again` },
  'session-token-expired': { mine: (who) => `The session's one-time token expired before ${who}'s client was reached: ask for the chat again` },
};

// ---------------------------------------------------------------------------------------------
// chat.closed: an open session that ended.

const CHAT_CLOSED_TEXT: Readonly<Record<ChatClosedReason, (who: string) => string>> = {
  closed: (who) => `The chat with ${who} was closed`,
  offline: (who) => `The chat with ${who} ended: one of you logged out or lost the server; what you write now waits for them at the server`,
  unfriended: (who) => `The chat with ${who} ended: you are not friends any more`,
  error: (who) => `The connection to ${who} dropped: select them and press Enter to ask for a new chat`,
};

// ---------------------------------------------------------------------------------------------
// file.failed: a transfer that ended without its file.

/** The transfer a file.failed is about, as far as the dashboard knows it. */
export interface TransferContext {
  /** The file's name. */
  readonly file: string;
  /** The friend at the other end (null: not known). */
  readonly peer: string | null;
  /** 'in': we receive it; 'out': we send it; null: not known. */
  readonly direction: 'in' | 'out' | null;
}

interface TransferFailureText {
  /** For the narrow transfers pane; the code follows it when it says something else. */
  readonly short: string;
  readonly sentence: (transfer: TransferContext) => string;
}

const them = (transfer: TransferContext): string => transfer.peer ?? 'the other side';

const TRANSFER_FAILURE_TEXT: Readonly<Record<TransferFailure, TransferFailureText>> = {
  cancelled: { short: 'cancelled', sentence: (t) => `${t.file} was cancelled` },
  declined: {
    short: 'declined',
    sentence: (t) => (t.direction === 'in' ? `You declined ${t.file}` : `${them(t)} declined ${t.file}`),
  },
  'too-large': {
    short: 'too large',
    sentence: (t) => (t.direction === 'in' ? `${t.file} is larger than this client accepts, so it was refused` : `${t.file} is larger than ${them(t)}'s client accepts`),
  },
  'hash-mismatch': { short: 'damaged', sentence: (t) => `${t.file} arrived damaged (its SHA-256 did not match) and was discarded: send it again` },
  'connection-lost': { short: 'link lost', sentence: (t) => `The connection to ${them(t)} dropped before ${t.file} was answered: send it again in a new chat` },
  'session-closed': { short: 'chat closed', sentence: (t) => `${t.file} stopped: the chat with ${them(t)} closed; send it again in a new chat` },
  'io-error': { short: 'disk error', sentence: (t) => `${t.file} could not be read or written on disk: check the path, the free space and the permissions` },
  'protocol-error': { short: 'peer error', sentence: (t) => `${t.file} stopped: ${them(t)}'s client broke the transfer's rules (a bug, or another version)` },
  'no-such-transfer': { short: 'unknown to peer', sentence: (t) => `${t.file} stopped: ${them(t)}'s client no longer knows this transfer; send it again` },
  busy: { short: 'too many', sentence: (t) => `${t.file} was refused: too many transfers under way; send it again once some have finished` },
  'resume-timeout': { short: 'no resume', sentence: (t) => `${t.file} stopped: the connection to ${them(t)} did not come back in time to resume it; send it again` },
  stalled: { short: 'stalled', sentence: (t) => `${t.file} stalled: nothing moved for too long; send it again` },
  unfriended: { short: 'unfriended', sentence: (t) => `${t.file} stopped: you and ${them(t)} are not friends any more` },
};

// ---------------------------------------------------------------------------------------------
// error: the code of an `error` event (the registry in core/errors.ts, and the client's own).

/**
 * Codes the client (cli/client) reports beside the registry's: its identity keys, its pins of
 * servers and friends' keys, and a refused plain-TCP address.
 */
export const CLIENT_ERROR_CODES = ['NO_IDENTITY', 'IDENTITY_FAILED', 'KNOWN_PEERS_FAILED', 'KNOWN_SERVERS_FAILED', 'SERVER_KEY_CHANGED', 'INSECURE_ADDRESS'] as const;
export type ClientErrorCode = (typeof CLIENT_ERROR_CODES)[number];

const ERROR_TEXT: Readonly<Record<ErrorCode | ClientErrorCode, Said>> = {
  // Framing and malformed requests: a bug or a version mismatch, never the user's doing.
  BAD_VERSION: 'The server speaks another protocol version: update p2pchat',
  BAD_FRAME_KIND: 'The server could not read what this client sent: update p2pchat, or report it',
  FRAME_TOO_LARGE: 'Something this client sent was too large for the server',
  BAD_JSON: 'The server could not read what this client sent: report it',
  BAD_FRAME: 'A request was malformed and refused: report it',
  UNKNOWN_TYPE: 'The server does not know that request: it may be older than this client',
  UNEXPECTED_DATA: 'File data came where none was expected: report it',
  NOT_LOGGED_IN: 'You are not logged in: log in first',
  ALREADY_LOGGED_IN: 'You are logged in already',
  BUSY: 'An earlier request is still being answered: try again in a moment',
  UNEXPECTED_FRAME: 'The server sent something this client did not expect: if things look wrong, log out and in again',
  // Accounts.
  USERNAME_INVALID: 'That username will not do: 3 to 32 characters, a-z, 0-9, dot, dash or underscore',
  PASSWORD_INVALID: 'That password will not do: 8 to 128 printable characters',
  NICKNAME_INVALID: 'That nickname will not do: 1 to 64 characters, not blank, no spaces at either end, no control or text-direction characters',
  USERNAME_TAKEN: 'That username is taken: choose another',
  BAD_CREDENTIALS: 'Wrong username or password',
  BAD_RESUME_TOKEN: 'The server no longer knows this login: log in with your password',
  RATE_LIMITED: 'Too many attempts: wait a minute and try again',
  LOGGED_IN_ELSEWHERE: 'This account logged in somewhere else, so this login ended',
  HEARTBEAT_TIMEOUT: 'The server did not hear from this client in time and logged it out: log in again',
  // Friends.
  USER_NOT_FOUND: 'There is no such user: check the spelling',
  SELF_REQUEST: 'You cannot be your own friend',
  ALREADY_FRIENDS: (who) => `You and ${who} are friends already`,
  ALREADY_REQUESTED: (who) => `A friend request between you and ${who} is waiting already`,
  NO_SUCH_REQUEST: 'That friend request is not waiting any more',
  NOT_FRIENDS: (who) => `You and ${who} are not friends: send a friend request first`,
  FRIENDS_LIMIT: 'Your friend list is full: remove someone first',
  REQUESTS_LIMIT: 'Too many friend requests are waiting: wait for some answers',
  DECLINED_RECENTLY: (who) => `${who} declined your friend request recently: try again later`,
  BLOCKS_LIMIT: 'Your block list is full: unblock someone first',
  BLOCKED: (who) => `You blocked ${who}: unblock them first (u)`,
  // Sessions.
  PEER_OFFLINE: (who) => `${who} is offline: what you write waits for them, sealed, at the server`,
  NO_SUCH_SESSION_REQUEST: 'That chat request had already ended',
  SESSION_PENDING: (who) => `You asked ${who} for a chat already: wait for their answer`,
  // The server's life and limits.
  UNAUTHENTICATED_TIMEOUT: 'The server closed the connection: nobody logged in for too long',
  SERVER_SHUTTING_DOWN: 'The server is shutting down: the client reconnects once it is back',
  SERVER_DEGRADED: 'The server lost its database or bus: the client tries again by itself, or use another server',
  SERVER_FULL: 'The server is full: try again later',
  TOO_MANY_CONNECTIONS: 'Too many connections from your address: close some clients and try again',
  SLOW_CONSUMER: 'The connection could not keep up, so the server dropped it: the client reconnects',
  INTERNAL: 'Something went wrong inside the server or the client: try again, and report it if it repeats',
  // Peer to peer.
  BAD_SESSION_TOKEN: (who) => `${who}'s client refused the session's one-time token: ask for the chat again`,
  PEER_KEY_MISMATCH: (who) => `The client at ${who}'s address did not prove the identity key the server knows for them: compare safety numbers with them another way`,
  NO_SUCH_PEER: (who) => `No chat is open with ${who}: select them and press Enter first`,
  NO_SUCH_TRANSFER: 'That transfer is over, or was never there',
  FILE_TOO_LARGE: 'That file is too large to send',
  FILE_NOT_FOUND: 'That file is not there or cannot be read: check the path',
  HASH_MISMATCH: 'A file arrived damaged (its SHA-256 did not match) and was discarded: send it again',
  TRANSFER_CANCELLED: 'The transfer was cancelled',
  BAD_COMMAND: 'The client did not understand a command from the dashboard: report it',
  UNKNOWN_COMMAND: 'The client does not know a command the dashboard sent: update p2pchat',
  SERVER_UNAVAILABLE: 'Not connected to the server: wait until it reconnects, then try again',
  QUEUE_FULL: 'Too much is waiting to go out: try again once some of it has',
  MESSAGE_UNDELIVERED: (who) => `A message to ${who} may not have arrived: the chat closed before they confirmed it`,
  PEER_ERROR: (who) => `${who}'s client reported an error`,
  HISTORY_UNAVAILABLE: 'The chat history could not be read',
  SESSION_TOKEN_EXPIRED: (who) => `The session's one-time token expired before ${who}'s client was reached: ask for the chat again`,
  // Offline messages.
  MAILBOX_FULL: (who) => `The server holds as many of your messages for ${who} as it may: wait until they have read some`,
  PEER_KEY_UNKNOWN: (who) => `${who}'s identity key is not known, so nothing can be sealed for them: wait until they have logged in once`,
  // Said to both ends: the recipient whose client could not open it, and its sender (mail.failed).
  MAIL_UNREADABLE: (who) => `An offline message between you and ${who} could not be opened by its recipient and is gone: it has to be sent again`,
  MESSAGE_TOO_LONG: 'That text is too long for an offline message: send it in an open chat, or in parts',
  MESSAGE_ID_TAKEN: (who) => `The server already holds a message of yours for ${who} under that message id, so this one was not kept: send it again (the dashboard gives each message its own id)`,
  // The client's own.
  NO_IDENTITY: 'This client has no identity keys: check its data directory',
  IDENTITY_FAILED: 'The client could not read its identity keys: check its data directory (the log says more)',
  KNOWN_PEERS_FAILED: "Friends' key changes cannot be checked: the client could not read or write its record of their keys",
  KNOWN_SERVERS_FAILED: 'The client could not read or write its pinned servers, so it did not connect: check its data directory',
  SERVER_KEY_CHANGED:
    "The server's certificate is not the one pinned, so the client refused it: it may be an impostor. If the server really changed its key, start once with --server-fingerprint NEW (docs/CLIENT.md)",
  INSECURE_ADDRESS: 'The client will not talk to a server off this machine without TLS: use TLS, or --allow-insecure if you mean it',
};

/** Codes whose `detail` is what the user needs to act on (which file; which friend said what). */
const DETAIL_SHOWN: ReadonlySet<string> = new Set<ErrorCode>(['FILE_NOT_FOUND', 'PEER_ERROR']);

// ---------------------------------------------------------------------------------------------
// Lookups. Object.hasOwn: a code from another program may be any string ("constructor" too).

function lookup<T>(table: Readonly<Record<string, T>>, code: string): T | undefined {
  return Object.hasOwn(table, code) ? table[code] : undefined;
}

function say(said: Said, who: string | undefined): string {
  if (typeof said === 'string') return said;
  const text = said(who ?? SOMEONE);
  return who === undefined ? capitalise(text) : text;
}

/** Only ever applied to our own placeholder: a username keeps its case. */
function capitalise(text: string): string {
  return text.startsWith(SOMEONE) ? `T${text.slice(1)}` : text;
}

function withCode(sentence: string, code: string): string {
  return `${sentence} (${code})`;
}

/** Whether an error code has a sentence of its own. */
export function hasErrorText(code: string): boolean {
  return lookup(ERROR_TEXT, code) !== undefined;
}

/** Whether a chat.failed reason has a sentence of its own (an error code as reason counts). */
export function hasChatFailedText(reason: string): boolean {
  return lookup(CHAT_FAILURE_TEXT, reason) !== undefined || hasErrorText(reason);
}

export function hasChatClosedText(reason: string): boolean {
  return lookup(CHAT_CLOSED_TEXT, reason) !== undefined;
}

export function hasTransferFailedText(reason: string): boolean {
  return lookup(TRANSFER_FAILURE_TEXT, reason) !== undefined;
}

/**
 * A chat session that did not open. `incoming`: the request was theirs to us. The reason may be
 * an error code too: the server's answer to the request (SESSION_PENDING, SERVER_DEGRADED, ...).
 */
export function chatFailedText(reason: string, who: string, incoming: boolean): string {
  const entry = lookup(CHAT_FAILURE_TEXT, reason);
  if (entry !== undefined) {
    const theirs = entry.theirs;
    if (!incoming) return withCode(entry.mine(who), reason);
    return withCode(theirs === undefined ? `The chat request from ${who} ended` : theirs(who), reason);
  }
  const error = lookup(ERROR_TEXT, reason);
  if (error !== undefined) {
    const sentence = say(error, who);
    const clause = sentence.startsWith(who) ? sentence : lowerFirst(sentence);
    return withCode(incoming ? `The chat request from ${who} ended: ${clause}` : sentence, reason);
  }
  return withCode(incoming ? `The chat request from ${who} ended` : `The chat with ${who} did not open`, reason);
}

/** An open chat session that ended. */
export function chatClosedText(reason: string, who: string): string {
  const sentence = lookup(CHAT_CLOSED_TEXT, reason);
  return withCode(sentence === undefined ? `The chat with ${who} ended` : sentence(who), reason);
}

/** A transfer that ended without its file, as a sentence for the events pane. */
export function transferFailedText(reason: string, transfer: TransferContext): string {
  const entry = lookup(TRANSFER_FAILURE_TEXT, reason);
  return withCode(entry === undefined ? `${transfer.file} failed` : entry.sentence(transfer), reason);
}

/** A transfer's failure in a few words, for the transfers pane: "damaged (hash-mismatch)". */
export function transferFailedShort(reason: string): string {
  const short = lookup(TRANSFER_FAILURE_TEXT, reason)?.short;
  if (short === undefined || short === reason) return reason;
  return withCode(short, reason);
}

/** What an `error` event has to say about the code it carries. */
export interface ErrorReport {
  readonly code: string;
  /** The event's own message: shown only for a code this table does not know. */
  readonly message?: string | undefined;
  readonly detail?: string | undefined;
  /** Who the error is about, as the user knows them. */
  readonly who?: string | undefined;
}

/** An `error` event as a sentence; a code no table knows keeps the event's message, or itself. */
export function errorText(report: ErrorReport): string {
  const said = lookup(ERROR_TEXT, report.code);
  if (said === undefined) return report.message ? withCode(report.message, report.code) : report.code;
  const sentence = say(said, report.who);
  const detail = report.detail !== undefined && report.detail !== '' && DETAIL_SHOWN.has(report.code) ? ` (${report.detail})` : '';
  return withCode(`${sentence}${detail}`, report.code);
}

/** The client process the dashboard drives went away on its own. */
export function clientStoppedText(reason: string, logFile: string | null): string {
  const log = logFile === null ? '' : ` The log (${logFile}) may say why.`;
  return `The client stopped: ${reason}.${log} Press Ctrl-C to leave, then start the dashboard again.`;
}

function lowerFirst(text: string): string {
  return text.length === 0 ? text : `${text.charAt(0).toLowerCase()}${text.slice(1)}`;
}
