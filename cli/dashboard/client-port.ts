/**
 * The dashboard's only view of the client: the JSON-lines vocabulary of the headless client
 * (docs/CLIENT.md). The dashboard sends commands and listens to events, so it works over any
 * runtime that speaks that vocabulary: a child `p2pchat client --headless`
 * (child-process-port.ts), an in-memory fake for tests (fake-port.ts), or an in-process runtime.
 *
 * The vocabulary itself is not defined here: commands come from core/peer/commands.ts and events
 * from core/peer/events.ts, the same schemas the client's machine is typed by. Events come from
 * another program, so `parseClientEvent` validates each line with those schemas before it reaches
 * the view-model: a malformed line is dropped and logged, never thrown into the UI. Unknown extra
 * fields are allowed (the contract adds fields freely) and stripped; unknown event names are
 * reported as such.
 */
import type { UserCommand } from '../../core/peer/commands.ts';
import type { ClientEventLine, ClientEventName } from '../../core/peer/events.ts';

export type { PresenceStatus } from '../../core/frames.ts';
export {
  CLIENT_EVENT_NAMES,
  type ClientEventName,
  parseEventLine as parseClientEvent,
  type ParsedEventLine as ParsedEvent,
} from '../../core/peer/events.ts';

/** What the dashboard may send: the user commands of the contract (test-only commands excluded). */
export type ClientCommand = Exclude<UserCommand, { cmd: `test.${string}` }>;

/** What the dashboard receives: one event with its ISO time `at`, as the headless client prints it. */
export type ClientEvent = ClientEventLine;
export type ClientEventOf<Name extends ClientEventName> = Extract<ClientEvent, { event: Name }>;

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
