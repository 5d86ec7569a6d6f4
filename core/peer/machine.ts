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
 * The machine is a composition. Two sub-machines of the server machine's shape (one state union
 * named for what each state waits for, one frame table, actions returned as data) do the server
 * side, and this class carries out their actions:
 *
 * - the server link (server-link.ts): connect, welcome, login, resume falling back to the
 *   password, heartbeats, the silent-TTL reset, reconnect backoff, quit's logout. Its actions
 *   become server effects and the events ready, disconnected, reconnected, login.ok, logout.ok;
 *   frames it passes on (replies to the user's requests, pushes) become events here;
 * - the session broker (session-broker.ts): chat-session requests both ways, each ending with
 *   chat.failed when its link or login ends. Its actions open a P2P channel to a callee that
 *   said yes, or hold the token a caller's hello must bring.
 *
 * Requests the user sends the server are remembered by id until their reply; those still owed
 * when the link drops are answered SERVER_UNAVAILABLE, but a logout: the link ends the login here
 * and it is answered logout.ok (onLoggedOutHere). Session requests and answers are the
 * broker's: their replies, or their loss, end the session request they belong to.
 *
 * P2P channel (one TCP stream per open session):
 *
 *   caller: ExpectOpen ──open──▶ ExpectHelloOk (hello sent) ──hello.ok──▶ Open
 *   callee: ExpectHello ──hello with the one-time token it holds for that caller──▶ Open
 *           ExpectHello ──hello with the token that expired unused──▶ error SESSION_TOKEN_EXPIRED, closed
 *           ExpectHello ──anything else──▶ error BAD_SESSION_TOKEN, closed
 *
 * Each channel is one member of the Channel union, replaced on each transition; P2P_FRAME_RULES
 * says in which states each P2P frame is accepted. Anything else is refused: before the
 * greeting with an error frame and a close, on an open channel (a second hello) with an error
 * frame only.
 *
 * A caller's set-up that fails (connect, key check, hello) answers the user's chat.open with
 * chat.failed, unless a session with the friend opened meanwhile on another stream (requests
 * crossing): its chat.opened answered the chat.open, and the set-up ends quietly (failSetup).
 *
 * The callee holds a token from its session.established (role callee) until it is used once, or
 * P2P_HELLO_TIMEOUT_MS passes, our login ends or a newer request's token takes its place
 * (holdToken); one that expired unused so is remembered P2P_TOKEN_EXPIRED_KEPT_MS more, and a late
 * hello with it is refused SESSION_TOKEN_EXPIRED, once (the caller was held up, which is neither
 * an attack nor a bug). Chat messages carry ids and are acknowledged; TCP keeps their order;
 * `chat.sent` is emitted on the ack. Files: see transfer.ts.
 * When an Open channel drops, unacknowledged messages are reported undelivered and transfers are
 * suspended; they resume when a new session with the same friend opens (either side may open it),
 * or fail after TRANSFER_RESUME_WAIT_MS.
 *
 * Sessions end with the login (ours or the friend's: presence offline) and with the friendship
 * (friend.removed, or a friends list that no longer names them): see endWithExFriend.
 *
 * Sender backpressure: the machine counts the data-frame bytes it has handed to each P2P stream,
 * and the runtime reports how many of them have left the stream's send queue (`p2p.flushed`, a
 * running total, after each data write and on drain). A chunk read starts only while the bytes
 * still queued plus the reads in flight on that stream stay within P2P_SEND_QUEUE_BYTES_MAX; a
 * report that frees room restarts the reads, in turn across the stream's transfers. A running
 * total, not a queue size, so a report cannot forget data frames the runtime has not written yet.
 */
import { DATA_HEADER_BYTES, FRAME_HEADER_BYTES, FrameDecoder } from '../codec.ts';
import { type ErrorCode, errorMessage, isErrorCode } from '../errors.ts';
import type { ClientFrame, ServerFrame, ServerFrameOf } from '../frames.ts';
import type { IdentityKeys } from '../identity.ts';
import {
  FILE_BYTES_MAX_DEFAULT,
  FRAME_BYTES_MAX,
  HISTORY_PAGE_MESSAGES_DEFAULT,
  HISTORY_QUERIES_PENDING_MAX,
  HISTORY_SEARCH_RESULTS_MAX,
  P2P_HELLO_TIMEOUT_MS,
  P2P_TOKEN_EXPIRED_KEPT_MS,
  P2P_SEND_QUEUE_BYTES_MAX,
  P2P_HELLO_FRAME_BYTES_MAX,
  P2P_UNAUTHENTICATED_STREAMS_MAX,
  SERVER_REQUESTS_PENDING_MAX,
  TRANSFERS_ACTIVE_MAX,
  TRANSFERS_IN_PER_PEER_MAX,
  TRANSFER_OUTCOMES_REMEMBERED_MAX,
  TRANSFER_RESUME_WAIT_MS,
} from '../limits.ts';
import { Deadlines } from '../deadlines.ts';
import { tokensEqual } from '../tokens.ts';
import { keyHint, peerKeyMatches } from './peer-key.ts';
import { type WaitingStream, streamToEvict } from './accept-fairness.ts';
import { shownNickname } from '../nickname.ts';
import { addressKey } from '../net-address.ts';
import { type ChatAction, ChatMachine, CONNECTION_FAILED, isChatFrame } from './chat.ts';
import type { PeerCommand, PreparedFile } from './commands.ts';
import { type ChatFailedReason, type ClientEvent, chatFailed } from './events.ts';
import { sanitizeFileName } from './file-names.ts';
import { type OfferedFile, type P2pFrame, type P2pFrameOf, type P2pFrameType, P2P_FRAME_TYPES, type SessionEndReason, p2pFrameSchema } from './frames.ts';
import { type FriendshipSeen, type HistoryEntry, type HistoryMark, type HistoryMessage, type MessageId, fileHistoryOf } from './history.ts';
import { type BrokerAction, REPLACED, SessionBroker, isSessionFrame } from './session-broker.ts';
import { MailboxClient } from './mailbox-client.ts';
import { type ClientRequest, type LinkAction, type LinkState, type LoginEnd, type LoginVia, ServerLink } from './server-link.ts';
import { IncomingTransfer, OutgoingTransfer, type ReadGate, TRANSFER_TUNING_DEFAULTS, type TransferAction, type TransferTuning } from './transfer.ts';
import { dropOldestPast } from '../bounded.ts';

/** What a data frame adds to its chunk on the wire. */
const DATA_FRAME_OVERHEAD_BYTES = FRAME_HEADER_BYTES + DATA_HEADER_BYTES;
/** The chat.failed reason of a session being set up when our login ended (the broker's for a request). */
const LOGIN_ENDED_REASON: ChatFailedReason = 'logged-out';
/**
 * The codes a callee refuses a hello with (`refuse`), and the caller's chat.failed reason for each.
 * Any other code a peer sends reads `peer-error` (HELLO_REFUSED_OTHERWISE): a hostile friend must
 * not dress its refusal as one of the server's reasons (`rejected`, `offline`) or as anything else
 * it likes.
 */
const HELLO_REFUSALS: ReadonlyMap<string, ChatFailedReason> = new Map<ErrorCode, ChatFailedReason>([
  ['BAD_FRAME', 'bad-frame'],
  ['BAD_SESSION_TOKEN', 'bad-session-token'],
  ['NOT_FRIENDS', 'not-friends'],
  ['PEER_KEY_MISMATCH', 'peer-key-mismatch'],
  ['SESSION_TOKEN_EXPIRED', 'session-token-expired'],
]);
const HELLO_REFUSED_OTHERWISE: ChatFailedReason = 'peer-error';
/** The detail of a logout.ok the client gave itself, the server being out of reach (onLoggedOutHere). */
const LOGGED_OUT_HERE_DETAIL = 'the server was not reachable: logged out here; the server ends the login when its heartbeat deadline (TTL) passes';
/**
 * P2P channels take file data as it arrives (see FrameDecoder's dataFragments): a received chunk's
 * bytes go to the transfer as a view of it, so a data frame is never copied together first; the
 * transfer checks each piece's offset and credit limit as it would a frame.
 */
const P2P_DECODER_OPTIONS = { dataFragments: true } as const;
/** A stream we accepted, until its hello is accepted: a stranger's frames are held small (P2P_HELLO_FRAME_BYTES_MAX). */
const P2P_HELLO_DECODER_OPTIONS = { ...P2P_DECODER_OPTIONS, frameBytesMax: P2P_HELLO_FRAME_BYTES_MAX } as const;

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
  /** peerKey: the key the other side proved in the stream's handshake (null: none); see peer-key.ts. */
  | { readonly type: 'p2p.accepted'; readonly streamId: StreamKey; readonly remoteAddress: string; readonly peerKey?: string | null }
  | { readonly type: 'p2p.open'; readonly streamId: StreamKey; readonly peerKey?: string | null }
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
  /** Also the answer to a file.digest that failed. */
  | { readonly type: 'file.read-failed'; readonly transferId: string; readonly epoch: number }
  /** The SHA-256 of a whole file sent, hashed by the port as it read it (file.digest). */
  | { readonly type: 'file.digested'; readonly transferId: string; readonly epoch: number; readonly sha256: string }
  /** The temporary file's prefix is hashed afresh (file.rehash); a failure is file.io-failed. */
  | { readonly type: 'file.rehashed'; readonly transferId: string; readonly epoch: number }
  /** `offset`: the end of the written bytes after this write. */
  | { readonly type: 'file.written'; readonly transferId: string; readonly offset: number }
  | { readonly type: 'file.hashed'; readonly transferId: string; readonly sha256: string }
  | { readonly type: 'file.committed'; readonly transferId: string; readonly path: string }
  /** Any receiver-side file failure (open, write, flush, rename). */
  | { readonly type: 'file.io-failed'; readonly transferId: string }
  /** Answer to `mail.seal`: the sealed box as base64, or null when sealing failed (a bad key). */
  | { readonly type: 'mail.sealed'; readonly ticket: number; readonly sealed: string | null }
  /** Answer to `mail.open`: the box's plaintext (UTF-8 text), or null when it did not open. */
  | { readonly type: 'mail.opened'; readonly seq: number; readonly plaintext: string | null }
  /** The history store holds the friend's message (a `history.append` with confirm): tell the friend. */
  | { readonly type: 'history.stored'; readonly friend: string; readonly id: MessageId }
  /** The answer to a `history.page` or `history.search` effect. */
  | { readonly type: 'history.answer'; readonly queryId: number; readonly messages: readonly HistoryMessage[] }
  /** The history store failed on that query (or there is none). */
  | { readonly type: 'history.failed'; readonly queryId: number };

export type PeerEffect =
  | { readonly type: 'server.connect'; readonly linkId: number; readonly host: string; readonly port: number }
  | { readonly type: 'server.send'; readonly linkId: number; readonly frame: ClientFrame }
  | { readonly type: 'server.close'; readonly linkId: number }
  /** friend and vouchedKey: whom the stream is meant to reach (Transport's ConnectIntent), never a proof. */
  | { readonly type: 'p2p.connect'; readonly streamId: StreamKey; readonly host: string; readonly port: number; readonly friend: string; readonly vouchedKey: string | null }
  | { readonly type: 'p2p.send'; readonly streamId: StreamKey; readonly frame: P2pFrame }
  | { readonly type: 'p2p.data'; readonly streamId: StreamKey; readonly wireStream: number; readonly offset: number; readonly bytes: Uint8Array }
  /** Graceful close (queued bytes are flushed first). */
  | { readonly type: 'p2p.close'; readonly streamId: StreamKey }
  | { readonly type: 'p2p.reset'; readonly streamId: StreamKey }
  | { readonly type: 'file.read'; readonly transferId: string; readonly epoch: number; readonly path: string; readonly offset: number; readonly bytes: number }
  /** Sender: the SHA-256 of every byte the port read of this file, in file order. */
  | { readonly type: 'file.digest'; readonly transferId: string; readonly epoch: number }
  | { readonly type: 'file.open'; readonly transferId: string }
  /** Receiver: re-hash the temporary file's first `bytes` bytes from disk and continue the hash from there. */
  | { readonly type: 'file.rehash'; readonly transferId: string; readonly epoch: number; readonly bytes: number }
  | { readonly type: 'file.write'; readonly transferId: string; readonly offset: number; readonly bytes: Uint8Array }
  | { readonly type: 'file.finish'; readonly transferId: string }
  | { readonly type: 'file.commit'; readonly transferId: string; readonly name: string }
  | { readonly type: 'file.discard'; readonly transferId: string }
  /**
   * History (history.ts): append a record for `account` (confirm: answer `history.stored` once
   * it is in), change statuses, read a page or search; queries are answered `history.answer`.
   */
  | { readonly type: 'history.append'; readonly account: string; readonly entry: HistoryEntry; readonly confirm: boolean }
  | { readonly type: 'history.mark'; readonly account: string; readonly mark: HistoryMark }
  /** The friendship with `friend` ended: our messages the server held for them are gone (HistoryStore.failQueued). */
  | { readonly type: 'history.fail-queued'; readonly account: string; readonly friend: string }
  /** At a login: our messages the server held for anyone not among `friends` are gone with the friendship (HistoryStore.failQueuedExcept). */
  | { readonly type: 'history.fail-queued-except'; readonly account: string; readonly friends: readonly string[] }
  /**
   * When each friendship began, as the server says (login.ok, friend.added): one that began since
   * we last saw it replaced an ended one, which took our messages the server held (HistoryStore.friendshipsSeen).
   */
  | { readonly type: 'history.friendships-seen'; readonly account: string; readonly friends: readonly FriendshipSeen[] }
  | { readonly type: 'history.page'; readonly queryId: number; readonly account: string; readonly friend: string; readonly limit: number; readonly before: MessageId | null }
  | { readonly type: 'history.search'; readonly queryId: number; readonly account: string; readonly text: string; readonly friend: string | null; readonly limit: number }
  /** ref: the tag of the command this event answers (see the `command` input), if any. */
  | { readonly type: 'event'; readonly event: ClientEvent; readonly ref?: number }
  /** The user quit and the logout is done (or timed out): the process may end. */
  | { readonly type: 'exit'; readonly code: number }
  /** Seal `plaintext` (UTF-8) for the X25519 key `sealKey` (base64 SPKI DER); answer `mail.sealed`. */
  | { readonly type: 'mail.seal'; readonly ticket: number; readonly sealKey: string; readonly plaintext: string }
  /** Open a sealed box (base64) with our identity key; answer `mail.opened`. */
  | { readonly type: 'mail.open'; readonly seq: number; readonly sealed: string };

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
  readonly tuning: TransferTuning;
  /** Tell friends what our user read (chat.read); off: chat.read only marks our own history. */
  readonly readReceipts: boolean;
  /** Our public identity keys (made and kept by the runtime), registered at sign-up and login; null: none. */
  readonly identity: IdentityKeys | null;
  /**
   * Whether a P2P link must prove the key the server vouched for (peer-key.ts). Off only for
   * plain-TCP labs (--tls off), where no link proves any key.
   */
  readonly checkPeerKeys: boolean;
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
  tuning: TRANSFER_TUNING_DEFAULTS,
  readReceipts: true,
  identity: null,
  checkPeerKeys: true,
};
/** One P2P stream, in a state named for what it waits for (see the header); a transition replaces it. */
type Channel =
  /**
   * Caller: connecting to the callee, with the token its hello will bring and the key it must prove.
   * answered: a session with the friend opened on another stream meanwhile (requests crossing), so
   * the user's chat.open has had its answer, chat.opened; this set-up then ends without a
   * chat.failed (failSetup), as the broker withdraws a request still pending then.
   */
  | {
      readonly state: 'ExpectOpen';
      readonly streamId: StreamKey;
      readonly decoder: FrameDecoder;
      readonly friend: string;
      readonly token: string;
      readonly brokered: number;
      readonly vouchedKey: string | null;
      readonly answered: boolean;
    }
  /** Caller: hello sent. */
  | { readonly state: 'ExpectHelloOk'; readonly streamId: StreamKey; readonly decoder: FrameDecoder; readonly friend: string; readonly brokered: number; readonly answered: boolean }
  /**
   * Callee: accepted, nobody known yet. parkedHello: a hello that arrived before our own
   * session.established (the server tells the caller first, and its hello can overtake our copy),
   * parked until the token arrives or the hello times out.
   */
  | {
      readonly state: 'ExpectHello';
      readonly streamId: StreamKey;
      readonly decoder: FrameDecoder;
      readonly parkedHello: P2pFrameOf<'hello'> | null;
      /** The key the caller proved in the stream's handshake. */
      readonly peerKey: string | null;
      /** The address key it came from (core/net-address.ts): who gives way when all slots are taken (accept-fairness.ts). */
      readonly addressKey: string;
    }
  | { readonly state: 'Open'; readonly streamId: StreamKey; readonly decoder: FrameDecoder; readonly friend: string; readonly brokered: number };

