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

  it('a user held here who moves to another node is reached through its proxy there: a friend here can still ask it for a session', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.inbox.set(900, []);
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'LOGGED_IN_ELSEWHERE' });
    h.send(bob, { type: 'session.request', id: 3, username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'session.pending', re: 3, username: 'alice' });
    expect(h.frames(900)).toEqual([expect.objectContaining({ type: 'session.incoming', from: 'bob' })]);
  });

  it('an account another node says it created, already known here, keeps its friends; other account changes it made apply here', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    h.input({ type: 'remote.ops', ops: [{ op: 'account.create', username: 'alice', nickname: 'alice', passwordHash: 'h', createdAtMs: 0 }] });
    expect([...h.machine.friendsOf('alice')]).toEqual(['bob']);
    h.input({ type: 'remote.ops', ops: [{ op: 'account.nickname', username: 'alice', nickname: 'Alice B.' }] });
    const bob = h.login('bob');
    expect(h.last(bob)).toMatchObject({ type: 'login.ok', friends: [expect.objectContaining({ username: 'alice', nickname: 'Alice B.' })] });
  });

  it("an answer to a request held on another node is forwarded, unless the node knows it lost the bus: then SERVER_DEGRADED (a lost store alone forwards)", () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const bob = h.login('bob');
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    h.input({ type: 'remote.deliver', username: 'bob', frame: { type: 'session.incoming', requestId: 'n1.s1', from: 'alice', timeoutMs: 30_000 } });
    h.drain(bob);
    const forwards = (): number => h.jobLog.filter((e) => e.type === 'forward').length;
    for (const health of [{ healthy: false, bus: false }, { healthy: false }]) {
      h.input({ type: 'cluster.health', ...health });
      h.send(bob, { type: 'session.answer', id: 7, requestId: 'n1.s1', accept: true, port: 5000 });
      // The callee is told its yes went nowhere, not only that the node is degraded.
      expect(h.drain(bob)).toEqual([expect.objectContaining({ type: 'error', re: 7, code: 'SERVER_DEGRADED', detail: expect.stringContaining('the answer was not passed on') })]);
      expect(forwards()).toBe(0);
    }
    // The store lost, the bus still heard: the answer can reach the caller's node.
    h.input({ type: 'cluster.health', healthy: false, bus: true });
    h.send(bob, { type: 'session.answer', id: 8, requestId: 'n1.s1', accept: true, port: 5000 });
    expect(forwards()).toBe(1);
    expect(h.errors(bob).filter((code) => code !== 'SERVER_DEGRADED')).toEqual([]);
  });
});
