/**
 * Runs a PeerMachine over a Transport and a Clock: the network half of a client that the real
 * client runtime (cli/client/client-runtime.ts, TCP and node:fs) and the simulator's peers
 * (sim/peer-machine-driver.ts, the in-memory network and synthetic files) share, the way
 * ServerHost (core/server/host.ts) is shared by the TCP server and the simulated one. It owns the
 * machine's server link and P2P streams, the P2P listener, the timer and the effect pump; files
 * and events are ports the caller supplies (PeerFiles, PeerSink).
 *
 * Sender backpressure: after each data write, and on each drain, how many data-frame bytes have
 * left a P2P stream's send queue goes back to the machine as `p2p.flushed` (written less
 * Stream.bufferedBytes), so the machine starts no chunk read that would take the stream past
 * P2P_SEND_QUEUE_BYTES_MAX (see machine.ts).
 */
import { encodeControl, encodeDataHeader } from '../codec.ts';
import { EffectPump } from '../effect-pump.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../transport.ts';
import { Wakeup } from '../wakeup.ts';
import type { ClientEvent } from './events.ts';
import type { HistoryStore } from './history.ts';
import type { PeerEffect, PeerInput, PeerMachine } from './machine.ts';

/** A data chunk written to a P2P stream: `end` is the stream's data-byte count once it is flushed. */
interface UnflushedChunk {
  readonly end: number;
  readonly bytes: Uint8Array;
}

/** How often one flush may loop on effects that caused more effects synchronously. */
const FLUSH_ROUNDS_MAX = 64;

/**
 * The file side of transfers: node:fs in cli/, memory and synthetic bytes in sim/. A `done` is
 * called once the operation ended, usually later; called from inside the call (a failure found at
 * once) its input just queues behind the effects being carried out. `open` may leave `done`
 * uncalled when it succeeds.
 */
export interface PeerFiles {
  /**
   * `bytes` bytes of the file at `path` from `offset` (fewer at its end), answered in the order
   * asked. The port feeds a SHA-256 of the transfer with the answered bytes it has not hashed yet
   * (a read again after a resume is not hashed twice), in file order.
   */
  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void;
  /** After the reads asked before it: the SHA-256 (hex) of the bytes read, the whole file. May be asked again. */
  digest(transferId: string, done: (result: string | Error) => void): void;
  /** An outgoing transfer ended (sent or failed): what serves its reads can go. */
  closeSource(transferId: string): void;
  /**
   * Optional: a chunk `read` answered has been sent: it left the P2P stream's send queue, so
   * nothing holds it any more and its memory may be reused for another read. Chunks that are never
   * sent (a stale or failed transfer, a stream that closed first) are never released.
   */
  released?(bytes: Uint8Array): void;
  /** Starts the temporary file of an incoming transfer. */
  open(transferId: string, done: (error: Error | null) => void): void;
  /**
   * Writes `bytes` at `offset` (writes come in file order). Writes the port carries out together
   * may be answered once, by the last of them: its end covers the ones before (the machine counts
   * the written bytes by their end), so their `done` is never called; a failure is answered once.
   */
  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void;
  /**
   * Before a resume: hash the temporary file's first `bytes` bytes afresh from where they are kept
   * (not from memory), and continue the incremental hash from there, so a prefix changed while
   * the transfer was suspended fails the final check.
   */
  rehash(transferId: string, bytes: number, done: (error: Error | null) => void): void;
  /** Makes the written bytes durable; answers their SHA-256 (hex). */
  finish(transferId: string, done: (result: string | Error) => void): void;
  /** Moves the finished file into place under a free name like `name`; answers its path. */
  commit(transferId: string, name: string, done: (result: string | Error) => void): void;
  discard(transferId: string): void;
  /** The host stops: close every source, discard every unfinished download. */
  closeAll(): void;
}

/**
 * Sealed boxes for offline messages (core/peer/mailbox-client.ts): node:crypto and the account's
 * identity key in cli/ (cli/crypto/sealed-box.ts), a stand-in in sim/. Each answers through
 * `done`, at once or later; null when the box could not be sealed or opened.
 */
export interface PeerSealer {
  /** Seals `plaintext` (UTF-8) for the X25519 public key `sealKey` (base64 SPKI DER); the box as base64. */
  seal(sealKey: string, plaintext: string, done: (sealed: string | null) => void): void;
  /** Opens a box (base64) with our identity key; its plaintext as UTF-8 text. */
  open(sealed: string, done: (plaintext: string | null) => void): void;
}

