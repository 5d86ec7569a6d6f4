/**
 * The seed's sign-up and login use cases (main flows and exception flows), duplicate logins,
 * login rate limits and the connection rules around authentication, on the server machine.
 */
import { describe, expect, it } from 'vitest';
import {
  AUTH_ATTEMPTS_PER_ADDRESS_BURST,
  AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  LOGIN_GUESS_DELAY_MS_MIN,
  LOGIN_GUESSES_FREE,
  PASSWORD_CHARS_MAX,
  USERNAME_CHARS_MAX,
} from '../../../core/limits.ts';
import { ServerHarness, fakeHash, passwordOf, storeWith } from '../../helpers/server-harness.ts';

describe('sign-up (seed use case 1.3.1)', () => {
  it('a node of a cluster that lost its store refuses sign-ups SERVER_DEGRADED, asking for no hash, and takes them again once healthy', () => {
    const h = new ServerHarness({ clustered: true });
    const c = h.open();
    h.input({ type: 'cluster.health', healthy: false });
    h.send(c, { type: 'signup', id: 1, username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'error', re: 1, code: 'SERVER_DEGRADED' });
    expect(h.jobLog).toEqual([]);
    h.input({ type: 'cluster.health', healthy: true });
    h.send(c, { type: 'signup', id: 2, username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toEqual({ type: 'signup.ok', re: 2, username: 'alice' });
  });

  it('a node of a cluster that lost its store refuses resumes SERVER_DEGRADED as it does logins, and takes the same token again once healthy', () => {
    const h = new ServerHarness({ clustered: true, store: storeWith(['alice']) });
    const alice = h.login('alice');
    const token = h.tokenOf(alice);
    h.close(alice);
    h.input({ type: 'cluster.health', healthy: false });
    const refused = h.open();
    h.send(refused, { type: 'resume', id: 7, username: 'alice', token });
    expect(h.last(refused)).toMatchObject({ type: 'error', re: 7, code: 'SERVER_DEGRADED' });
    h.input({ type: 'cluster.health', healthy: true });
    const resumed = h.resume('alice', token);
    expect(h.framesOf(resumed, 'login.ok')).toHaveLength(1);
  });

  it('main flow: a unique username gets signup.ok and the account is stored, with a hash and not the password', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'signup', id: 3, username: 'alice', password: 'correct horse', nickname: 'Alice' });
    expect(h.last(c)).toEqual({ type: 'signup.ok', re: 3, username: 'alice' });
    expect(h.jobLog).toMatchObject([{ type: 'hash', password: 'correct horse' }]);
    const [account] = h.store.load().accounts;
    expect(account).toMatchObject({ username: 'alice', nickname: 'Alice', passwordHash: fakeHash('correct horse') });
    expect(JSON.stringify(h.store.load())).not.toContain('"correct horse"');
    expect(h.isClosed(c)).toBe(false);
    // The new account can log in.
    h.send(c, { type: 'login', username: 'alice', password: 'correct horse' });
    expect(h.last(c)).toMatchObject({ type: 'login.ok', username: 'alice', nickname: 'Alice', friends: [] });
  });

  it('the nickname defaults to the username', () => {
    const h = new ServerHarness();
    h.signup('bob');
    expect(h.store.load().accounts[0]).toMatchObject({ nickname: 'bob' });
  });

  it('exception 2a: a duplicate username gets USERNAME_TAKEN, the connection stays open and nothing is stored', () => {
    const h = new ServerHarness();
    h.signup('alice');
    const c = h.open();
    h.send(c, { type: 'signup', id: 9, username: 'alice', password: 'another password' });
    expect(h.last(c)).toMatchObject({ type: 'error', re: 9, code: 'USERNAME_TAKEN' });
    expect(h.isClosed(c)).toBe(false);
    expect(h.store.accountCount).toBe(1);
    expect(h.jobLog).toHaveLength(1);
  });

  it('a sign-up the store refuses (another node took the name first) is answered USERNAME_TAKEN, and the name is free of it: a later sign-up is refused by the store too, not held as in progress', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', id: 4, username: 'zed', password: 'password-one' });
    // Another node of a cluster commits the same name while this one hashes.
    h.store.apply([{ op: 'account.create', username: 'zed', nickname: 'Zed elsewhere', passwordHash: 'elsewhere', createdAtMs: 0 }]);
    h.settle();
    expect(h.last(c)).toMatchObject({ type: 'error', re: 4, code: 'USERNAME_TAKEN' });
    expect(h.machine.hasAccount('zed')).toBe(false);
    h.send(c, { type: 'signup', id: 5, username: 'zed', password: 'password-two' });
    expect(h.last(c)).toMatchObject({ type: 'error', re: 5, code: 'USERNAME_TAKEN' });
    expect(h.jobLog.filter((e) => e.type === 'hash')).toHaveLength(2);
  });

  it('a sign-up whose client left before the store refused the name: nothing is sent, the server goes on', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', username: 'zed', password: 'password-one' });
    h.store.apply([{ op: 'account.create', username: 'zed', nickname: 'Zed elsewhere', passwordHash: 'elsewhere', createdAtMs: 0 }]);
    h.close(c);
    const before = h.frames(c).length;
    h.settle();
    expect(h.frames(c)).toHaveLength(before);
    expect(() => h.signup('amy')).not.toThrow();
  });

  it('a commit answer for no sign-up in progress (a repeated or stale one) changes nothing', () => {
    const h = new ServerHarness();
    h.signup('alice');
    const c = h.open();
    h.input({ type: 'committed', jobId: 1, refused: false });
    h.input({ type: 'committed', jobId: 999, refused: true });
    expect(h.frames(c).map((f) => f.type)).toEqual(['welcome']);
    expect(h.machine.stats().signups).toBe(1);
  });

  it('a verify answer for no check in progress (a repeated or stale one from the hasher) changes nothing', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.login('alice');
    const before = h.frames(c).length;
    h.input({ type: 'verified', jobId: 999, ok: true });
    h.input({ type: 'verified', jobId: 1, ok: false });
    expect(h.frames(c)).toHaveLength(before);
    expect(h.machine.isOnline('alice')).toBe(true);
  });

  it('an answer naming a job of the other kind, one still waiting in line, or none, changes nothing (the hasher answers only the jobs it was given)', () => {
    const h = new ServerHarness({ store: storeWith(['bob']), passwordChecksRunningMax: 2 });
    const login = h.open();
    h.sendUnsettled(login, { type: 'login', username: 'bob', password: passwordOf('bob') });
    const running = h.open();
    h.sendUnsettled(running, { type: 'signup', username: 'carol', password: passwordOf('carol') });
    const waiting = h.open();
    h.sendUnsettled(waiting, { type: 'signup', username: 'dave', password: passwordOf('dave') });
    const [verify, hash] = h.jobLog;
    const loginJobId = verify?.type === 'verify' ? verify.jobId : -1;
    const signupJobId = hash?.type === 'hash' ? hash.jobId : -1;
    // Job ids are handed out in order: the waiting sign-up's is the next one.
    const waitingJobId = signupJobId + 1;
    h.input({ type: 'hashed', jobId: loginJobId, passwordHash: fakeHash('anything') });
    h.input({ type: 'verified', jobId: signupJobId, ok: true });
    h.input({ type: 'hashed', jobId: waitingJobId, passwordHash: fakeHash('anything') });
    h.input({ type: 'verified', jobId: waitingJobId, ok: true });
    h.input({ type: 'hashed', jobId: 999, passwordHash: fakeHash('anything') });
    for (const c of [login, running, waiting]) expect(h.frames(c).map((f) => f.type)).toEqual(['welcome']);
    expect(h.store.accountCount).toBe(1);
    // Each check still ends as its own answer says, once: bob logged in, carol and dave signed up with their passwords.
    h.settle();
    expect(h.frames(login).map((f) => f.type)).toEqual(['welcome', 'login.ok']);
    for (const c of [running, waiting]) expect(h.frames(c).map((f) => f.type)).toEqual(['welcome', 'signup.ok']);
    expect(h.store.load().accounts).toEqual(
      expect.arrayContaining(['carol', 'dave'].map((username) => expect.objectContaining({ username, passwordHash: fakeHash(passwordOf(username)) }))),
    );
  });

  it('a sign-up whose client left before its hash failed: nothing is sent, nothing stored, and the name is free', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', username: 'alice', password: 'long enough' });
    h.close(c);
    h.failHashes();
    expect(h.frames(c).map((f) => f.type)).toEqual(['welcome']);
    expect(h.store.accountCount).toBe(0);
    h.signup('alice');
  });

  it('exception 2a, concurrent: a second sign-up for a name whose hash is still running gets USERNAME_TAKEN', () => {
    const h = new ServerHarness();
    const first = h.open();
    const second = h.open();
    h.sendUnsettled(first, { type: 'signup', username: 'alice', password: 'password-one' });
    h.sendUnsettled(second, { type: 'signup', username: 'alice', password: 'password-two' });
    expect(h.errors(second)).toEqual(['USERNAME_TAKEN']);
    h.settle();
    expect(h.last(first)).toMatchObject({ type: 'signup.ok' });
    expect(h.store.load().accounts).toMatchObject([{ username: 'alice', passwordHash: fakeHash('password-one') }]);
  });

  it.each([
    ['too short', 'ab'],
    ['too long', 'a'.repeat(USERNAME_CHARS_MAX + 1)],
    ['upper case', 'Alice'],
    ['a space', 'al ice'],
    ['a leading dot', '.alice'],
    ['a slash', 'al/ice'],
    ['non-ASCII', 'alicé'],
  ])('a username with %s gets USERNAME_INVALID', (_why, username) => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'signup', username, password: 'long enough password' });
    expect(h.errors(c)).toEqual(['USERNAME_INVALID']);
    expect(h.store.accountCount).toBe(0);
    expect(h.jobLog).toEqual([]);
  });

  it('the username rules accept the edges: 3 and 32 characters, digits, dot, dash, underscore', () => {
    const h = new ServerHarness();
    for (const username of ['abc', 'a'.repeat(USERNAME_CHARS_MAX), '0.a-b_c']) h.signup(username);
    expect(h.store.accountCount).toBe(3);
  });

  it.each([
    ['too short', 'short7!'],
    ['too long', 'p'.repeat(PASSWORD_CHARS_MAX + 1)],
    ['a control character', 'password\u0007bell'],
  ])('a password %s gets PASSWORD_INVALID', (_why, password) => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'signup', username: 'alice', password });
    expect(h.errors(c)).toEqual(['PASSWORD_INVALID']);
    expect(h.store.accountCount).toBe(0);
  });

  it('a nickname too long or with control characters gets NICKNAME_INVALID', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'signup', username: 'alice', password: 'long enough', nickname: 'n'.repeat(65) });
    h.send(c, { type: 'signup', username: 'alice', password: 'long enough', nickname: 'bad\nname' });
    expect(h.errors(c)).toEqual(['NICKNAME_INVALID', 'NICKNAME_INVALID']);
  });

  it('an empty, blank or direction-reversing nickname gets NICKNAME_INVALID and creates no account', () => {
    const h = new ServerHarness();
    const c = h.open();
    for (const nickname of ['', '   ', ' alice', 'evil\u202etxt.exe', 'al\u2067ice']) {
      h.send(c, { type: 'signup', username: 'alice', password: 'long enough', nickname });
    }
    expect(h.errors(c)).toEqual(Array(5).fill('NICKNAME_INVALID'));
    expect(h.store.accountCount).toBe(0);
  });

  it('a failed hash job gets INTERNAL, stores nothing, and frees the username', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', username: 'alice', password: 'long enough' });
    h.failHashes();
    expect(h.errors(c)).toEqual(['INTERNAL']);
    // What the user reads: the server failed, not their password.
    expect(h.last(c)).toMatchObject({ detail: 'password hashing failed' });
    expect(h.store.accountCount).toBe(0);
    h.send(c, { type: 'signup', username: 'alice', password: 'long enough' });
    expect(h.last(c)).toMatchObject({ type: 'signup.ok' });
  });

  it('a client that leaves while its hash runs still gets its account (its request was complete)', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', username: 'alice', password: 'long enough' });
    h.close(c);
    h.settle();
    expect(h.store.accountCount).toBe(1);
  });

  it('signup while logged in gets ALREADY_LOGGED_IN', () => {
    const h = new ServerHarness();
    const { alice } = h.online('alice');
    h.send(alice!, { type: 'signup', id: 4, username: 'another', password: 'long enough' });
    expect(h.last(alice!)).toMatchObject({ type: 'error', re: 4, code: 'ALREADY_LOGGED_IN' });
    h.send(alice!, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.errors(alice!)).toEqual(['ALREADY_LOGGED_IN', 'ALREADY_LOGGED_IN']);
    expect(h.isClosed(alice!)).toBe(false);
  });
});