type ChannelOf<S extends Channel['state']> = Extract<Channel, { state: S }>;

const OPEN: readonly Channel['state'][] = ['Open'];

/** In which channel states each P2P frame is accepted; anything else is refused (see onUnexpected). */
const P2P_FRAME_RULES: Readonly<Record<P2pFrameType, readonly Channel['state'][]>> = {
  hello: ['ExpectHello'],
  'hello.ok': ['ExpectHelloOk'],
  error: ['ExpectHelloOk', 'Open'],
  msg: OPEN,
  'msg.ack': OPEN,
  'msg.stored': OPEN,
  'msg.read': OPEN,
  typing: OPEN,
  bye: OPEN,
  'file.offer': OPEN,
  'file.accept': OPEN,
  'file.decline': OPEN,
  'file.credit': OPEN,
  'file.resume': OPEN,
  'file.end': OPEN,
  'file.ok': OPEN,
  'file.fail': OPEN,
};

/** The friend at the other end, once known (from the start for outgoing channels, from the hello for accepted ones). */
function friendOf(channel: Channel): string | null {
  return channel.state === 'ExpectHello' ? null : channel.friend;
}

interface Session {
  readonly username: string;
  readonly streamId: StreamKey;
  /** Its place in the order the server brokered our sessions (see openSession). */
  readonly brokered: number;
  /** Data-frame bytes handed to the stream, and how many of them the runtime reported gone. */
  sentBytes: number;
  flushedBytes: number;
  /** Where the next round of read restarts begins, so no transfer is always first. */
  pumpCursor: number;
}
type TimerKey = `hello:${string}` | `token:${string}` | `expired:${string}` | `resume-out:${string}` | `resume-in:${string}` | `stall-out:${string}` | `stall-in:${string}`;

/** How often one input may loop on the sub-machines' actions causing more actions. */
const DRAIN_ROUNDS_MAX = 64;

/**
 * How a password change whose answer a drop took ends, once the client can tell (settlePassword):
 * each says what is true of the user's passwords then.
 */
type PasswordNotChanged = { readonly changed: false; readonly detail: string };
type PasswordOutcome = { readonly changed: true; readonly username: string; readonly nickname: string } | PasswordNotChanged;
/** The login came back on the old token or the old password: the change never happened. */
const PASSWORD_NOT_CHANGED: PasswordNotChanged = { changed: false, detail: 'the server connection closed before the password was changed: the old password still works; try again' };
/** The server refused the token and both passwords (it lost the account, or another change won). */
const PASSWORD_NEITHER_LOGS_IN: PasswordNotChanged = {
  changed: false,
  detail: 'the server connection closed during the password change, and the server refused both the old and the new password afterwards: log in again',
};
/** Quit before the login was taken back: nobody knows which password the server holds. */
const PASSWORD_NOT_KNOWN_AT_QUIT: PasswordNotChanged = {
  changed: false,
  detail: 'the server connection closed before the password change was answered, and the client quit before it could learn whether it happened: log in with the new password, or the old one if that fails',
};

export class PeerMachine {
  readonly config: PeerConfig;
  private effects: PeerEffect[] = [];
  private readonly timers = new Deadlines<TimerKey>();
  /** The server connection and the login it carries (server-link.ts). */
  private readonly link: ServerLink;
  /** Chat-session requests, both directions (session-broker.ts). */
  private readonly broker: SessionBroker;
  /** Messages, receipts and typing over open sessions (chat.ts). */
  private readonly chat: ChatMachine;
  /** History queries handed to the store: query id → the ref of the command that asked (-1: none). */
  private readonly historyQueries = new Map<number, number>();
  /** What each history query asked, to say it again in its answer. */
  private readonly historyAsked = new Map<number, { readonly friend: string | null; readonly text: string | null }>();
  private nextHistoryQuery = 1;

  private readyEmitted = false;
  private p2pHost = '127.0.0.1';
  private p2pPort = 0;

  /** Requests the user sent the server and whose reply is still owed: request id → command. */
  private readonly pending = new Map<number, string>();
  /** The command ref of each request to the server that has one (see the `command` input). */
  private readonly pendingRefs = new Map<number, number>();
  /** The new password of each account.password request in flight: the link holds it once the server says yes. */
  private readonly passwordChanges = new Map<number, string>();
  /**
   * An account.password whose answer was lost with the link: its answer waits until the link has
   * taken the login back and knows whether the change happened (`password-settled`). The ref of
   * the command (undefined: none), or null when no answer is owed.
   */
  private passwordAnswerOwed: { readonly ref: number | undefined } | null = null;
  /** Why the last login ended (null: none ended since the last login.ok), for a logout typed after it. */
  private loginEndedBy: LoginEnd | null = null;
  /**
   * The account of the last login.ok: what ends after its login did (its sessions, a transfer
   * still waiting for a resume) is marked in its history, though the link has forgotten it.
   */
  private lastAccount: string | null = null;
  /**
   * Who we told the user is asking to be friends (friend.request, or a friends list's pending), so a
   * login taken back after a blip tells only the requests that came meanwhile. Bounded by what the
   * server lists (its incoming quota).
   */
  private requestsShown = new Set<string>();
  /** The ref every event emitted now carries: set while a command or the reply to one is handled. */
  private answering: number | undefined = undefined;

  /**
   * Callee: per caller, the token its hello must bring and the session's place in the brokering
   * order. `answered`: a chat.opened with the caller was told while it was held (requests
   * crossing: our own chat.open's session), which answered our yes too (onTokenTimeout).
   */
  private readonly tokens = new Map<string, { readonly token: string; readonly brokered: number; readonly vouchedKey: string | null; readonly answered: boolean }>();
  /**
   * Callee: per caller, the last token that expired unused, for P2P_TOKEN_EXPIRED_KEPT_MS, so a
   * hello that brings it too late is told SESSION_TOKEN_EXPIRED (see onHello). A token used once
   * never lands here: its replay stays BAD_SESSION_TOKEN.
   */
  private readonly expiredTokens = new Map<string, { readonly token: string; readonly vouchedKey: string | null }>();
  /**
   * Counts the session.established frames heard, so each session knows its place in the order the
   * server brokered them. Both friends hear their two copies of each session.established in the
   * same relative order (the server sends both copies at once, each link keeps order), so both
   * agree on which of two sessions between them is the newer.
   */
  private sessionsBrokered = 0;
  private readonly channels = new Map<StreamKey, Channel>();
  private readonly sessions = new Map<string, Session>();
  private nextStreamSeq = 1;

