/**
 * What the peer machine tells its user: the events of the headless client contract
 * (docs/CLIENT.md), defined once here as zod schemas. The machine emits `ClientEvent` (the type
 * is inferred from the schema, so it cannot emit what the schema does not allow); the runtime adds
 * `at` (ISO time) and prints each as one JSON line; the dashboard (cli/dashboard/client-port.ts),
 * bench (bench/headless-driver.ts) and the tests parse those lines back with `parseEventLine`.
 * Fields beyond the contract are marked as additions.
 *
 * Pure like the rest of core/: zod and JSON.parse only, no I/O.
 */
import { z } from 'zod';
import { type SessionFailure, friendEntrySchema, presenceStatusSchema } from '../frames.ts';
import { identityKeysSchema } from '../identity.ts';
import { HISTORY_STATUSES } from './history.ts';

/**
 * A friend as events show it: username, nickname, online or offline (as the server's frames do),
 * the identity keys the server holds for the friend (addition), and safetyNumber (addition, set by
 * the cli runtime from both accounts' keys: what the two users compare out of band).
 */
const friendViewSchema = friendEntrySchema.extend({ safetyNumber: z.string().optional() });

const username = z.string();
const transferId = z.string();
const byteCount = z.number().int().nonnegative();
const messageId = z.union([z.string(), z.number()]);
const usernames = z.array(z.string()).readonly();
const friendViews = z.array(friendViewSchema).readonly();

