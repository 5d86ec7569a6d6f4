/**
 * Control frames between a client and the server: one zod schema per frame type, the single
 * source of truth for both the TypeScript types and the runtime check. The server validates what
 * clients send; clients validate what the server sends.
 *
 * Every request may carry `id` (a client-chosen number); the direct reply echoes it as `re`.
 * Pushes (presence, incoming requests) carry no `re`.
 */
import { z } from 'zod';
import { flatFrameCheck } from './flat-frames.ts';
import { identityKeysSchema, isIdentityKeys, type IdentityKeys } from './identity.ts';
import {
  MAIL_SEALED_BYTES_MAX,
  NICKNAME_CHARS_MAX,
  P2P_HOST_CHARS_MAX,
  PASSWORD_CHARS_MAX,
  TOKEN_CHARS_MAX,
  USERNAME_CHARS_MAX,
} from './limits.ts';

const requestId = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER).optional();
/** Loose here (length only): the server applies the account rules and answers USERNAME_INVALID. */
const username = z.string().min(1).max(USERNAME_CHARS_MAX * 4);
const password = z.string().min(1).max(PASSWORD_CHARS_MAX * 4);
const token = z.string().min(1).max(TOKEN_CHARS_MAX);
const sessionRequestId = z.string().min(1).max(64);
const port = z.number().int().min(1).max(65_535);
/** The sender's id of a chat message (chat.send `id`, or one the client made up). */
export const messageIdSchema = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);
/** Sealed bytes of a mail: what its base64 decodes to. */
export function sealedBytes(sealedBase64: string): number {
  const padding = sealedBase64.endsWith('==') ? 2 : sealedBase64.endsWith('=') ? 1 : 0;
  return Math.floor((sealedBase64.length * 3) / 4) - padding;
}

/**
 * A sealed box (docs/PROTOCOL.md, "Sealed offline messages"), base64, at most MAIL_SEALED_BYTES_MAX
 * bytes. The length bound alone lets one byte too many through: the longest text it allows decodes
 * to MAIL_SEALED_BYTES_MAX + 1 bytes when it carries no padding, hence the decoded size's own check.
 */
const sealedBox = z
  .string()
  .min(4)
  .max(Math.ceil(MAIL_SEALED_BYTES_MAX / 3) * 4)
  .regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64')
  .refine((sealed) => sealedBytes(sealed) <= MAIL_SEALED_BYTES_MAX, `decodes to more than ${MAIL_SEALED_BYTES_MAX} bytes`);
const mailSeq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

// ---- client to server -------------------------------------------------------------------------

export const clientFrameSchema = z.discriminatedUnion('type', [
  /** identity: the client's public keys (core/identity.ts), stored with the account. */
  z.object({
    type: z.literal('signup'),
    id: requestId,
    username,
    password,
    nickname: z.string().max(NICKNAME_CHARS_MAX * 4).optional(),
    identity: identityKeysSchema.optional(),
  }),
  /** identity: registers (or replaces) the account's keys once the password is verified. */
  z.object({ type: z.literal('login'), id: requestId, username, password, identity: identityKeysSchema.optional() }),
  z.object({ type: z.literal('resume'), id: requestId, username, token }),
  z.object({ type: z.literal('logout'), id: requestId }),
  z.object({ type: z.literal('heartbeat'), id: requestId }),
  z.object({ type: z.literal('friends.list'), id: requestId }),
  z.object({ type: z.literal('friend.request'), id: requestId, username }),
  z.object({ type: z.literal('friend.accept'), id: requestId, username }),
  z.object({ type: z.literal('friend.decline'), id: requestId, username }),
  z.object({ type: z.literal('friend.remove'), id: requestId, username }),
  /** Drops the user's friend and session requests to us, silently, until friend.unblock. */
  z.object({ type: z.literal('friend.block'), id: requestId, username }),
  z.object({ type: z.literal('friend.unblock'), id: requestId, username }),
  z.object({ type: z.literal('session.request'), id: requestId, username }),
  z.object({
    type: z.literal('session.answer'),
    id: requestId,
    requestId: sessionRequestId,
    accept: z.boolean(),
    /** Where the caller should connect; required when accepting. */
    host: z.string().min(1).max(P2P_HOST_CHARS_MAX).optional(),
    port: port.optional(),
  }),
  z.object({ type: z.literal('session.cancel'), id: requestId, requestId: sessionRequestId }),
  /** A message sealed for a friend with no open session: the server holds it until they take it. */
  z.object({ type: z.literal('mail.send'), id: requestId, username, messageId: messageIdSchema, sealed: sealedBox }),
  /**
   * The recipient is done with the mail with this seq: the server deletes it and tells the sender.
   * Stored, or `unreadable`: it did not open (MAIL_UNREADABLE), so the sender hears mail.failed,
   * not mail.delivered.
   */
  z.object({ type: z.literal('mail.ack'), id: requestId, seq: mailSeq, unreadable: z.literal(true).optional() }),
  /** Changes the password: the old one is checked as a login's is (same limits); answered by account.updated. */
  z.object({ type: z.literal('account.password'), id: requestId, old: password, new: password }),
  /** Changes the nickname; answered by account.updated, and friends online get friend.updated. */
  z.object({ type: z.literal('account.nickname'), id: requestId, nickname: z.string().max(NICKNAME_CHARS_MAX * 4) }),
]);

