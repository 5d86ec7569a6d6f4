/**
 * The seed's logout use case: explicit logout (main flow) and the TTL (alternative flow), plus
 * what keeps a user online (heartbeats, any frame) and the resume token that survives a dropped
 * connection without an offline/online flap at the friends.
 */
import { describe, expect, it } from 'vitest';
import { HEARTBEATS_PER_TTL } from '../../core/limits.ts';
import { ServerHarness, storeWith } from '../helpers/server-harness.ts';

const TTL_MS = 30_000;

/** alice, bob and carol all online; alice–bob and alice–carol are friends; dave is online, no friend. */
function threeFriends(sessionTimeoutMs = 10_000): {
  h: ServerHarness;
  alice: number;
  bob: number;
  carol: number;
  dave: number;
  /** alice's resume token (her frames were drained). */
  token: string;
} {
  const h = new ServerHarness({ ttlMs: TTL_MS, sessionTimeoutMs, store: storeWith(['alice', 'bob', 'carol', 'dave'], [['alice', 'bob'], ['alice', 'carol']]) });
  const bob = h.login('bob');
  const carol = h.login('carol');
  const dave = h.login('dave');
  const alice = h.login('alice');
  const token = h.tokenOf(alice);
  for (const c of [alice, bob, carol, dave]) h.drain(c);
  return { h, alice, bob, carol, dave, token };
}

describe('logout (seed use case 1.3.3, main flow)', () => {
  it('logout.ok to the user, offline to every online friend, nothing to non-friends', () => {
    const { h, alice, bob, carol, dave } = threeFriends();
    h.send(alice, { type: 'logout', id: 11 });
    expect(h.frames(alice)).toEqual([{ type: 'logout.ok', re: 11 }]);
    expect(h.frames(bob)).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
    expect(h.frames(carol)).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
    expect(h.frames(dave)).toEqual([]);
    expect(h.machine.isOnline('alice')).toBe(false);
    expect(h.isClosed(alice)).toBe(false);
  });

  it("ends the user's pending session requests, both as caller and as callee", () => {
    const { h, alice, bob, carol } = threeFriends();
    h.send(alice, { type: 'session.request', username: 'bob' });
    h.send(carol, { type: 'session.request', username: 'alice' });
    const toBob = h.framesOf(bob, 'session.incoming')[0]!;
    const fromCarol = h.framesOf(carol, 'session.pending')[0]!;
    h.send(alice, { type: 'logout' });
    expect(h.framesOf(bob, 'session.withdrawn')).toEqual([{ type: 'session.withdrawn', requestId: toBob.requestId, from: 'alice', reason: 'offline' }]);
    expect(h.framesOf(carol, 'session.failed')).toMatchObject([{ requestId: fromCarol.requestId, username: 'alice', reason: 'offline' }]);
    expect(h.machine.stats().pendingSessionRequests).toBe(0);
    // A late answer to the ended request finds nothing.
    h.send(bob, { type: 'session.answer', requestId: toBob.requestId, accept: true, host: '127.0.0.1', port: 1 });
    expect(h.errors(bob)).toEqual(['NO_SUCH_SESSION_REQUEST']);
    expect(h.framesOf(bob, 'session.established')).toEqual([]);
  });

  it('the connection may log in again after a logout, and friends see the user come back', () => {
    const { h, alice, bob } = threeFriends();
    h.send(alice, { type: 'logout' });
    h.send(alice, { type: 'login', username: 'alice', password: 'alice-password' });
    expect(h.last(alice)).toMatchObject({ type: 'login.ok', resumed: false });
    expect(h.framesOf(bob, 'presence').map((f) => f.status)).toEqual(['offline', 'online']);
  });

  it('the resume token dies with the logout', () => {
    const { h, alice, token } = threeFriends();
    h.send(alice, { type: 'logout' });
    expect(h.errors(h.resume('alice', token))).toEqual(['BAD_RESUME_TOKEN']);
  });
});

