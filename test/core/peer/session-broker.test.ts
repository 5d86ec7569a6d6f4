/**
 * The session broker alone (core/peer/session-broker.ts): its frame table (a frame for a request
 * in a state that does not take it is a protocol error; a frame for no request is stale) and the
 * ends of requests in every state.
 */
import { describe, expect, it } from 'vitest';
import { SERVER_REQUESTS_PENDING_MAX, SESSION_ACK_WAIT_MS, SESSION_OUTCOME_GRACE_MS } from '../../../core/limits.ts';
import { SessionBroker } from '../../../core/peer/session-broker.ts';

const NOW = 1_000;

function failures(broker: SessionBroker): unknown[] {
  return broker.takeActions().filter((a) => a.type === 'event' && a.event.event === 'chat.failed').map((a) => (a.type === 'event' ? a.event : null));
}

describe('session broker', () => {
  it('a session.pending for a request already acknowledged is a protocol error and changes nothing', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 7, NOW);
    broker.onFrame({ type: 'session.pending', re: 7, requestId: 's1', username: 'bob', timeoutMs: 30_000 }, NOW);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectOutcome', requestId: 's1' }]);
    broker.onFrame({ type: 'session.pending', requestId: 's1', username: 'bob', timeoutMs: 30_000 }, NOW + 1_000);
    expect(broker.takeActions()).toEqual([{ type: 'protocol-error', frameType: 'session.pending', state: 'ExpectOutcome' }]);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectOutcome', requestId: 's1' }]);
    // Nothing: not even the deadline moves with the second pending.
    expect(broker.nextTimeoutMs()).toBe(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS);
  });

  it('a frame for no request is stale and dropped quietly', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.established', requestId: 's9', username: 'bob', role: 'caller', token: 't', host: 'h', port: 1 }, NOW);
    broker.onFrame({ type: 'session.withdrawn', requestId: 's9', from: 'bob', reason: 'timeout' }, NOW);
    broker.onFrame({ type: 'session.pending', re: 3, requestId: 's9', username: 'bob', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.failed', re: 4, username: 'bob', reason: 'offline' }, NOW);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.pendingCount).toBe(0);
  });

  it('a token for a request the user has not said yes to is a protocol error: no token is held, the request still waits for the answer', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.established', requestId: 'i1', username: 'carol', role: 'callee', token: 'tok' }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'protocol-error', frameType: 'session.established', state: 'ExpectAnswer' }]);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
  });

  it('ends requests in every state when the login ends, and only unacknowledged ones when the link drops', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.requested('carol', 2, NOW);
    broker.onFrame({ type: 'session.pending', re: 2, requestId: 's2', username: 'carol', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 's3', from: 'dave', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 's4', from: 'erin', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.answered('erin', true, 11, NOW);
    expect(broker.requests().map((r) => r.state).sort()).toEqual(['ExpectAnswer', 'ExpectEstablished', 'ExpectOutcome', 'ExpectPending']);
    broker.linkLost();
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'server-unavailable' }]);
    broker.loginEnded('resume-refused');
    expect(failures(broker)).toEqual([
      { event: 'chat.failed', username: 'carol', reason: 'logged-out' },
      { event: 'chat.failed', username: 'dave', reason: 'logged-out', incoming: true },
      { event: 'chat.failed', username: 'erin', reason: 'logged-out', incoming: true },
    ]);
    expect(broker.pendingCount).toBe(0);
  });

  it('a request never acknowledged ends at SESSION_ACK_WAIT_MS', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    expect(broker.nextTimeoutMs()).toBe(NOW + SESSION_ACK_WAIT_MS);
    broker.handleTimeout(NOW + SESSION_ACK_WAIT_MS);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
    expect(broker.nextTimeoutMs()).toBeNull();
  });
});