/** Without a sealer nothing can be sealed or opened: offline messages fail as unreadable. */
const NO_SEALER: PeerSealer = {
  seal: (_sealKey, _plaintext, done) => done(null),
  open: (_sealed, done) => done(null),
};

/** Where the machine's events go: the headless client's stdout and the dashboard, or a simulated user. */
export interface PeerSink {
  /** ref: the tag of the command the event answers, when it was given one (PeerInput `command`). */
  onEvent(event: ClientEvent, ref?: number): void;
  /** The user quit and the logout is done; the host has stopped. */
  onExit?(code: number): void;
  /** After every batch of inputs once the machine is quiet (checks that follow its state). */
  onSettled?(): void;
}

/** What the host saw happen, for logs. */
export type PeerHostNote =
  | { readonly event: 'server.connected'; readonly host: string; readonly port: number }
  | { readonly event: 'server.closed'; readonly error: string | null }
  | { readonly event: 'p2p.accepted'; readonly streamId: string; readonly remote: string }
  | { readonly event: 'p2p.closed'; readonly streamId: string; readonly error: string | null }
  | { readonly event: 'file.read.failed'; readonly transferId: string; readonly error: Error }
  | { readonly event: 'file.io.failed'; readonly transferId: string; readonly error: Error }
  | { readonly event: 'history.failed'; readonly operation: string; readonly error: unknown };

/** What differs between transports beyond the Transport interface, and logging. */
export interface PeerHostHooks {
  /** Our address on a server stream that just opened (what the server sees), or null if unknown. */
  localAddressOf?(stream: Stream): string | null;
  /** Runs a data frame's two writes so they leave together (TCP: cork and uncork). */
  writeTogether?(stream: Stream, writes: () => void): void;
  /** Every effect, just before it is carried out. */
  onEffect?(effect: PeerEffect): void;
  onNote?(note: PeerHostNote): void;
}

export interface PeerHostOptions {
  readonly machine: PeerMachine;
  readonly transport: Transport;
  /** The server link's transport when it differs from the P2P one (TLS to the server in cli/). */
  readonly serverTransport?: Transport;
  readonly clock: Clock;
  readonly files: PeerFiles;
  readonly sink: PeerSink;
  /** Seals and opens offline messages; none: they cannot be sealed or opened. */
  readonly sealer?: PeerSealer;
  /**
   * Where what was said is kept (history.ts; SQLite in cli/). None: nothing is kept, history
   * queries fail with HISTORY_UNAVAILABLE and no msg.stored (so no chat.delivered) is sent.
   */
  readonly history?: HistoryStore;
  readonly hooks?: PeerHostHooks;
}

export class PeerHost {
  readonly machine: PeerMachine;
  private readonly options: PeerHostOptions;
  private readonly files: PeerFiles;
  private readonly hooks: PeerHostHooks;
  private readonly serverStreams = new Map<number, Stream>();
  private readonly p2pStreams = new Map<string, Stream>();
  /** Data-frame bytes written to each P2P stream so far (for `p2p.flushed`). */
  private readonly p2pDataWritten = new Map<string, number>();
  /**
   * Per P2P stream, the chunks written and not yet flushed, oldest first, each with the stream's
   * data-byte count at its end: PeerFiles.released once the flushed count passes it. Only kept
   * when the port wants releases.
   */
  private readonly p2pUnflushed = new Map<string, UnflushedChunk[]>();
  private listener: Listener | null = null;
  private nextAcceptedId = 1;
  private readonly wakeup: Wakeup;
  private readonly pump = new EffectPump<PeerEffect>(
    () => this.machine.takeEffects(),
    (effects) => {
      for (const effect of effects) this.perform(effect);
    },
    FLUSH_ROUNDS_MAX,
  );
  private stoppedFlag = false;
  private frozen = false;

  constructor(options: PeerHostOptions) {
    this.options = options;
    this.machine = options.machine;
    this.files = options.files;
    this.hooks = options.hooks ?? {};
    this.wakeup = new Wakeup(options.clock, (nowMs) => {
      if (!this.hearing) return;
      this.machine.handleTimeout(nowMs);
      this.flush();
    });
  }

