/**
 * The server machine: sign-up, login, logout, heartbeat TTL, friends, presence and chat-session
 * brokering, as a pure state machine.
 *
 * Theory of operation
 * -------------------
 * Inputs go in through `handle(input, nowMs)` and `handleTimeout(nowMs)`; effects come out of
 * `takeEffects()` as data (send a frame, close a connection, hash or verify a password, persist a
 * store op). `nextTimeoutMs()` says when the machine next needs `handleTimeout`; calling it early
 * or twice is harmless. The machine never reads a clock, never sleeps, never does I/O, and draws
 * tokens only from the `newToken` function it is given.
 *
 * Each connection is in one state (see ConnState), named for what it waits for:
 *
 *   ExpectLogin ──signup──▶ ExpectHash ──hashed──▶ ExpectLogin (signup.ok once the account is
 *                                                   committed, USERNAME_TAKEN if the store refused it)
 *   ExpectLogin ──login───▶ ExpectVerify ─verified ok─▶ LoggedIn
 *                                        └verified bad▶ ExpectLogin
 *   ExpectLogin ──resume (valid token)──▶ LoggedIn
 *   LoggedIn ──logout / TTL expiry──▶ ExpectLogin
 *   any ──closed, or an error whose code closes──▶ (gone)
 *
 * The frame table (FRAME_RULES) says in which state each client frame is accepted; anything else
 * gets an error frame with a stable code, never an exception.
 *
 * Users are online from a login until logout or TTL expiry. A dropped connection does not log the
 * user out: it detaches, and a `resume` with the token from login.ok within the TTL re-attaches
 * without any presence change at the friends (so a network blip causes no offline/online flap).
 */
import { FrameDecoder, knownPayload } from '../codec.ts';
import { type ErrorCode, errorCloses, errorMessage } from '../errors.ts';
import {
  type ClientFrame,
  type ClientFrameOf,
  type ClientFrameType,
  CLIENT_FRAME_TYPES,
  type FriendEntry,
  type MailFailure,
  type PresenceStatus,
  type ServerFrame,
  type SessionFailure,
  clientFrameFastPath,
  clientFrameSchema,
  sealedBytes,
} from '../frames.ts';
import {
  AUTH_ATTEMPTS_PER_ADDRESS_BURST,
  AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  CONNECTIONS_MAX,
  CONNECTIONS_PER_ADDRESS_MAX,
  SIGNUPS_PER_ADDRESS_BURST,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
  UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
  BLOCKS_PER_USER_MAX,
  FRIEND_REQUEST_DECLINE_COOLDOWN_MS,
  FRIEND_REQUESTS_INCOMING_PER_USER_MAX,
  FRIEND_REQUESTS_OUTGOING_PER_USER_MAX,
  FRIENDS_PER_USER_MAX,
  HEARTBEATS_PER_TTL,
  LOGIN_GUESS_DELAY_MS_MAX,
  LOGIN_GUESS_DELAY_MS_MIN,
  LOGIN_GUESSES_FORGET_MS,
  LOGIN_GUESSES_FREE,
  NICKNAME_CHANGES_PER_USER_BURST,
  NICKNAME_CHANGES_PER_USER_PER_HOUR,
  FRIENDS_LISTS_PER_USER_BURST,
  FRIENDS_LISTS_PER_USER_PER_SEC,
  RESUME_LIST_ENTRIES_PER_USER_BURST,
  RESUME_LIST_ENTRIES_PER_USER_PER_SEC,
  FRIEND_REQUESTS_PER_USER_BURST,
  FRIEND_REQUESTS_PER_USER_PER_HOUR,
  BLOCK_CHANGES_PER_USER_BURST,
  BLOCK_CHANGES_PER_USER_PER_HOUR,
  MAIL_SENDS_PER_USER_BURST,
  MAIL_SENDS_PER_USER_PER_SEC,
  PASSWORD_CHECKS_RUNNING_MAX,
  PASSWORD_CHECKS_WAITING_MAX,
  PROTOCOL_VERSION,
  RATE_LIMIT_BUCKETS_MAX,
  SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
  SESSION_OUTCOMES_HELD_MAX,
  SESSION_REQUESTS_PENDING_PER_USER_MAX,
  SESSION_REQUESTS_PER_USER_BURST,
  SESSION_REQUESTS_PER_USER_PER_SEC,
  SERVER_INBOUND_FRAME_BYTES_MAX,
  TTL_MS_DEFAULT,
  UNAUTHENTICATED_IDLE_MS,
  UNAUTHENTICATED_LIFETIME_IDLE_LIMITS,
} from '../limits.ts';
import { Deadlines } from '../deadlines.ts';
import { FairQueue, GuessBackoff, RateLimiter } from '../rate-limit.ts';
import { addressKey, addressKeyHost } from '../net-address.ts';
import type { HeldMail, MailRecord, ReceiptRecord, StoreOp, StoreSnapshot } from '../store.ts';
import { type IdentityKeys, identityKeysEqual } from '../identity.ts';
import { type Account, Directory, checkNickname, checkPassword, checkUsername } from './accounts.ts';
import { Mailbox } from './mailbox.ts';
import { tokensEqual } from '../tokens.ts';
import { dropOldestPast } from '../bounded.ts';

export type ConnId = number;

export type ServerInput =
  | { readonly type: 'open'; readonly connId: ConnId; readonly remoteAddress: string }
  | { readonly type: 'bytes'; readonly connId: ConnId; readonly bytes: Uint8Array }
  | { readonly type: 'closed'; readonly connId: ConnId }
  /** Result of a `hash` effect: the encoded hash, or null when hashing failed. */
  | { readonly type: 'hashed'; readonly jobId: number; readonly passwordHash: string | null }
  /** Result of a `verify` effect. */
  | { readonly type: 'verified'; readonly jobId: number; readonly ok: boolean }
  /**
   * Result of a `commit` effect: refused when the store would not take the batch (nothing of it
   * committed); unavailable too when that was because the store could not be reached.
   */
  | { readonly type: 'committed'; readonly jobId: number; readonly refused: boolean; readonly unavailable?: true }
  /** Tell every client, close every connection. */
  | { readonly type: 'shutdown' }
  // ---- from other nodes of a cluster (core/server/cluster.ts); never in a single-node server ----
  /**
   * A user is now held by another node, reached through proxy connection `connId`. If it was not
   * online here, the friends held here are told (each node tells the users it holds).
   * passwordLogin: it got there by a password login, a new client program (see endPreviousInstance).
   */
  | { readonly type: 'remote.attached'; readonly username: string; readonly connId: ConnId; readonly resumeToken: string; readonly passwordLogin?: true }
  /** A user held elsewhere went offline (logout, TTL, or its node died): the friends held here are told. */
  | { readonly type: 'remote.offline'; readonly username: string; readonly connId: ConnId }
  /** Store ops another node committed: the directory here follows. */
  | { readonly type: 'remote.ops'; readonly ops: readonly StoreOp[] }
  /** A frame another node's machine sent to a user held here. */
  | { readonly type: 'remote.deliver'; readonly username: string; readonly frame: ServerFrame }
  /** A remote user's answer to a session request held here; replies go to its proxy `connId`. */
  | { readonly type: 'remote.answer'; readonly username: string; readonly connId: ConnId; readonly remoteAddress: string; readonly frame: ClientFrameOf<'session.answer'> }
  /**
   * The store as it is now, read again by a node back on the bus (what other nodes committed
   * while it heard nothing), or by a host whose batch the store refused (memory follows the
   * truth again). Friends learn of such changes at their next login or friends.list.
   */
  | { readonly type: 'remote.snapshot'; readonly snapshot: StoreSnapshot }
  /**
   * The shared store or bus was lost (false) or is back (true): new logins are refused meanwhile.
   * bus: whether the node hears the bus (absent: as `healthy`); without it answers to requests
   * held on other nodes are refused, not forwarded into the void. store: whether the store
   * answers (absent: it does); without it every change a user asks for is refused
   * SERVER_DEGRADED, never applied here and left uncommitted.
   */
  | { readonly type: 'cluster.health'; readonly healthy: boolean; readonly bus?: boolean; readonly store?: boolean }
  /**
   * A user's held mail and owed receipts as the shared store has them, read by the host when the
   * user attached here: the store is the truth (a bus message lost, a node that missed a commit).
   */
  | { readonly type: 'stored.mail'; readonly username: string; readonly held: HeldMail };

export type ServerEffect =
  | { readonly type: 'send'; readonly connId: ConnId; readonly frame: ServerFrame }
  | { readonly type: 'close'; readonly connId: ConnId }
  /** Hash a new password (the runtime picks the salt); answer with a `hashed` input. */
  | { readonly type: 'hash'; readonly jobId: number; readonly password: string }
  /** Verify a password against a stored hash (null: unknown user, verify against a dummy anyway). */
  | { readonly type: 'verify'; readonly jobId: number; readonly password: string; readonly passwordHash: string | null }
  | { readonly type: 'persist'; readonly op: StoreOp }
  /**
   * Commit these ops now, as one batch of their own after the persist ops before them and before
   * anything after them goes out, and answer with `committed`. A new account's: a store shared by
   * several nodes refuses a name another node signed up first (its unique key), and the machine
   * answers USERNAME_TAKEN instead of signup.ok.
   */
  | { readonly type: 'commit'; readonly jobId: number; readonly ops: readonly StoreOp[] }
  /**
   * Clustered only: tell the other nodes a user is held here now (passwordLogin: by a password
   * login, a new client program; absent for a resume or a new resume token), or went offline here.
   */
  | {
      readonly type: 'announce';
      readonly item: { readonly kind: 'attached'; readonly username: string; readonly resumeToken: string; readonly passwordLogin?: true } | { readonly kind: 'offline'; readonly username: string };
    }
  /** Clustered only: a session answer for a request held on the node of the caller behind proxy `connId`. */
  | { readonly type: 'forward'; readonly connId: ConnId; readonly username: string; readonly remoteAddress: string; readonly frame: ClientFrameOf<'session.answer'> };

export interface ServerConfig {
  readonly ttlMs: number;
  readonly sessionTimeoutMs: number;
  readonly unauthenticatedIdleMs: number;
  readonly connectionsMax: number;
  /** Login and sign-up attempts per remote address per second (0 disables the limit). */
  readonly authAttemptsPerAddressPerSec: number;
  readonly authAttemptsPerAddressBurst: number;
  /**
   * Password checks (scrypt) running at once, at most PASSWORD_CHECKS_RUNNING_MAX. The runtime
   * sets it to the cores it has: more checks side by side only make each one, a waiting
   * legitimate login's included, take longer, for the same throughput.
   */
  readonly passwordChecksRunningMax: number;
  /**
   * Password checks waiting for a thread, all addresses together (PASSWORD_CHECKS_WAITING_MAX).
   * Configurable so a simulation can fill the fair line with a few dozen clients, not thousands.
   */
  readonly passwordChecksWaitingMax: number;
  /** Sign-ups per address key per hour, after a burst of SIGNUPS_PER_ADDRESS_BURST (0 disables). */
  readonly signupsPerAddressPerHour: number;
  /** Connections per address key, and how many of them may be not logged in (0 disables each). */
  readonly connectionsPerAddressMax: number;
  readonly unauthenticatedConnectionsPerAddressMax: number;
  /** Fresh unguessable token (session and resume tokens). The only source of entropy. */
  readonly newToken: () => string;
  /**
   * One node of several sharing a store and a bus (core/server/cluster.ts): the machine announces
   * who it holds, and session request ids start with sessionRequestIdPrefix (unique per node and
   * per start of its process: ids never repeat across nodes or restarts).
   */
  readonly clustered: boolean;
  readonly sessionRequestIdPrefix: string;
  /**
   * This node's slot among mailSeqSlots for offline-mail seqs (mailbox.ts): unique among the nodes
   * sharing a database, so their seqs never collide. 0 of 1 on a single server.
   */
  readonly mailSeqSlot: number;
  readonly mailSeqSlots: number;
}