describe('login (seed use case 1.3.2)', () => {
  it('main flow: login.ok carries the friend list with each friend status, and every online friend is told', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol', 'dave'], [['alice', 'bob'], ['alice', 'carol']]) });
    const bob = h.login('bob');
    const dave = h.login('dave');
    const alice = h.open();
    h.send(alice, { type: 'login', id: 1, username: 'alice', password: passwordOf('alice') });
    const ok = h.framesOf(alice, 'login.ok')[0]!;
    expect(ok).toMatchObject({ re: 1, username: 'alice', resumed: false, incoming: [], outgoing: [] });
    expect(ok.resumeToken).not.toBe('');
    expect([...ok.friends].sort((x, y) => x.username.localeCompare(y.username))).toEqual([
      { username: 'bob', nickname: 'bob', status: 'online' },
      { username: 'carol', nickname: 'carol', status: 'offline' },
    ]);
    expect(h.framesOf(bob, 'presence')).toEqual([{ type: 'presence', username: 'alice', status: 'online' }]);
    // Presence goes only to mutual friends: dave is online but no friend.
    expect(h.framesOf(dave, 'presence')).toEqual([]);
    expect(h.machine.isOnline('alice')).toBe(true);
  });

  it('the friend list shows pending friend requests both ways', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol']) });
    const bob = h.login('bob');
    const carol = h.login('carol');
    h.send(bob, { type: 'friend.request', username: 'alice' });
    const alice = h.login('alice');
    h.send(alice, { type: 'friend.request', username: 'carol' });
    h.close(alice);
    h.close(carol);
    h.advance(60_000);
    const again = h.login('alice');
    expect(h.framesOf(again, 'login.ok')[0]).toMatchObject({ incoming: ['bob'], outgoing: ['carol'] });
  });

  it('exception 2a: a wrong password gets BAD_CREDENTIALS; the connection stays open and may retry', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const bob = h.login('bob');
    const c = h.open();
    h.send(c, { type: 'login', id: 2, username: 'alice', password: 'not her password' });
    expect(h.last(c)).toMatchObject({ type: 'error', re: 2, code: 'BAD_CREDENTIALS' });
    expect(h.isClosed(c)).toBe(false);
    expect(h.machine.isOnline('alice')).toBe(false);
    expect(h.framesOf(bob, 'presence')).toEqual([]);
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
  });

  it('exception 2a: an unknown user gets the same BAD_CREDENTIALS, after a verify job all the same (no timing oracle)', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'login', username: 'nobody', password: 'whatever password' });
    expect(h.last(c)).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    expect(h.jobLog).toMatchObject([{ type: 'verify', passwordHash: null }]);
  });

  it(`slows guesses at a username from one address after ${LOGIN_GUESSES_FREE}, without hashing, and never blocks other addresses`, () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open('10.0.1.1');
    for (let i = 0; i < LOGIN_GUESSES_FREE; i++) h.send(c, { type: 'login', username: 'alice', password: 'wrong password' });
    expect(h.errors(c)).toEqual(Array(LOGIN_GUESSES_FREE).fill('BAD_CREDENTIALS'));
    const jobs = h.jobLog.length;
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: expect.stringContaining(`retry in ${LOGIN_GUESS_DELAY_MS_MIN} ms`) });
    expect(h.jobLog).toHaveLength(jobs);
    // Other usernames from the same address are not affected.
    h.send(c, { type: 'login', username: 'bob', password: 'wrong password' });
    expect(h.errors(c).at(-1)).toBe('BAD_CREDENTIALS');
    // After the delay the same address may try again.
    h.advance(LOGIN_GUESS_DELAY_MS_MIN);
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
  });

  it('a successful login clears the failures of its username', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    for (let i = 0; i < LOGIN_GUESSES_FREE - 1; i++) h.send(c, { type: 'login', username: 'alice', password: 'wrong password' });
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    h.send(c, { type: 'logout' });
    for (let i = 0; i < LOGIN_GUESSES_FREE - 1; i++) h.send(c, { type: 'login', username: 'alice', password: 'wrong password' });
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
  });

  it(`limits login and sign-up attempts per address: a burst of ${AUTH_ATTEMPTS_PER_ADDRESS_BURST}, then RATE_LIMITED, refilled over time`, () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open('10.9.9.9');
    for (let i = 0; i < AUTH_ATTEMPTS_PER_ADDRESS_BURST; i++) {
      h.send(c, { type: 'login', username: `user${i}`, password: 'wrong password' });
    }
    expect(h.errors(c).filter((code) => code === 'RATE_LIMITED')).toEqual([]);
    const jobs = h.jobLog.length;
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    h.send(c, { type: 'signup', username: 'newcomer', password: 'long enough' });
    expect(h.errors(c).slice(-2)).toEqual(['RATE_LIMITED', 'RATE_LIMITED']);
    expect(h.jobLog).toHaveLength(jobs);
    // Another address is not affected.
    const other = h.login('alice', passwordOf('alice'), '10.9.9.10');
    expect(h.machine.isOnline('alice')).toBe(true);
    h.send(other, { type: 'logout' });
    // One second refills AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC attempts.
    h.advance(1_000);
    expect(AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC).toBeGreaterThanOrEqual(1);
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
  });

  it('a frame while a verify job is pending gets BUSY, and the login still completes', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    h.sendUnsettled(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    h.sendUnsettled(c, { type: 'friends.list', id: 5 });
    h.sendUnsettled(c, { type: 'login', id: 6, username: 'alice', password: passwordOf('alice') });
    expect(h.frames(c).filter((f) => f.type === 'error')).toMatchObject([
      { code: 'BUSY', re: 5 },
      { code: 'BUSY', re: 6 },
    ]);
    expect(h.pendingJobs).toBe(1);
    h.settle();
    expect(h.last(c)).toMatchObject({ type: 'login.ok' });
    expect(h.isClosed(c)).toBe(false);
  });

  it('a heartbeat while a password is checked (a login or a sign-up) is answered: the client waiting its turn learns its link lives', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    h.sendUnsettled(c, { type: 'login', id: 4, username: 'alice', password: passwordOf('alice') });
    h.sendUnsettled(c, { type: 'heartbeat', id: 5 });
    h.sendUnsettled(c, { type: 'heartbeat' });
    expect(h.frames(c).slice(1)).toEqual([{ type: 'heartbeat.ack', re: 5 }, { type: 'heartbeat.ack' }]);
    h.settle();
    expect(h.last(c)).toMatchObject({ type: 'login.ok', re: 4 });
    const d = h.open();
    h.sendUnsettled(d, { type: 'signup', username: 'bob', password: 'long enough' });
    h.sendUnsettled(d, { type: 'heartbeat', id: 7 });
    expect(h.last(d)).toEqual({ type: 'heartbeat.ack', re: 7 });
  });

  it('a frame while a hash job is pending gets BUSY', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.sendUnsettled(c, { type: 'signup', username: 'alice', password: 'long enough' });
    h.sendUnsettled(c, { type: 'signup', username: 'bob', password: 'long enough' });
    expect(h.errors(c)).toEqual(['BUSY']);
    expect(h.pendingJobs).toBe(1);
  });

  it('a client that leaves while its wrong password is checked: nothing is sent, the failure still counts (stats and the guess slow-down)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    for (let i = 0; i < LOGIN_GUESSES_FREE; i++) {
      const c = h.open();
      h.sendUnsettled(c, { type: 'login', username: 'alice', password: 'a wrong guess' });
      h.close(c);
      h.settle();
      expect(h.frames(c).map((f) => f.type)).toEqual(['welcome']);
    }
    expect(h.machine.stats().loginsFailed).toBe(LOGIN_GUESSES_FREE);
    const next = h.open();
    h.send(next, { type: 'login', username: 'alice', password: passwordOf('alice') });
    expect(h.last(next)).toMatchObject({ type: 'error', code: 'RATE_LIMITED', detail: expect.stringContaining('too many attempts for this username') });
  });

  it('a login waiting in line for a name whose sign-up is being hashed, whose client leaves, leaves the name reserved for that sign-up', () => {
    const h = new ServerHarness({ passwordChecksRunningMax: 1 });
    const signup = h.open();
    h.sendUnsettled(signup, { type: 'signup', username: 'alice', password: 'password-one' });
    const login = h.open();
    h.sendUnsettled(login, { type: 'login', username: 'alice', password: 'password-one' });
    h.close(login);
    const second = h.open();
    h.sendUnsettled(second, { type: 'signup', username: 'alice', password: 'password-two' });
    expect(h.errors(second)).toEqual(['USERNAME_TAKEN']);
    h.settle();
    expect(h.store.load().accounts).toMatchObject([{ username: 'alice', passwordHash: fakeHash('password-one') }]);
  });

  it('a client that leaves while its verify job runs is not logged in', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    h.sendUnsettled(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    h.close(c);
    h.settle();
    expect(h.machine.isOnline('alice')).toBe(false);
  });
});

