/**
 * Request and reply over a child process's IPC channel: the parent calls `cmd` with arguments, the
 * child answers with a value or an error. Load workers and baseline processes both speak it, so the
 * orchestrator drives every process the same way, each call bounded by a timeout.
 */
import type { ChildProcess } from 'node:child_process';
import { stopChild } from './processes.ts';
import { EXIT_OK } from '../cli/exit-codes.ts';

interface RpcRequest {
  readonly rpc: 'call';
  readonly id: number;
  readonly cmd: string;
  readonly args: unknown;
}

interface RpcReply {
  readonly rpc: 'reply';
  readonly id: number;
  readonly ok: boolean;
  readonly value?: unknown;
  readonly error?: string;
}

function isReply(message: unknown): message is RpcReply {
  return typeof message === 'object' && message !== null && (message as { rpc?: unknown }).rpc === 'reply';
}

function isRequest(message: unknown): message is RpcRequest {
  return typeof message === 'object' && message !== null && (message as { rpc?: unknown }).rpc === 'call';
}

export type RpcHandlers = Record<string, (args: never) => Promise<unknown> | unknown>;

/** Child side: answers calls until the parent goes away (then exits: never an orphan). */
export function serveRpc(handlers: RpcHandlers): void {
  const send = (reply: RpcReply): void => {
    if (process.connected) process.send?.(reply);
  };
  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    const handler = handlers[message.cmd] as ((args: unknown) => Promise<unknown> | unknown) | undefined;
    if (handler === undefined) return send({ rpc: 'reply', id: message.id, ok: false, error: `unknown command ${message.cmd}` });
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (value) => send({ rpc: 'reply', id: message.id, ok: true, value }),
        (error: unknown) => send({ rpc: 'reply', id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
      );
  });
  process.on('disconnect', () => process.exit(EXIT_OK));
  process.on('SIGTERM', () => process.exit(EXIT_OK));
  process.on('SIGINT', () => {});
}

/** Parent side of one child process. */
export class RpcChild {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>();
  private exited: Error | null = null;

  constructor(
    readonly child: ChildProcess,
    readonly label: string,
  ) {
    child.on('message', (message: unknown) => {
      if (!isReply(message)) return;
      const waiter = this.waiting.get(message.id);
      if (waiter === undefined) return;
      this.waiting.delete(message.id);
      clearTimeout(waiter.timer);
      if (message.ok) waiter.resolve(message.value);
      else waiter.reject(new Error(`${label}: ${message.error ?? 'failed'}`));
    });
    child.once('exit', (code, signal) => {
      this.exited = new Error(`${label} exited (code ${code}, signal ${signal})`);
      for (const waiter of this.waiting.values()) {
        clearTimeout(waiter.timer);
        waiter.reject(this.exited);
      }
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  call<T>(cmd: string, args: unknown, timeoutMs: number): Promise<T> {
    if (this.exited !== null) return Promise.reject(this.exited);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.label}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.child.send({ rpc: 'call', id, cmd, args } satisfies RpcRequest, (error) => {
        if (error === null || !this.waiting.has(id)) return;
        this.waiting.delete(id);
        clearTimeout(timer);
        reject(new Error(`${this.label}: ${cmd} could not be sent: ${error.message}`));
      });
    });
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
