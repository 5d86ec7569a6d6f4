/**
 * Runs a ServerMachine over a Transport: the glue the TCP server (cli/) and the simulator (sim/)
 * share, so both run the very same code path from bytes in to bytes out. It owns no I/O of its
 * own: streams, the clock, the store and the password hasher are all passed in.
 *
 * One frame's trip: stream.onData(bytes) → machine.handle({type:'bytes'}) → machine.takeEffects()
 * → persist ops applied to the store (one atomic batch) → frames encoded and written to streams.
 */
import { encodeControl } from '../codec.ts';
import { errorMessage } from '../errors.ts';
import { SEND_QUEUE_BYTES_MAX } from '../limits.ts';
import type { AccountStore, StoreOp, StoreRefusal } from '../store.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../transport.ts';
import { EffectPump } from '../effect-pump.ts';
import { Wakeup } from '../wakeup.ts';
import type { ServerFrame } from '../frames.ts';
import type { ConnId, ServerEffect, ServerInput, ServerMachine } from './machine.ts';
import type { ClusterRouter } from './cluster.ts';

/**
 * The ack of a heartbeat sent without an id never changes, and it is most of what a server
 * writes: encoded once (receivers only read the bytes, as with a fan-out's shared frame).
 */
const HEARTBEAT_ACK_BYTES = encodeControl({ type: 'heartbeat.ack' } satisfies ServerFrame);

/** How often one flush may loop on effects that caused more effects. */
const FLUSH_ROUNDS_MAX = 4;

/**
 * Password hashing off the machine: scrypt on a thread pool in cli/, a simulated cost in sim/.
 * `done` must be called later, never from inside hash() or verify().
 */
export interface PasswordHasher {
  hash(password: string, done: (passwordHash: string | null) => void): void;
  /** passwordHash null: no such user; take as long as a real check anyway, then say false. */
  verify(password: string, passwordHash: string | null, done: (ok: boolean) => void): void;
}

export interface ServerHostHooks {
  /** Every effect, after it was carried out (metrics, logs). */
  onEffect?(effect: ServerEffect): void;
  onConnectionOpened?(connId: ConnId, remoteAddress: string): void;
  onConnectionClosed?(connId: ConnId): void;
  /** The store refused a batch (nothing of it committed); the process goes on. */
  onStoreRefused?(refusal: StoreRefusal, ops: readonly StoreOp[]): void;
  /**
   * The store could not be reached and withdrew a batch the machine had already applied to its
   * memory: the owner reads the store again once it answers (the machine's memory is ahead of it).
   */
  onStoreUnavailable?(refusal: StoreRefusal, ops: readonly StoreOp[]): void;
}

export interface ServerHostOptions {
  readonly machine: ServerMachine;
  readonly transport: Transport;
  readonly store: AccountStore;
  readonly hasher: PasswordHasher;
  readonly clock: Clock;
  readonly hooks?: ServerHostHooks;
  /** A slow reader is reset once this many bytes wait in its send queue. */
  readonly sendQueueBytesMax?: number;
  /**
   * One node of a cluster (core/server/cluster.ts): sends to proxy connections, committed ops and
   * the machine's announcements go over the bus; the router feeds what other nodes say back in.
   */
  readonly cluster?: ClusterRouter;
}

export class ServerHost {
  readonly machine: ServerMachine;
  private readonly options: ServerHostOptions;
  private readonly connections = new Map<ConnId, HostConnection>();
  private nextConnId = 1;
  private listener: Listener | null = null;
  private readonly wakeup: Wakeup;
  /** The cluster's lease beats and checks (absent on a single node). */
  private readonly clusterWakeup: Wakeup | null;
  private readonly pump = new EffectPump<ServerEffect>(
    () => this.machine.takeEffects(),
    (effects) => this.performAll(effects),
    FLUSH_ROUNDS_MAX,
  );
  private lastFrame: ServerFrame | null = null;
  /** True from a batch the store could not take to the end of that round of effects (reset as each round starts). */
  private withheld = false;
  /** Users attached here by the batch being performed, whose stored mail is read after it (readStoredMail). */
  private attachedInBatch: string[] = [];
  private lastFrameBytes: Uint8Array = new Uint8Array(0);
  /** Encoded frozen frames: an unchanging object always encodes to the same bytes. */
  private readonly constantFrameBytes = new WeakMap<ServerFrame, Uint8Array>();

  constructor(options: ServerHostOptions) {
    this.options = options;
    this.machine = options.machine;
    this.wakeup = new Wakeup(options.clock, (nowMs) => {
      this.machine.handleTimeout(nowMs);
      this.flush();
    });
    const cluster = options.cluster;
    this.clusterWakeup =
      cluster === undefined
        ? null
        : new Wakeup(options.clock, (nowMs) => {
            cluster.tick(nowMs);
            this.flush();
          });
  }

  /** Joins the cluster (asks the other nodes who they hold); again after the bus came back. */
  joinCluster(): void {
    this.options.cluster?.join(this.options.clock.nowMs());
    this.flush();
  }