  private readonly transfersOut = new Map<string, OutgoingTransfer>();
  private readonly transfersIn = new Map<string, IncomingTransfer>();
  /** `${peer}\u0000${wireStream}` → transferId of an incoming transfer. */
  private readonly incomingByStream = new Map<string, string>();
  private nextTransferSeq = 1;
  /** Outcomes of finished incoming transfers, oldest first, to repeat to their senders. */
  private readonly recentOutcomes = new Map<string, { readonly peer: string; readonly frame: P2pFrame }>();
  private nextWireStream = 1;
  /** Offline messages: sealed for friends with no open session, and opened when handed over (mailbox-client.ts). */
  private readonly mail: MailboxClient;
  /** Ids of offline messages sent without one of the user's (distinct from the chat machine's). */
  private nextMailSeq = 1;

  constructor(config: Partial<PeerConfig> = {}) {
    this.config = { ...PEER_CONFIG_DEFAULTS, ...config };
    this.link = new ServerLink(this.config.jitterSeed, this.config.identity);
    this.broker = new SessionBroker(this.config.autoAcceptChat);
    this.chat = new ChatMachine({ idPrefix: this.config.idPrefix, readReceipts: this.config.readReceipts });
    this.mail = new MailboxClient({
      emit: (event, ref) => this.withRef(ref, () => this.emit(event)),
      emitError: (code, detail, username, id, ref) => this.withRef(ref, () => this.emitError(code, detail, username, id)),
      sendMail: (username, messageId, sealed, ref) =>
        this.withRef(ref, () => {
          if (this.pending.size >= SERVER_REQUESTS_PENDING_MAX) return null;
          // Its reply carries the command's ref; a lost link is reported by the mailbox client, per message.
          const id = this.link.request({ type: 'mail.send', username, messageId, sealed });
          this.tagRef(id);
          return id;
        }),
      sendAck: (seq, unreadable) => void this.link.request({ type: 'mail.ack', seq, ...(unreadable ? { unreadable: true as const } : {}) }),
      seal: (ticket, sealKey, plaintext) => this.effects.push({ type: 'mail.seal', ticket, sealKey, plaintext }),
      open: (seq, sealed) => this.effects.push({ type: 'mail.open', seq, sealed }),
      record: (entry) => this.onChatAction({ type: 'record', entry, confirm: false }),
      mark: (mark) => this.onChatAction({ type: 'mark', mark }),
    });
  }

  /** Runs `then` answering the command tagged `ref` (a later step of it, such as a sealed message going out). */
  private withRef<T>(ref: number | undefined, then: () => T): T {
    if (ref === undefined) return then();
    const before = this.answering;
    this.answering = ref;
    try {
      return then();
    } finally {
      this.answering = before;
    }
  }
  // ---- the machine's interface ----------------------------------------------------------------

  handle(input: PeerInput, nowMs: number): void {
    if (this.exited) return;
    this.answering = input.type === 'command' ? input.ref : undefined;
    try {
      this.dispatch(input, nowMs);
      this.drain(nowMs);
    } finally {
      this.answering = undefined;
    }
  }

  private dispatch(input: PeerInput, nowMs: number): void {
    switch (input.type) {
      case 'history.stored':
        return this.withChat((chat) => chat.stored(input.friend, input.id));
      case 'history.answer':
      case 'history.failed':
        return this.onHistoryAnswer(input.queryId, input.type === 'history.answer' ? input.messages : null);
      case 'start':
        return this.onStart(input.p2pHost, input.p2pPort);
      case 'command':
        return this.onCommand(input.command, nowMs);
      case 'server.open':
        return this.link.opened(input.linkId, input.localAddress, nowMs);
      case 'server.bytes':
        return this.link.bytes(input.linkId, input.bytes, nowMs);
      case 'server.closed':
        return this.link.closed(input.linkId, nowMs);
      case 'p2p.accepted':
        return this.onAccepted(input.streamId, input.remoteAddress, input.peerKey ?? null, nowMs);
      case 'p2p.open':
        return this.onP2pOpen(input.streamId, input.peerKey ?? null);
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
      case 'file.digested':
        return this.withOutgoing(input.transferId, nowMs, (t) => t.digested(input.epoch, input.sha256, nowMs));
      case 'file.rehashed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.rehashed(input.epoch, nowMs));
      case 'file.written':
        return this.withIncoming(input.transferId, nowMs, (t) => t.written(input.offset, nowMs));
      case 'file.hashed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.hashed(input.sha256));
      case 'file.committed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.committed(input.path));
      case 'file.io-failed':
        return this.withIncoming(input.transferId, nowMs, (t) => t.ioFailed());
      case 'mail.sealed':
        return this.mail.sealed(input.ticket, input.sealed);
      case 'mail.opened':
        return this.mail.opened(this.link.username, input.seq, input.plaintext);
    }
  }

  handleTimeout(nowMs: number): void {
    this.link.handleTimeout(nowMs);
    this.broker.handleTimeout(nowMs);
    this.drain(nowMs);
    for (let key = this.timers.popDue(nowMs); key !== null; key = this.timers.popDue(nowMs)) {
      if (this.exited) return;
      if (key.startsWith('hello:')) this.onHelloTimeout(key.slice(6));
      else if (key.startsWith('resume-out:')) this.withOutgoing(key.slice(11), nowMs, (t) => t.resumeTimedOut());
      else if (key.startsWith('resume-in:')) this.withIncoming(key.slice(10), nowMs, (t) => t.resumeTimedOut());
      else if (key.startsWith('stall-out:')) this.withOutgoing(key.slice(10), nowMs, (t) => t.stallCheck(nowMs));
      else if (key.startsWith('stall-in:')) this.withIncoming(key.slice(9), nowMs, (t) => t.stallCheck(nowMs));
      else if (key.startsWith('expired:')) this.expiredTokens.delete(key.slice(8));
      else this.onTokenTimeout(key.slice(6), nowMs);
    }
  }

  nextTimeoutMs(): number | null {
    let next = this.timers.nextMs();
    for (const atMs of [this.link.nextTimeoutMs(), this.broker.nextTimeoutMs()]) {
      if (atMs !== null && (next === null || atMs < next)) next = atMs;
    }
    return next;
  }

  takeEffects(): PeerEffect[] {
    const effects = this.effects;
    this.effects = [];
    return effects;
  }

  /** Read-only views for tests, the dashboard and the simulator's checkers. */
  get username(): string | null {
    return this.link.username;
  }

  get loggedIn(): boolean {
    return this.link.loggedIn;
  }

  /** The server link's state (server-link.ts), for tests and checkers. */
  get linkState(): LinkState['state'] {
    return this.link.state.state;
  }

  /** Chat-session requests not yet ended, both directions (none should outlive the healed phase). */
  get sessionRequestCount(): number {
    return this.broker.pendingCount;
  }

  /**
   * Requests to the server the machine still keeps something for (a reply owed, the ref of the
   * command that sent it, a new password in flight): what an idle client holds per request. None
   * should outlive its reply, the link it went on, or the broker giving up on it (the simulator's
   * liveness check: a count that stays up at the end of the healed phase is bookkeeping kept for
   * replies that will never come).
   */
  get requestsAwaitingReply(): number {
    return new Set([...this.pending.keys(), ...this.pendingRefs.keys(), ...this.passwordChanges.keys()]).size;
  }

  /** A server connection is being made (or its welcome awaited): requests would fail now, not in a moment. */
  get serverLinkComing(): boolean {
    return this.link.coming;
  }

  openSessions(): string[] {
    return [...this.sessions.keys()];
  }

  transferCount(): number {
    return this.transfersIn.size + this.transfersOut.size;
  }

  private get exited(): boolean {
    return this.link.state.state === 'Closed';
  }

  // ---- start, commands ------------------------------------------------------------------------

  private onStart(p2pHost: string, p2pPort: number): void {
    if (this.link.state.state !== 'ExpectStart') return;
    this.p2pHost = p2pHost;
    this.p2pPort = p2pPort;
    this.link.start();
  }

  private onCommand(command: PeerCommand, nowMs: number): void {
    if (this.link.quitting) return;
    switch (command.cmd) {
      case 'signup':
        this.request('signup', {
          type: 'signup',
          username: command.username,
          password: command.password,
          ...(command.nickname === undefined ? {} : { nickname: command.nickname }),
          ...(this.config.identity === null ? {} : { identity: this.config.identity }),
        });
        return;
      case 'login':
        return this.onLogin(command.username, command.password);
      case 'logout':
        return this.onLogout();
      case 'friends':
        this.request('friends', { type: 'friends.list' });
        return;
      case 'friend.request':
      case 'friend.accept':
      case 'friend.decline':
      case 'friend.remove':
      case 'friend.block':
      case 'friend.unblock':
        this.request(command.cmd, { type: command.cmd, username: command.username });
        return;
      case 'chat.open':
        return this.onChatOpen(command.username, nowMs);
      case 'chat.answer':
        return this.onChatAnswer(command.username, command.accept, nowMs);
      case 'chat.send':
        return this.onChatSend(command.username, command.text, command.id, nowMs);
      case 'chat.close':
        return this.onChatClose(command.username, nowMs);
      case 'chat.typing':
        return this.withChat((chat) => chat.typing(command.username, nowMs));
      case 'chat.read':
        return this.withChat((chat) => chat.read(command.username, command.id));
      case 'history':
        return this.askHistory(command.username, (queryId, account) => ({
          type: 'history.page',
          queryId,
          account,
          friend: command.username,
          limit: command.limit ?? HISTORY_PAGE_MESSAGES_DEFAULT,
          before: command.before ?? null,
        }));
      case 'history.search':
        return this.askHistory(command.username ?? null, (queryId, account) => ({
          type: 'history.search',
          queryId,
          account,
          text: command.text,
          friend: command.username ?? null,
          limit: HISTORY_SEARCH_RESULTS_MAX,
        }), command.text);
      case 'file.send':
        return this.onFileSend(command.username, command.files, nowMs);
      case 'file.answer':
        return this.onFileAnswer(command.transferId, command.accept, nowMs);
      case 'file.cancel':
        return this.onFileCancel(command.transferId, nowMs);
      case 'account.password': {
        const id = this.request(command.cmd, { type: 'account.password', old: command.old, new: command.new });
        if (id !== null) {
          this.passwordChanges.set(id, command.new);
          this.link.passwordChanging(command.new);
        }
        return;
      }
      case 'account.nickname':
        this.request(command.cmd, { type: 'account.nickname', nickname: command.nickname });
        return;
      case 'quit':
        return this.tagRef(this.link.quit(nowMs));
    }
  }

  // ---- the server link (server-link.ts) -------------------------------------------------------

  /** Sends a user's request; its reply or error is told by id. Returns the id, or null if not sent. */
  private request(cmd: string, frame: ClientRequest): number | null {
    if (this.pending.size >= SERVER_REQUESTS_PENDING_MAX) {
      this.emitError('QUEUE_FULL', 'too many requests waiting for the server');
      return null;
    }
    const id = this.link.request(frame);
    this.track(cmd, id);
    return id;
  }

  /** A request the link sent for the user (id), or could not send (null). */
  private track(cmd: string, id: number | null): void {
    if (id === null) return this.emitError('SERVER_UNAVAILABLE');
    this.pending.set(id, cmd);
    this.tagRef(id);
  }

  /** The reply to request `id` answers the command being handled: its events carry the command's ref. */
  private tagRef(id: number | null): void {
    if (id !== null && this.answering !== undefined) this.pendingRefs.set(id, this.answering);
  }

  /** Carries out what the sub-machines asked for, until both are quiet (bounded). */
  private drain(nowMs: number): void {
    for (let round = 0; round < DRAIN_ROUNDS_MAX; round++) {
      const linkActions = this.link.takeActions();
      for (const action of linkActions) {
        this.onLinkAction(action, nowMs);
        this.drainBroker(nowMs);
      }
      const brokerActions = this.broker.takeActions();
      for (const action of brokerActions) this.onBrokerAction(action, nowMs);
      if (linkActions.length === 0 && brokerActions.length === 0) return;
    }
  }

