/**
 * The session broker alone (core/peer/session-broker.ts): its frame table (a frame for a request
 * in a state that does not take it is a protocol error; a frame for no request is stale) and the
 * ends of requests in every state.
 */
import { describe, expect, it } from 'vitest';
import { SERVER_REQUESTS_PENDING_MAX, SESSION_ACK_WAIT_MS } from '../../../core/limits.ts';
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
    broker.onFrame({ type: 'session.pending', requestId: 's1', username: 'bob', timeoutMs: 30_000 }, NOW);
    expect(broker.takeActions()).toEqual([{ type: 'protocol-error', frameType: 'session.pending', state: 'ExpectOutcome' }]);
    expect(broker.requests()).toMatchObject([{ state: 'ExpectOutcome', requestId: 's1' }]);
  });

  it('a frame for no request is stale and dropped quietly', () => {
    const broker = new SessionBroker(false);
    broker.onFrame({ type: 'session.established', requestId: 's9', username: 'bob', role: 'caller', token: 't', host: 'h', port: 1 }, NOW);
    broker.onFrame({ type: 'session.withdrawn', requestId: 's9', from: 'bob', reason: 'timeout' }, NOW);
    expect(broker.takeActions()).toEqual([]);
  });

  it('ends requests in every state when the login ends, and only unacknowledged ones when the link drops', () => {
    const broker = new SessionBroker(false);
    broker.requested('bob', 1, NOW);
    broker.requested('carol', 2, NOW);
    broker.onFrame({ type: 'session.pending', re: 2, requestId: 's2', username: 'carol', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 's3', from: 'dave', timeoutMs: 30_000 }, NOW);
    broker.onFrame({ type: 'session.incoming', requestId: 's4', from: 'erin', timeoutMs: 30_000 }, NOW);
    broker.takeActions();
    broker.answered('erin', true, true, NOW);
    expect(broker.requests().map((r) => r.state).sort()).toEqual(['ExpectAnswer', 'ExpectEstablished', 'ExpectOutcome', 'ExpectPending']);
    broker.linkLost();
    expect(failures(broker)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'server-unavailable' }]);
    broker.loginEnded('resume-refused');
    expect(failures(broker)).toEqual([
      { event: 'chat.failed', username: 'carol', reason: 'logged-out' },
      { event: 'chat.failed', username: 'dave', reason: 'logged-out' },
      { event: 'chat.failed', username: 'erin', reason: 'logged-out' },
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

  it('remembers at most SERVER_REQUESTS_PENDING_MAX unanswered requests, dropping the oldest', () => {
    const broker = new SessionBroker(false);
    for (let re = 1; re <= SERVER_REQUESTS_PENDING_MAX + 1; re++) broker.requested(`friend${re}`, re, NOW);
    broker.handleTimeout(NOW + SESSION_ACK_WAIT_MS);
    expect(broker.requestFailed(1, 'NOT_LOGGED_IN')).toBe(false);
    expect(broker.requestFailed(2, 'NOT_LOGGED_IN')).toBe(true);
    expect(broker.requestFailed(SERVER_REQUESTS_PENDING_MAX + 1, 'NOT_LOGGED_IN')).toBe(true);
  });
});
