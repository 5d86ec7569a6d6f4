/**
 * The one registry of error codes. Every error frame, `error` event, log line and doc uses these.
 * A code never changes meaning once shipped; add new ones at the end of their group.
 *
 * `closes` says whether the server closes the offending connection after sending the error:
 * only for input that leaves the byte stream unusable or that looks hostile.
 */
export const ERRORS = {
  // Framing: the byte stream itself is wrong. The stream cannot be trusted after these.
  BAD_VERSION: { message: 'unsupported protocol version', closes: true },
  BAD_FRAME_KIND: { message: 'unknown frame kind', closes: true },
  FRAME_TOO_LARGE: { message: 'frame exceeds the size limit', closes: true },
  BAD_JSON: { message: 'control frame is not valid UTF-8 JSON', closes: true },
  // Messages: well framed, but not a valid request. The stream stays usable.
  BAD_FRAME: { message: 'frame does not match its schema', closes: false },
  UNKNOWN_TYPE: { message: 'unknown frame type', closes: false },
  UNEXPECTED_DATA: { message: 'binary data frame not expected here', closes: false },
  NOT_LOGGED_IN: { message: 'log in first', closes: false },
  ALREADY_LOGGED_IN: { message: 'this connection is already logged in', closes: false },
  BUSY: { message: 'busy: an earlier request on this connection or the server password checks are still running; retry shortly', closes: false },
  UNEXPECTED_FRAME: { message: 'the server sent a frame not allowed in the link state', closes: false },
  // Accounts.
  USERNAME_INVALID: { message: 'username must be 3-32 characters: a-z, 0-9, dot, dash, underscore', closes: false },
  PASSWORD_INVALID: { message: 'password must be 8-128 printable characters', closes: false },
  NICKNAME_INVALID: { message: 'nickname must be 1-64 characters with something visible: no spaces at either end, no control, text-direction or line-break characters', closes: false },
  USERNAME_TAKEN: { message: 'username is already taken', closes: false },
  BAD_CREDENTIALS: { message: 'wrong username or password', closes: false },
  BAD_RESUME_TOKEN: { message: 'resume token is unknown or expired; log in with the password', closes: false },
  RATE_LIMITED: { message: 'too many attempts; wait and retry', closes: false },
  LOGGED_IN_ELSEWHERE: { message: 'this account logged in on another connection', closes: true },
  HEARTBEAT_TIMEOUT: { message: 'no heartbeat within the TTL: logged out', closes: false },
  // Friends.
  USER_NOT_FOUND: { message: 'no such user', closes: false },
  SELF_REQUEST: { message: 'you cannot befriend yourself', closes: false },
  ALREADY_FRIENDS: { message: 'already friends', closes: false },
  ALREADY_REQUESTED: { message: 'a friend request is already pending', closes: false },
  NO_SUCH_REQUEST: { message: 'no pending friend request from that user', closes: false },
  NOT_FRIENDS: { message: 'not friends with that user', closes: false },
  FRIENDS_LIMIT: { message: 'friend list is full', closes: false },
  REQUESTS_LIMIT: { message: 'too many pending requests', closes: false },
  DECLINED_RECENTLY: { message: 'that user declined your request recently; try again later', closes: false },
  BLOCKS_LIMIT: { message: 'block list is full', closes: false },
  /** To the blocker only: a block stays silent to the blocked user (friend.block). */
  BLOCKED: { message: 'you blocked that user; unblock them first', closes: false },
  // Sessions.
  PEER_OFFLINE: { message: 'that user is offline', closes: false },
  NO_SUCH_SESSION_REQUEST: { message: 'no such pending session request', closes: false },
  SESSION_PENDING: { message: 'a session request to that user is already pending', closes: false },
  // Server lifecycle and resources.
  UNAUTHENTICATED_TIMEOUT: { message: 'no login before the idle limit', closes: true },
  SERVER_SHUTTING_DOWN: { message: 'the server is shutting down', closes: true },
  SERVER_DEGRADED: { message: 'this server lost its shared database or bus: try another server or retry shortly', closes: false },
  SERVER_FULL: { message: 'the server holds its maximum number of connections', closes: true },
  TOO_MANY_CONNECTIONS: { message: 'too many connections from this address', closes: true },
  SLOW_CONSUMER: { message: 'the connection could not keep up with its send queue', closes: true },
  INTERNAL: { message: 'internal server error', closes: false },
  // Peer to peer (the P2P channel and file transfer).
  BAD_SESSION_TOKEN: { message: 'session token is unknown, used or for another user', closes: true },
  PEER_KEY_MISMATCH: { message: "the peer's identity key is not the one the server vouched for", closes: true },
  NO_SUCH_PEER: { message: 'no open session with that user', closes: false },
  NO_SUCH_TRANSFER: { message: 'no such transfer', closes: false },
  FILE_TOO_LARGE: { message: 'file exceeds the size limit', closes: false },
  FILE_NOT_FOUND: { message: 'file not found or unreadable', closes: false },
  HASH_MISMATCH: { message: 'received bytes do not match the offered SHA-256', closes: false },
  TRANSFER_CANCELLED: { message: 'transfer cancelled', closes: false },
  BAD_COMMAND: { message: 'command is not valid JSON or lacks required fields', closes: false },
  UNKNOWN_COMMAND: { message: 'unknown command', closes: false },
  SERVER_UNAVAILABLE: { message: 'not connected to the server; retrying', closes: false },
  QUEUE_FULL: { message: 'too many messages or transfers waiting', closes: false },
  MESSAGE_UNDELIVERED: { message: 'the peer connection closed before the message was acknowledged', closes: false },
  PEER_ERROR: { message: 'a peer reported an error (its code and words are in the detail, never one of our codes)', closes: false },
  HISTORY_UNAVAILABLE: { message: 'the history store is not available or failed on that query', closes: false },
  /**
   * The caller's hello brought a token the callee did issue, but too late: it expired unused
   * (P2P_HELLO_TIMEOUT_MS). Not an attack and not a bug, so not BAD_SESSION_TOKEN: ask again.
   */
  SESSION_TOKEN_EXPIRED: { message: 'session token expired before the hello came; ask for a new session', closes: true },
  // Offline messages (the server's mailbox of sealed messages).
  MAILBOX_FULL: { message: "the friend's mailbox holds all it may from you; retry once they have read some", closes: false },
  PEER_KEY_UNKNOWN: { message: "that friend's identity key is not known, so nothing can be sealed for them", closes: false },
  MAIL_UNREADABLE: { message: 'an offline message did not open with our identity key, or was not what the server said it was; it was dropped', closes: false },
  MESSAGE_TOO_LONG: { message: 'the text is too long for an offline message (it fits only in an open chat session)', closes: false },
  /**
   * The server holds another offline message of ours for that friend under this message id: this
   * one was not kept. A resend of the same sealed box (the client keeps the box of a send whose
   * answer the link lost) is that message again, answered mail.queued; another box is not.
   */
  MESSAGE_ID_TAKEN: { message: 'the server holds another offline message of yours for that friend under this id; this one was not kept: send it under a new id', closes: false },
} as const satisfies Record<string, { message: string; closes: boolean }>;

export type ErrorCode = keyof typeof ERRORS;

export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERRORS, value);
}

export function errorMessage(code: ErrorCode): string {
  return ERRORS[code].message;
}

export function errorCloses(code: ErrorCode): boolean {
  return ERRORS[code].closes;
}

/**
 * A local error: our own misuse of an API (a bug). Thrown loudly, never sent to a peer.
 * Remote errors (a peer misbehaved) are never thrown: they become error frames.
 */
export class ProtocolBug extends Error {
  override readonly name = 'ProtocolBug';
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new ProtocolBug(message);
}
