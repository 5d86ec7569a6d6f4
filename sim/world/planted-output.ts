/**
 * TEST-ONLY planted bugs of the simulator's own (fault kind `plant`, SIM_PLANTED_BUGS): the
 * server's output is rewritten between ServerHost and the wire, as a server with that bug would
 * have sent it, and a careless peer's P2P streams between its machine and the wire (wrapPeer), so
 * each checker can be shown to fire without editing core/. While no bug is planted the server's
 * streams are untouched (the wrapper passes every write straight through).
 *
 * The rewriting decodes the server's control frames (core/codec.ts) per stream and encodes what
 * it sends instead; it also learns which user each stream belongs to from the login.ok it carries
 * (for presence-to-everyone).
 */
import { FrameDecoder, encodeControl } from '../../core/codec.ts';
import { ForwardingStream, type Listener, type Stream, type StreamEvents, type Transport } from '../../core/transport.ts';
import { type ErrorCode, errorMessage } from '../../core/errors.ts';
import type { SimPlantedBug } from '../scenarios/scenario-schema.ts';
import { offeredFiles, ReframingEvents, type SizeLies } from '../drivers/hostile.ts';

interface WireFrame {
  readonly type?: unknown;
  readonly [field: string]: unknown;
}

/**
 * A server stream whose writes pass through PlantedOutput.rewrite while a bug is planted. It is
 * its inner stream's event handler (ForwardingStream): no second object and no arrow literals per
 * stream, because tsx keeps function names with a defineProperty that puts each closure's
 * properties in a dictionary (about 250 bytes a closure, four per connection: a gigabyte at a
 * million peers).
 */
class PlantedStream extends ForwardingStream {
  /** Made at the first write while a bug is planted: most runs plant nothing. */
  private decoder: FrameDecoder | null = null;
  username: string | null = null;
  /** What the peer sent, decoded only while a bug that needs it is planted (lock-out-guessed-user). */
  private inbound: FrameDecoder | null = null;
  /** The username of this stream's latest login attempt. */
  loginAttempt: string | null = null;
  /** keep-open-after-framing-error: the server wrote an error that closes the connection. */
  framingErrorWritten = false;

  constructor(
    inner: Stream,
    readonly output: PlantedOutput,
  ) {
    super(inner);
  }

  override write(bytes: Uint8Array): boolean {
    if (this.output.active.size === 0 && !this.output.watchesSessions) return super.write(bytes);
    const decoder = (this.decoder ??= new FrameDecoder());
    decoder.push(bytes);
    let ok = true;
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind !== 'control') break;
      ok = this.output.rewrite(this, frame.message as WireFrame) && ok;
    }
    return ok;
  }

  /** Writes bytes to the wire as they are, past the planted bugs (PlantedOutput.rewrite's output). */
  writeAsIs(bytes: Uint8Array): boolean {
    return super.write(bytes);
  }

  override onData(bytes: Uint8Array): void {
    if (this.output.active.size > 0) this.heard(bytes);
    if (this.refusing === null && (this.username === null || !this.output.refuses(this.username))) return super.onData(bytes);
    // A session-loss fault refuses this user's session requests: the server hears the rest. Once
    // filtered, the stream stays filtered (a frame may be cut across chunks).
    const decoder = (this.refusing ??= new FrameDecoder());
    decoder.push(bytes);
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind !== 'control') break;
      const message = frame.message as WireFrame;
      if (this.username !== null && this.output.refuse(this, this.username, message)) continue;
      super.onData(encodeControl(message));
    }
  }

  /** What the peer sends, decoded once a session-loss fault refuses its session requests. */
  private refusing: FrameDecoder | null = null;

  override onClose(error: string | null): void {
    this.output.streams.delete(this);
    super.onClose(error);
  }

  /** Bytes the peer sent, before the server reads them. */
  private heard(bytes: Uint8Array): void {
    if (!this.output.active.has('lock-out-guessed-user')) return;
    const decoder = (this.inbound ??= new FrameDecoder());
    decoder.push(bytes);
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind === 'error') break;
      const message = frame.kind === 'control' ? (frame.message as WireFrame) : null;
      if (message?.type === 'login' && typeof message.username === 'string') this.loginAttempt = message.username;
    }
  }

  override close(): void {
    // keep-open-after-framing-error: the close that follows a framing error never happens.
    if (this.framingErrorWritten && this.output.active.has('keep-open-after-framing-error')) return;
    this.output.streams.delete(this);
    super.close();
  }

  override reset(): void {
    this.output.streams.delete(this);
    super.reset();
  }
}

/**
 * trust-sent-size: what reaches a careless receiver over P2P, as its size accounting would have
 * it: it sizes a download by the bytes that come, not by the offer, so an offer whose sender lied
 * about the size (SizeLies, recorded by the sender's hostile wire) reads as declaring the bytes
 * that really follow. The receiving machine then takes them all and reports the file complete.
 */