describe('session broker: each request from start to end', () => {
  const pending = (broker: SessionBroker, friend: string, re: number, requestId: string): void =>
    broker.onFrame({ type: 'session.pending', re, requestId, username: friend, timeoutMs: 30_000 }, NOW);

  it('a chat.open with no link to send it on fails at once (server-unavailable) and leaves nothing pending', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', null, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'server-unavailable' }]);
    expect(broker.hasOutgoing('bob')).toBe(false);
    expect(broker.pendingCount).toBe(0);
  });

  it('counts requests both ways; hasOutgoing tells ours', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'dave', timeoutMs: 30_000 }, NOW);
    expect(broker.pendingCount).toBe(3);
    expect([broker.hasOutgoing('bob'), broker.hasOutgoing('carol')]).toEqual([true, false]);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
    expect(broker.awaitingAnswer('bob')).toBeNull();
    // No yes given to anyone: no token is awaited, from a friend asking or from one who never asked.
    expect([broker.awaitingToken('carol'), broker.awaitingToken('nobody')]).toEqual([false, false]);
  });

  it('the next deadline is the earliest of both directions; an outcome waits for the server timeout plus SESSION_OUTCOME_GRACE_MS', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 10_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'dave', timeoutMs: 5_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i3', from: 'erin', timeoutMs: 8_000 }, NOW);
    expect(broker.nextTimeoutMs()).toBe(NOW + 5_000 + SESSION_OUTCOME_GRACE_MS);
    broker.requested('bob', 1, NOW);
    broker.requested('zed', 2, NOW - 29_000);
    pending(broker, 'bob', 1, 's1');
    expect(broker.nextTimeoutMs()).toBe(NOW - 29_000 + SESSION_ACK_WAIT_MS);
    broker.handleTimeout(NOW + 1_000);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'zed', reason: 'timeout' }]);
    expect(broker.nextTimeoutMs()).toBe(NOW + 5_000 + SESSION_OUTCOME_GRACE_MS);
    broker.handleTimeout(NOW + 5_000 + SESSION_OUTCOME_GRACE_MS - 1);
    expect(failures(broker)).toEqual([]);
    broker.handleTimeout(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS);
    expect(failures(broker).map((f) => (f as { username: string }).username).sort()).toEqual(['bob', 'carol', 'dave', 'erin']);
  });

  it('our requests end at the earliest of their deadlines, whichever was made first', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.requested('carol', 2, NOW + 1_000);
    expect(broker.nextTimeoutMs()).toBe(NOW + SESSION_ACK_WAIT_MS);
    // Acknowledged, bob's request waits for the server's timeout plus the grace, and no longer than that.
    pending(broker, 'bob', 1, 's1');
    broker.onFrame({ type: 'session.pending', re: 2, requestId: 's2', username: 'carol', timeoutMs: 60_000 }, NOW + 1_000);
    expect(broker.nextTimeoutMs()).toBe(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS);
    broker.handleTimeout(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS - 1);
    expect(failures(broker)).toEqual([]);
    broker.handleTimeout(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
  });

  it('asked again for the same request, its deadline moves to the new timeout plus the grace', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 1_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 1_000 }, NOW + 500);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.nextTimeoutMs()).toBe(NOW + 500 + 1_000 + SESSION_OUTCOME_GRACE_MS);
  });

  it('a session.failed for our request ends it with the server reason; one naming another request changes nothing', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.onFrame({ type: 'session.failed', re: 99, username: 'bob', reason: 'offline' }, NOW);
    expect(broker.takeActions()).toEqual([]);
    broker.onFrame({ type: 'session.failed', re: 1, username: 'bob', reason: 'offline' }, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'offline' }]);
    broker.requested('carol', 2, NOW);
    pending(broker, 'carol', 2, 's2');
    broker.onFrame({ type: 'session.failed', requestId: 'other', username: 'carol', reason: 'timeout' }, NOW);
    expect(broker.hasOutgoing('carol')).toBe(true);
    broker.onFrame({ type: 'session.failed', requestId: 's2', username: 'carol', reason: 'timeout' }, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'carol', reason: 'timeout' }]);
  });

  it('an error answering our session.request ends it with the error code; an error for anything else is not ours', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 4, NOW);
    broker.requested('carol', 5, NOW);
    pending(broker, 'carol', 5, 's5');
    expect(broker.requestFailed(5, 'RATE_LIMITED')).toBe(false);
    expect(broker.requestFailed(6, 'RATE_LIMITED')).toBe(false);
    broker.takeActions();
    expect(broker.requestFailed(4, 'RATE_LIMITED')).toBe(true);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'RATE_LIMITED' }]);
    expect(broker.hasOutgoing('bob')).toBe(false);
  });

  it('caller: the callee said yes: connect to the address with the token and the key the server vouched for; without an address it is unreachable', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    pending(broker, 'bob', 1, 's1');
    broker.onFrame({ type: 'session.established', requestId: 's1', username: 'bob', role: 'caller', token: 't1', host: '10.0.0.2', port: 7000, identity: { signKey: 'K', sealKey: 'S' } }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'connect', friend: 'bob', token: 't1', host: '10.0.0.2', port: 7000, vouchedKey: 'K' }]);
    for (const address of [{ host: '10.0.0.2' }, { port: 7000 }]) {
      broker.requested('carol', 2, NOW);
      pending(broker, 'carol', 2, 's2');
      broker.onFrame({ type: 'session.established', requestId: 's2', username: 'carol', role: 'caller', token: 't2', ...address }, NOW);
      expect(broker.takeActions()).toEqual([{ type: 'event', event: { event: 'chat.failed', username: 'carol', reason: 'unreachable' } }]);
    }
  });

  it('a session.established in the other role names no request of ours: dropped quietly, the request stays', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    pending(broker, 'bob', 1, 's1');
    broker.onFrame({ type: 'session.established', requestId: 's1', username: 'bob', role: 'callee', token: 't' }, NOW);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.hasOutgoing('bob')).toBe(true);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.answered('carol', true, 12, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.established', requestId: 'i1', username: 'carol', role: 'caller', token: 't' }, NOW);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.awaitingToken('carol')).toBe(true);
  });

  it('callee: yes then the token: hold it with the vouched key; no ends the request; an answer with no link to carry it changes nothing', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'event', event: { event: 'chat.request', from: 'carol', timeoutMs: 30_000 } }]);
    broker.answered('carol', true, null, NOW);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
    expect(broker.awaitingToken('carol')).toBe(false);
    broker.answered('carol', true, 13, NOW);
    expect(broker.awaitingToken('carol')).toBe(true);
    // A second answer (or one for nobody) is not an answer to a waiting request.
    broker.answered('carol', false, 14, NOW);
    broker.answered('nobody', true, 15, NOW);
    expect(broker.awaitingToken('carol')).toBe(true);
    broker.onFrame({ type: 'session.established', requestId: 'i1', username: 'carol', role: 'callee', token: 'tok' }, NOW);
    // The token came before the reply to our yes: that reply, when it comes, answers nothing.
    expect(broker.takeActions()).toEqual([
      { type: 'reply-answers-nothing', re: 13 },
      { type: 'hold-token', friend: 'carol', token: 'tok', vouchedKey: null },
    ]);
    expect(broker.pendingCount).toBe(0);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'dave', timeoutMs: 30_000 }, NOW);
    broker.answered('dave', false, 16, NOW);
    expect(broker.pendingCount).toBe(0);
  });

  it('callee: the request asked again after our yes was lost with the link is answered yes again, by itself', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.answered('carol', true, 17, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW + 10);
    // The first yes's reply is owed to nothing now: the yes sent again has its own.
    expect(broker.takeActions()).toEqual([
      { type: 'reply-answers-nothing', re: 17 },
      { type: 'answer', friend: 'carol', requestId: 'i1', accept: true },
    ]);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
    expect(broker.nextTimeoutMs()).toBe(NOW + 10 + 30_000 + SESSION_OUTCOME_GRACE_MS);
  });

  it('session.answered confirms an answer and changes nothing', () => {
    const broker = new SessionBroker(true);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.answered', re: 3, requestId: 'i1', accept: true }, NOW);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
  });

  it('session.withdrawn ends the request it names with the reason; one naming another request, or arriving before any, changes nothing', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.withdrawn', requestId: 'other', from: 'carol', reason: 'cancelled' }, NOW);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.awaitingAnswer('carol')).toBe('i1');
    broker.onFrame({ type: 'session.withdrawn', requestId: 'i1', from: 'carol', reason: 'cancelled' }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'event', event: { event: 'chat.failed', username: 'carol', reason: 'cancelled', incoming: true } }]);
    expect(broker.pendingCount).toBe(0);
  });

  it('a friendship that ends ends its requests both ways (not-friends), and no one else\'s', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.requested('carol', 2, NOW);
    broker.takeActions();
    broker.friendRemoved('bob');
    expect(failures(broker)).toEqual([
      { event: 'chat.failed', username: 'bob', reason: 'not-friends' },
      { event: 'chat.failed', username: 'bob', reason: 'not-friends', incoming: true },
    ]);
    broker.friendRemoved('dave');
    expect(broker.takeActions()).toEqual([]);
    expect(broker.pendingCount).toBe(1);
  });

  it('requests crossing with one friend (ours to bob, bob\'s to us) end apart: the end of bob\'s says `incoming`, ours does not', () => {
    // Found by the swarm (mitm-swarm-base.yaml, root seed 1, run seed 918223110): alice said yes to
    // bob's request and opened her own to bob while a partition held both; the server withdrew
    // bob's (timeout), and its chat.failed was taken for the outcome of alice's chat.open, whose
    // own outcome then came as a second one.
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 3_000 }, NOW);
    broker.answered('bob', true, 4, NOW);
    broker.requested('bob', 5, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.withdrawn', requestId: 'i1', from: 'bob', reason: 'timeout' }, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout', incoming: true }]);
    expect(broker.hasOutgoing('bob')).toBe(true);
    broker.onFrame({ type: 'session.failed', re: 5, username: 'bob', reason: 'offline' }, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'offline' }]);
    expect(broker.pendingCount).toBe(0);
  });

  it('actions are handed over once', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', null, NOW);
    expect(broker.takeActions()).toHaveLength(1);
    expect(broker.takeActions()).toEqual([]);
  });
});

