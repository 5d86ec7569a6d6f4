/**
 * The client runtime: runs the pure PeerMachine (core/peer/machine.ts) in the real world. The
 * network half (server link, P2P streams and listener over a Transport, timers on a Clock, the
 * effect pump, sender backpressure) is the PeerHost of core/peer/host.ts, the same code the
 * simulator's peers run; this file adds what is real-world only: files on node:fs
 * (NodePeerFiles, file-io.ts), TCP's corked writes and local address, logs, ISO times on events,
 * and the listeners of the headless client (headless.ts) and the dashboard, which share this one
 * client core.
 *
 * The server link speaks TLS when the runtime is given ServerPins (known-servers.ts): its own
 * TcpTransport checks the server's certificate against the pin before the machine hears that the
 * link is open, and a refusal closes the link with SERVER_KEY_CHANGED; with --tls off it is a
 * plain TcpTransport of its own, with a connect deadline (CONNECT_TIMEOUT_MS). The P2P streams use
 * `transport` as they are.
 *
 * Data path of a file chunk: FileReader reads into a fresh buffer → the machine passes that
 * buffer through as a `p2p.data` effect → the host writes the 18-byte header and the buffer to
 * the socket (corked together here): no base64, no copy, no JSON per chunk.
 */
import type { Logger } from 'pino';
import { type UserCommand } from '../../core/peer/commands.ts';
import type { ClientEvent, ClientEventLine } from '../../core/peer/events.ts';
import type { HistoryStore, MessageId } from '../../core/peer/history.ts';
import { PeerHost, type PeerHostNote } from '../../core/peer/host.ts';
import { type PeerConfig, type PeerEffect, PeerMachine } from '../../core/peer/machine.ts';
import type { Clock, Listener, Stream, Transport } from '../../core/transport.ts';
import { CONNECT_TIMEOUT_MS, TcpTransport, forgetsSessions } from '../net/tcp-transport.ts';
import { peerSessionsForgottenBy } from '../net/peer-sessions.ts';
import { identitySealer } from '../crypto/sealed-box.ts';
import { NodePeerFiles, prepareFile, sweepOrphanedParts } from './file-io.ts';
import { KNOWN_SERVERS_FAILED, type PinVerdict, type ServerKeyCheck } from './known-servers.ts';
import type { ClientIdentity } from './identity-keys.ts';
import type { KnownPeers } from './known-peers.ts';
import { FriendKeys } from './friend-keys.ts';
import type { RuntimeHistory } from './history-store.ts';

/** What the runtime prints: a contract event with its ISO time (one line of the vocabulary). */
export type TimedEvent = ClientEventLine;

export interface ClientRuntimeOptions {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly p2pHost: string;
  readonly p2pPort: number;
  readonly downloadDir: string;
  readonly machine: Partial<Omit<PeerConfig, 'serverHost' | 'serverPort'>>;
  /** The P2P transport. */
  readonly transport: Transport;
  /** TLS to the server, pinned by these; null: the server link is plain TCP (--tls off). */
  readonly serverPins: ServerKeyCheck | null;
  /**
   * Where what was said is kept (history-store.ts); null: nothing is kept. With the runtime's
   * part (RuntimeHistory) too: each login.ok fails what a stopped program left in flight and
   * tells the machine the read receipts still owed; a chat.read with no session open is kept.
   */
  readonly history?: (HistoryStore & Partial<RuntimeHistory>) | null;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Our identity keys (identity-keys.ts): registered at sign-up and login; absent: none (raw tests). */
  readonly identity?: ClientIdentity | null;
  /** The friends' keys this data dir knew (known-peers.ts): absent, key changes are not tracked. */
  readonly knownPeers?: KnownPeers | null;
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
  /**
   * What the server pin check said before the machine's `ready` (the handshake ends before the
   * welcome that makes the machine ready): held so that `ready` stays the first line. Few: each
   * fingerprint is told once. null once `ready` went out.
   */
  private heldUntilReady: ClientEvent[] | null = [];
  /** Safety numbers on friend views, key-change warnings, the `fingerprint` command. */
  private readonly friendKeys: FriendKeys;