  /**
   * The user's login. The link sends one login at a time (ServerLink.login): one typed while
   * another awaits its answer is answered here at once, so that it still gets its one answer.
   * While the link takes its own login back after a drop (resume, then the password) the user
   * hears what it heard all through the outage: the client is logging back in by itself, and
   * `reconnected` says when it is done. While the user's own login or logout awaits its answer,
   * BUSY: retry once it has come.
   */
  private onLogin(username: string, password: string): void {
    const p = this.link.state;
    if (p.state === 'ExpectLoginOk' && p.via !== 'login') {
      return this.emitError('SERVER_UNAVAILABLE', 'the connection dropped and the client is logging back in by itself: wait for reconnected');
    }
    if (p.state === 'ExpectLoginOk' || p.state === 'ExpectLogoutOk') {
      return this.emitError('BUSY', `the ${p.state === 'ExpectLoginOk' ? 'login' : 'logout'} before this one still awaits the server's answer: retry once it has come`);
    }
    this.track('login', this.link.login(username, password));
  }

  /**
   * The user's logout. The link sends it only when logged in with nothing else awaiting its answer
   * (ServerLink.logout); any other is answered here at once, so that it still gets its one answer
   * and says why. Not logged in (the server ended the login: a TTL expiry, say, while this process
   * was paused): NOT_LOGGED_IN, nothing to log out of. While the link is down holding a login to
   * take back (or its resume is on its way): the login ends here, and the link's
   * `logged-out-here` answers logout.ok (onLoggedOutHere). Behind the user's own login or logout:
   * BUSY, retry once it has been answered.
   */
  private onLogout(): void {
    const p = this.link.state;
    if (p.state === 'ExpectLogin') {
      const ended = this.loginEndedBy;
      return this.emitError('NOT_LOGGED_IN', ended === null || ended === 'logout' ? 'not logged in: there is nothing to log out of' : `the login had ended already (${ended}): there is nothing to log out of`);
    }
    if (this.link.takingBack) {
      this.link.logout();
      return;
    }
    if (p.state === 'ExpectLoginOk' || p.state === 'ExpectLogoutOk') {
      return this.emitError('BUSY', `the ${p.state === 'ExpectLoginOk' ? 'login' : 'logout'} before this one still awaits the server's answer: retry once it has come`);
    }
    if (p.state === 'ExpectStart' || p.state === 'ExpectOpen' || p.state === 'ExpectWelcome' || p.state === 'ExpectReconnect') {
      // The link is down holding no login (taking one back was handled above): nothing to log out
      // of, unless the user's own login waits to be sent again, which answers first.
      if (p.state !== 'ExpectStart' && p.loginOwed !== null) return this.emitError('BUSY', 'the login before this one still awaits the server\'s answer: retry once it has come');
      return this.emitError('NOT_LOGGED_IN', 'not logged in: there is nothing to log out of');
    }
    this.track('logout', this.link.logout());
  }

  private drainBroker(nowMs: number): void {
    for (const action of this.broker.takeActions()) this.onBrokerAction(action, nowMs);
  }

  private onLinkAction(action: LinkAction, nowMs: number): void {
    switch (action.type) {
      case 'connect':
        this.effects.push({ type: 'server.connect', linkId: action.linkId, host: this.config.serverHost, port: this.config.serverPort });
        return;
      case 'send':
        this.effects.push({ type: 'server.send', linkId: action.linkId, frame: action.frame });
        return;
      case 'close':
        this.effects.push({ type: 'server.close', linkId: action.linkId });
        return;
      case 'up':
        return this.emitReady();
      case 'link-lost':
        return this.onLinkLost(action.resending);
      case 'disconnected':
        return this.emit({ event: 'disconnected' });
      case 'reconnected':
        return this.emit({ event: 'reconnected' });
      case 'server-degraded':
        return this.emit({ event: 'server.degraded', retryInMs: Math.max(0, Math.round(action.retryAtMs - nowMs)) });
      case 'logged-in':
        this.loginEndedBy = null;
        return this.withReplyRef(action.frame, () => this.onLoggedIn(action.via, action.frame, nowMs));
      case 'password-settled':
        return this.settlePassword(action.changed ? { changed: true, username: action.username, nickname: action.nickname } : PASSWORD_NOT_CHANGED);
      case 'logged-out-here':
        return this.onLoggedOutHere(action.requestId);
      case 'login-ended':
        this.loginEndedBy = action.reason;
        // Logged out for good: a password change waiting to be settled never will be.
        if (action.reason === 'relogin-refused') this.settlePassword(PASSWORD_NEITHER_LOGS_IN);
        this.broker.loginEnded(action.reason);
        // A refused resume is taken back with the password at once (a server restart): the user
        // stays on, and so do its P2P sessions. Had the TTL run out, the friends saw us go
        // offline and ended their side already.
        if (action.reason !== 'resume-refused') this.endSessionsWithLogin(nowMs);
        return;
      case 'frame':
        return this.withReplyRef(action.frame, () => {
          this.onServerFrame(action.frame, nowMs);
          this.drainBroker(nowMs);
        });
      case 'protocol-error':
        return this.emitError('UNEXPECTED_FRAME', `${action.frameType} from the server in ${action.state}`);
      case 'closed':
        this.settlePassword(PASSWORD_NOT_KNOWN_AT_QUIT);
        return this.finishQuit();
    }
  }

  /** Answers an account.password the link dropped under, now that it is known whether it happened. */
  private settlePassword(outcome: PasswordOutcome): void {
    const owed = this.passwordAnswerOwed;
    if (owed === null) return;
    this.passwordAnswerOwed = null;
    const before = this.answering;
    this.answering = owed.ref;
    if (outcome.changed) this.emit({ event: 'account.updated', username: outcome.username, nickname: shownNickname(outcome.nickname, outcome.username) });
    else this.emitError('SERVER_UNAVAILABLE', outcome.detail);
    this.answering = before;
  }

  /**
   * The link ended the login here, the server out of reach (ServerLink.logout, and a drop before
   * logout.ok): the user's logout is answered now, logout.ok with the command's ref (`requestId`:
   * the logout the drop took; null: the command being handled), saying so. The sessions ended
   * with the login (`login-ended` came first). A password change that waited for the take-back to
   * learn whether it happened never will: answered too, saying it is not known.
   */
  private onLoggedOutHere(requestId: number | null): void {
    const ref = requestId === null ? this.answering : this.pendingRefs.get(requestId);
    if (requestId !== null) {
      this.pending.delete(requestId);
      this.pendingRefs.delete(requestId);
    }
    this.withRef(ref, () => this.emit({ event: 'logout.ok', detail: LOGGED_OUT_HERE_DETAIL }));
    const owed = this.passwordAnswerOwed;
    if (owed !== null) {
      this.passwordAnswerOwed = null;
      this.withRef(owed.ref, () =>
        this.emitError('SERVER_UNAVAILABLE', 'the connection dropped before the password change was answered, and the logout ended the login before the client could learn whether it happened: log in with the new password, or the old one if that fails'),
      );
    }
  }

  /** Runs `then` with the ref of the command a reply answers, if it answers one. */
  private withReplyRef(frame: ServerFrame, then: () => void): void {
    const re = 're' in frame ? frame.re : undefined;
    const before = this.answering;
    if (re !== undefined) {
      this.answering = this.pendingRefs.get(re);
      this.pendingRefs.delete(re);
    }
    try {
      then();
    } finally {
      this.answering = before;
    }
  }

  /**
   * Replies owed on the lost link will not come; requests it carried end (see session-broker.ts).
   * resending: requests the link sends again itself (a user's login): still owed, same ref.
   */
  private onLinkLost(resending: readonly number[]): void {
    for (const [id, cmd] of [...this.pending]) {
      if (resending.includes(id)) continue;
      const ref = this.pendingRefs.get(id);
      this.pending.delete(id);
      this.pendingRefs.delete(id);
      if (cmd === 'account.password' && this.link.passwordPending && this.passwordChanges.has(id)) {
        // Whether the change happened is known once the login is taken back: answered then.
        this.passwordAnswerOwed = { ref };
        continue;
      }
      this.answering = ref;
      this.emitError('SERVER_UNAVAILABLE', `the server connection closed before the reply to ${cmd}`);
    }
    this.answering = undefined;
    // Nor will the replies to requests others hold (session requests and answers, mail): their refs go too.
    for (const id of [...this.pendingRefs.keys()]) if (!resending.includes(id)) this.pendingRefs.delete(id);
    this.passwordChanges.clear();
    this.broker.linkLost();
    this.mail.linkLost();
    this.emitReady();
  }

  private onLoggedIn(via: LoginVia, frame: ServerFrameOf<'login.ok'>, nowMs: number): void {
    if (frame.re !== undefined) this.pending.delete(frame.re);
    // Read receipts waiting for a session are the account's that read: another account's login
    // must not carry them (chat.ts forgetReceipts).
    if (frame.username !== this.lastAccount) this.withChat((chat) => chat.forgetReceipts());
    this.lastAccount = frame.username;
    this.mail.setFriends(frame.friends);
    if (via === 'login') {
      // Requests that came while we were away are listed, and each told as if it came now, so
      // a script or a person waiting for friend.request hears of it.
      this.requestsShown = new Set();
      this.emit({ event: 'login.ok', username: frame.username, friends: friendsShown(frame.friends), pending: frame.incoming, nickname: shownNickname(frame.nickname, frame.username) });
    } else {
      // Back after a blip or a server restart: presence may have changed meanwhile, and this list
      // is the truth, so hand it over before saying we are back.
      this.emit({ event: 'friends', friends: friendsShown(frame.friends), pending: frame.incoming });
    }
    const shownBefore = this.requestsShown;
    this.requestsShown = new Set(frame.incoming);
    for (const from of frame.incoming) if (!shownBefore.has(from)) this.emit({ event: 'friend.request', from });
    // A friendship that ended while our link was down was told to nobody here (the server does not
    // hold friend.removed for a detached user): the list is the truth.
    this.endWithNonFriends(frame.friends, nowMs);
    // So for our history too: what the server held of ours for an ex-friend went with the
    // friendship. Receipts it held for some of them (taken before the friendship ended) come after
    // this login.ok, and mark those delivered again (history.ts).
    this.effects.push({ type: 'history.fail-queued-except', account: frame.username, friends: frame.friends.map((f) => f.username) });
    // A friend on the list may be another friendship than the one our queued messages went to:
    // ended and made again while we were away (on another program of the account, which had to
    // log in to make it). The server tells each friendship's start; a new one fails them too.
    this.seeFriendships(frame.username, frame.friends);
  }

  /** The friendships the server says began when (those that say it), for history.friendships-seen. */
  private seeFriendships(account: string, friends: readonly { readonly username: string; readonly since?: number | undefined }[]): void {
    const seen = friends.flatMap((f) => (f.since === undefined ? [] : [{ username: f.username, sinceMs: f.since }]));
    if (seen.length > 0) this.effects.push({ type: 'history.friendships-seen', account, friends: seen });
  }

  /**
   * The server deleted the mail it held between us and an ex-friend: ours still `queued` in
   * history failed. Only when told while logged in (a friend.removed push or reply): every
   * mail.delivered for that friend came before it on this link. A friendship found ended at a
   * login is onLoggedIn's (history.fail-queued-except).
   */
  private failQueuedMail(friend: string): void {
    const account = this.link.username;
    // Stryker disable next-line ConditionalExpression: equivalent, friend.removed reaches here only on a logged-in link (the link refuses it before a login), so there is always an account; the test is there for the type
    if (account !== null) this.effects.push({ type: 'history.fail-queued', account, friend });
  }