  listen(host: string, port: number, onReady: (result: Listener | Error) => void): void {
    this.options.transport.listen(host, port, (stream) => this.accept(stream), (result) => {
      if (!(result instanceof Error)) this.listener = result;
      onReady(result);
    });
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  /** Stops accepting, tells every client, closes every connection. */
  shutdown(): void {
    this.listener?.close();
    this.listener = null;
    this.input({ type: 'shutdown' });
    this.wakeup.clear();
    this.clusterWakeup?.clear();
  }

  /** Feeds one input at the clock's time and carries out what the machine asks. */
  input(input: ServerInput): void {
    this.machine.handle(input, this.options.clock.nowMs());
    this.flush();
  }

  private accept(stream: Stream): void {
    const connection = new HostConnection(this, this.nextConnId++, stream);
    this.connections.set(connection.connId, connection);
    stream.setEvents(connection);
    this.options.hooks?.onConnectionOpened?.(connection.connId, stream.remoteAddress);
    this.input({ type: 'open', connId: connection.connId, remoteAddress: stream.remoteAddress });
  }

  /** The stream of a connection the machine has not closed yet ended (called by its HostConnection). */
  streamClosed(connId: ConnId): void {
    if (!this.connections.delete(connId)) return;
    this.options.hooks?.onConnectionClosed?.(connId);
    this.input({ type: 'closed', connId });
  }

  private flush(): void {
    // Performing effects can feed the machine again (a slow reader cut off): the pump drains
    // until quiet, a bounded number of rounds.
    if (!this.pump.pump()) return;
    this.wakeup.set(this.machine.nextTimeoutMs());
    const cluster = this.options.cluster;
    if (cluster !== undefined) {
      cluster.flushOut();
      this.clusterWakeup?.set(cluster.nextTickMs());
    }
  }

  private performAll(effects: readonly ServerEffect[]): void {
    // Made only when a batch has persist ops: most batches are a frame or two to send.
    let ops: StoreOp[] | null = null;
    this.withheld = false;
    let performed: ServerEffect[] | null = null;
    for (const [index, effect] of effects.entries()) {
      if (effect.type === 'persist') {
        (ops ??= []).push(effect.op);
        continue;
      }
      // Commit what was persisted before anything that might announce it goes out.
      if (ops !== null) {
        this.commit(ops, true);
        ops = null;
      }
      if (this.withheld && effect.type === 'send') {
        // What a batch the store did not commit would have said is not sent (nor logged as sent).
        performed ??= effects.slice(0, index);
        const instead = withheldSend(effect);
        if (instead === null) continue;
        this.perform(instead);
        performed.push(instead);
        continue;
      }
      if (this.withheld && effect.type === 'announce' && effect.item.kind === 'attached') {
        // A login whose batch (its identity keys) was withdrawn is answered SERVER_DEGRADED: the
        // client drops that link, so the other nodes are not told the user is held here. (An
        // `offline` still goes: a user gone from here must not stay online elsewhere.)
        performed ??= effects.slice(0, index);
        continue;
      }
      this.perform(effect);
      performed?.push(effect);
    }
    if (ops !== null) this.commit(ops, true);
    this.readStoredMail();
    const onEffect = this.options.hooks?.onEffect;
    if (onEffect !== undefined) for (const effect of performed ?? effects) onEffect(effect);
  }

  /**
   * Users who attached here in this batch get their mail as the shared store holds it (any node
   * may have queued some this one never heard of), read after the batch's own ops are committed
   * (receipts just told are gone). Fed straight in: the pump takes its effects next round.
   */
  private readStoredMail(): void {
    if (this.attachedInBatch.length === 0) return;
    const usernames = this.attachedInBatch;
    this.attachedInBatch = [];
    for (const username of usernames) {
      const held = this.options.store.heldMailOf?.(username) ?? null;
      if (held !== null) this.machine.handle({ type: 'stored.mail', username, held }, this.options.clock.nowMs());
    }
  }

  /**
   * Commits a batch; once committed, the other nodes of a cluster hear of it. A refused batch
   * (a key another node took first) is said, never thrown: the process goes on. The machine
   * already applied a plain persist batch to its memory, so it reads the truth again; a `commit`
   * effect's batch the machine applies only once it is told it was taken.
   */
  private commit(ops: readonly StoreOp[], machineApplied: boolean): StoreRefusal | null {
    // After a batch the store could not take, the rest of the effects are not tried: the store is
    // away (each try would hold this thread for the store's whole wait), and the memory is read again.
    const refused = this.withheld ? STORE_AWAY : this.options.store.apply(ops);
    if (refused === null) {
      this.options.cluster?.committed(ops);
      return null;
    }
    if (refused.unavailable === true) {
      // Withdrawn: never committed, so nothing of it is announced. The sends after it in this
      // round are withheld (withheldSend); the memory the machine changed is read again once the
      // store answers (the owner's hook), since it cannot be read now.
      this.withheld = true;
      if (machineApplied) this.options.hooks?.onStoreUnavailable?.(refused, ops);
      return refused;
    }
    this.options.hooks?.onStoreRefused?.(refused, ops);
    if (machineApplied) this.machine.handle({ type: 'remote.snapshot', snapshot: this.options.store.load() }, this.options.clock.nowMs());
    return refused;
  }

  private perform(effect: Exclude<ServerEffect, { type: 'persist' }>): void {
    switch (effect.type) {
      case 'send':
        // A user held on another node: its frame goes there over the bus.
        if (effect.connId < 0) return this.options.cluster?.deliver(effect.connId, effect.frame);
        return this.write(effect.connId, this.encode(effect.frame));
      case 'close': {
        const connection = this.connections.get(effect.connId);
        // The machine already forgot this connection; the stream's onClose finds nothing to do.
        this.connections.delete(effect.connId);
        connection?.stream.close();
        return;
      }
      case 'hash':
        return this.options.hasher.hash(effect.password, (passwordHash) =>
          this.input({ type: 'hashed', jobId: effect.jobId, passwordHash }),
        );
      case 'verify':
        return this.options.hasher.verify(effect.password, effect.passwordHash, (ok) =>
          this.input({ type: 'verified', jobId: effect.jobId, ok }),
        );
      case 'commit': {
        // Fed straight in, as stored mail is: the pump takes the answer's effects next round.
        // Not read again when refused: the machine never applied it, and a reload drops what only it knows (mail in flight, pushed again).
        const refused = this.commit(effect.ops, false);
        this.machine.handle(
          { type: 'committed', jobId: effect.jobId, refused: refused !== null, ...(refused?.unavailable === true ? { unavailable: true } : {}) },
          this.options.clock.nowMs(),
        );
        return;
      }
      case 'announce':
      case 'forward':
        // A store without heldMailOf answers null for each (readStoredMail): nothing to read, nothing done.
        if (effect.type === 'announce' && effect.item.kind === 'attached') this.attachedInBatch.push(effect.item.username);
        return this.options.cluster?.perform(effect);
    }
  }

  /**
   * Encodes a frame, once for a run of sends of the same frame object (a presence fan-out), and
   * once for good for a frozen one (the machine's shared constants, such as the welcome).
   */
  private encode(frame: ServerFrame): Uint8Array {
    if (frame.type === 'heartbeat.ack' && frame.re === undefined) return HEARTBEAT_ACK_BYTES;
    if (Object.isFrozen(frame)) {
      let bytes = this.constantFrameBytes.get(frame);
      if (bytes === undefined) {
        bytes = encodeControl(frame);
        this.constantFrameBytes.set(frame, bytes);
      }
      return bytes;
    }
    if (frame !== this.lastFrame) {
      this.lastFrame = frame;
      this.lastFrameBytes = encodeControl(frame);
    }
    return this.lastFrameBytes;
  }

  private write(connId: ConnId, bytes: Uint8Array): void {
    const stream = this.connections.get(connId)?.stream;
    if (stream === undefined) return;
    stream.write(bytes);
    if (stream.bufferedBytes > (this.options.sendQueueBytesMax ?? SEND_QUEUE_BYTES_MAX)) {
      // A reader that cannot keep up would hold memory without bound: cut it off.
      this.connections.delete(connId);
      stream.reset();
      this.options.hooks?.onConnectionClosed?.(connId);
      this.machine.handle({ type: 'closed', connId }, this.options.clock.nowMs());
    }
  }
}

/** What a batch after one the store could not take gets, untried. */
const STORE_AWAY: StoreRefusal = Object.freeze({ reason: 'a batch before it in the same round was not committed', unavailable: true });

/**
 * In place of a frame that followed a batch the store did not commit: the answer to a request
 * (a frame carrying `re`) becomes SERVER_DEGRADED for that request, so the client knows it was
 * not done and may send it again (a mail under the same message id is held once); a notice of the
 * change to anyone else is dropped. Errors and heartbeat acks announce nothing and go as they are.
 */
export function withheldSend(effect: Extract<ServerEffect, { type: 'send' }>): Extract<ServerEffect, { type: 'send' }> | null {
  const frame = effect.frame;
  if (frame.type === 'error' || frame.type === 'heartbeat.ack') return effect;
  if (!('re' in frame)) return null;
  return {
    type: 'send',
    connId: effect.connId,
    frame: { type: 'error', re: frame.re, code: 'SERVER_DEGRADED', message: errorMessage('SERVER_DEGRADED'), detail: 'the database did not commit it: it was not done' },
  };
}

/**
 * One accepted connection: its stream, and the handler of the stream's events. Methods on one
 * object rather than a set of closures per connection: a server holds tens of thousands of them.
 */
class HostConnection implements StreamEvents {
  constructor(
    private readonly host: ServerHost,
    readonly connId: ConnId,
    readonly stream: Stream,
  ) {}

  onOpen(): void {}

  onData(bytes: Uint8Array): void {
    this.host.input({ type: 'bytes', connId: this.connId, bytes });
  }

  onDrain(): void {}

  onClose(): void {
    this.host.streamClosed(this.connId);
  }
}
