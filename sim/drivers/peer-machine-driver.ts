/**
 * PeerDriver over the real peer machine (core/peer/machine.ts): each incarnation of a
 * simulated user is a PeerHost (core/peer/host.ts, the same one cli/client/client-runtime.ts runs
 * over TCP) on the in-memory network and the virtual clock, with an in-memory file port
 * (SimFiles); this driver is its event sink, turning the machine's client events into step
 * outcomes and checker observations.
 *
 * Files are synthetic: a sent file's bytes are a deterministic function of its path and offset,
 * so nothing is stored on the sending side; the receiver keeps what it writes in memory, and the
 * p2p-integrity checker compares those bytes' SHA-256 with the sender's.
 */
import { createHash } from 'node:crypto';
import type { PresenceStatus } from '../../core/frames.ts';
import type { CommandRef, PeerCommand, PreparedFile, UserCommand } from '../../core/peer/commands.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import type { ErrorCode } from '../../core/errors.ts';
import { QUIT_LOGOUT_WAIT_MS } from '../../core/limits.ts';
import { type PeerFiles, PeerHost } from '../../core/peer/host.ts';
import { ReadHash } from '../../core/peer/read-hash.ts';
import { PeerMachine } from '../../core/peer/machine.ts';
import type { Clock, Transport } from '../../core/transport.ts';
import type { AnswerPolicy, PeerDriver, PeerObserver, SessionOutcome, StepOutcome } from './peer-driver.ts';
import { type EntryKind, type LedgerEntry, RequestLedger, UNTRACKED_REF } from './request-ledger.ts';
import type { WireMessage } from '../world/frame-tap.ts';
import type { Prng } from '../world/prng.ts';
import { type NodeClockRate, Scope, type SimClock } from '../world/sim-clock.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../world/server-node.ts';
import { type SimIdentity, simSealer } from '../world/sim-sealer.ts';
import { SIM_FILE_BYTES_MAX, type SimPlantedBug } from '../scenarios/scenario-schema.ts';
import { HostileWire, isHostileSend, type SizeLies } from './hostile.ts';
import { ReconnectPacing } from '../checkers/reconnect-backoff-checker.ts';
import { PasswordTruth, type StoredPasswords } from '../checkers/password-truth-checker.ts';
import { OutageReports } from '../checkers/outage-checker.ts';
import { SessionCauses } from '../checkers/session-cause-checker.ts';
import { COMMAND_REFS_REMEMBERED_MAX, CommandQueue } from '../../cli/client/command-queue.ts';
import { ConnectDeadline, type ConnectTimerOf } from './connect-deadline.ts';
import { PeerTickets } from './peer-tickets.ts';

export const P2P_PORT = 5000;
/** Virtual time a simulated disk operation takes. */
const FILE_IO_MS = 1;

/** What the p2p-integrity checker hears about chat and files. */
export interface P2pObserver {
  onFileOffered(sender: string, transferId: string, sha256: string, size: number): void;
  /** `bytesWritten`: how many bytes the files port holds for it (the reported `size` is the machine's word). */
  onFileReceived(receiver: string, from: string, transferId: string, sha256: string, bytesSha256: string, size: number, bytesWritten: number): void;
  onChatSent(from: string, to: string, text: string): void;
  onChatReceived(to: string, from: string, text: string): void;
  /** Offline messages (sim/checkers/mail-checker.ts): sent with no session, held by the server, shown to the recipient. */
  onMailSent?(from: string, to: string, id: string): void;
  onMailQueued?(from: string, to: string, id: string): void;
  onMailShown?(to: string, from: string, id: string, incarnation: number): void;
  /** The receiver's files port wrote a download under `name`, at `path` (checker safe-file-names). */
  onFileCommitted?(receiver: string, transferId: string, name: string, path: string): void;
  /** The machine reported a received file at `path`. */
  onFileReported?(receiver: string, transferId: string, path: string): void;
}

/** Byte i of the synthetic file at `path`. */
function syntheticBytes(path: string, offset: number, length: number): Uint8Array {
  let seed = 0x811c9dc5;
  for (let i = 0; i < path.length; i++) seed = Math.imul(seed ^ path.charCodeAt(i), 0x01000193);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = Math.imul((offset + i) ^ seed, 0x9e3779b1) >>> 24;
  return out;
}

function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The client frames whose replies the session broker answers for (core/peer/session-broker.ts). */
const SESSION_REQUEST_TYPES: ReadonlySet<string> = new Set(['session.request', 'session.answer', 'session.cancel']);
/** Session frames remembered by id: far more than a client has in flight (SERVER_REQUESTS_PENDING_MAX). */
const SESSION_IDS_REMEMBERED_MAX = 1_024;

/** A step outcome that is an error code (NOT_LOGGED_IN), not a chat.failed reason (not-friends) or `established`. */
const ERROR_OUTCOME = /^[A-Z][A-Z_]*$/;

function hasId(event: ClientEvent): boolean {
  return (event as unknown as { id?: unknown }).id !== undefined;
}

/** The client's own logins remembered until answered: it sends one at a time. */
const OWN_LOGINS_REMEMBERED_MAX = 16;

/** Sent files whose offer is still to be reported (a user sends one at a time; refused sends leave theirs behind). */
const OFFERED_SHA256_REMEMBERED_MAX = 64;

/**
 * The simulator's file port: reads answer synthetic bytes, downloads are kept in memory (the
 * p2p-integrity checker hashes them), every operation takes FILE_IO_MS of virtual time.
 */

class SimFiles implements PeerFiles {
  readonly received = new Map<string, { buffer: Uint8Array; size: number }>();
  /** TEST-ONLY (`unsafe-download-name`): the names senders offered, by transfer, to write under instead. */
  readonly offeredNames = new Map<string, string>();

  constructor(
    private readonly clock: Clock,
    private readonly username: string,
    private readonly observer: P2pObserver,
    private readonly planted: ReadonlySet<SimPlantedBug> | null,
  ) {}

  /** The SHA-256 of each outgoing file, fed by its reads (core/peer/read-hash.ts, as the node port does). */
  private readonly sending = new Map<string, ReadHash>();

  read(transferId: string, path: string, offset: number, bytes: number, done: (result: Uint8Array | Error) => void): void {
    const chunk = syntheticBytes(path, offset, bytes);
    this.source(transferId).feed(offset, chunk);
    this.later(() => done(chunk));
  }

  digest(transferId: string, done: (result: string | Error) => void): void {
    const digest = this.source(transferId).digest();
    this.later(() => done(digest));
  }

  closeSource(transferId: string): void {
    this.sending.delete(transferId);
  }

  private source(transferId: string): ReadHash {
    let source = this.sending.get(transferId);
    if (source === undefined) {
      source = new ReadHash(createHash('sha256'));
      this.sending.set(transferId, source);
    }
    return source;
  }

