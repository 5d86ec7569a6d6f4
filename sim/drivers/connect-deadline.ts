/**
 * The shipped client's connect timers, around a simulated process's transport.
 *
 * cli/net/tcp-transport.ts gives the client's server-link connect a socket timeout of 10 s:
 * - a TLS connect (connectTls) TLS_HANDSHAKE_TIMEOUT_MS, armed at the connect and cleared at the
 *   end of the handshake; a connect whose handshake has not ended by then is closed
 *   TLS_HANDSHAKE_TIMEOUT. It is node's idle timer, so activity starts it again: the SYN-ACK
 *   (node's 'connect') and the ClientHello written right behind it;
 * - a plain connect (`--tls off`) CONNECT_TIMEOUT_MS, cleared at the TCP connect; closed
 *   CONNECT_TIMEOUT.
 * Those timers, not the kernel (sim/world/network.ts CONNECT_TIMEOUT_MS, Linux's 127 s), end a
 * server-link connect across a cut: the link closes and the machine's reconnect backoff goes on.
 *
 * A P2P connect has no such timer (since defe182 and f07d7c9; handshakeTimeoutMs 0): the peer
 * machine's hello timer (core P2P_HELLO_TIMEOUT_MS, 10 s, armed in the same turn as the connect)
 * ends it, and the user reads chat.failed `timeout`. Until then two 10 s timers raced there, and
 * the user read `timeout` or `unreachable` by chance; the simulator drew the winner.
 *
 * The timers run on the process's own clock (drift, pauses, a crash drops them), as node's do.
 */
import { CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS, TLS_HANDSHAKE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT_MS } from '../../cli/net/tcp-transport.ts';
import type { Clock, ConnectIntent, Listener, Stream, StreamEvents, Transport } from '../../core/transport.ts';

/**
 * The timer a connect to (host, port) gets: `tls` (the server link over TLS: the handshake timer),
 * `plain` (the server link with `--tls off`: the connect timer), or null (a P2P link: none of its
 * own, the machine's hello timer ends it).
 */
export type ConnectTimerOf = (host: string, port: number) => 'tls' | 'plain' | null;

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
    private readonly timerOf: ConnectTimerOf,
  ) {}

  listen(host: string, port: number, onAccept: (stream: Stream) => void, onReady: (result: Listener | Error) => void): void {
    this.inner.listen(host, port, onAccept, onReady);
  }

  connect(host: string, port: number, events: StreamEvents, intent?: ConnectIntent): Stream {
    const timer = this.timerOf(host, port);
    if (timer === null) return this.inner.connect(host, port, events, intent);
    const tls = timer === 'tls';
    const timeoutMs = tls ? TLS_HANDSHAKE_TIMEOUT_MS : CONNECT_TIMEOUT_MS;
    const reason = tls ? TLS_HANDSHAKE_TIMEOUT : CONNECT_TIMEOUT;
    const clock = this.clock;
    let over = false;
    let cancel: (() => void) | null = null;
    const disarm = (): void => {
      cancel?.();
      cancel = null;
    };
    const arm = (): void => {
      disarm();
      cancel = clock.at(clock.nowMs() + timeoutMs, () => {
        cancel = null;
        if (!over) expire();
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
        if (tls) arm();
        else disarm();
      };
    }
    arm();
    return stream;
  }
}
