/**
 * The client runtime: runs the pure PeerMachine (core/peer/machine.ts) in the real world. The
 * network half (server link, P2P streams and listener over a Transport, timers on a Clock, the
 * effect pump, sender backpressure) is the PeerHost of core/peer/host.ts, the same code the
 * simulator's peers run; this file adds what is real-world only: files on node:fs
 * (NodePeerFiles, file-io.ts), TCP's corked writes and local address, logs, ISO times on events,
 * and the listeners of the headless client (headless.ts) and the dashboard, which share this one
 * client core.
 *
 * Data path of a file chunk: FileReader reads into a fresh buffer → the machine passes that
 * buffer through as a `p2p.data` effect → the host writes the 18-byte header and the buffer to
 * the socket (corked together here): no base64, no copy, no JSON per chunk.
 */
import type { Logger } from 'pino';
import { type UserCommand } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import { PeerHost, type PeerHostNote } from '../../core/peer/host.ts';
import { type PeerConfig, type PeerEffect, PeerMachine } from '../../core/peer/machine.ts';
import type { Clock, Listener, Stream, Transport } from '../../core/transport.ts';
import { NodePeerFiles, prepareFile } from './file-io.ts';

/** What the runtime prints: a contract event with its ISO time. */
export type TimedEvent = ClientEvent & { readonly at: string };

export interface ClientRuntimeOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly p2pHost: string;
  readonly p2pPort: number;
  readonly downloadDir: string;
  readonly machine: Partial<Omit<PeerConfig, 'serverHost' | 'serverPort'>>;
  readonly transport: Transport;
  readonly clock: Clock;
  readonly logger: Logger;
}

interface SocketLike {
  cork(): void;
  uncork(): void;
  localAddress?: string | undefined;
}

function socketOf(stream: Stream): SocketLike | null {
  const raw = (stream as { raw?: unknown }).raw;
  if (typeof raw === 'object' && raw !== null && 'cork' in raw && 'uncork' in raw) return raw as SocketLike;
  return null;
}

export class ClientRuntime {
  readonly machine: PeerMachine;
  private readonly options: ClientRuntimeOptions;
  private readonly log: Logger;
  private readonly files: NodePeerFiles;
  private readonly host: PeerHost;
  private readonly eventListeners = new Set<(event: TimedEvent, tag: number | undefined) => void>();
  private readonly settledListeners = new Set<() => void>();
  private readonly exitListeners = new Set<(code: number) => void>();

  constructor(options: ClientRuntimeOptions) {
    this.options = options;
    this.log = options.logger;
    this.files = new NodePeerFiles(options.downloadDir);
    this.machine = new PeerMachine({ ...options.machine, serverHost: options.serverHost, serverPort: options.serverPort });
    this.host = new PeerHost({
      machine: this.machine,
      transport: options.transport,
      clock: options.clock,
      files: this.files,
      sink: {
        onEvent: (event, tag) => this.emit(event, tag),
        onSettled: () => {
          for (const listener of this.settledListeners) listener();
        },
        onExit: (code) => {
          for (const listener of this.exitListeners) listener(code);
        },
      },
      hooks: {
        localAddressOf: (stream) => socketOf(stream)?.localAddress ?? null,
        writeTogether: (stream, writes) => {
          const socket = socketOf(stream);
          socket?.cork();
          writes();
          socket?.uncork();
        },
        onEffect: (effect) => this.logEffect(effect),
        onNote: (note) => this.logNote(note),
      },
    });
  }

  /** Events with the tag of the command they answer, when it was run with one (see `command`). */
  onEvent(listener: (event: TimedEvent, tag: number | undefined) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /** After every batch of inputs, once the machine is quiet. */
  onSettled(listener: () => void): () => void {
    this.settledListeners.add(listener);
    return () => this.settledListeners.delete(listener);
  }

  /** A server connection is being made now (see PeerMachine.serverLinkComing). */
  get serverLinkComing(): boolean {
    return this.machine.serverLinkComing;
  }

  onExit(listener: (code: number) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  get p2pPort(): number {
    return this.host.p2pPort;
  }

  /** Creates the download directory, listens for peers, then connects to the server. */
  async start(): Promise<void> {
    await this.files.init();
    await new Promise<Listener>((resolve, reject) => {
      this.host.listen(this.options.p2pHost, this.options.p2pPort, (result) => {
        if (result instanceof Error) return reject(result);
        this.log.info({ event: 'p2p.listening', host: result.host, port: result.port }, 'P2P listener up');
        resolve(result);
      });
    });
  }

  /**
   * One user command; `tag` comes back on the events that answer it. file.send first measures and
   * hashes its files (I/O), then goes in: the promise tells when.
   */
  command(command: UserCommand, tag?: number): void | Promise<void> {
    if (this.host.stopped) return;
    const withTag = tag === undefined ? {} : { ref: tag };
    if (command.cmd !== 'file.send') {
      this.host.input({ type: 'command', command, ...withTag });
      return;
    }
    return Promise.allSettled(command.paths.map((path) => prepareFile(path))).then((results) => {
      const files = [];
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') {
          files.push(result.value);
          continue;
        }
        const reason = result.reason as NodeJS.ErrnoException;
        this.emit({ event: 'error', code: 'FILE_NOT_FOUND', message: 'file not found or unreadable', detail: `${command.paths[index] ?? ''}: ${reason.code ?? reason.message}` }, tag);
      }
      if (files.length > 0) this.host.input({ type: 'command', command: { cmd: 'file.send', username: command.username, files }, ...withTag });
    });
  }

  /** Stops everything at once (no logout): for tests and fatal errors. */
  stop(): void {
    this.host.abort();
  }

  private emit(event: ClientEvent, tag?: number): void {
    const timed = { ...event, at: new Date(this.options.clock.nowMs()).toISOString() } as TimedEvent;
    for (const listener of this.eventListeners) listener(timed, tag);
  }

  private logEffect(effect: PeerEffect): void {
    if (effect.type !== 'p2p.send') return;
    const frame = effect.frame;
    if (frame.type === 'msg' || frame.type === 'msg.ack' || frame.type === 'file.credit') return;
    this.log.debug({ event: 'p2p.send', streamId: effect.streamId, frame }, 'P2P control frame');
  }

  private logNote(note: PeerHostNote): void {
    switch (note.event) {
      case 'server.connected':
        return this.log.info({ event: note.event, host: note.host, port: note.port }, 'connected to the server');
      case 'server.closed':
        return this.log.info({ event: note.event, error: note.error }, 'server connection closed');
      case 'p2p.accepted':
        return this.log.info({ event: note.event, streamId: note.streamId, remote: note.remote }, 'P2P connection accepted');
      case 'p2p.closed':
        return this.log.info({ event: note.event, streamId: note.streamId, error: note.error }, 'P2P connection closed');
      case 'file.read.failed':
        return this.log.warn({ event: note.event, transferId: note.transferId, err: note.error }, 'read failed');
      case 'file.io.failed':
        return this.log.warn({ event: note.event, transferId: note.transferId, err: note.error }, 'file operation failed');
    }
  }
}