  open(transferId: string): void {
    this.received.set(transferId, { buffer: new Uint8Array(0), size: 0 });
  }

  write(transferId: string, offset: number, bytes: Uint8Array, done: (error: Error | null) => void): void {
    const file = this.received.get(transferId);
    if (file === undefined) return this.later(() => done(new Error('no such incoming file')));
    const end = offset + bytes.byteLength;
    if (end > file.buffer.byteLength) {
      const grown = new Uint8Array(Math.max(end, file.buffer.byteLength * 2));
      grown.set(file.buffer.subarray(0, file.size));
      file.buffer = grown;
    }
    file.buffer.set(bytes, offset);
    file.size = Math.max(file.size, end);
    this.later(() => done(null));
  }

  /** The download is in memory and finish hashes all of it: nothing to hash again before a resume. */
  rehash(transferId: string, _bytes: number, done: (error: Error | null) => void): void {
    const file = this.received.get(transferId);
    this.later(() => done(file === undefined ? new Error('no such incoming file') : null));
  }

  finish(transferId: string, done: (result: string | Error) => void): void {
    const file = this.received.get(transferId);
    if (file === undefined) return this.later(() => done(new Error('no such incoming file')));
    const sha256 = sha256Hex(file.buffer.subarray(0, file.size));
    this.later(() => done(sha256));
  }

  commit(_transferId: string, sanitized: string, done: (result: string | Error) => void): void {
    // The planted bug writes where a careless client would: under the name the sender offered.
    const name = this.planted?.has('unsafe-download-name') === true ? (this.offeredNames.get(_transferId) ?? sanitized) : sanitized;
    const path = `sim:${this.username}/downloads/${name}`;
    this.observer.onFileCommitted?.(this.username, _transferId, name, path);
    this.later(() => done(path));
  }

  discard(transferId: string): void {
    this.received.delete(transferId);
  }

  closeAll(): void {
    this.received.clear();
    this.sending.clear();
  }

  /** The SHA-256 and length of a download's bytes, then forgets it. */
  take(transferId: string): { sha256: string; bytes: number } {
    const file = this.received.get(transferId);
    this.received.delete(transferId);
    return file === undefined ? { sha256: 'missing', bytes: 0 } : { sha256: sha256Hex(file.buffer.subarray(0, file.size)), bytes: file.size };
  }

  private later(fn: () => void): void {
    this.clock.at(this.clock.nowMs() + FILE_IO_MS, fn);
  }
}

export interface PeerMachineDriverOptions {
  readonly username: string;
  readonly index: number;
  readonly address: string;
  readonly transport: Transport;
  readonly clock: SimClock;
  readonly prng: Prng;
  readonly observer: PeerObserver;
  readonly p2p: P2pObserver;
  /** The server's session-request timeout: how long a chat.open may wait for its answer. */
  readonly sessionTimeoutMs: number;
  /** This process's own clock rate (drift, forward steps). */
  readonly clockRate?: NodeClockRate;
  /** The user's client is modified to send hostile offers (sendFile name, declaredBytes, wrongDigest, stall). */
  readonly hostileOffers?: boolean;
  /** Where its hostile wire records the sizes its offers lie about (the size-as-offered checker reads them). */
  readonly sizeLies?: SizeLies;
  /** TEST-ONLY: the simulator's planted bugs in effect now (the `plant` fault); read at each use. */
  readonly planted?: ReadonlySet<SimPlantedBug>;
  /**
   * The user's identity keys (sim/world/sim-keys.ts): registered at sign-up and login, sealed to
   * by friends, proved on P2P links by the network's handshakes. None: the user has no keys.
   */
  readonly identity?: SimIdentity | null;
  /** The server's store, for the password-truth checker (none: not judged). */
  readonly storedPasswords?: StoredPasswords;
  /**
   * The connect timer each link gets (connect-deadline.ts: the server link's TLS handshake or plain
   * connect timer; none on P2P links). None at all: the kernel's give-up only.
   */
  readonly connectTimerOf?: ConnectTimerOf;
}

/** How a sendFile step sends: plain, cancelled after a while, or hostile (see HostileWire). */
export interface SendFileOptions {
  readonly cancelAfterMs?: number | undefined;
  readonly name?: string | undefined;
  readonly declaredBytes?: number | undefined;
  readonly wrongDigest?: boolean | undefined;
  readonly stall?: boolean | undefined;
}

/** A quit typed and not yet done (PeerMachineDriver.quit). */
interface QuitStep {
  readonly done: (outcome: StepOutcome) => void;
  /** When the quit reached the machine (null while it waits in the command queue): QUIT_LOGOUT_WAIT_MS runs from here. */
  handedAtMs: number | null;
  /** Logged in on a live link when the quit reached the machine: the program sends a logout and waits for its answer. */
  loggedIn: boolean;
  /** The outcome of the logout typed just before (logoutFirst), once it came. */
  logoutOutcome: string | null;
  /** The server answered the logout (logout.ok, or an error), or the server link dropped: nothing left to wait for. */
  waitOver: boolean;
}

/**
 * A command typed and waiting in the command queue (PeerMachineDriver.queue), by the command the
 * queue holds: a step's command (its ledger entry), one the driver gives on its own (`own`:
 * friend.accept or friend.decline, chat.answer, file.cancel; no entry stands for it), or the quit.
 */
type Typed = { readonly entry: LedgerEntry; readonly command: PeerCommand } | { readonly own: PeerCommand } | { readonly quit: QuitStep };

/**
 * The tag of a quit by signal (see PeerMachineDriver.quit), which goes to the machine past the
 * command queue: the queue's own tags start at 1, so none of them is this one. The headless client
 * gives it none; the driver tags it so that the ledger takes what its logout is answered as the
 * quit's (UNTRACKED_REF), as it does for a typed quit's.
 */
const SIGNAL_TAG = 0;

/** A quit's exit may come this much past QUIT_LOGOUT_WAIT_MS: the timer's own instant, nothing more. */
const QUIT_EXIT_SLACK_MS = 1;

