/**
 * The client runtime: runs the pure PeerMachine (core/peer/machine.ts) in the real world. It
 * owns the server link and P2P streams (over a Transport: TCP here), the P2P listener, timers
 * (a Clock) and the file system, and turns the machine's effects into I/O and I/O results back
 * into inputs. It exposes the event stream and a command method, so the headless client
 * (headless.ts) and the dashboard share one client core.
 *
 * Data path of a file chunk: FileReader reads into a fresh buffer → the machine passes that
 * buffer through as a `p2p.data` effect → we write the 18-byte header and the buffer to the socket
 * (corked together): no base64, no copy, no JSON per chunk. After each such write, and on each
 * drain, how many data bytes have left the stream's send queue goes back to the machine as
 * `p2p.flushed`: the machine starts no chunk read that would take a stream past
 * P2P_SEND_QUEUE_BYTES_MAX, so a slow reader holds the sender's memory to that bound (see
 * core/peer/machine.ts).
 */
import type { Logger } from 'pino';
import { encodeControl, encodeDataHeader } from '../../core/codec.ts';
import { type UserCommand } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import { type PeerConfig, type PeerEffect, type PeerInput, PeerMachine } from '../../core/peer/machine.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import { EffectPump } from '../../core/effect-pump.ts';
import { Wakeup } from '../../core/wakeup.ts';
import { FileReader, FileWriter, prepareFile } from './file-io.ts';

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

