/**
 * The peer machine: everything a client does, as a pure state machine. It speaks to the server
 * over one link (sign-up, login, friends, presence, heartbeats, session brokering, reconnect with
 * a resume token), to friends over authenticated P2P channels (chat and files), and to its user
 * through the events of the headless client contract.
 *
 * Theory of operation
 * -------------------
 * Inputs go in through `handle(input, nowMs)` and `handleTimeout(nowMs)`; effects come out of
 * `takeEffects()` as data; `nextTimeoutMs()` says when the machine next needs a timeout call
 * (early or repeated calls are harmless). It never reads a clock, never does I/O, and its only
 * "randomness" (reconnect jitter) comes from a seed in its config. The runtime (cli/client/)
 * carries out the effects over TCP and the file system; the simulator can carry them out in
 * memory.
 *
 * Server link:
 *
 *   Connecting ──open──▶ ExpectWelcome ──welcome──▶ Up ──closed / silent for ttlMs──▶ Down
 *   Down ──backoff timer──▶ Connecting
 *
 * While logged in, the machine heartbeats every heartbeatMs (from the welcome). When an Up link
 * drops it emits `disconnected`, reconnects with exponential backoff and jitter, and on the new
 * link sends `resume` with the token from login.ok (the server kept it online meanwhile, so the
 * friends see no flap); if the server forgot the token (it restarted), it logs in again with the
 * password it holds in memory. Then it emits `reconnected`. Open P2P channels are untouched.
 *
 * P2P channel (one TCP stream per open session):
 *
 *   caller: Connecting ──open──▶ ExpectHelloOk (hello sent) ──hello.ok──▶ Open
 *   callee: ExpectHello ──hello with the one-time token it holds for that caller──▶ Open
 *           ExpectHello ──anything else──▶ error BAD_SESSION_TOKEN, closed
 *
 * The callee holds a token from its session.established (role callee) until it is used once or
 * P2P_HELLO_TIMEOUT_MS passes. Chat messages carry ids and are acknowledged; TCP keeps their
 * order; `chat.sent` is emitted on the ack. Files: see transfer.ts. When an Open channel drops,
 * unacknowledged messages are reported undelivered and transfers are suspended; they resume when
 * a new session with the same friend opens (either side may open it), or fail after
 * TRANSFER_RESUME_WAIT_MS.
 *
 * Sender backpressure: the machine counts the data-frame bytes it has handed to each P2P stream,
 * and the runtime reports how many of them have left the stream's send queue (`p2p.flushed`, a
 * running total, after each data write and on drain). A chunk read starts only while the bytes
 * still queued plus the reads in flight on that stream stay within P2P_SEND_QUEUE_BYTES_MAX; a
 * report that frees room restarts the reads, in turn across the stream's transfers. A running
 * total, not a queue size, so a report cannot forget data frames the runtime has not written yet.
 */
import { DATA_HEADER_BYTES, FRAME_HEADER_BYTES, FrameDecoder } from '../codec.ts';
import { type ErrorCode, errorMessage } from '../errors.ts';
import { type ClientFrame, type ServerFrame, type ServerFrameOf, serverFrameSchema } from '../frames.ts';
import {
  CHAT_UNACKED_MESSAGES_MAX,
  CONTROL_FRAME_BYTES_MAX,
  FILE_BYTES_MAX_DEFAULT,
  P2P_HELLO_TIMEOUT_MS,
  P2P_SEND_QUEUE_BYTES_MAX,
  P2P_UNAUTHENTICATED_STREAMS_MAX,
  QUIT_LOGOUT_WAIT_MS,
  SERVER_REQUESTS_PENDING_MAX,
  TRANSFERS_ACTIVE_MAX,
  TRANSFER_OUTCOMES_REMEMBERED_MAX,
  TRANSFER_RESUME_WAIT_MS,
  TTL_MS_DEFAULT,
  HEARTBEATS_PER_TTL,
} from '../limits.ts';
import { Deadlines } from '../deadlines.ts';
import { tokensEqual } from '../tokens.ts';
import { Backoff } from './backoff.ts';
import type { PeerCommand, PreparedFile } from './commands.ts';
import type { ClientEvent } from './events.ts';
import { sanitizeFileName } from './file-names.ts';
import { type OfferedFile, type P2pFrame, type P2pFrameOf, P2P_FRAME_TYPES, p2pFrameSchema } from './frames.ts';
import { IncomingTransfer, OutgoingTransfer, type ReadGate, TRANSFER_TUNING_DEFAULTS, type TransferAction, type TransferTuning } from './transfer.ts';

const utf8 = new TextEncoder();
/** Room left in a control frame for the fields around a chat text. */
const FRAME_ENVELOPE_BYTES = 256;
/** What a data frame adds to its chunk on the wire. */
const DATA_FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + DATA_HEADER_BYTES;
/**
 * P2P channels take file data as it arrives (see FrameDecoder's dataFragments): a received chunk's
 * bytes go to the transfer as a view of it, so a data frame is never copied together first; the
 * transfer checks each piece's offset and credit limit as it would a frame.
 */
const P2P_DECODER_OPTIONS = { dataFragments: true } as const;

/** P2P streams: the machine names its outgoing ones ("out:N"); the runtime names accepted ones. */
export type StreamKey = string;

export type PeerInput =
  /** The P2P listener is up at this address: connect to the server. */
  | { readonly type: 'start'; readonly p2pHost: string; readonly p2pPort: number }
  /**
   * ref: the caller's tag for this command (the headless client's command queue): every event the
   * machine emits while handling it, or while handling the server's reply to it, carries it back
   * on its `event` effect, so answers (errors included) are matched exactly, not guessed.
   */
  | { readonly type: 'command'; readonly command: PeerCommand; readonly ref?: number }
  | { readonly type: 'server.open'; readonly linkId: number; readonly localAddress: string | null }
  | { readonly type: 'server.bytes'; readonly linkId: number; readonly bytes: Uint8Array }
  | { readonly type: 'server.closed'; readonly linkId: number; readonly error: string | null }
  | { readonly type: 'p2p.accepted'; readonly streamId: StreamKey; readonly remoteAddress: string }
  | { readonly type: 'p2p.open'; readonly streamId: StreamKey }
  | { readonly type: 'p2p.bytes'; readonly streamId: StreamKey; readonly bytes: Uint8Array }
  | { readonly type: 'p2p.closed'; readonly streamId: StreamKey; readonly error: string | null }
  /**
   * Of the data-frame bytes (header and chunk) written to the stream so far, `bytes` have left its
   * send queue: the runtime's running total of p2p.data bytes written, less Stream.bufferedBytes
   * (at least 0; control frames in the queue only make it smaller, which is safe). Reported after
   * each p2p.data write and on drain.
   */
  | { readonly type: 'p2p.flushed'; readonly streamId: StreamKey; readonly bytes: number }
  | { readonly type: 'file.chunk'; readonly transferId: string; readonly epoch: number; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'file.read-failed'; readonly transferId: string; readonly epoch: number }
  /** `offset`: the end of the written bytes after this write. */
  | { readonly type: 'file.written'; readonly transferId: string; readonly offset: number }
  | { readonly type: 'file.hashed'; readonly transferId: string; readonly sha256: string }
  | { readonly type: 'file.committed'; readonly transferId: string; readonly path: string }
  /** Any receiver-side file failure (open, write, flush, rename). */
  | { readonly type: 'file.io-failed'; readonly transferId: string };