function trustSentSize(events: StreamEvents, active: ReadonlySet<SimPlantedBug>, lies: SizeLies): StreamEvents {
  return new ReframingEvents(events, (frame) => {
    if (frame.kind !== 'control' || !active.has('trust-sent-size')) return frame;
    const files = offeredFiles(frame.message);
    if (files === null) return frame;
    const trusted = files.map((file) => {
      const lie = lies.of(file.transferId);
      return lie === undefined ? file : { ...file, size: lie.actualBytes };
    });
    return { kind: 'control', message: { ...(frame.message as object), files: trusted } };
  });
}

/** Which careless peer a scenario plants (wrapPeer). */
export interface CarelessPeer {
  /** greet-any-hello: accepted streams' writes pass through CarelessPeerStream. */
  readonly greets: boolean;
  /** trust-sent-size: what P2P streams deliver passes through trustSentSize. */
  readonly trustsSize: boolean;
}

/**
 * The callee's refusals of a hello's token: never issued or used (BAD_SESSION_TOKEN), or issued
 * and expired unused (SESSION_TOKEN_EXPIRED, which a replay of a token the attacker never used gets).
 */
const TOKEN_REFUSALS: ReadonlySet<string> = new Set(['BAD_SESSION_TOKEN', 'SESSION_TOKEN_EXPIRED']);

/**
 * A P2P stream a peer accepted, as a careless peer would handle it. greet-any-hello: the refusal
 * of a hello with a token the callee does not hold (TOKEN_REFUSALS) goes out as hello.ok (the
 * machine still closes the stream after it, as it does after its refusal). trust-sent-size: see
 * trustSentSize.
 */
class CarelessPeerStream extends ForwardingStream {
  private decoder: FrameDecoder | null = null;

  constructor(
    inner: Stream,
    private readonly active: ReadonlySet<SimPlantedBug>,
    private readonly username: string,
    private readonly lies: SizeLies | null,
  ) {
    super(inner);
  }

  override setEvents(events: StreamEvents): void {
    super.setEvents(this.lies === null ? events : trustSentSize(events, this.active, this.lies));
  }

  override write(bytes: Uint8Array): boolean {
    if (!this.active.has('greet-any-hello')) return super.write(bytes);
    const decoder = (this.decoder ??= new FrameDecoder());
    decoder.push(bytes);
    let refusal = false;
    for (;;) {
      const frame = decoder.next();
      if (frame === null || frame.kind === 'error') break;
      const message = frame.kind === 'control' ? (frame.message as WireFrame) : null;
      if (message?.type === 'error' && TOKEN_REFUSALS.has(String(message.code))) refusal = true;
    }
    return super.write(refusal ? encodeControl({ type: 'hello.ok', username: this.username }) : bytes);
  }
}

/** The errors of framing faults after which the server closes the connection (docs/PROTOCOL.md, "Error codes"). */
const FRAMING_ERRORS_THAT_CLOSE: ReadonlySet<string> = new Set(['BAD_VERSION', 'BAD_FRAME_KIND', 'FRAME_TOO_LARGE', 'BAD_JSON']);

/** lock-out-guessed-user: failed logins of one username (from any address) after which its owner is refused. */
const LOCKOUT_FAILURES_PLANTED = 5;

/** A session-loss fault on one user (scenario-schema.ts): what is still to be lost or refused. */
export interface SessionLoss {
  readonly mode: 'drop' | 'refuse';
  /** drop: the server frames lost; refuse: the client frames refused. */
  readonly frames: ReadonlySet<string>;
  left: number;
  readonly code: ErrorCode;
  readonly lateMs: number;
}

/** What a session-loss fault did, for the checkers (a lost outcome excuses a request that ends late). */
export interface SessionLossObserver {
  onSessionOutcomeLost(username: string, frameType: string): void;
  onSessionRequestRefused(username: string, code: string): void;
}

export class PlantedOutput {
  /** Bugs planted right now (a `plant` fault in progress). */
  readonly active = new Set<SimPlantedBug>();
  /**
   * session-loss faults (not a planted bug: a server that loses or refuses outcomes), by target
   * username. While the scenario has one, every frame is read, so each stream learns its user.
   */
  readonly sessionLoss = new Map<string, SessionLoss>();
  watchesSessions = false;
  /** Runs a refusal `lateMs` later (the world's clock). */
  later: (delayMs: number, fn: () => void) => void = (_delayMs, fn) => fn();
  observer: SessionLossObserver | null = null;

  refuses(username: string): boolean {
    const loss = this.sessionLoss.get(username);
    return loss !== undefined && loss.mode === 'refuse' && loss.left > 0;
  }