  /** The host stopped (exit, stop() or abort()): it feeds the machine nothing more. */
  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** The P2P listener's port, 0 before it listens and after the host stopped. */
  get p2pPort(): number {
    return this.listener?.port ?? 0;
  }

  /**
   * Listens for peers; once listening, tells onReady first, then starts the machine (which
   * connects to the server). On an error only onReady hears of it.
   */
  listen(host: string, port: number, onReady: (result: Listener | Error) => void): void {
    this.options.transport.listen(host, port, (stream) => this.accept(stream), (result) => {
      if (result instanceof Error) return onReady(result);
      this.listener = result;
      onReady(result);
      this.input({ type: 'start', p2pHost: result.host, p2pPort: result.port });
    });
  }

  /** Feeds one input at the clock's time and carries out what the machine asks. */
  input(input: PeerInput): void {
    if (!this.hearing) return;
    this.machine.handle(input, this.options.clock.nowMs());
    this.flush();
  }

  /**
   * Stops hearing anything (inputs and timers are dropped) while every stream stays open: a
   * process that hangs. Only the simulator does this.
   */
  freeze(): void {
    this.frozen = true;
  }

  /** Stops: no more inputs or timers, the listener closed, files released; streams left as they are. */
  stop(): void {
    if (this.stoppedFlag) return;
    this.stoppedFlag = true;
    this.wakeup.clear();
    this.listener?.close();
    this.listener = null;
    this.files.closeAll();
  }

  /** Stops and resets every stream at once (no logout): a fatal error, a test's end, a crash. */
  abort(): void {
    this.stop();
    for (const stream of [...this.serverStreams.values(), ...this.p2pStreams.values()]) stream.reset();
    this.serverStreams.clear();
    this.p2pStreams.clear();
    this.p2pDataWritten.clear();
    this.p2pUnflushed.clear();
  }

  private get hearing(): boolean {
    return !this.stoppedFlag && !this.frozen;
  }

  private flush(): void {
    if (!this.pump.pump()) return;
    this.options.sink.onSettled?.();
    if (!this.stoppedFlag) this.wakeup.set(this.machine.nextTimeoutMs());
  }

  private perform(effect: PeerEffect): void {
    this.hooks.onEffect?.(effect);
    switch (effect.type) {
      case 'server.connect':
        return this.connectServer(effect.linkId, effect.host, effect.port);
      case 'server.send':
        this.serverStreams.get(effect.linkId)?.write(encodeControl(effect.frame));
        return;
      case 'server.close': {
        const stream = this.serverStreams.get(effect.linkId);
        // The machine already forgot this link: the stream's onClose has nothing to tell it.
        this.serverStreams.delete(effect.linkId);
        stream?.close();
        return;
      }
      case 'p2p.connect': {
        const stream = this.options.transport.connect(effect.host, effect.port, this.p2pEvents(effect.streamId, true), { peer: effect.friend, vouchedKey: effect.vouchedKey });
        this.p2pStreams.set(effect.streamId, stream);
        return;
      }
      case 'p2p.send':
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
      case 'file.read': {
        const { transferId, epoch, offset } = effect;
        return this.files.read(transferId, effect.path, offset, effect.bytes, (result) => {
          if (!(result instanceof Error)) return this.input({ type: 'file.chunk', transferId, epoch, offset, bytes: result });
          this.hooks.onNote?.({ event: 'file.read.failed', transferId, error: result });
          this.input({ type: 'file.read-failed', transferId, epoch });
        });
      }
      case 'file.digest': {
        const { transferId, epoch } = effect;
        return this.files.digest(transferId, (result) => {
          if (typeof result === 'string') return this.input({ type: 'file.digested', transferId, epoch, sha256: result });
          this.hooks.onNote?.({ event: 'file.read.failed', transferId, error: result });
          this.input({ type: 'file.read-failed', transferId, epoch });
        });
      }
      case 'file.open':
        return this.files.open(effect.transferId, (error) => this.fileResult(effect.transferId, error, null));
      case 'file.rehash': {
        const { transferId, epoch } = effect;
        return this.files.rehash(transferId, effect.bytes, (error) => this.fileResult(transferId, error, { type: 'file.rehashed', transferId, epoch }));
      }
      case 'file.write': {
        const { transferId } = effect;
        const end = effect.offset + effect.bytes.byteLength;
        return this.files.write(transferId, effect.offset, effect.bytes, (error) =>
          this.fileResult(transferId, error, { type: 'file.written', transferId, offset: end }),
        );
      }
      case 'file.finish': {
        const { transferId } = effect;
        return this.files.finish(transferId, (result) =>
          typeof result === 'string' ? this.input({ type: 'file.hashed', transferId, sha256: result }) : this.fileResult(transferId, result, null),
        );
      }
      case 'file.commit': {
        const { transferId } = effect;
        return this.files.commit(transferId, effect.name, (result) =>
          typeof result === 'string' ? this.input({ type: 'file.committed', transferId, path: result }) : this.fileResult(transferId, result, null),
        );
      }
      case 'file.discard':
        return this.files.discard(effect.transferId);
      case 'history.append':
      case 'history.mark':
      case 'history.fail-queued':
      case 'history.fail-queued-except':
      case 'history.friendships-seen':
      case 'history.page':
      case 'history.search':
        return this.performHistory(effect);
      case 'event': {
        const event = effect.event;
        if (event.event === 'file.sent' || event.event === 'file.failed') this.files.closeSource(event.transferId);
        return this.options.sink.onEvent(event, effect.ref);
      }
      case 'exit':
        this.stop();
        return this.options.sink.onExit?.(effect.code);
      case 'mail.seal': {
        const { ticket } = effect;
        return (this.options.sealer ?? NO_SEALER).seal(effect.sealKey, effect.plaintext, (sealed) => this.input({ type: 'mail.sealed', ticket, sealed }));
      }
      case 'mail.open': {
        const { seq } = effect;
        return (this.options.sealer ?? NO_SEALER).open(effect.sealed, (plaintext) => this.input({ type: 'mail.opened', seq, plaintext }));
      }
    }
  }

