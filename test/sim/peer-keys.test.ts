/**
 * Identity keys and handshakes in the simulator (sim/world/sim-keys.ts), the mitm fault and the
 * peer-key-refused checker, and the offline-mail scenario that needed simulated users with keys.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Stream } from '../../core/transport.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import type { Scenario } from '../../sim/scenarios/scenario-schema.ts';
import { SimNetwork } from '../../sim/world/network.ts';
import { Prng } from '../../sim/world/prng.ts';
import { SimClock } from '../../sim/world/sim-clock.ts';
import { SimKeys } from '../../sim/world/sim-keys.ts';

const ALICE = '10.0.0.1';
const BOB = '10.0.0.2';
const SERVER = '10.255.255.254';
/** A second server address, as a cluster's nodes each have one. */
const NODE2 = '10.255.254.2';
const LATENCY_MS = 10;
const CPU_MS = 3;

function keyedWorld(roundTrips: number) {
  const clock = new SimClock();
  const net = new SimNetwork(clock, new Prng(1), { latency: () => LATENCY_MS, bandwidthBytesPerSec: 1e9 });
  const intercepted: string[] = [];
  const users = new Map([[ALICE, 'alice'], [BOB, 'bob']]);
  const keys = new SimKeys({
    seed: 5,
    handshake: { roundTrips, cpuMs: () => CPU_MS, resumedCpuShare: 0.5, serverLink: false },
    serverAddresses: [SERVER, NODE2],
    usernameAt: (address) => users.get(address) ?? null,
    oneWayMs: () => LATENCY_MS,
    prng: new Prng(2),
    skipsPeerKeyCheck: () => false,
    observer: { onIntercepted: (_id, caller, callee, presents) => intercepted.push(`${caller}>${callee} ${presents}`) },
  });
  net.handshakes = keys;
  const accepted: Stream[] = [];
  for (const address of [BOB, NODE2]) {
    net.transport(address).listen(address, 5000, (stream) => {
      accepted.push(stream);
      stream.setEvents({ onOpen() {}, onData() {}, onDrain() {}, onClose() {} });
    }, () => {});
  }
  clock.runUntil(0);
  const connect = (to = BOB) => {
    const log = { openedAtMs: -1 };
    const stream = net.transport(ALICE).connect(to, 5000, { onOpen: () => (log.openedAtMs = clock.nowMs()), onData() {}, onDrain() {}, onClose() {} });
    return { stream, log };
  };
  return { clock, keys, accepted, intercepted, connect };
}

function corpus(file: string): Scenario {
  return loadScenarioFile(join('scenarios', file)).scenario;
}