describe('session broker: the late answer to a request that ended here first', () => {
  it('an error answering a request that ended with its login is taken quietly, once', () => {
    // The server's HEARTBEAT_TIMEOUT crossed the session.request, which it then answers NOT_LOGGED_IN.
    const broker = new SessionBroker(false);
    broker.requested('bob', 7, NOW);
    broker.loginEnded('HEARTBEAT_TIMEOUT');
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out' }]);
    expect(broker.requestFailed(7, 'NOT_LOGGED_IN')).toBe(true);
    expect(broker.takeActions()).toEqual([]);
    // The server answers each request once: a second answer with that id is not ours.
    expect(broker.requestFailed(7, 'NOT_LOGGED_IN')).toBe(false);
  });

  it('a session.pending or session.failed answering a request that ended at its deadline is dropped, and only that one', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.requested('carol', 2, NOW);
    broker.handleTimeout(NOW + SESSION_ACK_WAIT_MS);
    expect(failures(broker)).toHaveLength(2);
    broker.requested('bob', 3, NOW + SESSION_ACK_WAIT_MS);
    broker.onFrame({ type: 'session.pending', re: 1, requestId: 's1', username: 'bob', timeoutMs: 30_000 }, NOW + SESSION_ACK_WAIT_MS);
    broker.onFrame({ type: 'session.failed', re: 2, username: 'carol', reason: 'offline' }, NOW + SESSION_ACK_WAIT_MS);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectPending', friend: 'bob', re: 3 }]);
    broker.onFrame({ type: 'session.pending', re: 3, requestId: 's3', username: 'bob', timeoutMs: 30_000 }, NOW + SESSION_ACK_WAIT_MS);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectOutcome', friend: 'bob', requestId: 's3' }]);
    // Each was answered once: nothing more is owed for them.
    expect(broker.requestFailed(1, 'NOT_LOGGED_IN')).toBe(false);
    expect(broker.requestFailed(2, 'NOT_LOGGED_IN')).toBe(false);
  });

  it('requests that ended acknowledged owe no answer: a later outcome pushed without re is for the request it names', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.onFrame({ type: 'session.pending', re: 1, requestId: 's1', username: 'bob', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 's2', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.loginEnded('HEARTBEAT_TIMEOUT');
    expect(failures(broker)).toHaveLength(2);
    broker.requested('bob', 2, NOW);
    broker.onFrame({ type: 'session.pending', re: 2, requestId: 's3', username: 'bob', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.failed', requestId: 's3', username: 'bob', reason: 'rejected' }, NOW);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'rejected' }]);
  });

  it('an unacknowledged request ended with the friendship waits for its answer; an acknowledged one does not', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 4, NOW);
    broker.requested('carol', 5, NOW);
    broker.onFrame({ type: 'session.pending', re: 5, requestId: 's5', username: 'carol', timeoutMs: 30_000 }, NOW);
    broker.friendRemoved('bob');
    broker.friendRemoved('carol');
    expect(failures(broker)).toEqual([
      { event: 'chat.failed', username: 'bob', reason: 'not-friends' },
      { event: 'chat.failed', username: 'carol', reason: 'not-friends' },
    ]);
    expect(broker.requestFailed(4, 'NOT_FRIENDS')).toBe(true);
    expect(broker.requestFailed(5, 'NOT_FRIENDS')).toBe(false);
  });

  it('answers still owed are forgotten when their link ends (they will never come)', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 7, NOW);
    broker.handleTimeout(NOW + SESSION_ACK_WAIT_MS);
    broker.linkLost();
    expect(broker.requestFailed(7, 'NOT_LOGGED_IN')).toBe(false);
  });

  it("the reply to the callee's answer: a yes ended here first (withdrawn, logged out, timeout, not friends) or a no owes it, and it is taken quietly, once", () => {
    const broker = new SessionBroker(false);
    const incoming = (from: string, requestId: string): void => broker.onFrame({ type: 'session.incoming', requestId, from, timeoutMs: 30_000 }, NOW);
    incoming('bob', 'i1');
    broker.answered('bob', true, 21, NOW);
    broker.onFrame({ type: 'session.withdrawn', requestId: 'i1', from: 'bob', reason: 'timeout' }, NOW);
    incoming('carol', 'i2');
    broker.answered('carol', true, 22, NOW);
    broker.friendRemoved('carol');
    incoming('dave', 'i3');
    broker.answered('dave', false, 23, NOW);
    incoming('erin', 'i4');
    broker.answered('erin', true, 24, NOW);
    broker.handleTimeout(NOW + 30_000 + SESSION_OUTCOME_GRACE_MS);
    incoming('frank', 'i5');
    broker.answered('frank', true, 25, NOW);
    broker.loginEnded('logout');
    broker.takeActions();
    expect(broker.pendingCount).toBe(0);
    broker.onFrame({ type: 'session.answered', re: 21, requestId: 'i1', accept: true }, NOW);
    broker.onFrame({ type: 'session.answered', re: 23, requestId: 'i3', accept: false }, NOW);
    for (const re of [22, 24, 25]) expect(broker.requestFailed(re, 'NO_SUCH_SESSION_REQUEST')).toBe(true);
    expect(broker.takeActions()).toEqual([]);
    for (const re of [21, 22, 23, 24, 25]) expect(broker.requestFailed(re, 'NO_SUCH_SESSION_REQUEST')).toBe(false);
  });

  it('a yes: session.answered confirms it (the token follows), an error ends the request with its code, a dropped link takes its reply', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i3', from: 'dave', timeoutMs: 30_000 }, NOW);
    broker.answered('bob', true, 31, NOW);
    broker.answered('carol', true, 32, NOW);
    broker.answered('dave', true, 33, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.answered', re: 31, requestId: 'i1', accept: true }, NOW);
    expect(broker.requests()).toContainEqual(expect.objectContaining({ state: 'ExpectEstablished', friend: 'bob', re: null }));
    expect(broker.requestFailed(32, 'SERVER_DEGRADED')).toBe(true);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'carol', reason: 'SERVER_DEGRADED', incoming: true }]);
    broker.linkLost();
    expect(broker.requests()).toContainEqual(expect.objectContaining({ state: 'ExpectEstablished', friend: 'dave', re: null }));
    expect(broker.requestFailed(33, 'NO_SUCH_SESSION_REQUEST')).toBe(false);
    expect(broker.awaitingToken('bob') && broker.awaitingToken('dave')).toBe(true);
  });

  it('remembers at most SERVER_REQUESTS_PENDING_MAX unanswered requests, dropping the oldest', () => {
    const broker = new SessionBroker(false);
    for (let re = 1; re <= SERVER_REQUESTS_PENDING_MAX + 1; re++) broker.requested(`friend${re}`, re, NOW);
    broker.handleTimeout(NOW + SESSION_ACK_WAIT_MS);
    expect(broker.requestFailed(1, 'NOT_LOGGED_IN')).toBe(false);
    expect(broker.requestFailed(2, 'NOT_LOGGED_IN')).toBe(true);
    expect(broker.requestFailed(SERVER_REQUESTS_PENDING_MAX + 1, 'NOT_LOGGED_IN')).toBe(true);
  });
});

