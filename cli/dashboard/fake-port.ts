/**
 * An in-memory ClientPort for tests: records every command sent, and lets the test emit events
 * (with or without `at`). An optional responder answers commands synchronously, like a tiny
 * scripted client, so screen tests can drive whole flows without a process or a network.
 */
import type { ClientCommand, ClientEvent, ClientPort, PortClosed } from './client-port.ts';

/** An event as a test writes it: `at` is filled in when missing. */
export type EventInput = ClientEvent extends infer E ? (E extends { at: string } ? Omit<E, 'at'> & { at?: string } : never) : never;

export type Responder = (command: ClientCommand) => readonly EventInput[];

export const FAKE_EVENT_AT = '2026-01-01T00:00:00.000Z';

export class FakeClientPort implements ClientPort {
  readonly sent: ClientCommand[] = [];
  closed: PortClosed | null = null;
  private readonly eventListeners = new Set<(event: ClientEvent) => void>();
  private readonly closedListeners = new Set<(closed: PortClosed) => void>();

  constructor(private readonly responder: Responder | null = null) {}

  send(command: ClientCommand): void {
    if (this.closed) return;
    this.sent.push(command);
    if (this.responder) for (const event of this.responder(command)) this.emit(event);
  }

  onEvent(listener: (event: ClientEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onClosed(listener: (closed: PortClosed) => void): () => void {
    this.closedListeners.add(listener);
    return () => this.closedListeners.delete(listener);
  }

  emit(input: EventInput): void {
    if (this.closed) return;
    const event = { at: FAKE_EVENT_AT, ...input } as ClientEvent;
    for (const listener of [...this.eventListeners]) listener(event);
  }

  /** The client went away on its own (as if the process died). */
  crash(reason = 'client exited'): void {
    this.finish({ reason, requested: false });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.sent.push({ cmd: 'quit' });
    this.finish({ reason: 'closed', requested: true });
  }

  /** Commands sent so far with the given name. */
  sentOf<Name extends ClientCommand['cmd']>(name: Name): Extract<ClientCommand, { cmd: Name }>[] {
    return this.sent.filter((command): command is Extract<ClientCommand, { cmd: Name }> => command.cmd === name);
  }

  private finish(closed: PortClosed): void {
    if (this.closed) return;
    this.closed = closed;
    for (const listener of [...this.closedListeners]) listener(closed);
    this.closedListeners.clear();
    this.eventListeners.clear();
  }
}