describe('logout by TTL (seed use case 1.3.3, alternative flow)', () => {
  it('no heartbeat for the TTL: HEARTBEAT_TIMEOUT to the client, offline to the friends, not a moment before', () => {
    const { h, alice, bob, dave } = threeFriends();
    h.advance(TTL_MS - 1);
    // Everyone else logged in earlier: keep them alive so only alice's TTL matters here.
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    expect(h.machine.isOnline('alice')).toBe(true);
    h.send(bob, { type: 'heartbeat' });
    h.send(dave, { type: 'heartbeat' });
    h.advance(1);
    expect(h.errors(alice)).toEqual(['HEARTBEAT_TIMEOUT']);
    expect(h.isClosed(alice)).toBe(false);
    expect(h.machine.isOnline('alice')).toBe(false);
    expect(h.framesOf(bob, 'presence')).toContainEqual({ type: 'presence', username: 'alice', status: 'offline' });
    expect(h.framesOf(dave, 'presence')).toEqual([]);
    // The connection is back to ExpectLogin: a user frame is now NOT_LOGGED_IN.
    h.send(alice, { type: 'heartbeat', id: 3 });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 3, code: 'NOT_LOGGED_IN' });
  });

  it('the TTL ends pending session requests with offline', () => {
    // A session timeout longer than the TTL, so the TTL is what ends the request.
    const { h, alice, bob } = threeFriends(2 * TTL_MS);
    h.send(alice, { type: 'session.request', username: 'bob' });
    // bob keeps heartbeating; alice falls silent.
    for (let t = 0; t < 3; t++) {
      h.advance(TTL_MS / HEARTBEATS_PER_TTL);
      h.send(bob, { type: 'heartbeat' });
    }
    expect(h.machine.isOnline('alice')).toBe(false);
    expect(h.framesOf(bob, 'session.withdrawn').map((f) => f.reason)).toEqual(['offline']);
  });

  it('heartbeats keep a user online past several TTLs, with no presence change at the friends', () => {
    const { h, alice, bob } = threeFriends();
    for (let i = 0; i < 5 * HEARTBEATS_PER_TTL; i++) {
      h.advance(TTL_MS / HEARTBEATS_PER_TTL);
      h.send(alice, { type: 'heartbeat', id: i });
      h.send(bob, { type: 'heartbeat' });
    }
    expect(h.machine.isOnline('alice')).toBe(true);
    expect(h.framesOf(alice, 'heartbeat.ack')).toHaveLength(5 * HEARTBEATS_PER_TTL);
    expect(h.framesOf(alice, 'heartbeat.ack').at(-1)).toEqual({ type: 'heartbeat.ack', re: 5 * HEARTBEATS_PER_TTL - 1 });
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    expect(h.errors(alice)).toEqual([]);
  });

  it('any frame from a logged-in client proves it alive, not only heartbeats', () => {
    const { h, alice } = threeFriends();
    for (let i = 0; i < 4; i++) {
      h.advance(TTL_MS - 1_000);
      h.send(alice, { type: 'friends.list' });
    }
    expect(h.machine.isOnline('alice')).toBe(true);
  });
});