describe('duplicate login', () => {
  it('the old connection gets LOGGED_IN_ELSEWHERE and a close; the new one is resumed; friends see no presence flap', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const bob = h.login('bob');
    const first = h.login('alice');
    h.drain(bob);
    const second = h.login('alice');
    expect(h.errors(first)).toEqual(['LOGGED_IN_ELSEWHERE']);
    expect(h.isClosed(first)).toBe(true);
    expect(h.framesOf(second, 'login.ok')[0]).toMatchObject({ resumed: true });
    expect(h.frames(bob)).toEqual([]);
    expect(h.machine.isOnline('alice')).toBe(true);
    // The runtime reporting the old socket closed later must not detach the new connection.
    h.close(first);
    h.send(second, { type: 'heartbeat', id: 1 });
    expect(h.last(second)).toEqual({ type: 'heartbeat.ack', re: 1 });
    h.send(bob, { type: 'session.request', username: 'alice' });
    expect(h.framesOf(second, 'session.incoming')).toHaveLength(1);
  });

  it('the old resume token stops working once a new login issued another', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const first = h.login('alice');
    const oldToken = h.tokenOf(first);
    const second = h.login('alice');
    expect(h.tokenOf(second)).not.toBe(oldToken);
    h.close(second);
    const c = h.resume('alice', oldToken);
    expect(h.errors(c)).toEqual(['BAD_RESUME_TOKEN']);
  });
});

