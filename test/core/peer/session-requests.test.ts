/**
 * Session requests end, whatever their state, when the link or the login they belong to ends
 * (core/peer/session-broker.ts). The peer machine against the real server machine, in memory.
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_DELAY_MS_MAX, SERVER_REQUESTS_PENDING_MAX, SESSION_OUTCOME_GRACE_MS, SESSION_REQUEST_TIMEOUT_MS_DEFAULT } from '../../../core/limits.ts';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import type { PeerCommand } from '../../../core/peer/commands.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { type PeerEffect, type PeerInput, PeerMachine } from '../../../core/peer/machine.ts';
import { TTL_MS, twoFriends } from './peer-world.ts';

function failedFor(world: ReturnType<typeof twoFriends>, name: string, friend: string): unknown[] {
  return world.eventsOf(name, 'chat.failed').filter((e) => 'username' in e && e.username === friend);
}

describe('session requests end with the link or the login they belong to', () => {
  it('a request the server acknowledged ends with chat.failed when the login ends while the caller is away (TTL), and the next chat.open is sent again', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.request')).toHaveLength(1);
    expect(world.server.stats().pendingSessionRequests).toBe(1);
    // Alice is away longer than the TTL: the server logs her out and forgets her request.
    world.serverUp = false;
    world.cutServerLink('alice');
    world.advance(TTL_MS + 1_000);
    expect(world.server.isOnline('alice')).toBe(false);
    expect(world.server.stats().pendingSessionRequests).toBe(0);
    world.serverUp = true;
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out' }]);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'error').filter((e) => 'code' in e && e.code === 'SESSION_PENDING')).toEqual([]);
    expect(world.server.stats().pendingSessionRequests).toBe(1);
  });

  it('an acknowledged request survives a short blip (the server replays its outcome on resume)', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.cutServerLink('alice');
    world.command('bob', { cmd: 'chat.answer', username: 'alice', accept: true });
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
  });

  it('a request still waiting for its acknowledgement ends with chat.failed server-unavailable when its link drops', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.serverUp = false;
    // The request leaves, the link drops before the server's answer comes back.
    world.peers.get('alice')!.handle({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } }, world.nowMs);
    world.cutServerLink('alice');
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'server-unavailable' }]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
  });

  it('the callee is asked again after a blip without a second chat.request, and its request ends with its login', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.cutServerLink('bob');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('bob', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('bob', 'chat.request')).toHaveLength(1);
    world.command('bob', { cmd: 'logout' });
    expect(failedFor(world, 'bob', 'alice')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'logged-out', incoming: true }]);
    expect(world.peers.get('bob')!.sessionRequestCount).toBe(0);
  });

  it('every request ends by its deadline even if its outcome never arrives', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // The server's own timeout ends it first; past that plus the grace nothing is left anywhere.
    world.advance(SESSION_REQUEST_TIMEOUT_MS_DEFAULT + SESSION_OUTCOME_GRACE_MS + 1);
    expect(failedFor(world, 'alice', 'bob')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
    expect(world.peers.get('bob')!.sessionRequestCount).toBe(0);
  });
});

describe('a session request that ended here first gets no second outcome', () => {
  // The server played by hand, so a frame can cross another on the wire.
  function loggedIn(): { command: (command: PeerCommand) => void; events: () => ClientEvent[]; server: (frame: ServerFrame) => void; sent: () => ClientFrame[] } {
    const machine = new PeerMachine({ idPrefix: 'alice', jitterSeed: 1, autoAcceptChat: false });
    const out: PeerEffect[] = [];
    const step = (input: PeerInput): void => {
      machine.handle(input, 1_000);
      out.push(...machine.takeEffects());
    };
    const server = (frame: ServerFrame): void => step({ type: 'server.bytes', linkId: 1, bytes: encodeControl(frame) });
    step({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    step({ type: 'server.open', linkId: 1, localAddress: null });
    server({ type: 'welcome', protocol: 1, ttlMs: TTL_MS, heartbeatMs: 3_000, sessionTimeoutMs: 30_000 });
    const command = (command: PeerCommand): void => step({ type: 'command', command });
    command({ cmd: 'login', username: 'alice', password: 'pw' });
    const bob = { username: 'bob', nickname: 'bob', status: 'online' as const };
    server({ type: 'login.ok', re: 1, username: 'alice', nickname: 'alice', friends: [bob], incoming: [], outgoing: [], resumeToken: 't', resumed: false });
    return {
      command,
      server,
      events: () => out.flatMap((e) => (e.type === 'event' ? [e.event] : [])),
      sent: () => out.flatMap((e) => (e.type === 'server.send' ? [e.frame] : [])),
    };
  }

  it("the server's NOT_LOGGED_IN to a chat.open whose login its HEARTBEAT_TIMEOUT ended is not told as an error", () => {
    const alice = loggedIn();
    alice.command({ cmd: 'chat.open', username: 'bob' });
    const request = alice.sent().find((f) => f.type === 'session.request');
    expect(request).toBeDefined();
    // The server had timed alice out as the request left: its push arrives first, then its answer.
    alice.server({ type: 'error', code: 'HEARTBEAT_TIMEOUT', message: 'timed out' });
    alice.server({ type: 'error', re: request?.id, code: 'NOT_LOGGED_IN', message: 'not logged in' });
    const told = alice.events().filter((e) => e.event === 'chat.failed' || (e.event === 'error' && e.code === 'NOT_LOGGED_IN'));
    expect(told).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out' }]);
  });

  // Found by a cluster swarm (scenarios/cluster-three-nodes.yaml, seed 3750875625): the callee's
  // node forwarded its yes into a bus it had just lost, so no reply ever came; after the user's
  // logout the next link drop still told "the server connection closed before the reply to
  // chat.answer", a stale error that came out while the next login was being answered.
  it('a yes whose reply never comes is forgotten when its request ends: no error when the link drops later', () => {
    const alice = loggedIn();
    alice.server({ type: 'session.incoming', requestId: 's1', from: 'bob', timeoutMs: 30_000 });
    alice.command({ cmd: 'chat.answer', username: 'bob', accept: true });
    expect(alice.sent().some((f) => f.type === 'session.answer')).toBe(true);
    alice.command({ cmd: 'logout' });
    const logout = alice.sent().find((f) => f.type === 'logout');
    alice.server({ type: 'logout.ok', re: logout?.id });
    expect(alice.events().filter((e) => e.event === 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'logged-out', incoming: true }]);
    alice.command({ cmd: 'login', username: 'alice', password: 'pw' });
    const login = alice.sent().filter((f) => f.type === 'login').at(-1);
    // The node lost its bus: it refuses the login and the link is dropped (the login goes out again later).
    alice.server({ type: 'error', re: login?.id, code: 'SERVER_DEGRADED', message: 'degraded' });
    expect(alice.events().filter((e) => e.event === 'error')).toEqual([]);
  });

  it('the late reply to a yes whose request ended here first is dropped quietly, whatever it says', () => {
    const alice = loggedIn();
    for (const [from, requestId] of [['bob', 's1'], ['carol', 's2']] as const) {
      alice.server({ type: 'session.incoming', requestId, from, timeoutMs: 30_000 });
      alice.command({ cmd: 'chat.answer', username: from, accept: true });
      alice.server({ type: 'session.withdrawn', requestId, from, reason: 'timeout' });
    }
    const [toBob, toCarol] = alice.sent().filter((f) => f.type === 'session.answer');
    alice.server({ type: 'session.answered', re: toBob?.id, requestId: 's1', accept: true });
    alice.server({ type: 'error', re: toCarol?.id, code: 'NO_SUCH_SESSION_REQUEST', message: 'no such request' });
    expect(alice.events().filter((e) => e.event === 'error' || e.event === 'chat.failed')).toEqual([
      { event: 'chat.failed', username: 'bob', reason: 'timeout', incoming: true },
      { event: 'chat.failed', username: 'carol', reason: 'timeout', incoming: true },
    ]);
  });

  it('answers lost with their requests hold no slot: SERVER_REQUESTS_PENDING_MAX of them do not make the next request QUEUE_FULL', () => {
    const alice = loggedIn();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) {
      alice.server({ type: 'session.incoming', requestId: `s${i}`, from: 'bob', timeoutMs: 30_000 });
      alice.command({ cmd: 'chat.answer', username: 'bob', accept: true });
      alice.server({ type: 'session.withdrawn', requestId: `s${i}`, from: 'bob', reason: 'cancelled' });
    }
    alice.command({ cmd: 'friends' });
    expect(alice.events().filter((e) => e.event === 'error')).toEqual([]);
    expect(alice.sent().at(-1)).toMatchObject({ type: 'friends.list' });
  });

  it('an error answering our yes ends the request with its code; session.answered confirms a yes and the token follows', () => {
    const alice = loggedIn();
    alice.server({ type: 'session.incoming', requestId: 's1', from: 'bob', timeoutMs: 30_000 });
    alice.command({ cmd: 'chat.answer', username: 'bob', accept: true });
    const answer = alice.sent().filter((f) => f.type === 'session.answer').at(-1);
    // The callee's node cannot reach the caller's (it lost the bus): it says so instead of forwarding.
    alice.server({ type: 'error', re: answer?.id, code: 'SERVER_DEGRADED', message: 'degraded' });
    expect(alice.events().filter((e) => e.event === 'error' || e.event === 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'SERVER_DEGRADED', incoming: true }]);
    alice.server({ type: 'session.incoming', requestId: 's2', from: 'bob', timeoutMs: 30_000 });
    alice.command({ cmd: 'chat.answer', username: 'bob', accept: true });
    const again = alice.sent().filter((f) => f.type === 'session.answer').at(-1);
    alice.server({ type: 'session.answered', re: again?.id, requestId: 's2', accept: true });
    alice.server({ type: 'session.established', requestId: 's2', username: 'bob', role: 'callee', token: 'tok' });
    expect(alice.events().filter((e) => e.event === 'error' || e.event === 'chat.failed')).toHaveLength(1);
  });
});

describe('requests crossing: a session the friend opened answers our own request to them', () => {
  it("our chat.open is answered once, by the friend's session; our request is withdrawn at the server, so it asks nobody again, ends with no second answer, and blocks no later chat.open", () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.server.stats().pendingSessionRequests).toBe(2);
    // Alice says yes to bob's request: bob connects, the session opens on both sides.
    world.command('alice', { cmd: 'chat.answer', username: 'bob', accept: true });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
    // Alice's own request to bob is gone from the server; bob is told it was withdrawn (his dialog closes).
    expect(world.server.stats().pendingSessionRequests).toBe(0);
    expect(failedFor(world, 'bob', 'alice')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'cancelled', incoming: true }]);
    // Long past the server's timeout: no late `timeout` for the chat.open that opened, no error.
    world.advance(SESSION_REQUEST_TIMEOUT_MS_DEFAULT + SESSION_OUTCOME_GRACE_MS + 1_000);
    expect(failedFor(world, 'alice', 'bob')).toEqual([]);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
    // The chat closes; alice asks again and her request goes out (no SESSION_PENDING).
    world.command('alice', { cmd: 'chat.close', username: 'bob' });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    expect(world.server.stats().pendingSessionRequests).toBe(1);
  });
});

describe('a withdrawal that finds our request already ended on the server', () => {
  it('is quiet: the NO_SUCH_SESSION_REQUEST answering the cancel and the late timeout are nobody\'s outcome', () => {
    const world = twoFriends({ autoAcceptChat: false });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // The server times alice's request out; its session.failed is held up on the way to her.
    world.holdFrames = { peer: 'alice', type: 'session.failed' };
    world.advance(SESSION_REQUEST_TIMEOUT_MS_DEFAULT + 1);
    expect(world.server.stats().pendingSessionRequests).toBe(0);
    world.holdFrames = null;
    // Bob asks alice, she says yes: the session opens, and alice withdraws a request the server no longer holds.
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.command('alice', { cmd: 'chat.answer', username: 'bob', accept: true });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    world.releaseHeld();
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    expect(failedFor(world, 'alice', 'bob')).toEqual([]);
    expect(world.peers.get('alice')!.sessionRequestCount).toBe(0);
  });
});