export class PeerMachineDriver implements PeerDriver {
  readonly username: string;
  readonly presenceView = new Map<string, PresenceStatus>();
  alive = true;
  /** This incarnation's host, machine and files (a restart makes new ones, as a new process would). */
  private host!: PeerHost;
  /** This incarnation's P2P tickets (peer-tickets.ts). */
  private tickets!: PeerTickets;
  private files!: SimFiles;
  private scope = new Scope();
  /** This incarnation's clock: its timers vanish with the scope when the process crashes. */
  private clock!: Clock;
  private silent = false;
  /** The password of this process's last login that succeeded (a changePassword's old one). */
  private password: string | null = null;
  /** The user's quit, until the program exits (see `quit`). */
  private quitStep: QuitStep | null = null;
  private truth = false;
  private incarnation = 0;
  /** Every command a step gave this incarnation, matched to its outcome (request-ledger.ts). */
  private ledger!: RequestLedger;
  /** What the world told this incarnation about each session request, for chat-failed-cause. */
  private causes!: SessionCauses;
  /** How soon this incarnation came back to the server each time its link dropped, for reconnect-backoff. */
  private pacing!: ReconnectPacing;
  /** This incarnation's password changes, logins and resumes, for password-truth. */
  private passwords!: PasswordTruth;
  /** The ledger entry of the password change awaiting its answer, and the detail of its error. */
  private passwordChange: { seq: number; detail?: string } | null = null;
  /**
   * The request ids of the logins the client sent on its own (taking its login back), until
   * answered: the refusal of the last one is how the client tells its user the login ended
   * (server-link.ts, relogin-refused), an error no command of theirs asked for and no stray.
   */
  private ownLogins = new Set<number>();
  /** What this incarnation told its user of its server link's outages, for outage-reported. */
  private outages!: OutageReports;
  /**
   * The session requests, answers and withdrawals this incarnation sent, by request id (no-stray-error:
   * the broker answers for every reply to them), the latest SESSION_IDS_REMEMBERED_MAX.
   */
  private sessionIds = new Map<number, string>();
  /** The server's error replies to them the machine is about to hear (from the frame tap). */
  private sessionReplyErrors: Array<{ readonly code: string; readonly re: number; readonly type: string }> = [];
  private answerPolicy: AnswerPolicy = 'accept';
  private answerDelayMs: () => number = () => 0;
  private nextFile = 1;
  /** SHA-256 of the files this user sent, by name, until their file.offered (a refused send never gets one: bounded). */
  private readonly offeredSha256 = new Map<string, string>();
  private outgoing = new Set<string>();
  /**
   * Friends whose chat this incarnation's machine has open, as the driver last saw it: a
   * chat.opened for one of them announces the open session again (a chat.open typed with the
   * session already open, a crossing's older stream closed) and opens none. Closes are read from
   * the machine's open sessions at each settle (observer.onChatOpenChanged).
   */
  private chatsOpen = new Set<string>();
  /**
   * The headless client's command queue (cli/client/command-queue.ts), which every front end
   * types through, fed as cli/client/headless.ts feeds it: every command this user types (a step's,
   * the driver's own answers, the quit) goes in, and runs on the machine (`run`) when the queue
   * says: after the machine's `ready`, never while a server connection is being made, one at a time
   * behind the account command holding the server lane and the chat.open holding its friend's
   * lane, the quit once everything before it has run and been answered. The machine's events go
   * back to it (with the tag they carry), and it pumps after each, at each settle and at its own
   * deadlines (COMMAND_ANSWER_WAIT_MS). One per incarnation, as one per process. Until 2026-12-07
   * the driver modelled part of it by hand (the server lane, the hold while a connection is being
   * made, one-at-a-time hand-over) and not the per-friend lanes: a chat.send typed behind a
   * chat.open to the same friend reached the machine before the session opened.
   */
  private queue!: CommandQueue;
  /** The commands in the queue, by the object pushed (the queue hands the same one to `run`). */
  private waiting = new Map<UserCommand, Typed>();
  /**
   * The ref the ledger knows each queue tag by (the machine tags the events answering a command
   * with the queue's tag): its entry's seq, or UNTRACKED_REF for the driver's own commands and the
   * quit (request-ledger.ts). The latest COMMAND_REFS_REMEMBERED_MAX, as the queue's own refs.
   */
  private ledgerRefs = new Map<number, number>();
  /** The queue's deadline a timer is set for (see `pumpQueue`), or null. */
  private queueDeadlineMs: number | null = null;
  /** How incoming friend requests are answered (the answerFriends step); `friendsAccepted` are accepted anyway. */
  private friendPolicy: 'accept' | 'decline' | 'ignore' = 'accept';
  private friendsAccepted: ReadonlySet<string> = new Set();
  /** The transport the host runs over: the network's, or a hostile client's rewriting one. */
  private readonly transport: Transport;
  private readonly hostileWire: HostileWire | null;

  constructor(private readonly options: PeerMachineDriverOptions) {
    this.username = options.username;
    this.hostileWire = options.hostileOffers === true ? new HostileWire(options.transport, SERVER_ADDRESS, options.sizeLies ?? null) : null;
    this.transport = this.hostileWire ?? options.transport;
    this.boot();
  }

  get truthOnline(): boolean {
    return this.truth;
  }

  private get machine(): PeerMachine {
    return this.host.machine;
  }