export type PeerEffect =
  | { readonly type: 'server.connect'; readonly linkId: number; readonly host: string; readonly port: number }
  | { readonly type: 'server.send'; readonly linkId: number; readonly frame: ClientFrame }
  | { readonly type: 'server.close'; readonly linkId: number }
  | { readonly type: 'p2p.connect'; readonly streamId: StreamKey; readonly host: string; readonly port: number }
  | { readonly type: 'p2p.send'; readonly streamId: StreamKey; readonly frame: P2pFrame }
  | { readonly type: 'p2p.data'; readonly streamId: StreamKey; readonly wireStream: number; readonly offset: number; readonly bytes: Uint8Array }
  /** Graceful close (queued bytes are flushed first). */
  | { readonly type: 'p2p.close'; readonly streamId: StreamKey }
  | { readonly type: 'p2p.reset'; readonly streamId: StreamKey }
  | { readonly type: 'file.read'; readonly transferId: string; readonly epoch: number; readonly path: string; readonly offset: number; readonly bytes: number }
  | { readonly type: 'file.open'; readonly transferId: string }
  | { readonly type: 'file.write'; readonly transferId: string; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'file.finish'; readonly transferId: string }
  | { readonly type: 'file.commit'; readonly transferId: string; readonly name: string }
  | { readonly type: 'file.discard'; readonly transferId: string }
  /** ref: the tag of the command this event answers (see the `command` input), if any. */
  | { readonly type: 'event'; readonly event: ClientEvent; readonly ref?: number }
  /** The user quit and the logout is done (or timed out): the process may end. */
  | { readonly type: 'exit'; readonly code: number };

export interface PeerConfig {
  readonly serverHost: string;
  readonly serverPort: number;
  readonly autoAcceptChat: boolean;
  readonly autoAcceptFile: boolean;
  readonly fileBytesMax: number;
  /** Seeds the reconnect jitter. */
  readonly jitterSeed: number;
  /** Prefix of transfer and message ids, [A-Za-z0-9_-]: distinct per client run. */
  readonly idPrefix: string;
  /** The address friends should connect to; null: the listener's host, or our address as the server sees it. */
  readonly p2pAdvertiseHost: string | null;
  readonly testCommands: boolean;
  readonly tuning: TransferTuning;
}

export const PEER_CONFIG_DEFAULTS: PeerConfig = {
  serverHost: '127.0.0.1',
  serverPort: 12345,
  autoAcceptChat: false,
  autoAcceptFile: false,
  fileBytesMax: FILE_BYTES_MAX_DEFAULT,
  jitterSeed: 1,
  idPrefix: 'p',
  p2pAdvertiseHost: null,
  testCommands: false,
  tuning: TRANSFER_TUNING_DEFAULTS,
};

type LinkPhase = 'Connecting' | 'ExpectWelcome' | 'Up';

interface Link {
  readonly linkId: number;
  readonly decoder: FrameDecoder;
  phase: LinkPhase;
  localAddress: string | null;
  lastRxMs: number;
}

/** What a request to the server was, so its reply or error can be told to the right party. */
type PendingRequest =
  | { readonly kind: 'user'; readonly cmd: string }
  | { readonly kind: 'chat.open'; readonly username: string }
  | { readonly kind: 'login'; readonly username: string; readonly password: string }
  | { readonly kind: 'resume' }
  | { readonly kind: 'relogin' }
  | { readonly kind: 'logout' };

type ChannelPhase = 'Connecting' | 'ExpectHelloOk' | 'ExpectHello' | 'Open';

interface Channel {
  readonly streamId: StreamKey;
  readonly decoder: FrameDecoder;
  phase: ChannelPhase;
  /** The friend: known from the start for outgoing channels, from the hello for accepted ones. */
  username: string | null;
  readonly token: string | null;
  /**
   * A hello that arrived before our own session.established (the server tells the caller first,
   * and its hello can overtake our copy): parked until the token arrives or the hello times out.
   */
  parkedHello: P2pFrameOf<'hello'> | null;
}

interface Session {
  readonly username: string;
  readonly streamId: StreamKey;
  /** Ids of messages sent and not yet acknowledged, oldest first. */
  readonly unacked: Array<string | number>;
  /** Data-frame bytes handed to the stream, and how many of them the runtime reported gone. */
  sentBytes: number;
  flushedBytes: number;
  /** Where the next round of read restarts begins, so no transfer is always first. */
  pumpCursor: number;
}

type TimerKey = 'heartbeat' | 'reconnect' | 'quit' | `hello:${string}` | `token:${string}` | `resume-out:${string}` | `resume-in:${string}`;

export class PeerMachine {
  readonly config: PeerConfig;
  private effects: PeerEffect[] = [];
  private readonly timers = new Deadlines<TimerKey>();
  private readonly backoff: Backoff;

  private started = false;
  private readyEmitted = false;
  private p2pHost = '127.0.0.1';
  private p2pPort = 0;

  private link: Link | null = null;
  private nextLinkId = 1;
  private linkEverUp = false;
  private disconnectedReported = false;
  private heartbeatMs = Math.floor(TTL_MS_DEFAULT / HEARTBEATS_PER_TTL);
  private ttlMs = TTL_MS_DEFAULT;
  private readonly pending = new Map<number, PendingRequest>();
  /** The command ref of each pending request that has one (see the `command` input). */
  private readonly pendingRefs = new Map<number, number>();
  /** The ref every event emitted now carries: set while a command or the reply to one is handled. */
  private answering: number | undefined = undefined;
  /**
   * The server closed our not-logged-in link for idleness (UNAUTHENTICATED_TIMEOUT): not a loss
   * worth telling the user; the link comes back at once, without disconnected/reconnected.
   */
  private idleClosed = false;
  private nextRequestId = 1;

  /** Set by login.ok; the password stays in memory only, to log in again after a server restart. */
  private account: { username: string; password: string; resumeToken: string | null } | null = null;
  private authed = false;
  private quitting = false;
  private exited = false;

  /** chat.open sent, no answer yet: friend → server requestId (null until session.pending). */
  private readonly outgoingRequests = new Map<string, string | null>();
  /** session.incoming not yet answered: friend → requestId. */
  private readonly incomingRequests = new Map<string, string>();
  /** Friends we said yes to whose session.established has not arrived yet. */
  private readonly answeredYes = new Set<string>();
  /** One-time tokens we hold as callee: friend → token. */
  private readonly tokens = new Map<string, string>();
  private readonly channels = new Map<StreamKey, Channel>();
  private readonly sessions = new Map<string, Session>();
  private nextStreamSeq = 1;
  private nextMessageSeq = 1;

  private readonly transfersOut = new Map<string, OutgoingTransfer>();
  private readonly transfersIn = new Map<string, IncomingTransfer>();
  /** `${peer}\u0000${wireStream}` → transferId of an incoming transfer. */
  private readonly incomingByStream = new Map<string, string>();
  private nextTransferSeq = 1;
  /** Outcomes of finished incoming transfers, oldest first, to repeat to their senders. */
  private readonly recentOutcomes = new Map<string, { readonly peer: string; readonly frame: P2pFrame }>();
  /** Test-only cuts armed by `test.cut-p2p` with afterBytes: friend → bytes still to receive. */
  private readonly testCuts = new Map<string, number>();
  private nextWireStream = 1;

  constructor(config: Partial<PeerConfig> = {}) {
    this.config = { ...PEER_CONFIG_DEFAULTS, ...config };
    this.backoff = new Backoff(this.config.jitterSeed);
  }

  // ---- the machine's interface ----------------------------------------------------------------

