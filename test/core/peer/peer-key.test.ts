/**
 * The P2P link is the friend's only if it proves the key the server vouched for: in the pure
 * world (real server and peer machines), a man in the middle at either end is refused with
 * PEER_KEY_MISMATCH and learns nothing: the caller sends no hello (no token), the callee keeps
 * the token and opens no session.
 */
import { describe, expect, it } from 'vitest';
import type { IdentityKeys } from '../../../core/identity.ts';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { World, recordEffects } from './peer-world.ts';

function keys(seed: string): IdentityKeys {
  const body = seed.repeat(43).slice(0, 43);
  return { signKey: `MCowBQYDK2VwAyEA${body}=`, sealKey: `MCowBQYDK2VuAyEA${body}=` };
}

function friends(): World {
  const world = new World();
  world.addPeer('alice', 7001, { identity: keys('A') });
  world.addPeer('bob', 7002, { identity: keys('B'), autoAcceptChat: true });
  for (const name of ['alice', 'bob']) {
    world.command(name, { cmd: 'signup', username: name, password: `${name}-password` });
    world.command(name, { cmd: 'login', username: name, password: `${name}-password` });
  }
  world.command('alice', { cmd: 'friend.request', username: 'bob' });
  world.command('bob', { cmd: 'friend.accept', username: 'alice' });
  return world;
}

describe('peer keys on the P2P link', () => {
  it('opens the session when both sides prove the keys the server vouched for', () => {
    const world = friends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    expect(world.eventsOf('bob', 'chat.opened')).toHaveLength(1);
  });

  it("the caller's connect names whom it is meant to reach, the friend and the key vouched for them (what a transport resumes by, never a proof)", () => {
    const world = friends();
    const effects = recordEffects(world, 'alice');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(effects.filter((effect) => effect.type === 'p2p.connect')).toEqual([
      { type: 'p2p.connect', streamId: expect.any(String), host: expect.any(String), port: 7002, friend: 'bob', vouchedKey: keys('B').signKey },
    ]);
  });

  it('caller: a callee proving another key is refused before the hello, the error telling the two keys apart by a short hint', () => {
    const world = friends();
    world.presentedKey.set('bob', keys('M').signKey);
    const sent: P2pFrame[] = [];
    const alice = world.peers.get('alice')!;
    const take = alice.takeEffects.bind(alice);
    alice.takeEffects = () => {
      const effects = take();
      for (const effect of effects) if (effect.type === 'p2p.send') sent.push(effect.frame);
      return effects;
    };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // The hint is 12 characters of each key past the algorithm prefix all Ed25519 keys share.
    expect(world.eventsOf('alice', 'error')).toMatchObject([{ code: 'PEER_KEY_MISMATCH', username: 'bob', detail: 'expected BBBBBBBBBBBB, the peer proved MMMMMMMMMMMM' }]);
    expect(world.eventsOf('alice', 'chat.failed')).toMatchObject([{ username: 'bob', reason: 'peer-key-mismatch' }]);
    expect(sent.filter((frame) => frame.type === 'hello')).toEqual([]);
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([]);
  });

  it('callee: a caller with the right token proving another key (here none) is refused, and no session opens', () => {
    const world = friends();
    world.presentedKey.set('alice', null);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'error')).toMatchObject([{ code: 'PEER_KEY_MISMATCH', username: 'alice', detail: 'expected AAAAAAAAAAAA, the peer proved none' }]);
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([]);
  });

  it('with checkPeerKeys off (a plain-TCP lab) no key is asked for', () => {
    const world = new World();
    world.addPeer('alice', 7001, { identity: keys('A'), checkPeerKeys: false });
    world.addPeer('bob', 7002, { identity: keys('B'), autoAcceptChat: true, checkPeerKeys: false });
    for (const name of ['alice', 'bob']) {
      world.command(name, { cmd: 'signup', username: name, password: `${name}-password` });
      world.command(name, { cmd: 'login', username: name, password: `${name}-password` });
    }
    world.command('alice', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'friend.accept', username: 'alice' });
    world.presentedKey.set('alice', null);
    world.presentedKey.set('bob', null);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
  });
});

describe("a callee's refusal of our hello", () => {
  it("reads as its own code when it is one a callee refuses with, and as peer-error otherwise: a hostile friend cannot pass its refusal off as the server's 'rejected'", () => {
    for (const [sent, reason] of [
      ['PEER_KEY_MISMATCH', 'peer-key-mismatch'],
      ['BAD_FRAME', 'bad-frame'],
      ['BAD_SESSION_TOKEN', 'bad-session-token'],
      ['NOT_FRIENDS', 'not-friends'],
      ['SESSION_TOKEN_EXPIRED', 'session-token-expired'],
      ['REJECTED', 'peer-error'],
      ['OFFLINE', 'peer-error'],
      ['SERVER_UNAVAILABLE', 'peer-error'],
    ] as const) {
      const world = friends();
      // Bob refuses alice (she proves no key); his error's code is rewritten on the wire.
      world.presentedKey.set('alice', null);
      world.p2pRewrite = (from, frame) => (from === 'bob' && frame.type === 'error' ? { ...frame, code: sent } : frame);
      world.command('alice', { cmd: 'chat.open', username: 'bob' });
      expect(world.eventsOf('alice', 'chat.failed'), sent).toEqual([{ event: 'chat.failed', username: 'bob', reason }]);
    }
  });
});