  private boot(): void {
    this.incarnation += 1;
    this.ledger = new RequestLedger({
      onOutcomeAfterEnd: (entry, event) => this.options.observer.onOutcomeAfterEnd?.(this, `${entry.kind}#${entry.seq}`, entry.outcome ?? '', event.event === 'error' ? event.code : event.event),
      onUnattributed: (event) => this.options.observer.onUnattributedOutcome?.(this, event.event === 'error' ? event.code : event.event),
    });
    this.sessionIds = new Map();
    this.sessionReplyErrors = [];
    const stored = this.options.storedPasswords ?? { holds: () => false };
    this.passwords = new PasswordTruth(this.username, stored, (detail) => {
      if (this.options.storedPasswords !== undefined) this.options.observer.violate?.('password-truth', detail);
    });
    this.passwordChange = null;
    this.ownLogins = new Set();
    this.causes = new SessionCauses(this.username, (detail) => this.options.observer.violate?.('chat-failed-cause', detail), {
      violateAsked: (detail) => this.options.observer.violate?.('asked-once', detail),
      violateLate: (detail) => this.options.observer.violate?.('ends-by-deadline', detail),
      // On this incarnation's scoped clock, after this.clock is set below: a frozen (silent) client ends nothing.
      // A timer is set on the clock's rate when set: a clock fault that slows the clock later makes
      // it fire before its time on this clock, and the check waits again, as the client's own
      // timers do (a swarm of cluster-three-nodes.yaml, root seed 2801, judged a request 923 ms
      // before its deadline after a -3.7 % drift).
      checkAt: (atMs, check) => {
        const arm = (): void => {
          this.clock.at(atMs, () => {
            if (this.silent) return;
            const nowMs = this.clock.nowMs();
            if (nowMs < atMs) return arm();
            check(nowMs);
          });
        };
        arm();
      },
    });
    const pacing = new ReconnectPacing(this.username, (detail) => this.options.observer.violate?.('reconnect-backoff', detail));
    this.pacing = pacing;
    const outages = new OutageReports(this.username, (detail) => this.options.observer.violate?.('outage-reported', detail));
    this.outages = outages;
    this.scope = new Scope();
    this.clock = this.options.clock.scoped(this.scope, this.options.clockRate ?? null);
    const machine = new PeerMachine({
      serverHost: SERVER_ADDRESS,
      serverPort: SERVER_PORT,
      autoAcceptChat: false,
      autoAcceptFile: true,
      fileBytesMax: SIM_FILE_BYTES_MAX,
      jitterSeed: this.options.prng.nextU32(),
      idPrefix: `p${this.options.index}i${this.incarnation}t`,
      p2pAdvertiseHost: this.options.address,
      identity: this.options.identity ?? null,
    });
    this.files = new SimFiles(this.clock, this.username, this.options.p2p, this.options.planted ?? null);
    const address = this.options.address;
    const connectTimerOf = this.options.connectTimerOf;
    const observer = this.options.observer;
    // The caller's TLS tickets, in this incarnation's memory (peer-tickets.ts).
    const tickets = new PeerTickets(this.transport, this.clock, { onHandshake: (resumed) => observer.onCounter(resumed ? 'p2p_handshakes_resumed' : 'p2p_handshakes_full') });
    this.tickets = tickets;
    this.host = new PeerHost({
      machine,
      // The connect timers run in the process, on its clock: new ones for each incarnation.
      transport: connectTimerOf === undefined ? tickets : new ConnectDeadline(tickets, this.clock, connectTimerOf),
      clock: this.clock,
      files: this.files,
      // Stand-in sealed boxes (sim-sealer.ts): the protocol of offline messages without real crypto.
      ...(this.options.identity == null ? {} : { sealer: simSealer(this.options.identity.sealKey) }),
      sink: {
        onEvent: (event, ref) => this.onEvent(event, ref),
        onExit: () => this.onExited(),
        onSettled: () => {
          this.updateTruth();
          if (this.chatsOpen.size > 0) this.noteChatsClosed(machine.openSessions());
          // A server link that came up releases the commands waiting for it (as headless.ts).
          this.pumpQueue();
          this.causes.settled(this.clock.nowMs());
          pacing.settled(machine.linkState, this.clock.nowMs());
          outages.settled(machine.linkState);
        },
      },
      hooks: {
        localAddressOf: () => address,
        // A server link that ended (its stream closed, or the machine closed it): requests it carried unacknowledged end server-unavailable.
        onNote: (note) => {
          if (note.event === 'server.connected') pacing.linkOpened();
          if (note.event === 'server.closed') this.causes.linkLost();
          if (note.event === 'server.closed' && this.quitStep !== null) this.quitStep.waitOver = true;
        },
        onEffect: (effect) => {
          if (effect.type === 'server.connect') {
            const rate = this.options.clockRate ?? null;
            pacing.connecting({ nowMs: this.clock.nowMs(), clockTrue: rate === null || rate.identity, pausedUntilMs: this.scope.pausedUntilMs });
          }
          if (effect.type === 'server.close') this.causes.linkLost();
          if (effect.type === 'server.send') this.noteCredentialsSent(effect.frame);
          // A password login (not a resume): the server's request ids from here name a new login's requests.
          if (effect.type === 'server.send' && effect.frame.type === 'login') this.causes.passwordLoginSent();
          if (effect.type === 'server.send' && SESSION_REQUEST_TYPES.has(effect.frame.type) && 'id' in effect.frame && typeof effect.frame.id === 'number') this.noteSessionId(effect.frame.id, effect.frame.type);
        },
      },
    });
    const host = this.host;
    const queue: CommandQueue = new CommandQueue({
      run: (command, tag): void => this.run(queue, command, tag),
      // Only QUEUE_FULL (the driver types no line that fails to parse): the command's answer.
      refuse: (code, message, ref) => this.ledger.onEvent({ event: 'error', code: code as ErrorCode, message }, typeof ref === 'number' ? ref : UNTRACKED_REF),
      serverLinkComing: () => host.machine.serverLinkComing,
      nowMs: () => this.clock.nowMs(),
    });
    this.queue = queue;
    this.waiting = new Map();
    this.ledgerRefs = new Map();
    this.queueDeadlineMs = null;
    this.host.listen(address, P2P_PORT, (result) => {
      if (result instanceof Error) throw result;
    });
  }

  // ---- steps ------------------------------------------------------------------------------------

  signup(password: string, done: (outcome: StepOutcome) => void): void {
    this.command('signup', null, { cmd: 'signup', username: this.username, password }, done);
  }

  login(password: string, done: (outcome: StepOutcome) => void): void {
    const passwords = this.passwords;
    passwords.loginTyped();
    this.command('login', null, { cmd: 'login', username: this.username, password }, (outcome) => {
      passwords.loginAnswered(password, outcome);
      if (outcome === 'ok') this.password = password;
      done(outcome);
    });
  }

  /**
   * account.password from the password of the last login that succeeded (this process's) to `to`.
   * `ok` once the server changed it (account.updated), also when the link dropped before the answer
   * and taking the login back found the new password in force (server-link.ts `relogin`); the
   * machine's SERVER_UNAVAILABLE when the old one still works, or nobody can tell. `old`: typed
   * instead (a wrong one: the server refuses the change).
   */
  changePassword(to: string, done: (outcome: StepOutcome) => void, old?: string): void {
    if (!this.machine.loggedIn || this.password === null) return done('NOT_LOGGED_IN');
    if (!this.alive || this.silent) return done('NOT_CONNECTED');
    const passwords = this.passwords;
    passwords.changeTyped(to);
    const entry = this.ledger.add('account.password', null, null, (outcome) => {
      if (this.passwordChange?.seq === entry.seq) this.passwordChange = null;
      passwords.changeAnswered(outcome, change.detail);
      if (outcome === 'ok') this.password = to;
      done(outcome);
    });
    const change: { seq: number; detail?: string } = { seq: entry.seq };
    this.passwordChange = change;
    this.send(entry, { cmd: 'account.password', old: old ?? this.password, new: to });
  }

  /** What the password-truth checker reads of the frames the client sends: its own logins and resumes. */
  private noteCredentialsSent(frame: { readonly type: string }): void {
    if (frame.type === 'login' && 'password' in frame && typeof frame.password === 'string' && this.passwords.loginSent(frame.password) && 'id' in frame && typeof frame.id === 'number') {
      this.ownLogins.add(frame.id);
      if (this.ownLogins.size > OWN_LOGINS_REMEMBERED_MAX) this.ownLogins.delete(this.ownLogins.values().next().value as number);
    }
    if (frame.type === 'resume' && 'token' in frame && typeof frame.token === 'string') this.passwords.resumeSent(frame.token);
  }

  /**
   * The user's logout. Typed while the link is down holding its login, or while its resume is on
   * its way (the machine's `username` is set: a login to take back), it goes to the machine too, as
   * a user would type it during a reconnect: the client ends the login itself (`logout.ok` with a
   * detail). Until 2026-12-07 such a logout ended here `NOT_LOGGED_IN` without reaching the
   * machine, so the link's take-back logout (server-link.ts `logout`) was never run by a scenario.
   */
  logout(done: (outcome: StepOutcome) => void): void {
    this.typeLogout(done);
  }

