import { describe, expect, it } from 'vitest';
import { CONNECT_TIMEOUT, CONNECT_TIMEOUT_MS, TLS_HANDSHAKE_TIMEOUT, TLS_HANDSHAKE_TIMEOUT_MS } from '../../../cli/net/tcp-transport.ts';
import type { Stream } from '../../../core/transport.ts';
import { ConnectDeadline } from '../../../sim/drivers/connect-deadline.ts';
import { SimNetwork } from '../../../sim/world/network.ts';
import { Prng } from '../../../sim/world/prng.ts';
import { SimClock } from '../../../sim/world/sim-clock.ts';

const LATENCY_MS = 10;

function world(timer: 'tls' | 'plain' | null = 'tls') {
  const clock = new SimClock();
  const net = new SimNetwork(clock, new Prng(1), { latency: () => LATENCY_MS, bandwidthBytesPerSec: 1e9 });
  const accepted: Stream[] = [];
  net.transport('10.0.0.1').listen('10.0.0.1', 80, (stream) => accepted.push(stream), () => {});
  clock.runUntil(0);
  const transport = new ConnectDeadline(net.transport('10.0.0.2'), clock, () => timer);
  const log = { opened: false, closed: [] as Array<{ atMs: number; error: string | null }> };
  const connect = (): Stream =>
    transport.connect('10.0.0.1', 80, {
      onOpen: () => (log.opened = true),
      onData() {},
      onDrain() {},
      onClose: (error) => log.closed.push({ atMs: clock.nowMs(), error }),
    });
  return { clock, net, accepted, log, connect };
}

describe("the client's connect timers in the simulator", () => {
  // cli/net/tcp-transport.ts connectTls: a connect whose handshake has not ended 10 s on is
  // closed TLS_HANDSHAKE_TIMEOUT. On the server link that, not the kernel's 127 s, ends a connect
  // across a cut, and the machine's reconnect backoff goes on from there.
  it('closes a connect no SYN-ACK answered TLS_HANDSHAKE_TIMEOUT at 10 s, and not before', () => {
    const w = world();
    w.net.clog('10.0.0.1');
    w.connect();
    w.clock.runUntil(TLS_HANDSHAKE_TIMEOUT_MS - 1);
    expect(w.log.closed).toEqual([]);
    w.clock.runUntil(TLS_HANDSHAKE_TIMEOUT_MS);
    expect(w.log.closed).toEqual([{ atMs: TLS_HANDSHAKE_TIMEOUT_MS, error: TLS_HANDSHAKE_TIMEOUT }]);
    // The socket is gone: a heal lets no late SYN through, and nothing more is told.
    w.net.unclog('10.0.0.1');
    w.clock.runUntil(200_000);
    expect(w.accepted).toEqual([]);
    expect(w.log.opened).toBe(false);
    expect(w.log.closed).toHaveLength(1);
  });

  // Node's socket timeout is an idle timer: the SYN-ACK ('connect') and the ClientHello behind it
  // start it again. A listener whose process is stopped answers the SYN from its kernel, and the
  // handshake then waits for it: the timer runs out 10 s after the SYN-ACK, not after the connect
  // (p2p-setup-times-out.yaml: the caller's hello timer, armed at the connect, ends it first).
  it('runs from the SYN-ACK once one came: a stopped listener holds the handshake, not the TCP connect', () => {
    const w = world();
    w.net.pauseNode('10.0.0.1', 60_000);
    w.connect();
    const synAckAtMs = 2 * LATENCY_MS;
    w.clock.runUntil(synAckAtMs + TLS_HANDSHAKE_TIMEOUT_MS - 1);
    expect(w.log.closed).toEqual([]);
    w.clock.runUntil(synAckAtMs + TLS_HANDSHAKE_TIMEOUT_MS);
    expect(w.log.closed).toEqual([{ atMs: synAckAtMs + TLS_HANDSHAKE_TIMEOUT_MS, error: TLS_HANDSHAKE_TIMEOUT }]);
  });

  it('is cleared by the end of the handshake, and a cut that heals within it lets the connect through', () => {
    const w = world();
    w.net.clog('10.0.0.1');
    w.connect();
    w.clock.runUntil(5_000);
    w.net.unclog('10.0.0.1');
    w.clock.runUntil(60_000);
    expect(w.log.opened).toBe(true);
    expect(w.log.closed).toEqual([]);
    expect(w.accepted).toHaveLength(1);
  });

  // cli/net/tcp-transport.ts connect(): a plain connect (--tls off) has CONNECT_TIMEOUT_MS, not
  // the kernel's 127 s.
  it('closes a plain connect no SYN-ACK answered CONNECT_TIMEOUT at 10 s, and not before', () => {
    const w = world('plain');
    w.net.clog('10.0.0.1');
    w.connect();
    w.clock.runUntil(CONNECT_TIMEOUT_MS - 1);
    expect(w.log.closed).toEqual([]);
    w.clock.runUntil(CONNECT_TIMEOUT_MS);
    expect(w.log.closed).toEqual([{ atMs: CONNECT_TIMEOUT_MS, error: CONNECT_TIMEOUT }]);
  });

  it("stops a plain connect's timer at the SYN-ACK, even from a stopped listener's kernel", () => {
    const w = world('plain');
    w.net.pauseNode('10.0.0.1', 60_000);
    w.connect();
    w.clock.runUntil(59_000);
    expect(w.log.closed).toEqual([]);
    w.clock.runUntil(61_000);
    expect(w.log.opened).toBe(true);
  });

  // A P2P connect has no timer of its own in the shipped client (tcp-transport.ts, handshakeTimeoutMs
  // 0 on P2P links): the peer machine's hello timer ends it (chat.failed `timeout`). The wrapper
  // adds none; only the kernel would give up, at 127 s.
  it('adds no timer to a P2P connect: only the kernel gives it up, at 127 s', () => {
    const w = world(null);
    w.net.clog('10.0.0.1');
    w.connect();
    w.clock.runUntil(126_000);
    expect(w.log.closed).toEqual([]);
    w.clock.runUntil(200_000);
    expect(w.log.closed).toHaveLength(1);
    expect(w.log.closed[0]?.atMs).toBe(127_000);
  });
});
