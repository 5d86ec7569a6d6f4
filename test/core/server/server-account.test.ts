/**
 * Account changes while logged in: the password (the old one required, checked as a login's is
 * and through the same limits, so it is no second guessing oracle; every earlier resume token
 * ends) and the nickname (friends online are told, friends offline see it at their next login).
 */
import { describe, expect, it } from 'vitest';
import { LOGIN_GUESSES_FREE, NICKNAME_CHANGES_PER_USER_BURST, NICKNAME_CHANGES_PER_USER_PER_HOUR, NICKNAME_CHARS_MAX } from '../../../core/limits.ts';
import { ServerHarness, fakeHash, passwordOf, storeWith } from '../../helpers/server-harness.ts';

const NEW_PASSWORD = 'a brand new secret';

function hashOf(h: ServerHarness, username: string): string | undefined {
  return h.store.load().accounts.find((account) => account.username === username)?.passwordHash;
}

describe('account.password', () => {
  it('changes the password: account.updated with a new resume token; the old token and the old password no longer work', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    const oldToken = h.tokenOf(alice);
    h.send(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    const reply = h.last(alice);
    expect(reply).toMatchObject({ type: 'account.updated', re: 7, username: 'alice', nickname: 'alice' });
    const newToken = reply?.type === 'account.updated' ? reply.resumeToken : undefined;
    expect(newToken).toBeDefined();
    expect(newToken).not.toBe(oldToken);
    expect(hashOf(h, 'alice')).toBe(fakeHash(NEW_PASSWORD));
    // Still logged in on the same connection.
    h.send(alice, { type: 'heartbeat', id: 8 });
    expect(h.last(alice)).toEqual({ type: 'heartbeat.ack', re: 8 });
    // A stolen earlier token resumes nothing; the new one does.
    const thief = h.resume('alice', oldToken);
    expect(h.last(thief)).toMatchObject({ type: 'error', code: 'BAD_RESUME_TOKEN' });
    h.close(alice);
    const back = h.resume('alice', newToken ?? '');
    expect(h.last(back)).toMatchObject({ type: 'login.ok', resumed: true });
    h.send(back, { type: 'logout' });
    const withOld = h.open();
    h.send(withOld, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(withOld)).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    expect(() => h.login('alice', NEW_PASSWORD)).not.toThrow();
    // Across a restart too.
    h.restart();
    expect(() => h.login('alice', NEW_PASSWORD)).not.toThrow();
  });

  it('on a node of a cluster, the new resume token is announced to the other nodes (any node takes a resume, so each must forget the old one)', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    const reply = h.last(alice);
    const newToken = reply?.type === 'account.updated' ? reply.resumeToken : undefined;
    expect(newToken).toBeDefined();
    expect(h.jobLog.filter((e) => e.type === 'announce').at(-1)).toEqual({ type: 'announce', item: { kind: 'attached', username: 'alice', resumeToken: newToken } });
  });

  it('on a single server, a password change announces nothing (there are no other nodes)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'account.updated', re: 7 });
    expect(h.jobLog.filter((e) => e.type === 'announce')).toEqual([]);
  });

  it('a new password whose hashing failed is INTERNAL, saying so, and changes nothing; another change may follow', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.sendUnsettled(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    h.settleOne();
    h.failHashes();
    expect(h.last(alice)).toStrictEqual({ type: 'error', re: 7, code: 'INTERNAL', message: expect.any(String), detail: 'password hashing failed' });
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
    h.send(alice, { type: 'account.password', id: 8, old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'account.updated', re: 8 });
  });

  it("password changes count against the address's login attempts: past the burst, RATE_LIMITED before any check", () => {
    const h = new ServerHarness({ store: storeWith(['alice']), authAttemptsPerAddressBurst: 2, authAttemptsPerAddressPerSec: 0.001 });
    const alice = h.login('alice');
    h.send(alice, { type: 'account.password', id: 1, old: 'wrong one', new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 1, code: 'BAD_CREDENTIALS' });
    const checks = h.jobLog.length;
    h.send(alice, { type: 'account.password', id: 2, old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 2, code: 'RATE_LIMITED' });
    expect(h.jobLog).toHaveLength(checks);
  });

  it('a change in flight when its asker logged out is dropped, even when the same user logs in again on that connection', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.sendUnsettled(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    h.sendUnsettled(alice, { type: 'logout' });
    h.sendUnsettled(alice, { type: 'login', username: 'alice', password: passwordOf('alice') });
    // The new login's check ends first: alice is logged in again when the old change's check ends.
    const login = h.jobLog.at(-1);
    h.input({ type: 'verified', jobId: login?.type === 'verify' ? login.jobId : -1, ok: true });
    expect(h.last(alice)).toMatchObject({ type: 'login.ok' });
    h.settle();
    expect(h.framesOf(alice, 'account.updated')).toEqual([]);
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
  });

  it('an asker gone while its new password is hashed: the hash comes back to nothing and nothing changes', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.sendUnsettled(alice, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    h.settleOne();
    h.close(alice);
    expect(() => h.settle()).not.toThrow();
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
  });

  it("a new password's hash still waiting for a thread when its asker leaves is dropped: never hashed", () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']), passwordChecksRunningMax: 1 });
    const alice = h.login('alice');
    h.sendUnsettled(alice, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    const bob = h.open();
    h.sendUnsettled(bob, { type: 'login', username: 'bob', password: passwordOf('bob') });
    // The old password checked: bob's waiting login takes the thread, the new hash waits.
    h.settleOne();
    h.close(alice);
    h.settle();
    expect(h.jobLog.filter((e) => e.type === 'hash')).toEqual([]);
  });

  it('a right old password clears the (username, address) guess count, as a login does', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    const guesser = h.open();
    for (let i = 0; i < LOGIN_GUESSES_FREE - 1; i++) h.send(guesser, { type: 'login', username: 'alice', password: `guess ${i} wrong` });
    h.send(alice, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'account.updated' });
    h.send(guesser, { type: 'login', username: 'alice', password: 'one more wrong' });
    expect(h.last(guesser)).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
  });

  it('a password change and sign-ups in flight at once are each answered for their own job', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    const signup = (username: string): number => {
      const c = h.open();
      h.sendUnsettled(c, { type: 'signup', username, password: passwordOf(username) });
      return c;
    };
    h.sendUnsettled(alice, { type: 'account.password', id: 7, old: passwordOf('alice'), new: NEW_PASSWORD });
    const early = [signup('bob'), signup('carol')];
    h.settleOne();
    const late = [signup('dave'), signup('erin')];
    h.settle();
    expect(h.last(alice)).toMatchObject({ type: 'account.updated', re: 7 });
    expect(hashOf(h, 'alice')).toBe(fakeHash(NEW_PASSWORD));
    for (const c of [...early, ...late]) expect(h.last(c)).toMatchObject({ type: 'signup.ok' });
  });

  it('a wrong old password is BAD_CREDENTIALS and changes nothing; the user stays logged in', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'account.password', id: 1, old: 'not the password', new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 1, code: 'BAD_CREDENTIALS', detail: 'the old password is wrong' });
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
    h.send(alice, { type: 'friends.list', id: 2 });
    expect(h.last(alice)).toMatchObject({ type: 'friends', re: 2 });
  });

  it('wrong old passwords count with failed logins against the same (username, address) slow-down: no second guessing oracle', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    // Failed logins for alice from the same address, then wrong old passwords: one count.
    const guesser = h.open();
    for (let i = 0; i < LOGIN_GUESSES_FREE - 1; i++) {
      h.send(guesser, { type: 'login', username: 'alice', password: `guess ${i} wrong` });
      expect(h.last(guesser)).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    }
    h.send(alice, { type: 'account.password', old: 'guess via change', new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    const jobsBefore = h.jobLog.length;
    h.send(alice, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: expect.stringMatching(/^too many attempts for this username from this address: retry in [1-9]\d* ms$/) });
    // Refused before any password check ran.
    expect(h.jobLog.length).toBe(jobsBefore);
    h.send(guesser, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(guesser)).toMatchObject({ type: 'error', code: 'RATE_LIMITED' });
    // From another address the owner is not slowed down.
    expect(() => h.login('alice', passwordOf('alice'), '10.9.9.9')).not.toThrow();
  });

  it('an invalid new password is refused before any check; a second change while one runs is BUSY', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    const jobsBefore = h.jobLog.length;
    h.send(alice, { type: 'account.password', old: passwordOf('alice'), new: 'short' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'PASSWORD_INVALID' });
    expect(h.jobLog.length).toBe(jobsBefore);
    h.sendUnsettled(alice, { type: 'account.password', id: 1, old: passwordOf('alice'), new: NEW_PASSWORD });
    h.sendUnsettled(alice, { type: 'account.password', id: 2, old: passwordOf('alice'), new: 'another new one' });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 2, code: 'BUSY', detail: 'a password change is already in progress' });
    // Heartbeats and other requests go on while the check runs.
    h.sendUnsettled(alice, { type: 'heartbeat', id: 3 });
    expect(h.last(alice)).toEqual({ type: 'heartbeat.ack', re: 3 });
    h.settle();
    expect(h.last(alice)).toMatchObject({ type: 'account.updated', re: 1 });
    expect(hashOf(h, 'alice')).toBe(fakeHash(NEW_PASSWORD));
  });

  it('the asker logging out or leaving before the checks end drops the change', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.sendUnsettled(alice, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    h.sendUnsettled(alice, { type: 'logout' });
    h.settle();
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
    const again = h.login('alice');
    h.sendUnsettled(again, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    h.close(again);
    h.settle();
    expect(hashOf(h, 'alice')).toBe(fakeHash(passwordOf('alice')));
  });

  it('needs a login', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    h.send(c, { type: 'account.password', old: passwordOf('alice'), new: NEW_PASSWORD });
    expect(h.last(c)).toMatchObject({ type: 'error', code: 'NOT_LOGGED_IN' });
    h.send(c, { type: 'account.nickname', nickname: 'Al' });
    expect(h.last(c)).toMatchObject({ type: 'error', code: 'NOT_LOGGED_IN' });
  });
});

