/**
 * session-ends-by-timeout (sim/checkers/checkers.ts): a caller told a request is pending hears how
 * it ended by its timeout plus the bound, unless something ended it that tells her nothing: her
 * logout (the server ends her requests and tells only the callees, PROTOCOL.md). Before, a request
 * pending at her logout was still judged once she had logged in again (helper-90's note).
 */
import { describe, expect, it } from 'vitest';
import { type CheckedWorld, Checkers } from '../../../sim/checkers/checkers.ts';
import type { PeerDriver } from '../../../sim/drivers/peer-driver.ts';
import { SimClock } from '../../../sim/world/sim-clock.ts';
import type { ServerNode } from '../../../sim/world/server-node.ts';

const TTL_MS = 30_000;
const BOUND_MS = 2_000;
const TIMEOUT_MS = 30_000;

function rig() {
  const clock = new SimClock();
  const world: CheckedWorld = {
    clock,
    server: { incarnation: 1 } as ServerNode,
    slots: [],
    ownerOf: () => undefined,
    otherSlotsOf: () => [],
    linksHealthy: () => true,
    lastFaultEndMs: 0,
    firstFaultBeganMs: Number.POSITIVE_INFINITY,
  };
  const checkers = new Checkers(TTL_MS, BOUND_MS);
  checkers.attach(world);
  // Online again (logged in) when the request's timeout comes: the request is judgeable.
  const alice = { username: 'alice', truthOnline: true } as PeerDriver;
  const pastTimeout = (): void => {
    clock.runUntil(TIMEOUT_MS + BOUND_MS + 1);
    checkers.sweep();
  };
  return { clock, checkers, alice, pastTimeout };
}

describe('session-ends-by-timeout', () => {
  it('fires for a request still pending past its timeout plus the bound', () => {
    const { checkers, alice, pastTimeout } = rig();
    checkers.onSessionPending(alice, 'r1', 'bob', TIMEOUT_MS);
    pastTimeout();
    expect(checkers.violations.map((v) => v.checker)).toEqual(['session-ends-by-timeout']);
  });

  it("forgets the caller's requests at her logout: the server ends them and tells her nothing", () => {
    const { checkers, alice, pastTimeout } = rig();
    checkers.onSessionPending(alice, 'r1', 'bob', TIMEOUT_MS);
    checkers.onLogoutSent(alice);
    pastTimeout();
    expect(checkers.violations).toEqual([]);
  });

  it("another user's logout leaves her requests judged", () => {
    const { checkers, alice, pastTimeout } = rig();
    checkers.onSessionPending(alice, 'r1', 'bob', TIMEOUT_MS);
    checkers.onLogoutSent({ username: 'carol', truthOnline: true } as PeerDriver);
    pastTimeout();
    expect(checkers.violations.map((v) => v.checker)).toEqual(['session-ends-by-timeout']);
  });
});