  /** Refuses a session frame of `username`'s instead of passing it on, if a fault says so. */
  refuse(stream: PlantedStream, username: string, request: WireFrame): boolean {
    const loss = this.sessionLoss.get(username);
    if (loss === undefined || loss.mode !== 'refuse' || loss.left <= 0 || typeof request.type !== 'string' || !loss.frames.has(request.type)) return false;
    loss.left -= 1;
    this.observer?.onSessionRequestRefused(username, loss.code);
    const refusal = encodeControl({ type: 'error', code: loss.code, message: errorMessage(loss.code), ...(typeof request.id === 'number' ? { re: request.id } : {}) });
    if (loss.lateMs === 0) stream.writeAsIs(refusal);
    else this.later(loss.lateMs, () => stream.writeAsIs(refusal));
    return true;
  }
  /**
   * Whether the server's streams pass through here at all: a world whose scenario plants nothing
   * leaves them bare (two objects and a call less per connection and per frame).
   */
  wrapsServer = true;
  /** lock-out-guessed-user: failed logins per username. */
  private readonly failedLogins = new Map<string, number>();
  /** The server's open streams, in the order they were accepted. */
  readonly streams = new Set<PlantedStream>();

  /** The server's transport, with every accepted stream's writes passing through here. */
  wrap(transport: Transport): Transport {
    return {
      connect: (host, port, events) => transport.connect(host, port, events),
      listen: (host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void) =>
        transport.listen(
          host,
          port,
          (stream) => {
            const planted = new PlantedStream(stream, this);
            this.streams.add(planted);
            onAccept(planted);
          },
          onReady,
        ),
    };
  }

  /**
   * A simulated peer's transport, for a careless peer (greet-any-hello, trust-sent-size): the P2P
   * streams it accepts pass through CarelessPeerStream, and with trust-sent-size those it opens
   * deliver through trustSentSize. Only wrapped when the scenario plants one of these bugs.
   */
  wrapPeer(transport: Transport, username: string, serverAddress: string, careless: CarelessPeer, lies: SizeLies): Transport {
    const active = this.active;
    const trusting = careless.trustsSize ? lies : null;
    return {
      connect: (host, port, events) => transport.connect(host, port, trusting === null || host === serverAddress ? events : trustSentSize(events, active, trusting)),
      listen: (host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void) =>
        transport.listen(host, port, (stream) => onAccept(new CarelessPeerStream(stream, active, username, trusting)), onReady),
    };
  }

  /** Sends one frame the server wrote, as the planted bugs would have it. */
  rewrite(stream: PlantedStream, frame: WireFrame): boolean {
    if (frame.type === 'login.ok' && typeof frame.username === 'string') stream.username = frame.username;
    const active = this.active;
    if (frame.type === 'error' && FRAMING_ERRORS_THAT_CLOSE.has(String(frame.code))) stream.framingErrorWritten = true;
    const send = (target: PlantedStream): boolean => target.writeAsIs(encodeControl(frame));
    const loss = stream.username === null ? undefined : this.sessionLoss.get(stream.username);
    if (loss !== undefined && loss.mode === 'drop' && loss.left > 0 && typeof frame.type === 'string' && loss.frames.has(frame.type)) {
      loss.left -= 1;
      this.observer?.onSessionOutcomeLost(stream.username as string, frame.type);
      return true;
    }
    if (frame.type === 'session.failed' && active.has('drop-session-failed')) return true;
    if (frame.type === 'session.withdrawn' && active.has('drop-session-withdrawn')) return true;
    if (active.has('lock-out-guessed-user') && stream.loginAttempt !== null) {
      const user = stream.loginAttempt;
      if (frame.type === 'error' && frame.code === 'BAD_CREDENTIALS') this.failedLogins.set(user, (this.failedLogins.get(user) ?? 0) + 1);
      if (frame.type === 'login.ok' && (this.failedLogins.get(user) ?? 0) >= LOCKOUT_FAILURES_PLANTED) {
        return stream.writeAsIs(encodeControl({ type: 'error', code: 'RATE_LIMITED', message: 'too many failed logins for this account', ...(frame.re === undefined ? {} : { re: frame.re }) }));
      }
    }
    if (frame.type === 'logout.ok' && active.has('drop-logout-ok')) return true;
    if (frame.type === 'friend.removed' && active.has('drop-friend-removed')) return true;
    if (frame.type === 'error' && frame.code === 'LOGGED_IN_ELSEWHERE' && active.has('drop-logged-in-elsewhere')) return true;
    const ok = send(stream);
    if ((frame.type === 'session.established' || frame.type === 'session.failed') && active.has('duplicate-session-outcome')) send(stream);
    if (frame.type === 'presence' && active.has('presence-to-everyone')) {
      for (const other of this.streams) if (other !== stream && other.username !== null && other.username !== frame.username) send(other);
    }
    return ok;
  }
}