describe('dropped connections and the resume token', () => {
  it('a dropped connection stays online (no presence change) until the TTL, then goes offline', () => {
    const { h, alice, bob } = threeFriends();
    h.close(alice);
    expect(h.machine.isOnline('alice')).toBe(true);
    h.advance(TTL_MS - 1);
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    h.send(bob, { type: 'heartbeat' });
    h.advance(1);
    expect(h.machine.isOnline('alice')).toBe(false);
    expect(h.framesOf(bob, 'presence')).toEqual([{ type: 'presence', username: 'alice', status: 'offline' }]);
  });

  it('resume with the token re-attaches with resumed:true, a fresh token, no presence change and no hashing', () => {
    const { h, alice, bob, token } = threeFriends();
    h.close(alice);
    h.advance(TTL_MS / 2);
    const jobs = h.jobLog.length;
    const c = h.open();
    h.send(c, { type: 'resume', id: 4, username: 'alice', token });
    const ok = h.framesOf(c, 'login.ok')[0]!;
    expect(ok).toMatchObject({ re: 4, username: 'alice', resumed: true });
    expect(ok.friends.map((f) => [f.username, f.status]).sort()).toEqual([
      ['bob', 'online'],
      ['carol', 'online'],
    ]);
    expect(ok.resumeToken).not.toBe(token);
    expect(h.jobLog).toHaveLength(jobs);
    expect(h.frames(bob)).toEqual([]);
    // The resume also renewed the TTL.
    h.send(bob, { type: 'heartbeat' });
    h.advance(TTL_MS - 1);
    expect(h.machine.isOnline('alice')).toBe(true);
  });

  it('presence a detached user missed is in the friend list of its resume', () => {
    const { h, alice, bob, token } = threeFriends();
    h.close(alice);
    h.send(bob, { type: 'logout' });
    const c = h.resume('alice', token);
    expect(h.framesOf(c, 'login.ok')[0]!.friends.find((f) => f.username === 'bob')).toMatchObject({ status: 'offline' });
  });

  it('a resume while the old connection is still attached takes it over (LOGGED_IN_ELSEWHERE and close)', () => {
    const { h, alice, bob, token } = threeFriends();
    const c = h.resume('alice', token);
    expect(h.framesOf(c, 'login.ok')[0]).toMatchObject({ resumed: true });
    expect(h.errors(alice)).toEqual(['LOGGED_IN_ELSEWHERE']);
    expect(h.isClosed(alice)).toBe(true);
    expect(h.frames(bob)).toEqual([]);
  });

  it('a wrong token, a used token, an expired token and an unknown user all get BAD_RESUME_TOKEN (not closed)', () => {
    const { h, alice, bob, token } = threeFriends();
    h.close(alice);
    const wrong = h.resume('alice', `${token}x`);
    expect(h.errors(wrong)).toEqual(['BAD_RESUME_TOKEN']);
    expect(h.isClosed(wrong)).toBe(false);
    expect(h.errors(h.resume('nobody', token))).toEqual(['BAD_RESUME_TOKEN']);
    expect(h.errors(h.resume('bob', token))).toEqual(['BAD_RESUME_TOKEN']);
    const good = h.resume('alice', token);
    expect(h.framesOf(good, 'login.ok')).toHaveLength(1);
    h.close(good);
    // The token is one-time: the resume issued a new one.
    expect(h.errors(h.resume('alice', token))).toEqual(['BAD_RESUME_TOKEN']);
    const fresh = h.tokenOf(good);
    h.send(bob, { type: 'heartbeat' });
    h.advance(TTL_MS);
    expect(h.errors(h.resume('alice', fresh))).toEqual(['BAD_RESUME_TOKEN']);
    expect(h.jobLog.filter((j) => j.type === 'verify')).toHaveLength(4);
  });

  it('a resumed callee is asked again about the session requests still waiting on it, with the time left', () => {
    const { h, alice, bob, token } = threeFriends(30_000);
    h.send(bob, { type: 'session.request', username: 'alice' });
    const asked = h.framesOf(alice, 'session.incoming')[0]!;
    h.close(alice);
    h.advance(10_000);
    const c = h.resume('alice', token);
    expect(h.framesOf(c, 'session.incoming')).toEqual([{ ...asked, timeoutMs: asked.timeoutMs - 10_000 }]);
    h.send(c, { type: 'session.answer', requestId: asked.requestId, accept: true, host: '10.0.0.5', port: 5000 });
    expect(h.framesOf(bob, 'session.established')).toMatchObject([{ role: 'caller', username: 'alice', host: '10.0.0.1', port: 5000 }]);
  });
});

describe('shutdown', () => {
  it('tells every connection, logged in or not, SERVER_SHUTTING_DOWN and closes it; new connections are refused', () => {
    const { h, alice, bob } = threeFriends();
    const guest = h.open();
    h.shutdown();
    for (const c of [alice, bob, guest]) {
      expect(h.errors(c)).toEqual(['SERVER_SHUTTING_DOWN']);
      expect(h.isClosed(c)).toBe(true);
    }
    // No presence storm on the way down: friends are closed, not told one by one.
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    const late = h.open();
    expect(h.frames(late)).toMatchObject([{ type: 'error', code: 'SERVER_SHUTTING_DOWN' }]);
    expect(h.isClosed(late)).toBe(true);
    expect(h.machine.stats().connections).toBe(0);
  });
});
