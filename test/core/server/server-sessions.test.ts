/**
 * The seed's create-chat-session use case on the server machine: the main flow (accept, with the
 * callee's address and a one-time token to both), its exception flows (reject, timeout) and every
 * other way a request can end or be refused.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_REQUESTS_PENDING_PER_USER_MAX, SESSION_REQUESTS_PER_USER_BURST } from '../../../core/limits.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

const SESSION_TIMEOUT_MS = 10_000;

/** alice and bob are friends and online; carol is online but nobody's friend; dave is a friend, offline. */
function friends(): { h: ServerHarness; alice: number; bob: number; carol: number; aliceToken: string } {
  const h = new ServerHarness({
    sessionTimeoutMs: SESSION_TIMEOUT_MS,
    store: storeWith(['alice', 'bob', 'carol', 'dave'], [['alice', 'bob'], ['alice', 'dave']]),
  });
  const alice = h.login('alice');
  const bob = h.login('bob');
  const carol = h.login('carol');
  const aliceToken = h.tokenOf(alice);
  for (const c of [alice, bob, carol]) h.drain(c);
  return { h, alice, bob, carol, aliceToken };
}

/** alice asks bob; returns the requestId bob was given. */
function ask(h: ServerHarness, alice: number, bob: number): string {
  h.send(alice, { type: 'session.request', id: 1, username: 'bob' });
  const pending = h.framesOf(alice, 'session.pending').at(-1)!;
  const incoming = h.framesOf(bob, 'session.incoming').at(-1)!;
  expect(incoming.requestId).toBe(pending.requestId);
  return pending.requestId;
}

