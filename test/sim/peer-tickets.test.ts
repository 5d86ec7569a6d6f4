/**
 * The shipped client's resumable P2P sessions in the simulator (sim/drivers/peer-tickets.ts over
 * the network's stand-in tickets): a link reopened to the same friend resumes, which costs a share
 * of a full handshake's CPU and the same round trips; a listener resumes only its own tickets (a
 * restarted friend costs a full handshake), an attacker none; a connect that fails before its
 * handshake drops the ticket it offered; tickets go at login.ok, logout.ok and the friend's
 * peer.key.changed, as ClientRuntime forgets them; a corpus run resumes reopened chats.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../core/peer/events.ts';
import type { ConnectIntent, Listener, Stream } from '../../core/transport.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { PeerTickets } from '../../sim/drivers/peer-tickets.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { SimNetwork } from '../../sim/world/network.ts';
import { Prng } from '../../sim/world/prng.ts';
import { SimClock } from '../../sim/world/sim-clock.ts';
import { SimKeys } from '../../sim/world/sim-keys.ts';

const ALICE = '10.0.0.1';
const BOB = '10.0.0.2';
const SERVER = '10.255.255.254';
const LATENCY_MS = 10;
const CPU_MS = 4;
const SHARE = 0.5;
const FULL_MS = 4 * LATENCY_MS + CPU_MS;
const RESUMED_MS = 4 * LATENCY_MS + CPU_MS * SHARE;

function world() {
  const clock = new SimClock();
  const net = new SimNetwork(clock, new Prng(1), { latency: () => LATENCY_MS, bandwidthBytesPerSec: 1e9 });
  const users = new Map([[ALICE, 'alice'], [BOB, 'bob']]);
  const keys = new SimKeys({
    seed: 5,
    handshake: { roundTrips: 1, cpuMs: () => CPU_MS, resumedCpuShare: SHARE, serverLink: false },
    serverAddresses: [SERVER],
    usernameAt: (address) => users.get(address) ?? null,
    oneWayMs: () => LATENCY_MS,
    prng: new Prng(2),
    skipsPeerKeyCheck: () => false,
    observer: { onIntercepted() {} },
  });
  net.handshakes = keys;
  const handshakes: string[] = [];
  const tickets = new PeerTickets(net.transport(ALICE), clock, { onHandshake: (resumed) => handshakes.push(resumed ? 'resumed' : 'full') });
  let listener: Listener | null = null;
  const listen = (): void => {
    net.transport(BOB).listen(BOB, 5000, (stream) => stream.setEvents({ onOpen() {}, onData() {}, onDrain() {}, onClose() {} }), (result) => {
      if (!(result instanceof Error)) listener = result;
    });
    clock.runUntil(clock.nowMs());
  };
  listen();
  const bobKey = keys.identityOf('bob').signKey;
  /** alice connects to bob (intent: by default bob, vouched with his own key; null: none); resolves the time it took, or the close. */
  const connect = (intent: ConnectIntent | null = { peer: 'bob', vouchedKey: bobKey }): { tookMs: number | null; error: string | null; stream: Stream } => {
    const startMs = clock.nowMs();
    const result: { tookMs: number | null; error: string | null; stream: Stream } = { tookMs: null, error: null, stream: null as unknown as Stream };
    result.stream = tickets.connect(BOB, 5000, { onOpen: () => (result.tookMs = clock.nowMs() - startMs), onData() {}, onDrain() {}, onClose: (error) => (result.error = error ?? 'closed') }, intent ?? undefined);
    clock.runUntil(clock.nowMs() + 1_000);
    result.stream.close();
    clock.runUntil(clock.nowMs() + 1_000);
    return result;
  };
  return { clock, net, keys, tickets, handshakes, bobKey, listen, connect, closeListener: () => listener?.close() };
}

describe('resumed P2P handshakes in the simulated network', () => {
  it('a link reopened to the same friend, key and address resumes: the same round trips, a share of the CPU', () => {
    const w = world();
    expect(w.connect().tookMs).toBe(FULL_MS);
    expect(w.tickets.kept).toBe(1);
    const again = w.connect();
    expect(again.tookMs).toBe(RESUMED_MS);
    expect(again.stream.peerKey).toBe(w.bobKey);
    expect(w.handshakes).toEqual(['full', 'resumed']);
    // A resumed handshake brings no new ticket: the first one's age still counts.
    expect(w.tickets.kept).toBe(1);
  });

  it('no ticket is offered or kept without a name and a vouched key, nor offered under another key', () => {
    const w = world();
    w.connect(null);
    w.connect({ peer: 'bob', vouchedKey: null });
    expect(w.tickets.kept).toBe(0);
    w.connect();
    expect(w.connect({ peer: 'bob', vouchedKey: 'another key' }).tookMs).toBe(FULL_MS);
    // Proved bob's key, not the one vouched: nothing kept under that key.
    expect(w.tickets.kept).toBe(1);
    expect(w.handshakes).toEqual(['full', 'full']);
  });

  it("a restarted friend's listener cannot resume the old ticket: a full handshake, whose ticket replaces it", () => {
    const w = world();
    w.connect();
    w.closeListener();
    w.listen();
    expect(w.connect().tookMs).toBe(FULL_MS);
    expect(w.connect().tookMs).toBe(RESUMED_MS);
    expect(w.handshakes).toEqual(['full', 'full', 'resumed']);
  });

  it('a connect that fails before its handshake drops the ticket it offered (as TcpTransport does)', () => {
    const w = world();
    w.connect();
    w.closeListener();
    expect(w.connect().error).toBe('ECONNREFUSED');
    expect(w.tickets.kept).toBe(0);
  });

  it('an attacker in the middle resumes nothing, and its ticket is not kept for the friend', () => {
    const w = world();
    w.connect();
    const stop = w.keys.intercept(['bob'], 'attacker-key');
    expect(w.connect().tookMs).toBe(FULL_MS);
    stop();
    expect(w.connect().tookMs).toBe(RESUMED_MS);
    expect(w.handshakes).toEqual(['full', 'full', 'resumed']);
  });

  it("forgets every ticket at login.ok and logout.ok, a friend's at their peer.key.changed", () => {
    const events: ClientEvent[] = [
      { event: 'login.ok', username: 'alice', friends: [] },
      { event: 'logout.ok' },
      { event: 'peer.key.changed', username: 'bob', old: 'k1', new: 'k2' },
    ];
    for (const event of events) {
      const w = world();
      w.connect();
      w.tickets.onEvent({ event: 'peer.key.changed', username: 'carol', old: 'k1', new: 'k2' });
      w.tickets.onEvent({ event: 'chat.closed', username: 'bob' } as ClientEvent);
      expect(w.tickets.kept).toBe(1);
      w.tickets.onEvent(event);
      expect(w.tickets.kept, event.event).toBe(0);
      expect(w.connect().tookMs).toBe(FULL_MS);
    }
  });
});

describe('resumption in a corpus run', () => {
  it('scenarios/chat-reopened.yaml: a chat reopened after a reset resumes its link; after the friend restarted it is a full handshake again', () => {
    const scenario = loadScenarioFile(join('scenarios', 'chat-reopened.yaml')).scenario;
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.metrics.p2p_handshakes_full).toBe(2);
    expect(report.metrics.p2p_handshakes_resumed).toBe(1);
  });
});
