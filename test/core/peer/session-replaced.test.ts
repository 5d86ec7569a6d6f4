/**
 * Two sessions with one friend (core/peer/machine.ts, openSession): the one the server brokered
 * last is kept, on both sides. A friend who lost its end of a session without our noticing (a
 * half-open stream) and asked again gets the new session: ours is replaced quietly, the chat
 * stays open (no chat.closed, nothing reported undelivered), and messages go over the new stream.
 * In the pure world (peer-world.ts): real server and peer machines, in memory.
 */
import { describe, expect, it } from 'vitest';
import { P2P_HELLO_TIMEOUT_MS } from '../../../core/limits.ts';
import { type World, carolJoins, recordEffects, twoFriends } from './peer-world.ts';


/** alice opened a session with bob; bob's end of it then closed without alice hearing of it. */
function halfOpen(): World {
  const world = twoFriends();
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.peer('bob').openSessions()).toEqual(['alice']);
  // bob accepted alice's stream as in:1; only bob hears it close.
  world.peer('bob').handle({ type: 'p2p.closed', streamId: 'in:1', error: 'ETIMEDOUT' }, world.nowMs);
  world.peer('bob').takeEffects();
  expect(world.peer('bob').openSessions()).toEqual([]);
  expect(world.peer('alice').openSessions()).toEqual(['bob']);
  return world;
}

