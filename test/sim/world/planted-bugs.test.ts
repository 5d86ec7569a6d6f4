/**
 * The planted bug is exactly the bug it names, planted from outside core/ (sim/world/planted-bugs.ts):
 * a TTL expiry no longer tells the friends, and nothing else changes. Without a bug named, the
 * factory builds the shipped machine untouched.
 */
import { describe, expect, it } from 'vitest';
import { ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore } from '../../../core/store.ts';
import { newServerMachine } from '../../../sim/world/planted-bugs.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

const TTL_MS = 30_000;

function friendsOnline(plantedBug?: 'skip-offline-presence'): { h: ServerHarness; alice: number; bob: number } {
  const h = new ServerHarness({ ttlMs: TTL_MS, store: storeWith(['alice', 'bob'], [['alice', 'bob']]), ...(plantedBug === undefined ? {} : { plantedBug }) });
  const bob = h.login('bob');
  const alice = h.login('alice');
  h.drain(alice);
  h.drain(bob);
  return { h, alice, bob };
}

describe('skip-offline-presence, planted from sim/', () => {
  it('a TTL expiry sends the friend no offline presence, where the shipped machine sends one', () => {
    const healthy = friendsOnline();
    healthy.h.send(healthy.bob, { type: 'heartbeat' });
    healthy.h.advance(TTL_MS / 2);
    healthy.h.send(healthy.bob, { type: 'heartbeat' });
    healthy.h.advance(TTL_MS / 2 + 1);
    expect(healthy.h.framesOf(healthy.bob, 'presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);

    const bugged = friendsOnline('skip-offline-presence');
    bugged.h.send(bugged.bob, { type: 'heartbeat' });
    bugged.h.advance(TTL_MS / 2);
    bugged.h.send(bugged.bob, { type: 'heartbeat' });
    bugged.h.advance(TTL_MS / 2 + 1);
    expect(bugged.h.machine.isOnline('alice')).toBe(false);
    expect(bugged.h.framesOf(bugged.bob, 'presence')).toEqual([]);
    // The rest of the expiry happens: alice is told, as on the shipped machine.
    expect(bugged.h.errors(bugged.alice)).toEqual(healthy.h.errors(healthy.alice));
  });

  it('a logout still tells the friend', () => {
    const { h, alice, bob } = friendsOnline('skip-offline-presence');
    h.send(alice, { type: 'logout' });
    expect(h.framesOf(bob, 'presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
  });

  it('without a bug named, the factory builds the shipped machine itself', () => {
    const machine = newServerMachine(new MemoryStore().load(), { newToken: () => 't' });
    expect(Object.getPrototypeOf(machine)).toBe(ServerMachine.prototype);
  });
});