/** The single list of event kinds: every event the core can emit is one member. */
export const clientEventSchema = z.discriminatedUnion('event', [
  /** p2pHost, p2pPort (additions): where this client's P2P listener is. */
  z.object({ event: z.literal('ready'), p2pHost: z.string(), p2pPort: z.number().int().nonnegative() }),
  z.object({ event: z.literal('signup.ok'), username }),
  /**
   * detail (addition): set when the client ended the login itself, the server being out of reach
   * (the link dropped before the server's logout.ok, or was down); the server ends it when its TTL
   * passes. Absent when the server answered.
   */
  z.object({ event: z.literal('logout.ok'), detail: z.string().optional() }),
  /**
   * pending: who asked us to be friends (their requests wait for our answer); each also comes as a
   * friend.request right after. Always set by the client; optional in the schema for older lines.
   * nickname (addition): ours.
   */
  z.object({ event: z.literal('login.ok'), username, friends: friendViews, pending: usernames.optional(), nickname: z.string().optional() }),
  z.object({ event: z.literal('friends'), friends: friendViews, pending: usernames }),
  z.object({ event: z.literal('friend.request'), from: username }),
  z.object({ event: z.literal('friend.requested'), username }),
  /** nickname and status (additions): the new friend's, so no presence push is needed to show it. */
  /** identity and safetyNumber (additions): as on a friend view. */
  z.object({
    event: z.literal('friend.added'),
    username,
    nickname: z.string(),
    status: presenceStatusSchema,
    identity: identityKeysSchema.optional(),
    safetyNumber: z.string().optional(),
  }),
  z.object({ event: z.literal('friend.declined'), username }),
  /** Addition: a friendship ended (or an outgoing request was withdrawn). */
  z.object({ event: z.literal('friend.removed'), username }),
  /** Additions: our friend.block / friend.unblock took effect (the other user is never told). */
  z.object({ event: z.literal('friend.blocked'), username }),
  z.object({ event: z.literal('friend.unblocked'), username }),
  /** A friend changed their nickname. */
  /** identity (addition): the friend's new keys, when they changed (a login from a new data dir). */
  z.object({ event: z.literal('friend.updated'), username, nickname: z.string(), identity: identityKeysSchema.optional(), safetyNumber: z.string().optional() }),
  /** Our account changed: answers account.password and account.nickname. */
  z.object({ event: z.literal('account.updated'), username, nickname: z.string() }),
  z.object({ event: z.literal('presence'), username, status: presenceStatusSchema }),
  /** timeoutMs (addition): how long the server waits for our answer (its session timeout), from now. */
  z.object({ event: z.literal('chat.request'), from: username, timeoutMs: z.number().nonnegative() }),
  z.object({ event: z.literal('chat.opened'), username }),
  /**
   * reason (CHAT_CLOSED_REASONS, chat.ts): 'closed' (either side closed it), 'offline' (the
   * friend, or we, logged out or timed out: sessions end with the login), 'unfriended' (either
   * side ended the friendship, addition) or 'error' (its connection dropped or failed without a
   * bye). Read as any string, so a dashboard is not broken by a newer client's reason.
   */
  z.object({ event: z.literal('chat.closed'), username, reason: z.string() }),
  /**
   * incoming (addition): set when the request that failed was the friend's to us (withdrawn, timed
   * out, or ended with a login or the friendship): it answers an accepting chat.answer, never a
   * chat.open. Each direction has its own request, so without it a failure of the friend's request
   * and one of ours to the same friend would read the same.
   */
  z.object({ event: z.literal('chat.failed'), username, reason: z.string(), incoming: z.literal(true).optional() }),
  /**
   * offline and sentAtMs (additions): set when the message was sealed and held by the server
   * while we had no session with the sender; sentAtMs is when the sender sent it (its clock).
   */
  z.object({ event: z.literal('chat.message'), from: username, text: z.string(), id: messageId, offline: z.literal(true).optional(), sentAtMs: z.number().optional() }),
  z.object({ event: z.literal('chat.sent'), username, id: messageId }),
  /** The server holds our message sealed for `username` (no session was open); chat.delivered follows. */
  z.object({ event: z.literal('chat.queued'), username, id: messageId }),
  /** The friend's client stored the message in its history (or took it from the server's mailbox). */
  z.object({ event: z.literal('chat.delivered'), username, id: messageId }),
  /** The friend read our messages up to this one (it may turn these receipts off). */
  z.object({ event: z.literal('chat.read'), username, id: messageId }),
  /** The friend is typing (at most one per CHAT_TYPING_INTERVAL_MS). */
  z.object({ event: z.literal('chat.typing'), from: username }),
  /**
   * The answer to `history` (username: the friend, messages oldest first) and `history.search`
   * (username: the friend searched, or absent; messages newest first). Per message, username,
   * kind, size and offline are additions.
   */
  z.object({
    event: z.literal('history'),
    username: username.optional(),
    text: z.string().optional(),
    messages: z
      .array(
        z.object({
          id: messageId,
          from: username,
          username,
          text: z.string(),
          at: z.string(),
          direction: z.enum(['in', 'out']),
          status: z.enum(HISTORY_STATUSES),
          kind: z.enum(['message', 'file']),
          size: byteCount.optional(),
          offline: z.boolean().optional(),
        }),
      )
      .readonly(),
  }),
  /** name is the sanitized name the file will be saved under; offeredName (addition) is the raw one. */
  z.object({ event: z.literal('file.offer'), from: username, transferId, name: z.string(), size: byteCount, offeredName: z.string() }),
  z.object({ event: z.literal('file.offered'), username, transferId, name: z.string(), size: byteCount }),
  /** resumedFrom (addition): set on the first progress event after a transfer resumed. */
  z.object({ event: z.literal('file.progress'), transferId, bytes: byteCount, size: byteCount, resumedFrom: byteCount.optional() }),
  z.object({ event: z.literal('file.received'), transferId, from: username, path: z.string(), size: byteCount, sha256: z.string() }),
  z.object({ event: z.literal('file.sent'), transferId, username, size: byteCount, sha256: z.string() }),
  z.object({ event: z.literal('file.failed'), transferId, reason: z.string(), username: username.optional() }),
  z.object({ event: z.literal('disconnected') }),
  z.object({ event: z.literal('reconnected') }),
  /**
   * The server refused a login because it lost its shared database or bus (a cluster node,
   * SERVER_DEGRADED); the client logs in again by itself in retryInMs (addition).
   */
  z.object({ event: z.literal('server.degraded'), retryInMs: z.number().int().nonnegative() }),
  /**
   * The server's TLS certificate as seen at connect (once per run and fingerprint): pinned is true
   * when it matched a pin (known-servers or --server-fingerprint), false when trusted on first use
   * (now pinned). server and firstUse are additions. Emitted by the cli runtime, not the machine.
   */
  z.object({ event: z.literal('server.key'), fingerprint: z.string(), pinned: z.boolean(), server: z.string(), firstUse: z.boolean() }),
  /**
   * The answer to `fingerprint`: the safety number of this account's keys (no username asked), or
   * the one a friend and we share (both compute the same number). Emitted by the cli runtime.
   */
  z.object({ event: z.literal('fingerprint'), username, safetyNumber: z.string() }),
  /**
   * The server handed keys for a friend that differ from the ones this data dir knew: old and new
   * are the safety numbers with the old and the new keys. Emitted by the cli runtime, once per change.
   */
  z.object({ event: z.literal('peer.key.changed'), username, old: z.string(), new: z.string() }),
  /**
   * detail, username and id (additions): more about the failure, the friend a failed command was
   * about (NO_SUCH_SESSION_REQUEST after a request ended), the message it concerns. server, pinned
   * and presented (additions): set with SERVER_KEY_CHANGED, the two fingerprints.
   */
  z.object({
    event: z.literal('error'),
    code: z.string(),
    message: z.string(),
    detail: z.string().optional(),
    username: username.optional(),
    id: messageId.optional(),
    server: z.string().optional(),
    pinned: z.string().optional(),
    presented: z.string().optional(),
  }),
]);