export type ClientFrame = z.infer<typeof clientFrameSchema>;

/**
 * The heartbeat, validated without zod: it is most of what a busy server reads, and its whole
 * schema is two fields. Returns the frame the schema would return, or null for "ask the schema"
 * (anything else, including a malformed heartbeat, whose error the schema words). Held equal to
 * clientFrameSchema by test/core/frame-fast-path.test.ts.
 */
export function heartbeatFastPath(message: unknown): { type: 'heartbeat'; id?: number | undefined } | null {
  if (typeof message !== 'object' || message === null || (message as { type?: unknown }).type !== 'heartbeat') return null;
  const id = (message as { id?: unknown }).id;
  if (id === undefined) return { type: 'heartbeat' };
  if (typeof id === 'number' && Number.isSafeInteger(id) && id >= 0) return { type: 'heartbeat', id };
  return null;
}

/** clientFrameSchema's flat types read without zod (core/flat-frames.ts). */
const clientFlatCheck = flatFrameCheck<ClientFrame>(clientFrameSchema);

/**
 * What clientFrameSchema returns for a message, read without zod when it can be (the heartbeat by
 * hand, the other flat types by core/flat-frames.ts); null for "ask the schema". Held equal to the
 * schema by test/core/frame-fast-path.test.ts.
 */
export function clientFrameFastPath(message: unknown): ClientFrame | null {
  return heartbeatFastPath(message) ?? clientFlatCheck(message);
}
export type ClientFrameType = ClientFrame['type'];
export const CLIENT_FRAME_TYPES: ReadonlySet<string> = new Set(clientFrameSchema.options.map((o) => o.shape.type.value));

// ---- server to client -------------------------------------------------------------------------

export const presenceStatusSchema = z.enum(['online', 'offline']);
export type PresenceStatus = z.infer<typeof presenceStatusSchema>;

/** identity: the friend's public keys as the server holds them; absent for an account that never registered any. */
/**
 * since: when this friendship began (server ms); a friendship ended and made again has another,
 * so a client tells that its offline messages from before went with the old one. Absent for a
 * friendship made before it was stored.
 */
export const friendEntrySchema = z.object({ username: z.string(), nickname: z.string(), status: presenceStatusSchema, identity: identityKeysSchema.optional(), since: z.number().optional() });
export type FriendEntry = z.infer<typeof friendEntrySchema>;

/** Why a chat-session request did not become a session (kebab-case, as the client contract shows). */
export const sessionFailureSchema = z.enum([
  'rejected',
  'timeout',
  'offline',
  'not-friends',
  'cancelled',
  'rate-limited',
  'too-many-requests',
  'already-pending',
]);
export type SessionFailure = z.infer<typeof sessionFailureSchema>;

const re = z.number().int().nonnegative().optional();

/**
 * Why a mail the server said it held (mail.queued) reached nobody, as its sender hears it
 * (mail.failed): the recipient's client could not open it. Error codes (core/errors.ts), so the
 * client reports each as that `error`. (Mail dropped with a friendship is not told this way: the
 * friend lists say it, login.ok's `since` included, see core/peer/history.ts.)
 */
export const mailFailureSchema = z.enum(['MAIL_UNREADABLE']);
export type MailFailure = z.infer<typeof mailFailureSchema>;

