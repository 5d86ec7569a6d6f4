/**
 * A clustered machine's users held by other nodes (remote.attached / remote.offline from
 * core/server/cluster.ts): the friends held here are told when this node's view of such a user
 * changes, and a user whose account this node has not heard of yet (its sign-up's ops still on
 * the bus) comes and goes with nothing to tell.
 */
import { describe, expect, it } from 'vitest';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

describe('users held by other nodes', () => {
  it('a friend held elsewhere coming and going is told to the friends held here', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    h.input({ type: 'remote.attached', username: 'bob', connId: 900, resumeToken: 'tb' });
    h.input({ type: 'remote.offline', username: 'bob', connId: 900 });
    expect(h.framesOf(alice, 'presence').map((f) => [f.username, f.status])).toEqual([
      ['bob', 'online'],
      ['bob', 'offline'],
    ]);
  });

  it('a user whose account this node has not heard of yet comes online and goes offline elsewhere without a presence to anyone', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice']) });
    const alice = h.login('alice');
    const before = h.frames(alice).length;
    h.input({ type: 'remote.attached', username: 'newcomer', connId: 901, resumeToken: 'tn' });
    h.input({ type: 'remote.offline', username: 'newcomer', connId: 901 });
    expect(h.frames(alice)).toHaveLength(before);
  });
});