export type ClientEvent = z.output<typeof clientEventSchema>;
export type ClientEventName = ClientEvent['event'];
export type ClientEventOf<Name extends ClientEventName> = Extract<ClientEvent, { event: Name }>;

/**
 * chat.failed reasons the client writes itself, beside the server's (SessionFailure: `rejected`,
 * `timeout`, `not-friends`, ...): `unreachable` (no connection to the friend's P2P port),
 * `server-unavailable` (the request's answer was lost with the server link), `logged-out` (the
 * login ended with the request), `replaced` (the friend asked again), `peer-error` (the friend's
 * client refused our hello with a code of its own), and the hello refusals the client names: the
 * refusing side's error code in kebab-case (`peer-key-mismatch`, ...).
 */
export const CLIENT_CHAT_FAILURES = [
  'unreachable',
  'server-unavailable',
  'logged-out',
  'replaced',
  'peer-key-mismatch',
  'peer-error',
  'bad-frame',
  'bad-session-token',
  'session-token-expired',
] as const;
export type ClientChatFailure = (typeof CLIENT_CHAT_FAILURES)[number];
/**
 * A chat.failed reason the client decides: the server's word for a request's end, or its own. The
 * one other reason is an error code that answered a request, as the server sent it (chatRefused).
 * The event's schema reads any string, so a dashboard is not broken by a newer
 * client's reason; the client writes only these.
 */
export type ChatFailedReason = SessionFailure | ClientChatFailure;

/** The chat.failed event of a request or set-up that ended (`incoming`: the request was the friend's to us). */
export function chatFailed(username: string, reason: ChatFailedReason, incoming: boolean): ClientEventOf<'chat.failed'> {
  return chatFailedEvent(username, reason, incoming);
}

/** The chat.failed event of a request the server answered with an error: its code, as sent. */
export function chatRefused(username: string, code: string, incoming: boolean): ClientEventOf<'chat.failed'> {
  return chatFailedEvent(username, code, incoming);
}

function chatFailedEvent(username: string, reason: string, incoming: boolean): ClientEventOf<'chat.failed'> {
  return incoming ? { event: 'chat.failed', username, reason, incoming } : { event: 'chat.failed', username, reason };
}

/** Every event name, in the order of the list above. */
export const CLIENT_EVENT_NAMES: readonly ClientEventName[] = clientEventSchema.options.map((option) => option.shape.event.value);
const CLIENT_EVENT_NAME_SET: ReadonlySet<string> = new Set(CLIENT_EVENT_NAMES);

/**
 * One stdout line of the headless client: an event, its ISO time, and `ref`, the `id` of the
 * command it answers when the command had one (docs/CLIENT.md).
 */
export const clientEventLineSchema = z.intersection(
  clientEventSchema,
  z.object({ at: z.string(), ref: z.union([z.string(), z.number()]).optional() }),
);
export type ClientEventLine = z.output<typeof clientEventLineSchema>;

export type ParsedEventLine =
  | { readonly ok: true; readonly event: ClientEventLine }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses one stdout line of the headless client. Never throws. Unknown extra fields are allowed
 * (the contract adds fields freely) and stripped; an unknown event name is reported as such.
 */
export function parseEventLine(line: string): ParsedEventLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || typeof (value as { event?: unknown }).event !== 'string') {
    return { ok: false, reason: 'no "event" field' };
  }
  const name = (value as { event: string }).event;
  if (!CLIENT_EVENT_NAME_SET.has(name)) return { ok: false, reason: `unknown event "${name.slice(0, 64)}"` };
  const parsed = clientEventLineSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `bad "${name}" event: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, event: parsed.data };
}