  /** The store answers at once; what it answers (or a failure) goes back to the machine as an input. */
  private performHistory(effect: Extract<PeerEffect, { type: `history.${string}` }>): void {
    const store = this.options.history;
    try {
      switch (effect.type) {
        case 'history.append':
          if (store === undefined) return;
          store.append(effect.account, effect.entry);
          if (effect.confirm) this.input({ type: 'history.stored', friend: effect.entry.friend, id: effect.entry.id });
          return;
        case 'history.mark':
          store?.mark(effect.account, effect.mark);
          return;
        case 'history.fail-queued':
          store?.failQueued(effect.account, effect.friend);
          return;
        case 'history.fail-queued-except':
          store?.failQueuedExcept(effect.account, effect.friends);
          return;
        case 'history.friendships-seen':
          store?.friendshipsSeen(effect.account, effect.friends);
          return;
        case 'history.page':
          if (store === undefined) return this.input({ type: 'history.failed', queryId: effect.queryId });
          return this.input({ type: 'history.answer', queryId: effect.queryId, messages: store.page(effect.account, effect.friend, effect.limit, effect.before) });
        case 'history.search':
          if (store === undefined) return this.input({ type: 'history.failed', queryId: effect.queryId });
          return this.input({ type: 'history.answer', queryId: effect.queryId, messages: store.search(effect.account, effect.text, effect.friend, effect.limit) });
      }
    } catch (error) {
      this.hooks.onNote?.({ event: 'history.failed', operation: effect.type, error });
      if (effect.type === 'history.page' || effect.type === 'history.search') this.input({ type: 'history.failed', queryId: effect.queryId });
    }
  }

  private fileResult(transferId: string, error: Error | null, then: PeerInput | null): void {
    if (error !== null) {
      this.hooks.onNote?.({ event: 'file.io.failed', transferId, error });
      return this.input({ type: 'file.io-failed', transferId });
    }
    if (then !== null) this.input(then);
  }

  // ---- streams ----------------------------------------------------------------------------------

  private connectServer(linkId: number, host: string, port: number): void {
    const events: StreamEvents = {
      onOpen: () => {
        this.hooks.onNote?.({ event: 'server.connected', host, port });
        this.input({ type: 'server.open', linkId, localAddress: this.hooks.localAddressOf?.(stream) ?? null });
      },
      onData: (bytes) => this.input({ type: 'server.bytes', linkId, bytes }),
      onDrain: () => {},
      onClose: (error) => {
        this.hooks.onNote?.({ event: 'server.closed', error });
        // A link the machine closed itself (or a stream of a stopped host): nothing to tell.
        if (this.serverStreams.get(linkId) !== stream) return;
        this.serverStreams.delete(linkId);
        this.input({ type: 'server.closed', linkId, error });
      },
    };
    const stream = (this.options.serverTransport ?? this.options.transport).connect(host, port, events);
    this.serverStreams.set(linkId, stream);
  }

