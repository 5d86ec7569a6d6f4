/**
 * The client side of friend requests made while we were away and of account changes, with the
 * real server machine: requests waiting at login are listed in login.ok (`pending`) and each told
 * as a friend.request right after; a password change keeps the link's login working (the new
 * token resumes after a blip, the new password logs in again after a server restart); a nickname
 * change reaches friends as friend.updated.
 */
import { describe, expect, it } from 'vitest';
import { RECONNECT_DELAY_MS_MAX } from '../../../core/limits.ts';
import { World, twoFriends } from './peer-world.ts';

function signupLogin(world: World, name: string): void {
  world.command(name, { cmd: 'signup', username: name, password: `${name}-password` });
  world.command(name, { cmd: 'login', username: name, password: `${name}-password` });
}

describe('friend requests made while the target was offline', () => {
  it('login.ok lists them as pending and a friend.request follows for each (before: neither)', () => {
    const world = new World();
    world.addPeer('alice', 7001);
    world.addPeer('bob', 7002);
    world.addPeer('carol', 7003);
    signupLogin(world, 'alice');
    signupLogin(world, 'carol');
    world.command('bob', { cmd: 'signup', username: 'bob', password: 'bob-password' });
    world.command('alice', { cmd: 'friend.request', username: 'bob' });
    world.command('carol', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'login', username: 'bob', password: 'bob-password' });
    const events = world.events.get('bob') ?? [];
    const loginAt = events.findIndex((e) => e.event === 'login.ok');
    expect(events[loginAt]).toMatchObject({ event: 'login.ok', username: 'bob', pending: ['alice', 'carol'] });
    expect(events.slice(loginAt + 1).filter((e) => e.event === 'friend.request')).toEqual([
      { event: 'friend.request', from: 'alice' },
      { event: 'friend.request', from: 'carol' },
    ]);
    world.command('bob', { cmd: 'friend.accept', username: 'alice' });
    expect(world.eventsOf('alice', 'friend.added')).toMatchObject([{ username: 'bob', status: 'online' }]);
  });

  it('a request that came while the link was down is told after the resume, once; a later blip does not repeat it', () => {
    const world = twoFriends();
    world.addPeer('carol', 7003);
    signupLogin(world, 'carol');
    // alice's link drops; carol asks while she is detached (the push cannot reach her).
    world.cutServerLink('alice');
    world.command('carol', { cmd: 'friend.request', username: 'alice' });
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'friend.request')).toEqual([{ event: 'friend.request', from: 'carol' }]);
    world.cutServerLink('alice');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(2);
    expect(world.eventsOf('alice', 'friend.request')).toHaveLength(1);
  });
});

describe('account changes from the client', () => {
  it('account.password: account.updated; a blip then resumes with the new token, and a server restart logs in with the new password', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' });
    expect(world.eventsOf('alice', 'account.updated')).toEqual([{ event: 'account.updated', username: 'alice', nickname: 'alice' }]);
    const resumesBefore = world.server.stats().resumes;
    world.cutServerLink('alice');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.server.stats().resumes).toBe(resumesBefore + 1);
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
  });

  it('account.password with a wrong old password: BAD_CREDENTIALS, still logged in with the old one', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'account.password', old: 'wrong-password', new: 'alice-new-password' });
    expect(world.eventsOf('alice', 'error')).toMatchObject([{ event: 'error', code: 'BAD_CREDENTIALS' }]);
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.peer('alice').loggedIn).toBe(true);
  });

  it('account.nickname: account.updated to us, friend.updated to the friend', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'account.nickname', nickname: 'Alice' });
    expect(world.eventsOf('alice', 'account.updated')).toEqual([{ event: 'account.updated', username: 'alice', nickname: 'Alice' }]);
    expect(world.eventsOf('bob', 'friend.updated')).toEqual([{ event: 'friend.updated', username: 'alice', nickname: 'Alice' }]);
  });
});

/**
 * A password change whose answer is lost with the connection: the server may have applied it
 * (then the old token and the old password no longer work) or never had it. The client finds
 * out when it takes its login back, keeps whichever password works, and answers the command with
 * what happened, under its ref. Before: it resumed with the old token, fell back to the old
 * password and was logged out for good (relogin-refused), and the command said SERVER_UNAVAILABLE.
 */
describe('a connection drop in the middle of account.password', () => {
  const change = { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' } as const;

  function expectLoggedInThroughRestart(world: World): void {
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(world.server.isOnline('alice')).toBe(true);
    expect(world.peer('alice').loggedIn).toBe(true);
  }

  it('applied, account.updated lost: the client logs back in with the new password and answers account.updated', () => {
    const world = twoFriends();
    world.cutBeforeFrame = { peer: 'alice', type: 'account.updated' };
    world.input('alice', { type: 'command', command: change, ref: 41 });
    expect(world.server.isOnline('alice')).toBe(true);
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.peer('alice').loggedIn).toBe(true);
    const updated = world.eventsOf('alice', 'account.updated');
    expect(updated).toEqual([{ event: 'account.updated', username: 'alice', nickname: 'alice' }]);
    expect(world.refOf.get(updated[0]!)).toBe(41);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    // The link holds the new password now: a server restart logs in with it.
    expectLoggedInThroughRestart(world);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
  });

  it('applied, account.updated lost, and the server restarted before the client came back: the new password logs in', () => {
    const world = twoFriends();
    world.cutBeforeFrame = { peer: 'alice', type: 'account.updated' };
    world.input('alice', { type: 'command', command: change, ref: 42 });
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(world.peer('alice').loggedIn).toBe(true);
    expect(world.eventsOf('alice', 'account.updated')).toHaveLength(1);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
  });

  it('never reached the server: the old token resumes, the command says SERVER_UNAVAILABLE, the old password still logs in', () => {
    const world = twoFriends();
    // The command's frame is still in alice's outbox when the link drops: the server never reads it.
    world.peer('alice').handle({ type: 'command', command: change, ref: 43 }, world.nowMs);
    world.cutServerLink('alice');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.peer('alice').loggedIn).toBe(true);
    const errors = world.eventsOf('alice', 'error');
    expect(errors).toMatchObject([{ event: 'error', code: 'SERVER_UNAVAILABLE' }]);
    expect(world.refOf.get(errors[0]!)).toBe(43);
    expect(world.eventsOf('alice', 'account.updated')).toEqual([]);
    expectLoggedInThroughRestart(world);
    expect(world.eventsOf('alice', 'error')).toHaveLength(1);
  });

  it('never reached the server, which then restarted: the new password is refused, the old one logs in, the command says SERVER_UNAVAILABLE', () => {
    const world = twoFriends();
    world.peer('alice').handle({ type: 'command', command: change, ref: 44 }, world.nowMs);
    world.cutServerLink('alice');
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(world.peer('alice').loggedIn).toBe(true);
    const errors = world.eventsOf('alice', 'error');
    expect(errors).toMatchObject([{ event: 'error', code: 'SERVER_UNAVAILABLE' }]);
    expect(world.refOf.get(errors[0]!)).toBe(44);
    expect(world.eventsOf('alice', 'account.updated')).toEqual([]);
  });
});