  handle(input: PeerInput, nowMs: number): void {
    if (this.exited) return;
    switch (input.type) {
      case 'start':
        return this.onStart(input.p2pHost, input.p2pPort);
      case 'command':
        this.answering = input.ref;
        try {
          return this.onCommand(input.command, nowMs);
        } finally {
          this.answering = undefined;
        }
      case 'server.open':
        return this.onServerOpen(input.linkId, input.localAddress, nowMs);
      case 'server.bytes':
        return this.onServerBytes(input.linkId, input.bytes, nowMs);
      case 'server.closed':
        return this.onServerClosed(input.linkId, nowMs);
      case 'p2p.accepted':
        return this.onAccepted(input.streamId, nowMs);
      case 'p2p.open':
        return this.onP2pOpen(input.streamId, nowMs);
      case 'p2p.bytes':
        return this.onP2pBytes(input.streamId, input.bytes, nowMs);
      case 'p2p.closed':
        return this.onP2pClosed(input.streamId, nowMs);
      case 'p2p.flushed':
        return this.onFlushed(input.streamId, input.bytes, nowMs);
      case 'file.chunk':
        return this.withOutgoing(input.transferId, nowMs, (t) => t.chunk(input.epoch, input.offset, input.bytes, nowMs));
      case 'file.read-failed':
        return this.withOutgoing(input.transferId, nowMs, (t) => t.readFailed(input.epoch));
      case 'file.written':
        return this.withIncoming(input.transferId, nowMs, (t) => t.written(input.offset, nowMs));
      case 'file.hashed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.hashed(input.sha256));
      case 'file.committed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.committed(input.path));
      case 'file.io-failed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.ioFailed());
    }
  }

  handleTimeout(nowMs: number): void {
    for (let key = this.timers.popDue(nowMs); key !== null; key = this.timers.popDue(nowMs)) {
      if (this.exited) return;
      if (key === 'heartbeat') this.onHeartbeatTimer(nowMs);
      else if (key === 'reconnect') this.connectServer();
      else if (key === 'quit') this.finishQuit();
      else if (key.startsWith('hello:')) this.onHelloTimeout(key.slice(6));
      else if (key.startsWith('resume-out:')) this.withOutgoing(key.slice(11), nowMs, (t) => t.resumeTimedOut());
      else if (key.startsWith('resume-in:')) this.withIncoming(key.slice(10), nowMs, (t) => t.resumeTimedOut());
      else this.onTokenTimeout(key.slice(6));
    }
  }

  nextTimeoutMs(): number | null {
    return this.timers.nextMs();
  }

  takeEffects(): PeerEffect[] {
    const effects = this.effects;
    this.effects = [];
    return effects;
  }

  /** Read-only views for tests, the dashboard and the simulator's checkers. */
  get username(): string | null {
    return this.account?.username ?? null;
  }

  get loggedIn(): boolean {
    return this.authed;
  }

  /** A server connection is being made (or its welcome awaited): requests would fail now, not in a moment. */
  get serverLinkComing(): boolean {
    return this.link !== null && this.link.phase !== 'Up';
  }

  openSessions(): string[] {
    return [...this.sessions.keys()];
  }

  transferCount(): number {
    return this.transfersIn.size + this.transfersOut.size;
  }

  // ---- start, commands ------------------------------------------------------------------------

  private onStart(p2pHost: string, p2pPort: number): void {
    if (this.started) return;
    this.started = true;
    this.p2pHost = p2pHost;
    this.p2pPort = p2pPort;
    this.connectServer();
  }

  private onCommand(command: PeerCommand, nowMs: number): void {
    if (this.quitting) return;
    switch (command.cmd) {
      case 'signup':
        return this.request({ kind: 'user', cmd: 'signup' }, (id) => ({
          type: 'signup',
          id,
          username: command.username,
          password: command.password,
          ...(command.nickname === undefined ? {} : { nickname: command.nickname }),
        }));
      case 'login':
        return this.request({ kind: 'login', username: command.username, password: command.password }, (id) => ({
          type: 'login',
          id,
          username: command.username,
          password: command.password,
        }));
      case 'logout':
        return this.request({ kind: 'logout' }, (id) => ({ type: 'logout', id }));
      case 'friends':
        return this.request({ kind: 'user', cmd: 'friends' }, (id) => ({ type: 'friends.list', id }));
      case 'friend.request':
      case 'friend.accept':
      case 'friend.decline':
      case 'friend.remove':
      case 'friend.block':
      case 'friend.unblock':
        return this.request({ kind: 'user', cmd: command.cmd }, (id) => ({ type: command.cmd, id, username: command.username }));
      case 'chat.open':
        return this.onChatOpen(command.username);
      case 'chat.answer':
        return this.onChatAnswer(command.username, command.accept);
      case 'chat.send':
        return this.onChatSend(command.username, command.text, command.id);
      case 'chat.close':
        return this.onChatClose(command.username, nowMs);
      case 'file.send':
        return this.onFileSend(command.username, command.files, nowMs);
      case 'file.answer':
        return this.onFileAnswer(command.transferId, command.accept, nowMs);
      case 'file.cancel':
        return this.onFileCancel(command.transferId, nowMs);
      case 'quit':
        return this.onQuit(nowMs);
      case 'test.cut-p2p':
        return this.onTestCut(command.username, command.afterBytes);
    }
  }

  // ---- server link ----------------------------------------------------------------------------

  private connectServer(): void {
    if (this.quitting || this.link !== null) return;
    const linkId = this.nextLinkId++;
    this.link = { linkId, decoder: new FrameDecoder(), phase: 'Connecting', localAddress: null, lastRxMs: 0 };
    this.effects.push({ type: 'server.connect', linkId, host: this.config.serverHost, port: this.config.serverPort });
  }

  private currentLink(linkId: number): Link | null {
    return this.link !== null && this.link.linkId === linkId ? this.link : null;
  }

  private onServerOpen(linkId: number, localAddress: string | null, nowMs: number): void {
    const link = this.currentLink(linkId);
    if (link === null || link.phase !== 'Connecting') return;
    link.phase = 'ExpectWelcome';
    link.localAddress = localAddress;
    link.lastRxMs = nowMs;
  }

  private onServerBytes(linkId: number, bytes: Uint8Array, nowMs: number): void {
    const link = this.currentLink(linkId);
    if (link === null) return;
    link.lastRxMs = nowMs;
    link.decoder.push(bytes);
    for (let frame = link.decoder.next(); frame !== null; frame = link.decoder.next()) {
      if (frame.kind === 'error') return this.dropLink(link, nowMs);
      if (frame.kind === 'data') continue;
      const parsed = serverFrameSchema.safeParse(frame.message);
      // A frame we do not understand (a newer server) is skipped, not fatal.
      if (!parsed.success) continue;
      this.onServerFrame(link, parsed.data, nowMs);
      if (this.link !== link) return;
    }
  }

  private onServerClosed(linkId: number, nowMs: number): void {
    const link = this.currentLink(linkId);
    if (link === null) return;
    this.linkDown(nowMs);
  }

  /** We give up on the link ourselves (silent server, broken framing). */
  private dropLink(link: Link, nowMs: number): void {
    this.effects.push({ type: 'server.close', linkId: link.linkId });
    this.linkDown(nowMs);
  }

