/**
 * The session broker alone (core/peer/session-broker.ts): its frame table (a frame for a request
 * in a state that does not take it is a protocol error; a frame for no request is stale) and the
 * ends of requests in every state.
 */
import { describe, expect, it } from 'vitest';
import { SESSION_ACK_WAIT_MS } from '../../../core/limits.ts';
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