describe('account.nickname', () => {
  it('changes the nickname: account.updated to us, friend.updated to friends online, the new name in lists and after a restart', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol', 'dave'], [['alice', 'bob'], ['alice', 'carol']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    const dave = h.login('dave');
    h.drain(bob);
    h.drain(dave);
    h.send(alice, { type: 'account.nickname', id: 4, nickname: 'Alice 🌼' });
    expect(h.last(alice)).toEqual({ type: 'account.updated', re: 4, username: 'alice', nickname: 'Alice 🌼' });
    expect(h.frames(bob)).toEqual([{ type: 'friend.updated', username: 'alice', nickname: 'Alice 🌼' }]);
    // Not a friend: not told.
    expect(h.frames(dave)).toEqual([]);
    // carol was offline: her next login shows the new name.
    const carol = h.login('carol');
    expect(h.last(carol)).toMatchObject({ type: 'login.ok', friends: [{ username: 'alice', nickname: 'Alice 🌼', status: 'online' }] });
    h.restart();
    const again = h.login('alice');
    expect(h.last(again)).toMatchObject({ type: 'login.ok', nickname: 'Alice 🌼' });
  });

  it('an invalid nickname is NICKNAME_INVALID; the same nickname again is answered without telling anyone', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.drain(bob);
    h.send(alice, { type: 'account.nickname', nickname: 'x'.repeat(NICKNAME_CHARS_MAX + 1) });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'NICKNAME_INVALID' });
    h.send(alice, { type: 'account.nickname', nickname: 'bad\u0007bell' });
    expect(h.last(alice)).toMatchObject({ type: 'error', code: 'NICKNAME_INVALID' });
    h.send(alice, { type: 'account.nickname', nickname: 'alice' });
    expect(h.last(alice)).toMatchObject({ type: 'account.updated', nickname: 'alice' });
    expect(h.frames(bob)).toEqual([]);
  });

  it('an empty, blank or direction-reversing nickname is NICKNAME_INVALID: kept as it was, no friend told', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.drain(bob);
    for (const nickname of ['', ' ', '\u3000\u200b', 'Alice ', 'Al\u202eice', 'Al\u2066ice', 'Al\u2028ice']) {
      h.send(alice, { type: 'account.nickname', nickname });
      expect(h.last(alice)).toMatchObject({ type: 'error', code: 'NICKNAME_INVALID' });
    }
    expect(h.frames(bob)).toEqual([]);
    h.restart();
    expect(h.last(h.login('alice'))).toMatchObject({ type: 'login.ok', nickname: 'alice' });
  });

  it(`renaming is rate-limited per user (a burst of ${NICKNAME_CHANGES_PER_USER_BURST}): no flood of friend.updated`, () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice');
    const bob = h.login('bob');
    h.drain(bob);
    const outcomes = Array.from({ length: NICKNAME_CHANGES_PER_USER_BURST + 3 }, (_, i) => {
      h.send(alice, { type: 'account.nickname', nickname: `name ${i}` });
      const reply = h.last(alice);
      return reply?.type === 'error' ? reply.code : reply?.type;
    });
    expect(outcomes.filter((o) => o === 'account.updated')).toHaveLength(NICKNAME_CHANGES_PER_USER_BURST);
    expect(outcomes.at(-1)).toBe('RATE_LIMITED');
    expect(h.last(alice)).toMatchObject({ detail: 'too many nickname changes: retry later' });
    expect(h.framesOf(bob, 'friend.updated')).toHaveLength(NICKNAME_CHANGES_PER_USER_BURST);
  });

  it(`after the burst, renames come back at ${NICKNAME_CHANGES_PER_USER_PER_HOUR} an hour: one per interval, none before it`, () => {
    // A TTL longer than the wait: alice stays logged in without heartbeats.
    const h = new ServerHarness({ ttlMs: 3_600_000, store: storeWith(['alice']) });
    const alice = h.login('alice');
    for (let i = 0; i < NICKNAME_CHANGES_PER_USER_BURST; i++) h.send(alice, { type: 'account.nickname', nickname: `name ${i}` });
    const intervalMs = 3_600_000 / NICKNAME_CHANGES_PER_USER_PER_HOUR;
    const rename = (nickname: string): string | undefined => {
      h.send(alice, { type: 'account.nickname', nickname });
      const reply = h.last(alice);
      return reply?.type === 'error' ? reply.code : reply?.type;
    };
    h.advance(intervalMs / 2);
    expect(rename('too early')).toBe('RATE_LIMITED');
    h.advance(intervalMs / 2);
    expect(rename('one more')).toBe('account.updated');
    expect(rename('and another')).toBe('RATE_LIMITED');
  });
});