  private accept(stream: Stream): void {
    if (this.stoppedFlag) return stream.reset();
    const streamId = `in:${this.nextAcceptedId++}`;
    this.p2pStreams.set(streamId, stream);
    stream.setEvents(this.p2pEvents(streamId, false));
    this.hooks.onNote?.({ event: 'p2p.accepted', streamId, remote: `${stream.remoteAddress}:${stream.remotePort}` });
    this.input({ type: 'p2p.accepted', streamId, remoteAddress: stream.remoteAddress, peerKey: stream.peerKey ?? null });
  }

  private p2pEvents(streamId: string, outgoing: boolean): StreamEvents {
    return {
      onOpen: () => {
        if (outgoing) this.input({ type: 'p2p.open', streamId, peerKey: this.p2pStreams.get(streamId)?.peerKey ?? null });
      },
      onData: (bytes) => this.input({ type: 'p2p.bytes', streamId, bytes }),
      onDrain: () => this.reportFlushed(streamId),
      onClose: (error) => {
        this.hooks.onNote?.({ event: 'p2p.closed', streamId, error });
        // Gone already when the host was aborted: nothing to tell.
        if (!this.p2pStreams.delete(streamId)) return;
        this.p2pDataWritten.delete(streamId);
        // Whatever the socket still held goes with it: those chunks are left to the garbage collector.
        this.p2pUnflushed.delete(streamId);
        this.input({ type: 'p2p.closed', streamId, error });
      },
    };
  }

  private writeData(streamId: string, wireStream: number, offset: number, bytes: Uint8Array): void {
    const stream = this.p2pStreams.get(streamId);
    if (stream === undefined) return;
    const header = encodeDataHeader(wireStream, offset, bytes.byteLength);
    const writes = (): void => {
      stream.write(header);
      stream.write(bytes);
    };
    if (this.hooks.writeTogether === undefined) writes();
    else this.hooks.writeTogether(stream, writes);
    const written = (this.p2pDataWritten.get(streamId) ?? 0) + header.byteLength + bytes.byteLength;
    this.p2pDataWritten.set(streamId, written);
    // Stryker disable next-line ConditionalExpression: kept for a port without `released` too, the chunks would go only with the stream (memory, nothing a port sees)
    if (this.files.released !== undefined) {
      let unflushed = this.p2pUnflushed.get(streamId);
      if (unflushed === undefined) {
        unflushed = [];
        this.p2pUnflushed.set(streamId, unflushed);
      }
      unflushed.push({ end: written, bytes });
    }
    this.reportFlushed(streamId);
  }

  /** Tells the machine how many data bytes have left the stream's queue (control frames still queued count as data: safe). */
  private reportFlushed(streamId: string): void {
    const stream = this.p2pStreams.get(streamId);
    const written = this.p2pDataWritten.get(streamId);
    if (stream === undefined || written === undefined) return;
    const flushed = Math.max(0, written - stream.bufferedBytes);
    this.releaseFlushed(streamId, flushed);
    this.input({ type: 'p2p.flushed', streamId, bytes: flushed });
  }

  /**
   * Hands the port back the chunks wholly flushed. `flushed` never overstates: control frames still
   * queued count against it (see reportFlushed), so a chunk is released only once the stream no
   * longer holds it.
   */
  private releaseFlushed(streamId: string, flushed: number): void {
    const unflushed = this.p2pUnflushed.get(streamId);
    // The list exists exactly when the port wants releases (writeData) and data was written, so either half alone decides.
    // Stryker disable next-line ConditionalExpression,LogicalOperator: see the line above
    if (unflushed === undefined || this.files.released === undefined) return;
    let done = 0;
    while (done < unflushed.length && (unflushed[done] as UnflushedChunk).end <= flushed) done++;
    // Stryker disable next-line ConditionalExpression: an empty splice hands back nothing; skipping it only saves an array per flush report
    if (done === 0) return;
    for (const chunk of unflushed.splice(0, done)) this.files.released(chunk.bytes);
  }
}