export const serverFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('welcome'), protocol: z.number().int(), ttlMs: z.number(), heartbeatMs: z.number(), sessionTimeoutMs: z.number() }),
  z.object({ type: z.literal('error'), re, code: z.string(), message: z.string(), detail: z.string().optional() }),
  z.object({ type: z.literal('signup.ok'), re, username: z.string() }),
  z.object({
    type: z.literal('login.ok'),
    re,
    username: z.string(),
    nickname: z.string(),
    friends: z.array(friendEntrySchema),
    incoming: z.array(z.string()),
    outgoing: z.array(z.string()),
    resumeToken: z.string(),
    /** True when this login took over an existing session (resume or duplicate login): no presence change. */
    resumed: z.boolean(),
  }),
  z.object({ type: z.literal('logout.ok'), re }),
  z.object({ type: z.literal('heartbeat.ack'), re }),
  z.object({ type: z.literal('friends'), re, friends: z.array(friendEntrySchema), incoming: z.array(z.string()), outgoing: z.array(z.string()) }),
  z.object({ type: z.literal('presence'), username: z.string(), status: presenceStatusSchema }),
  z.object({ type: z.literal('friend.incoming'), from: z.string(), nickname: z.string() }),
  z.object({ type: z.literal('friend.requested'), re, username: z.string() }),
  z.object({ type: z.literal('friend.added'), re, username: z.string(), nickname: z.string(), status: presenceStatusSchema, identity: identityKeysSchema.optional(), since: z.number().optional() }),
  z.object({ type: z.literal('friend.declined'), re, username: z.string() }),
  z.object({ type: z.literal('friend.removed'), re, username: z.string() }),
  z.object({ type: z.literal('friend.blocked'), re, username: z.string() }),
  z.object({ type: z.literal('friend.unblocked'), re, username: z.string() }),
  z.object({ type: z.literal('session.pending'), re, requestId: z.string(), username: z.string(), timeoutMs: z.number() }),
  z.object({ type: z.literal('session.incoming'), requestId: z.string(), from: z.string(), timeoutMs: z.number() }),
  z.object({ type: z.literal('session.answered'), re, requestId: z.string(), accept: z.boolean() }),
  z.object({
    type: z.literal('session.established'),
    requestId: z.string(),
    username: z.string(),
    role: z.enum(['caller', 'callee']),
    /** One-time token: the caller presents it, the callee checks it. */
    token: z.string(),
    /** The callee's P2P address, given to the caller only. */
    host: z.string().optional(),
    port: z.number().int().optional(),
    /** The other side's identity keys, as the server vouches for them: its P2P certificate must carry the signKey. */
    identity: identityKeysSchema.optional(),
  }),
  z.object({ type: z.literal('session.failed'), re, requestId: z.string().optional(), username: z.string(), reason: sessionFailureSchema }),
  /**
   * Our account changed (account.password or account.nickname). After a password change it carries
   * the new resume token: every earlier one no longer resumes.
   */
  z.object({ type: z.literal('account.updated'), re, username: z.string(), nickname: z.string(), resumeToken: z.string().optional() }),
  /** A friend changed their nickname. */
  z.object({ type: z.literal('friend.updated'), username: z.string(), nickname: z.string(), identity: identityKeysSchema.optional() }),
  /** To the callee: a request it was asked about ended without its answer (timeout, cancel, caller gone). */
  z.object({ type: z.literal('session.withdrawn'), requestId: z.string(), from: z.string(), reason: sessionFailureSchema }),
  /** The server holds the sealed message for `username` (retrying a send that was held answers this again). */
  z.object({ type: z.literal('mail.queued'), re, username: z.string(), messageId: messageIdSchema }),
  /** A sealed message left for us while we had no session with `from`; answer mail.ack once stored. */
  z.object({ type: z.literal('mail.deliver'), seq: mailSeq, from: z.string(), messageId: messageIdSchema, sealed: z.string(), sentAtMs: z.number() }),
  /** Receipt: `username` stored our sealed message `messageId`. */
  z.object({ type: z.literal('mail.delivered'), username: z.string(), messageId: messageIdSchema }),
  /** Receipt: our sealed message `messageId` for `username` reached nobody, and is gone (`code` says why). */
  z.object({ type: z.literal('mail.failed'), username: z.string(), messageId: messageIdSchema, code: mailFailureSchema }),
]);