  private linkDown(nowMs: number): void {
    const link = this.link;
    if (link === null) return;
    this.link = null;
    this.authed = false;
    this.timers.disarm('heartbeat');
    for (const [requestId, request] of this.pending) {
      this.answering = this.pendingRefs.get(requestId);
      if (request.kind === 'chat.open') {
        this.outgoingRequests.delete(request.username);
        this.emit({ event: 'chat.failed', username: request.username, reason: 'server-unavailable' });
      } else if (request.kind === 'user' || request.kind === 'login') {
        this.emitError('SERVER_UNAVAILABLE', 'the server connection closed before the reply');
      }
    }
    this.answering = undefined;
    this.pending.clear();
    this.pendingRefs.clear();
    // The server asks again about requests still waiting on us when we resume.
    this.incomingRequests.clear();
    this.answeredYes.clear();
    if (this.quitting) return this.finishQuit();
    if (this.idleClosed) {
      this.idleClosed = false;
      return this.connectServer();
    }
    if (link.phase === 'Up' && !this.disconnectedReported) {
      this.disconnectedReported = true;
      this.emit({ event: 'disconnected' });
    }
    this.emitReady();
    this.timers.arm('reconnect', nowMs + this.backoff.nextDelayMs());
  }

  private sendServer(frame: ClientFrame): boolean {
    if (this.link === null || this.link.phase !== 'Up') return false;
    this.effects.push({ type: 'server.send', linkId: this.link.linkId, frame });
    return true;
  }

  /** Sends a request whose reply or error is matched by id. */
  private request(kind: PendingRequest, build: (id: number) => ClientFrame): void {
    if (this.link === null || this.link.phase !== 'Up') {
      if (kind.kind === 'chat.open') {
        this.outgoingRequests.delete(kind.username);
        return this.emit({ event: 'chat.failed', username: kind.username, reason: 'server-unavailable' });
      }
      return this.emitError('SERVER_UNAVAILABLE');
    }
    if (this.pending.size >= SERVER_REQUESTS_PENDING_MAX) return this.emitError('QUEUE_FULL', 'too many requests waiting for the server');
    const id = this.nextRequestId++;
    this.pending.set(id, kind);
    if (this.answering !== undefined) this.pendingRefs.set(id, this.answering);
    this.sendServer(build(id));
  }

  private onServerFrame(link: Link, frame: ServerFrame, nowMs: number): void {
    const request = 're' in frame && frame.re !== undefined ? this.pending.get(frame.re) : undefined;
    if ('re' in frame && frame.re !== undefined) {
      this.answering = this.pendingRefs.get(frame.re);
      this.pending.delete(frame.re);
      this.pendingRefs.delete(frame.re);
    }
    try {
      this.onServerReply(link, frame, request, nowMs);
    } finally {
      this.answering = undefined;
    }
  }

  private onServerReply(link: Link, frame: ServerFrame, request: PendingRequest | undefined, nowMs: number): void {
    switch (frame.type) {
      case 'welcome':
        return this.onWelcome(link, frame, nowMs);
      case 'error':
        return this.onServerError(frame, request, nowMs);
      case 'signup.ok':
        return this.emit({ event: 'signup.ok', username: frame.username });
      case 'login.ok':
        return this.onLoginOk(frame, request, nowMs);
      case 'logout.ok':
        return this.onLogoutOk(nowMs);
      case 'heartbeat.ack':
        return;
      case 'friends':
        return this.emit({ event: 'friends', friends: frame.friends, pending: frame.incoming });
      case 'presence':
        return this.emit({ event: 'presence', username: frame.username, status: frame.status });
      case 'friend.incoming':
        return this.emit({ event: 'friend.request', from: frame.from });
      case 'friend.requested':
        return this.emit({ event: 'friend.requested', username: frame.username });
      case 'friend.added':
        return this.emit({ event: 'friend.added', username: frame.username, nickname: frame.nickname, status: frame.status });
      case 'friend.declined':
        return this.emit({ event: 'friend.declined', username: frame.username });
      case 'friend.removed':
        return this.emit({ event: 'friend.removed', username: frame.username });
      case 'friend.blocked':
      case 'friend.unblocked':
        return this.emit({ event: frame.type, username: frame.username });
      case 'session.pending':
        if (this.outgoingRequests.has(frame.username)) this.outgoingRequests.set(frame.username, frame.requestId);
        return;
      case 'session.incoming':
        return this.onSessionIncoming(frame.from, frame.requestId, frame.timeoutMs);
      case 'session.answered':
        return;
      case 'session.established':
        return this.onSessionEstablished(frame, nowMs);
      case 'session.failed':
        this.outgoingRequests.delete(frame.username);
        return this.emit({ event: 'chat.failed', username: frame.username, reason: frame.reason });
      case 'session.withdrawn':
        if (this.incomingRequests.get(frame.from) !== frame.requestId) return;
        this.incomingRequests.delete(frame.from);
        return this.emit({ event: 'chat.failed', username: frame.from, reason: frame.reason });
    }
  }

  private onWelcome(link: Link, frame: ServerFrameOf<'welcome'>, nowMs: number): void {
    if (link.phase !== 'ExpectWelcome') return;
    link.phase = 'Up';
    this.linkEverUp = true;
    this.ttlMs = frame.ttlMs;
    this.heartbeatMs = Math.max(1, frame.heartbeatMs);
    this.backoff.reset();
    this.emitReady();
    const account = this.account;
    if (account === null) return this.reportReconnected();
    // We were logged in before the link dropped: take the session back.
    if (account.resumeToken !== null) {
      this.request({ kind: 'resume' }, (id) => ({ type: 'resume', id, username: account.username, token: account.resumeToken ?? '' }));
    } else {
      this.relogin();
    }
    this.timers.arm('heartbeat', nowMs + this.heartbeatMs);
  }

  private relogin(): void {
    const account = this.account;
    if (account === null) return;
    this.request({ kind: 'relogin' }, (id) => ({ type: 'login', id, username: account.username, password: account.password }));
  }

  private reportReconnected(): void {
    if (!this.disconnectedReported) return;
    this.disconnectedReported = false;
    this.emit({ event: 'reconnected' });
  }

  private onServerError(frame: ServerFrameOf<'error'>, request: PendingRequest | undefined, nowMs: number): void {
    if (request?.kind === 'resume' && frame.code === 'BAD_RESUME_TOKEN') return this.relogin();
    // A server busy with everyone's passwords (after a restart): not a refusal; reconnect after the
    // backoff (with jitter, so the crowd spreads out) and try again.
    if (request?.kind === 'relogin' && (frame.code === 'BUSY' || frame.code === 'RATE_LIMITED') && this.link !== null) return this.dropLink(this.link, nowMs);
    if (request?.kind === 'relogin') {
      // The password no longer works (or we are locked out): we are logged out for good.
      this.account = null;
      this.reportReconnected();
    }
    if (request?.kind === 'chat.open') {
      this.outgoingRequests.delete(request.username);
      return this.emit({ event: 'chat.failed', username: request.username, reason: frame.code });
    }
    if (frame.code === 'HEARTBEAT_TIMEOUT' || frame.code === 'LOGGED_IN_ELSEWHERE') {
      this.authed = false;
      this.account = null;
      this.timers.disarm('heartbeat');
    }
    if (frame.code === 'SERVER_SHUTTING_DOWN') return; // the close that follows says it all
    if (frame.code === 'UNAUTHENTICATED_TIMEOUT' && this.account === null) {
      this.idleClosed = true;
      return;
    }
    this.emit({ event: 'error', code: frame.code, message: frame.message, ...(frame.detail === undefined ? {} : { detail: frame.detail }) });
  }

