/**
 * The shipped client's connect timers, around a simulated process's transport.
 *
 * cli/net/tcp-transport.ts gives every connect the client makes a socket timeout of 10 s:
 * - a TLS connect (connectTls) TLS_HANDSHAKE_TIMEOUT_MS, armed at the connect and cleared at the
 *   end of the handshake; a connect whose handshake has not ended by then is closed
 *   TLS_HANDSHAKE_TIMEOUT. It is node's idle timer, so activity starts it again: the SYN-ACK
 *   (node's 'connect') and the ClientHello written right behind it;
 * - a plain connect (`--tls off`) CONNECT_TIMEOUT_MS, cleared at the TCP connect; closed
 *   CONNECT_TIMEOUT.
 * Those timers, not the kernel (sim/world/network.ts CONNECT_TIMEOUT_MS, Linux's 127 s), end a
 * connect across a cut: on the server link the link closes and the machine's reconnect backoff
 * goes on; on a P2P link the machine's own hello timer (core P2P_HELLO_TIMEOUT_MS, also 10 s,
 * armed in the same turn) runs out at the same moment.
 *
 * Those two 10 s timers of a P2P connect that no SYN-ACK answered race in the shipped client:
 * node runs the socket's first when both were armed in the same millisecond (one timer list per
 * duration, in the order armed), the machine's when a millisecond passed in between or it was
 * armed later from an earlier wake-up. The user reads chat.failed `timeout` (the hello timer) or
 * `unreachable` (the stream closed), at the same time. (Over real TLS connects to a host that
 * never answers, armed as the client arms them from a server frame, the hello timer won 17 and 21
 * of two sets of 30, 2026-12-07.) The simulator draws the winner from its own stream (`tieDraws`):
 * the socket's timer, when it fires, yields to whatever else is due at that instant (the
 * machine's hello timer) on a coin's heads. Once the SYN-ACK came, a TLS connect's timer runs from
 * there, later than the hello timer armed before it: no race, no draw.
 *
 * The timers run on the process's own clock (drift, pauses, a crash drops them), as node's do.
 */
import { CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS, TLS_HANDSHAKE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT_MS } from '../../cli/net/tcp-transport.ts';
import type { Clock, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';
import type { Prng } from '../world/prng.ts';

/** What a link to (host, port) is: TLS (the handshake timer) or plain TCP (the connect timer). */
export type SpeaksTls = (host: string, port: number) => boolean;

/** The part of the network's streams a TLS timer hears: when the SYN-ACK came (sim/world/network.ts). */
interface TcpOpenAware {
  onTcpOpen: (() => void) | null;
}

function tcpOpenAware(stream: Stream): stream is Stream & TcpOpenAware {
  return 'onTcpOpen' in stream;
}

export class ConnectDeadline implements Transport {
  constructor(
    private readonly inner: Transport,
    private readonly clock: Clock,
    private readonly speaksTls: SpeaksTls,
    /** Who wins the race of the socket's timer and one due at the same instant (module comment). */
    private readonly tieDraws: Prng,
  ) {}

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, onAccept, onReady);
  }

  connect(host: string, port: number, events: StreamEvents): Stream {
    const tls = this.speaksTls(host, port);
    const timeoutMs = tls ? TLS_HANDSHAKE_TIMEOUT_MS : CONNECT_TIMEOUT_MS;
    const reason = tls ? TLS_HANDSHAKE_TIMEOUT : CONNECT_TIMEOUT;
    const clock = this.clock;
    const tieDraws = this.tieDraws;
    let over = false;
    let cancel: (() => void) | null = null;
    const disarm = (): void => {
      cancel?.();
      cancel = null;
    };
    const arm = (fromConnect: boolean): void => {
      disarm();
      cancel = clock.at(clock.nowMs() + timeoutMs, () => {
        cancel = null;
        if (over) return;
        if (!fromConnect || !tieDraws.chance(0.5)) return expire();
        // Yield: what else is due at this instant (the machine's hello timer) runs first.
        cancel = clock.at(clock.nowMs(), () => {
          cancel = null;
          if (!over) expire();
        });
      });
    };
    const expire = (): void => {
      over = true;
      events.onClose(reason);
      stream.reset();
    };
    const stream = this.inner.connect(host, port, {
      onOpen: () => {
        if (over) return;
        disarm();
        events.onOpen();
      },
      onData: (bytes) => {
        if (!over) events.onData(bytes);
      },
      onDrain: () => {
        if (!over) events.onDrain();
      },
      onClose: (error) => {
        if (over) return;
        over = true;
        disarm();
        events.onClose(error);
      },
    });
    // At the SYN-ACK a plain connect is made (its timer goes, even while the network holds the
    // simulated open behind a paused listener); a TLS one goes on to its handshake, and its idle
    // timer starts again.
    if (tcpOpenAware(stream)) {
      stream.onTcpOpen = () => {
        if (over || cancel === null) return;
        if (tls) arm(false);
        else disarm();
      };
    }
    arm(true);
    return stream;
  }
}
