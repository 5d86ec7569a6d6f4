/**
 * The dashboard's only view of the client: the JSON-lines vocabulary of the headless client
 * (docs: /work/shared/CONTRACTS.md section 1). The dashboard sends commands and listens to events,
 * so it works over any runtime that speaks that vocabulary: a child `p2pchat client --headless`
 * (child-process-port.ts), an in-memory fake for tests (fake-port.ts), or an in-process runtime.
 *
 * Commands are produced by us, so plain types suffice. Events come from another program, so they
 * are validated (zod) before they reach the view-model: a malformed line is dropped and logged,
 * never thrown into the UI. Unknown extra fields are allowed (the contract adds fields freely)
 * and stripped; unknown event names are reported as such (`parseClientEvent` says why).
 */
import { z } from 'zod';

// ---------------------------------------------------------------------------------------------
// Commands (stdin of the headless client): one object per line, each with `cmd`.

export type ClientCommand =
  | { readonly cmd: 'signup'; readonly username: string; readonly password: string; readonly nickname?: string }
  | { readonly cmd: 'login'; readonly username: string; readonly password: string }
  | { readonly cmd: 'logout' }
  | { readonly cmd: 'friends' }
  | { readonly cmd: 'friend.request'; readonly username: string }
  | { readonly cmd: 'friend.accept'; readonly username: string }
  | { readonly cmd: 'friend.decline'; readonly username: string }
  | { readonly cmd: 'chat.open'; readonly username: string }
  | { readonly cmd: 'chat.answer'; readonly username: string; readonly accept: boolean }
  | { readonly cmd: 'chat.send'; readonly username: string; readonly text: string }
  | { readonly cmd: 'chat.close'; readonly username: string }
  | { readonly cmd: 'file.send'; readonly username: string; readonly paths: readonly string[] }
  | { readonly cmd: 'file.answer'; readonly transferId: string; readonly accept: boolean }
  | { readonly cmd: 'file.cancel'; readonly transferId: string }
  | { readonly cmd: 'quit' };

export type ClientCommandName = ClientCommand['cmd'];
export type ClientCommandOf<Name extends ClientCommandName> = Extract<ClientCommand, { cmd: Name }>;

// ---------------------------------------------------------------------------------------------
// Events (stdout of the headless client): one object per line, each with `event` and `at`.

const presenceStatusSchema = z.enum(['online', 'offline']);
export type PresenceStatus = z.infer<typeof presenceStatusSchema>;

const friendSchema = z.object({
  username: z.string(),
  // The contract always sends a nickname; tolerate its absence rather than drop a whole list.
  nickname: z.string().optional(),
  status: presenceStatusSchema,
});
export type FriendInfo = z.infer<typeof friendSchema>;

/** Transfer ids are strings in the contract; a numeric id from a runtime is accepted as text. */
const transferIdSchema = z.union([z.string(), z.number()]).transform((id) => String(id));
const byteCountSchema = z.number().int().nonnegative();

function eventSchema<Name extends string, Shape extends z.ZodRawShape>(name: Name, shape: Shape) {
  return z.object({ event: z.literal(name), at: z.string(), ...shape });
}

const usernameField = { username: z.string() };

export const clientEventSchema = z.discriminatedUnion('event', [
  eventSchema('ready', {}),
  eventSchema('signup.ok', {}),
  eventSchema('logout.ok', {}),
  eventSchema('login.ok', { friends: z.array(friendSchema) }),
  eventSchema('friends', { friends: z.array(friendSchema), pending: z.array(z.string()).default([]) }),
  eventSchema('friend.request', { from: z.string() }),
  eventSchema('friend.requested', usernameField),
  eventSchema('friend.added', { username: z.string(), nickname: z.string().optional(), status: presenceStatusSchema.optional() }),
  eventSchema('friend.declined', usernameField),
  eventSchema('presence', { username: z.string(), status: presenceStatusSchema }),
  /** timeoutMs: the server's time to answer (the headless client sends it; absent, the dashboard's default). */
  eventSchema('chat.request', { from: z.string(), timeoutMs: z.number().nonnegative().optional() }),
  eventSchema('chat.opened', usernameField),
  eventSchema('chat.closed', usernameField),
  eventSchema('chat.failed', { username: z.string(), reason: z.string() }),
  eventSchema('chat.message', { from: z.string(), text: z.string(), id: z.union([z.string(), z.number()]).optional() }),
  eventSchema('chat.sent', { username: z.string(), id: z.union([z.string(), z.number()]).optional() }),
  eventSchema('file.offer', { from: z.string(), transferId: transferIdSchema, name: z.string(), size: byteCountSchema }),
  eventSchema('file.offered', { username: z.string(), transferId: transferIdSchema, name: z.string(), size: byteCountSchema }),
  eventSchema('file.progress', { transferId: transferIdSchema, bytes: byteCountSchema, size: byteCountSchema, resumedFrom: byteCountSchema.optional() }),
  eventSchema('file.received', {
    transferId: transferIdSchema,
    from: z.string(),
    path: z.string(),
    size: byteCountSchema,
    sha256: z.string(),
  }),
  eventSchema('file.sent', { transferId: transferIdSchema, username: z.string(), size: byteCountSchema, sha256: z.string() }),
  eventSchema('file.failed', { transferId: transferIdSchema, reason: z.string() }),
  eventSchema('disconnected', {}),
  eventSchema('reconnected', {}),
  eventSchema('server.key', { fingerprint: z.string(), pinned: z.boolean() }),
  /** username: the friend a failed command was about (NO_SUCH_SESSION_REQUEST after a request ended). */
  eventSchema('error', { code: z.string(), message: z.string().default(''), username: z.string().optional() }),
]);

export type ClientEvent = z.output<typeof clientEventSchema>;
export type ClientEventName = ClientEvent['event'];
export type ClientEventOf<Name extends ClientEventName> = Extract<ClientEvent, { event: Name }>;

export const CLIENT_EVENT_NAMES: readonly ClientEventName[] = clientEventSchema.options.map(
  (option) => option.shape.event.value,
);

export type ParsedEvent = { readonly ok: true; readonly event: ClientEvent } | { readonly ok: false; readonly reason: string };

/** Parses one stdout line of the headless client. Never throws. */
export function parseClientEvent(line: string): ParsedEvent {
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
  if (!(CLIENT_EVENT_NAMES as readonly string[]).includes(name)) return { ok: false, reason: `unknown event "${name}"` };
  const parsed = clientEventSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `bad "${name}" event: ${issue ? `${issue.path.join('.')} ${issue.message}` : 'invalid'}` };
  }
  return { ok: true, event: parsed.data };
}

// ---------------------------------------------------------------------------------------------
// The port.

/** Why a port stopped delivering events: the client process exited, or close() was called. */
export interface PortClosed {
  readonly reason: string;
  /** True when close() asked for it; false when the client went away on its own. */
  readonly requested: boolean;
}

export interface ClientPort {
  /** Queues one command; never throws (a dead port drops it and has already reported closing). */
  send(command: ClientCommand): void;
  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: (event: ClientEvent) => void): () => void;
  /** Subscribes to the port's end (once). Returns the unsubscribe function. */
  onClosed(listener: (closed: PortClosed) => void): () => void;
  /** Quits the client cleanly (it logs out first) and resolves when it is gone. Idempotent. */
  close(): Promise<void>;
}