describe('a newer session with the same friend replaces the older one', () => {
  it('the friend asks again after losing its end: our old stream is closed, the chat stays open and carries messages on the new one', () => {
    const world = halfOpen();
    const alice = recordEffects(world, 'alice');
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('bob', 'chat.opened')).toHaveLength(2);
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(2);
    // The old stream (alice's out:1) is closed by alice, quietly: no chat.closed, no bye.
    expect(alice).toContainEqual({ type: 'p2p.close', streamId: 'out:1' });
    expect(alice.filter((e) => e.type === 'p2p.send' && e.frame.type === 'bye')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'on the new stream', id: 1 });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([{ event: 'chat.message', from: 'alice', text: 'on the new stream', id: 1 }]);
    expect(world.eventsOf('alice', 'chat.sent')).toEqual([{ event: 'chat.sent', username: 'bob', id: 1 }]);
  });

  it('a message sent on the old stream and not yet acknowledged is not reported undelivered when the session is replaced', () => {
    const world = halfOpen();
    // bob no longer reads the old stream: this message is never acknowledged there.
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'lost in the half-open stream', id: 1 });
    expect(world.eventsOf('alice', 'chat.sent')).toEqual([]);
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('alice', 'chat.undelivered')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
  });

  it('frames still arriving on the replaced stream are ignored', () => {
    const world = halfOpen();
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    // The old stream is closed at alice; a message on it now goes nowhere, and the new one still works.
    world.peer('alice').handle({ type: 'p2p.bytes', streamId: 'out:1', bytes: new Uint8Array([1, 2, 3]) }, world.nowMs);
    expect(world.peer('alice').takeEffects()).toEqual([]);
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'new', id: 2 });
    expect(world.eventsOf('alice', 'chat.message')).toEqual([{ event: 'chat.message', from: 'bob', text: 'new', id: 2 }]);
  });

  it('two sessions crossing (each friend asked while the other\'s greeting was on its way): both sides keep the one brokered last, and it carries messages both ways', () => {
    const world = twoFriends();
    world.pausedReaders.add('bob');
    // Session 1: alice calls; her hello waits unread at bob.
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // Session 2: bob calls; alice takes his hello at once, her hello.ok waits unread at bob.
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    expect(world.peer('bob').openSessions()).toEqual([]);
    // bob reads: alice's hello of session 1, then her hello.ok of session 2.
    const alice = recordEffects(world, 'alice');
    world.pausedReaders.delete('bob');
    world.readSome('bob', 1_000_000);
    // alice's own chat.open is answered too (chat.opened), and the older stream, hers, is closed by her.
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([
      { event: 'chat.opened', username: 'bob' },
      { event: 'chat.opened', username: 'bob' },
    ]);
    expect(alice).toContainEqual({ type: 'p2p.close', streamId: 'out:1' });
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    expect(world.peer('bob').openSessions()).toEqual(['alice']);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([]);
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'to bob', id: 1 });
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'to alice', id: 2 });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([{ event: 'chat.message', from: 'alice', text: 'to bob', id: 1 }]);
    expect(world.eventsOf('alice', 'chat.message')).toEqual([{ event: 'chat.message', from: 'bob', text: 'to alice', id: 2 }]);
  });

  // Requests crossing, one step later than the broker sees: our chat.open's request is past its
  // session.established (our hello is on its way) when the friend's own session opens. Its
  // chat.opened answers our chat.open, as it does one still pending; a failure of our set-up after
  // it used to answer the same chat.open a second time, chat.failed, while the chat was open.
  it.each([
    ['its stream drops', 'unreachable'],
    ['its hello is never answered', 'timeout'],
  ])("our own set-up to the friend ends quietly once the friend's session opened: %s", (_how, reasonBefore) => {
    const world = twoFriends();
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    if (reasonBefore === 'unreachable') world.peer('alice').handle({ type: 'p2p.closed', streamId: 'out:1', error: 'ECONNRESET' }, world.nowMs);
    else world.advance(P2P_HELLO_TIMEOUT_MS);
    const taken = world.peer('alice').takeEffects();
    expect([...world.eventsOf('alice', 'chat.failed'), ...taken.filter((e) => e.type === 'event' && e.event.event === 'chat.failed')]).toEqual([]);
  });

  it("our connection to the friend still being made when the friend's session opens fails quietly too", () => {
    const world = twoFriends();
    world.hangingConnects.add('alice');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.hangingConnects.delete('alice');
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    // The connect gives up (ETIMEDOUT) with the chat open: the chat.open had its answer.
    world.peer('alice').handle({ type: 'p2p.closed', streamId: 'out:1', error: 'ETIMEDOUT' }, world.nowMs);
    expect(world.peer('alice').takeEffects().filter((e) => e.type === 'event' && e.event.event === 'chat.failed')).toEqual([]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });

  it('a set-up that fails with no session with the friend opened meanwhile still answers the chat.open chat.failed, whoever else opened one', () => {
    const world = twoFriends();
    carolJoins(world, 'alice');
    world.pausedReaders.add('bob');
    world.pausedReaders.add('carol');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('alice', { cmd: 'chat.open', username: 'carol' });
    // carol's own session with alice opens: it answers nothing of alice's chat.open to bob.
    world.pausedReaders.delete('carol');
    world.readSome('carol', 1_000_000);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'carol' }]);
    world.peer('alice').handle({ type: 'p2p.closed', streamId: 'out:1', error: 'ECONNRESET' }, world.nowMs);
    expect(world.peer('alice').takeEffects()).toContainEqual({ type: 'event', event: { event: 'chat.failed', username: 'bob', reason: 'unreachable' } });
  });

  it("the friendship ending while our set-up runs, after the friend's session opened, says chat.closed unfriended and no chat.failed", () => {
    const world = twoFriends();
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.command('alice', { cmd: 'friend.remove', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'unfriended' }]);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
  });

  // The yes to a request is answered, chat.opened or chat.failed (docs/CLIENT.md, chat.answer):
  // the chat.opened of the session open before the request came answered nothing of it. Once the
  // open chat kept the expiry quiet, and a user who had typed that yes waited for ever.
  it('a second session the friend asked for that never greets us fails its request (chat.failed timeout, incoming) when the token expires: the open chat goes on', () => {
    const world = halfOpen();
    // alice reads nothing now: bob's hello for the new session never reaches her.
    world.pausedReaders.add('alice');
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.advance(P2P_HELLO_TIMEOUT_MS - 1);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
    world.advance(1);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout', incoming: true }]);
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });

  // Requests crossing: our own chat.open's session opens while we hold the token of the friend's
  // request; its chat.opened answers our yes as well (as it answers a chat.open of ours still
  // pending, session-broker.ts), so the token running out unused says nothing more.
  it("a chat.opened told while the friend's token is held answers the yes: the token expiring unused adds no chat.failed", () => {
    const world = twoFriends();
    world.pausedReaders.add('alice');
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    // alice holds bob's token; his hello waits unread, and its stream drops on her side.
    world.peer('alice').handle({ type: 'p2p.closed', streamId: 'in:1', error: 'ECONNRESET' }, world.nowMs);
    world.peer('alice').takeEffects();
    world.pausedReaders.delete('alice');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    world.advance(P2P_HELLO_TIMEOUT_MS * 2);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });

  // The chat.opened told before the token was held answers nothing of it, even when the session
  // it opened has closed since.
  it('a session that opened and closed before the token came leaves its expiry to say chat.failed timeout', () => {
    const world = halfOpen();
    world.command('alice', { cmd: 'chat.close', username: 'bob' });
    expect(world.peer('alice').openSessions()).toEqual([]);
    world.pausedReaders.add('alice');
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.advance(P2P_HELLO_TIMEOUT_MS);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout', incoming: true }]);
  });

  it('chat.open to a friend already in session is answered chat.opened at once, under its ref, and asks the server nothing', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    const requests = world.server.stats().pendingSessionRequests;
    world.input('alice', { type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 9 });
    const opened = world.eventsOf('alice', 'chat.opened');
    expect(opened).toHaveLength(2);
    expect(world.refOf.get(opened[1]!)).toBe(9);
    expect(world.server.stats().pendingSessionRequests).toBe(requests);
    expect(world.eventsOf('bob', 'chat.request')).toHaveLength(0);
  });
});