  /** The logout typed (see `logout`): its ledger entry, or null when it was answered at once. */
  private typeLogout(done: (outcome: StepOutcome) => void): LedgerEntry | null {
    const holdsLogin = this.machine.loggedIn || this.machine.username !== null;
    if (!holdsLogin) {
      done('NOT_LOGGED_IN');
      return null;
    }
    // Only a logout the client sends (logged in on a live link) is one the server must answer.
    if (this.machine.loggedIn) this.options.observer.onLogoutSent(this);
    const causes = this.causes;
    causes.logoutTyped();
    this.setTruth(false);
    return this.command('logout', null, { cmd: 'logout' }, (outcome) => {
      if (outcome !== 'ok') causes.logoutRefused();
      done(outcome);
    });
  }

  friendRequest(username: string, done: (outcome: StepOutcome) => void): void {
    this.command('friend.request', username, { cmd: 'friend.request', username }, done);
  }

  sessionRequest(username: string, done: (outcome: SessionOutcome) => void): void {
    if (!this.machine.loggedIn) return done('NOT_LOGGED_IN');
    this.options.observer.onCounter('session_requests');
    this.outgoing.add(username);
    this.options.observer.onSessionPending(this, `${this.username}>${username}`, username, this.options.sessionTimeoutMs);
    const causes = this.causes;
    const request = causes.chatOpen(username, this.clock.nowMs());
    this.command('chat.open', username, { cmd: 'chat.open', username }, (outcome) => {
      // An error code answers the command itself (NOT_LOGGED_IN, QUEUE_FULL, ...): no request went out.
      if (request !== null && ERROR_OUTCOME.test(outcome)) causes.refused(request);
      this.outgoing.delete(username);
      done(outcome);
    });
  }

  /** Sends `count` messages over the open session; ends when each has its own outcome (the first failure, else ok). */
  chat(username: string, count: number, done: (outcome: StepOutcome) => void): void {
    if (!this.alive || this.silent) return done('NOT_CONNECTED');
    let left = count;
    let failure: string | null = null;
    const base = `${this.options.index}-${this.incarnation}-${this.nextFile++}`;
    const settle = (outcome: string): void => {
      if (outcome !== 'ok' && failure === null) failure = outcome;
      left -= 1;
      if (left === 0) done(failure ?? 'ok');
    };
    for (let i = 0; i < count; i++) {
      const text = `m${base}-${i}`;
      this.options.p2p.onChatSent(this.username, username, text);
      // With no session open it goes to the friend's mailbox instead: the mail checker judges it then.
      this.options.p2p.onMailSent?.(this.username, username, text);
      const entry = this.ledger.add('chat.send', username, text, settle);
      this.send(entry, { cmd: 'chat.send', username, text, id: text });
    }
  }

  /** Sends `count` messages with no session open; ends when each is held by the server (chat.queued), or at the first failure. */
  sendOffline(username: string, count: number, done: (outcome: StepOutcome) => void): void {
    if (!this.alive || this.silent) return done('NOT_CONNECTED');
    let left = count;
    let failure: string | null = null;
    const base = `${this.options.index}-${this.incarnation}-${this.nextFile++}`;
    const settle = (outcome: string): void => {
      if (outcome !== 'queued' && failure === null) failure = outcome;
      left -= 1;
      if (left === 0) done(failure ?? 'ok');
    };
    for (let i = 0; i < count; i++) {
      const text = `o${base}-${i}`;
      this.options.p2p.onMailSent?.(this.username, username, text);
      const entry = this.ledger.add('chat.send', username, text, settle);
      this.send(entry, { cmd: 'chat.send', username, text, id: text });
    }
  }

  sendFile(username: string, bytes: number, done: (outcome: StepOutcome) => void, options: SendFileOptions = {}): void {
    if (!this.alive || this.silent) return done('NOT_CONNECTED');
    const n = this.nextFile++;
    const path = `sim:${this.username}:${this.incarnation}:${n}`;
    const size = Math.min(bytes, SIM_FILE_BYTES_MAX);
    const file: PreparedFile = { path, name: `file-${n}.bin`, size };
    // The truth the checker compares the received bytes with: the offer no longer carries a digest.
    this.offeredSha256.set(file.name, sha256Hex(syntheticBytes(path, 0, size)));
    if (this.offeredSha256.size > OFFERED_SHA256_REMEMBERED_MAX) {
      const oldest = this.offeredSha256.keys().next().value;
      if (oldest !== undefined) this.offeredSha256.delete(oldest);
    }
    if (isHostileSend(options)) {
      if (this.hostileWire === null) throw new Error(`${this.username}: a hostile sendFile needs the hostile wire (hostileOffers)`);
      this.hostileWire.rewriteOffer(file.name, options);
    }
    // A hoarder does not wait for a transfer it never means to finish: its step ends once the offer is out.
    const hoarding = options.stall === true;
    const entry = this.ledger.add('file.send', username, null, hoarding ? () => {} : done);
    this.send(entry, { cmd: 'file.send', username, files: [file] });
    if (hoarding) this.clock.at(this.clock.nowMs(), () => done('offered'));
    const cancelAfterMs = options.cancelAfterMs;
    if (cancelAfterMs === undefined) return;
    const ledger = this.ledger;
    this.clock.at(this.clock.nowMs() + cancelAfterMs, () => {
      // Too late (it ended) or too early (never offered): nothing to cancel, as a user would see.
      if (entry.outcome !== null || entry.transferId === null || ledger !== this.ledger) return;
      ledger.noteCancel(entry.transferId);
      this.typeOwn({ cmd: 'file.cancel', transferId: entry.transferId });
    });
  }

  /** Ends the friendship with `username` (friend.remove); ok once the server confirms it. */
  unfriend(username: string, done: (outcome: StepOutcome) => void): void {
    this.command('friend.remove', username, { cmd: 'friend.remove', username }, done);
  }

  setFriendPolicy(policy: 'accept' | 'decline' | 'ignore', accepted: readonly string[]): void {
    this.friendPolicy = policy;
    this.friendsAccepted = new Set(accepted);
  }

  setAnswerPolicy(policy: AnswerPolicy, delayMs: () => number): void {
    this.answerPolicy = policy;
    this.answerDelayMs = delayMs;
  }

  goSilent(): void {
    this.setTruth(false);
    this.silent = true;
    this.host.freeze();
  }

  crash(): void {
    if (!this.alive) return;
    this.setTruth(false);
    this.alive = false;
    this.scope.kill();
    this.host.abort();
    this.noteChatsClosed([]);
    this.presenceView.clear();
    this.options.observer.onViewReset(this);
    this.ledger.endAll('CRASHED');
    const quit = this.quitStep;
    this.quitStep = null;
    quit?.done('CRASHED');
  }

