/**
 * A friendship ends (friend.remove, by either side): nothing of it may go on. Through PeerHost on
 * the in-memory network (host-rig.ts): the open P2P session closes on both sides with chat.closed
 * reason `unfriended`, a file on the way fails on both sides (`unfriended`), and a later chat.open
 * goes to the server, which answers `not-friends`. A request not yet answered ends too. In the
 * pure world (peer-world.ts): a friendship that ended while our link was down ends our session
 * when the login is taken back (the server holds no friend.removed for a detached user).
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_DELAY_MS_MAX } from '../../../core/limits.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { Rig, type User, fileOf } from './host-rig.ts';
import { twoFriends } from './peer-world.ts';

const FILE_BYTES = 16 * 1024 * 1024;

function after(user: User, from: number, event: string): ClientEvent[] {
  return user.events.slice(from).filter((e) => e.event === event);
}

describe.each([
  { remover: 'bob', label: 'the friend removes us' },
  { remover: 'alice', label: 'we remove the friend' },
])('friend.remove during a session with a transfer flowing: $label', ({ remover }) => {
  it('closes the session on both sides (unfriended), fails the transfer on both sides, and a new chat.open gets not-friends', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    const file = fileOf(alice.files, 'big.bin', FILE_BYTES);
    alice.host.input({ type: 'command', command: { cmd: 'file.send', username: 'bob', files: [file] } });
    rig.waitFor(bob, (e) => e.event === 'file.progress' && e.bytes > 0);
    const [actor, other] = remover === 'bob' ? [bob, alice] : [alice, bob];
    const fromAlice = alice.events.length;
    const fromBob = bob.events.length;

    rig.command(actor, { cmd: 'friend.remove', username: other.name }, (e) => e.event === 'friend.removed');
    for (const [user, from, friend] of [[alice, fromAlice, 'bob'], [bob, fromBob, 'alice']] as const) {
      rig.waitFor(user, (e) => e.event === 'chat.closed', from);
      rig.waitFor(user, (e) => e.event === 'file.failed', from);
      expect(after(user, from, 'chat.closed')).toEqual([{ event: 'chat.closed', username: friend, reason: 'unfriended' }]);
      expect(after(user, from, 'file.failed')).toMatchObject([{ event: 'file.failed', reason: 'unfriended' }]);
      expect(after(user, from, 'file.sent').concat(after(user, from, 'file.received'))).toEqual([]);
      expect(user.host.machine.openSessions()).toEqual([]);
      expect(user.host.machine.transferCount()).toBe(0);
      // No history store here: the queued mail to fail (history.fail-queued) is nobody's business, and nothing fails.
      expect(user.notes.filter((n) => n.event === 'history.failed')).toEqual([]);
    }
    // The download's temporary file is gone.
    expect(bob.files.calls.some((c) => c.startsWith('discard'))).toBe(true);

    // No session left to answer from: the server says they are no longer friends.
    const failed = rig.command(alice, { cmd: 'chat.open', username: 'bob' }, (e) => e.event === 'chat.opened' || e.event === 'chat.failed');
    expect(failed).toEqual({ event: 'chat.failed', username: 'bob', reason: 'not-friends' });
  });
});

describe('friend.remove ends what is being set up', () => {
  it('a session request the callee has not answered ends on both sides, and the callee cannot answer it', () => {
    const rig = new Rig();
    const alice = rig.addUser('alice');
    const bob = rig.addUser('bob', undefined, { autoAcceptChat: false });
    for (const user of [alice, bob]) {
      rig.waitFor(user, (e) => e.event === 'ready');
      rig.command(user, { cmd: 'signup', username: user.name, password: 'correct horse' }, (e) => e.event === 'signup.ok');
      rig.command(user, { cmd: 'login', username: user.name, password: 'correct horse' }, (e) => e.event === 'login.ok');
    }
    rig.command(alice, { cmd: 'friend.request', username: 'bob' }, (e) => e.event === 'friend.requested');
    rig.waitFor(bob, (e) => e.event === 'friend.request');
    rig.command(bob, { cmd: 'friend.accept', username: 'alice' }, (e) => e.event === 'friend.added');
    rig.waitFor(alice, (e) => e.event === 'friend.added');
    alice.host.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    rig.waitFor(bob, (e) => e.event === 'chat.request');

    const fromBob = bob.events.length;
    rig.command(alice, { cmd: 'friend.remove', username: 'bob' }, (e) => e.event === 'friend.removed');
    expect(rig.waitFor(alice, (e) => e.event === 'chat.failed')).toEqual({ event: 'chat.failed', username: 'bob', reason: 'not-friends' });
    expect(rig.waitFor(bob, (e) => e.event === 'chat.failed', fromBob)).toEqual({ event: 'chat.failed', username: 'alice', reason: 'not-friends', incoming: true });
    const answer = rig.command(bob, { cmd: 'chat.answer', username: 'alice', accept: true }, (e) => e.event === 'error' || e.event === 'chat.opened');
    expect(answer).toMatchObject({ event: 'error', code: 'NO_SUCH_SESSION_REQUEST' });
    expect(alice.host.machine.sessionRequestCount + bob.host.machine.sessionRequestCount).toBe(0);
  });
});

describe('a friendship that ended while our link was down', () => {
  it('ends what is left with the ex-friend when the login is taken back: the friends list is the truth', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    // Neither reads its P2P stream now: alice's offer and bob's bye wait unread.
    world.pausedReaders.add('alice');
    world.pausedReaders.add('bob');
    world.sources.set('/src/a.bin', new Uint8Array(4096).fill(1));
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/src/a.bin', name: 'a.bin', size: 4096 }] });
    // alice's server link drops, and bob ends the friendship while she is away (the server has
    // no link to tell her on). The stream closes under her: the transfer waits for a resume.
    world.cutServerLink('alice');
    world.command('bob', { cmd: 'friend.remove', username: 'alice' });
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'unfriended' }]);
    expect(world.eventsOf('alice', 'file.failed')).toEqual([]);
    expect(world.peer('alice').transferCount()).toBe(1);

    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.peer('alice').loggedIn).toBe(true);
    // The resumed login's friends list has no bob: the transfer ends now, not at its resume wait.
    expect(world.eventsOf('alice', 'file.failed')).toMatchObject([{ reason: 'unfriended', username: 'bob' }]);
    expect(world.peer('alice').transferCount()).toBe(0);
    expect(world.peer('alice').openSessions()).toEqual([]);
  });
});

describe('a read receipt waiting for a session, when the friendship ends', () => {
  it('is dropped: the session of a friendship made again later does not carry it', () => {
    const world = twoFriends();
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'before', id: 'b-1' });
    world.command('bob', { cmd: 'chat.close', username: 'alice' });
    expect(world.peer('alice').openSessions()).toEqual([]);
    // alice reads bob's message with no session open: the receipt waits for the next session.
    world.command('alice', { cmd: 'chat.read', username: 'bob', id: 'b-1' });
    world.command('alice', { cmd: 'friend.remove', username: 'bob' });
    world.command('alice', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'friend.accept', username: 'alice' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.peer('bob').openSessions()).toEqual(['alice']);
    // What was read during the old friendship is not told to the new one's session.
    expect(world.eventsOf('bob', 'chat.read')).toEqual([]);
  });

  it('is sent when the friendship goes on: the next session carries it first', () => {
    const world = twoFriends();
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'before', id: 'b-1' });
    world.command('bob', { cmd: 'chat.close', username: 'alice' });
    world.command('alice', { cmd: 'chat.read', username: 'bob', id: 'b-1' });
    world.command('bob', { cmd: 'chat.open', username: 'alice' });
    expect(world.eventsOf('bob', 'chat.read')).toEqual([{ event: 'chat.read', username: 'alice', id: 'b-1' }]);
  });
});
