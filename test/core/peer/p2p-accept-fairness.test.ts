/**
 * Accepted P2P streams not yet authenticated, when all P2P_UNAUTHENTICATED_STREAMS_MAX slots are
 * taken (core/peer/accept-fairness.ts): the newcomer takes the place of the oldest stream of the
 * address key holding the most, if that key still holds at least as many as the newcomer's
 * afterwards; else the newcomer is refused. One address filling every slot with silent streams
 * used to keep every friend's hello out (test/cli/client/p2p-port-hogging.test.ts over real TLS).
 */
import { describe, expect, it } from 'vitest';
import { P2P_HELLO_TIMEOUT_MS, P2P_UNAUTHENTICATED_STREAMS_MAX } from '../../../core/limits.ts';
import { type WaitingStream, streamToEvict } from '../../../core/peer/accept-fairness.ts';
import { Client } from './hand-typed-client.ts';
import { twoFriends, type World } from './peer-world.ts';

/** Streams from address keys: `waiting('a', 'a', 'b')` is a0, a1, b2, oldest first. */
function waiting(...keys: string[]): WaitingStream[] {
  return keys.map((key, index) => ({ streamId: `${key}${index}`, addressKey: key }));
}

describe('streamToEvict: who gives way when every slot is taken', () => {
  it('nothing waiting: nothing to reset, the newcomer is refused', () => {
    expect(streamToEvict([], 'c')).toBeNull();
  });

  it('the oldest stream of the address key holding the most gives way to a key holding fewer', () => {
    expect(streamToEvict(waiting('a', 'a'), 'c')).toBe('a0');
    expect(streamToEvict(waiting('b', 'a', 'a', 'a'), 'c')).toBe('a1');
    expect(streamToEvict(waiting('a', 'a', 'a', 'b'), 'b')).toBe('a0');
  });

  it('refused when giving way would leave the fullest key with fewer than the newcomer: no two keys push each other out in turn', () => {
    // a would hold 0 against c's 1.
    expect(streamToEvict(waiting('a'), 'c')).toBeNull();
    // a would hold 1 against b's 2.
    expect(streamToEvict(waiting('a', 'a', 'b'), 'b')).toBeNull();
  });

  it("the fullest key's own newcomer is refused", () => {
    expect(streamToEvict(waiting('a', 'a', 'a', 'b'), 'a')).toBeNull();
  });

  it('between keys holding the most alike, the one that came first gives way', () => {
    expect(streamToEvict(waiting('a', 'b', 'a', 'b'), 'c')).toBe('a0');
    expect(streamToEvict(waiting('b', 'a', 'a', 'b'), 'c')).toBe('b0');
  });
});

/** bob's P2P effects from now on: which streams he reset. */
function resetsOf(world: World): string[] {
  const resets: string[] = [];
  const machine = world.peer('bob');
  const take = machine.takeEffects.bind(machine);
  machine.takeEffects = () => {
    const effects = take();
    for (const effect of effects) if (effect.type === 'p2p.reset') resets.push(effect.streamId);
    return effects;
  };
  return resets;
}

/** A silent stream accepted by bob from `remoteAddress`. */
function silent(world: World, streamId: string, remoteAddress: string): void {
  world.input('bob', { type: 'p2p.accepted', streamId, remoteAddress, peerKey: null });
}

describe('the peer machine with every slot held by one address', () => {
  it("a friend from another address still gets in: the hog's oldest stream gives way, its own next one is refused", () => {
    const world = twoFriends();
    const resets = resetsOf(world);
    for (let i = 0; i < P2P_UNAUTHENTICATED_STREAMS_MAX; i++) silent(world, `hog:${i}`, '10.0.0.9');
    expect(resets).toEqual([]);
    silent(world, 'hog:extra', '10.0.0.9');
    expect(resets).toEqual(['hog:extra']);
    // alice's connection comes from 127.0.0.1 in this world.
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    expect(resets).toEqual(['hog:extra', 'hog:0']);
    // A slot is free again (the stream that gave way is gone, alice's is open): the next one gets in.
    silent(world, 'late', '10.0.0.10');
    expect(resets).toEqual(['hog:extra', 'hog:0']);
    // The other streams time out, each reset once; none that was reset already is reset again.
    world.advance(P2P_HELLO_TIMEOUT_MS);
    const everyOther = Array.from({ length: P2P_UNAUTHENTICATED_STREAMS_MAX - 1 }, (_, i) => `hog:${i + 1}`);
    expect([...resets].sort()).toEqual(['hog:extra', 'hog:0', ...everyOther, 'late'].sort());
    // The session alice opened was never at risk.
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
  });

  it('the stream that gave way takes its hello timer along: a later stream under the same id gets its full wait', () => {
    const world = twoFriends();
    const resets = resetsOf(world);
    for (let i = 0; i < P2P_UNAUTHENTICATED_STREAMS_MAX; i++) silent(world, `hog:${i}`, '10.0.0.9');
    silent(world, 'friend', '10.0.0.10');
    expect(resets).toEqual(['hog:0']);
    world.advance(P2P_HELLO_TIMEOUT_MS / 2);
    // Full again: this one makes hog:1 give way, and reuses the id of the first that did.
    silent(world, 'hog:0', '10.0.0.11');
    expect(resets).toEqual(['hog:0', 'hog:1']);
    world.advance(P2P_HELLO_TIMEOUT_MS / 2);
    // The first hog:0's wait ended now: the stream under its id now is not reset with it.
    expect(resets.filter((id) => id === 'hog:0')).toHaveLength(1);
    world.advance(P2P_HELLO_TIMEOUT_MS / 2);
    expect(resets.filter((id) => id === 'hog:0')).toHaveLength(2);
  });

  it('an IPv4-mapped address counts as its IPv4 address: the hog cannot pass its own newcomer off as another key', () => {
    const world = twoFriends();
    const resets = resetsOf(world);
    for (let i = 0; i < P2P_UNAUTHENTICATED_STREAMS_MAX; i++) silent(world, `hog:${i}`, '10.0.0.9');
    silent(world, 'hog:mapped', '::ffff:10.0.0.9');
    expect(resets).toEqual(['hog:mapped']);
  });

  it('a quitting client refuses every stream it is offered, with slots to spare', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'quit' } });
    const from = client.effects.length;
    client.input({ type: 'p2p.accepted', streamId: 'in:late', remoteAddress: '10.0.0.9', peerKey: null });
    expect(client.effects.slice(from)).toContainEqual({ type: 'p2p.reset', streamId: 'in:late' });
  });
});