  /**
   * The user quits the program (the machine's `quit`, as /quit in cli/client/). The quit goes into
   * the command queue like any command, and the queue runs it once everything typed before it has
   * run and been answered (no lane held), and the messages and transfers the user's commands
   * started have been acknowledged or ended (at most COMMAND_ANSWER_WAIT_MS of silence), as the
   * headless client does (docs/CLIENT.md): a logout typed just before it during a reconnect takes
   * the login back first. From when the quit reaches the machine, the program must exit (the
   * machine's `exit` effect): at once when it holds no login on a live link, else once the server
   * answers the logout quit sends, and at the latest QUIT_LOGOUT_WAIT_MS later when no answer comes
   * (server-link.ts `quit`). `logoutFirst`: the user typed a logout just before; the quit waits for
   * its answer, as behind any account command (the queue's server lane), so the program holds no
   * login by then and exits at once. (Until 2026-12-07 the driver let this one quit past the logout
   * typed before it, to reach the machine's quit behind an unanswered logout; the shipped client
   * never does that with a typed quit.) `signal`: the user ends the program with a signal (Ctrl-C,
   * SIGTERM) instead, which headless.ts hands the machine at once, past the queue and whatever
   * waits there (its onSignal): behind `logoutFirst`, it reaches the machine while that logout
   * awaits its answer, and the program exits once it comes (server-link.ts `quit` in
   * ExpectLogoutOk). Delivered in an event of its own on the process's clock, after what was typed
   * before it, as a signal is to a running process.
   * Outcome: `ok`; `QUIT_LATE` when the program exited later than that bound (not judged when this
   * process was paused meanwhile: its timers fire late; nor when a clock fault touched its clock);
   * `QUIT_EARLY` when, logged in, it exited before the bound with neither an answer to its logout nor
   * its link dropped; else the logout's own outcome when it was answered otherwise than `ok`. A
   * program that never exits leaves the step pending (steps-finish).
   */
  quit(logoutFirst: boolean, done: (outcome: StepOutcome) => void, signal = false): void {
    if (!this.alive || this.silent || this.quitStep !== null) return done('NOT_CONNECTED');
    // The logout's outcome, kept for the step once it exists (a logout refused at once answers before).
    const logoutAnswer: { outcome: string | null; step: QuitStep | null } = { outcome: null, step: null };
    if (logoutFirst) {
      this.typeLogout((outcome) => {
        logoutAnswer.outcome = outcome;
        if (logoutAnswer.step !== null) logoutAnswer.step.logoutOutcome = outcome;
      });
    }
    const step: QuitStep = { done, handedAtMs: null, loggedIn: false, logoutOutcome: logoutAnswer.outcome, waitOver: false };
    logoutAnswer.step = step;
    this.quitStep = step;
    this.causes.logoutTyped();
    this.setTruth(false);
    if (!signal) return this.type({ quit: step }, { cmd: 'quit' }, undefined);
    this.clock.at(this.clock.nowMs(), () => {
      if (this.quitStep !== step) return;
      step.handedAtMs = this.clock.nowMs();
      step.loggedIn = this.machine.loggedIn;
      this.host.input({ type: 'command', command: { cmd: 'quit' }, ref: SIGNAL_TAG });
    });
  }

  /** The program exited (after a quit): the process is gone; its quit step ends (see `quit`). */
  private onExited(): void {
    const step = this.quitStep;
    this.quitStep = null;
    const handedAtMs = step?.handedAtMs ?? this.clock.nowMs();
    const elapsedMs = this.clock.nowMs() - handedAtMs;
    const paused = this.scope.pausedUntilMs > handedAtMs;
    this.setTruth(false);
    this.alive = false;
    this.scope.kill();
    this.noteChatsClosed([]);
    this.presenceView.clear();
    this.options.observer.onViewReset(this);
    if (step === null) {
      // Only a quit ends the program: exiting on its own (a logout whose link dropped taken for a
      // quit, say) leaves the user's steps unanswered and the user gone against their will.
      this.options.observer.violate?.('liveness', `${this.username}'s program exited though the user never quit`);
      this.ledger.endAll('EXITED');
      return;
    }
    const logoutOutcome = step.logoutOutcome;
    this.ledger.endAll('EXITED');
    // Not judged either on a clock a fault stepped or drifted: the wait read on it is not the wait
    // the program's timer measured (a swarm stepped Erin's clock 578 ms forward during her quit's wait).
    const rate = this.options.clockRate ?? null;
    const clockTrue = rate === null || rate.identity;
    if (!paused && clockTrue && elapsedMs > QUIT_LOGOUT_WAIT_MS + QUIT_EXIT_SLACK_MS) return step.done('QUIT_LATE');
    // Logged in, the program waits for the logout's answer (up to the bound) unless its link drops.
    if (step.loggedIn && !step.waitOver && elapsedMs < QUIT_LOGOUT_WAIT_MS) return step.done('QUIT_EARLY');
    step.done(logoutOutcome === null || logoutOutcome === 'ok' ? 'ok' : logoutOutcome);
  }

  /** Work that should have ended by now (for the liveness check), or null. */
  unfinishedWork(): string | null {
    if (!this.alive || this.silent) return null;
    const transfers = this.machine.transferCount();
    const requests = this.machine.sessionRequestCount;
    // Kept for replies: a count left at the end is bookkeeping for replies that will never come.
    const awaiting = this.machine.requestsAwaitingReply;
    const open = [
      transfers === 0 ? null : `${transfers} file transfers`,
      requests === 0 ? null : `${requests} session requests`,
      awaiting === 0 ? null : `${awaiting} requests awaiting the server's reply`,
    ].filter((s) => s !== null);
    // An outage told and never ended: the user is shown "reconnecting" for good (outage-reported).
    const unfinished = [this.outages.unfinished(), open.length === 0 ? null : `${open.join(' and ')} still open`].filter((s) => s !== null);
    return unfinished.length === 0 ? null : unfinished.join('; ');
  }

  /** The process stops until `untilMs`: its timers wait (the network holds what reaches it). */
  pause(untilMs: number): void {
    this.scope.pausedUntilMs = Math.max(this.scope.pausedUntilMs, untilMs);
  }

  restart(): void {
    if (this.alive) return;
    this.alive = true;
    this.silent = false;
    this.boot();
  }

  // ---- commands to the machine ----------------------------------------------------------------------

  private command(kind: EntryKind, username: string | null, command: PeerCommand, done: (outcome: string) => void): LedgerEntry | null {
    if (!this.alive || this.silent) {
      done('NOT_CONNECTED');
      return null;
    }
    const entry = this.ledger.add(kind, username, null, done);
    this.send(entry, command);
    return entry;
  }

