/**
 * The shipped client's resumable P2P sessions in the simulator: the caller's TLS tickets
 * (cli/net/peer-sessions.ts, the same PeerSessions and its rules, here holding the network's
 * stand-in tickets) kept, offered and dropped where TcpTransport's P2P connect does, and forgotten
 * at the client events ClientRuntime forgets them at (peerSessionsForgottenBy). One per process
 * incarnation: tickets live in memory, so a restarted program starts with none.
 *
 * The network decides what an offered ticket is worth (sim/world/network.ts, ResumableEnd): a
 * listener resumes only its own, so a friend's restart costs the next link a full handshake, and
 * an attacker in the middle can resume none. A resumed handshake is shorter (sim-keys.ts).
 */
import { PeerSessions, peerSessionsForgottenBy } from '../../cli/net/peer-sessions.ts';
import type { ClientEvent } from '../../core/peer/events.ts';
import type { Clock, ConnectIntent, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import { resumableEnd } from '../world/network.ts';

/** Who hears how each P2P handshake went (the run's counters). */
export interface HandshakeCounts {
  onHandshake(resumed: boolean): void;
}

export class PeerTickets implements Transport {
  private readonly sessions = new PeerSessions<number>();

  constructor(
    private readonly inner: Transport,
    private readonly clock: Clock,
    private readonly counts: HandshakeCounts | null = null,
  ) {}

  /** The tickets kept (tests). */
  get kept(): number {
    return this.sessions.size;
  }

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, onAccept, onReady);
  }

  connect(host: string, port: number, events: StreamEvents, intent?: ConnectIntent): Stream {
    const link = PeerSessions.linkOf(host, port, intent);
    if (link === null) return this.inner.connect(host, port, events, intent);
    const sessions = this.sessions;
    const offered = sessions.offer(link, this.clock.nowMs());
    let opened = false;
    const stream: Stream = this.inner.connect(
      host,
      port,
      {
        onOpen: () => {
          opened = true;
          if (resumableEnd(stream)) {
            this.counts?.onHandshake(stream.resumed);
            if (!stream.resumed && stream.ticketIssued !== null) sessions.ticketCame(link, intent!, stream.peerKey ?? null, stream.ticketIssued, this.clock.nowMs());
          }
          events.onOpen();
        },
        onData: (bytes) => events.onData(bytes),
        onDrain: () => events.onDrain(),
        onClose: (error) => {
          // As TcpTransport: a connect that closed before its handshake ended drops the ticket it offered.
          if (!opened && offered !== undefined) sessions.drop(link, offered);
          events.onClose(error);
        },
      },
      intent,
    );
    if (resumableEnd(stream)) stream.ticketOffered = offered?.ticket ?? null;
    return stream;
  }

  /** A client event of this incarnation: the tickets it makes the client forget go. */
  onEvent(event: ClientEvent): void {
    const forgotten = peerSessionsForgottenBy(event);
    if (forgotten !== null) this.sessions.forget(forgotten.peer);
  }
}