  constructor(options: ClientRuntimeOptions) {
    this.options = options;
    this.log = options.logger;
    this.files = new NodePeerFiles(options.downloadDir);
    const identity = options.identity ?? null;
    this.friendKeys = new FriendKeys(identity?.publicKeys ?? null, options.knownPeers ?? null, (error) =>
      this.log.warn({ event: 'known-peers.failed', err: error }, 'the known-peers file could not be read or written'),
    );
    this.machine = new PeerMachine({ ...options.machine, identity: identity?.publicKeys ?? null, serverHost: options.serverHost, serverPort: options.serverPort });
    const pins = options.serverPins;
    // Its own transport either way, with a connect deadline either way: the TLS handshake timer,
    // or CONNECT_TIMEOUT_MS on plain TCP (without it a server that never answered held `ready`
    // for the kernel's two minutes). The P2P transport has none: the hello timer ends its connects.
    const serverTransport =
      pins === null
        ? new TcpTransport({ connectTimeoutMs: CONNECT_TIMEOUT_MS })
        : new TcpTransport({ tlsClient: { verifyServer: (host, port, fingerprint) => this.verifyServer(pins, host, port, fingerprint) } });
    this.host = new PeerHost({
      machine: this.machine,
      transport: options.transport,
      serverTransport,
      clock: options.clock,
      files: this.files,
      ...(options.history == null ? {} : { history: options.history }),
      // Offline messages are sealed for friends' keys and opened with our own X25519 identity key.
      ...(identity === null ? {} : { sealer: identitySealer(identity.sealPrivateKey) }),
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
    // Beside the start, not before it: a large download directory must not hold up `ready`.
    void sweepOrphanedParts(this.options.downloadDir, Date.now()).then(
      (deleted) => {
        if (deleted.length > 0) this.log.info({ event: 'downloads.orphans-deleted', files: deleted }, 'temporary files of transfers that died with an earlier client deleted');
      },
      (error: unknown) => this.log.warn({ event: 'downloads.sweep-failed', err: error }, 'the download directory could not be swept for orphaned temporary files'),
    );
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
    if (command.cmd === 'chat.read') this.keepOwedReceipt(command.username, command.id);
    if (command.cmd === 'fingerprint') {
      this.emit(this.friendKeys.fingerprint(command.username), tag);
      return;
    }
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

  /** The P2P transport's resumable sessions (tickets kept in memory) go as peerSessionsForgottenBy says. */
  private forgetPeerSessions(event: ClientEvent): void {
    const transport = this.options.transport;
    const forgotten = peerSessionsForgottenBy(event);
    if (forgotten !== null && forgetsSessions(transport)) transport.forgetSessions(forgotten.peer);
  }

  /** The TLS pin check of each server handshake: what it tells the user is emitted and logged here. */
  private verifyServer(pins: ServerKeyCheck, host: string, port: number, fingerprint: string): string | null {
    let verdict: PinVerdict;
    try {
      verdict = pins.verify(host, port, fingerprint);
    } catch (error) {
      // The pins could not be read or written (an unreadable or oversized known-servers file, a
      // read-only data dir): without them the certificate cannot be checked, so it is refused.
      const message = `cannot check the server's certificate against the pinned one: ${(error as Error).message}`;
      verdict = { refusal: KNOWN_SERVERS_FAILED, events: [{ event: 'error', code: KNOWN_SERVERS_FAILED, message }] };
    }
    if (verdict.refusal !== null) this.log.error({ event: 'server.key.refused', host, port, fingerprint, code: verdict.refusal }, 'server certificate refused');
    else this.log.info({ event: 'server.key', host, port, fingerprint }, 'server certificate accepted');
    for (const event of verdict.events) {
      if (this.heldUntilReady === null) this.emit(event);
      else this.heldUntilReady.push(event);
    }
    return verdict.refusal;
  }

  private emit(event: ClientEvent, tag?: number): void {
    this.forgetPeerSessions(event);
    if (event.event === 'login.ok') {
      this.settleInterrupted(event.username);
      this.tellOwedReceipts(event.username);
    }
    if (event.event === 'chat.opened' || event.event === 'friend.removed') this.owedReceiptGone(event.username);
    const { shown, changes } = this.friendKeys.onEvent(event);
    const timed: TimedEvent = { ...shown, at: new Date(this.options.clock.nowMs()).toISOString() };
    for (const listener of this.eventListeners) listener(timed, tag);
    for (const change of changes) {
      this.log.warn({ ...change }, change.event === 'peer.key.changed' ? "a friend's identity key changed" : 'friend keys');
      this.emit(change);
    }
    if (event.event !== 'ready' || this.heldUntilReady === null) return;
    const held = this.heldUntilReady;
    this.heldUntilReady = null;
    for (const heldEvent of held) this.emit(heldEvent);
  }

  /**
   * A chat.read with no session open with the friend: the machine holds the receipt for the next
   * session, in memory; the store keeps it too (receipts_owed), so a program that stops first
   * tells it after its next login. Not with read receipts off (nothing is told then).
   */
  private keepOwedReceipt(friend: string, id: MessageId): void {
    const account = this.machine.username;
    if (account === null || this.options.machine.readReceipts === false || this.machine.openSessions().includes(friend)) return;
    this.historyStep(() => this.options.history?.oweReceipt?.(account, friend, id));
  }

  /** A session with the friend opened (the machine sent what it owed them) or the friendship ended. */
  private owedReceiptGone(friend: string): void {
    const account = this.machine.username;
    if (account !== null) this.historyStep(() => this.options.history?.receiptTold?.(account, friend));
  }

  /**
   * At a login, the receipts the account still owes (a program stopped before their sessions)
   * are given to the machine again as the chat.read they came from, after this event's turn (the
   * host is handing its effects out now): each marks history (no change: it was marked) and
   * waits for the friend's next session.
   */
  private tellOwedReceipts(account: string): void {
    let owed: ReadonlyArray<{ readonly friend: string; readonly id: MessageId }> = [];
    this.historyStep(() => {
      owed = this.options.history?.owedReceipts?.(account) ?? [];
    });
    if (owed.length === 0) return;
    queueMicrotask(() => {
      if (this.host.stopped || this.machine.username !== account) return;
      for (const { friend, id } of owed) this.host.input({ type: 'command', command: { cmd: 'chat.read', username: friend, id } });
    });
  }

  private historyStep(step: () => void): void {
    try {
      step();
    } catch (error) {
      this.log.warn({ event: 'history.failed', err: error }, 'the history store failed on a read receipt owed');
    }
  }

  /**
   * A login (not a resume: sessions outlive those) begins with nothing in flight for the account,
   * so what its history still shows `sending` or `offered` was left by a program that stopped.
   */
  private settleInterrupted(account: string): void {
    try {
      const settled = this.options.history?.settleInterrupted?.(account) ?? 0;
      if (settled > 0) this.log.info({ event: 'history.settled', account, records: settled }, 'records a stopped program left in flight marked failed');
    } catch (error) {
      this.log.warn({ event: 'history.failed', err: error }, 'records left in flight could not be marked failed');
    }
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