describe('session broker: our request answered by a session the friend opened (requests crossing)', () => {
  const pending = (broker: SessionBroker, friend: string, re: number, requestId: string): void => {
    broker.requested(friend, re, NOW);
    broker.onFrame({ type: 'session.pending', re, requestId, username: friend, timeoutMs: 30_000 }, NOW);
  };

  it('an acknowledged request is withdrawn at once and ends without an event: the next chat.open may ask again', () => {
    const broker = new SessionBroker(false);
    pending(broker, 'bob', 3, 's3');
    pending(broker, 'carol', 4, 's4');
    broker.sessionOpened('bob');
    expect(broker.takeActions()).toEqual([{ type: 'withdraw', friend: 'bob', requestId: 's3' }]);
    expect(broker.hasOutgoing('bob')).toBe(false);
    // carol's request is no business of bob's session.
    expect(broker.hasOutgoing('carol')).toBe(true);
  });

  it('what the server says of a withdrawn request later is stale: its session.established does not connect, its end is no second answer', () => {
    const broker = new SessionBroker(false);
    pending(broker, 'bob', 3, 's3');
    broker.sessionOpened('bob');
    broker.takeActions();
    broker.withdrawSent(9);
    // bob's yes crossed our cancel: the server established it, then refused the cancel.
    broker.onFrame({ type: 'session.established', requestId: 's3', username: 'bob', role: 'caller', token: 't', host: 'h', port: 1 }, NOW);
    expect(broker.requestFailed(9, 'NO_SUCH_SESSION_REQUEST')).toBe(true);
    // Or the cancel was taken: its session.failed answers the cancel, not the request.
    broker.withdrawSent(10);
    broker.onFrame({ type: 'session.failed', re: 10, requestId: 's3', username: 'bob', reason: 'cancelled' }, NOW);
    // No event: the cancels' replies answer nothing, as the broker said when each went out.
    expect(broker.takeActions()).toEqual([
      { type: 'reply-answers-nothing', re: 9 },
      { type: 'reply-answers-nothing', re: 10 },
    ]);
    expect(broker.pendingCount).toBe(0);
  });

  it('a request not yet acknowledged is withdrawn once session.pending names it, without an event', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 3, NOW);
    broker.sessionOpened('bob');
    expect(broker.takeActions()).toEqual([]);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectPendingThenWithdraw', friend: 'bob', re: 3 }]);
    broker.onFrame({ type: 'session.pending', re: 3, requestId: 's3', username: 'bob', timeoutMs: 30_000 }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'withdraw', friend: 'bob', requestId: 's3' }]);
    expect(broker.pendingCount).toBe(0);
  });

  it('a request being withdrawn ends quietly however it ends: refused, failed, link lost, login ended, friendship ended, deadline', () => {
    // No event either way; where the session.request's reply is still to come, it answers nothing.
    const owed = [{ type: 'reply-answers-nothing', re: 3 }];
    const ends: Array<[string, (broker: SessionBroker) => void, unknown[]]> = [
      ['an error', (b) => expect(b.requestFailed(3, 'RATE_LIMITED')).toBe(true), []],
      ['session.failed', (b) => b.onFrame({ type: 'session.failed', re: 3, username: 'bob', reason: 'offline' }, NOW), []],
      ['the link lost', (b) => b.linkLost(), []],
      ['the login ended', (b) => b.loginEnded('logout'), owed],
      ['the friendship ended', (b) => b.friendRemoved('bob'), owed],
      ['its deadline', (b) => b.handleTimeout(NOW + SESSION_ACK_WAIT_MS), owed],
    ];
    for (const [what, end, actions] of ends) {
      const broker = new SessionBroker(false);
      broker.requested('bob', 3, NOW);
      broker.sessionOpened('bob');
      end(broker);
      expect(broker.takeActions(), what).toEqual(actions);
      expect(broker.pendingCount, what).toBe(0);
    }
  });

  it('a session that opened from our own request, or with no request of ours pending, withdraws nothing', () => {
    const broker = new SessionBroker(false);
    pending(broker, 'bob', 3, 's3');
    broker.onFrame({ type: 'session.established', requestId: 's3', username: 'bob', role: 'caller', token: 't', host: 'h', port: 1 }, NOW);
    broker.takeActions();
    broker.sessionOpened('bob');
    broker.sessionOpened('carol');
    expect(broker.takeActions()).toEqual([]);
  });

  it("the friend's request to us is not ours to withdraw", () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.sessionOpened('bob');
    expect(broker.takeActions()).toEqual([]);
    expect(broker.awaitingAnswer('bob')).toBe('i1');
  });
});

