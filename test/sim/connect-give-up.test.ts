/**
 * A P2P connect across a cut ends as the shipped client ends it: by its own 10 s timers, not by a
 * give-up of the simulated network. The network gave a cut connect up after 3 s (ETIMEDOUT, which
 * the client reports `unreachable`); the real kernel retries for 127 s, and the client's hello
 * timer (P2P_HELLO_TIMEOUT_MS) ends it first (a P2P connect has no transport timer of its own).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TLS_HANDSHAKE_TIMEOUT_MS } from '../../cli/net/tcp-transport.ts';
import { P2P_HELLO_TIMEOUT_MS } from '../../core/limits.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { SessionCauses } from '../../sim/checkers/session-cause-checker.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';

const FILE = 'test/sim/fixtures/p2p-connect-cut.yaml';

interface Seen {
  /** When the server's session.established reached the caller (her clock: no drift here). */
  establishedAtMs: number | null;
  /** The caller's chat.failed for her own request: when, and why. */
  failed: { atMs: number; reason: string } | null;
}

/** Runs the fixture under `seed` and watches Alice's client (the caller). */
function watchAlice(seed: number): Seen & { passed: boolean } {
  const seen: Seen = { establishedAtMs: null, failed: null };
  const frames = SessionCauses.prototype.serverFrames;
  const failed = SessionCauses.prototype.failed;
  vi.spyOn(SessionCauses.prototype, 'serverFrames').mockImplementation(function (this: SessionCauses, messages, nowMs) {
    for (const m of messages) if (m.type === 'session.established' && m.role === 'caller') seen.establishedAtMs ??= nowMs;
    return frames.call(this, messages, nowMs);
  });
  vi.spyOn(SessionCauses.prototype, 'failed').mockImplementation(function (this: SessionCauses, friend, reason, incoming, nowMs) {
    if (friend === 'bob' && !incoming) seen.failed ??= { atMs: nowMs, reason };
    return failed.call(this, friend, reason, incoming, nowMs);
  });
  const { scenario } = loadScenarioFile(FILE);
  const report = runScenario(scenario, { seed });
  vi.restoreAllMocks();
  return { ...seen, passed: report.passed };
}

describe('a P2P connect across a cut', () => {
  afterEach(() => vi.restoreAllMocks());

  it("ends at the client's hello deadline (session.established + 10 s), `timeout` in the fixture's own seed", () => {
    expect(TLS_HANDSHAKE_TIMEOUT_MS).toBe(P2P_HELLO_TIMEOUT_MS);
    const { scenario } = loadScenarioFile(FILE);
    const run = watchAlice(scenario.seed ?? 1);
    expect(run.establishedAtMs).not.toBeNull();
    expect(run.failed).toEqual({ atMs: (run.establishedAtMs as number) + P2P_HELLO_TIMEOUT_MS, reason: 'timeout' });
    expect(run.passed).toBe(true);
  });

  // Since defe182 a P2P connect has no transport timer of its own: the hello timer alone ends it,
  // so every seed reads `timeout` (until then a second 10 s timer raced it, and some read
  // `unreachable`).
  it('ends at that same moment, `timeout`, under other seeds too', () => {
    for (let seed = 1; seed <= 12; seed++) {
      const run = watchAlice(seed);
      expect(run.establishedAtMs, `seed ${seed}`).not.toBeNull();
      expect(run.failed, `seed ${seed}`).toEqual({ atMs: (run.establishedAtMs as number) + P2P_HELLO_TIMEOUT_MS, reason: 'timeout' });
    }
  });
});