  private onLoginOk(frame: ServerFrameOf<'login.ok'>, request: PendingRequest | undefined, nowMs: number): void {
    const password = request?.kind === 'login' ? request.password : (this.account?.password ?? '');
    this.account = { username: frame.username, password, resumeToken: frame.resumeToken };
    this.authed = true;
    this.timers.arm('heartbeat', nowMs + this.heartbeatMs);
    if (request?.kind === 'login') {
      this.emit({ event: 'login.ok', username: frame.username, friends: frame.friends });
      return;
    }
    // Back after a blip or a server restart: presence may have changed meanwhile, and this list
    // is the truth, so hand it over before saying we are back.
    this.emit({ event: 'friends', friends: frame.friends, pending: frame.incoming });
    this.reportReconnected();
  }

  private onLogoutOk(nowMs: number): void {
    this.account = null;
    this.authed = false;
    this.timers.disarm('heartbeat');
    this.emit({ event: 'logout.ok' });
    for (const username of [...this.sessions.keys()]) this.closeSession(username, 'closed', true, nowMs);
    if (this.quitting) this.finishQuit();
  }

  private onHeartbeatTimer(nowMs: number): void {
    const link = this.link;
    if (link === null || link.phase !== 'Up' || this.account === null) return;
    if (nowMs - link.lastRxMs > this.ttlMs) return this.dropLink(link, nowMs);
    this.sendServer({ type: 'heartbeat' });
    this.timers.arm('heartbeat', nowMs + this.heartbeatMs);
  }

  private onQuit(nowMs: number): void {
    this.quitting = true;
    if (this.authed && this.link?.phase === 'Up') {
      const id = this.nextRequestId++;
      this.pending.set(id, { kind: 'logout' });
      if (this.answering !== undefined) this.pendingRefs.set(id, this.answering);
      this.sendServer({ type: 'logout', id });
      this.timers.arm('quit', nowMs + QUIT_LOGOUT_WAIT_MS);
      return;
    }
    this.finishQuit();
  }

