/**
 * The process-pause and store faults: a paused process's timers fire late (and can still be
 * cancelled), what reaches it waits and arrives in order, and a store that acknowledges writes
 * it never keeps (TEST-ONLY mode `lose`) is caught by announced-is-committed.
 */
import { describe, expect, it } from 'vitest';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { SimNetwork } from '../../sim/world/network.ts';
import { Prng } from '../../sim/world/prng.ts';
import { Scope, SimClock } from '../../sim/world/sim-clock.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';

describe('process pause', () => {
  it("a paused process's timers fire when it resumes, in order, and a cancelled one never does", () => {
    const clock = new SimClock();
    const scope = new Scope();
    const scoped = clock.scoped(scope);
    const fired: Array<[string, number]> = [];
    scoped.at(10, () => fired.push(['a', clock.nowMs()]));
    scoped.at(20, () => fired.push(['b', clock.nowMs()]));
    const cancel = scoped.at(30, () => fired.push(['cancelled', clock.nowMs()]));
    clock.at(50, () => fired.push(['world', clock.nowMs()]));
    scope.pausedUntilMs = 100;
    clock.runUntil(40);
    cancel();
    clock.runUntil(200);
    expect(fired).toEqual([['world', 50], ['a', 100], ['b', 100]]);
  });

  it('what reaches a paused node waits and is delivered in order when it resumes', () => {
    const clock = new SimClock();
    const net = new SimNetwork(clock, Prng.stream(1, 'network'), { latency: () => 5, bandwidthBytesPerSec: 1e9 });
    const received: Array<[number, number]> = [];
    net.transport('10.0.0.2').listen('10.0.0.2', 9, (stream) => {
      stream.setEvents({ onOpen() {}, onData: (b) => received.push([b[0] as number, clock.nowMs()]), onDrain() {}, onClose() {} });
    }, () => {});
    const client = net.transport('10.0.0.1').connect('10.0.0.2', 9, { onOpen() {}, onData() {}, onDrain() {}, onClose() {} });
    clock.runUntil(20);
    net.pauseNode('10.0.0.2', 100);
    for (let i = 1; i <= 3; i++) client.write(Uint8Array.of(i));
    clock.runUntil(60);
    expect(received).toEqual([]);
    client.write(Uint8Array.of(4));
    clock.runUntil(300);
    expect(received.map(([b]) => b)).toEqual([1, 2, 3, 4]);
    expect(received.every(([, at]) => at >= 100)).toBe(true);
  });

  it('the corpus scenario passes: presence and the server agree again after the server and two peers stopped longer than the TTL', () => {
    const { scenario } = loadScenarioFile('scenarios/process-pause.yaml');
    const report = runScenario(scenario, { seed: 15 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
    // The stopped peers' sessions and heartbeats waited: links were re-established after the pauses.
    expect(report.metrics.reconnects).toBeGreaterThan(0);
  });
});

describe('store faults', () => {
  const { scenario } = loadScenarioFile('scenarios/store-faults.yaml');

  it('a failing write kills the server at that point and it restarts from what was committed; a stalling one slows it; nothing uncommitted is announced', () => {
    const report = runScenario(scenario, { seed: 16 });
    expect(report.violations).toEqual([]);
    expect(report.metrics.server_restarts).toBeGreaterThanOrEqual(1);
  });

  it('announced-is-committed fires when the store acknowledges writes it never keeps (TEST-ONLY mode lose)', () => {
    const lying = { ...scenario, faults: [{ kind: 'store' as const, atMs: 0, durationMs: 20_000, mode: 'lose' as const, stallMs: 1_000, downMs: 1_000 }] };
    const report = runScenario(lying, { seed: 16 });
    expect(report.violations.map((v) => v.checker)).toContain('announced-is-committed');
  });
});