describe('session broker: a request being withdrawn that ends here before its acknowledgement', () => {
  it("still owes the server's reply to its session.request, which is taken quietly when it comes", () => {
    const ends: Array<[string, (broker: SessionBroker) => void]> = [
      ['the login ended', (b) => b.loginEnded('logout')],
      ['the friendship ended', (b) => b.friendRemoved('bob')],
      ['its deadline', (b) => b.handleTimeout(NOW + SESSION_ACK_WAIT_MS)],
    ];
    for (const [what, end] of ends) {
      const broker = new SessionBroker(false);
      broker.requested('bob', 3, NOW);
      broker.sessionOpened('bob');
      end(broker);
      expect(broker.takeActions(), what).toEqual([{ type: 'reply-answers-nothing', re: 3 }]);
      expect(broker.requestFailed(3, 'NOT_LOGGED_IN'), what).toBe(true);
      expect(broker.takeActions(), what).toEqual([]);
    }
  });
});

// Found by the liveness check in a swarm of cluster-three-nodes.yaml (root seed 1709, run seed
// 1523324728): bob's node lost the bus just as our yes was forwarded to it, no reply came, and bob
// asked again; his new request took the old one's place and the yes's id was kept, a request
// awaiting the server's reply for the rest of the link's life.
describe("session broker: a friend's new request in place of one we said yes to", () => {
  it("ends the old one for the user (chat.failed replaced, incoming) before asking about the new, owes the yes's reply and drops it quietly if it comes", () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.answered('bob', true, 5, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'bob', timeoutMs: 30_000 }, NOW + 9_000);
    expect(broker.takeActions()).toEqual([
      { type: 'reply-answers-nothing', re: 5 },
      { type: 'event', event: { event: 'chat.failed', username: 'bob', reason: 'replaced', incoming: true } },
      { type: 'event', event: { event: 'chat.request', from: 'bob', timeoutMs: 30_000 } },
    ]);
    broker.onFrame({ type: 'session.answered', re: 5, requestId: 'i1', accept: true }, NOW + 9_500);
    expect(broker.takeActions()).toEqual([]);
    expect(broker.awaitingAnswer('bob')).toBe('i2');
    expect(broker.pendingCount).toBe(1);
  });

  it('a yes whose reply came ends the same way, with nothing owed', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.answered('bob', true, 5, NOW);
    broker.onFrame({ type: 'session.answered', re: 5, requestId: 'i1', accept: true }, NOW + 100);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'bob', timeoutMs: 30_000 }, NOW + 9_000);
    expect(broker.takeActions()).toEqual([
      { type: 'event', event: { event: 'chat.failed', username: 'bob', reason: 'replaced', incoming: true } },
      { type: 'event', event: { event: 'chat.request', from: 'bob', timeoutMs: 30_000 } },
    ]);
  });

  it('a request the user was asked about and has not answered ends too, so the user is never left with two of one friend', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'bob', timeoutMs: 20_000 }, NOW + 9_000);
    expect(broker.takeActions()).toEqual([
      { type: 'event', event: { event: 'chat.failed', username: 'bob', reason: 'replaced', incoming: true } },
      { type: 'event', event: { event: 'chat.request', from: 'bob', timeoutMs: 20_000 } },
    ]);
    expect(broker.awaitingAnswer('bob')).toBe('i2');
    // The new request's own deadline holds, not the old one's.
    expect(broker.nextTimeoutMs()).toBe(NOW + 9_000 + 20_000 + SESSION_OUTCOME_GRACE_MS);
  });

  it('the same request asked again (a resume) is not replaced: nothing is told', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 20_000 }, NOW + 9_000);
    expect(broker.takeActions()).toEqual([]);
  });
});

describe('session broker: two yeses awaiting their replies', () => {
  it("session.answered confirms the yes it answers and no other: the other's refusal still ends its request with the code", () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.incoming', requestId: 'i1', from: 'bob', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 'i2', from: 'carol', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.answered('bob', true, 11, NOW);
    broker.answered('carol', true, 12, NOW);
    broker.onFrame({ type: 'session.answered', re: 12, requestId: 'i2', accept: true }, NOW);
    expect(broker.requestFailed(11, 'NO_SUCH_SESSION_REQUEST')).toBe(true);
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'NO_SUCH_SESSION_REQUEST', incoming: true }]);
    expect(broker.awaitingToken('carol')).toBe(true);
  });
});