  /** A step's command, typed into the command queue (see `queue`) with its entry's seq as its ref. */
  private send(entry: LedgerEntry, command: PeerCommand): void {
    this.type({ entry, command }, command, entry.seq);
  }

  /**
   * A command the driver gives on its own, as its user would type it (friend.accept on a friend
   * request, chat.answer after the answer's delay, file.cancel): into the same queue, behind what
   * was typed before it.
   */
  private typeOwn(command: PeerCommand): void {
    this.type({ own: command }, command, undefined);
  }

  /**
   * Types a command into the queue, as headless.ts pushes a line and pumps: read by the process
   * in an event of its own on its clock, in the order typed, so a process that is paused reads
   * it when it runs again (a logout typed during a pause reaches the machine after what the
   * process hears first when it resumes). The queue holds commands, not prepared files: a
   * file.send goes in with its path, and `run` hands the machine the file the step prepared (the
   * headless runtime measures it there; here it is known at once, so it holds its friend's lane no
   * longer than that).
   */
  private type(item: Typed, command: PeerCommand, ref: CommandRef | undefined): void {
    const typed: UserCommand = command.cmd === 'file.send' ? { cmd: 'file.send', username: command.username, paths: command.files.map((file) => file.path) } : command;
    const queue = this.queue;
    this.waiting.set(typed, item);
    this.clock.at(this.clock.nowMs(), () => {
      if (queue !== this.queue) return;
      queue.push({ kind: 'command', command: typed, ref }, this.clock.nowMs());
      this.pumpQueue();
    });
  }

  /**
   * The queue's port `run`: a command's turn came; it goes to the machine with the queue's tag as
   * its ref, so that the events answering it come back with it (to the queue, and by its ledger ref
   * to the ledger).
   */
  private run(queue: CommandQueue, typed: UserCommand, tag: number): void {
    const item = this.waiting.get(typed);
    if (queue !== this.queue || item === undefined) return;
    this.waiting.delete(typed);
    this.ledgerRefs.set(tag, 'entry' in item ? item.entry.seq : UNTRACKED_REF);
    if (this.ledgerRefs.size > COMMAND_REFS_REMEMBERED_MAX) this.ledgerRefs.delete(this.ledgerRefs.keys().next().value as number);
    if ('quit' in item) {
      const step = item.quit;
      step.handedAtMs = this.clock.nowMs();
      step.loggedIn = this.machine.loggedIn;
      return this.host.input({ type: 'command', command: { cmd: 'quit' }, ref: tag });
    }
    const command = 'own' in item ? item.own : item.command;
    if ('entry' in item) this.ledger.reached(item.entry);
    if (command.cmd !== 'chat.open') return this.host.input({ type: 'command', command, ref: tag });
    this.causes.chatOpenInput(command.username);
    this.host.input({ type: 'command', command, ref: tag });
    this.causes.chatOpenInputDone();
  }

  /**
   * Runs what the queue lets run now, and sets a timer for its next deadline (a lane held past
   * COMMAND_ANSWER_WAIT_MS, a quit that waited that long for silent transfers), as headless.ts
   * pumps after each line typed, each event and each settle, and at that deadline.
   */
  private pumpQueue(): void {
    const queue = this.queue;
    queue.pump(this.clock.nowMs());
    const dueMs = queue.nextDeadlineMs();
    if (dueMs === null || (this.queueDeadlineMs !== null && this.queueDeadlineMs <= dueMs)) return;
    this.queueDeadlineMs = dueMs;
    this.clock.at(dueMs, () => {
      if (queue !== this.queue) return;
      if (this.queueDeadlineMs === dueMs) this.queueDeadlineMs = null;
      this.pumpQueue();
    });
  }

  /** From the frame tap: the server frames this peer's machine is about to hear (errors pushed unasked are nobody's outcome). */
  onServerFrames(messages: readonly WireMessage[]): void {
    if (this.alive) this.causes.serverFrames(messages, this.clock.nowMs());
    const pushedErrors: string[] = [];
    for (const message of messages) {
      // The resume tokens the server hands this client, for password-truth.
      if ((message.type === 'login.ok' || message.type === 'account.updated') && typeof message.resumeToken === 'string') this.passwords.tokenGiven(message.resumeToken);
      const ownLogin = typeof message.re === 'number' && this.ownLogins.delete(message.re);
      if (message.type !== 'error' || typeof message.code !== 'string') continue;
      if (typeof message.re !== 'number' || ownLogin) pushedErrors.push(message.code);
      else {
        const type = this.sessionIds.get(message.re);
        if (type !== undefined) this.sessionReplyErrors.push({ code: message.code, re: message.re, type });
      }
    }
    this.ledger.onPushedErrorsHeard(pushedErrors);
  }

  onServerFramesHandled(): void {
    this.ledger.onServerFramesHandled();
    const replies = this.sessionReplyErrors;
    // TEST-ONLY: a machine that also tells its user the server's errors answering its session frames.
    if (replies.length > 0 && this.options.planted?.has('show-session-replies') === true) {
      for (const reply of replies) this.onEvent({ event: 'error', code: reply.code as ErrorCode, message: 'planted: the server refused a session frame' }, undefined);
    }
    this.sessionReplyErrors = [];
  }

  private noteSessionId(id: number, type: string): void {
    this.sessionIds.set(id, type);
    if (this.sessionIds.size > SESSION_IDS_REMEMBERED_MAX) {
      const oldest = this.sessionIds.keys().next().value;
      if (oldest !== undefined) this.sessionIds.delete(oldest);
    }
  }

  /** The chats open no more: all but `stillOpen` (the machine's open sessions; none once the process is gone). */
  private noteChatsClosed(stillOpen: readonly string[]): void {
    for (const friend of [...this.chatsOpen]) {
      if (stillOpen.includes(friend)) continue;
      this.chatsOpen.delete(friend);
      this.options.observer.onChatOpenChanged?.(this, friend, false);
    }
  }

  // ---- events -------------------------------------------------------------------------------------