export type ServerFrame = z.infer<typeof serverFrameSchema>;

/** serverFrameSchema's flat types read without zod (core/flat-frames.ts). */
const serverFlatCheck = flatFrameCheck<ServerFrame>(serverFrameSchema);

/** The ack of a heartbeat without an id: always the same, so one shared (frozen) frame. */
const HEARTBEAT_ACK_FRAME: ServerFrame = Object.freeze({ type: 'heartbeat.ack' });

/**
 * Server frames validated without zod: heartbeat acks, presence pushes and login.ok by hand (they
 * are most of what a logged-in client reads; a presence storm is nearly nothing else), the other
 * flat types by core/flat-frames.ts. Returns the frame the schema would return, or null for "ask
 * the schema" (anything else, including a malformed frame, whose error the schema words). Held
 * equal to serverFrameSchema by test/core/frame-fast-path.test.ts.
 */
export function serverFrameFastPath(message: unknown): ServerFrame | null {
  if (typeof message !== 'object' || message === null) return null;
  const m = message as { type?: unknown; re?: unknown; username?: unknown; status?: unknown };
  if (m.type === 'heartbeat.ack') return m.re === undefined ? HEARTBEAT_ACK_FRAME : serverFlatCheck(message);
  if (m.type === 'login.ok') return loginOkFastPath(message as Record<string, unknown>);
  if (m.type !== 'presence') return serverFlatCheck(message);
  if (typeof m.username !== 'string') return null;
  if (m.status !== 'online' && m.status !== 'offline') return null;
  // A push as the server writes it has exactly these three keys: it is already what the schema
  // would return, so it is taken as it is (a presence storm reads little else).
  let keys = 0;
  for (const key in m) if (Object.hasOwn(m, key)) keys += 1;
  if (keys === 3) return m as ServerFrameOf<'presence'>;
  return { type: 'presence', username: m.username, status: m.status };
}

/**
 * login.ok carries the whole friend list (hundreds of entries for a hub): checked by hand, copying
 * only the known fields as the schema does. Null for anything the schema should word.
 */
function loginOkFastPath(m: Record<string, unknown>): ServerFrame | null {
  const { re, username, nickname, friends, incoming, outgoing, resumeToken, resumed } = m;
  if (re !== undefined && !(typeof re === 'number' && Number.isSafeInteger(re) && re >= 0)) return null;
  if (typeof username !== 'string' || typeof nickname !== 'string' || typeof resumeToken !== 'string' || typeof resumed !== 'boolean') return null;
  if (!Array.isArray(friends) || !isStringArray(incoming) || !isStringArray(outgoing)) return null;
  const entries: FriendEntry[] = new Array<FriendEntry>(friends.length);
  for (let i = 0; i < friends.length; i++) {
    const f = friends[i] as { username?: unknown; nickname?: unknown; status?: unknown; identity?: unknown; since?: unknown } | null;
    if (typeof f !== 'object' || f === null || Array.isArray(f)) return null;
    if (typeof f.username !== 'string' || typeof f.nickname !== 'string' || (f.status !== 'online' && f.status !== 'offline')) return null;
    if (f.identity !== undefined && !isIdentityKeys(f.identity)) return null;
    if (f.since !== undefined && !(typeof f.since === 'number' && Number.isFinite(f.since))) return null;
    const identity: IdentityKeys | undefined = f.identity === undefined ? undefined : { signKey: f.identity.signKey, sealKey: f.identity.sealKey };
    const entry: FriendEntry = identity === undefined ? { username: f.username, nickname: f.nickname, status: f.status } : { username: f.username, nickname: f.nickname, status: f.status, identity };
    entries[i] = f.since === undefined ? entry : { ...entry, since: f.since };
  }
  const frame = { type: 'login.ok' as const, username, nickname, friends: entries, incoming: [...incoming], outgoing: [...outgoing], resumeToken, resumed };
  return re === undefined ? frame : { ...frame, re };
}

function isStringArray(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const item of value) if (typeof item !== 'string') return false;
  return true;
}
export type ServerFrameType = ServerFrame['type'];
/** One server frame type, by its name: `ServerFrameOf<'presence'>`. */
export type ServerFrameOf<T extends ServerFrameType> = Extract<ServerFrame, { type: T }>;
export type ClientFrameOf<T extends ClientFrameType> = Extract<ClientFrame, { type: T }>;
