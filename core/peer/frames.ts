/**
 * Control frames of the peer-to-peer channel: one zod schema per frame type, the single source of
 * truth for the TypeScript types and the runtime check. File bytes never travel here: they go in
 * binary data frames (core/codec.ts), whose `streamId` is the transfer's `stream` number from the
 * offer and whose `offset` is the byte offset in the file.
 *
 * The caller speaks first: `hello` with its username and the one-time session token the server
 * gave both sides. The callee answers `hello.ok`, or `error` BAD_SESSION_TOKEN and closes.
 */
import { z } from 'zod';
import { FILES_PER_OFFER_MAX, TEXT_MESSAGE_CHARS_MAX, TOKEN_CHARS_MAX, USERNAME_CHARS_MAX } from '../limits.ts';

/** Why an open session ended in order: the bye frame's reason and the chat.closed reason. */
export const SESSION_END_REASONS = ['closed', 'offline', 'unfriended'] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

const username = z.string().min(1).max(USERNAME_CHARS_MAX * 4);
/** Chosen by the sender; safe inside a temporary file name (no dots, no separators). */
export const transferIdSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/);
const messageId = z.union([z.string().min(1).max(64), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]);
const byteCount = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);
/** Raw names are only bounded here; the receiver sanitizes them (core/peer/file-names.ts). */
const offeredName = z.string().max(4096);

/**
 * An offer names the file and its size only: the sender hashes the bytes as it reads them to send
 * and gives the SHA-256 in `file.end`, so a large file starts moving at once, without a first read
 * of the whole file.
 */
export const offeredFileSchema = z.object({
  transferId: transferIdSchema,
  /** The data frames' streamId for this file. */
  stream: z.number().int().nonnegative().max(0xffff_ffff),
  name: offeredName,
  size: byteCount,
});
export type OfferedFile = z.infer<typeof offeredFileSchema>;

export const p2pFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), username, token: z.string().min(1).max(TOKEN_CHARS_MAX) }),
  z.object({ type: z.literal('hello.ok'), username }),
  z.object({ type: z.literal('error'), code: z.string().max(64), message: z.string().max(1024) }),
  /** Chat: delivered in order, each acknowledged by id. */
  z.object({ type: z.literal('msg'), id: messageId, text: z.string().max(TEXT_MESSAGE_CHARS_MAX) }),
  z.object({ type: z.literal('msg.ack'), id: messageId }),
  /** Receiver: the message is in its history (the sender's chat.delivered). */
  z.object({ type: z.literal('msg.stored'), id: messageId }),
  /** Receiver: its user read up to this message (the sender's chat.read); optional, can be turned off. */
  z.object({ type: z.literal('msg.read'), id: messageId }),
  /** The user is typing; at most one per CHAT_TYPING_INTERVAL_MS each way. */
  z.object({ type: z.literal('typing') }),
  /**
   * An orderly end of the session: reason `closed` (chat.close, the default), `offline` (the
   * sender logged out or its login ended) or `unfriended` (the friendship ended, by either side),
   * reported as the chat.closed reason.
   */
  z.object({ type: z.literal('bye'), reason: z.enum(SESSION_END_REASONS).optional() }),
  z.object({ type: z.literal('file.offer'), files: z.array(offeredFileSchema).min(1).max(FILES_PER_OFFER_MAX) }),
  /** Receiver: send from `offset`, up to byte `limit` (the credit). */
  z.object({ type: z.literal('file.accept'), transferId: transferIdSchema, offset: byteCount, limit: byteCount }),
  z.object({ type: z.literal('file.decline'), transferId: transferIdSchema }),
  /** Receiver: more credit; `limit` is absolute, so a repeated or reordered credit is harmless. */
  z.object({ type: z.literal('file.credit'), transferId: transferIdSchema, limit: byteCount }),
  /** Receiver, on a new session after a drop: continue from `offset` (what it wrote and flushed). */
  z.object({ type: z.literal('file.resume'), transferId: transferIdSchema, offset: byteCount, limit: byteCount }),
  /**
   * Sender, after the last data frame (again after a resume at the end): the SHA-256 of the whole
   * file, computed while it was read. The receiver compares it with the hash of what it wrote.
   */
  z.object({ type: z.literal('file.end'), transferId: transferIdSchema, sha256 }),
  /** Receiver: every byte arrived and the SHA-256 matched; the file is in place. */
  z.object({ type: z.literal('file.ok'), transferId: transferIdSchema }),
  /** Either side: the transfer is over without success (see TransferFailure). */
  z.object({ type: z.literal('file.fail'), transferId: transferIdSchema, reason: z.string().max(64) }),
]);

export type P2pFrame = z.infer<typeof p2pFrameSchema>;
export type P2pFrameType = P2pFrame['type'];
export type P2pFrameOf<T extends P2pFrameType> = Extract<P2pFrame, { type: T }>;
export const P2P_FRAME_TYPES: ReadonlySet<string> = new Set(p2pFrameSchema.options.map((o) => o.shape.type.value));

/**
 * Why a transfer ended without success: stable kebab-case strings, the `reason` of file.failed
 * events and file.fail frames.
 */
export const TRANSFER_FAILURES = [
  'cancelled',
  'declined',
  'too-large',
  'hash-mismatch',
  'connection-lost',
  'session-closed',
  'io-error',
  'protocol-error',
  'no-such-transfer',
  'busy',
  'resume-timeout',
  'stalled',
  /** The friendship ended (friend.remove, by either side): no session may carry the file on. */
  'unfriended',
] as const;
export type TransferFailure = (typeof TRANSFER_FAILURES)[number];

export function isTransferFailure(value: string): value is TransferFailure {
  return (TRANSFER_FAILURES as readonly string[]).includes(value);
}