describe('create chat session (seed use case 1.3.4)', () => {
  it('main flow: the callee is asked; on accept both get session.established with one shared token, the caller also the address', () => {
    const { h, alice, bob } = friends();
    h.send(alice, { type: 'session.request', id: 1, username: 'bob' });
    const pending = h.framesOf(alice, 'session.pending')[0]!;
    expect(pending).toMatchObject({ re: 1, username: 'bob', timeoutMs: SESSION_TIMEOUT_MS });
    expect(h.frames(bob)).toEqual([{ type: 'session.incoming', requestId: pending.requestId, from: 'alice', timeoutMs: SESSION_TIMEOUT_MS }]);
    h.drain(bob);
    h.send(bob, { type: 'session.answer', id: 2, requestId: pending.requestId, accept: true, host: '192.0.2.7', port: 40_000 });
    const [answered, calleeSide] = h.frames(bob);
    expect(answered).toEqual({ type: 'session.answered', re: 2, requestId: pending.requestId, accept: true });
    expect(calleeSide).toMatchObject({ type: 'session.established', requestId: pending.requestId, username: 'alice', role: 'callee' });
    // The callee's own address is not echoed back to it; only the caller needs it.
    expect(calleeSide).not.toHaveProperty('host', expect.anything());
    const callerSide = h.framesOf(alice, 'session.established')[0]!;
    // The host is where the server sees bob (the harness default), not the one bob named.
    expect(callerSide).toMatchObject({ requestId: pending.requestId, username: 'bob', role: 'caller', host: '10.0.0.1', port: 40_000 });
    expect(callerSide.token).toBe(calleeSide?.type === 'session.established' ? calleeSide.token : undefined);
    expect(h.machine.stats().pendingSessionRequests).toBe(0);
    expect(h.machine.stats().sessions).toMatchObject({ established: 1 });
  });

  it('each session gets a fresh one-time token', () => {
    const { h, alice, bob } = friends();
    for (let i = 0; i < 3; i++) {
      const id = ask(h, alice, bob);
      h.send(bob, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 1 });
    }
    const tokens = h.framesOf(alice, 'session.established').map((f) => f.token);
    expect(new Set(tokens).size).toBe(3);
  });

  it('exception 2a: the callee rejects; the caller gets session.failed rejected; nothing is established', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'session.answer', requestId: id, accept: false });
    expect(h.last(bob)).toMatchObject({ type: 'session.answered', requestId: id, accept: false });
    expect(h.framesOf(alice, 'session.failed')).toEqual([{ type: 'session.failed', requestId: id, username: 'bob', reason: 'rejected' }]);
    expect(h.framesOf(alice, 'session.established')).toEqual([]);
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([]);
  });

  it('exception 2b: no answer before the timeout; the caller gets timeout, the callee session.withdrawn; not a moment early', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.advance(SESSION_TIMEOUT_MS - 1);
    expect(h.framesOf(alice, 'session.failed')).toEqual([]);
    h.advance(1);
    expect(h.framesOf(alice, 'session.failed')).toEqual([{ type: 'session.failed', requestId: id, username: 'bob', reason: 'timeout' }]);
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: id, from: 'alice', reason: 'timeout' }]);
    h.send(bob, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 1 });
    expect(h.errors(bob)).toEqual(['NO_SUCH_SESSION_REQUEST']);
    expect(h.framesOf(alice, 'session.established')).toEqual([]);
  });

  it('the caller cancels: cancelled to the caller (echoing its id), withdrawn to the callee', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(alice, { type: 'session.cancel', id: 7, requestId: id });
    expect(h.framesOf(alice, 'session.failed')).toEqual([{ type: 'session.failed', re: 7, requestId: id, username: 'bob', reason: 'cancelled' }]);
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: id, from: 'alice', reason: 'cancelled' }]);
    h.advance(SESSION_TIMEOUT_MS);
    expect(h.framesOf(alice, 'session.failed')).toHaveLength(1);
  });

  it('cancelling or answering a request id nobody knows is NO_SUCH_SESSION_REQUEST', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'session.cancel', id: 1, requestId: 'nothing' });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 1, code: 'NO_SUCH_SESSION_REQUEST' });
    h.send(alice, { type: 'session.answer', id: 2, requestId: 'nothing', accept: false });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 2, code: 'NO_SUCH_SESSION_REQUEST' });
  });

  it(`requests that ended free their places: more than ${SESSION_REQUESTS_PENDING_PER_USER_MAX} one after another never meet 'too-many-requests'`, () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    for (let i = 0; i <= SESSION_REQUESTS_PENDING_PER_USER_MAX; i++) {
      h.advance(5_000);
      h.send(alice, { type: 'session.request', id: i, username: 'bob' });
      const pending = h.last(alice);
      expect(pending).toMatchObject({ type: 'session.pending', re: i });
      h.send(bob, { type: 'session.answer', requestId: pending?.type === 'session.pending' ? pending.requestId : '', accept: false });
    }
  });

  it('only the caller may cancel, only the callee may answer', () => {
    const { h, alice, bob, carol } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'session.cancel', requestId: id });
    h.send(carol, { type: 'session.cancel', requestId: id });
    h.send(alice, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 1 });
    h.send(carol, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 1 });
    h.send(bob, { type: 'session.answer', requestId: 'no-such-id', accept: false });
    expect(h.errors(bob)).toEqual(['NO_SUCH_SESSION_REQUEST', 'NO_SUCH_SESSION_REQUEST']);
    expect(h.errors(carol)).toEqual(['NO_SUCH_SESSION_REQUEST', 'NO_SUCH_SESSION_REQUEST']);
    expect(h.errors(alice)).toEqual(['NO_SUCH_SESSION_REQUEST']);
    expect(h.machine.stats().pendingSessionRequests).toBe(1);
  });

  it('accepting without an address is BAD_FRAME and leaves the request pending', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'session.answer', requestId: id, accept: true });
    expect(h.errors(bob)).toEqual(['BAD_FRAME']);
    expect(h.last(bob)).toMatchObject({ detail: 'accepting needs a port' });
    h.send(bob, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 2 });
    expect(h.framesOf(alice, 'session.established')).toHaveLength(1);
  });

  it('an answer is taken once: a second answer finds no request', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'session.answer', requestId: id, accept: false });
    h.send(bob, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 2 });
    expect(h.errors(bob)).toEqual(['NO_SUCH_SESSION_REQUEST']);
    expect(h.framesOf(alice, 'session.established')).toEqual([]);
  });

  it("the callee goes offline while asked (logout): the caller gets 'offline'", () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'logout' });
    expect(h.framesOf(alice, 'session.failed')).toMatchObject([{ requestId: id, reason: 'offline' }]);
  });

  it("the callee goes offline while asked (TTL, after its connection dropped): the caller gets 'offline'", () => {
    const h = new ServerHarness({ ttlMs: 5_000, sessionTimeoutMs: 60_000, store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    h.advance(1_000);
    const bob = h.login('bob');
    const id = ask(h, alice, bob);
    h.close(bob);
    h.advance(4_999);
    h.send(alice, { type: 'heartbeat' });
    h.advance(1);
    expect(h.framesOf(alice, 'session.failed')).toMatchObject([{ requestId: id, reason: 'offline' }]);
    expect(h.framesOf(alice, 'presence').map((f) => f.status)).toEqual(['online', 'offline']);
  });

  it("removing the friendship ends pending requests between the two with 'not-friends'", () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.send(bob, { type: 'friend.remove', username: 'alice' });
    expect(h.framesOf(alice, 'session.failed')).toMatchObject([{ requestId: id, reason: 'not-friends' }]);
    expect(h.framesOf(bob, 'session.withdrawn')).toMatchObject([{ requestId: id, reason: 'not-friends' }]);
  });

  it("asking a non-friend, oneself or an unknown user fails with 'not-friends', and the callee hears nothing", () => {
    const { h, alice, carol } = friends();
    for (const username of ['carol', 'alice', 'nobody']) h.send(alice, { type: 'session.request', username });
    expect(h.framesOf(alice, 'session.failed').map((f) => [f.username, f.reason])).toEqual([
      ['carol', 'not-friends'],
      ['alice', 'not-friends'],
      ['nobody', 'not-friends'],
    ]);
    expect(h.frames(carol)).toEqual([]);
  });

  it("asking a friend who is offline, or whose connection dropped, fails with 'offline'", () => {
    const { h, alice, bob } = friends();
    h.send(alice, { type: 'session.request', id: 3, username: 'dave' });
    expect(h.last(alice)).toEqual({ type: 'session.failed', re: 3, username: 'dave', reason: 'offline' });
    h.close(bob);
    h.send(alice, { type: 'session.request', username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'session.failed', username: 'bob', reason: 'offline' });
  });

  it("a second request to the same callee while one is pending fails with 'already-pending'; the other direction is allowed", () => {
    const { h, alice, bob } = friends();
    ask(h, alice, bob);
    h.send(alice, { type: 'session.request', username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'session.failed', reason: 'already-pending' });
    h.send(bob, { type: 'session.request', username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'session.pending', username: 'alice' });
  });

  it("a client restarted within the TTL (a password login taking over) is not refused 'already-pending' by its previous instance's request: that one ends 'cancelled'", () => {
    const { h, alice, bob } = friends();
    const oldId = ask(h, alice, bob);
    h.drain(bob);
    // alice's program dies without a word; her new one logs in by password before the TTL passes.
    h.close(alice);
    const restarted = h.login('alice');
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: oldId, from: 'alice', reason: 'cancelled' }]);
    // The new instance never made that request: it hears nothing of it, and its own request goes through.
    expect(h.frames(restarted).filter((f) => f.type.startsWith('session.'))).toEqual([]);
    h.send(restarted, { type: 'session.request', id: 4, username: 'bob' });
    expect(h.last(restarted)).toMatchObject({ type: 'session.pending', re: 4, username: 'bob' });
    expect(h.machine.stats().pendingSessionRequests).toBe(1);
    expect(h.machine.stats().sessions).toMatchObject({ cancelled: 1 });
  });

  it('a password login taking over a live connection ends its requests as caller too; an outcome held for the previous instance is not handed to the new one', () => {
    const h = new ServerHarness({ sessionTimeoutMs: SESSION_TIMEOUT_MS, store: storeWith(['alice', 'bob', 'carol'], [['alice', 'bob'], ['alice', 'carol']]) });
    const { alice, bob, carol } = h.online('alice', 'bob', 'carol') as { alice: number; bob: number; carol: number };
    const toBob = ask(h, alice, bob);
    h.close(alice);
    // bob says no while alice is detached: the session.failed is held for her.
    h.send(bob, { type: 'session.answer', requestId: toBob, accept: false });
    const resumed = h.resume('alice', h.tokenOf(alice));
    expect(h.framesOf(resumed, 'session.failed')).toMatchObject([{ requestId: toBob, reason: 'rejected' }]);
    h.send(resumed, { type: 'session.request', username: 'carol' });
    const toCarol = h.framesOf(resumed, 'session.pending').at(-1)!.requestId;
    h.drain(carol);
    const takeover = h.login('alice');
    expect(h.errors(resumed)).toEqual(['LOGGED_IN_ELSEWHERE']);
    expect(h.framesOf(carol, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: toCarol, from: 'alice', reason: 'cancelled' }]);
    expect(h.frames(takeover).filter((f) => f.type.startsWith('session.'))).toEqual([]);
    expect(h.machine.stats().pendingSessionRequests).toBe(0);
  });

  it('an outcome held for a detached user goes with its previous instance: a password login does not hear it', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    h.send(bob, { type: 'session.answer', requestId: id, accept: false });
    const restarted = h.login('alice');
    expect(h.frames(restarted).filter((f) => f.type.startsWith('session.'))).toEqual([]);
  });

  it('a resume keeps the requests it made and hands over their outcomes: the same instance is still waiting for them', () => {
    const { h, alice, bob, aliceToken } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    h.send(bob, { type: 'session.answer', requestId: id, accept: false });
    const resumed = h.resume('alice', aliceToken);
    expect(h.framesOf(resumed, 'session.failed')).toEqual([{ type: 'session.failed', requestId: id, username: 'bob', reason: 'rejected' }]);
    const again = ask(h, resumed, bob);
    h.close(resumed);
    const resumedAgain = h.resume('alice', h.tokenOf(resumed));
    h.send(resumedAgain, { type: 'session.request', username: 'bob' });
    expect(h.last(resumedAgain)).toMatchObject({ type: 'session.failed', reason: 'already-pending' });
    expect(h.framesOf(bob, 'session.withdrawn').filter((f) => f.requestId === again)).toEqual([]);
  });

  it('a password login taking over keeps the requests waiting on the user as callee: the new instance is asked about them', () => {
    const { h, alice, bob } = friends();
    h.send(bob, { type: 'session.request', username: 'alice' });
    const id = h.framesOf(bob, 'session.pending').at(-1)!.requestId;
    h.close(alice);
    const restarted = h.login('alice');
    expect(h.framesOf(restarted, 'session.incoming')).toMatchObject([{ requestId: id, from: 'bob' }]);
    expect(h.framesOf(bob, 'session.failed')).toEqual([]);
    expect(h.machine.stats().pendingSessionRequests).toBe(1);
  });

  it(`a user in ${SESSION_REQUESTS_PENDING_PER_USER_MAX} pending requests gets 'too-many-requests', as caller or callee`, () => {
    const n = SESSION_REQUESTS_PENDING_PER_USER_MAX + 1;
    const callers = Array.from({ length: n }, (_, i) => `caller${i}`);
    const h = new ServerHarness({
      sessionTimeoutMs: 10 * 60_000,
      ttlMs: 60 * 60_000,
      store: storeWith(['star', 'fan', ...callers], [...callers.map((c) => ['star', c] as const), ['fan', 'star'], ...callers.map((c) => ['fan', c] as const)]),
    });
    const star = h.login('star');
    const fan = h.login('fan');
    const callerConns = callers.map((c) => h.login(c));
    // The callee side: star is asked by SESSION_REQUESTS_PENDING_PER_USER_MAX callers, then once more.
    callerConns.forEach((c) => h.send(c, { type: 'session.request', username: 'star' }));
    expect(h.framesOf(star, 'session.incoming')).toHaveLength(SESSION_REQUESTS_PENDING_PER_USER_MAX);
    expect(h.last(callerConns.at(-1)!)).toMatchObject({ type: 'session.failed', reason: 'too-many-requests' });
    // The caller side: fan asks everyone (one second apart, under the rate limit).
    for (const c of callers) {
      h.advance(1_000);
      h.send(fan, { type: 'session.request', username: c });
    }
    const outcomes = h.frames(fan).filter((f) => f.type === 'session.pending' || f.type === 'session.failed');
    expect(outcomes.filter((f) => f.type === 'session.pending')).toHaveLength(SESSION_REQUESTS_PENDING_PER_USER_MAX);
    expect(outcomes.at(-1)).toMatchObject({ type: 'session.failed', reason: 'too-many-requests' });
  });

  it(`a user asked by ${SESSION_REQUESTS_PENDING_PER_USER_MAX} friends at once can still ask one: each side has its own count`, () => {
    const callers = Array.from({ length: SESSION_REQUESTS_PENDING_PER_USER_MAX }, (_, i) => `caller${i}`);
    const h = new ServerHarness({
      sessionTimeoutMs: 10 * 60_000,
      ttlMs: 60 * 60_000,
      store: storeWith(['star', 'fan', ...callers], [...callers.map((c) => ['star', c] as const), ['star', 'fan']]),
    });
    const star = h.login('star');
    const fan = h.login('fan');
    for (const c of callers.map((name) => h.login(name))) h.send(c, { type: 'session.request', username: 'star' });
    expect(h.framesOf(star, 'session.incoming')).toHaveLength(SESSION_REQUESTS_PENDING_PER_USER_MAX);
    h.send(star, { type: 'session.request', username: 'fan' });
    expect(h.last(star)).toMatchObject({ type: 'session.pending', username: 'fan' });
    expect(h.framesOf(fan, 'session.incoming')).toMatchObject([{ from: 'star' }]);
    // Star's own side as callee is still full: one more friend asking is refused.
    h.send(fan, { type: 'session.request', username: 'star' });
    expect(h.last(fan)).toMatchObject({ type: 'session.failed', reason: 'too-many-requests' });
  });

  it(`more than ${SESSION_REQUESTS_PER_USER_BURST} requests in a burst get 'rate-limited'; the bucket refills with time`, () => {
    const { h, alice, bob } = friends();
    for (let i = 0; i < SESSION_REQUESTS_PER_USER_BURST; i++) h.send(alice, { type: 'session.request', username: 'carol' });
    h.send(alice, { type: 'session.request', username: 'bob' });
    expect(h.framesOf(alice, 'session.failed').at(-1)).toMatchObject({ username: 'bob', reason: 'rate-limited' });
    expect(h.framesOf(bob, 'session.incoming')).toEqual([]);
    h.advance(1_000);
    h.send(alice, { type: 'session.request', username: 'bob' });
    expect(h.last(alice)).toMatchObject({ type: 'session.pending' });
  });

  it('a caller that resumes after its request was accepted while it was detached is told, with token and address', () => {
    const { h, alice, bob, aliceToken: token } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    h.send(bob, { type: 'session.answer', requestId: id, accept: true, host: '127.0.0.1', port: 9 });
    const calleeSide = h.framesOf(bob, 'session.established');
    expect(calleeSide).toHaveLength(1);
    const again = h.resume('alice', token);
    expect(h.framesOf(again, 'login.ok')).toHaveLength(1);
    expect(h.framesOf(again, 'session.established')).toMatchObject([
      { requestId: id, role: 'caller', username: 'bob', host: '10.0.0.1', port: 9, token: calleeSide[0]!.token },
    ]);
  });

  it('a caller that resumes after its request was rejected while it was detached learns the rejection', () => {
    const { h, alice, bob, aliceToken: token } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    h.send(bob, { type: 'session.answer', requestId: id, accept: false });
    const again = h.resume('alice', token);
    expect(h.framesOf(again, 'session.failed')).toMatchObject([{ requestId: id, reason: 'rejected' }]);
  });

  it('a caller that resumes while its own request is still pending is not asked about it (only its callee is), and still hears the outcome', () => {
    const { h, alice, bob, aliceToken: token } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    const again = h.resume('alice', token);
    expect(h.frames(again).map((f) => f.type)).toEqual(['welcome', 'login.ok']);
    h.send(bob, { type: 'session.answer', requestId: id, accept: true, port: 9 });
    expect(h.framesOf(again, 'session.established')).toMatchObject([{ requestId: id, role: 'caller' }]);
  });

  it('a caller whose connection dropped is told nothing while detached, and the request still ends by its timeout', () => {
    const { h, alice, bob } = friends();
    const id = ask(h, alice, bob);
    h.close(alice);
    h.advance(SESSION_TIMEOUT_MS);
    expect(h.framesOf(bob, 'session.withdrawn')).toMatchObject([{ requestId: id, reason: 'timeout' }]);
    expect(h.machine.stats().pendingSessionRequests).toBe(0);
  });

  it('a detached caller hears every outcome it missed on resume, in order: one request rejected, another accepted', () => {
    const h = new ServerHarness({ sessionTimeoutMs: SESSION_TIMEOUT_MS, store: storeWith(['alice', 'bob', 'erin'], [['alice', 'bob'], ['alice', 'erin']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    const erin = h.login('erin');
    const token = h.tokenOf(alice);
    h.send(alice, { type: 'session.request', username: 'bob' });
    h.send(alice, { type: 'session.request', username: 'erin' });
    const toBob = h.framesOf(bob, 'session.incoming')[0]!.requestId;
    const toErin = h.framesOf(erin, 'session.incoming')[0]!.requestId;
    h.close(alice);
    h.send(bob, { type: 'session.answer', requestId: toBob, accept: false });
    h.send(erin, { type: 'session.answer', requestId: toErin, accept: true, port: 9 });
    const again = h.resume('alice', token);
    expect(h.frames(again).filter((f) => f.type === 'session.failed' || f.type === 'session.established')).toMatchObject([
      { type: 'session.failed', requestId: toBob, reason: 'rejected' },
      { type: 'session.established', requestId: toErin, role: 'caller' },
    ]);
  });

  it('a rejected request counts as rejected in the server stats, an accepted one as established', () => {
    const { h, alice, bob } = friends();
    const before = h.machine.stats();
    h.send(bob, { type: 'session.answer', requestId: ask(h, alice, bob), accept: false });
    h.send(bob, { type: 'session.answer', requestId: ask(h, alice, bob), accept: true, port: 9 });
    const after = h.machine.stats();
    expect(after.sessions).toMatchObject({ rejected: (before.sessions.rejected ?? 0) + 1, established: (before.sessions.established ?? 0) + 1 });
  });

  it('requests from a user the callee blocked do not count against the callee: others can still ask', () => {
    const pests = Array.from({ length: SESSION_REQUESTS_PENDING_PER_USER_MAX }, (_, i) => `pest${i}`);
    const h = new ServerHarness({ sessionTimeoutMs: SESSION_TIMEOUT_MS, store: storeWith(['victim', 'friend', ...pests], [['victim', 'friend'], ...pests.map((p) => ['victim', p] as const)]) });
    const victim = h.login('victim');
    for (const pest of pests) h.send(victim, { type: 'friend.block', username: pest });
    for (const pest of pests) h.send(h.login(pest), { type: 'session.request', username: 'victim' });
    const friend = h.login('friend');
    h.send(friend, { type: 'session.request', id: 5, username: 'victim' });
    expect(h.last(friend)).toMatchObject({ type: 'session.pending', re: 5 });
    expect(h.framesOf(victim, 'session.incoming').map((f) => f.from)).toEqual(['friend']);
  });
});
