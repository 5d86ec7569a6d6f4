/**
 * What the user asks of the peer machine: the commands of the headless client contract
 * (docs/CLIENT.md), validated with zod. Unknown names and malformed fields become `error`
 * events (UNKNOWN_COMMAND, BAD_COMMAND), never exceptions.
 *
 * `file.send` names paths; the runtime measures each file (its size, no read of its bytes) and
 * hands the machine a `file.send` with `files` (PreparedFile), because that is I/O. The SHA-256 is
 * computed later, by the file port, while the bytes are read to be sent.
 */
import { z } from 'zod';
import { HISTORY_PAGE_MESSAGES_MAX, HISTORY_SEARCH_CHARS_MAX, NICKNAME_CHARS_MAX, PASSWORD_CHARS_MAX, TEXT_MESSAGE_CHARS_MAX, USERNAME_CHARS_MAX } from '../limits.ts';
import { FILES_PER_OFFER_MAX } from '../limits.ts';

const username = z.string().min(1).max(USERNAME_CHARS_MAX * 4);
const password = z.string().min(1).max(PASSWORD_CHARS_MAX * 4);
const transferId = z.string().min(1).max(64);
const messageId = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);

export const userCommandSchema = z.discriminatedUnion('cmd', [
  z.object({ cmd: z.literal('signup'), username, password, nickname: z.string().max(256).optional() }),
  z.object({ cmd: z.literal('login'), username, password }),
  z.object({ cmd: z.literal('logout') }),
  z.object({ cmd: z.literal('friends') }),
  z.object({ cmd: z.literal('friend.request'), username }),
  z.object({ cmd: z.literal('friend.accept'), username }),
  z.object({ cmd: z.literal('friend.decline'), username }),
  /** Additions (docs/CLIENT.md): end a friendship or withdraw a request; block and unblock a user. */
  z.object({ cmd: z.literal('friend.remove'), username }),
  z.object({ cmd: z.literal('friend.block'), username }),
  z.object({ cmd: z.literal('friend.unblock'), username }),
  z.object({ cmd: z.literal('chat.open'), username }),
  z.object({ cmd: z.literal('chat.answer'), username, accept: z.boolean() }),
  /** id (addition): the caller's own message id, echoed in chat.sent; generated when absent. */
  z.object({
    cmd: z.literal('chat.send'),
    username,
    text: z.string().max(TEXT_MESSAGE_CHARS_MAX),
    id: messageId.optional(),
  }),
  z.object({ cmd: z.literal('chat.close'), username }),
  /** The user is typing to the friend (rate-limited; nothing answers it). */
  z.object({ cmd: z.literal('chat.typing'), username }),
  /** The user read the friend's messages up to `id` (told to the friend unless read receipts are off). */
  z.object({ cmd: z.literal('chat.read'), username, id: messageId }),
  /** Stored messages with a friend, oldest first: up to `limit`, older than message `before`. */
  z.object({ cmd: z.literal('history'), username, limit: z.number().int().min(1).max(HISTORY_PAGE_MESSAGES_MAX).optional(), before: messageId.optional() }),
  /** Stored messages whose text contains `text` (case-insensitive), with one friend or all, newest first. */
  z.object({ cmd: z.literal('history.search'), text: z.string().min(1).max(HISTORY_SEARCH_CHARS_MAX), username: username.optional() }),
  z.object({ cmd: z.literal('file.send'), username, paths: z.array(z.string().min(1).max(4096)).min(1).max(FILES_PER_OFFER_MAX) }),
  z.object({ cmd: z.literal('file.answer'), transferId, accept: z.boolean() }),
  z.object({ cmd: z.literal('file.cancel'), transferId }),
  /** Additions (docs/CLIENT.md): change the password (the old one required) or the nickname. */
  z.object({ cmd: z.literal('account.password'), old: password, new: password }),
  z.object({ cmd: z.literal('account.nickname'), nickname: z.string().max(NICKNAME_CHARS_MAX * 4) }),
  z.object({ cmd: z.literal('quit') }),
  /** A safety number: of this account's keys, or (username) the one shared with that friend. Answered by the cli runtime. */
  z.object({ cmd: z.literal('fingerprint'), username: username.optional() }),
]);

export type UserCommand = z.infer<typeof userCommandSchema>;
export type UserCommandName = UserCommand['cmd'];
export const USER_COMMAND_NAMES: ReadonlySet<string> = new Set(userCommandSchema.options.map((o) => o.shape.cmd.value));

/** A file the runtime has measured, ready to offer. */
export interface PreparedFile {
  readonly path: string;
  readonly name: string;
  readonly size: number;
}

/** What the machine takes: the user's commands, with file.send already prepared. */
export type PeerCommand =
  | Exclude<UserCommand, { cmd: 'file.send' | 'fingerprint' }>
  | { readonly cmd: 'file.send'; readonly username: string; readonly files: readonly PreparedFile[] };

/**
 * `id` on any command (docs/CLIENT.md): the script's tag, given back as `ref` on every
 * event that answers the command. On chat.send it is also the message id.
 */
export type CommandRef = string | number;
const commandRefSchema = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);

export type ParsedCommand =
  | { readonly ok: true; readonly command: UserCommand; readonly ref?: CommandRef }
  | { readonly ok: false; readonly code: 'BAD_COMMAND' | 'UNKNOWN_COMMAND'; readonly message: string; readonly ref?: CommandRef };

/** Parses one input line. Never throws. */
export function parseCommandLine(line: string): ParsedCommand {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, code: 'BAD_COMMAND', message: 'line is not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, code: 'BAD_COMMAND', message: 'line is not a JSON object' };
  }
  const rawRef = (value as { id?: unknown }).id;
  const refParsed = rawRef === undefined ? undefined : commandRefSchema.safeParse(rawRef);
  if (refParsed !== undefined && !refParsed.success) return { ok: false, code: 'BAD_COMMAND', message: 'id: a string of 1 to 64 characters, or a non-negative integer' };
  const withRef = refParsed === undefined ? {} : { ref: refParsed.data };
  const name = (value as { cmd?: unknown }).cmd;
  if (typeof name !== 'string') return { ok: false, code: 'BAD_COMMAND', message: 'missing "cmd"', ...withRef };
  if (!USER_COMMAND_NAMES.has(name)) {
    return { ok: false, code: 'UNKNOWN_COMMAND', message: `unknown command "${name.slice(0, 64)}"`, ...withRef };
  }
  const parsed = userCommandSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, code: 'BAD_COMMAND', message: issue === undefined ? 'invalid' : `${issue.path.join('.')}: ${issue.message}`, ...withRef };
  }
  return { ok: true, command: parsed.data, ...withRef };
}
