/**
 * A read receipt given while no session is open waits for the next session with that friend
 * (core/peer/chat.ts, ExpectSession). It belongs to the account that read: through PeerHost on
 * the in-memory network (host-rig.ts), a program that logs out and logs in as another account of
 * the same friend never tells that friend the first account's receipt under the second's name;
 * the same account logged in again still tells it.
 *
 * Before the fix, carol's first session with alice sent bob's receipt: alice heard
 * `chat.read {username: "carol", id: "m1"}` for a message carol never got.
 */
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { Rig, type User } from './host-rig.ts';

const PASSWORD = 'correct horse';

function loginAs(rig: Rig, user: User, username: string): void {
  rig.command(user, { cmd: 'login', username, password: PASSWORD }, (e) => e.event === 'login.ok');
}

function befriend(rig: Rig, asker: User, askerName: string, other: User, otherName: string): void {
  const from = other.events.length;
  rig.command(asker, { cmd: 'friend.request', username: otherName }, (e) => e.event === 'friend.requested');
  rig.waitFor(other, (e) => e.event === 'friend.request', from);
  rig.command(other, { cmd: 'friend.accept', username: askerName }, (e) => e.event === 'friend.added');
}

function readReceipts(user: User, from: number): ClientEvent[] {
  return user.events.slice(from).filter((e) => e.event === 'chat.read');
}

/** alice and bob in a session; alice says m1, bob gets it, the session closes, bob reads m1 (owed). */
function bobOwesAliceAReceipt(): { rig: Rig; alice: User; bob: User } {
  const rig = new Rig();
  const { alice, bob } = rig.friendsInSession();
  const from = bob.events.length;
  rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'hi bob', id: 'm1' }, (e) => e.event === 'chat.sent');
  rig.waitFor(bob, (e) => e.event === 'chat.message', from);
  rig.command(alice, { cmd: 'chat.close', username: 'bob' }, (e) => e.event === 'chat.closed');
  rig.waitFor(bob, (e) => e.event === 'chat.closed', from);
  bob.host.input({ type: 'command', command: { cmd: 'chat.read', username: 'alice', id: 'm1' } });
  return { rig, alice, bob };
}

describe('a read receipt waiting for a session belongs to the account that read', () => {
  it('the same account logged in again still tells it when the next session opens', () => {
    const { rig, alice, bob } = bobOwesAliceAReceipt();
    rig.command(bob, { cmd: 'logout' }, (e) => e.event === 'logout.ok');
    loginAs(rig, bob, 'bob');
    const from = alice.events.length;
    rig.command(bob, { cmd: 'chat.open', username: 'alice' }, (e) => e.event === 'chat.opened');
    rig.waitFor(alice, (e) => e.event === 'chat.read', from);
    expect(readReceipts(alice, from)).toEqual([{ event: 'chat.read', username: 'bob', id: 'm1' }]);
  });

  it('another account logged in on the same program never tells it, under its own name or any', () => {
    const { rig, alice, bob } = bobOwesAliceAReceipt();
    // carol: an account of her own, alice's friend too, made from a program of her own.
    const carolsOwn = rig.addUser('carol');
    rig.waitFor(carolsOwn, (e) => e.event === 'ready');
    rig.command(carolsOwn, { cmd: 'signup', username: 'carol', password: PASSWORD }, (e) => e.event === 'signup.ok');
    loginAs(rig, carolsOwn, 'carol');
    befriend(rig, carolsOwn, 'carol', alice, 'alice');
    rig.command(carolsOwn, { cmd: 'logout' }, (e) => e.event === 'logout.ok');

    rig.command(bob, { cmd: 'logout' }, (e) => e.event === 'logout.ok');
    loginAs(rig, bob, 'carol');
    const from = alice.events.length;
    rig.command(bob, { cmd: 'chat.open', username: 'alice' }, (e) => e.event === 'chat.opened');
    rig.waitFor(alice, (e) => e.event === 'chat.opened', from);
    // Long enough for a msg.read sent at the session's start to arrive.
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(readReceipts(alice, from)).toEqual([]);
  });
});