  private onEvent(emitted: ClientEvent, tag: number | undefined): void {
    const observer = this.options.observer;
    const event = this.asPlanted(emitted);
    if (event === null) return;
    this.tickets.onEvent(event);
    // The queue hears every event first (it frees lanes, counts messages), as in headless.ts, and
    // pumps after the driver has heard it: the answer before the commands it releases.
    this.queue.onEvent(event, tag);
    const ref = tag === undefined ? undefined : tag === SIGNAL_TAG ? UNTRACKED_REF : this.ledgerRefs.get(tag);
    switch (event.event) {
      case 'login.ok':
      case 'friends':
        if (event.event === 'login.ok') this.pacing.loggedIn();
        this.presenceView.clear();
        for (const friend of event.friends) this.presenceView.set(friend.username, friend.status);
        observer.onViewReset(this);
        this.setTruth(true);
        break;
      case 'logout.ok':
        if (this.quitStep !== null) this.quitStep.waitOver = true;
        this.presenceView.clear();
        observer.onViewReset(this);
        // The client ended the login itself, the server out of reach (its logout.ok has no detail).
        if (event.detail !== undefined) observer.onLogoutEndedHere(this);
        else observer.onLogoutAnswered?.(this);
        break;
      case 'presence':
        this.presenceView.set(event.username, event.status);
        observer.onPresenceView(this, event.username, event.status);
        break;
      case 'friend.added':
        this.presenceView.set(event.username, event.status);
        observer.onPresenceView(this, event.username, event.status);
        break;
      case 'friend.removed':
        this.presenceView.delete(event.username);
        observer.onPresenceView(this, event.username, null);
        break;
      case 'friend.request': {
        const policy = this.friendsAccepted.has(event.from) ? 'accept' : this.friendPolicy;
        if (policy !== 'ignore') this.typeOwn({ cmd: policy === 'accept' ? 'friend.accept' : 'friend.decline', username: event.from });
        break;
      }
      case 'chat.request':
        this.causes.asked(event.from);
        this.onChatRequest(event.from);
        break;
      case 'chat.opened': {
        if (!this.chatsOpen.has(event.username)) {
          this.chatsOpen.add(event.username);
          observer.onChatOpenChanged?.(this, event.username, true);
        }
        const caller = this.outgoing.has(event.username);
        const key = caller ? `${this.username}>${event.username}` : `${event.username}>${this.username}`;
        observer.onSessionEstablished(this, key, caller ? 'caller' : 'callee', event.username);
        this.causes.opened(event.username);
        break;
      }
      case 'chat.failed':
        this.causes.failed(event.username, event.reason, event.incoming === true, this.clock.nowMs());
        // A friend's request ended by a newer one of theirs (the server's word of its end was lost):
        // counted, so a fixture can show the path was reached.
        if (event.incoming === true && event.reason === 'replaced') observer.onCounter('incoming_requests_replaced');
        // `incoming`: the friend's request to us ended, not ours to them (both may be pending).
        if (event.incoming !== true && this.outgoing.has(event.username)) observer.onSessionFailed(this, `${this.username}>${event.username}`, event.username, event.reason);
        break;
      case 'chat.message':
        if (event.offline === true) this.options.p2p.onMailShown?.(this.username, event.from, String(event.id), this.incarnation);
        else this.options.p2p.onChatReceived(this.username, event.from, event.text);
        break;
      case 'chat.queued':
        this.options.p2p.onMailQueued?.(this.username, event.username, String(event.id));
        break;
      case 'file.offer':
        if (this.options.planted?.has('unsafe-download-name') === true) this.files.offeredNames.set(event.transferId, event.offeredName);
        break;
      case 'file.offered':
        this.options.p2p.onFileOffered(this.username, event.transferId, this.offeredSha256.get(event.name) ?? 'unknown', event.size);
        this.offeredSha256.delete(event.name);
        break;
      case 'file.received': {
        this.options.p2p.onFileReported?.(this.username, event.transferId, event.path);
        const written = this.files.take(event.transferId);
        this.options.p2p.onFileReceived(this.username, event.from, event.transferId, event.sha256, written.sha256, event.size, written.bytes);
        break;
      }
      case 'disconnected':
        this.outages.disconnected(this.clock.nowMs());
        observer.onLinkLost(this);
        observer.onCounter('reconnects');
        break;
      case 'reconnected':
        this.outages.reconnected();
        // Back after an outage: logged in again, unless the login was refused on the way.
        if (this.machine.loggedIn) this.pacing.loggedIn();
        break;
      case 'error': {
        if (this.quitStep !== null) this.quitStep.waitOver = true;
        if (event.code === 'HEARTBEAT_TIMEOUT' || event.code === 'LOGGED_IN_ELSEWHERE') this.updateTruth();
        // The password change's answer, read by password-truth (SERVER_UNAVAILABLE says in its detail whether the change happened).
        if (this.passwordChange !== null && ref === this.passwordChange.seq && event.detail !== undefined) this.passwordChange.detail = event.detail;
        // no-stray-error: the server's error answering a session frame of ours is the session
        // broker's to answer (chat.failed) or drop (stale): it is never an error event of its own.
        const reply = hasId(event) ? undefined : this.sessionReplyErrors.find((r) => r.code === event.code);
        if (reply !== undefined) observer.violate?.('no-stray-error', `${this.username} was told error ${event.code}: the server's answer to its ${reply.type} (re ${reply.re}), which the session broker answers with chat.failed or drops as stale`);
        // The client refused a P2P link that proved another key than the friend's (a man in the middle).
        if (event.code === 'PEER_KEY_MISMATCH') observer.onCounter('peer_key_mismatch');
        break;
      }
      default:
        break;
    }
    this.ledger.onEvent(event, ref);
    // TEST-ONLY: a machine that reports a transfer's end twice (the `plant` fault).
    if ((event.event === 'file.sent' || event.event === 'file.failed') && this.options.planted?.has('duplicate-transfer-outcome') === true) this.ledger.onEvent(event, ref);
    this.pumpQueue();
  }

  /** TEST-ONLY: the event as a machine with a planted bug would have told it (the `plant` fault); null: not told at all. */
  private asPlanted(event: ClientEvent): ClientEvent | null {
    const planted = this.options.planted;
    if (event.event !== 'chat.failed' || planted === undefined || planted.size === 0) return event;
    if (planted.has('incoming-replaced-silently') && event.incoming === true && event.reason === 'replaced') return null;
    if (planted.has('p2p-timeout-silent') && event.reason === 'timeout' && this.causes.settingUp(event.username, event.incoming === true)) return null;
    if (planted.has('chat-failed-says-timeout') && event.reason !== 'timeout') return { ...event, reason: 'timeout' };
    if (planted.has('chat-failed-not-incoming') && event.incoming === true) return { event: 'chat.failed', username: event.username, reason: event.reason };
    return event;
  }

  private onChatRequest(from: string): void {
    const policy = this.answerPolicy;
    if (policy === 'ignore') return;
    const accept = policy === 'accept';
    this.clock.at(this.clock.nowMs() + this.answerDelayMs(), () => {
      if (!this.machine.loggedIn || this.silent) return;
      if (!accept) this.causes.answeredNo(from);
      this.options.observer.onSessionAnswer(this, `${from}>${this.username}`, accept);
      this.typeOwn({ cmd: 'chat.answer', username: from, accept });
    });
  }

  /** The truth is "logged in by its own choice": the machine holds an account, alive and speaking. */
  private updateTruth(): void {
    if (!this.truth) return;
    if (this.machine.username === null && !this.silent) this.setTruth(false);
  }

  private setTruth(online: boolean): void {
    if (this.truth === online) return;
    this.truth = online;
    this.options.observer.onTruthChange(this, online);
  }
}