/** How often one flush may loop on effects that caused more effects synchronously. */
const FLUSH_ROUNDS_MAX = 64;

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
  private readonly reader = new FileReader();
  private readonly writer: FileWriter;
  private readonly serverStreams = new Map<number, Stream>();
  private readonly p2pStreams = new Map<string, Stream>();
  /** Data-frame bytes written to each P2P stream so far (for `p2p.flushed`). */
  private readonly p2pDataWritten = new Map<string, number>();
  private readonly eventListeners = new Set<(event: TimedEvent) => void>();
  private readonly exitListeners = new Set<(code: number) => void>();
  private listener: Listener | null = null;
  private nextAcceptedId = 1;
  private readonly pump = new EffectPump<PeerEffect>(
    () => this.machine.takeEffects(),
    (effects) => {
      for (const effect of effects) this.perform(effect);
    },
    FLUSH_ROUNDS_MAX,
  );
  private readonly wakeup: Wakeup;
  private exited = false;

  constructor(options: ClientRuntimeOptions) {
    this.options = options;
    this.log = options.logger;
    this.wakeup = new Wakeup(options.clock, (nowMs) => {
      if (this.exited) return;
      this.machine.handleTimeout(nowMs);
      this.flush();
    });
    this.writer = new FileWriter(options.downloadDir);
    this.machine = new PeerMachine({ ...options.machine, serverHost: options.serverHost, serverPort: options.serverPort });
  }

  onEvent(listener: (event: TimedEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  onExit(listener: (code: number) => void): () => void {
    this.exitListeners.add(listener);
    return () => this.exitListeners.delete(listener);
  }

  get p2pPort(): number {
    return this.listener?.port ?? 0;
  }

  /** Creates the download directory, listens for peers, then connects to the server. */
  async start(): Promise<void> {
    await this.writer.init();
    this.listener = await new Promise<Listener>((resolve, reject) => {
      this.options.transport.listen(
        this.options.p2pHost,
        this.options.p2pPort,
        (stream) => this.accept(stream),
        (result) => (result instanceof Error ? reject(result) : resolve(result)),
      );
    });
    this.log.info({ event: 'p2p.listening', host: this.listener.host, port: this.listener.port }, 'P2P listener up');
    this.input({ type: 'start', p2pHost: this.listener.host, p2pPort: this.listener.port });
  }

  /** One user command. file.send first measures and hashes its files (I/O), then goes in. */
  command(command: UserCommand): void {
    if (this.exited) return;
    if (command.cmd !== 'file.send') {
      this.input({ type: 'command', command });
      return;
    }
    void Promise.allSettled(command.paths.map((path) => prepareFile(path))).then((results) => {
      const files = [];
      for (const [index, result] of results.entries()) {
        if (result.status === 'fulfilled') {
          files.push(result.value);
          continue;
        }
        const reason = result.reason as NodeJS.ErrnoException;
        this.emit({ event: 'error', code: 'FILE_NOT_FOUND', message: 'file not found or unreadable', detail: `${command.paths[index] ?? ''}: ${reason.code ?? reason.message}` });
      }
      if (files.length > 0) this.input({ type: 'command', command: { cmd: 'file.send', username: command.username, files } });
    });
  }

  /** Stops everything at once (no logout): for tests and fatal errors. */
  stop(): void {
    this.finish();
    for (const stream of this.serverStreams.values()) stream.reset();
    for (const stream of this.p2pStreams.values()) stream.reset();
  }

  // ---- the machine loop -----------------------------------------------------------------------

  private input(input: PeerInput): void {
    if (this.exited) return;
    this.machine.handle(input, this.options.clock.nowMs());
    this.flush();
  }

  private flush(): void {
    if (!this.pump.pump()) return;
    if (!this.exited) this.wakeup.set(this.machine.nextTimeoutMs());
  }

  private perform(effect: PeerEffect): void {
    switch (effect.type) {
      case 'server.connect':
        return this.connectServer(effect.linkId, effect.host, effect.port);
      case 'server.send':
        this.serverStreams.get(effect.linkId)?.write(encodeControl(effect.frame));
        return;
      case 'server.close': {
        const stream = this.serverStreams.get(effect.linkId);
        this.serverStreams.delete(effect.linkId);
        stream?.close();
        return;
      }
      case 'p2p.connect':
        return this.connectPeer(effect.streamId, effect.host, effect.port);
      case 'p2p.send':
        if (effect.frame.type !== 'msg' && effect.frame.type !== 'msg.ack' && effect.frame.type !== 'file.credit') {
          this.log.debug({ event: 'p2p.send', streamId: effect.streamId, frame: effect.frame }, 'P2P control frame');
        }
        this.p2pStreams.get(effect.streamId)?.write(encodeControl(effect.frame));
        return;
      case 'p2p.data':
        return this.writeData(effect.streamId, effect.wireStream, effect.offset, effect.bytes);
      case 'p2p.close':
        this.p2pStreams.get(effect.streamId)?.close();
        return;
      case 'p2p.reset':
        this.p2pStreams.get(effect.streamId)?.reset();
        return;
      case 'file.read':
        return this.reader.read(effect.transferId, effect.path, effect.offset, effect.bytes, (result) => {
          if (result instanceof Error) {
            this.log.warn({ event: 'file.read.failed', transferId: effect.transferId, err: result }, 'read failed');
            return this.input({ type: 'file.read-failed', transferId: effect.transferId, epoch: effect.epoch });
          }
          this.input({ type: 'file.chunk', transferId: effect.transferId, epoch: effect.epoch, offset: effect.offset, bytes: result });
        });
      case 'file.open':
        return this.writer.open(effect.transferId, (error) => this.ioResult(effect.transferId, error, null));
      case 'file.write': {
        const end = effect.offset + effect.bytes.byteLength;
        return this.writer.write(effect.transferId, effect.offset, effect.bytes, (error) =>
          this.ioResult(effect.transferId, error, { type: 'file.written', transferId: effect.transferId, offset: end }),
        );
      }
      case 'file.finish':
        return this.writer.finish(effect.transferId, (result) =>
          typeof result === 'string'
            ? this.input({ type: 'file.hashed', transferId: effect.transferId, sha256: result })
            : this.ioResult(effect.transferId, result, null),
        );
      case 'file.commit':
        return this.writer.commit(effect.transferId, effect.name, (result) =>
          typeof result === 'string'
            ? this.input({ type: 'file.committed', transferId: effect.transferId, path: result })
            : this.ioResult(effect.transferId, result, null),
        );
      case 'file.discard':
        return this.writer.discard(effect.transferId);
      case 'event':
        return this.emit(effect.event);
      case 'exit':
        return this.exit(effect.code);
    }
  }

  private ioResult(transferId: string, error: Error | null, then: PeerInput | null): void {
    if (error !== null) {
      this.log.warn({ event: 'file.io.failed', transferId, err: error }, 'file operation failed');
      return this.input({ type: 'file.io-failed', transferId });
    }
    if (then !== null) this.input(then);
  }

  private emit(event: ClientEvent): void {
    if (event.event === 'file.sent' || event.event === 'file.failed') this.reader.close(event.transferId);
    const timed = { ...event, at: new Date(this.options.clock.nowMs()).toISOString() } as TimedEvent;
    for (const listener of this.eventListeners) listener(timed);
  }

  private exit(code: number): void {
    this.finish();
    for (const listener of this.exitListeners) listener(code);
  }

  private finish(): void {
    if (this.exited) return;
    this.exited = true;
    this.wakeup.clear();
    this.listener?.close();
    this.listener = null;
    this.reader.closeAll();
    this.writer.discardAll();
  }

  // ---- streams ----------------------------------------------------------------------------------

  private connectServer(linkId: number, host: string, port: number): void {
    const events: StreamEvents = {
      onOpen: () => {
        const local = socketOf(stream)?.localAddress ?? null;
        this.log.info({ event: 'server.connected', host, port }, 'connected to the server');
        this.input({ type: 'server.open', linkId, localAddress: local });
      },
      onData: (bytes) => this.input({ type: 'server.bytes', linkId, bytes }),
      onDrain: () => {},
      onClose: (error) => {
        this.serverStreams.delete(linkId);
        this.log.info({ event: 'server.closed', error }, 'server connection closed');
        this.input({ type: 'server.closed', linkId, error });
      },
    };
    const stream = this.options.transport.connect(host, port, events);
    this.serverStreams.set(linkId, stream);
  }

  private connectPeer(streamId: string, host: string, port: number): void {
    const stream = this.options.transport.connect(host, port, this.peerEvents(streamId, true));
    this.p2pStreams.set(streamId, stream);
  }

  private accept(stream: Stream): void {
    const streamId = `in:${this.nextAcceptedId++}`;
    this.p2pStreams.set(streamId, stream);
    stream.setEvents(this.peerEvents(streamId, false));
    this.log.info({ event: 'p2p.accepted', streamId, remote: `${stream.remoteAddress}:${stream.remotePort}` }, 'P2P connection accepted');
    this.input({ type: 'p2p.accepted', streamId, remoteAddress: stream.remoteAddress });
  }

  private peerEvents(streamId: string, outgoing: boolean): StreamEvents {
    return {
      onOpen: () => {
        if (outgoing) this.input({ type: 'p2p.open', streamId });
      },
      onData: (bytes) => this.input({ type: 'p2p.bytes', streamId, bytes }),
      onDrain: () => this.reportFlushed(streamId),
      onClose: (error) => {
        this.p2pStreams.delete(streamId);
        this.p2pDataWritten.delete(streamId);
        this.log.info({ event: 'p2p.closed', streamId, error }, 'P2P connection closed');
        this.input({ type: 'p2p.closed', streamId, error });
      },
    };
  }

  private writeData(streamId: string, wireStream: number, offset: number, bytes: Uint8Array): void {
    const stream = this.p2pStreams.get(streamId);
    if (stream === undefined) return;
    const socket = socketOf(stream);
    socket?.cork();
    const header = encodeDataHeader(wireStream, offset, bytes.byteLength);
    stream.write(header);
    stream.write(bytes);
    socket?.uncork();
    this.p2pDataWritten.set(streamId, (this.p2pDataWritten.get(streamId) ?? 0) + header.byteLength + bytes.byteLength);
    this.reportFlushed(streamId);
  }

  /** Tells the machine how many data bytes have left the stream's queue (control frames still queued count as data: safe). */
  private reportFlushed(streamId: string): void {
    const stream = this.p2pStreams.get(streamId);
    const written = this.p2pDataWritten.get(streamId);
    if (stream === undefined || written === undefined) return;
    this.input({ type: 'p2p.flushed', streamId, bytes: Math.max(0, written - stream.bufferedBytes) });
  }
}