  /** Ends what we still have with anyone not in `friends` (the server's full list of our friends). */
  private endWithNonFriends(friends: readonly { readonly username: string }[], nowMs: number): void {
    const current = new Set(friends.map((f) => f.username));
    const others = new Set<string>();
    for (const name of this.sessions.keys()) others.add(name);
    for (const name of this.tokens.keys()) others.add(name);
    for (const channel of this.channels.values()) if (channel.state !== 'ExpectHello') others.add(channel.friend);
    for (const t of this.transfersOut.values()) others.add(t.meta.peer);
    for (const t of this.transfersIn.values()) others.add(t.meta.peer);
    for (const name of others) if (!current.has(name)) this.endWithExFriend(name, nowMs);
  }

  /**
   * A friendship ended (friend.removed, either side's friend.remove): nothing may go on carrying
   * it. The open session closes on both sides (bye and chat.closed reason `unfriended`), a session
   * being set up fails (chat.failed reason `not-friends`, as the server answers a new request),
   * transfers with the ex-friend end (file.failed reason `unfriended`), suspended ones included,
   * and a read receipt waiting for a session goes.
   */
  private endWithExFriend(friend: string, nowMs: number): void {
    this.closeSession(friend, 'unfriended', true, nowMs);
    // The friend's request we said yes to (its hello not come yet) ends as theirs: `incoming`, as
    // when its token expires or our login ends; our own connection to them below as ours.
    const heldToken = this.tokens.delete(friend);
    // Stryker disable next-line ConditionalExpression,StringLiteral: a token timer left armed finds no token when it fires, and a new token for this friend arms the same key again; disarming a key not armed changes nothing
    if (heldToken) this.timers.disarm(`token:${friend}`);
    let setupFailed = false;
    if (this.expiredTokens.delete(friend)) this.timers.disarm(`expired:${friend}`);
    for (const channel of [...this.channels.values()]) {
      if (channel.state === 'ExpectHello') {
        if (channel.parkedHello?.username === friend) this.refuse(channel, 'NOT_FRIENDS', 'no longer friends', nowMs);
        continue;
      }
      if (channel.friend !== friend || channel.state === 'Open') continue;
      this.channels.delete(channel.streamId);
      this.timers.disarm(`hello:${channel.streamId}`);
      this.effects.push({ type: 'p2p.reset', streamId: channel.streamId });
      setupFailed ||= !channel.answered;
    }
    if (heldToken) this.emit(chatFailed(friend, 'not-friends', true));
    if (setupFailed) this.emit(chatFailed(friend, 'not-friends', false));
    this.broker.friendRemoved(friend);
    this.forTransfersWith(friend, nowMs, (t) => t.abort('unfriended'));
    this.withChat((chat) => chat.forget(friend));
    for (const [transferId, outcome] of [...this.recentOutcomes]) if (outcome.peer === friend) this.recentOutcomes.delete(transferId);
  }

  /** A frame the link passed on: replies to the user's requests, and pushes. */
  private onServerFrame(frame: ServerFrame, nowMs: number): void {
    if ('re' in frame && frame.re !== undefined) this.pending.delete(frame.re);
    if (isSessionFrame(frame)) return this.broker.onFrame(frame, nowMs);
    switch (frame.type) {
      case 'error':
        return this.onServerError(frame);
      case 'signup.ok':
        return this.emit({ event: 'signup.ok', username: frame.username });
      case 'logout.ok':
        return this.onLogoutOk(nowMs);
      case 'friends':
        this.mail.setFriends(frame.friends);
        this.requestsShown = new Set(frame.incoming);
        this.emit({ event: 'friends', friends: friendsShown(frame.friends), pending: frame.incoming });
        return this.endWithNonFriends(frame.friends, nowMs);
      case 'presence':
        this.emit({ event: 'presence', username: frame.username, status: frame.status });
        // The friend logged out or timed out: its sessions end with its login, here too.
        if (frame.status === 'offline' && this.sessions.has(frame.username)) this.closeSession(frame.username, 'offline', true, nowMs);
        return;
      case 'friend.incoming':
        this.requestsShown.add(frame.from);
        return this.emit({ event: 'friend.request', from: frame.from });
      case 'friend.requested':
        return this.emit({ event: 'friend.requested', username: frame.username });
      case 'friend.added':
        this.mail.addFriends([frame]);
        if (this.link.username !== null) this.seeFriendships(this.link.username, [frame]);
        this.requestsShown.delete(frame.username);
        return this.emit({
          event: 'friend.added',
          username: frame.username,
          nickname: shownNickname(frame.nickname, frame.username),
          status: frame.status,
          ...(frame.identity === undefined ? {} : { identity: frame.identity }),
        });
      case 'friend.declined':
        this.requestsShown.delete(frame.username);
        return this.emit({ event: 'friend.declined', username: frame.username });
      case 'friend.removed':
        this.mail.forget(frame.username);
        this.requestsShown.delete(frame.username);
        this.emit({ event: 'friend.removed', username: frame.username });
        this.failQueuedMail(frame.username);
        return this.endWithExFriend(frame.username, nowMs);
      case 'friend.blocked':
        this.requestsShown.delete(frame.username);
        this.emit({ event: frame.type, username: frame.username });
        // The conversation ends with the block: nothing more of theirs reaches us, nor ours them
        // (chat.send says BLOCKED from here on). `closed`, as any close: the block stays silent.
        // A yes of ours whose hello has not come ends too, as the server ends a request still
        // waiting on us (`cancelled`); the late hello is told its token expired, as any late one.
        if (this.expireToken(frame.username, nowMs)) this.emit(chatFailed(frame.username, 'cancelled', true));
        return this.closeSession(frame.username, 'closed', true, nowMs);
      case 'friend.unblocked':
        return this.emit({ event: frame.type, username: frame.username });
      case 'mail.queued':
        return this.mail.onQueued(frame);
      case 'mail.deliver':
        return this.mail.onDeliver(frame);
      case 'mail.delivered':
        return this.mail.onDelivered(frame);
      case 'mail.failed':
        return this.mail.onFailed(frame);
      case 'friend.updated':
        // New keys (the friend logged in from a new data dir): offline messages are sealed to them from now.
        if (frame.identity !== undefined && this.mail.isFriend(frame.username)) this.mail.addFriends([frame]);
        return this.emit({
          event: 'friend.updated',
          username: frame.username,
          nickname: shownNickname(frame.nickname, frame.username),
          ...(frame.identity === undefined ? {} : { identity: frame.identity }),
        });
      case 'account.updated':
        return this.onAccountUpdated(frame);
      default:
        // welcome, login.ok and heartbeat.ack are the link's own.
        return;
    }
  }

  private onAccountUpdated(frame: ServerFrameOf<'account.updated'>): void {
    const password = frame.re === undefined ? undefined : this.passwordChanges.get(frame.re);
    if (frame.re !== undefined) this.passwordChanges.delete(frame.re);
    // The server replaced our resume token: the old one, and the old password, no longer work.
    if (password !== undefined && frame.resumeToken !== undefined) this.link.passwordChanged(password, frame.resumeToken);
    this.emit({ event: 'account.updated', username: frame.username, nickname: shownNickname(frame.nickname, frame.username) });
  }

  private onServerError(frame: ServerFrameOf<'error'>): void {
    const refused = frame.re === undefined ? undefined : this.passwordChanges.get(frame.re);
    if (refused !== undefined && frame.re !== undefined) {
      this.passwordChanges.delete(frame.re);
      this.link.passwordRefused(refused);
    }
    if (frame.re !== undefined && this.broker.requestFailed(frame.re, frame.code)) return;
    const mail = frame.re === undefined ? null : this.mail.failedSend(frame.re);
    if (mail !== null) {
      // About one offline message (MAILBOX_FULL, BLOCKED, NOT_FRIENDS): named, so a script knows which.
      const code = isErrorCode(frame.code) ? frame.code : 'PEER_ERROR';
      return this.emitError(code, frame.detail ?? frame.message, mail.friend, mail.id);
    }
    if (frame.code === 'SERVER_SHUTTING_DOWN') return; // the close that follows says it all
    this.emit({ event: 'error', code: frame.code, message: frame.message, ...(frame.detail === undefined ? {} : { detail: frame.detail }) });
  }

  private onLogoutOk(nowMs: number): void {
    this.emit({ event: 'logout.ok' });
    this.endSessionsWithLogin(nowMs);
  }

  /**
   * The account history records go to: the logged-in one, or the last one that was, once its login
   * has ended (the link forgets the account before its sessions end: their ends are its history).
   */
  private get historyAccount(): string | null {
    return this.link.username ?? this.lastAccount;
  }

  /**
   * Our login ended (logout, TTL expiry, a login elsewhere): so do our sessions, on both sides;
   * what ends with them is marked in that account's history (historyAccount).
   */
  private endSessionsWithLogin(nowMs: number): void {
    for (const username of [...this.sessions.keys()]) this.closeSession(username, 'offline', true, nowMs);
    // And the sessions being set up: a connection to a callee not greeted yet, a token held for a
    // caller's hello. Left alone, one came to its end under the next login (its failure taken for
    // the outcome of that login's own chat.open to the friend) or opened a session for a login
    // that was gone. They end here, with the login: chat.failed logged-out, as a request does.
    for (const channel of [...this.channels.values()]) {
      if (channel.state !== 'ExpectOpen' && channel.state !== 'ExpectHelloOk') continue;
      this.channels.delete(channel.streamId);
      this.timers.disarm(`hello:${channel.streamId}`);
      this.effects.push({ type: 'p2p.reset', streamId: channel.streamId });
      this.failSetup(channel, LOGIN_ENDED_REASON);
    }
    for (const friend of [...this.tokens.keys()]) {
      this.expireToken(friend, nowMs);
      this.emit(chatFailed(friend, LOGIN_ENDED_REASON, true));
    }
  }