  private finishQuit(): void {
    if (this.exited) return;
    for (const session of this.sessions.values()) {
      this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'bye' } });
    }
    for (const channel of this.channels.values()) this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
    if (this.link !== null) this.effects.push({ type: 'server.close', linkId: this.link.linkId });
    this.link = null;
    this.exited = true;
    this.effects.push({ type: 'exit', code: 0 });
  }

  // ---- chat sessions: brokering -------------------------------------------------------------

  private onChatOpen(username: string): void {
    if (this.sessions.has(username)) return this.emit({ event: 'chat.opened', username });
    if (this.outgoingRequests.has(username)) return this.emitError('SESSION_PENDING', undefined, username);
    this.outgoingRequests.set(username, null);
    this.request({ kind: 'chat.open', username }, (id) => ({ type: 'session.request', id, username }));
  }

  private onSessionIncoming(from: string, requestId: string, timeoutMs: number): void {
    this.incomingRequests.set(from, requestId);
    if (this.config.autoAcceptChat) return this.answerSession(from, requestId, true);
    this.emit({ event: 'chat.request', from, timeoutMs });
  }

  private onChatAnswer(username: string, accept: boolean): void {
    const requestId = this.incomingRequests.get(username);
    if (requestId === undefined) return this.emitError('NO_SUCH_SESSION_REQUEST', undefined, username);
    this.answerSession(username, requestId, accept);
  }

  private answerSession(username: string, requestId: string, accept: boolean): void {
    this.incomingRequests.delete(username);
    if (accept) this.answeredYes.add(username);
    const address = accept ? { host: this.advertisedHost(), port: this.p2pPort } : {};
    this.request({ kind: 'user', cmd: 'chat.answer' }, (id) => ({ type: 'session.answer', id, requestId, accept, ...address }));
  }

  private advertisedHost(): string {
    if (this.config.p2pAdvertiseHost !== null) return this.config.p2pAdvertiseHost;
    const wildcard = this.p2pHost === '0.0.0.0' || this.p2pHost === '::' || this.p2pHost === '';
    if (!wildcard) return this.p2pHost;
    const local = this.link?.localAddress ?? null;
    if (local === null || local === '') return '127.0.0.1';
    return local.startsWith('::ffff:') ? local.slice(7) : local;
  }

  private onSessionEstablished(frame: ServerFrameOf<'session.established'>, nowMs: number): void {
    const friend = frame.username;
    if (frame.role === 'callee') {
      this.answeredYes.delete(friend);
      this.tokens.set(friend, frame.token);
      this.timers.arm(`token:${friend}`, nowMs + P2P_HELLO_TIMEOUT_MS);
      for (const channel of [...this.channels.values()]) {
        const parked = channel.parkedHello;
        if (parked === null || parked.username !== friend) continue;
        channel.parkedHello = null;
        this.onHello(channel, parked, nowMs);
      }
      return;
    }
    this.outgoingRequests.delete(friend);
    if (frame.host === undefined || frame.port === undefined) {
      return this.emit({ event: 'chat.failed', username: friend, reason: 'unreachable' });
    }
    const streamId = `out:${this.nextStreamSeq++}`;
    this.channels.set(streamId, { streamId, decoder: new FrameDecoder(P2P_DECODER_OPTIONS), phase: 'Connecting', username: friend, token: frame.token, parkedHello: null });
    this.timers.arm(`hello:${streamId}`, nowMs + P2P_HELLO_TIMEOUT_MS);
    this.effects.push({ type: 'p2p.connect', streamId, host: frame.host, port: frame.port });
  }

  private onTokenTimeout(friend: string): void {
    if (!this.tokens.delete(friend)) return;
    if (!this.sessions.has(friend)) this.emit({ event: 'chat.failed', username: friend, reason: 'timeout' });
  }

  // ---- P2P channels ---------------------------------------------------------------------------

  private onAccepted(streamId: StreamKey, nowMs: number): void {
    let unauthenticated = 0;
    for (const channel of this.channels.values()) if (channel.phase === 'ExpectHello') unauthenticated += 1;
    if (unauthenticated >= P2P_UNAUTHENTICATED_STREAMS_MAX || this.quitting) {
      this.effects.push({ type: 'p2p.reset', streamId });
      return;
    }
    this.channels.set(streamId, { streamId, decoder: new FrameDecoder(P2P_DECODER_OPTIONS), phase: 'ExpectHello', username: null, token: null, parkedHello: null });
    this.timers.arm(`hello:${streamId}`, nowMs + P2P_HELLO_TIMEOUT_MS);
  }

  private onP2pOpen(streamId: StreamKey, _nowMs: number): void {
    const channel = this.channels.get(streamId);
    const me = this.account?.username;
    if (channel === undefined || channel.phase !== 'Connecting' || channel.token === null || me === undefined) return;
    channel.phase = 'ExpectHelloOk';
    this.effects.push({ type: 'p2p.send', streamId, frame: { type: 'hello', username: me, token: channel.token } });
  }

  private onHelloTimeout(streamId: StreamKey): void {
    const channel = this.channels.get(streamId);
    if (channel === undefined || channel.phase === 'Open') return;
    this.channels.delete(streamId);
    this.effects.push({ type: 'p2p.reset', streamId });
    if (channel.username !== null && channel.phase !== 'ExpectHello') {
      this.emit({ event: 'chat.failed', username: channel.username, reason: 'timeout' });
    }
  }

  private onP2pClosed(streamId: StreamKey, nowMs: number): void {
    const channel = this.channels.get(streamId);
    if (channel === undefined) return;
    this.channels.delete(streamId);
    this.timers.disarm(`hello:${streamId}`);
    if (channel.username === null) return;
    if (channel.phase === 'Connecting' || channel.phase === 'ExpectHelloOk') {
      return this.emit({ event: 'chat.failed', username: channel.username, reason: 'unreachable' });
    }
    const session = this.sessions.get(channel.username);
    if (channel.phase === 'Open' && session?.streamId === streamId) this.loseSession(session, nowMs);
  }

  private onP2pBytes(streamId: StreamKey, bytes: Uint8Array, nowMs: number): void {
    const channel = this.channels.get(streamId);
    if (channel === undefined) return;
    channel.decoder.push(bytes);
    for (let frame = channel.decoder.next(); frame !== null; frame = channel.decoder.next()) {
      if (frame.kind === 'error') return this.refuse(channel, frame.code, frame.detail, nowMs);
      if (frame.kind === 'data') {
        if (channel.phase !== 'Open' || channel.username === null) return this.refuse(channel, 'BAD_SESSION_TOKEN', 'data before hello', nowMs);
        this.onData(channel.username, frame.streamId, frame.offset, frame.bytes, nowMs);
      } else {
        this.onP2pMessage(channel, frame.message, nowMs);
      }
      if (this.channels.get(streamId) !== channel) return;
    }
  }

  /** Error frame, then close: for hostile or broken input on a P2P stream. */
  private refuse(channel: Channel, code: ErrorCode, detail: string, nowMs: number): void {
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code, message: `${errorMessage(code)}: ${detail}` } });
    this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
    this.onP2pClosed(channel.streamId, nowMs);
  }

  private onP2pMessage(channel: Channel, message: unknown, nowMs: number): void {
    const parsed = p2pFrameSchema.safeParse(message);
    if (!parsed.success) {
      if (channel.phase !== 'Open') return this.refuse(channel, 'BAD_SESSION_TOKEN', 'expected hello', nowMs);
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      const code: ErrorCode = typeof type === 'string' && !P2P_FRAME_TYPES.has(type) ? 'UNKNOWN_TYPE' : 'BAD_FRAME';
      this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code, message: errorMessage(code) } });
      return;
    }
    const frame = parsed.data;
    switch (channel.phase) {
      case 'ExpectHello':
        return this.onHello(channel, frame, nowMs);
      case 'ExpectHelloOk':
        return this.onHelloOk(channel, frame, nowMs);
      case 'Open':
        return this.onOpenFrame(channel, frame, nowMs);
      case 'Connecting':
        return;
    }
  }

  private onHello(channel: Channel, frame: P2pFrame, nowMs: number): void {
    const me = this.account?.username;
    if (frame.type !== 'hello' || me === undefined || channel.parkedHello !== null) {
      return this.refuse(channel, 'BAD_SESSION_TOKEN', 'expected hello', nowMs);
    }
    const token = this.tokens.get(frame.username);
    if (token === undefined && this.answeredYes.has(frame.username)) {
      channel.parkedHello = frame;
      return;
    }
    if (token === undefined || !tokensEqual(token, frame.token)) return this.refuse(channel, 'BAD_SESSION_TOKEN', 'token refused', nowMs);
    // One use only: a replayed hello finds no token.
    this.tokens.delete(frame.username);
    this.timers.disarm(`token:${frame.username}`);
    this.timers.disarm(`hello:${channel.streamId}`);
    channel.phase = 'Open';
    channel.username = frame.username;
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'hello.ok', username: me } });
    this.openSession(frame.username, channel.streamId, nowMs);
  }

  private onHelloOk(channel: Channel, frame: P2pFrame, nowMs: number): void {
    const friend = channel.username;
    if (friend === null) return;
    if (frame.type === 'error') {
      this.channels.delete(channel.streamId);
      this.timers.disarm(`hello:${channel.streamId}`);
      this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
      return this.emit({ event: 'chat.failed', username: friend, reason: frame.code.toLowerCase().replace(/_/g, '-') });
    }
    if (frame.type !== 'hello.ok' || frame.username !== friend) return this.refuse(channel, 'BAD_FRAME', 'expected hello.ok', nowMs);
    this.timers.disarm(`hello:${channel.streamId}`);
    channel.phase = 'Open';
    this.openSession(friend, channel.streamId, nowMs);
  }

  private openSession(friend: string, streamId: StreamKey, nowMs: number): void {
    const old = this.sessions.get(friend);
    if (old !== undefined && old.streamId !== streamId) {
      // A new session replaces the old one: retire the old stream as if it had dropped.
      this.channels.delete(old.streamId);
      this.effects.push({ type: 'p2p.close', streamId: old.streamId });
      this.loseSession(old, nowMs, false);
    }
    this.sessions.set(friend, { username: friend, streamId, unacked: [], sentBytes: 0, flushedBytes: 0, pumpCursor: 0 });
    this.emit({ event: 'chat.opened', username: friend });
    for (const outcome of this.recentOutcomes.values()) {
      if (outcome.peer === friend) this.effects.push({ type: 'p2p.send', streamId, frame: outcome.frame });
    }
    for (const transfer of [...this.transfersIn.values()]) {
      if (transfer.meta.peer === friend) this.driveIncoming(transfer, nowMs, (t) => t.reattach(nowMs));
    }
  }

  /** The channel of an open session dropped: report, keep transfers for a resume. */
  private loseSession(session: Session, nowMs: number, report = true): void {
    if (this.sessions.get(session.username) === session) this.sessions.delete(session.username);
    for (const id of session.unacked) this.emitError('MESSAGE_UNDELIVERED', `message ${String(id)} to ${session.username}`, session.username, id);
    session.unacked.length = 0;
    if (report) this.emit({ event: 'chat.closed', username: session.username, reason: 'connection-lost' });
    this.forTransfersWith(session.username, nowMs, (t) => t.suspend());
    // Suspended transfers wait for a new session, but not forever.
    const deadline = nowMs + TRANSFER_RESUME_WAIT_MS;
    for (const t of this.transfersOut.values()) if (t.meta.peer === session.username && t.state === 'Suspended') this.timers.arm(`resume-out:${t.transferId}`, deadline);
    for (const t of this.transfersIn.values()) if (t.meta.peer === session.username && t.state === 'Suspended') this.timers.arm(`resume-in:${t.transferId}`, deadline);
  }

  /** An orderly end, by us (chat.close, logout) or by the friend (bye). */
  private closeSession(friend: string, reason: string, sendBye: boolean, nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return;
    this.sessions.delete(friend);
    this.channels.delete(session.streamId);
    if (sendBye) this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'bye' } });
    this.effects.push({ type: 'p2p.close', streamId: session.streamId });
    for (const id of session.unacked) this.emitError('MESSAGE_UNDELIVERED', `message ${String(id)} to ${friend}`, friend, id);
    this.emit({ event: 'chat.closed', username: friend, reason });
    this.forTransfersWith(friend, nowMs, (t) => t.abort('session-closed'));
  }

  private onChatClose(friend: string, nowMs: number): void {
    if (!this.sessions.has(friend)) return this.emitError('NO_SUCH_PEER', undefined, friend);
    this.closeSession(friend, 'closed', true, nowMs);
  }

  private onTestCut(friend: string, afterBytes: number | undefined): void {
    const session = this.sessions.get(friend);
    if (!this.config.testCommands) return this.emitError('UNKNOWN_COMMAND');
    if (afterBytes !== undefined) {
      this.testCuts.set(friend, afterBytes);
      return;
    }
    if (session === undefined) return this.emitError('NO_SUCH_PEER', undefined, friend);
    this.effects.push({ type: 'p2p.reset', streamId: session.streamId });
  }

  /**
   * Test-only: counts file bytes from a friend down to an armed cut. The channel goes at once, as
   * on a refusal, so no byte after the cut is taken, even one that arrived in the same read.
   */
  private countTowardsCut(friend: string, bytes: number, nowMs: number): void {
    const remaining = this.testCuts.get(friend);
    if (remaining === undefined) return;
    if (remaining > bytes) {
      this.testCuts.set(friend, remaining - bytes);
      return;
    }
    this.testCuts.delete(friend);
    const session = this.sessions.get(friend);
    if (session === undefined) return;
    this.effects.push({ type: 'p2p.reset', streamId: session.streamId });
    this.onP2pClosed(session.streamId, nowMs);
  }

  // ---- chat messages --------------------------------------------------------------------------

  private onChatSend(friend: string, text: string, requestedId: string | number | undefined): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return this.emitError('NO_SUCH_PEER', undefined, friend, requestedId);
    if (session.unacked.length >= CHAT_UNACKED_MESSAGES_MAX) return this.emitError('QUEUE_FULL', undefined, friend, requestedId);
    // JSON escaping can grow a text up to six-fold: the frame must still fit a control frame.
    if (utf8.encode(JSON.stringify(text)).byteLength > CONTROL_FRAME_BYTES_MAX - FRAME_ENVELOPE_BYTES) {
      return this.emitError('BAD_COMMAND', 'text too long once encoded', friend, requestedId);
    }
    const id = requestedId ?? `${this.config.idPrefix}-m${this.nextMessageSeq++}`;
    session.unacked.push(id);
    this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'msg', id, text } });
  }

  private onOpenFrame(channel: Channel, frame: P2pFrame, nowMs: number): void {
    const friend = channel.username;
    if (friend === null) return;
    const session = this.sessions.get(friend);
    if (session === undefined || session.streamId !== channel.streamId) return;
    switch (frame.type) {
      case 'msg':
        this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'msg.ack', id: frame.id } });
        return this.emit({ event: 'chat.message', from: friend, text: frame.text, id: frame.id });
      case 'msg.ack': {
        const index = session.unacked.indexOf(frame.id);
        if (index < 0) return;
        session.unacked.splice(index, 1);
        return this.emit({ event: 'chat.sent', username: friend, id: frame.id });
      }
      case 'bye':
        return this.closeSession(friend, 'closed', false, nowMs);
      case 'error':
        // Never under its own code: a hostile friend could otherwise fake one of ours (SERVER_UNAVAILABLE) to a script.
        return this.emit({ event: 'error', code: 'PEER_ERROR', message: errorMessage('PEER_ERROR'), detail: `from ${friend}: ${frame.code}: ${frame.message}` });
      case 'file.offer':
        return this.onOffer(friend, frame.files, nowMs);
      case 'file.accept':
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.accepted(frame.offset, frame.limit, nowMs), friend);
      case 'file.decline':
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.declined(), friend);
      case 'file.credit':
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.credit(frame.limit), friend);
      case 'file.resume':
        if (this.transfersOut.get(frame.transferId)?.meta.peer !== friend) return this.sendNoSuchTransfer(channel, frame);
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.resumed(frame.offset, frame.limit, nowMs), friend);
      case 'file.ok':
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.ok(nowMs), friend);
      case 'file.fail':
        if (this.transfersOut.get(frame.transferId)?.meta.peer === friend) {
          return this.withOutgoing(frame.transferId, nowMs, (t) => t.remoteFailed(frame.reason), friend);
        }
        return this.withIncoming(frame.transferId, nowMs, (t) => t.remoteFailed(frame.reason), friend);
      case 'hello':
      case 'hello.ok':
        this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code: 'BAD_FRAME', message: 'already greeted' } });
        return;
    }
  }

  private sendNoSuchTransfer(channel: Channel, frame: P2pFrameOf<'file.resume'>): void {
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'file.fail', transferId: frame.transferId, reason: 'no-such-transfer' } });
  }

  // ---- files ----------------------------------------------------------------------------------

  private onFileSend(friend: string, files: readonly PreparedFile[], nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return this.emitError('NO_SUCH_PEER', undefined, friend);
    if (this.transferCount() + files.length > TRANSFERS_ACTIVE_MAX) return this.emitError('QUEUE_FULL', 'too many transfers');
    const offered: OfferedFile[] = [];
    for (const file of files) {
      const transferId = `${this.config.idPrefix}-${this.nextTransferSeq++}`;
      const wireStream = this.nextWireStream++;
      const meta = { transferId, peer: friend, wireStream, size: file.size, sha256: file.sha256 };
      const transfer = new OutgoingTransfer(meta, file.path, file.name, this.config.tuning);
      transfer.gate = this.gateFor(friend);
      this.transfersOut.set(transferId, transfer);
      offered.push({ transferId, stream: wireStream, name: file.name, size: file.size, sha256: file.sha256 });
      this.emit({ event: 'file.offered', username: friend, transferId, name: file.name, size: file.size, sha256: file.sha256 });
    }
    this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'file.offer', files: offered } });
    void nowMs;
  }

  private onOffer(friend: string, files: readonly OfferedFile[], nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return;
    const refuse = (transferId: string, reason: string): void => {
      this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'file.fail', transferId, reason } });
    };
    for (const file of files) {
      const streamKey = `${friend}\u0000${file.stream}`;
      if (this.transfersIn.has(file.transferId) || this.transfersOut.has(file.transferId) || this.incomingByStream.has(streamKey)) {
        refuse(file.transferId, 'protocol-error');
        continue;
      }
      if (this.transferCount() >= TRANSFERS_ACTIVE_MAX) {
        refuse(file.transferId, 'busy');
        this.emit({ event: 'file.failed', transferId: file.transferId, reason: 'busy', username: friend });
        continue;
      }
      if (file.size > this.config.fileBytesMax) {
        refuse(file.transferId, 'too-large');
        this.emit({ event: 'file.failed', transferId: file.transferId, reason: 'too-large', username: friend });
        continue;
      }
      const name = sanitizeFileName(file.name);
      const meta = { transferId: file.transferId, peer: friend, wireStream: file.stream, size: file.size, sha256: file.sha256 };
      const transfer = new IncomingTransfer(meta, file.name, name, this.config.tuning);
      this.transfersIn.set(file.transferId, transfer);
      this.incomingByStream.set(streamKey, file.transferId);
      this.emit({ event: 'file.offer', from: friend, transferId: file.transferId, name, size: file.size, offeredName: file.name, sha256: file.sha256 });
      if (this.config.autoAcceptFile) this.driveIncoming(transfer, nowMs, (t) => t.accept(nowMs));
    }
  }

  private onData(friend: string, wireStream: number, offset: number, bytes: Uint8Array, nowMs: number): void {
    const transferId = this.incomingByStream.get(`${friend}\u0000${wireStream}`);
    if (transferId === undefined) return; // late bytes of a transfer that already ended
    // Test-only: an armed cut lets exactly its bytes through, however the data arrived in pieces.
    const cut = this.testCuts.size > 0 ? this.testCuts.get(friend) : undefined;
    const piece = cut !== undefined && cut < bytes.byteLength ? bytes.subarray(0, cut) : bytes;
    this.withIncoming(transferId, nowMs, (t) => t.data(offset, piece));
    if (cut !== undefined) this.countTowardsCut(friend, piece.byteLength, nowMs);
  }

  private onFileAnswer(transferId: string, accept: boolean, nowMs: number): void {
    const transfer = this.transfersIn.get(transferId);
    if (transfer === undefined || transfer.state !== 'Offered') return this.emitError('NO_SUCH_TRANSFER', undefined, undefined, transferId);
    this.driveIncoming(transfer, nowMs, (t) => (accept ? t.accept(nowMs) : t.decline()));
  }

  private onFileCancel(transferId: string, nowMs: number): void {
    if (this.transfersOut.has(transferId)) return this.withOutgoing(transferId, nowMs, (t) => t.cancel());
    if (this.transfersIn.has(transferId)) return this.withIncoming(transferId, nowMs, (t) => t.cancel());
    this.emitError('NO_SUCH_TRANSFER', undefined, undefined, transferId);
  }

  private forTransfersWith(friend: string, nowMs: number, step: (t: OutgoingTransfer | IncomingTransfer) => void): void {
    for (const transfer of [...this.transfersOut.values()]) if (transfer.meta.peer === friend) this.driveOutgoing(transfer, nowMs, step);
    for (const transfer of [...this.transfersIn.values()]) if (transfer.meta.peer === friend) this.driveIncoming(transfer, nowMs, step);
  }

  private withOutgoing(transferId: string, nowMs: number, step: (t: OutgoingTransfer) => void, peer?: string): void {
    const transfer = this.transfersOut.get(transferId);
    if (transfer === undefined || (peer !== undefined && transfer.meta.peer !== peer)) return;
    this.driveOutgoing(transfer, nowMs, step);
  }

  private withIncoming(transferId: string, nowMs: number, step: (t: IncomingTransfer) => void, peer?: string): void {
    const transfer = this.transfersIn.get(transferId);
    if (transfer === undefined || (peer !== undefined && transfer.meta.peer !== peer)) return;
    this.driveIncoming(transfer, nowMs, step);
  }

  private driveOutgoing(transfer: OutgoingTransfer, nowMs: number, step: (t: OutgoingTransfer) => void): void {
    step(transfer);
    this.perform(transfer.transferId, transfer.meta.peer, transfer.takeActions(), transfer.path);
    if (!transfer.finished) return;
    this.transfersOut.delete(transfer.transferId);
    this.timers.disarm(`resume-out:${transfer.transferId}`);
    // Its reads in flight no longer count: the others on that stream may use the room.
    this.pumpReads(transfer.meta.peer, nowMs);
  }

  private driveIncoming(transfer: IncomingTransfer, _nowMs: number, step: (t: IncomingTransfer) => void): void {
    step(transfer);
    this.perform(transfer.transferId, transfer.meta.peer, transfer.takeActions(), null);
    if (transfer.finished) {
      this.timers.disarm(`resume-in:${transfer.transferId}`);
      this.transfersIn.delete(transfer.transferId);
      this.incomingByStream.delete(`${transfer.meta.peer}\u0000${transfer.meta.wireStream}`);
      this.rememberOutcome(transfer);
    }
  }

  // ---- sender backpressure --------------------------------------------------------------------

  /** The read budget of whatever session with `friend` is open when a read is due. */
  private gateFor(friend: string): ReadGate {
    return {
      allows: (bytes) => this.sendRoom(friend) >= bytes + DATA_FRAME_OVERHEAD_BYTES,
      sending: (bytes) => {
        const session = this.sessions.get(friend);
        if (session !== undefined) session.sentBytes += bytes + DATA_FRAME_OVERHEAD_BYTES;
      },
    };
  }

  /** Bytes the stream to `friend` may still take: P2P_SEND_QUEUE_BYTES_MAX less queued and being read. */
  private sendRoom(friend: string): number {
    const session = this.sessions.get(friend);
    if (session === undefined) return 0;
    let used = session.sentBytes - session.flushedBytes;
    for (const t of this.transfersOut.values()) {
      if (t.meta.peer === friend) used += t.readingBytes + t.readsInFlight * DATA_FRAME_OVERHEAD_BYTES;
    }
    return P2P_SEND_QUEUE_BYTES_MAX - used;
  }

  private onFlushed(streamId: StreamKey, bytes: number, nowMs: number): void {
    const friend = this.channels.get(streamId)?.username ?? null;
    if (friend === null) return;
    const session = this.sessions.get(friend);
    if (session === undefined || session.streamId !== streamId) return;
    const flushed = Math.min(bytes, session.sentBytes);
    if (flushed <= session.flushedBytes) return;
    session.flushedBytes = flushed;
    this.pumpReads(friend, nowMs);
  }

  /**
   * Room may have opened on the stream to `friend`: restart reads one transfer at a time in turn
   * (a different one first each time), so one large file cannot take the whole budget from the others.
   */
  private pumpReads(friend: string, nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return;
    const sending = [...this.transfersOut.values()].filter((t) => t.meta.peer === friend && t.state === 'Sending');
    if (sending.length === 0) return;
    session.pumpCursor = (session.pumpCursor + 1) % sending.length;
    for (let i = 0; i < sending.length; i++) {
      const transfer = sending[(session.pumpCursor + i) % sending.length];
      if (transfer !== undefined) this.driveOutgoing(transfer, nowMs, (t) => t.pumpReads());
    }
  }

  /**
   * The last frame of a finished incoming transfer may be lost with a dropping connection, and
   * the sender would wait forever: it is repeated when the next session with that friend opens.
   */
  private rememberOutcome(transfer: IncomingTransfer): void {
    const frame = transfer.outcomeFrame;
    if (frame === null) return;
    this.recentOutcomes.delete(transfer.transferId);
    this.recentOutcomes.set(transfer.transferId, { peer: transfer.meta.peer, frame });
    if (this.recentOutcomes.size > TRANSFER_OUTCOMES_REMEMBERED_MAX) {
      const oldest = this.recentOutcomes.keys().next().value;
      if (oldest !== undefined) this.recentOutcomes.delete(oldest);
    }
  }

  /** Carries a transfer's actions out as effects on the friend's open channel and the file system. */
  private perform(transferId: string, peer: string, actions: readonly TransferAction[], path: string | null): void {
    const streamId = this.sessions.get(peer)?.streamId;
    for (const action of actions) {
      switch (action.type) {
        case 'send':
          if (streamId !== undefined) this.effects.push({ type: 'p2p.send', streamId, frame: action.frame });
          break;
        case 'data':
          // Counted in the stream's queue already (the gate's `sending`).
          if (streamId !== undefined) {
            this.effects.push({ type: 'p2p.data', streamId, wireStream: action.wireStream, offset: action.offset, bytes: action.bytes });
          }
          break;
        case 'read':
          if (path !== null) this.effects.push({ type: 'file.read', transferId, epoch: action.epoch, path, offset: action.offset, bytes: action.bytes });
          break;
        case 'open':
          this.effects.push({ type: 'file.open', transferId });
          break;
        case 'write':
          this.effects.push({ type: 'file.write', transferId, offset: action.offset, bytes: action.bytes });
          break;
        case 'finish':
          this.effects.push({ type: 'file.finish', transferId });
          break;
        case 'commit':
          this.effects.push({ type: 'file.commit', transferId, name: action.name });
          break;
        case 'discard':
          this.effects.push({ type: 'file.discard', transferId });
          break;
        case 'event':
          this.emit(action.event);
          break;
      }
    }
  }

  // ---- events ---------------------------------------------------------------------------------

  private emit(event: ClientEvent): void {
    this.effects.push(this.answering === undefined ? { type: 'event', event } : { type: 'event', event, ref: this.answering });
  }

  private emitReady(): void {
    if (this.readyEmitted) return;
    this.readyEmitted = true;
    this.emit({ event: 'ready', p2pHost: this.p2pHost, p2pPort: this.p2pPort });
  }

  private emitError(code: ErrorCode, detail?: string, username?: string, id?: string | number): void {
    const extra: Record<string, string | number> = {};
    if (detail !== undefined) extra.detail = detail;
    if (username !== undefined) extra.username = username;
    if (id !== undefined) extra.id = id;
    this.emit({ event: 'error', code, message: errorMessage(code), ...extra });
  }
}