export const SERVER_CONFIG_DEFAULTS: Omit<ServerConfig, 'newToken'> = {
  ttlMs: TTL_MS_DEFAULT,
  sessionTimeoutMs: SESSION_REQUEST_TIMEOUT_MS_DEFAULT,
  unauthenticatedIdleMs: UNAUTHENTICATED_IDLE_MS,
  connectionsMax: CONNECTIONS_MAX,
  authAttemptsPerAddressPerSec: AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  authAttemptsPerAddressBurst: AUTH_ATTEMPTS_PER_ADDRESS_BURST,
  passwordChecksRunningMax: PASSWORD_CHECKS_RUNNING_MAX,
  passwordChecksWaitingMax: PASSWORD_CHECKS_WAITING_MAX,
  signupsPerAddressPerHour: SIGNUPS_PER_ADDRESS_PER_HOUR,
  connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX,
  unauthenticatedConnectionsPerAddressMax: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
  clustered: false,
  sessionRequestIdPrefix: 's',
  mailSeqSlot: 0,
  mailSeqSlots: 1,
};

type ConnState =
  | { readonly state: 'ExpectLogin' }
  | { readonly state: 'ExpectHash'; readonly jobId: number }
  | { readonly state: 'ExpectVerify'; readonly jobId: number }
  /**
   * ttlKey: the user's TTL timer key, built once per login instead of on every frame.
   * passwordJobId: the password change in progress (its old-password check or its new hash), if any:
   * the user stays logged in meanwhile, with at most one change at a time.
   */
  | { readonly state: 'LoggedIn'; readonly username: string; readonly ttlKey: TimerKey; readonly passwordJobId: number | null };

interface Conn {
  readonly connId: ConnId;
  readonly remoteAddress: string;
  /** What per-address limits count this connection under: the IPv4 address or the IPv6 /64. */
  readonly addressKey: string;
  readonly decoder: FrameDecoder;
  phase: ConnState;
  /**
   * While not logged in: the latest its idle window may end (UNAUTHENTICATED_LIFETIME_IDLE_LIMITS
   * idle limits after it opened or was logged out), however often it asks.
   */
  unauthenticatedUntilMs: number;
}

interface OnlineUser {
  readonly username: string;
  /** null while detached: the connection dropped and the user may still resume within the TTL. */
  connId: ConnId | null;
  resumeToken: string;
  /**
   * Pending session requests this user is part of, as caller or callee (each side bounded by
   * SESSION_REQUESTS_PENDING_PER_USER_MAX); null when none (most users most of the time: no empty
   * Set per online user).
   */
  sessionRequests: Set<string> | null;
  /**
   * Session outcomes (established, failed, withdrawn) that arrived while detached, replayed on
   * resume: without them a caller whose request was accepted during a blip would never connect.
   * Bounded by SESSION_OUTCOMES_HELD_MAX; presence needs no such queue (login.ok re-sends it).
   * null when there are none.
   */
  missedOutcomes: ServerFrame[] | null;
  /** Held by another node of a cluster: connId is a proxy, and that node runs its TTL. */
  remote: boolean;
  /**
   * Session requests held on other nodes that wait on this user, by id, to the caller: where its
   * answer is forwarded. null when none. Bounded by SESSION_REQUESTS_PENDING_PER_USER_MAX.
   */
  remoteRequests: Map<string, string> | null;
}

interface SessionRequest {
  readonly requestId: string;
  readonly caller: string;
  readonly callee: string;
  /**
   * The callee blocked the caller: the callee is never told (not even that it ended) and does
   * not count it; the caller sees an ordinary request that times out.
   */
  readonly silent: boolean;
}

/**
 * A password check (a sign-up's hash or a login's verify), waiting for a thread or running.
 * `effect` is what the runtime is asked to do once the check's turn comes.
 */
type Job = (
  | { readonly kind: 'signup'; readonly username: string; readonly nickname: string; readonly identity: IdentityKeys | undefined }
  | { readonly kind: 'login'; readonly username: string; readonly guessKey: string; readonly identity: IdentityKeys | undefined }
  /** A password change's first step: the old password, checked (and counted) as a login's. */
  | { readonly kind: 'password-check'; readonly username: string; readonly guessKey: string; readonly newPassword: string }
  /** Its second step: the new password's hash. */
  | { readonly kind: 'password-set'; readonly username: string }
) & {
  readonly jobId: number;
  readonly connId: ConnId;
  readonly addressKey: string;
  readonly re: number | undefined;
  readonly effect: Extract<ServerEffect, { type: 'hash' | 'verify' }>;
  running: boolean;
};

export type SessionOutcome = 'established' | SessionFailure;

export interface ServerStats {
  connections: number;
  /** Distinct client addresses (an IPv6 /64 counts as one) with at least one open connection. */
  connectedAddresses: number;
  onlineUsers: number;
  accounts: number;
  pendingSessionRequests: number;
  signups: number;
  logins: number;
  loginsFailed: number;
  resumes: number;
  framesIn: number;
  framesOut: number;
  readonly sessions: Record<string, number>;
  readonly errors: Record<string, number>;
}

/** Most of what a server reads: a heartbeat without an id, decoded without the JSON parser. */
const KNOWN_CLIENT_PAYLOADS = [knownPayload({ type: 'heartbeat' })];

/** The ack of a heartbeat without an id: always the same, so one shared (frozen) frame. */
const HEARTBEAT_ACK: ServerFrame = Object.freeze({ type: 'heartbeat.ack' });

/** The answer to a heartbeat: the shared frame when it carries no id. */
function heartbeatAck(id: number | undefined): ServerFrame {
  // Stryker disable next-line ConditionalExpression: `{type, re: undefined}` is the same frame on the wire (JSON drops undefined, and the host encodes an ack without re from its shared bytes); only the allocation differs
  return id === undefined ? HEARTBEAT_ACK : { type: 'heartbeat.ack', re: id };
}

/** What a sender hears of its mail: delivered, or failed and why (Machine.tellSender). */
function receiptFrame(receipt: ReceiptRecord): ServerFrame {
  const about = { username: receipt.recipient, messageId: receipt.messageId };
  return receipt.failed === undefined ? { type: 'mail.delivered', ...about } : { type: 'mail.failed', ...about, code: receipt.failed };
}

/** What takeEffects returns when there is nothing to do; frozen, so a caller that pushes fails loudly. */
const NO_EFFECTS: ServerEffect[] = Object.freeze([]) as unknown as ServerEffect[];

/** In which connection state each client frame is accepted. */
const FRAME_RULES: Record<ClientFrameType, 'ExpectLogin' | 'LoggedIn'> = {
  signup: 'ExpectLogin',
  login: 'ExpectLogin',
  resume: 'ExpectLogin',
  logout: 'LoggedIn',
  heartbeat: 'LoggedIn',
  'friends.list': 'LoggedIn',
  'friend.request': 'LoggedIn',
  'friend.accept': 'LoggedIn',
  'friend.decline': 'LoggedIn',
  'friend.remove': 'LoggedIn',
  'friend.block': 'LoggedIn',
  'friend.unblock': 'LoggedIn',
  'session.request': 'LoggedIn',
  'session.answer': 'LoggedIn',
  'session.cancel': 'LoggedIn',
  'mail.send': 'LoggedIn',
  'mail.ack': 'LoggedIn',
  'account.password': 'LoggedIn',
  'account.nickname': 'LoggedIn',
};

/**
 * The frames that change what the store holds: refused while a shared store does not answer
 * (cluster.health), so nothing is told as done that was not committed.
 */
const STORE_WRITES: ReadonlySet<ClientFrameType> = new Set<ClientFrameType>([
  'friend.request',
  'friend.accept',
  'friend.decline',
  'friend.remove',
  'friend.block',
  'friend.unblock',
  'mail.send',
  'mail.ack',
  'account.password',
  'account.nickname',
]);

/** Frames held for a detached user and replayed when it resumes. */
const SESSION_OUTCOME_TYPES: ReadonlySet<ServerFrame['type']> = new Set(['session.established', 'session.failed', 'session.withdrawn']);

type TimerKey = `idle:${number}` | `ttl:${string}` | `sreq:${string}`;

export class ServerMachine {
  readonly config: ServerConfig;
  /** Replaced only by a `remote.snapshot` (a node back on the bus reads the store again). */
  private directory: Directory;
  /** Sealed offline messages and the receipts owed for them (mailbox.ts); replaced with the directory. */
  private mailbox: Mailbox;
  /**
   * The last friendship start handed out: each new one is later, even within a millisecond (a
   * remove and re-add in one tick must still read as another friendship to the clients).
   */
  private lastFriendsSinceMs = 0;
  private readonly conns = new Map<ConnId, Conn>();
  private readonly online = new Map<string, OnlineUser>();
  private readonly sessionRequests = new Map<string, SessionRequest>();
  private readonly jobs = new Map<number, Job>();
  /** Usernames promised to a sign-up whose hash is still being computed or whose account is being committed. */
  private readonly reservedUsernames = new Set<string>();
  /** Sign-ups whose account was handed to the store (a `commit` effect), by job id, until `committed`. */
  private readonly accountsCommitting = new Map<number, { readonly connId: ConnId; readonly re: number | undefined; readonly op: Extract<StoreOp, { op: 'account.create' }> }>();
  private readonly timers = new Deadlines<TimerKey>();
  private readonly authAttempts: RateLimiter;
  private readonly sessionAttempts: RateLimiter;
  private readonly signupAttempts: RateLimiter;
  private readonly nicknameChanges: RateLimiter;
  private readonly friendsLists: RateLimiter;
  /** Resumes per user, weighed by the friend list each login.ok carries (RESUME_LIST_ENTRIES_PER_USER_*). */
  private readonly resumes: RateLimiter;
  private readonly friendRequests: RateLimiter;
  /** Offline messages stored per user (MAIL_SENDS_PER_USER_BURST). */
  private readonly mailSends: RateLimiter;
  private readonly blockChanges: RateLimiter;
  /** Connections per address key, all and not logged in (ExpectLogin, ExpectHash, ExpectVerify). */
  private readonly addressConns = new Map<string, { all: number; unauthenticated: number }>();
  private readonly loginGuesses = new GuessBackoff({
    free: LOGIN_GUESSES_FREE,
    delayMsMin: LOGIN_GUESS_DELAY_MS_MIN,
    delayMsMax: LOGIN_GUESS_DELAY_MS_MAX,
    forgetMs: LOGIN_GUESSES_FORGET_MS,
    keysMax: RATE_LIMIT_BUCKETS_MAX,
  });
  /** Password checks waiting for one of the passwordChecksRunningMax threads, by job id. */
  private readonly passwordChecksWaiting: FairQueue<number>;
  private passwordChecksRunning = 0;
  /** When each (decliner, declined) pair's decline happened: `${declined}\0${decliner}` → ms. */
  private readonly declines = new Map<string, number>();
  private effects: ServerEffect[] = [];
  private nextJobId = 1;
  private nextSessionRequestSeq = 1;
  private shuttingDown = false;
  /** A clustered node that lost its store or bus refuses sign-ups, logins and resumes. */
  private refusingLogins = false;
  /** The shared store does not answer (cluster.health): changes users ask for are refused (STORE_WRITES). */
  private storeLost = false;
  /** A clustered node that knows it lost the bus: what it would forward to another node is refused instead. */
  private busLost = false;
  /** The same for every connection: one shared (frozen) frame, which a host may encode once. */
  private readonly welcome: ServerFrame;
  private readonly counters = {
    signups: 0,
    logins: 0,
    loginsFailed: 0,
    resumes: 0,
    framesIn: 0,
    framesOut: 0,
    sessions: {} as Record<string, number>,
    errors: {} as Record<string, number>,
  };