  private finishQuit(): void {
    for (const session of this.sessions.values()) {
      this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'bye', reason: 'offline' } });
    }
    for (const channel of this.channels.values()) this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
    this.effects.push({ type: 'exit', code: 0 });
  }

  // ---- chat sessions: brokering (session-broker.ts) -------------------------------------------

  private onChatOpen(friend: string, nowMs: number): void {
    if (this.sessions.has(friend)) return this.emit({ event: 'chat.opened', username: friend });
    if (this.broker.hasOutgoing(friend)) return this.emitError('SESSION_PENDING', undefined, friend);
    if (this.pending.size >= SERVER_REQUESTS_PENDING_MAX) return this.emitError('QUEUE_FULL', 'too many requests waiting for the server', friend);
    const id = this.link.request({ type: 'session.request', username: friend });
    this.tagRef(id);
    this.broker.requested(friend, id, nowMs);
  }

  private onChatAnswer(friend: string, accept: boolean, nowMs: number): void {
    const requestId = this.broker.awaitingAnswer(friend);
    if (requestId === null) return this.emitError('NO_SUCH_SESSION_REQUEST', undefined, friend);
    this.answerSession(friend, requestId, accept, nowMs);
  }

  /**
   * The broker holds the answer's id, not `pending`, as it does a chat.open's: its reply, or none
   * at all, is the session request's (session-broker.ts), and a reply lost with the request it
   * answers must not hold a slot, nor come out as an error when the link drops much later.
   */
  private answerSession(friend: string, requestId: string, accept: boolean, nowMs: number): void {
    if (this.pending.size >= SERVER_REQUESTS_PENDING_MAX) return this.emitError('QUEUE_FULL', 'too many requests waiting for the server');
    const address = accept ? { host: this.advertisedHost(), port: this.p2pPort } : {};
    const id = this.link.request({ type: 'session.answer', requestId, accept, ...address });
    if (id === null) return this.emitError('SERVER_UNAVAILABLE');
    this.tagRef(id);
    this.broker.answered(friend, accept, id, nowMs);
  }

  private onBrokerAction(action: BrokerAction, nowMs: number): void {
    switch (action.type) {
      case 'event':
        this.emit(action.event);
        // The friend's request we said yes to ended without its token (our login ended, its
        // deadline, our yes refused, session.withdrawn): a hello parked for it would wait for a
        // token that will not come, and its caller hear `timeout` only at the hello deadline.
        // Stryker disable next-line ConditionalExpression: only a chat.failed carries `incoming` (events.ts), so the first test adds nothing the second does not say; it is there for the type
        if (action.event.event === 'chat.failed' && action.event.incoming === true) this.refuseParkedHello(action.event.username, nowMs);
        return;
      case 'answer':
        return this.answerSession(action.friend, action.requestId, action.accept, nowMs);
      case 'connect':
        return this.connectToCallee(action.friend, action.token, action.vouchedKey, action.host, action.port, this.sessionsBrokered++, nowMs);
      case 'hold-token':
        return this.holdToken(action.friend, action.token, action.vouchedKey, this.sessionsBrokered++, nowMs);
      case 'withdraw':
        return this.withdrawSessionRequest(action.requestId);
      case 'reply-answers-nothing':
        this.pendingRefs.delete(action.re);
        return;
      case 'protocol-error':
        return this.emitError('UNEXPECTED_FRAME', `${action.frameType} from the server for a request in ${action.state}`, undefined);
    }
  }

  /**
   * Withdraws our request whose answer was a session the friend opened (session-broker.ts). The
   * broker holds the cancel's id, as it does an answer's: its reply (session.failed `cancelled`,
   * or NO_SUCH_SESSION_REQUEST when the request ended on the server first) is nobody's outcome.
   * With no link the request stays on the server until its timeout, and its outcome, replayed on
   * resume, is stale here.
   */
  private withdrawSessionRequest(requestId: string): void {
    const id = this.link.request({ type: 'session.cancel', requestId });
    if (id !== null) this.broker.withdrawSent(id);
  }

  private advertisedHost(): string {
    if (this.config.p2pAdvertiseHost !== null) return this.config.p2pAdvertiseHost;
    const wildcard = this.p2pHost === '0.0.0.0' || this.p2pHost === '::' || this.p2pHost === '';
    if (!wildcard) return this.p2pHost;
    const local = this.link.localAddress;
    if (local === null || local === '') return '127.0.0.1';
    return local.startsWith('::ffff:') ? local.slice(7) : local;
  }

  /** Callee: the token the caller's hello must bring, and any hello that arrived before it. */
  private holdToken(friend: string, token: string, vouchedKey: string | null, brokered: number, nowMs: number): void {
    // The token of an older request of the friend's, its hello not come, gives way to the new one
    // (one per friend). That request ends here, as the broker ends one a newer request replaces:
    // chat.failed `replaced`, incoming. Until now its hello could still open the session; replaced
    // without a word, the yes to it was never answered (a swarm of cluster-three-nodes.yaml, root
    // seed 4219: the caller refused a man in the middle's key and asked again). A late hello with
    // it is told SESSION_TOKEN_EXPIRED (expireToken).
    if (this.expireToken(friend, nowMs)) this.emit(chatFailed(friend, REPLACED, true));
    this.tokens.set(friend, { token, brokered, vouchedKey, answered: false });
    this.timers.arm(`token:${friend}`, nowMs + P2P_HELLO_TIMEOUT_MS);
    for (const channel of [...this.channels.values()]) {
      if (channel.state !== 'ExpectHello') continue;
      const parked = channel.parkedHello;
      if (parked === null || parked.username !== friend) continue;
      const unparked: ChannelOf<'ExpectHello'> = { ...channel, parkedHello: null };
      this.channels.set(channel.streamId, unparked);
      this.onHello(unparked, parked, nowMs);
    }
  }

  /**
   * `friend`'s request we said yes to has ended with no token: a hello of theirs parked for it is
   * refused at once. BAD_SESSION_TOKEN: the token it brings is unknown here and now will stay so
   * (SESSION_TOKEN_EXPIRED is told only of a token we held). No newer request from `friend` can
   * await its token yet: only our answer, carried out after this event, puts one there.
   */
  private refuseParkedHello(friend: string, nowMs: number): void {
    for (const channel of [...this.channels.values()]) {
      // Stryker disable next-line ConditionalExpression: only an ExpectHello channel has a parkedHello, so the state test adds nothing the second does not say; it is there for the type
      if (channel.state === 'ExpectHello' && channel.parkedHello?.username === friend) this.refuse(channel, 'BAD_SESSION_TOKEN', 'the request it answers ended before its token came', nowMs);
    }
  }

  /** Caller: the callee said yes; open the P2P stream to it. */
  private connectToCallee(friend: string, token: string, vouchedKey: string | null, host: string, port: number, brokered: number, nowMs: number): void {
    const streamId = `out:${this.nextStreamSeq++}`;
    this.channels.set(streamId, { state: 'ExpectOpen', streamId, decoder: new FrameDecoder(P2P_DECODER_OPTIONS), friend, token, brokered, vouchedKey, answered: false });
    this.timers.arm(`hello:${streamId}`, nowMs + P2P_HELLO_TIMEOUT_MS);
    this.effects.push({ type: 'p2p.connect', streamId, host, port, friend, vouchedKey });
  }

  /**
   * The friend's request we said yes to: its hello never came. The yes is answered (docs/CLIENT.md,
   * chat.answer): chat.failed `timeout`, unless a chat.opened with the friend was told while the
   * token was held. A session open since before it (the friend lost their end of it and asked
   * again) answered nothing of this request: kept quiet then, a user who typed the yes was never
   * answered.
   */
  private onTokenTimeout(friend: string, nowMs: number): void {
    const held = this.tokens.get(friend);
    if (!this.expireToken(friend, nowMs)) return;
    // Stryker disable next-line OptionalChaining: expireToken found the token (it returned true), so `held` is defined here; the `?.` is there for the type
    if (held?.answered !== true) this.emit(chatFailed(friend, 'timeout', true));
  }

  /**
   * Stops holding the token for `friend`'s hello, unused (its wait ran out, or our login ended),
   * and remembers it a while, so a caller held up past that learns it was late (onHello).
   */
  private expireToken(friend: string, nowMs: number): boolean {
    const held = this.tokens.get(friend);
    if (held === undefined) return false;
    this.tokens.delete(friend);
    this.timers.disarm(`token:${friend}`);
    this.expiredTokens.set(friend, { token: held.token, vouchedKey: held.vouchedKey });
    this.timers.arm(`expired:${friend}`, nowMs + P2P_TOKEN_EXPIRED_KEPT_MS);
    return true;
  }

  // ---- P2P channels ---------------------------------------------------------------------------

  private onAccepted(streamId: StreamKey, remoteAddress: string, peerKey: string | null, nowMs: number): void {
    if (this.link.quitting) {
      this.effects.push({ type: 'p2p.reset', streamId });
      return;
    }
    const from = addressKey(remoteAddress);
    const waiting: ChannelOf<'ExpectHello'>[] = [];
    for (const channel of this.channels.values()) if (channel.state === 'ExpectHello') waiting.push(channel);
    if (waiting.length >= P2P_UNAUTHENTICATED_STREAMS_MAX) {
      // All taken: one address must not keep the others out. The newcomer takes the place of a
      // stream of the address holding the most, or is refused (accept-fairness.ts).
      const reset = streamToEvict(waiting, from) ?? streamId;
      this.channels.delete(reset);
      // Stryker disable next-line StringLiteral: equivalent: a hello timer left behind fires into onHelloTimeout, which finds no channel and does nothing; the disarm spares that wake-up only
      this.timers.disarm(`hello:${reset}`);
      this.effects.push({ type: 'p2p.reset', streamId: reset });
      if (reset === streamId) return;
    }
    this.channels.set(streamId, { state: 'ExpectHello', streamId, decoder: new FrameDecoder(P2P_HELLO_DECODER_OPTIONS), parkedHello: null, peerKey, addressKey: from });
    this.timers.arm(`hello:${streamId}`, nowMs + P2P_HELLO_TIMEOUT_MS);
  }

  private onP2pOpen(streamId: StreamKey, peerKey: string | null): void {
    const channel = this.channels.get(streamId);
    const me = this.link.username ?? undefined;
    if (channel?.state !== 'ExpectOpen' || me === undefined) return;
    if (this.config.checkPeerKeys && !peerKeyMatches(channel.vouchedKey, peerKey)) {
      // Someone else answered at the friend's address: nothing is sent (the hello would give them
      // the token), the link is dropped, the user is told.
      this.channels.delete(streamId);
      this.timers.disarm(`hello:${streamId}`);
      this.effects.push({ type: 'p2p.reset', streamId });
      this.emitError('PEER_KEY_MISMATCH', `expected ${keyHint(channel.vouchedKey)}, the peer proved ${keyHint(peerKey)}`, channel.friend);
      this.failSetup(channel, 'peer-key-mismatch');
      return;
    }
    this.channels.set(streamId, { state: 'ExpectHelloOk', streamId, decoder: channel.decoder, friend: channel.friend, brokered: channel.brokered, answered: channel.answered });
    this.effects.push({ type: 'p2p.send', streamId, frame: { type: 'hello', username: me, token: channel.token } });
  }

  private onHelloTimeout(streamId: StreamKey): void {
    const channel = this.channels.get(streamId);
    if (channel === undefined || channel.state === 'Open') return;
    this.channels.delete(streamId);
    this.effects.push({ type: 'p2p.reset', streamId });
    if (channel.state !== 'ExpectHello') this.failSetup(channel, 'timeout');
  }

  /**
   * Caller: a P2P set-up to the friend ended without a session: the user's chat.open is answered
   * chat.failed, unless a session with the friend opened meanwhile and answered it (`answered`).
   */
  private failSetup(channel: ChannelOf<'ExpectOpen' | 'ExpectHelloOk'>, reason: ChatFailedReason): void {
    if (!channel.answered) this.emit(chatFailed(channel.friend, reason, false));
  }

  private onP2pClosed(streamId: StreamKey, nowMs: number): void {
    const channel = this.channels.get(streamId);
    if (channel === undefined) return;
    this.channels.delete(streamId);
    this.timers.disarm(`hello:${streamId}`);
    if (channel.state === 'ExpectHello') return;
    if (channel.state === 'ExpectOpen' || channel.state === 'ExpectHelloOk') return this.failSetup(channel, 'unreachable');
    const session = this.sessions.get(channel.friend);
    if (session?.streamId === streamId) this.loseSession(session, nowMs);
  }

  private onP2pBytes(streamId: StreamKey, bytes: Uint8Array, nowMs: number): void {
    let channel = this.channels.get(streamId);
    if (channel === undefined) return;
    const decoder = channel.decoder;
    decoder.push(bytes);
    for (let frame = decoder.next(); frame !== null; frame = decoder.next()) {
      if (frame.kind === 'error') return this.refuse(channel, frame.code, frame.detail, nowMs);
      if (frame.kind === 'data') {
        if (channel.state !== 'Open') return this.refuse(channel, 'BAD_SESSION_TOKEN', 'data before hello', nowMs);
        this.onData(channel.friend, frame.streamId, frame.offset, frame.bytes, nowMs);
      } else {
        this.onP2pMessage(channel, frame.message, nowMs);
      }
      // A frame may have moved the channel on (same stream, same decoder) or ended it.
      const current = this.channels.get(streamId);
      if (current === undefined || current.decoder !== decoder) return;
      channel = current;
    }
  }

  /** Error frame, then close: for hostile or broken input on a P2P stream. */
  /** Callee: a caller with the right token proved another key than the one vouched for. */
  private refusePeerKey(channel: Channel, friend: string, vouched: string | null, presented: string | null, nowMs: number): void {
    const detail = `expected ${keyHint(vouched)}, the peer proved ${keyHint(presented)}`;
    this.emitError('PEER_KEY_MISMATCH', detail, friend);
    this.refuse(channel, 'PEER_KEY_MISMATCH', detail, nowMs);
  }

  private refuse(channel: Channel, code: ErrorCode, detail: string, nowMs: number): void {
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code, message: `${errorMessage(code)}: ${detail}` } });
    this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
    this.onP2pClosed(channel.streamId, nowMs);
  }

  private onP2pMessage(channel: Channel, message: unknown, nowMs: number): void {
    const parsed = p2pFrameSchema.safeParse(message);
    if (!parsed.success) {
      if (channel.state !== 'Open') return this.refuse(channel, 'BAD_SESSION_TOKEN', 'expected hello', nowMs);
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      const code: ErrorCode = typeof type === 'string' && !P2P_FRAME_TYPES.has(type) ? 'UNKNOWN_TYPE' : 'BAD_FRAME';
      this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code, message: errorMessage(code) } });
      return;
    }
    const frame = parsed.data;
    if (!P2P_FRAME_RULES[frame.type].includes(channel.state)) return this.onUnexpected(channel, nowMs);
    switch (channel.state) {
      case 'ExpectHello':
        return frame.type === 'hello' ? this.onHello(channel, frame, nowMs) : undefined;
      case 'ExpectHelloOk':
        return frame.type === 'hello.ok' || frame.type === 'error' ? this.onHelloOk(channel, frame, nowMs) : undefined;
      case 'Open':
        return this.onOpenFrame(channel, frame, nowMs);
      case 'ExpectOpen':
        return;
    }
  }

  /** A frame P2P_FRAME_RULES does not allow in the channel's state. */
  private onUnexpected(channel: Channel, nowMs: number): void {
    switch (channel.state) {
      case 'ExpectHello':
        return this.refuse(channel, 'BAD_SESSION_TOKEN', 'expected hello', nowMs);
      case 'ExpectHelloOk':
        return this.refuse(channel, 'BAD_FRAME', 'expected hello.ok', nowMs);
      case 'Open':
        // A second greeting on an open channel: told, not fatal.
        this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'error', code: 'BAD_FRAME', message: 'already greeted' } });
        return;
      case 'ExpectOpen':
        return;
    }
  }

  private onHello(channel: ChannelOf<'ExpectHello'>, frame: P2pFrameOf<'hello'>, nowMs: number): void {
    const me = this.link.username ?? undefined;
    if (channel.parkedHello !== null) return this.refuse(channel, 'BAD_SESSION_TOKEN', 'expected hello', nowMs);
    // Logged out, we hold no token; one that expired with the login is still told so.
    if (me === undefined) return this.refuseUnheldToken(channel, frame, nowMs);
    const held = this.tokens.get(frame.username);
    const bringsHeld = held !== undefined && tokensEqual(held.token, frame.token);
    // While our yes to this caller waits for its token, a hello without the token we hold may bring
    // that newer one (it overtook our copy): parked, even when an older attempt's token is still
    // held unused (its stream dropped, and the caller asked again at once).
    if (!bringsHeld && this.broker.awaitingToken(frame.username)) {
      this.channels.set(channel.streamId, { ...channel, parkedHello: frame });
      return;
    }
    if (!bringsHeld) return this.refuseUnheldToken(channel, frame, nowMs);
    // The token is right, but the link must also be the friend's own: a key other than the one
    // the server vouched for is refused, and the token stays for the real caller.
    if (this.config.checkPeerKeys && !peerKeyMatches(held.vouchedKey, channel.peerKey)) return this.refusePeerKey(channel, frame.username, held.vouchedKey, channel.peerKey, nowMs);
    // One use only: a replayed hello finds no token.
    this.tokens.delete(frame.username);
    this.timers.disarm(`token:${frame.username}`);
    this.timers.disarm(`hello:${channel.streamId}`);
    channel.decoder.allowFrameBytes(FRAME_BYTES_MAX);
    this.channels.set(channel.streamId, { state: 'Open', streamId: channel.streamId, decoder: channel.decoder, friend: frame.username, brokered: held.brokered });
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'hello.ok', username: me } });
    this.openSession(frame.username, channel.streamId, held.brokered, nowMs);
  }

  /**
   * A hello whose token we do not hold. The token that expired unused is answered for what it is,
   * SESSION_TOKEN_EXPIRED (the caller was late: a partition or a slow link held its
   * session.established up), once, and only to the link the server vouched for: a guess never
   * matches it, and a second hello with it is a replay. Anything else is BAD_SESSION_TOKEN.
   */
  private refuseUnheldToken(channel: ChannelOf<'ExpectHello'>, frame: P2pFrameOf<'hello'>, nowMs: number): void {
    const expired = this.expiredTokens.get(frame.username);
    if (expired === undefined || !tokensEqual(expired.token, frame.token)) return this.refuse(channel, 'BAD_SESSION_TOKEN', 'token refused', nowMs);
    if (this.config.checkPeerKeys && !peerKeyMatches(expired.vouchedKey, channel.peerKey)) return this.refusePeerKey(channel, frame.username, expired.vouchedKey, channel.peerKey, nowMs);
    this.expiredTokens.delete(frame.username);
    this.timers.disarm(`expired:${frame.username}`);
    this.refuse(channel, 'SESSION_TOKEN_EXPIRED', `the token expired ${P2P_HELLO_TIMEOUT_MS} ms after it was issued`, nowMs);
  }

  private onHelloOk(channel: ChannelOf<'ExpectHelloOk'>, frame: P2pFrameOf<'hello.ok' | 'error'>, nowMs: number): void {
    const friend = channel.friend;
    if (frame.type === 'error') {
      this.channels.delete(channel.streamId);
      this.timers.disarm(`hello:${channel.streamId}`);
      this.effects.push({ type: 'p2p.close', streamId: channel.streamId });
      return this.failSetup(channel, HELLO_REFUSALS.get(frame.code) ?? HELLO_REFUSED_OTHERWISE);
    }
    if (frame.username !== friend) return this.refuse(channel, 'BAD_FRAME', 'expected hello.ok', nowMs);
    this.timers.disarm(`hello:${channel.streamId}`);
    this.channels.set(channel.streamId, { state: 'Open', streamId: channel.streamId, decoder: channel.decoder, friend, brokered: channel.brokered });
    this.openSession(friend, channel.streamId, channel.brokered, nowMs);
  }

  /**
   * A stream to the friend is open. Two sessions with one friend keep the one the server brokered
   * last, on both sides: a friend who lost the old one and asked again gets the new one, and two
   * friends who asked each other at the same moment (two streams crossing) keep the same one of
   * the two, instead of each closing the other's and ending with none.
   */
  private openSession(friend: string, streamId: StreamKey, brokered: number, nowMs: number): void {
    // Both ways out tell chat.opened: a token still held for the friend's hello has its yes answered.
    const held = this.tokens.get(friend);
    if (held !== undefined) this.tokens.set(friend, { ...held, answered: true });
    const old = this.sessions.get(friend);
    if (old !== undefined && old.streamId !== streamId) {
      if (old.brokered > brokered) {
        // This stream is the older session: close it; the chat stays open on the newer one.
        this.channels.delete(streamId);
        this.effects.push({ type: 'p2p.close', streamId });
        this.emit({ event: 'chat.opened', username: friend });
        return;
      }
      // A newer session replaces the old one: retire the old stream as if it had dropped.
      this.channels.delete(old.streamId);
      this.effects.push({ type: 'p2p.close', streamId: old.streamId });
      this.loseSession(old, nowMs, false);
    }
    this.sessions.set(friend, { username: friend, streamId, brokered, sentBytes: 0, flushedBytes: 0, pumpCursor: 0 });
    this.emit({ event: 'chat.opened', username: friend });
    // Our own request to the friend, if pending, has had its answer: this chat (session-broker.ts);
    // so has one past its session.established, whose connection to the friend is under way.
    this.broker.sessionOpened(friend);
    for (const channel of this.channels.values()) {
      // Stryker disable next-line ConditionalExpression: only the set-up states read `answered` (an Open channel given one ignores it); the state test is there for the type
      if (channel.state !== 'ExpectOpen' && channel.state !== 'ExpectHelloOk') continue;
      if (channel.friend === friend) this.channels.set(channel.streamId, { ...channel, answered: true });
    }
    this.withChat((chat) => chat.opened(friend, streamId));
    for (const outcome of this.recentOutcomes.values()) {
      if (outcome.peer === friend) this.effects.push({ type: 'p2p.send', streamId, frame: outcome.frame });
    }
    for (const transfer of [...this.transfersIn.values()]) {
      if (transfer.meta.peer === friend) this.driveIncoming(transfer, nowMs, (t) => t.reattach(nowMs));
    }
  }

  /** The channel of an open session dropped: report, keep transfers for a resume. */
  private loseSession(session: Session, nowMs: number, report = true): void {
    if (this.sessions.get(session.username) !== session) return;
    this.sessions.delete(session.username);
    this.withChat((chat) => chat.ended(session.username, report ? CONNECTION_FAILED : null));
    this.forTransfersWith(session.username, nowMs, (t) => t.suspend());
    // Suspended transfers wait for a new session, but not forever.
    const deadline = nowMs + TRANSFER_RESUME_WAIT_MS;
    for (const t of this.transfersOut.values()) if (t.meta.peer === session.username && t.state === 'Suspended') this.timers.arm(`resume-out:${t.transferId}`, deadline);
    for (const t of this.transfersIn.values()) if (t.meta.peer === session.username && t.state === 'Suspended') this.timers.arm(`resume-in:${t.transferId}`, deadline);
  }

  /**
   * An orderly end, by us (chat.close, logout, our login or the friend's ended, the friendship
   * ended) or by the friend (bye). reason: the chat.closed reason, also told in our bye.
   */
  private closeSession(friend: string, reason: SessionEndReason, sendBye: boolean, nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return;
    this.sessions.delete(friend);
    this.channels.delete(session.streamId);
    if (sendBye) this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'bye', reason } });
    this.effects.push({ type: 'p2p.close', streamId: session.streamId });
    this.withChat((chat) => chat.ended(friend, reason));
    this.forTransfersWith(friend, nowMs, (t) => t.abort(reason === 'unfriended' ? 'unfriended' : 'session-closed'));
  }

  private onChatClose(friend: string, nowMs: number): void {
    if (!this.sessions.has(friend)) return this.emitError('NO_SUCH_PEER', undefined, friend);
    this.closeSession(friend, 'closed', true, nowMs);
  }

  // ---- chat (chat.ts) and history (history.ts) ------------------------------------------------

  /**
   * chat.send: over the open session (chat.ts), or, with none, sealed for the friend and left with
   * the server (mailbox-client.ts). Someone who is not a friend gets the chat machine's NO_SUCH_PEER.
   */
  private onChatSend(friend: string, text: string, requestedId: string | number | undefined, nowMs: number): void {
    const me = this.link.username;
    if (this.chat.isOpen(friend) || me === null || !this.mail.isFriend(friend)) {
      return this.withChat((chat) => chat.send(friend, text, requestedId, nowMs));
    }
    // No open session (the friend is offline, or online without one): sealed and left with the server.
    const id = requestedId ?? `${this.config.idPrefix}-o${this.nextMailSeq++}`;
    if (!this.link.loggedIn) return this.emitError('SERVER_UNAVAILABLE', 'no open session, and the server that would hold the message is not reachable now', friend, id);
    this.mail.send(me, friend, text, id, nowMs, this.answering);
  }

  /** Runs a step of the chat machine and carries out what it asks. */
  private withChat(step: (chat: ChatMachine) => void): void {
    step(this.chat);
    for (const action of this.chat.takeActions()) this.onChatAction(action);
  }

  private onChatAction(action: ChatAction): void {
    switch (action.type) {
      case 'send':
        this.effects.push({ type: 'p2p.send', streamId: action.streamId, frame: action.frame });
        return;
      case 'event':
        return this.emit(action.event);
      case 'error':
        return this.emitError(action.code, action.detail, action.username, action.id);
      case 'record': {
        const account = this.historyAccount;
        if (account === null) return;
        const from = action.entry.direction === 'in' ? action.entry.friend : account;
        this.effects.push({ type: 'history.append', account, entry: { ...action.entry, from }, confirm: action.confirm });
        return;
      }
      case 'mark': {
        const account = this.historyAccount;
        if (account !== null) this.effects.push({ type: 'history.mark', account, mark: action.mark });
        return;
      }
      case 'protocol-error':
        return this.emitError('UNEXPECTED_FRAME', `${action.frameType} from ${action.friend} in chat state ${action.state}`, action.friend);
    }
  }

  /** A history query for the logged-in account; its answer (history.answer) carries the command's ref. */
  private askHistory(friend: string | null, query: (queryId: number, account: string) => PeerEffect, searchText?: string): void {
    const account = this.link.username;
    if (account === null) return this.emitError('NOT_LOGGED_IN', 'history is kept per account', friend ?? undefined);
    if (this.historyQueries.size >= HISTORY_QUERIES_PENDING_MAX) return this.emitError('QUEUE_FULL', 'too many history queries waiting');
    const queryId = this.nextHistoryQuery++;
    this.historyQueries.set(queryId, this.answering ?? -1);
    this.historyAsked.set(queryId, { friend, text: searchText ?? null });
    this.effects.push(query(queryId, account));
  }

  private onHistoryAnswer(queryId: number, messages: readonly HistoryMessage[] | null): void {
    const ref = this.historyQueries.get(queryId);
    const asked = this.historyAsked.get(queryId);
    if (ref === undefined || asked === undefined) return;
    this.historyQueries.delete(queryId);
    this.historyAsked.delete(queryId);
    this.answering = ref < 0 ? undefined : ref;
    if (messages === null) return this.emitError('HISTORY_UNAVAILABLE', undefined, asked.friend ?? undefined);
    this.emit({
      event: 'history',
      ...(asked.friend === null ? {} : { username: asked.friend }),
      ...(asked.text === null ? {} : { text: asked.text }),
      messages: [...messages],
    });
  }

  /** A file event, and its record in history (an offer) or its status (the transfer's end). */
  private emitFileEvent(event: ClientEvent, nowMs: number): void {
    this.emit(event);
    const account = this.historyAccount;
    if (account === null) return;
    const change = fileHistoryOf(event, account, nowMs);
    if (change === null) return;
    if ('entry' in change) this.effects.push({ type: 'history.append', account, entry: change.entry, confirm: false });
    else this.effects.push({ type: 'history.mark', account, mark: change.mark });
  }

  private onOpenFrame(channel: ChannelOf<'Open'>, frame: P2pFrame, nowMs: number): void {
    const friend = channel.friend;
    const session = this.sessions.get(friend);
    if (session === undefined || session.streamId !== channel.streamId) return;
    if (isChatFrame(frame)) return this.withChat((chat) => chat.frame(friend, channel.streamId, frame, nowMs));
    switch (frame.type) {
      case 'bye':
        return this.closeSession(friend, frame.reason ?? 'closed', false, nowMs);
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
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.credit(frame.limit, nowMs), friend);
      case 'file.resume':
        if (this.transfersOut.get(frame.transferId)?.meta.peer !== friend) return this.sendNoSuchTransfer(channel, frame);
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.resumed(frame.offset, frame.limit, nowMs), friend);
      case 'file.end':
        return this.withIncoming(frame.transferId, nowMs, (t) => t.end(frame.sha256, nowMs), friend);
      case 'file.ok':
        return this.withOutgoing(frame.transferId, nowMs, (t) => t.ok(nowMs), friend);
      case 'file.fail':
        if (this.transfersOut.get(frame.transferId)?.meta.peer === friend) {
          return this.withOutgoing(frame.transferId, nowMs, (t) => t.remoteFailed(frame.reason), friend);
        }
        return this.withIncoming(frame.transferId, nowMs, (t) => t.remoteFailed(frame.reason), friend);
      case 'hello':
      case 'hello.ok':
        return; // refused by P2P_FRAME_RULES before this
      default:
        return; // chat frames went to the chat above
    }
  }

  private sendNoSuchTransfer(channel: Channel, frame: P2pFrameOf<'file.resume'>): void {
    this.effects.push({ type: 'p2p.send', streamId: channel.streamId, frame: { type: 'file.fail', transferId: frame.transferId, reason: 'no-such-transfer' } });
  }

  // ---- files ----------------------------------------------------------------------------------

  private onFileSend(friend: string, files: readonly PreparedFile[], nowMs: number): void {
    const session = this.sessions.get(friend);
    if (session === undefined) return this.emitError('NO_SUCH_PEER', undefined, friend);
    // Our user's own files come before friends' idle offers (pushOutIdleFor, as a newcomer holding
    // none of them). None is pushed out while the files fit.
    const over = this.transferCount() + files.length - TRANSFERS_ACTIVE_MAX;
    if (!this.pushOutIdleFor(OWN_SENDS_KEY, nowMs, over)) return this.emitError('QUEUE_FULL', 'too many transfers');
    const offered: OfferedFile[] = [];
    for (const file of files) {
      const transferId = `${this.config.idPrefix}-${this.nextTransferSeq++}`;
      const wireStream = this.nextWireStream++;
      const meta = { transferId, peer: friend, wireStream, size: file.size };
      const transfer = new OutgoingTransfer(meta, file.path, file.name, nowMs, this.config.tuning);
      transfer.gate = this.gateFor(friend);
      this.transfersOut.set(transferId, transfer);
      this.armStall(`stall-out:${transferId}`, transfer);
      offered.push({ transferId, stream: wireStream, name: file.name, size: file.size });
      this.emitFileEvent({ event: 'file.offered', username: friend, transferId, name: file.name, size: file.size }, nowMs);
    }
    this.effects.push({ type: 'p2p.send', streamId: session.streamId, frame: { type: 'file.offer', files: offered } });
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
      // One friend gets a share of the slots, however many offers it sends (TRANSFERS_IN_PER_PEER_MAX);
      // with every slot taken, it may push out an idle offer of the friend holding the most.
      if (this.incomingCountFrom(friend) >= TRANSFERS_IN_PER_PEER_MAX || (this.transferCount() >= TRANSFERS_ACTIVE_MAX && !this.pushOutIdleFor(friend, nowMs))) {
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
      const meta = { transferId: file.transferId, peer: friend, wireStream: file.stream, size: file.size };
      const transfer = new IncomingTransfer(meta, file.name, name, nowMs, this.config.tuning);
      this.transfersIn.set(file.transferId, transfer);
      this.incomingByStream.set(streamKey, file.transferId);
      this.armStall(`stall-in:${file.transferId}`, transfer);
      this.emitFileEvent({ event: 'file.offer', from: friend, transferId: file.transferId, name, size: file.size, offeredName: file.name }, nowMs);
      if (this.config.autoAcceptFile) this.driveIncoming(transfer, nowMs, (t) => t.accept(nowMs));
    }
  }

  private onData(friend: string, wireStream: number, offset: number, bytes: Uint8Array, nowMs: number): void {
    const transferId = this.incomingByStream.get(`${friend}\u0000${wireStream}`);
    if (transferId === undefined) return; // late bytes of a transfer that already ended
    this.withIncoming(transferId, nowMs, (t) => t.data(offset, bytes, nowMs));
  }

  /**
   * With every slot taken, frees one for an offer from `friend`: the oldest idle incoming transfer
   * (IncomingTransfer.idle: unanswered, or accepted without a byte) of the friend holding the most
   * idle ones fails `busy`, if that friend would still hold at least as many as `friend` does
   * (core/peer/accept-fairness.ts). Before, two friends with TRANSFERS_IN_PER_PEER_MAX unanswered
   * offers each held every slot: a third friend's offers were refused `busy`, and our user's own
   * sends `QUEUE_FULL`, for TRANSFER_ANSWER_WAIT_MS at a time, renewed at will. Moving transfers
   * are never pushed out. True at once for a count of 0 or less; false when nothing may give way.
   */
  private pushOutIdleFor(friend: string, nowMs: number, count = 1): boolean {
    let idle: WaitingStream[] = [...this.transfersIn.values()].filter((t) => t.idle).map((t) => ({ streamId: t.transferId, addressKey: t.meta.peer }));
    // Chosen all first: none is pushed out unless all `count` may be.
    const chosen: string[] = [];
    while (chosen.length < count) {
      const evicted = streamToEvict(idle, friend);
      if (evicted === null) return false;
      chosen.push(evicted);
      idle = idle.filter((stream) => stream.streamId !== evicted);
    }
    for (const transferId of chosen) this.withIncoming(transferId, nowMs, (t) => t.fail('busy'));
    return true;
  }

  private incomingCountFrom(friend: string): number {
    let count = 0;
    for (const t of this.transfersIn.values()) if (t.meta.peer === friend) count++;
    return count;
  }

  /** Keeps a live transfer's stall timer at its current deadline (re-arming later is cheap). */
  private armStall(key: `stall-out:${string}` | `stall-in:${string}`, transfer: OutgoingTransfer | IncomingTransfer): void {
    const deadline = transfer.finished ? null : transfer.stallDeadlineMs;
    if (deadline === null) this.timers.disarm(key);
    else this.timers.arm(key, deadline);
  }

  private onFileAnswer(transferId: string, accept: boolean, nowMs: number): void {
    const transfer = this.transfersIn.get(transferId);
    if (transfer === undefined || transfer.state !== 'AwaitingAnswer') return this.emitError('NO_SUCH_TRANSFER', undefined, undefined, transferId);
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
    this.perform(transfer.transferId, transfer.meta.peer, transfer.takeActions(), transfer.path, nowMs);
    this.armStall(`stall-out:${transfer.transferId}`, transfer);
    if (!transfer.finished) return;
    this.transfersOut.delete(transfer.transferId);
    this.timers.disarm(`resume-out:${transfer.transferId}`);
    // Its reads in flight no longer count: the others on that stream may use the room.
    this.pumpReads(transfer.meta.peer, nowMs);
  }

  private driveIncoming(transfer: IncomingTransfer, nowMs: number, step: (t: IncomingTransfer) => void): void {
    step(transfer);
    this.perform(transfer.transferId, transfer.meta.peer, transfer.takeActions(), null, nowMs);
    this.armStall(`stall-in:${transfer.transferId}`, transfer);
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
    const channel = this.channels.get(streamId);
    const friend = channel === undefined ? null : friendOf(channel);
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
    dropOldestPast(this.recentOutcomes, TRANSFER_OUTCOMES_REMEMBERED_MAX);
  }

  /** Carries a transfer's actions out as effects on the friend's open channel and the file system. */
  private perform(transferId: string, peer: string, actions: readonly TransferAction[], path: string | null, nowMs: number): void {
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
        case 'digest':
          this.effects.push({ type: 'file.digest', transferId, epoch: action.epoch });
          break;
        case 'open':
          this.effects.push({ type: 'file.open', transferId });
          break;
        case 'rehash':
          this.effects.push({ type: 'file.rehash', transferId, epoch: action.epoch, bytes: action.bytes });
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
          this.emitFileEvent(action.event, nowMs);
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

/** The key our user's own sends take in pushOutIdleFor: no friend's name, so it holds no idle incoming transfer. */
// Stryker disable next-line StringLiteral: any key no friend has is the same newcomer (no username is empty)
const OWN_SENDS_KEY = '';

/**
 * A friend list as it may be shown: a nickname that breaks the rule (core/nickname.ts; an older or
 * dishonest server's: empty, blank, or with direction controls that would reverse the username
 * shown after it) is replaced by the username.
 */
function friendsShown<T extends { readonly username: string; readonly nickname: string }>(friends: readonly T[]): readonly T[] {
  return friends.map((friend) => ({ ...friend, nickname: shownNickname(friend.nickname, friend.username) }));
}
