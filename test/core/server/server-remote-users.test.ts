/**
 * A clustered machine's users held by other nodes (remote.attached / remote.offline from
 * core/server/cluster.ts): the friends held here are told when this node's view of such a user
 * changes, and a user whose account this node has not heard of yet (its sign-up's ops still on
 * the bus) comes and goes with nothing to tell.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_OUTCOMES_HELD_MAX, SESSION_REQUESTS_PENDING_PER_USER_MAX } from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

/** A clustered node holding alice and bob, friends; alice's session request to bob pending here. */
function aliceAskedBob(): { h: ServerHarness; alice: number; bob: number; requestId: string } {
  const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
  const alice = h.login('alice');
  const bob = h.login('bob');
  h.send(alice, { type: 'session.request', id: 1, username: 'bob' });
  const requestId = h.framesOf(alice, 'session.pending')[0]!.requestId;
  return { h, alice, bob, requestId };
}

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

  it('a login on a node of a cluster announces the user attached here, with the resume token its login.ok gave', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice']) });
    const alice = h.login('alice');
    expect(h.jobLog.filter((e) => e.type === 'announce')).toEqual([{ type: 'announce', item: { kind: 'attached', username: 'alice', resumeToken: h.tokenOf(alice), passwordLogin: true } }]);
    h.close(alice);
    h.resume('alice', h.tokenOf(alice));
    expect(h.jobLog.filter((e) => e.type === 'announce').at(-1)).toEqual({ type: 'announce', item: { kind: 'attached', username: 'alice', resumeToken: expect.any(String) } });
  });

  it("a password login on another node ends the session requests the user's previous program made here: the callee is told cancelled, the new program nothing", () => {
    const { h, alice, bob, requestId } = aliceAskedBob();
    h.inbox.set(900, []);
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta', passwordLogin: true });
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId, from: 'alice', reason: 'cancelled' }]);
    expect(h.framesOf(alice, 'session.failed')).toEqual([]);
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'LOGGED_IN_ELSEWHERE' });
    expect(h.frames(900)).toEqual([]);
    expect(h.machine.stats().pendingSessionRequests).toBe(0);
  });

  it('a resume on another node keeps the requests the user made here, and their outcome reaches it there', () => {
    const { h, alice, bob, requestId } = aliceAskedBob();
    h.close(alice);
    h.inbox.set(900, []);
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    expect(h.machine.stats().pendingSessionRequests).toBe(1);
    h.send(bob, { type: 'session.answer', id: 2, requestId, accept: false });
    expect(h.frames(900)).toEqual([{ type: 'session.failed', requestId, username: 'bob', reason: 'rejected' }]);
  });

  it('a node announces on the bus only the logouts of users it holds, and a single server announces nothing', () => {
    const single = new ServerHarness({ store: storeWith(['alice']) });
    single.send(single.login('alice'), { type: 'logout', id: 1 });
    expect(single.jobLog.filter((e) => e.type === 'announce')).toEqual([]);
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob']) });
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    h.input({ type: 'remote.offline', username: 'alice', connId: 900 });
    h.send(h.login('bob'), { type: 'logout', id: 1 });
    expect(h.jobLog.filter((e) => e.type === 'announce' && e.item.kind === 'offline')).toEqual([{ type: 'announce', item: { kind: 'offline', username: 'bob' } }]);
  });

  it('a resume here for a user held elsewhere whose account this node has not heard of yet is BAD_RESUME_TOKEN, whatever the token', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice']) });
    h.input({ type: 'remote.attached', username: 'newcomer', connId: 901, resumeToken: 'tn' });
    const c = h.resume('newcomer', 'tn');
    expect(h.errors(c)).toEqual(['BAD_RESUME_TOKEN']);
    expect(h.framesOf(c, 'login.ok')).toEqual([]);
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

describe('session requests across nodes', () => {
  /** alice and bob, friends; `held` are logged in here, the others held by another node through proxies. */
  function cluster(held: readonly string[]): { h: ServerHarness; conns: Record<string, number>; forwards: () => number } {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const conns: Record<string, number> = {};
    for (const username of held) conns[username] = h.login(username);
    const forwards = (): number => h.jobLog.filter((e) => e.type === 'forward').length;
    return { h, conns, forwards };
  }

  /** alice held elsewhere (proxy 900) asks bob held here: the request lives on alice's node. */
  function incoming(h: ServerHarness, requestId: string): void {
    h.input({ type: 'remote.deliver', username: 'bob', frame: { type: 'session.incoming', requestId, from: 'alice', timeoutMs: 30_000 } });
  }

  /** bob logged in here, alice held by another node (proxy 900): where bob's answers go to alice's node. */
  function bobAskedFromElsewhere(): { h: ServerHarness; bob: number; forwards: () => number } {
    const { h, conns, forwards } = cluster(['bob']);
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    return { h, bob: conns.bob as number, forwards };
  }

  it('an answer to a request from another node is forwarded once; a second answer finds no request', () => {
    const { h, bob, forwards } = bobAskedFromElsewhere();
    incoming(h, 'n1.s1');
    h.send(bob, { type: 'session.answer', id: 1, requestId: 'n1.s1', accept: false });
    expect(forwards()).toBe(1);
    h.send(bob, { type: 'session.answer', id: 2, requestId: 'n1.s1', accept: false });
    expect(forwards()).toBe(1);
    expect(h.last(bob)).toMatchObject({ type: 'error', re: 2, code: 'NO_SUCH_SESSION_REQUEST' });
  });

  it('a request from another node that ended there (withdrawn) is forgotten here; another one still pending is still forwarded', () => {
    const { h, bob, forwards } = bobAskedFromElsewhere();
    incoming(h, 'n1.s1');
    incoming(h, 'n1.s2');
    h.input({ type: 'remote.deliver', username: 'bob', frame: { type: 'session.withdrawn', requestId: 'n1.s1', from: 'alice', reason: 'cancelled' } });
    h.send(bob, { type: 'session.answer', id: 1, requestId: 'n1.s1', accept: true, port: 5000 });
    expect(h.last(bob)).toMatchObject({ type: 'error', re: 1, code: 'NO_SUCH_SESSION_REQUEST' });
    expect(forwards()).toBe(0);
    h.send(bob, { type: 'session.answer', id: 2, requestId: 'n1.s2', accept: true, port: 5000 });
    expect(forwards()).toBe(1);
  });

  it(`at most ${SESSION_REQUESTS_PENDING_PER_USER_MAX} requests from other nodes are kept per callee: one more forgets the oldest`, () => {
    const { h, bob, forwards } = bobAskedFromElsewhere();
    for (let i = 0; i <= SESSION_REQUESTS_PENDING_PER_USER_MAX; i++) incoming(h, `n1.s${i}`);
    h.send(bob, { type: 'session.answer', id: 1, requestId: 'n1.s0', accept: false });
    expect(h.last(bob)).toMatchObject({ type: 'error', re: 1, code: 'NO_SUCH_SESSION_REQUEST' });
    h.send(bob, { type: 'session.answer', id: 2, requestId: 'n1.s1', accept: false });
    expect(forwards()).toBe(1);
  });

  it('an answer to a request from a caller that has since come to this node is not forwarded (its request ended with its old node)', () => {
    const { h, bob, forwards } = bobAskedFromElsewhere();
    incoming(h, 'n1.s1');
    h.login('alice');
    h.send(bob, { type: 'session.answer', id: 1, requestId: 'n1.s1', accept: false });
    expect(forwards()).toBe(0);
    expect(h.last(bob)).toMatchObject({ type: 'error', re: 1, code: 'NO_SUCH_SESSION_REQUEST' });
  });

  it('a callee that moved to another node and came back forgets the requests it was asked here before', () => {
    const { h, bob, forwards } = bobAskedFromElsewhere();
    incoming(h, 'n1.s1');
    h.input({ type: 'remote.attached', username: 'bob', connId: 901, resumeToken: 'tb' });
    const back = h.login('bob');
    expect(bob).not.toBe(back);
    h.send(back, { type: 'session.answer', id: 1, requestId: 'n1.s1', accept: false });
    expect(forwards()).toBe(0);
    expect(h.last(back)).toMatchObject({ type: 'error', re: 1, code: 'NO_SUCH_SESSION_REQUEST' });
  });

  it('a caller detached here that moves to another node and comes back is not told the outcomes it missed here (they are stale)', () => {
    const { h, conns } = cluster(['alice', 'bob']);
    h.send(conns.alice as number, { type: 'session.request', username: 'bob' });
    const requestId = h.framesOf(conns.alice as number, 'session.pending')[0]?.requestId ?? '';
    h.close(conns.alice as number);
    h.send(conns.bob as number, { type: 'session.answer', requestId, accept: true, port: 5000 });
    h.input({ type: 'remote.attached', username: 'alice', connId: 900, resumeToken: 'ta' });
    const back = h.login('alice');
    expect(h.framesOf(back, 'session.established')).toEqual([]);
  });

  it('an answer from another node counts only from the proxy that holds the callee now, and never for a callee held here', () => {
    const { h, conns } = cluster(['alice']);
    h.inbox.set(900, []);
    h.input({ type: 'remote.attached', username: 'bob', connId: 900, resumeToken: 'tb' });
    h.send(conns.alice as number, { type: 'session.request', username: 'bob' });
    const requestId = h.framesOf(conns.alice as number, 'session.pending')[0]?.requestId ?? '';
    const answer = { type: 'session.answer', requestId, accept: false } as const;
    h.input({ type: 'remote.answer', username: 'bob', connId: 901, remoteAddress: '10.0.0.2', frame: answer });
    h.input({ type: 'remote.answer', username: 'alice', connId: conns.alice as number, remoteAddress: '10.0.0.2', frame: answer });
    expect(h.framesOf(conns.alice as number, 'session.failed')).toEqual([]);
    expect(h.errors(conns.alice as number)).toEqual([]);
    h.input({ type: 'remote.answer', username: 'bob', connId: 900, remoteAddress: '10.0.0.2', frame: answer });
    expect(h.framesOf(conns.alice as number, 'session.failed')).toEqual([expect.objectContaining({ requestId, reason: 'rejected' })]);
    expect(h.frames(900)).toContainEqual(expect.objectContaining({ type: 'session.answered', requestId }));
  });

  it('only the node holding a user says it went offline: a word from an older proxy, or about a user held here, changes nothing', () => {
    const { h, conns } = cluster(['alice']);
    h.input({ type: 'remote.attached', username: 'bob', connId: 900, resumeToken: 'tb' });
    h.input({ type: 'remote.attached', username: 'bob', connId: 901, resumeToken: 'tb2' });
    h.input({ type: 'remote.offline', username: 'bob', connId: 900 });
    h.input({ type: 'remote.offline', username: 'alice', connId: conns.alice as number });
    expect(h.machine.isOnline('bob')).toBe(true);
    expect(h.machine.isOnline('alice')).toBe(true);
    expect(h.framesOf(conns.alice as number, 'presence').map((f) => f.status)).toEqual(['online']);
  });

  it('a frame another node meant for a user held here is not sent on when that user is held elsewhere now', () => {
    const { h } = cluster([]);
    h.inbox.set(900, []);
    h.input({ type: 'remote.attached', username: 'bob', connId: 900, resumeToken: 'tb' });
    incoming(h, 'n1.s1');
    expect(h.frames(900)).toEqual([]);
  });
});

describe('words from other nodes about users not online here', () => {
  it('an offline, a frame or an answer for a user not online here changes nothing and throws nothing', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const before = h.frames(alice).length;
    h.input({ type: 'remote.offline', username: 'bob', connId: 900 });
    h.input({ type: 'remote.deliver', username: 'bob', frame: { type: 'presence', username: 'alice', status: 'online' } });
    h.input({ type: 'remote.answer', username: 'bob', connId: 900, remoteAddress: '10.0.0.2', frame: { type: 'session.answer', requestId: 's1', accept: false } });
    expect(h.frames(alice)).toHaveLength(before);
    expect(h.machine.isOnline('bob')).toBe(false);
  });
});

describe('outcomes held for a detached user', () => {
  it(`at most ${SESSION_OUTCOMES_HELD_MAX} are held and replayed on resume: the newest, in order`, () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const token = h.tokenOf(alice);
    h.close(alice);
    for (let i = 0; i <= SESSION_OUTCOMES_HELD_MAX; i++) {
      h.input({ type: 'remote.deliver', username: 'alice', frame: { type: 'session.failed', requestId: `n1.s${i}`, username: 'bob', reason: 'rejected' } });
    }
    const back = h.resume('alice', token);
    const replayed = h.framesOf(back, 'session.failed').map((f) => f.requestId);
    expect(replayed).toEqual(Array.from({ length: SESSION_OUTCOMES_HELD_MAX }, (_, i) => `n1.s${i + 1}`));
  });
});
