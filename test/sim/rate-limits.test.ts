/**
 * The per-address limits as the simulator judges them (rate-limit-honoured,
 * sim/checkers/rate-limit-checker.ts): the corpus scenarios that exceed each limit pass on the
 * shipped server, a server whose password-guess slow-down never slows anyone is caught by this
 * checker and by no other, one whose password-check line is first come first served is caught, and
 * populations sharing a `site` share one address key at the server.
 */
import { describe, expect, it } from 'vitest';
import { addressKey } from '../../core/net-address.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { documentedAddressKey } from '../../sim/checkers/rate-limit-checker.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import type { Scenario, SimPlantedBug } from '../../sim/scenarios/scenario-schema.ts';
import { peerAddress, siteAddress } from '../../sim/world/world.ts';

function load(path: string): Scenario {
  return loadScenarioFile(path).scenario;
}

function planted(scenario: Scenario, bug: SimPlantedBug): Scenario {
  return { ...scenario, faults: [...scenario.faults, { kind: 'plant', atMs: 0, bug }] };
}

describe('the per-address limits in the corpus', () => {
  it('rate-limits.yaml: an office hammering from one /64, a patient guesser and a dorm signing up are each refused where the docs say, and users elsewhere are not', () => {
    const report = runScenario(load('scenarios/rate-limits.yaml'), { seed: 59 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
    // Every limit was reached, so each was judged both ways (refused past it, let through before).
    expect(report.metrics.rate_limited_address).toBeGreaterThan(0);
    expect(report.metrics.rate_limited_guess).toBeGreaterThan(0);
    expect(report.metrics.rate_limited_signups).toBe(2);
    expect(report.metrics.rate_limit_attempts_judged).toBe(101);
  });

  it('password-check-line.yaml: with the check line full, users on their own addresses are served within bound and not refused BUSY', () => {
    const report = runScenario(load('scenarios/password-check-line.yaml'), { seed: 61 });
    expect(report.violations).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.metrics.rate_limited_busy).toBeGreaterThan(0);
  });
});

describe('a server that never slows password guesses down', () => {
  it('is caught by rate-limit-honoured alone: every other checker and expectation of login-hammering.yaml passes', () => {
    const scenario = load('scenarios/login-hammering.yaml');
    const seed = scenario.seed ?? 1;
    expect(runScenario(scenario, { seed }).violations).toEqual([]);
    const report = runScenario(planted(scenario, 'guesses-never-slowed'), { seed });
    const checkers = new Set(report.violations.map((v) => v.checker));
    expect([...checkers]).toEqual(['rate-limit-honoured']);
    // The sixth wrong password came at once: it should have waited a second after the fifth.
    expect(report.violations[0]?.detail).toMatch(/^mallory \(10\.0\.0\.1\)'s login as mallory at .* was let through [0-9.]+ ms before its guess 6 may come \(answered BAD_CREDENTIALS\)$/);
    // Without this checker the run would pass: the only failed expectation is its invariant.
    expect(report.expectations.filter((e) => !e.passed).map((e) => e.name)).toEqual(['invariant rate-limit-honoured']);
  });

  it('a server that locks the guessed account for everyone is caught too (the owner refused from her own address)', () => {
    const scenario = load('scenarios/password-guessers.yaml');
    const report = runScenario(planted(scenario, 'lock-out-guessed-user'), { seed: scenario.seed ?? 1 });
    const mine = report.violations.filter((v) => v.checker === 'rate-limit-honoured').map((v) => v.detail);
    expect(mine[0]).toMatch(/^alice \(10\.0\.0\.1\)'s login as alice at .* was refused RATE_LIMITED with 30\.000 of 30 attempts left for 10\.0\.0\.1$/);
  });
});

describe('a server whose password-check line is first come, first served', () => {
  it('is caught by rate-limit-honoured: a botnet check starts before the wait of an address never served', () => {
    const scenario = load('scenarios/password-check-line.yaml');
    const report = runScenario(planted(scenario, 'password-checks-first-come'), { seed: scenario.seed ?? 1 });
    const mine = report.violations.filter((v) => v.checker === 'rate-limit-honoured').map((v) => v.detail);
    expect(mine.some((d) => /^bot-[ab] \(fd00:0:0:[12]::[0-9a-f]+\)'s check \(fd00:0:0:[12], served \d+\) started before (alice|bob|carol) \(10\.0\.0\.\d+\)'s \(10\.0\.0\.\d+, served never\), which the fair line serves first$/.test(d))).toBe(true);
  });
});

describe('sites: users sharing one IPv6 /64', () => {
  it('a site hands out distinct addresses in one /64, which the server and the checker count as one key; other sites and IPv4 peers are other keys', () => {
    const a0 = siteAddress(0, 0);
    const a1 = siteAddress(0, 1);
    const b0 = siteAddress(1, 0);
    expect(new Set([a0, a1, b0]).size).toBe(3);
    expect(addressKey(a0)).toBe(addressKey(a1));
    expect(addressKey(a0)).not.toBe(addressKey(b0));
    expect(addressKey(peerAddress(0))).not.toBe(addressKey(peerAddress(1)));
    for (const address of [a0, a1, b0, peerAddress(0), '2001:db8:1:2:3:4:5:6', '::ffff:10.0.0.1']) {
      // Equal keys in the checker's own statement of the rule exactly when equal at the server.
      for (const other of [a0, b0, peerAddress(0), '2001:db8:1:2:ffff::1', '10.0.0.1']) {
        expect(documentedAddressKey(address) === documentedAddressKey(other)).toBe(addressKey(address) === addressKey(other));
      }
    }
  });
});