describe('connections before login', () => {
  it('every connection is welcomed with the protocol version and its timing parameters', () => {
    const h = new ServerHarness({ ttlMs: 9_000, sessionTimeoutMs: 5_000 });
    const c = h.open();
    expect(h.frames(c)).toEqual([{ type: 'welcome', protocol: 1, ttlMs: 9_000, heartbeatMs: 3_000, sessionTimeoutMs: 5_000 }]);
  });

  it.each(['logout', 'heartbeat', 'friends.list'])('%s before login gets NOT_LOGGED_IN and keeps the connection', (type) => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type, id: 8 });
    expect(h.last(c)).toMatchObject({ type: 'error', re: 8, code: 'NOT_LOGGED_IN' });
    expect(h.isClosed(c)).toBe(false);
  });

  it('friend and session frames before login get NOT_LOGGED_IN', () => {
    const h = new ServerHarness();
    const c = h.open();
    for (const type of ['friend.request', 'friend.accept', 'friend.decline', 'friend.remove', 'session.request']) {
      h.send(c, { type, username: 'bob' });
    }
    h.send(c, { type: 'session.answer', requestId: 's1', accept: false });
    h.send(c, { type: 'session.cancel', requestId: 's1' });
    expect(h.errors(c)).toEqual(Array(7).fill('NOT_LOGGED_IN'));
  });

  it('an unauthenticated connection is closed with UNAUTHENTICATED_TIMEOUT after the idle limit, not before', () => {
    const h = new ServerHarness({ unauthenticatedIdleMs: 5_000 });
    const idle = h.open();
    h.advance(4_999);
    expect(h.isClosed(idle)).toBe(false);
    h.advance(1);
    expect(h.errors(idle)).toEqual(['UNAUTHENTICATED_TIMEOUT']);
    expect(h.isClosed(idle)).toBe(true);
  });

  it('frames that are not a login do not extend the idle limit; a login cancels it; a logout starts it again', () => {
    const h = new ServerHarness({ unauthenticatedIdleMs: 5_000, ttlMs: 60_000, store: storeWith(['alice']) });
    const c = h.open();
    h.advance(3_000);
    h.send(c, { type: 'heartbeat' });
    h.advance(2_000);
    expect(h.isClosed(c)).toBe(true);
    const d = h.login('alice');
    h.advance(10_000);
    expect(h.isClosed(d)).toBe(false);
    h.send(d, { type: 'logout' });
    h.advance(5_000);
    expect(h.errors(d)).toEqual(['UNAUTHENTICATED_TIMEOUT']);
    expect(h.isClosed(d)).toBe(true);
  });
});

describe('login rate limit under concurrency', () => {
  it('guesses in flight on many connections from one address count toward its slow-down (no parallel bypass)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const conns = Array.from({ length: 3 * LOGIN_GUESSES_FREE }, () => h.open('10.1.0.1'));
    for (const c of conns) h.sendUnsettled(c, { type: 'login', username: 'alice', password: 'a guess' });
    h.settle();
    const verdicts = conns.map((c) => h.errors(c)[0]);
    expect(verdicts.filter((code) => code === 'BAD_CREDENTIALS')).toHaveLength(LOGIN_GUESSES_FREE);
    expect(verdicts.filter((code) => code === 'RATE_LIMITED')).toHaveLength(2 * LOGIN_GUESSES_FREE);
    expect(h.jobLog.filter((j) => j.type === 'verify')).toHaveLength(LOGIN_GUESSES_FREE);
  });
});