describe('identity keys and handshakes in the simulated network', () => {
  it('each side of a P2P link learns the key of the user at the other address, after the handshake time', () => {
    const bare = keyedWorld(0);
    const plain = bare.connect();
    bare.clock.runUntil(1_000);
    const tls = keyedWorld(1);
    const shaken = tls.connect();
    tls.clock.runUntil(1_000);
    // TCP: the SYN and the SYN-ACK (one round trip); TLS 1.3 adds one round trip and its CPU time.
    expect(plain.log.openedAtMs).toBe(2 * LATENCY_MS + CPU_MS);
    expect(shaken.log.openedAtMs).toBe(4 * LATENCY_MS + CPU_MS);
    expect(shaken.stream.peerKey).toBe(tls.keys.identityOf('bob').signKey);
    expect(tls.accepted[0]?.peerKey).toBe(tls.keys.identityOf('alice').signKey);
    expect(tls.intercepted).toEqual([]);
  });

  it('keys are data of the seed: the same user has the same keys in every run of a seed, others in another', () => {
    const a = keyedWorld(1).keys.identityOf('alice');
    expect(keyedWorld(1).keys.identityOf('alice')).toEqual(a);
    expect(a.signKey).toMatch(/^MCowBQYDK2VwAyEA[A-Za-z0-9+/]{43}=$/);
    expect(a.sealKey).toMatch(/^MCowBQYDK2VuAyEA[A-Za-z0-9+/]{43}=$/);
    expect(keyedWorld(1).keys.identityOf('bob').signKey).not.toBe(a.signKey);
  });

  it('a man in the middle proves its own key, or none, to both sides while it lasts', () => {
    const w = keyedWorld(1);
    const stop = w.keys.intercept(['bob'], 'attacker-key');
    const attacked = w.connect();
    w.clock.runUntil(1_000);
    expect(attacked.stream.peerKey).not.toBe(w.keys.identityOf('bob').signKey);
    expect(attacked.stream.peerKey).toMatch(/^MCowBQYDK2VwAyEA/);
    expect(w.accepted[0]?.peerKey).toBe(attacked.stream.peerKey);
    stop();
    const stripped = w.keys.intercept(['alice'], 'no-key');
    const downgraded = w.connect();
    w.clock.runUntil(2_000);
    expect(downgraded.stream.peerKey).toBeNull();
    stripped();
    const clean = w.connect();
    w.clock.runUntil(3_000);
    expect(clean.stream.peerKey).toBe(w.keys.identityOf('bob').signKey);
    expect(w.intercepted).toEqual(['alice>bob attacker-key', 'alice>bob no-key']);
  });

  it('the attacker sits in P2P links only: a link to any server node, not just the first, is left alone', () => {
    // Found by a cluster swarm: a user under attack reconnecting to another node after a node crash
    // had its server link "intercepted", and the server's welcome counted as a breach.
    const w = keyedWorld(1);
    w.keys.intercept(['alice'], 'no-key');
    const toNode = w.connect(NODE2);
    w.clock.runUntil(1_000);
    expect(toNode.stream.peerKey).toBeNull();
    expect(w.intercepted).toEqual([]);
    // serverLink is false here: no handshake time on a server link, whichever node it reaches.
    expect(toNode.log.openedAtMs).toBe(2 * LATENCY_MS);
  });
});

describe('the mitm fault and the peer-key-refused checker', () => {
  it('the client refuses the attacker: PEER_KEY_MISMATCH, nothing crosses, the session fails; after it, the session works', () => {
    const scenario = corpus('p2p-man-in-the-middle.yaml');
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.peer_key_mismatch).toBeGreaterThanOrEqual(1);
    expect(report.metrics.p2p_links_intercepted).toBe(report.metrics.peer_key_mismatch);
    expect(report.passed).toBe(true);
  });

  it('an attacker that strips TLS (no key) is refused the same way', () => {
    const scenario = corpus('p2p-man-in-the-middle.yaml');
    const faults = scenario.faults.map((f) => (f.kind === 'mitm' ? { ...f, presents: 'no-key' as const } : f));
    const report = runScenario({ ...scenario, faults }, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
  });

  it('catches a client that never checks the key (planted): its hello, with the token, crosses to the attacker', () => {
    const scenario = corpus('p2p-man-in-the-middle.yaml');
    const report = runScenario({ ...scenario, faults: [...scenario.faults, { kind: 'plant', atMs: 0, bug: 'skip-peer-key-check' }] }, { seed: scenario.seed ?? 1 });
    const refused = report.violations.filter((v) => v.checker === 'peer-key-refused');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect(refused[0]?.detail).toContain('hello (with the session token)');
    expect(report.metrics.peer_key_mismatch ?? 0).toBe(0);
  });
});

describe('offline messages across a server crash (simulated users seal to identity keys)', () => {
  it('every queued message is shown once, in order per sender, after the crash and the next login', () => {
    const scenario = corpus('offline-messages-server-crash.yaml');
    const report = runScenario(scenario, { seed: scenario.seed ?? 1 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.server_restarts).toBe(1);
    expect(report.metrics.mail_queued).toBe(30);
    expect(report.metrics.mail_shown).toBe(30);
    expect(report.metrics.mail_repeated_after_crash ?? 0).toBe(0);
  });
});
