/**
 * friend.block with a chat session open, or about to open: the conversation ends there. Through PeerHost on the
 * in-memory network (host-rig.ts): the blocker's client closes the open session on both sides
 * (`chat.closed` reason `closed`, what any close says, so the block stays silent to the blocked
 * user), and nothing more the blocked user says reaches the blocker, nor does the blocker's own
 * chat.send go to them over P2P (it takes the offline path, where the server says BLOCKED).
 *
 * Before the fix the session went on: the blocked user's messages and typing still reached the
 * blocker, and the blocker could still write to them over P2P while chat.send without a session
 * said BLOCKED.
 */
import { describe, expect, it } from 'vitest';
import { Rig } from './host-rig.ts';
import { heldCallerToken } from './peer-world.ts';

describe('friend.block during an open chat session', () => {
  it('closes the session on both sides with reason closed; the blocked user’s later messages and typing never reach the blocker', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const fromAlice = alice.events.length;
    const fromBob = bob.events.length;
    rig.command(alice, { cmd: 'friend.block', username: 'bob' }, (e) => e.event === 'friend.blocked');
    expect(rig.waitFor(alice, (e) => e.event === 'chat.closed', fromAlice)).toEqual({ event: 'chat.closed', username: 'bob', reason: 'closed' });
    expect(rig.waitFor(bob, (e) => e.event === 'chat.closed', fromBob)).toEqual({ event: 'chat.closed', username: 'alice', reason: 'closed' });
    expect([alice.host.machine.openSessions(), bob.host.machine.openSessions()]).toEqual([[], []]);

    bob.host.input({ type: 'command', command: { cmd: 'chat.typing', username: 'alice' } });
    bob.host.input({ type: 'command', command: { cmd: 'chat.send', username: 'alice', text: 'are you there?', id: 'b1' } });
    const refused = rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'bye', id: 'a1' }, (e) => e.event === 'error' || e.event === 'chat.sent');
    // Refused, never sent over P2P: the rig's users have no identity keys, so the refusal here is
    // PEER_KEY_UNKNOWN; with keys the server answers BLOCKED (server-blocked.test.ts).
    expect(refused).toMatchObject({ event: 'error', username: 'bob', id: 'a1' });
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.events.slice(fromAlice).filter((e) => e.event === 'chat.message' || e.event === 'chat.typing')).toEqual([]);
    expect(bob.events.slice(fromBob).filter((e) => e.event === 'chat.message')).toEqual([]);
  });

  it('a block of a friend with no session open closes nothing', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    rig.command(alice, { cmd: 'chat.close', username: 'bob' }, (e) => e.event === 'chat.closed');
    rig.waitFor(bob, (e) => e.event === 'chat.closed');
    const fromAlice = alice.events.length;
    rig.command(alice, { cmd: 'friend.block', username: 'bob' }, (e) => e.event === 'friend.blocked');
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(alice.events.slice(fromAlice)).toEqual([{ event: 'friend.blocked', username: 'bob' }]);
  });

  it('blocking a friend whose chat request we said yes to, before their hello came: the held token goes, and their hello opens nothing', () => {
    // Before: the hello that came after the block opened a session with the user just blocked.
    const { world } = heldCallerToken();
    world.command('bob', { cmd: 'friend.block', username: 'alice' });
    expect(world.eventsOf('bob', 'friend.blocked')).toEqual([{ event: 'friend.blocked', username: 'alice' }]);
    expect(world.eventsOf('bob', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'cancelled', incoming: true }]);
    world.releaseHeld();
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([]);
    // Told what any caller whose yes ran out is told: nothing of the block.
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'session-token-expired' }]);
  });
});
