/**
 * A caller who says hello after the callee let the session token expire (its session.established
 * was held up: in the swarm that found it, a partition of the caller) is told so,
 * SESSION_TOKEN_EXPIRED, and its chat.open fails `session-token-expired`: a user or a script tells
 * a late caller from a guessed, replayed or never-issued token, which stay BAD_SESSION_TOKEN.
 *
 * Found by a corpus swarm over server-crash-during-brokering.yaml (root seed 13, run seed
 * 664244377); before, the late caller got `bad-session-token`, the answer to an attack.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { P2P_HELLO_TIMEOUT_MS, P2P_TOKEN_EXPIRED_KEPT_MS } from '../../../core/limits.ts';
import { World, heldCallerToken, twoFriends } from './peer-world.ts';

/** A raw hello to bob's P2P port (as a hostile peer or a stale client sends it): the error code bob answers, or 'accepted'. */
function helloToBob(world: World, username: string, token: string): string {
  const bob = world.peer('bob');
  const streamId = `raw:${username}:${token}`;
  bob.handle({ type: 'p2p.accepted', streamId, remoteAddress: '127.0.0.1', peerKey: world.peer(username)?.config.identity?.signKey ?? null }, world.nowMs);
  bob.handle({ type: 'p2p.bytes', streamId, bytes: encodeControl({ type: 'hello', username, token }) }, world.nowMs);
  for (const effect of bob.takeEffects()) {
    if (effect.type !== 'p2p.send' || effect.streamId !== streamId) continue;
    if (effect.frame.type === 'hello.ok') return 'accepted';
    if (effect.frame.type === 'error') return effect.frame.code;
  }
  return 'no answer';
}

describe('a hello that comes after the callee let the token expire', () => {
  it('is refused SESSION_TOKEN_EXPIRED, and the caller is told chat.failed session-token-expired', () => {
    const { world } = heldCallerToken();
    world.advance(P2P_HELLO_TIMEOUT_MS + 1);
    // Bob gave up waiting for the hello, as before.
    expect(world.eventsOf('bob', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'timeout', incoming: true }]);
    world.releaseHeld();
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'session-token-expired' }]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([]);
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([]);
    // A new request opens the session as usual.
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('bob', { cmd: 'chat.answer', username: 'alice', accept: true });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
  });

  it('in time, the same held-up frame still opens the session', () => {
    const { world } = heldCallerToken();
    world.advance(P2P_HELLO_TIMEOUT_MS - 1);
    world.releaseHeld();
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
  });

  it('is answered so once: the same token again is a replay (BAD_SESSION_TOKEN)', () => {
    const { world, token } = heldCallerToken();
    world.advance(P2P_HELLO_TIMEOUT_MS + 1);
    expect(helloToBob(world, 'alice', token)).toBe('SESSION_TOKEN_EXPIRED');
    expect(helloToBob(world, 'alice', token)).toBe('BAD_SESSION_TOKEN');
  });

  it('a guessed token, the expired token under another name, or one past P2P_TOKEN_EXPIRED_KEPT_MS stay BAD_SESSION_TOKEN', () => {
    const { world, token } = heldCallerToken();
    world.advance(P2P_HELLO_TIMEOUT_MS + 1);
    expect(helloToBob(world, 'alice', 'guessed-token-000000000')).toBe('BAD_SESSION_TOKEN');
    expect(helloToBob(world, 'mallory', token)).toBe('BAD_SESSION_TOKEN');
    world.advance(P2P_TOKEN_EXPIRED_KEPT_MS);
    expect(helloToBob(world, 'alice', token)).toBe('BAD_SESSION_TOKEN');
  });

  it('a token the callee stopped holding because its login ended is told expired too, even while logged out', () => {
    const { world } = heldCallerToken();
    world.command('bob', { cmd: 'logout' });
    expect(world.eventsOf('bob', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'logged-out', incoming: true }]);
    world.releaseHeld();
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'session-token-expired' }]);
  });

  it('a token used once stays BAD_SESSION_TOKEN when replayed, expired or not', () => {
    const { world, token } = heldCallerToken();
    world.releaseHeld();
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    expect(helloToBob(world, 'alice', token)).toBe('BAD_SESSION_TOKEN');
    world.advance(P2P_HELLO_TIMEOUT_MS + 1);
    expect(helloToBob(world, 'alice', token)).toBe('BAD_SESSION_TOKEN');
  });
});