  constructor(snapshot: StoreSnapshot, config: Partial<ServerConfig> & Pick<ServerConfig, 'newToken'>) {
    this.config = { ...SERVER_CONFIG_DEFAULTS, ...config };
    this.directory = new Directory(snapshot);
    this.mailbox = new Mailbox(snapshot);
    this.loadDeclines(snapshot);
    this.welcome = Object.freeze({
      type: 'welcome',
      protocol: PROTOCOL_VERSION,
      ttlMs: this.config.ttlMs,
      heartbeatMs: this.heartbeatMs,
      sessionTimeoutMs: this.config.sessionTimeoutMs,
    });
    this.authAttempts = new RateLimiter({
      burst: this.config.authAttemptsPerAddressBurst,
      perSec: this.config.authAttemptsPerAddressPerSec,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.signupAttempts = new RateLimiter({
      burst: SIGNUPS_PER_ADDRESS_BURST,
      perSec: this.config.signupsPerAddressPerHour / 3_600,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.nicknameChanges = new RateLimiter({
      burst: NICKNAME_CHANGES_PER_USER_BURST,
      perSec: NICKNAME_CHANGES_PER_USER_PER_HOUR / 3_600,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.friendsLists = new RateLimiter({
      burst: FRIENDS_LISTS_PER_USER_BURST,
      perSec: FRIENDS_LISTS_PER_USER_PER_SEC,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.resumes = new RateLimiter({
      burst: RESUME_LIST_ENTRIES_PER_USER_BURST,
      perSec: RESUME_LIST_ENTRIES_PER_USER_PER_SEC,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.friendRequests = new RateLimiter({
      burst: FRIEND_REQUESTS_PER_USER_BURST,
      perSec: FRIEND_REQUESTS_PER_USER_PER_HOUR / 3_600,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.mailSends = new RateLimiter({
      burst: MAIL_SENDS_PER_USER_BURST,
      perSec: MAIL_SENDS_PER_USER_PER_SEC,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.blockChanges = new RateLimiter({
      burst: BLOCK_CHANGES_PER_USER_BURST,
      perSec: BLOCK_CHANGES_PER_USER_PER_HOUR / 3_600,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
    this.passwordChecksWaiting = new FairQueue<number>(this.config.passwordChecksWaitingMax, RATE_LIMIT_BUCKETS_MAX);
    this.sessionAttempts = new RateLimiter({
      burst: SESSION_REQUESTS_PER_USER_BURST,
      perSec: SESSION_REQUESTS_PER_USER_PER_SEC,
      bucketsMax: RATE_LIMIT_BUCKETS_MAX,
    });
  }

  // ---- the machine's interface ----------------------------------------------------------------

  handle(input: ServerInput, nowMs: number): void {
    switch (input.type) {
      case 'open':
        return this.onOpen(input.connId, input.remoteAddress, nowMs);
      case 'bytes':
        return this.onBytes(input.connId, input.bytes, nowMs);
      case 'closed':
        return this.onClosed(input.connId);
      case 'hashed':
        return this.onHashed(input.jobId, input.passwordHash, nowMs);
      case 'verified':
        return this.onVerified(input.jobId, input.ok, nowMs);
      case 'committed':
        return this.onAccountCommitted(input.jobId, input.refused, input.unavailable === true);
      case 'shutdown':
        return this.onShutdown();
      case 'remote.attached':
        return this.onRemoteAttached(input.username, input.connId, input.resumeToken, input.passwordLogin === true);
      case 'remote.offline':
        return this.onRemoteOffline(input.username, input.connId);
      case 'remote.ops':
        for (const op of input.ops) {
          // An account this node knows already (read at start, or heard twice) keeps its friends.
          if (op.op === 'account.create' && this.directory.has(op.username)) continue;
          // Declines live in the machine, not the directory: a cool-down holds on every node.
          if (op.op === 'decline.add') {
            this.declines.set(`${op.declined}\u0000${op.decliner}`, op.atMs);
            // Bounded here too (the node that made it bounds and stores its own).
            dropOldestPast(this.declines, RATE_LIMIT_BUCKETS_MAX);
          }
          else if (op.op === 'decline.remove') this.declines.delete(`${op.declined}\u0000${op.decliner}`);
          else this.applyOp(op);
        }
        return;
      case 'remote.deliver':
        return this.onRemoteDeliver(input.username, input.frame);
      case 'remote.answer':
        return this.onRemoteAnswer(input);
      case 'remote.snapshot':
        this.directory = new Directory(input.snapshot);
        // What only this node knows of the mail (in flight, the last seq made) is kept.
        this.mailbox = new Mailbox(input.snapshot, this.mailbox);
        this.declines.clear();
        this.loadDeclines(input.snapshot);
        return;
      case 'cluster.health':
        this.refusingLogins = !input.healthy;
        this.busLost = !(input.bus ?? input.healthy);
        this.storeLost = input.store === false;
        return;
      case 'stored.mail':
        return this.onStoredMail(input.username, input.held);
    }
  }

  handleTimeout(nowMs: number): void {
    for (let key = this.timers.popDue(nowMs); key !== null; key = this.timers.popDue(nowMs)) {
      if (key.startsWith('idle:')) this.onIdleTimeout(Number(key.slice(5)));
      else if (key.startsWith('ttl:')) this.onTtlExpired(key.slice(4), nowMs);
      else this.onSessionRequestTimeout(key.slice(5));
    }
  }

  nextTimeoutMs(): number | null {
    return this.timers.nextMs();
  }

  takeEffects(): ServerEffect[] {
    const effects = this.effects;
    // A host asks once more after every batch to learn it is quiet: no new array for that.
    if (effects.length === 0) return NO_EFFECTS;
    this.effects = [];
    return effects;
  }

  get heartbeatMs(): number {
    return Math.floor(this.config.ttlMs / HEARTBEATS_PER_TTL);
  }

  stats(): ServerStats {
    return {
      connections: this.conns.size,
      connectedAddresses: this.addressConns.size,
      onlineUsers: this.online.size,
      accounts: this.directory.size,
      pendingSessionRequests: this.sessionRequests.size,
      ...this.counters,
      sessions: { ...this.counters.sessions },
      errors: { ...this.counters.errors },
    };
  }

  /** Read-only queries for tests, checkers and the admin API. */
  isOnline(username: string): boolean {
    return this.online.has(username);
  }

  friendsOf(username: string): ReadonlySet<string> {
    return this.directory.get(username)?.friends ?? new Set();
  }

  hasAccount(username: string): boolean {
    return this.directory.has(username);
  }

  onlineUsernames(): IterableIterator<string> {
    return this.online.keys();
  }

  // ---- connection lifecycle ---------------------------------------------------------------------

  private onOpen(connId: ConnId, remoteAddress: string, nowMs: number): void {
    if (this.conns.has(connId)) return;
    const conn: Conn = {
      connId,
      remoteAddress,
      addressKey: addressKey(remoteAddress),
      decoder: new FrameDecoder({ frameBytesMax: SERVER_INBOUND_FRAME_BYTES_MAX, knownPayloads: KNOWN_CLIENT_PAYLOADS }),
      phase: { state: 'ExpectLogin' },
      unauthenticatedUntilMs: nowMs + this.unauthenticatedLifetimeMs,
    };
    this.conns.set(connId, conn);
    const counts = this.addressConns.get(conn.addressKey) ?? { all: 0, unauthenticated: 0 };
    this.addressConns.set(conn.addressKey, counts);
    counts.all += 1;
    counts.unauthenticated += 1;
    if (this.shuttingDown) return this.sendError(conn, 'SERVER_SHUTTING_DOWN');
    if (this.conns.size > this.config.connectionsMax) return this.sendError(conn, 'SERVER_FULL');
    const { connectionsPerAddressMax, unauthenticatedConnectionsPerAddressMax } = this.config;
    if (
      (connectionsPerAddressMax > 0 && counts.all > connectionsPerAddressMax) ||
      (unauthenticatedConnectionsPerAddressMax > 0 && counts.unauthenticated > unauthenticatedConnectionsPerAddressMax)
    ) {
      return this.sendError(conn, 'TOO_MANY_CONNECTIONS');
    }
    this.send(connId, this.welcome);
    this.armIdle(conn, nowMs);
  }

  private onClosed(connId: ConnId): void {
    const conn = this.conns.get(connId);
    if (conn === undefined) return;
    this.forget(conn);
  }

  private get unauthenticatedLifetimeMs(): number {
    return this.config.unauthenticatedIdleMs * UNAUTHENTICATED_LIFETIME_IDLE_LIMITS;
  }

  /**
   * (Re)starts a connection's idle window, cut short at its unauthenticated lifetime: at its
   * opening, logout or TTL expiry, and at each answer to its sign-up, login or resume. Counted
   * from the answer, not the request: the client's next step can only follow the answer, and how
   * long the server took is not the client's idleness. A deadline already past closes the
   * connection at the next timeout, after the answer went out.
   */
  private armIdle(conn: Conn, nowMs: number): void {
    this.timers.arm(`idle:${conn.connId}`, Math.min(nowMs + this.config.unauthenticatedIdleMs, conn.unauthenticatedUntilMs));
  }

  /** A password check of a connection not logged in ended without a login: it may ask again. */
  private backToExpectLogin(conn: Conn, nowMs: number): void {
    conn.phase = { state: 'ExpectLogin' };
    this.armIdle(conn, nowMs);
  }

  /** Logout or TTL expiry: the connection is a guest again, with a new unauthenticated lifetime. */
  private loggedOut(conn: Conn, nowMs: number): void {
    // A password change still waiting for a thread is for a login that just ended: nobody's now.
    if (conn.phase.state === 'LoggedIn') this.dropWaitingPasswordChange(conn.phase.passwordJobId);
    conn.phase = { state: 'ExpectLogin' };
    conn.unauthenticatedUntilMs = nowMs + this.unauthenticatedLifetimeMs;
    this.countUnauthenticated(conn, +1);
    this.armIdle(conn, nowMs);
  }

  /** A connection logged in (-1) or out (+1): its address's count of connections not logged in follows. */
  private countUnauthenticated(conn: Conn, delta: 1 | -1): void {
    const counts = this.addressConns.get(conn.addressKey);
    if (counts !== undefined) counts.unauthenticated += delta;
  }

  /** Drops a connection's state. A logged-in user stays online, detached, until resume or TTL. */
  private forget(conn: Conn): void {
    this.conns.delete(conn.connId);
    this.timers.disarm(`idle:${conn.connId}`);
    const counts = this.addressConns.get(conn.addressKey);
    if (counts !== undefined) {
      counts.all -= 1;
      if (conn.phase.state !== 'LoggedIn') counts.unauthenticated -= 1;
      if (counts.all <= 0) this.addressConns.delete(conn.addressKey);
    }
    // A check still waiting for a thread is dropped: nobody is there for its answer.
    if (conn.phase.state === 'ExpectHash' || conn.phase.state === 'ExpectVerify') {
      const job = this.jobs.get(conn.phase.jobId);
      if (job !== undefined && !job.running && this.passwordChecksWaiting.remove(job.addressKey, (id) => id === job.jobId)) this.dropJob(job);
    }
    if (conn.phase.state === 'LoggedIn') {
      this.dropWaitingPasswordChange(conn.phase.passwordJobId);
      const user = this.online.get(conn.phase.username);
      if (user !== undefined && user.connId === conn.connId) user.connId = null;
    }
  }

  /** A password change's job still waiting in line leaves it; one running finds no login when it ends (its answer is dropped). */
  private dropWaitingPasswordChange(jobId: number | null): void {
    const job = jobId === null ? undefined : this.jobs.get(jobId);
    if (job !== undefined && !job.running && this.passwordChecksWaiting.remove(job.addressKey, (id) => id === job.jobId)) this.dropJob(job);
  }

  private onBytes(connId: ConnId, bytes: Uint8Array, nowMs: number): void {
    const conn = this.conns.get(connId);
    if (conn === undefined) return;
    conn.decoder.push(bytes);
    // Bounded: each iteration consumes buffered bytes, and the buffer only holds what was pushed.
    for (let frame = conn.decoder.next(); frame !== null; frame = conn.decoder.next()) {
      this.counters.framesIn += 1;
      if (frame.kind === 'error') {
        this.sendError(conn, frame.code, undefined, frame.detail);
      } else if (frame.kind === 'data') {
        this.sendError(conn, 'UNEXPECTED_DATA');
      } else {
        this.onMessage(conn, frame.message, nowMs);
      }
      if (!this.conns.has(connId)) return;
    }
  }

  private onMessage(conn: Conn, message: unknown, nowMs: number): void {
    const fast = clientFrameFastPath(message);
    // Stryker disable next-line ConditionalExpression: without the fast path the schema reads the same frame (held equal by test/core/frame-fast-path.test.ts); only the cost differs
    if (fast !== null) return this.onFrame(conn, fast, nowMs);
    const parsed = clientFrameSchema.safeParse(message);
    if (!parsed.success) {
      const type = typeof message === 'object' && message !== null ? (message as { type?: unknown }).type : undefined;
      const re = typeof message === 'object' && message !== null ? (message as { id?: unknown }).id : undefined;
      const reId = typeof re === 'number' && Number.isSafeInteger(re) && re >= 0 ? re : undefined;
      // The unknown type is never echoed (nor logged with the error): a client that put a
      // password in the wrong field must not find it in the server's debug log.
      if (typeof type === 'string' && !CLIENT_FRAME_TYPES.has(type)) return this.sendError(conn, 'UNKNOWN_TYPE', reId);
      // Stryker disable next-line OptionalChaining: a failed parse always has at least one issue
      return this.sendError(conn, 'BAD_FRAME', reId, parsed.error.issues[0]?.message);
    }
    this.onFrame(conn, parsed.data, nowMs);
  }

  /** A client frame the schema accepts, checked against the connection's state. */
  private onFrame(conn: Conn, frame: ClientFrame, nowMs: number): void {
    const phase = conn.phase;
    if (phase.state === 'ExpectHash' || phase.state === 'ExpectVerify') {
      // A heartbeat while its password is checked asks only whether the link lives: answered, no
      // timer moved. The check may wait its turn for up to a minute after a restart
      // (PASSWORD_CHECKS_WAITING_MAX), and the client takes a link silent for a TTL for dead: it
      // would drop it and queue again at the back, for ever in a crowd deep enough.
      if (frame.type === 'heartbeat') return this.send(conn.connId, heartbeatAck(frame.id));
      return this.sendError(conn, 'BUSY', frame.id);
    }
    const needed = FRAME_RULES[frame.type];
    if (needed !== phase.state) {
      return this.sendError(conn, needed === 'LoggedIn' ? 'NOT_LOGGED_IN' : 'ALREADY_LOGGED_IN', frame.id);
    }
    if (phase.state === 'LoggedIn') {
      // Any frame from a logged-in client proves it alive, not only heartbeats.
      this.timers.arm(phase.ttlKey, nowMs + this.config.ttlMs);
      return this.onUserFrame(conn, phase.username, frame, nowMs);
    }
    this.onGuestFrame(conn, frame, nowMs);
    // Answered already (refused, or a resume's login.ok): the idle window starts again. A password
    // check started instead restarts it when it ends.
    if (conn.phase.state === 'ExpectLogin') this.armIdle(conn, nowMs);
  }

  private onGuestFrame(conn: Conn, frame: ClientFrame, nowMs: number): void {
    switch (frame.type) {
      case 'signup':
        return this.onSignup(conn, frame, nowMs);
      case 'login':
        return this.onLogin(conn, frame, nowMs);
      case 'resume':
        return this.onResume(conn, frame, nowMs);
      // Stryker disable next-line ConditionalExpression: unreachable, FRAME_RULES lets only these three frames through in ExpectLogin
      default:
        // Stryker disable next-line StringLiteral: unreachable (above)
        throw new Error(`unreachable: ${frame.type} in ExpectLogin`);
    }
  }

  private onUserFrame(conn: Conn, username: string, frame: ClientFrame, nowMs: number): void {
    if (this.storeLost && STORE_WRITES.has(frame.type)) {
      // Applied here and not committed, it would be told as done and lost with this node, or
      // forgotten when the memory is read again. An acknowledged mail stays held: handed over again.
      if (frame.type === 'mail.ack') return;
      return this.sendError(conn, 'SERVER_DEGRADED', frame.id, 'this server cannot reach its database: nothing was changed');
    }
    switch (frame.type) {
      case 'logout':
        return this.onLogout(conn, username, frame.id, nowMs);
      case 'heartbeat':
        return this.send(conn.connId, heartbeatAck(frame.id));
      case 'friends.list':
        if (!this.friendsLists.take(username, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many friend lists: retry later');
        return this.send(conn.connId, { type: 'friends', re: frame.id, ...this.friendView(username) });
      case 'friend.request':
        return this.onFriendRequest(conn, username, frame, nowMs);
      case 'friend.accept':
        return this.onFriendAccept(conn, username, frame, nowMs);
      case 'friend.decline':
        return this.onFriendDecline(conn, username, frame, nowMs);
      case 'friend.remove':
        return this.onFriendRemove(conn, username, frame);
      case 'friend.block':
        return this.onFriendBlock(conn, username, frame, nowMs);
      case 'friend.unblock':
        return this.onFriendUnblock(conn, username, frame, nowMs);
      case 'session.request':
        return this.onSessionRequest(conn, username, frame, nowMs);
      case 'session.answer':
        return this.onSessionAnswer(conn, username, frame);
      case 'session.cancel':
        return this.onSessionCancel(conn, username, frame);
      case 'mail.send':
        return this.onMailSend(conn, username, frame, nowMs);
      case 'mail.ack':
        return this.onMailAck(username, frame);
      case 'account.password':
        return this.onAccountPassword(conn, username, frame, nowMs);
      case 'account.nickname':
        return this.onAccountNickname(conn, username, frame, nowMs);
      // Stryker disable next-line ConditionalExpression: unreachable, every frame FRAME_RULES accepts in LoggedIn has its case
      default:
        // Stryker disable next-line StringLiteral: unreachable (above)
        throw new Error(`unreachable: ${frame.type} in LoggedIn`);
    }
  }

  private onShutdown(): void {
    this.shuttingDown = true;
    for (const conn of [...this.conns.values()]) this.sendError(conn, 'SERVER_SHUTTING_DOWN');
  }

  private onIdleTimeout(connId: ConnId): void {
    const conn = this.conns.get(connId);
    // A sign-up or login in progress (ExpectHash, ExpectVerify) is never cut: its answer arms the
    // window again (backToExpectLogin), past the lifetime at once, so the close follows the answer.
    // Stryker disable next-line ConditionalExpression: forget() disarms a connection's idle timer, so it never fires for one that is gone
    if (conn === undefined || conn.phase.state !== 'ExpectLogin') return;
    this.sendError(conn, 'UNAUTHENTICATED_TIMEOUT');
  }

  // ---- accounts -------------------------------------------------------------------------------

  private onSignup(conn: Conn, frame: ClientFrameOf<'signup'>, nowMs: number): void {
    if (this.refusingLogins) return this.sendError(conn, 'SERVER_DEGRADED', frame.id);
    if (!this.authAttempts.take(conn.addressKey, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id);
    const nickname = frame.nickname ?? frame.username;
    const invalid = checkUsername(frame.username) ?? checkPassword(frame.password) ?? checkNickname(nickname);
    if (invalid !== null) return this.sendError(conn, invalid, frame.id);
    if (this.directory.has(frame.username) || this.reservedUsernames.has(frame.username)) {
      return this.sendError(conn, 'USERNAME_TAKEN', frame.id);
    }
    // Taken last, so a typo or a taken name does not use up the address's sign-ups.
    if (!this.signupAttempts.take(conn.addressKey, nowMs)) {
      return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many sign-ups from this address: retry later');
    }
    const jobId = this.nextJobId++;
    const job: Job = {
      kind: 'signup',
      jobId,
      connId: conn.connId,
      addressKey: conn.addressKey,
      re: frame.id,
      username: frame.username,
      nickname,
      identity: frame.identity,
      effect: { type: 'hash', jobId, password: frame.password },
      running: false,
    };
    if (!this.startPasswordCheck(job, nowMs)) return this.sendError(conn, 'BUSY', frame.id, 'the server is busy checking passwords: retry shortly');
    this.reservedUsernames.add(frame.username);
    conn.phase = { state: 'ExpectHash', jobId };
  }

  /**
   * Runs a password check now if a thread is free, else puts it in the fair wait line. False when
   * the line is full and this address already holds its share (the caller answers BUSY). A wait
   * pushed out for it ends at once with BUSY too.
   */
  private startPasswordCheck(job: Job, nowMs: number): boolean {
    if (this.passwordChecksRunning < this.config.passwordChecksRunningMax) {
      this.jobs.set(job.jobId, job);
      this.runPasswordCheck(job);
      return true;
    }
    const pushedOut = this.passwordChecksWaiting.push(job.addressKey, job.jobId);
    if (pushedOut === job.jobId) return false;
    this.jobs.set(job.jobId, job);
    const evicted = pushedOut === null ? undefined : this.jobs.get(pushedOut);
    if (evicted !== undefined) {
      this.dropJob(evicted);
      const conn = this.conns.get(evicted.connId);
      if (conn !== undefined) {
        // A password change's check pushed out: the change ends, its user stays logged in.
        if (conn.phase.state === 'LoggedIn') conn.phase = { ...conn.phase, passwordJobId: null };
        else this.backToExpectLogin(conn, nowMs);
        this.sendError(conn, 'BUSY', evicted.re, 'the server is busy checking passwords: retry shortly');
      }
    }
    return true;
  }

  private runPasswordCheck(job: Job): void {
    job.running = true;
    this.passwordChecksRunning += 1;
    this.effects.push(job.effect);
  }

  /** A check finished: its thread goes to the next one waiting. */
  private passwordCheckDone(job: Job): void {
    this.jobs.delete(job.jobId);
    if (job.running) this.passwordChecksRunning -= 1;
    while (this.passwordChecksRunning < this.config.passwordChecksRunningMax) {
      const nextId = this.passwordChecksWaiting.shift();
      if (nextId === null) return;
      const next = this.jobs.get(nextId);
      if (next !== undefined) this.runPasswordCheck(next);
    }
  }

  /** Forgets a check that never ran. */
  private dropJob(job: Job): void {
    this.jobs.delete(job.jobId);
    if (job.kind === 'signup') this.reservedUsernames.delete(job.username);
  }

  private onHashed(jobId: number, passwordHash: string | null, nowMs: number): void {
    const job = this.jobs.get(jobId);
    if (job?.kind === 'password-set' && job.running) return this.onNewPasswordHashed(job, passwordHash);
    if (job === undefined || job.kind !== 'signup' || !job.running) return;
    this.passwordCheckDone(job);
    const conn = this.conns.get(job.connId);
    if (conn !== undefined) this.backToExpectLogin(conn, nowMs);
    if (passwordHash === null) {
      this.reservedUsernames.delete(job.username);
      if (conn !== undefined) this.sendError(conn, 'INTERNAL', job.re, 'password hashing failed');
      return;
    }
    // The account is created even if the client left meanwhile: its request was complete. The
    // name stays reserved until the store answers (onAccountCommitted).
    const op: Extract<StoreOp, { op: 'account.create' }> = {
      op: 'account.create',
      username: job.username,
      nickname: job.nickname,
      passwordHash,
      createdAtMs: nowMs,
      ...(job.identity === undefined ? {} : { identity: job.identity }),
    };
    this.accountsCommitting.set(job.jobId, { connId: job.connId, re: job.re, op });
    this.effects.push({ type: 'commit', jobId: job.jobId, ops: [op] });
  }

  /**
   * The store took a new account, or refused it: another node of a cluster signed the same name
   * up at the same time and committed first. That node's account is the one that exists (this
   * node hears of it over the bus); this sign-up is answered as any sign-up of a taken name.
   */
  private onAccountCommitted(jobId: number, refused: boolean, unavailable: boolean): void {
    const pending = this.accountsCommitting.get(jobId);
    if (pending === undefined) return;
    this.accountsCommitting.delete(jobId);
    this.reservedUsernames.delete(pending.op.username);
    const conn = this.conns.get(pending.connId);
    if (refused) {
      // Not taken: the store could not be reached (the client signs up again later), or a key was.
      if (conn !== undefined) this.sendError(conn, unavailable ? 'SERVER_DEGRADED' : 'USERNAME_TAKEN', pending.re);
      return;
    }
    this.applyOp(pending.op);
    this.counters.signups += 1;
    if (conn !== undefined) this.send(conn.connId, { type: 'signup.ok', re: pending.re, username: pending.op.username });
  }

  private onLogin(conn: Conn, frame: ClientFrameOf<'login'>, nowMs: number): void {
    if (this.refusingLogins) return this.sendError(conn, 'SERVER_DEGRADED', frame.id);
    if (!this.authAttempts.take(conn.addressKey, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id);
    // Guesses count per username and address: a stranger elsewhere never slows the owner down.
    const guessKey = `${frame.username}\u0000${conn.addressKey}`;
    const waitMs = this.loginGuesses.waitMs(guessKey, nowMs);
    if (waitMs > 0) return this.sendError(conn, 'RATE_LIMITED', frame.id, `too many attempts for this username from this address: retry in ${waitMs} ms`);
    const account = this.directory.get(frame.username);
    const jobId = this.nextJobId++;
    // An unknown user is verified against nothing (the runtime hashes anyway), so the time a
    // wrong username takes does not tell it apart from a wrong password.
    const job: Job = {
      kind: 'login',
      jobId,
      connId: conn.connId,
      addressKey: conn.addressKey,
      re: frame.id,
      username: frame.username,
      guessKey,
      identity: frame.identity,
      effect: { type: 'verify', jobId, password: frame.password, passwordHash: account?.passwordHash ?? null },
      running: false,
    };
    if (!this.startPasswordCheck(job, nowMs)) return this.sendError(conn, 'BUSY', frame.id, 'the server is busy checking passwords: retry shortly');
    // Counted up front (a success clears it): guesses still being verified on other connections
    // must count too, or many connections in parallel would bypass the slow-down.
    this.loginGuesses.attempt(guessKey, nowMs);
    conn.phase = { state: 'ExpectVerify', jobId };
  }

  private onVerified(jobId: number, ok: boolean, nowMs: number): void {
    const job = this.jobs.get(jobId);
    if (job?.kind === 'password-check' && job.running) return this.onOldPasswordVerified(job, ok, nowMs);
    if (job === undefined || job.kind !== 'login' || !job.running) return;
    this.passwordCheckDone(job);
    const conn = this.conns.get(job.connId);
    const account = this.directory.get(job.username);
    if (!ok || account === undefined) {
      this.counters.loginsFailed += 1;
      if (conn === undefined) return;
      this.backToExpectLogin(conn, nowMs);
      return this.sendError(conn, 'BAD_CREDENTIALS', job.re);
    }
    this.loginGuesses.clear(job.guessKey);
    if (conn === undefined) return;
    // Keys offered at a verified login are registered: an account made before keys existed, or
    // used from a new data dir. The friends online hear them at once (friend.updated with the
    // keys), the others with their next friend view; their clients compare them with the ones
    // they knew (peer.key.changed). Until then a friend online kept sealing offline messages to
    // the old key, which the new data dir cannot open.
    if (job.identity !== undefined && !identityKeysEqual(account.identity, job.identity)) {
      this.persist({ op: 'account.identity', username: account.username, identity: job.identity });
      // One frame object for every friend: a host may encode it once for the whole fan-out.
      const update: ServerFrame = { type: 'friend.updated', username: account.username, nickname: account.nickname, identity: job.identity };
      for (const friend of account.friends) this.sendToUser(friend, update);
    }
    this.counters.logins += 1;
    this.attach(conn, account, job.re, nowMs, 'password');
  }

  private onResume(conn: Conn, frame: ClientFrameOf<'resume'>, nowMs: number): void {
    if (this.refusingLogins) return this.sendError(conn, 'SERVER_DEGRADED', frame.id);
    const user = this.online.get(frame.username);
    const account = this.directory.get(frame.username);
    if (user === undefined || account === undefined || !tokensEqual(user.resumeToken, frame.token)) {
      return this.sendError(conn, 'BAD_RESUME_TOKEN', frame.id);
    }
    // Counted only once the token matched: nobody else can spend a user's resumes.
    if (!this.resumes.take(account.username, nowMs, 1 + account.friends.size)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many resumes: retry later');
    this.counters.resumes += 1;
    // Stryker disable next-line StringLiteral: attach asks only whether it is 'password'; any other value is a resume
    this.attach(conn, account, frame.id, nowMs, 'resume');
  }

  /**
   * Binds a connection to a user after a password login or a resume. A user already online (on
   * another connection, or detached) is taken over without any presence change; the old
   * connection is told and closed. A password login that takes over is a new client instance
   * (a client still holding its login resumes it; one whose resume was refused has ended that
   * login's requests itself): see endPreviousInstance.
   */
  private attach(conn: Conn, account: Account, re: number | undefined, nowMs: number, by: 'password' | 'resume'): void {
    const username = account.username;
    let user = this.online.get(username);
    const resumed = user !== undefined;
    if (user === undefined) {
      user = { username, connId: conn.connId, resumeToken: this.config.newToken(), sessionRequests: null, missedOutcomes: null, remote: false, remoteRequests: null };
      this.online.set(username, user);
    } else {
      // Held by another node until now: that node ends its connection when it hears of this one.
      user.remote = false;
      const old = user.connId === null ? undefined : this.conns.get(user.connId);
      if (old !== undefined && old !== conn) {
        // Detach first so closing the old connection does not detach the new one.
        user.connId = null;
        this.sendError(old, 'LOGGED_IN_ELSEWHERE');
      }
      if (by === 'password') this.endPreviousInstance(user);
      user.connId = conn.connId;
      user.resumeToken = this.config.newToken();
    }
    const ttlKey: TimerKey = `ttl:${username}`;
    conn.phase = { state: 'LoggedIn', username, ttlKey, passwordJobId: null };
    this.countUnauthenticated(conn, -1);
    this.timers.disarm(`idle:${conn.connId}`);
    this.timers.arm(ttlKey, nowMs + this.config.ttlMs);
    if (this.config.clustered) this.effects.push({ type: 'announce', item: { kind: 'attached', username, resumeToken: user.resumeToken, ...(by === 'password' ? { passwordLogin: true } : {}) } });
    this.send(conn.connId, {
      type: 'login.ok',
      re,
      username,
      nickname: account.nickname,
      ...this.friendView(username),
      resumeToken: user.resumeToken,
      resumed,
    });
    this.handOverMail(username);
    if (!resumed) {
      this.tellFriends(account, 'online');
      return;
    }
    // A client that took over a session learns what it missed while detached, and is asked
    // again about the requests still waiting on it.
    const missed = user.missedOutcomes;
    user.missedOutcomes = null;
    for (const frame of missed ?? []) this.send(conn.connId, frame);
    for (const requestId of user.sessionRequests ?? []) {
      const request = this.sessionRequests.get(requestId);
      const atMs = this.timers.atMs(`sreq:${requestId}`);
      if (request === undefined || request.callee !== username || atMs === undefined) continue;
      this.send(conn.connId, { type: 'session.incoming', requestId, from: request.caller, timeoutMs: Math.max(0, atMs - nowMs) });
    }
  }

  /**
   * A password login took a user over, here or on another node of a cluster: the requests the
   * previous client program made (held here: a request lives on the node its caller made it on)
   * end `cancelled` (the callee is told, as for a session.cancel; the caller is not), and the
   * outcomes held for that program go. The new program never made those requests and cannot
   * follow them (it drops their outcomes as stale). Left pending, they refused its own chat.open
   * to the same friend (`already-pending`) until their timeout: a client restarted within the TTL
   * (killed, crashed, its machine rebooted) could not ask a friend for a chat for up to
   * sessionTimeoutMs. The requests waiting on the user as callee stay: the new program is asked
   * about them (attach).
   */
  private endPreviousInstance(user: OnlineUser): void {
    // Stryker disable next-line ArrayDeclaration: an id no request has is skipped by the check below
    for (const requestId of [...(user.sessionRequests ?? [])]) {
      // Stryker disable next-line OptionalChaining: a user's request ids are those of live requests (dropSessionRequest forgets both together)
      if (this.sessionRequests.get(requestId)?.caller === user.username) this.endSessionRequest(requestId, 'cancelled', undefined, false);
    }
    user.missedOutcomes = null;
  }

  private onLogout(conn: Conn, username: string, re: number | undefined, nowMs: number): void {
    this.send(conn.connId, { type: 'logout.ok', re });
    this.loggedOut(conn, nowMs);
    this.goOffline(username);
  }

  private onTtlExpired(username: string, nowMs: number): void {
    const user = this.online.get(username);
    if (user === undefined) return;
    const conn = user.connId === null ? undefined : this.conns.get(user.connId);
    if (conn !== undefined) {
      this.loggedOut(conn, nowMs);
      this.sendError(conn, 'HEARTBEAT_TIMEOUT');
    }
    this.goOffline(username);
  }

  /**
   * Logout, TTL expiry, or a remote user gone: the friends held here are told (each node of a
   * cluster tells its own), pending session requests end.
   */
  private goOffline(username: string): void {
    const user = this.online.get(username);
    if (user === undefined) return;
    this.online.delete(username);
    this.timers.disarm(`ttl:${username}`);
    this.mailbox.resetDelivery(username);
    // Her requests end before the bus hears she is offline: a callee's node withdraws what it
    // still holds of hers on that word (withdrawRemoteRequests), so the withdrawals sent from here
    // must reach it first, or its callee hears each twice (a TTL expiry did that until 2026-12-08).
    for (const requestId of [...(user.sessionRequests ?? [])]) this.endSessionRequest(requestId, 'offline');
    if (this.config.clustered && !user.remote) this.effects.push({ type: 'announce', item: { kind: 'offline', username } });
    const account = this.directory.get(username);
    if (account !== undefined) this.tellFriends(account, 'offline');
  }

  // ---- friends and presence -------------------------------------------------------------------

  private statusOf(username: string): PresenceStatus {
    return this.online.has(username) ? 'online' : 'offline';
  }

  /** `username` as `viewer`'s friend list shows it. */
  private friendEntry(viewer: string, username: string): FriendEntry {
    const account = this.directory.get(username);
    const sinceMs = this.directory.friendsSinceMs(viewer, username);
    const entry: FriendEntry = { username, nickname: account?.nickname ?? username, status: this.statusOf(username), ...(sinceMs === undefined ? {} : { since: sinceMs }) };
    return account?.identity == null ? entry : { ...entry, identity: account.identity };
  }

  /** The identity keys of a user, as a field to spread into a frame (none when not registered). */
  private identityField(username: string): { identity?: IdentityKeys } {
    const identity = this.directory.get(username)?.identity;
    return identity == null ? {} : { identity };
  }

  private friendView(username: string): { friends: FriendEntry[]; incoming: string[]; outgoing: string[] } {
    const account = this.directory.get(username);
    if (account === undefined) return { friends: [], incoming: [], outgoing: [] };
    return {
      friends: [...account.friends].map((friend) => this.friendEntry(username, friend)),
      incoming: this.directory.visibleIncoming(account),
      outgoing: [...account.outgoing],
    };
  }

  /**
   * Presence goes only to mutual friends that are online and attached, and held here: in a
   * cluster each node tells the friends it holds when its own view of the user changes (a login
   * here, or the `attached`/`offline` another node announced). So what a client sees is its node's
   * view, which login.ok gave it whole, and two logins that cross on the bus still reach both
   * sides: each node hears the other's announcement after its own login and tells its user.
   */
  private tellFriends(account: Account, status: PresenceStatus): void {
    // One frame object for every friend: a host may encode it once for the whole fan-out.
    const frame: ServerFrame = { type: 'presence', username: account.username, status };
    for (const friend of account.friends) {
      const user = this.online.get(friend);
      if (user === undefined || user.remote) continue;
      this.sendToUser(friend, frame);
    }
  }

  private onFriendRequest(conn: Conn, username: string, frame: ClientFrameOf<'friend.request'>, nowMs: number): void {
    const me = this.directory.get(username);
    const them = this.directory.get(frame.username);
    if (me === undefined || them === undefined) return this.sendError(conn, 'USER_NOT_FOUND', frame.id);
    if (me === them) return this.sendError(conn, 'SELF_REQUEST', frame.id);
    if (me.friends.has(them.username)) return this.sendError(conn, 'ALREADY_FRIENDS', frame.id);
    // Asking someone we blocked is a contradiction the user should hear about (the block itself
    // stays silent to them).
    if (me.blocked.has(them.username)) return this.sendError(conn, 'BLOCKED', frame.id);
    if (me.outgoing.has(them.username)) return this.sendError(conn, 'ALREADY_REQUESTED', frame.id);
    // They asked us already: asking back is accepting.
    if (me.incoming.has(them.username)) return this.acceptFriend(conn, me, them, frame.id, nowMs);
    if (me.friends.size >= FRIENDS_PER_USER_MAX) return this.sendError(conn, 'FRIENDS_LIMIT', frame.id);
    const declineKey = `${me.username}\u0000${them.username}`;
    const declinedAtMs = this.declines.get(declineKey);
    if (declinedAtMs !== undefined) {
      if (nowMs - declinedAtMs < FRIEND_REQUEST_DECLINE_COOLDOWN_MS) return this.sendError(conn, 'DECLINED_RECENTLY', frame.id);
      this.declines.delete(declineKey);
      this.persist({ op: 'decline.remove', declined: me.username, decliner: them.username });
    }
    // Blocked: kept and answered like any request, so the blocked user's own lists show it pending
    // and they learn nothing; the blocker never sees it, nor does it count against their quota.
    const hidden = them.blocked.has(me.username);
    // Apart: strangers filling someone's incoming quota never stop that person asking others.
    if (
      me.outgoing.size >= FRIEND_REQUESTS_OUTGOING_PER_USER_MAX ||
      (!hidden && this.directory.visibleIncoming(them).length >= FRIEND_REQUESTS_INCOMING_PER_USER_MAX)
    ) {
      return this.sendError(conn, 'REQUESTS_LIMIT', frame.id);
    }
    // Only a request that would be stored takes a token: refusals write nothing and tell nobody.
    if (!this.friendRequests.take(me.username, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many friend requests: retry later');
    this.persist({ op: 'request.add', from: me.username, to: them.username });
    this.send(conn.connId, { type: 'friend.requested', re: frame.id, username: them.username });
    if (!hidden) this.sendToUser(them.username, { type: 'friend.incoming', from: me.username, nickname: me.nickname });
  }

  private onFriendAccept(conn: Conn, username: string, frame: ClientFrameOf<'friend.accept'>, nowMs: number): void {
    const me = this.directory.get(username);
    const them = this.directory.get(frame.username);
    if (me === undefined || them === undefined || !me.incoming.has(them.username)) {
      return this.sendError(conn, 'NO_SUCH_REQUEST', frame.id);
    }
    this.acceptFriend(conn, me, them, frame.id, nowMs);
  }

  /** `me` accepts the pending request from `them`. */
  private acceptFriend(conn: Conn, me: Account, them: Account, re: number | undefined, nowMs: number): void {
    if (me.friends.size >= FRIENDS_PER_USER_MAX || them.friends.size >= FRIENDS_PER_USER_MAX) {
      return this.sendError(conn, 'FRIENDS_LIMIT', re);
    }
    this.persist({ op: 'request.remove', from: them.username, to: me.username });
    this.lastFriendsSinceMs = Math.max(Math.floor(nowMs), this.lastFriendsSinceMs + 1);
    this.persist({ op: 'friendship.add', a: me.username, b: them.username, sinceMs: this.lastFriendsSinceMs });
    this.send(conn.connId, { type: 'friend.added', re, ...this.friendEntry(me.username, them.username) });
    this.sendToUser(them.username, { type: 'friend.added', ...this.friendEntry(them.username, me.username) });
  }

  private onFriendDecline(conn: Conn, username: string, frame: ClientFrameOf<'friend.decline'>, nowMs: number): void {
    const me = this.directory.get(username);
    if (me === undefined || !me.incoming.has(frame.username)) return this.sendError(conn, 'NO_SUCH_REQUEST', frame.id);
    this.persist({ op: 'request.remove', from: frame.username, to: username });
    this.rememberDecline(frame.username, username, nowMs);
    this.send(conn.connId, { type: 'friend.declined', re: frame.id, username: frame.username });
    this.sendToUser(frame.username, { type: 'friend.declined', username });
  }

  /** Ends a friendship, or withdraws our own pending request. */
  private onFriendRemove(conn: Conn, username: string, frame: ClientFrameOf<'friend.remove'>): void {
    const me = this.directory.get(username);
    const other = frame.username;
    if (me === undefined) return this.sendError(conn, 'NOT_FRIENDS', frame.id);
    if (me.friends.has(other)) {
      this.persist({ op: 'friendship.remove', a: username, b: other });
      // Mail still held between them goes with the friendship, unread.
      for (const mail of this.mailbox.between(username, other)) this.persist({ op: 'mail.remove', to: mail.to, seq: mail.seq });
      for (const requestId of this.sessionRequestsBetween(username, other)) this.endSessionRequest(requestId, 'not-friends');
    } else if (me.outgoing.has(other)) {
      this.persist({ op: 'request.remove', from: username, to: other });
      // Withdrawing a request the other one never saw (they blocked us) tells them nothing.
      if (this.directory.get(other)?.blocked.has(username) === true) {
        return this.send(conn.connId, { type: 'friend.removed', re: frame.id, username: other });
      }
    } else {
      return this.sendError(conn, 'NOT_FRIENDS', frame.id);
    }
    this.send(conn.connId, { type: 'friend.removed', re: frame.id, username: other });
    this.sendToUser(other, { type: 'friend.removed', username });
  }

  /** `declined` may not ask `decliner` again for FRIEND_REQUEST_DECLINE_COOLDOWN_MS. */
  private rememberDecline(declined: string, decliner: string, nowMs: number): void {
    const key = `${declined}\u0000${decliner}`;
    this.declines.delete(key);
    this.declines.set(key, nowMs);
    // Stored, so a restart does not let the declined ask again at once.
    this.persist({ op: 'decline.add', declined, decliner, atMs: nowMs });
    // Bounded like the rate limiters: the oldest decline is forgotten first, in memory and in the store.
    const forgotten = dropOldestPast(this.declines, RATE_LIMIT_BUCKETS_MAX);
    if (forgotten !== undefined) {
      const [oldDeclined = '', oldDecliner = ''] = forgotten.split('\u0000');
      this.persist({ op: 'decline.remove', declined: oldDeclined, decliner: oldDecliner });
    }
  }

  /**
   * Blocks a user: their pending request to us is hidden from us (they still see it pending), ours
   * to them is withdrawn, and from now on their friend and session requests to us are dropped
   * without telling them. A friendship stays (friend.remove ends it); blocking twice is harmless.
   */
  private onFriendBlock(conn: Conn, username: string, frame: ClientFrameOf<'friend.block'>, nowMs: number): void {
    const me = this.directory.get(username);
    const them = this.directory.get(frame.username);
    if (me === undefined || them === undefined) return this.sendError(conn, 'USER_NOT_FOUND', frame.id);
    if (me === them) return this.sendError(conn, 'SELF_REQUEST', frame.id);
    if (!me.blocked.has(them.username)) {
      if (me.blocked.size >= BLOCKS_PER_USER_MAX) return this.sendError(conn, 'BLOCKS_LIMIT', frame.id);
      if (!this.blockChanges.take(username, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many blocks and unblocks: retry later');
      this.persist({ op: 'block.add', blocker: me.username, blocked: them.username });
    }
    if (me.outgoing.has(them.username)) this.persist({ op: 'request.remove', from: me.username, to: them.username });
    // Session requests they have waiting on us are withdrawn on our side only.
    for (const requestId of this.sessionRequestsBetween(me.username, them.username)) {
      const request = this.sessionRequests.get(requestId);
      if (request?.caller !== them.username) continue;
      this.sendToUser(me.username, { type: 'session.withdrawn', requestId, from: them.username, reason: 'cancelled' });
      forgetSessionRequest(this.online.get(me.username), requestId);
      this.sessionRequests.set(requestId, { ...request, silent: true });
    }
    this.send(conn.connId, { type: 'friend.blocked', re: frame.id, username: them.username });
  }

  private onFriendUnblock(conn: Conn, username: string, frame: ClientFrameOf<'friend.unblock'>, nowMs: number): void {
    const me = this.directory.get(username);
    const them = this.directory.get(frame.username);
    if (me === undefined || them === undefined) return this.sendError(conn, 'USER_NOT_FOUND', frame.id);
    let shown = false;
    if (me.blocked.has(frame.username)) {
      if (!this.blockChanges.take(username, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many blocks and unblocks: retry later');
      this.persist({ op: 'block.remove', blocker: username, blocked: frame.username });
      // Their hidden request shows from now on, unless the incoming quota is full (then it goes,
      // silently: a list past its quota would outgrow the frame that carries it).
      if (me.incoming.has(frame.username) && this.directory.visibleIncoming(me).length > FRIEND_REQUESTS_INCOMING_PER_USER_MAX) {
        this.persist({ op: 'request.remove', from: frame.username, to: username });
      }
      shown = me.incoming.has(frame.username);
    }
    this.send(conn.connId, { type: 'friend.unblocked', re: frame.id, username: frame.username });
    // A request the block hid is told now, as one made at this moment would be (and as a login
    // tells each pending one), not only in the next friends list.
    if (shown) this.send(conn.connId, { type: 'friend.incoming', from: them.username, nickname: them.nickname });
  }

  // ---- account changes ------------------------------------------------------------------------

  /**
   * A password change: the old password is checked as a login's is, through the same limits (the
   * address's attempts, the (username, address) guess slow-down, the fair queue of checks), so it
   * is no second guessing oracle; then the new one is hashed and stored. The user stays logged in.
   */
  private onAccountPassword(conn: Conn, username: string, frame: ClientFrameOf<'account.password'>, nowMs: number): void {
    const phase = conn.phase;
    const account = this.directory.get(username);
    if (phase.state !== 'LoggedIn' || account === undefined) return this.sendError(conn, 'NOT_LOGGED_IN', frame.id);
    if (phase.passwordJobId !== null) return this.sendError(conn, 'BUSY', frame.id, 'a password change is already in progress');
    const invalid = checkPassword(frame.new);
    if (invalid !== null) return this.sendError(conn, invalid, frame.id);
    if (!this.authAttempts.take(conn.addressKey, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id);
    const guessKey = `${username}\u0000${conn.addressKey}`;
    const waitMs = this.loginGuesses.waitMs(guessKey, nowMs);
    if (waitMs > 0) return this.sendError(conn, 'RATE_LIMITED', frame.id, `too many attempts for this username from this address: retry in ${waitMs} ms`);
    const jobId = this.nextJobId++;
    const job: Job = {
      kind: 'password-check',
      jobId,
      connId: conn.connId,
      addressKey: conn.addressKey,
      re: frame.id,
      username,
      guessKey,
      newPassword: frame.new,
      effect: { type: 'verify', jobId, password: frame.old, passwordHash: account.passwordHash },
      running: false,
    };
    if (!this.startPasswordCheck(job, nowMs)) return this.sendError(conn, 'BUSY', frame.id, 'the server is busy checking passwords: retry shortly');
    this.loginGuesses.attempt(guessKey, nowMs);
    conn.phase = { ...phase, passwordJobId: jobId };
  }

  /** The connection that asked for a password change, while still logged in as the user and waiting for this job. */
  private passwordChangeConn(job: Job): (Conn & { phase: Extract<ConnState, { state: 'LoggedIn' }> }) | null {
    const conn = this.conns.get(job.connId);
    if (conn === undefined || conn.phase.state !== 'LoggedIn' || conn.phase.passwordJobId !== job.jobId || conn.phase.username !== job.username) return null;
    return conn as Conn & { phase: Extract<ConnState, { state: 'LoggedIn' }> };
  }

  private onOldPasswordVerified(job: Extract<Job, { kind: 'password-check' }>, ok: boolean, nowMs: number): void {
    this.passwordCheckDone(job);
    if (ok) this.loginGuesses.clear(job.guessKey);
    // The asker is gone (logged out, taken over, closed): the change is dropped with it.
    const conn = this.passwordChangeConn(job);
    if (conn === null) return;
    if (!ok) {
      conn.phase = { ...conn.phase, passwordJobId: null };
      return this.sendError(conn, 'BAD_CREDENTIALS', job.re, 'the old password is wrong');
    }
    const jobId = this.nextJobId++;
    const next: Job = {
      kind: 'password-set',
      jobId,
      connId: conn.connId,
      addressKey: conn.addressKey,
      re: job.re,
      username: job.username,
      effect: { type: 'hash', jobId, password: job.newPassword },
      running: false,
    };
    if (!this.startPasswordCheck(next, nowMs)) {
      conn.phase = { ...conn.phase, passwordJobId: null };
      return this.sendError(conn, 'BUSY', job.re, 'the server is busy checking passwords: retry shortly');
    }
    conn.phase = { ...conn.phase, passwordJobId: jobId };
  }

  /**
   * The new password is hashed: stored, and the resume token replaced. An account has one login
   * at a time (a second one takes it over), so the tokens handed out before are all the other
   * sessions there are: none of them resumes any more. The asker gets the new token.
   */
  private onNewPasswordHashed(job: Extract<Job, { kind: 'password-set' }>, passwordHash: string | null): void {
    this.passwordCheckDone(job);
    const conn = this.passwordChangeConn(job);
    if (conn === null) return;
    conn.phase = { ...conn.phase, passwordJobId: null };
    if (passwordHash === null) return this.sendError(conn, 'INTERNAL', job.re, 'password hashing failed');
    const user = this.online.get(job.username);
    const account = this.directory.get(job.username);
    if (user === undefined || account === undefined) return;
    this.persist({ op: 'account.password', username: job.username, passwordHash });
    user.resumeToken = this.config.newToken();
    // Every node of a cluster accepts a resume: each must forget the old token too.
    if (this.config.clustered) this.effects.push({ type: 'announce', item: { kind: 'attached', username: job.username, resumeToken: user.resumeToken } });
    this.send(conn.connId, { type: 'account.updated', re: job.re, username: job.username, nickname: account.nickname, resumeToken: user.resumeToken });
  }

  private onAccountNickname(conn: Conn, username: string, frame: ClientFrameOf<'account.nickname'>, nowMs: number): void {
    const account = this.directory.get(username);
    if (account === undefined) return this.sendError(conn, 'NOT_LOGGED_IN', frame.id);
    const invalid = checkNickname(frame.nickname);
    if (invalid !== null) return this.sendError(conn, invalid, frame.id);
    if (frame.nickname === account.nickname) return this.send(conn.connId, { type: 'account.updated', re: frame.id, username, nickname: account.nickname });
    if (!this.nicknameChanges.take(username, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many nickname changes: retry later');
    this.persist({ op: 'account.nickname', username, nickname: frame.nickname });
    this.send(conn.connId, { type: 'account.updated', re: frame.id, username, nickname: frame.nickname });
    // One frame object for every friend: a host may encode it once for the whole fan-out.
    const update: ServerFrame = { type: 'friend.updated', username, nickname: frame.nickname };
    for (const friend of account.friends) this.sendToUser(friend, update);
  }

  // ---- chat-session brokering -----------------------------------------------------------------

  private onSessionRequest(conn: Conn, caller: string, frame: ClientFrameOf<'session.request'>, nowMs: number): void {
    const callee = frame.username;
    const fail = (reason: SessionFailure): void => {
      this.countSession(reason);
      this.send(conn.connId, { type: 'session.failed', re: frame.id, username: callee, reason });
    };
    if (!this.sessionAttempts.take(caller, nowMs)) return fail('rate-limited');
    if (caller === callee || !this.directory.areFriends(caller, callee)) return fail('not-friends');
    const calleeUser = this.online.get(callee);
    if (calleeUser === undefined || calleeUser.connId === null) return fail('offline');
    if (this.sessionRequestsBetween(caller, callee).some((id) => this.sessionRequests.get(id)?.caller === caller)) {
      return fail('already-pending');
    }
    const callerUser = this.online.get(caller);
    if (callerUser === undefined) throw new Error('logged-in caller is not online');
    // Counted apart for each side: friends asking a user at once must not keep that user from
    // asking anyone (one shared count let 16 of them do just that).
    if (this.sessionRequestsAs(callerUser, 'caller') >= SESSION_REQUESTS_PENDING_PER_USER_MAX || this.sessionRequestsAs(calleeUser, 'callee') >= SESSION_REQUESTS_PENDING_PER_USER_MAX) {
      return fail('too-many-requests');
    }
    const requestId = `${this.config.sessionRequestIdPrefix}${this.nextSessionRequestSeq++}`;
    // A blocked caller gets an ordinary pending request that times out; the callee never hears of it.
    const silent = this.directory.get(callee)?.blocked.has(caller) ?? false;
    this.sessionRequests.set(requestId, { requestId, caller, callee, silent });
    (callerUser.sessionRequests ??= new Set()).add(requestId);
    if (!silent) (calleeUser.sessionRequests ??= new Set()).add(requestId);
    const timeoutMs = this.config.sessionTimeoutMs;
    this.timers.arm(`sreq:${requestId}`, nowMs + timeoutMs);
    this.send(conn.connId, { type: 'session.pending', re: frame.id, requestId, username: callee, timeoutMs });
    if (!silent) this.send(calleeUser.connId, { type: 'session.incoming', requestId, from: caller, timeoutMs });
  }

  /** How many of `user`'s pending session requests it is part of as `role` (at most two bounds' worth). */
  private sessionRequestsAs(user: OnlineUser, role: 'caller' | 'callee'): number {
    let count = 0;
    // Stryker disable next-line ArrayDeclaration,OptionalChaining: an id no request has counts for no role; a user's request ids are those of live requests (dropSessionRequest forgets both together)
    for (const id of user.sessionRequests ?? []) if (this.sessionRequests.get(id)?.[role] === user.username) count += 1;
    return count;
  }

  private onSessionAnswer(conn: Conn, callee: string, frame: ClientFrameOf<'session.answer'>): void {
    const request = this.sessionRequests.get(frame.requestId);
    if (frame.accept && frame.port === undefined) return this.sendError(conn, 'BAD_FRAME', frame.id, 'accepting needs a port');
    if (request === undefined && this.forwardAnswer(conn, callee, frame)) return;
    if (request === undefined || request.callee !== callee || request.silent) return this.sendError(conn, 'NO_SUCH_SESSION_REQUEST', frame.id);
    this.dropSessionRequest(request);
    this.send(conn.connId, { type: 'session.answered', re: frame.id, requestId: request.requestId, accept: frame.accept });
    if (!frame.accept) {
      this.countSession('rejected');
      this.sendToUser(request.caller, { type: 'session.failed', requestId: request.requestId, username: callee, reason: 'rejected' });
      return;
    }
    this.countSession('established');
    const token = this.config.newToken();
    const base = { type: 'session.established', requestId: request.requestId, token } as const;
    // The callee learns the token first: the caller's hello should find it already there.
    this.send(conn.connId, { ...base, username: request.caller, role: 'callee', ...this.identityField(request.caller) });
    // The caller connects to the address this server sees the callee at, never to one the callee
    // names: a hostile friend could otherwise make our client open a connection to any internal host.
    this.sendToUser(request.caller, { ...base, username: callee, role: 'caller', host: addressKeyHost(conn.remoteAddress), port: frame.port, ...this.identityField(callee) });
  }

  private onSessionCancel(conn: Conn, caller: string, frame: ClientFrameOf<'session.cancel'>): void {
    const request = this.sessionRequests.get(frame.requestId);
    if (request === undefined || request.caller !== caller) return this.sendError(conn, 'NO_SUCH_SESSION_REQUEST', frame.id);
    this.endSessionRequest(request.requestId, 'cancelled', frame.id);
  }

  private onSessionRequestTimeout(requestId: string): void {
    this.endSessionRequest(requestId, 'timeout');
  }

  /**
   * Ends a pending request without the callee's yes: the callee is told it is gone, and the caller
   * why, unless the program that asked is gone (callerTold false: endPreviousInstance).
   */
  private endSessionRequest(requestId: string, reason: SessionFailure, re?: number, callerTold = true): void {
    const request = this.sessionRequests.get(requestId);
    // Stryker disable next-line ConditionalExpression: every caller passes the id of a live request (looked up just before, or a user's or timer's, both dropped with it)
    if (request === undefined) return;
    this.dropSessionRequest(request);
    this.countSession(reason);
    if (callerTold) this.sendToUser(request.caller, { type: 'session.failed', re, requestId, username: request.callee, reason });
    if (!request.silent) this.sendToUser(request.callee, { type: 'session.withdrawn', requestId, from: request.caller, reason });
  }

  private dropSessionRequest(request: SessionRequest): void {
    this.sessionRequests.delete(request.requestId);
    this.timers.disarm(`sreq:${request.requestId}`);
    forgetSessionRequest(this.online.get(request.caller), request.requestId);
    forgetSessionRequest(this.online.get(request.callee), request.requestId);
  }

  private sessionRequestsBetween(a: string, b: string): string[] {
    const user = this.online.get(a);
    if (user === undefined) return [];
    return [...(user.sessionRequests ?? [])].filter((id) => {
      const request = this.sessionRequests.get(id);
      return request !== undefined && (request.caller === b || request.callee === b);
    });
  }

  private countSession(outcome: SessionOutcome): void {
    this.counters.sessions[outcome] = (this.counters.sessions[outcome] ?? 0) + 1;
  }

  // ---- offline mail (mailbox.ts) ----------------------------------------------------------------

  /**
   * A message sealed for a friend with no open session. Held (and answered mail.queued) unless the
   * recipient's mailbox, or this sender's share of it, is full; a retried send (same message id
   * and box) is answered again without a second copy, another box under a held id is refused. A sender the recipient blocked is answered as usual
   * and nothing is kept, so it learns nothing.
   */
  private onMailSend(conn: Conn, from: string, frame: ClientFrameOf<'mail.send'>, nowMs: number): void {
    const to = frame.username;
    if (from === to || !this.directory.areFriends(from, to)) return this.sendError(conn, 'NOT_FRIENDS', frame.id);
    // A friend we blocked (the friendship stays) gets no mail from us until we unblock them.
    if (this.directory.get(from)?.blocked.has(to) === true) return this.sendError(conn, 'BLOCKED', frame.id);
    const queued: ServerFrame = { type: 'mail.queued', re: frame.id, username: to, messageId: frame.messageId };
    // Stryker disable next-line OptionalChaining: a friend has an account (areFriends above), so it is never missing
    if (this.directory.get(to)?.blocked.has(from) === true) return this.send(conn.connId, queued);
    const held = this.mailbox.find(to, from, frame.messageId);
    if (held !== undefined) {
      // The same box again is a resend after a lost answer (the client keeps the box for that):
      // held once. Another box under the id is another message, and saying mail.queued for it
      // while keeping the first would lose it silently.
      if (held.sealed === frame.sealed) return this.send(conn.connId, queued);
      return this.sendError(conn, 'MESSAGE_ID_TAKEN', frame.id);
    }
    const admission = this.mailbox.admit(to, from, sealedBytes(frame.sealed));
    if (admission !== 'ok') {
      return this.sendError(conn, 'MAILBOX_FULL', frame.id, admission === 'sender-share-full' ? 'your share of their mailbox is full' : 'their mailbox is full');
    }
    if (!this.mailSends.take(from, nowMs)) return this.sendError(conn, 'RATE_LIMITED', frame.id, 'too many offline messages: retry later');
    this.persist({ op: 'mail.add', seq: this.mailbox.nextSeq(nowMs, this.config.mailSeqSlot, this.config.mailSeqSlots), from, to, messageId: frame.messageId, sealed: frame.sealed, sentAtMs: nowMs });
    this.send(conn.connId, queued);
    this.deliverMail(to);
  }

  /**
   * The recipient is done with a mail (stored it, or found it unreadable): it is deleted, and its
   * sender told now or at its next login.
   */
  private onMailAck(to: string, frame: ClientFrameOf<'mail.ack'>): void {
    const mail = this.mailbox.get(to, frame.seq);
    if (mail === undefined) return; // acknowledged before (a repeated delivery)
    this.persist({ op: 'mail.remove', to, seq: frame.seq });
    this.tellSender(mail, frame.unreadable === true ? 'MAIL_UNREADABLE' : undefined);
    this.deliverMail(to);
  }

  /**
   * A mail left the mailbox: its sender hears what became of it (mail.delivered, or mail.failed
   * with why) at once if attached, or as a receipt held for its next login (the oldest dropped
   * past MAIL_RECEIPTS_HELD_PER_USER_MAX).
   */
  private tellSender(mail: MailRecord, failed: MailFailure | undefined): void {
    const receipt: ReceiptRecord = { seq: mail.seq, sender: mail.from, recipient: mail.to, messageId: mail.messageId, ...(failed && { failed }) };
    const sender = this.online.get(mail.from);
    if (sender !== undefined && sender.connId !== null) return this.send(sender.connId, receiptFrame(receipt));
    const dropped = this.mailbox.receiptToDrop(mail.from);
    if (dropped !== null) this.persist({ op: 'receipt.remove', sender: dropped.sender, seq: dropped.seq });
    this.persist({ op: 'receipt.add', ...receipt });
  }

  /** A user (re)attached: its mail is handed over from the oldest, and its held receipts told. */
  private handOverMail(username: string): void {
    const user = this.online.get(username);
    if (user === undefined || user.connId === null) return;
    for (const receipt of [...this.mailbox.receiptsFor(username)]) {
      this.send(user.connId, receiptFrame(receipt));
      this.persist({ op: 'receipt.remove', sender: username, seq: receipt.seq });
    }
    this.mailbox.resetDelivery(username);
    this.deliverMail(username);
  }

  /**
   * The store's view of a user's mail replaces this node's (held by the host at attach): mail
   * another node queued that this one never heard of is handed over, mail acknowledged elsewhere
   * is not; receipts still owed are told and deleted, as at any hand-over.
   */
  private onStoredMail(username: string, held: HeldMail): void {
    this.mailbox.replaceHeld(username, held);
    const user = this.online.get(username);
    if (user === undefined || user.remote || user.connId === null) return;
    for (const receipt of [...this.mailbox.receiptsFor(username)]) {
      this.send(user.connId, receiptFrame(receipt));
      this.persist({ op: 'receipt.remove', sender: username, seq: receipt.seq });
    }
    this.deliverMail(username);
  }

  /** Pushes `to`'s next mail, if it is attached, up to MAIL_DELIVERIES_IN_FLIGHT_MAX unacknowledged. */
  private deliverMail(to: string): void {
    const user = this.online.get(to);
    if (user === undefined || user.connId === null) return;
    for (const mail of this.mailbox.nextToDeliver(to)) {
      this.send(user.connId, { type: 'mail.deliver', seq: mail.seq, from: mail.from, messageId: mail.messageId, sealed: mail.sealed, sentAtMs: mail.sentAtMs });
    }
  }

  // ---- other nodes of a cluster ---------------------------------------------------------------

  /**
   * Another node holds this user now. New here: the friends held here are told it is online (its
   * node tells its own). Online here already (it moved, or a node answers a join): no presence
   * change; a connection of the user held here is ended.
   */
  private onRemoteAttached(username: string, connId: ConnId, resumeToken: string, passwordLogin: boolean): void {
    let user = this.online.get(username);
    if (user === undefined) {
      user = { username, connId, resumeToken, sessionRequests: null, missedOutcomes: null, remote: true, remoteRequests: null };
      this.online.set(username, user);
      const account = this.directory.get(username);
      if (account !== undefined) this.tellFriends(account, 'online');
      return;
    }
    if (passwordLogin) this.endPreviousInstance(user);
    const old = user.remote || user.connId === null ? undefined : this.conns.get(user.connId);
    user.remote = true;
    user.connId = connId;
    user.resumeToken = resumeToken;
    user.missedOutcomes = null;
    user.remoteRequests = null;
    this.timers.disarm(`ttl:${username}`);
    // As on one node: the old connection is told and closed (the user is not detached: it moved).
    if (old !== undefined) this.sendError(old, 'LOGGED_IN_ELSEWHERE');
  }

  private onRemoteOffline(username: string, connId: ConnId): void {
    const user = this.online.get(username);
    if (user === undefined || !user.remote || user.connId !== connId) return;
    this.withdrawRemoteRequests(username);
    this.goOffline(username);
  }

  /**
   * A caller held elsewhere went offline: the requests its node held for callees here end for
   * them with `offline`, as going offline ends them (PROTOCOL.md). At a logout its node has said
   * so already (its withdrawals come before its `offline`, so none is left here); when that node
   * died or its lease ran out here, nobody else will, and the callee would be asked until its own
   * deadline. Only friends are asked for sessions: the caller's friends are all there is to look at.
   */
  private withdrawRemoteRequests(caller: string): void {
    // Stryker disable next-line ArrayDeclaration: any name put in the empty list is no user online here, so nothing is withdrawn either way
    for (const friend of this.directory.get(caller)?.friends ?? []) {
      const callee = this.online.get(friend);
      if (callee?.remoteRequests == null) continue;
      const requests = callee.remoteRequests;
      for (const [requestId, from] of requests) {
        if (from !== caller) continue;
        requests.delete(requestId);
        this.sendToUser(friend, { type: 'session.withdrawn', requestId, from: caller, reason: 'offline' });
      }
      // Stryker disable next-line ConditionalExpression: an empty map and null answer alike; null only frees the map
      if (requests.size === 0) callee.remoteRequests = null;
    }
  }

  /** A frame for a user held here, from another node's machine: sent as if made here. */
  private onRemoteDeliver(username: string, frame: ServerFrame): void {
    const user = this.online.get(username);
    if (user === undefined || user.remote) return;
    if (frame.type === 'session.incoming') {
      const requests = (user.remoteRequests ??= new Map());
      requests.set(frame.requestId, frame.from);
      dropOldestPast(requests, SESSION_REQUESTS_PENDING_PER_USER_MAX);
    } else if (SESSION_OUTCOME_TYPES.has(frame.type) && 'requestId' in frame && typeof frame.requestId === 'string') {
      user.remoteRequests?.delete(frame.requestId);
      if (user.remoteRequests?.size === 0) user.remoteRequests = null;
    }
    this.sendToUser(username, frame);
  }

  /**
   * A session answer for a request held on the caller's node: sent there. False if none is known.
   * Without the bus it would be lost (a bus client drops what is published while it is
   * disconnected), and the callee would wait for a reply until its request's deadline: it is
   * answered SERVER_DEGRADED instead, and the request stays known for an answer once the bus is back.
   */
  private forwardAnswer(conn: Conn, callee: string, frame: ClientFrameOf<'session.answer'>): boolean {
    const user = this.online.get(callee);
    const caller = user?.remoteRequests?.get(frame.requestId);
    const callerUser = caller === undefined ? undefined : this.online.get(caller);
    if (user === undefined || callerUser === undefined || !callerUser.remote || callerUser.connId === null) return false;
    if (this.busLost) {
      this.sendError(conn, 'SERVER_DEGRADED', frame.id, "this server cannot reach the caller's server: the answer was not passed on");
      return true;
    }
    user.remoteRequests?.delete(frame.requestId);
    this.effects.push({ type: 'forward', connId: callerUser.connId, username: callee, remoteAddress: conn.remoteAddress, frame });
    return true;
  }

  /** A remote callee's answer: handled as if its connection were here; replies go to its proxy. */
  private onRemoteAnswer(input: Extract<ServerInput, { type: 'remote.answer' }>): void {
    const user = this.online.get(input.username);
    if (user === undefined || !user.remote || user.connId !== input.connId) return;
    const proxy: Conn = {
      connId: input.connId,
      remoteAddress: input.remoteAddress,
      addressKey: addressKey(input.remoteAddress),
      decoder: PROXY_DECODER,
      phase: { state: 'LoggedIn', username: input.username, ttlKey: `ttl:${input.username}`, passwordJobId: null },
      unauthenticatedUntilMs: 0,
    };
    this.onSessionAnswer(proxy, input.username, input.frame);
  }

  private loadDeclines(snapshot: StoreSnapshot): void {
    // Oldest first, so the map's order stays the order declines are forgotten in.
    for (const decline of [...(snapshot.declines ?? [])].sort((a, b) => a.atMs - b.atMs)) {
      this.declines.set(`${decline.declined}\u0000${decline.decliner}`, decline.atMs);
    }
  }

  /** The users held here with their resume tokens (what a joining node is told). */
  heldUsers(visit: (username: string, resumeToken: string) => void): void {
    for (const user of this.online.values()) if (!user.remote) visit(user.username, user.resumeToken);
  }

  // ---- effects --------------------------------------------------------------------------------

  private persist(op: StoreOp): void {
    this.applyOp(op);
    this.effects.push({ type: 'persist', op });
  }

  /** What a store op changes in memory: the same for an op made here and one another node made. */
  private applyOp(op: StoreOp): void {
    this.directory.apply(op);
    this.mailbox.apply(op);
  }

  private send(connId: ConnId, frame: ServerFrame): void {
    this.counters.framesOut += 1;
    this.effects.push({ type: 'send', connId, frame });
  }

  private sendToUser(username: string, frame: ServerFrame): void {
    const user = this.online.get(username);
    if (user === undefined) return;
    if (user.remote) return this.send(user.connId ?? -1, frame);
    if (user.connId !== null) return this.send(user.connId, frame);
    if (!SESSION_OUTCOME_TYPES.has(frame.type)) return;
    const missed = (user.missedOutcomes ??= []);
    if (missed.length >= SESSION_OUTCOMES_HELD_MAX) missed.shift();
    missed.push(frame);
  }

  /** Remote errors become error frames; a code that closes also drops the connection. */
  private sendError(conn: Conn, code: ErrorCode, re?: number, detail?: string): void {
    this.counters.errors[code] = (this.counters.errors[code] ?? 0) + 1;
    this.send(conn.connId, { type: 'error', re, code, message: errorMessage(code), ...(detail === undefined ? {} : { detail }) });
    if (!errorCloses(code)) return;
    this.effects.push({ type: 'close', connId: conn.connId });
    this.forget(conn);
  }
}

/** A proxy connection decodes nothing (its frames arrive decoded): one shared, never-fed decoder. */
const PROXY_DECODER = new FrameDecoder({ frameBytesMax: 0 });

/** Drops a request from a user's pending set, and the set itself once empty. */
function forgetSessionRequest(user: OnlineUser | undefined, requestId: string): void {
  const requests = user?.sessionRequests;
  if (user === undefined || requests === undefined || requests === null) return;
  requests.delete(requestId);
  if (requests.size === 0) user.sessionRequests = null;
}
