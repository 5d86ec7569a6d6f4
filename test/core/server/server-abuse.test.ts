/**
 * The abuse attacks of docs/SECURITY.md, replayed on the server machine: each test is an attack that worked before its fix
 * (a stranger locking an account, a login flood starving everyone, sybil friend requests, free
 * sign-ups, one host holding every connection) and now fails, while the legitimate user gets in.
 */
import { describe, expect, it } from 'vitest';
import {
  CONNECTIONS_PER_ADDRESS_MAX,
  FRIEND_REQUEST_DECLINE_COOLDOWN_MS,
  FRIEND_REQUESTS_INCOMING_PER_USER_MAX,
  LOGIN_GUESS_DELAY_MS_MAX,
  LOGIN_GUESSES_FREE,
  PASSWORD_CHECKS_RUNNING_MAX,
  PASSWORD_CHECKS_WAITING_MAX,
  RATE_LIMIT_BUCKETS_MAX,
  SIGNUPS_PER_ADDRESS_BURST,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
  UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
} from '../../../core/limits.ts';
import { MemoryStore, type StoreSnapshot } from '../../../core/store.ts';
import { ServerHarness, passwordOf, storeWith } from '../../helpers/server-harness.ts';

describe('lockout by strangers', () => {
  it('a stranger guessing all along never locks the owner out from another address (refused at 1, 30, 58 and 62 s before the fix)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const verdicts: string[] = [];
    const startMs = h.nowMs;
    for (const atS of [1, 30, 58, 62]) {
      // The stranger keeps guessing, a new connection each time (the idle limit closes old ones).
      while (h.nowMs < startMs + atS * 1_000) {
        const stranger = h.open('203.0.113.66');
        h.send(stranger, { type: 'login', username: 'alice', password: 'guess' });
        verdicts.push(...h.errors(stranger));
        h.close(stranger);
        h.advance(100);
      }
      const owner = h.login('alice', passwordOf('alice'), '198.51.100.7');
      h.send(owner, { type: 'logout' });
      h.close(owner);
    }
    expect(verdicts.filter((code) => code === 'BAD_CREDENTIALS').length).toBeGreaterThan(LOGIN_GUESSES_FREE);
    expect(verdicts).toContain('RATE_LIMITED');
  });

  it('the owner with a valid resume token resumes whatever the guesses, from the guesser address too', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const owner = h.login('alice');
    const token = h.tokenOf(owner);
    h.close(owner);
    const stranger = h.open('10.0.0.1');
    for (let i = 0; i < 3 * LOGIN_GUESSES_FREE; i++) h.send(stranger, { type: 'login', username: 'alice', password: 'guess' });
    const resumed = h.resume('alice', token);
    expect(h.last(resumed)).toMatchObject({ type: 'login.ok', resumed: true });
  });

  it('guesses slow down rather than block: one address keeps a guess per LOGIN_GUESS_DELAY_MS_MAX at worst', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const checks = (): number => h.jobLog.filter((j) => j.type === 'verify').length;
    // An hour of guessing as fast as allowed.
    const endMs = h.nowMs + 3_600_000;
    while (h.nowMs < endMs) {
      const stranger = h.open('203.0.113.66');
      h.send(stranger, { type: 'login', username: 'alice', password: 'guess' });
      const reply = h.last(stranger);
      h.close(stranger);
      const retry = reply?.type === 'error' && reply.code === 'RATE_LIMITED' ? Number(/retry in (\d+) ms/.exec(reply.detail ?? '')?.[1]) : 0;
      h.advance(Math.max(1, retry));
    }
    // 3,600 s at one guess per minute, plus the free ones and the doubling ramp.
    expect(checks()).toBeLessThanOrEqual(3_600_000 / LOGIN_GUESS_DELAY_MS_MAX + 2 * LOGIN_GUESSES_FREE + 10);
    expect(checks()).toBeGreaterThanOrEqual(3_600_000 / LOGIN_GUESS_DELAY_MS_MAX);
  });

  it('IPv6 guesses count per /64: stepping through addresses of one prefix gains nothing', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    for (let i = 0; i < 3 * LOGIN_GUESSES_FREE; i++) {
      const c = h.open(`2001:db8:1:2::${(i + 1).toString(16)}`);
      h.send(c, { type: 'login', username: 'alice', password: 'guess' });
    }
    expect(h.jobLog.filter((j) => j.type === 'verify')).toHaveLength(LOGIN_GUESSES_FREE);
    // Another /64 is someone else.
    h.login('alice', passwordOf('alice'), '2001:db8:1:3::1');
  });
});

describe('login floods', () => {
  /** 20 addresses each keep `perAddress` logins in flight with wrong passwords (within any per-address rate). */
  function flood(h: ServerHarness, addresses: number, perAddress: number): number[] {
    const conns: number[] = [];
    for (let a = 0; a < addresses; a++) {
      for (let i = 0; i < perAddress; i++) {
        const c = h.open(`198.18.0.${a + 1}`);
        // Different usernames, so the per-username slow-down does not stop them.
        h.sendUnsettled(c, { type: 'login', username: `nobody${a}x${i}`, password: 'flood password' });
        conns.push(c);
      }
    }
    return conns;
  }

  it('bounds the password checks running and waiting; past the bound a retryable BUSY', () => {
    const h = new ServerHarness({ authAttemptsPerAddressPerSec: 0 });
    const conns = flood(h, 20, 110);
    expect(h.pendingJobs).toBe(PASSWORD_CHECKS_RUNNING_MAX);
    const busy = conns.filter((c) => h.errors(c).includes('BUSY'));
    expect(busy.length).toBe(conns.length - PASSWORD_CHECKS_RUNNING_MAX - PASSWORD_CHECKS_WAITING_MAX);
    expect(h.last(busy[0] as number)).toMatchObject({ type: 'error', code: 'BUSY', detail: 'the server is busy checking passwords: retry shortly' });
    expect(h.isClosed(busy[0] as number)).toBe(false);
  });

  it('the wait line holds as many checks as configured (passwordChecksWaitingMax), then BUSY', () => {
    const h = new ServerHarness({ authAttemptsPerAddressPerSec: 0, passwordChecksRunningMax: 1, passwordChecksWaitingMax: 3 });
    const conns = flood(h, 1, 6);
    expect(conns.map((c) => h.errors(c).includes('BUSY'))).toEqual([false, false, false, false, true, true]);
  });

  it('a legitimate login during the flood waits for one running check, not for the flood (8.5 s before the fix)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']), authAttemptsPerAddressPerSec: 0 });
    flood(h, 20, 110);
    // Each check finishing serves the next waiting one: a round of every flooding address first.
    for (let i = 0; i < 2 * 20; i++) h.settleOne();
    const legit = h.open('192.0.2.10');
    h.sendUnsettled(legit, { type: 'login', username: 'alice', password: passwordOf('alice') });
    let checksBefore = 0;
    while (h.frames(legit).every((f) => f.type !== 'login.ok')) {
      expect(h.settleOne()).toBe(true);
      checksBefore += 1;
    }
    // The running checks, then its own: never the ~2,000 waiting flood checks.
    expect(checksBefore).toBeLessThanOrEqual(PASSWORD_CHECKS_RUNNING_MAX + 1);
  });

  it('with the line full, a newcomer from the address holding the most is refused BUSY, saying why: sign-up, login or password change', () => {
    const h = new ServerHarness({ store: storeWith(['alice']), authAttemptsPerAddressPerSec: 0 });
    const alice = h.login('alice', passwordOf('alice'), '198.18.0.1');
    flood(h, 1, PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX);
    const busy = { type: 'error', code: 'BUSY', detail: 'the server is busy checking passwords: retry shortly' };
    const signup = h.open('198.18.0.1');
    h.sendUnsettled(signup, { type: 'signup', id: 1, username: 'carol', password: 'long enough' });
    expect(h.last(signup)).toMatchObject({ ...busy, re: 1 });
    const login = h.open('198.18.0.1');
    h.sendUnsettled(login, { type: 'login', id: 2, username: 'dave', password: 'long enough' });
    expect(h.last(login)).toMatchObject({ ...busy, re: 2 });
    h.sendUnsettled(alice, { type: 'account.password', id: 3, old: passwordOf('alice'), new: 'a new password' });
    expect(h.last(alice)).toMatchObject({ ...busy, re: 3 });
  });

  it('a flooding address whose client leaves frees its waits (no work for nobody)', () => {
    const h = new ServerHarness({ authAttemptsPerAddressPerSec: 0 });
    const conns = flood(h, 1, 50);
    for (const c of conns) h.close(c);
    let checks = 0;
    while (h.settleOne()) checks += 1;
    expect(checks).toBe(PASSWORD_CHECKS_RUNNING_MAX);
  });

  it('a check waiting in line whose client leaves gives its place back: the last place goes to the next check, not BUSY', () => {
    const h = new ServerHarness({ authAttemptsPerAddressPerSec: 0 });
    // One address holds every thread and all places but one; a second address takes the last one and leaves.
    flood(h, 1, PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX - 1);
    const leaver = h.open('192.0.2.1');
    h.sendUnsettled(leaver, { type: 'login', username: 'leaver', password: 'long enough' });
    h.close(leaver);
    const next = h.open('198.18.0.1');
    h.sendUnsettled(next, { type: 'login', username: 'next', password: 'long enough' });
    expect(h.errors(next)).toEqual([]);
  });

  it('a check leaving the wait line frees no thread: with the one thread busy, the next check still waits for it', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol']), passwordChecksRunningMax: 1, authAttemptsPerAddressPerSec: 0 });
    const verified = (): string[] => h.jobLog.flatMap((e) => (e.type === 'verify' ? [e.password] : []));
    const alice = h.open('192.0.2.1');
    h.sendUnsettled(alice, { type: 'login', username: 'alice', password: passwordOf('alice') });
    const bob = h.open('198.18.0.1');
    h.sendUnsettled(bob, { type: 'login', username: 'bob', password: passwordOf('bob') });
    h.close(bob);
    const carol = h.open('203.0.113.1');
    h.sendUnsettled(carol, { type: 'login', username: 'carol', password: passwordOf('carol') });
    expect(verified()).toEqual([passwordOf('alice')]);
    h.settle();
    expect(verified()).toEqual([passwordOf('alice'), passwordOf('carol')]);
    expect(h.frames(carol).map((f) => f.type)).toEqual(['welcome', 'login.ok']);
  });

  it('of two checks waiting from one address, the one whose client leaves is dropped and the other still runs', () => {
    const h = new ServerHarness({ store: storeWith(['bob', 'carol']), passwordChecksRunningMax: 1, authAttemptsPerAddressPerSec: 0 });
    flood(h, 1, 1);
    const bob = h.open('192.0.2.1');
    h.sendUnsettled(bob, { type: 'login', username: 'bob', password: passwordOf('bob') });
    const carol = h.open('192.0.2.1');
    h.sendUnsettled(carol, { type: 'login', username: 'carol', password: passwordOf('carol') });
    h.close(carol);
    h.settle();
    expect(h.frames(bob).map((f) => f.type)).toEqual(['welcome', 'login.ok']);
    expect(h.jobLog.filter((e) => e.type === 'verify' && e.password === passwordOf('carol'))).toEqual([]);
  });

  it('a password change waiting in line whose client leaves is dropped: its old password is never checked, a login waiting before it from the same address still is', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']), passwordChecksRunningMax: 1, authAttemptsPerAddressPerSec: 0 });
    const alice = h.login('alice', passwordOf('alice'), '192.0.2.1');
    flood(h, 1, 1);
    const bob = h.open('192.0.2.1');
    h.sendUnsettled(bob, { type: 'login', username: 'bob', password: passwordOf('bob') });
    h.sendUnsettled(alice, { type: 'account.password', old: 'the old password', new: 'a new password' });
    h.close(alice);
    h.settle();
    const checked = h.jobLog.filter((e) => e.type === 'verify').map((e) => (e.type === 'verify' ? e.password : ''));
    expect(checked).toEqual([passwordOf('alice'), 'flood password', passwordOf('bob')]);
    expect(h.last(bob)).toMatchObject({ type: 'login.ok', username: 'bob' });
    expect(h.jobLog.filter((e) => e.type === 'hash')).toEqual([]);
  });

  it('a password change waiting in line is dropped when its client logs out (and stays connected): its old password is never checked for nobody', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']), passwordChecksRunningMax: 1, authAttemptsPerAddressPerSec: 0 });
    const alice = h.login('alice', passwordOf('alice'), '192.0.2.1');
    flood(h, 1, 1);
    h.sendUnsettled(alice, { type: 'account.password', old: 'the old password', new: 'a new password' });
    h.sendUnsettled(alice, { type: 'logout' });
    h.settle();
    const checked = h.jobLog.filter((e) => e.type === 'verify').map((e) => (e.type === 'verify' ? e.password : ''));
    expect(checked).toEqual([passwordOf('alice'), 'flood password']);
    expect(h.jobLog.filter((e) => e.type === 'hash')).toEqual([]);
    expect(h.last(alice)).toMatchObject({ type: 'logout.ok' });
  });

  it('a password change left waiting by a client that logged out and left holds no place in a full line: a newcomer gets it', () => {
    const h = new ServerHarness({ store: storeWith(['alice']), authAttemptsPerAddressPerSec: 0 });
    const alice = h.login('alice', passwordOf('alice'), '198.18.0.1');
    flood(h, 1, PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX - 1);
    h.sendUnsettled(alice, { type: 'account.password', old: passwordOf('alice'), new: 'a new password' });
    h.sendUnsettled(alice, { type: 'logout' });
    h.close(alice);
    const newcomer = h.open('192.0.2.1');
    h.sendUnsettled(newcomer, { type: 'login', username: 'newcomer', password: 'long enough' });
    expect(h.errors(newcomer)).toEqual([]);
  });

  it('a check refused BUSY leaves its connection free to ask again once the line has room', () => {
    const h = new ServerHarness({ store: storeWith(['alice']), authAttemptsPerAddressPerSec: 0 });
    flood(h, 1, PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX);
    const late = h.open('198.18.0.1');
    h.sendUnsettled(late, { type: 'login', id: 1, username: 'alice', password: passwordOf('alice') });
    expect(h.last(late)).toMatchObject({ type: 'error', re: 1, code: 'BUSY' });
    h.settle();
    h.send(late, { type: 'login', id: 2, username: 'alice', password: passwordOf('alice') });
    expect(h.last(late)).toMatchObject({ type: 'login.ok', re: 2 });
  });

  it('sign-ups and logins in flight at once are each answered for their own name', () => {
    const h = new ServerHarness({ store: storeWith(['bob']) });
    const alice = h.open();
    h.sendUnsettled(alice, { type: 'signup', id: 1, username: 'alice', password: passwordOf('alice') });
    const bob = h.open();
    h.sendUnsettled(bob, { type: 'login', id: 2, username: 'bob', password: passwordOf('bob') });
    const carol = h.open();
    h.sendUnsettled(carol, { type: 'signup', id: 3, username: 'carol', password: passwordOf('carol') });
    h.settle();
    expect(h.last(alice)).toMatchObject({ type: 'signup.ok', re: 1, username: 'alice' });
    expect(h.last(bob)).toMatchObject({ type: 'login.ok', re: 2, username: 'bob' });
    expect(h.last(carol)).toMatchObject({ type: 'signup.ok', re: 3, username: 'carol' });
  });

  it('a sign-up waiting in line whose client leaves releases its username', () => {
    const h = new ServerHarness({ authAttemptsPerAddressPerSec: 0 });
    flood(h, 1, PASSWORD_CHECKS_RUNNING_MAX);
    const c = h.open('192.0.2.1');
    h.sendUnsettled(c, { type: 'signup', username: 'carol', password: 'long enough' });
    h.close(c);
    h.settle();
    h.signup('carol');
  });
});

describe('sybil friend requests', () => {
  const sybils = Array.from({ length: FRIEND_REQUESTS_INCOMING_PER_USER_MAX }, (_, i) => `sybil${i}`);

  it('100 sybils filling the victim incoming quota no longer stop the victim asking anyone (REQUESTS_LIMIT before the fix)', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'friend', ...sybils]), authAttemptsPerAddressPerSec: 0 });
    for (const sybil of sybils) {
      const c = h.login(sybil);
      h.send(c, { type: 'friend.request', username: 'victim' });
      expect(h.last(c)).toMatchObject({ type: 'friend.requested' });
      h.send(c, { type: 'logout' });
      h.close(c);
    }
    const victim = h.login('victim');
    h.send(victim, { type: 'friend.request', username: 'friend' });
    expect(h.last(victim)).toMatchObject({ type: 'friend.requested', username: 'friend' });
  });

  it('a declined sybil cannot ask again at once (DECLINED_RECENTLY), only after the cool-down', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'sybil0']) });
    const sybil = h.login('sybil0');
    const victim = h.login('victim');
    h.send(sybil, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil0' });
    h.send(sybil, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
    expect(h.framesOf(victim, 'friend.incoming')).toHaveLength(1);
    h.advance(FRIEND_REQUEST_DECLINE_COOLDOWN_MS);
    const again = h.login('sybil0');
    h.send(again, { type: 'friend.request', username: 'victim' });
    expect(h.last(again)).toMatchObject({ type: 'friend.requested' });
  });

  it('the cool-down runs from the decline, however long the server has been up: an hour short of it, still DECLINED_RECENTLY', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'sybil0']) });
    h.advance(3 * FRIEND_REQUEST_DECLINE_COOLDOWN_MS);
    const sybil = h.login('sybil0');
    const victim = h.login('victim');
    h.send(sybil, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil0' });
    h.advance(FRIEND_REQUEST_DECLINE_COOLDOWN_MS - 3_600_000);
    const again = h.login('sybil0');
    h.send(again, { type: 'friend.request', username: 'victim' });
    expect(h.last(again)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
  });

  it('friend.block: the blocked user friend and session requests are dropped silently; friend.unblock lets them through; kept across a restart', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'pest'], [['victim', 'pest']]), sessionTimeoutMs: 5_000 });
    let victim = h.login('victim');
    const pest = h.login('pest');
    h.send(victim, { type: 'friend.block', id: 1, username: 'pest' });
    expect(h.last(victim)).toEqual({ type: 'friend.blocked', re: 1, username: 'pest' });
    expect(h.store.load().blocks).toEqual([['victim', 'pest']]);
    h.restart();
    victim = h.login('victim');
    const pestAgain = h.login('pest');
    h.drain(victim);
    // A session request: the pest sees it pending, then time out; the victim never hears of it.
    h.send(pestAgain, { type: 'session.request', username: 'victim' });
    expect(h.last(pestAgain)).toMatchObject({ type: 'session.pending' });
    h.advance(5_000);
    expect(h.last(pestAgain)).toMatchObject({ type: 'session.failed', reason: 'timeout' });
    expect(h.frames(victim).filter((f) => f.type !== 'heartbeat.ack')).toEqual([]);
    expect(pest).toBeGreaterThan(0);
    // Unblocked: requests reach the victim again.
    h.send(victim, { type: 'friend.unblock', id: 2, username: 'pest' });
    expect(h.last(victim)).toEqual({ type: 'friend.unblocked', re: 2, username: 'pest' });
    expect(h.store.load().blocks).toEqual([]);
    h.send(pestAgain, { type: 'session.request', username: 'victim' });
    expect(h.last(victim)).toMatchObject({ type: 'session.incoming', from: 'pest' });
  });

  it('a blocked user sees their request pending as if nothing happened; the blocker never sees it, nor does it count against their quota', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'pest', 'late']) });
    const victim = h.login('victim');
    const pest = h.login('pest');
    h.send(pest, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.block', username: 'pest' });
    h.drain(victim);
    h.drain(pest);
    // The pest's own lists still show the request pending, across a restart too: the block is silent.
    h.send(pest, { type: 'friends.list', id: 1 });
    expect(h.last(pest)).toMatchObject({ type: 'friends', re: 1, outgoing: ['victim'] });
    h.send(victim, { type: 'friends.list', id: 2 });
    expect(h.last(victim)).toMatchObject({ type: 'friends', re: 2, incoming: [], outgoing: [] });
    h.restart();
    const pestAgain = h.login('pest');
    expect(h.last(pestAgain)).toMatchObject({ type: 'login.ok', outgoing: ['victim'] });
    const victimAgain = h.login('victim');
    expect(h.last(victimAgain)).toMatchObject({ type: 'login.ok', incoming: [] });
    // Asking again is answered as any duplicate would be; withdrawing tells the blocker nothing.
    h.send(pestAgain, { type: 'friend.request', username: 'victim' });
    expect(h.last(pestAgain)).toMatchObject({ type: 'error', code: 'ALREADY_REQUESTED' });
    h.send(pestAgain, { type: 'friend.remove', id: 3, username: 'victim' });
    expect(h.last(pestAgain)).toEqual({ type: 'friend.removed', re: 3, username: 'victim' });
    h.send(pestAgain, { type: 'friend.request', id: 4, username: 'victim' });
    expect(h.last(pestAgain)).toEqual({ type: 'friend.requested', re: 4, username: 'victim' });
    expect(h.frames(victimAgain).filter((f) => f.type !== 'login.ok' && f.type !== 'welcome')).toEqual([]);
    expect(h.store.load().requests).toEqual([['pest', 'victim']]);
    // Unblocked: the request shows (the victim may answer it now).
    h.send(victimAgain, { type: 'friend.unblock', username: 'pest' });
    h.send(victimAgain, { type: 'friends.list', id: 5 });
    expect(h.last(victimAgain)).toMatchObject({ type: 'friends', re: 5, incoming: ['pest'] });
  });

  it('blocked sybils do not fill the incoming quota: once blocked, their hidden requests leave room for others', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'friend', ...sybils]), authAttemptsPerAddressPerSec: 0 });
    for (const sybil of sybils) {
      const c = h.login(sybil);
      h.send(c, { type: 'friend.request', username: 'victim' });
      h.send(c, { type: 'logout' });
      h.close(c);
    }
    const friend = h.login('friend');
    h.send(friend, { type: 'friend.request', username: 'victim' });
    expect(h.last(friend)).toMatchObject({ type: 'error', code: 'REQUESTS_LIMIT' });
    const victim = h.login('victim');
    for (const sybil of sybils.slice(0, 10)) h.send(victim, { type: 'friend.block', username: sybil });
    h.send(friend, { type: 'friend.request', username: 'victim' });
    expect(h.last(friend)).toMatchObject({ type: 'friend.requested' });
    expect(h.last(victim)).toMatchObject({ type: 'friend.incoming', from: 'friend' });
    // Unblocking one while the quota is full again drops its request instead of overfilling the list.
    h.send(victim, { type: 'friend.unblock', username: 'sybil0' });
    h.send(victim, { type: 'friends.list', id: 1 });
    const list = h.last(victim);
    expect(list?.type === 'friends' ? list.incoming.length : -1).toBeLessThanOrEqual(FRIEND_REQUESTS_INCOMING_PER_USER_MAX);
  });

  it('the decline cool-down survives a server restart (it is stored), and is forgotten once over', () => {
    const h = new ServerHarness({ store: storeWith(['victim', 'sybil0']) });
    const sybil = h.login('sybil0');
    const victim = h.login('victim');
    h.send(sybil, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil0' });
    expect(h.store.load().declines).toEqual([{ declined: 'sybil0', decliner: 'victim', atMs: h.nowMs }]);
    h.restart();
    const again = h.login('sybil0');
    h.send(again, { type: 'friend.request', username: 'victim' });
    expect(h.last(again)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
    h.advance(FRIEND_REQUEST_DECLINE_COOLDOWN_MS);
    h.restart();
    const later = h.login('sybil0');
    h.send(later, { type: 'friend.request', username: 'victim' });
    expect(h.last(later)).toMatchObject({ type: 'friend.requested' });
    expect(h.store.load().declines).toEqual([]);
  });
});

describe('declines kept, bounded', () => {
  /** A store holding RATE_LIMIT_BUCKETS_MAX declines in their cool-down, sybil0's by victim the oldest. */
  function fullOfDeclines(): ServerHarness {
    const store = storeWith(['victim', 'sybil0', 'sybil1']);
    const nowMs = 1_000_000;
    store.apply([
      { op: 'decline.add', declined: 'sybil0', decliner: 'victim', atMs: nowMs - 3 },
      ...Array.from({ length: RATE_LIMIT_BUCKETS_MAX - 1 }, (_, i) => ({ op: 'decline.add' as const, declined: `filler${i}`, decliner: 'someone', atMs: nowMs - 2 })),
    ]);
    return new ServerHarness({ store });
  }

  it(`a decline past RATE_LIMIT_BUCKETS_MAX (${RATE_LIMIT_BUCKETS_MAX}) forgets the oldest, in memory and in the store: its declined user may ask again at once`, () => {
    const h = fullOfDeclines();
    const sybil1 = h.login('sybil1');
    const victim = h.login('victim');
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil1' });
    const kept = h.store.load().declines ?? [];
    expect(kept).toHaveLength(RATE_LIMIT_BUCKETS_MAX);
    expect(kept.some((d) => d.declined === 'sybil0')).toBe(false);
    expect(kept.some((d) => d.declined === 'sybil1' && d.decliner === 'victim')).toBe(true);
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'friend.requested' });
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil1)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
  });

  it('the oldest decline is forgotten first whatever order the store lists them in', () => {
    /** A store that lists its declines oldest in the middle (a database gives no order unless asked). */
    class UnorderedStore extends MemoryStore {
      override load(): StoreSnapshot {
        const snapshot = super.load();
        const [oldest, ...rest] = snapshot.declines ?? [];
        const half = rest.length >> 1;
        return { ...snapshot, declines: oldest === undefined ? rest : [...rest.slice(0, half), oldest, ...rest.slice(half)] };
      }
    }
    const store = storeWith(['victim', 'sybil0', 'sybil1'], [], undefined, new UnorderedStore());
    const nowMs = 1_000_000;
    store.apply([
      { op: 'decline.add', declined: 'sybil0', decliner: 'victim', atMs: nowMs - 3 },
      ...Array.from({ length: RATE_LIMIT_BUCKETS_MAX - 1 }, (_, i) => ({ op: 'decline.add' as const, declined: `filler${i}`, decliner: 'someone', atMs: nowMs - 2 })),
    ]);
    const h = new ServerHarness({ store });
    const sybil1 = h.login('sybil1');
    const victim = h.login('victim');
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil1' });
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'friend.requested' });
  });

  it('a decline another node made is kept here within the same bound: the oldest is forgotten', () => {
    const h = fullOfDeclines();
    h.input({ type: 'remote.ops', ops: [{ op: 'decline.add', declined: 'sybil1', decliner: 'victim', atMs: h.nowMs }] });
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'friend.requested' });
    const sybil1 = h.login('sybil1');
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil1)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
  });

  it('declines heard from other nodes up to the bound are all kept: the oldest still holds', () => {
    const h = fullOfDeclines();
    // Full already: one more would forget the oldest; lifting one first leaves room for it.
    h.input({ type: 'remote.ops', ops: [{ op: 'decline.remove', declined: 'filler0', decliner: 'someone' }, { op: 'decline.add', declined: 'sybil1', decliner: 'victim', atMs: h.nowMs }] });
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
    const sybil1 = h.login('sybil1');
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil1)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
  });

  it('declines made here up to the bound are all kept: the oldest still holds', () => {
    const h = fullOfDeclines();
    // Full already: another node lifting one leaves room for exactly one more.
    h.input({ type: 'remote.ops', ops: [{ op: 'decline.remove', declined: 'filler0', decliner: 'someone' }] });
    const sybil1 = h.login('sybil1');
    const victim = h.login('victim');
    h.send(sybil1, { type: 'friend.request', username: 'victim' });
    h.send(victim, { type: 'friend.decline', username: 'sybil1' });
    expect(h.store.load().declines?.some((d) => d.declined === 'sybil0')).toBe(true);
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'error', code: 'DECLINED_RECENTLY' });
  });

  it('a decline another node lifted is lifted here too', () => {
    const h = fullOfDeclines();
    h.input({ type: 'remote.ops', ops: [{ op: 'decline.remove', declined: 'sybil0', decliner: 'victim' }] });
    const sybil0 = h.login('sybil0');
    h.send(sybil0, { type: 'friend.request', username: 'victim' });
    expect(h.last(sybil0)).toMatchObject({ type: 'friend.requested' });
  });
});

describe('sign-ups per address', () => {
  it(`one address gets a burst of ${SIGNUPS_PER_ADDRESS_BURST} sign-ups, then about one per ten minutes (as fast as scrypt allowed before the fix)`, () => {
    const h = new ServerHarness({ signupsPerAddressPerHour: SIGNUPS_PER_ADDRESS_PER_HOUR, authAttemptsPerAddressPerSec: 0 });
    const signup = (username: string): string | undefined => {
      const c = h.open('203.0.113.9');
      h.send(c, { type: 'signup', username, password: 'long enough' });
      const reply = h.last(c);
      h.close(c);
      return reply?.type === 'error' ? reply.code : reply?.type;
    };
    const outcomes = Array.from({ length: 20 }, (_, i) => signup(`mint${i}`));
    expect(outcomes.filter((o) => o === 'signup.ok')).toHaveLength(SIGNUPS_PER_ADDRESS_BURST);
    expect(outcomes.at(-1)).toBe('RATE_LIMITED');
    const refused = h.open('203.0.113.9');
    h.send(refused, { type: 'signup', username: 'mint99', password: 'long enough' });
    expect(h.last(refused)).toMatchObject({ code: 'RATE_LIMITED', detail: 'too many sign-ups from this address: retry later' });
    h.close(refused);
    // A taken name or a bad password does not use the allowance up.
    h.advance(3_600_000 / SIGNUPS_PER_ADDRESS_PER_HOUR);
    expect(signup('mint0')).toBe('USERNAME_TAKEN');
    expect(signup('fresh')).toBe('signup.ok');
    expect(signup('fresh2')).toBe('RATE_LIMITED');
    // Another address, and the whole IPv6 /64 as one, are counted on their own.
    const v6 = Array.from({ length: 10 }, (_, i) => h.open(`2001:db8:9::${i + 1}`));
    const v6Outcomes = v6.map((conn, i) => {
      h.send(conn, { type: 'signup', username: `six${i}`, password: 'long enough' });
      return h.last(conn)?.type;
    });
    expect(v6Outcomes.filter((o) => o === 'signup.ok')).toHaveLength(SIGNUPS_PER_ADDRESS_BURST);
  });
});

describe('connections per address', () => {
  it(`one address holds at most ${UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX} connections not logged in (it could take all 19,900 before the fix); others still connect`, () => {
    const h = new ServerHarness({ connectionsPerAddressMax: CONNECTIONS_PER_ADDRESS_MAX, unauthenticatedConnectionsPerAddressMax: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX });
    const hoard = Array.from({ length: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX + 10 }, () => h.open('203.0.113.5'));
    const refused = hoard.filter((c) => h.isClosed(c));
    expect(refused).toHaveLength(10);
    expect(h.errors(refused[0] as number)).toEqual(['TOO_MANY_CONNECTIONS']);
    const other = h.open('198.51.100.1');
    expect(h.isClosed(other)).toBe(false);
    // Closing some makes room again.
    for (const c of hoard.slice(0, 5)) h.close(c);
    expect(h.isClosed(h.open('203.0.113.5'))).toBe(false);
  });

  it(`logged-in connections count against the looser cap of ${CONNECTIONS_PER_ADDRESS_MAX} only`, () => {
    const users = Array.from({ length: 8 }, (_, i) => `user${i}`);
    const h = new ServerHarness({ store: storeWith(users), connectionsPerAddressMax: 6, unauthenticatedConnectionsPerAddressMax: 2, authAttemptsPerAddressPerSec: 0 });
    const logged = users.slice(0, 6).map((u) => h.login(u, passwordOf(u), '203.0.113.5'));
    expect(logged.every((c) => !h.isClosed(c))).toBe(true);
    const seventh = h.open('203.0.113.5');
    expect(h.errors(seventh)).toEqual(['TOO_MANY_CONNECTIONS']);
    // A logout makes a connection unauthenticated again; closing it frees a place.
    h.send(logged[0] as number, { type: 'logout' });
    h.close(logged[0] as number);
    expect(h.isClosed(h.open('203.0.113.5'))).toBe(false);
  });

  it('a logout or a TTL expiry counts the connection as not logged in again: the unauthenticated cap holds', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']), unauthenticatedConnectionsPerAddressMax: 2, ttlMs: 60_000, unauthenticatedIdleMs: 600_000 });
    const alice = h.login('alice', passwordOf('alice'), '203.0.113.5');
    const bob = h.login('bob', passwordOf('bob'), '203.0.113.5');
    h.send(alice, { type: 'logout' });
    h.sendUnsettled(bob, { type: 'heartbeat' });
    h.advance(60_000);
    expect(h.errors(bob)).toEqual(['HEARTBEAT_TIMEOUT']);
    expect(h.errors(h.open('203.0.113.5'))).toEqual(['TOO_MANY_CONNECTIONS']);
  });
});

describe('connections per address, as they close', () => {
  it('logged-in connections that close give back no unauthenticated places: the cap on those still holds afterwards', () => {
    const users = ['user0', 'user1', 'user2'];
    const h = new ServerHarness({ store: storeWith(users), unauthenticatedConnectionsPerAddressMax: 2, authAttemptsPerAddressPerSec: 0 });
    // One connection stays open not logged in the whole time, so the address keeps its count.
    const waiting = h.open('203.0.113.5');
    for (const u of users) h.close(h.login(u, passwordOf(u), '203.0.113.5'));
    const more = [h.open('203.0.113.5'), h.open('203.0.113.5')];
    expect([waiting, ...more].map((c) => h.isClosed(c))).toEqual([false, false, true]);
    expect(h.errors(more[1] as number)).toEqual(['TOO_MANY_CONNECTIONS']);
  });

  it('an address is forgotten once its last connection closes: the server holds nothing for addresses that came and went', () => {
    const users = ['user0', 'user1'];
    const h = new ServerHarness({ store: storeWith(users), authAttemptsPerAddressPerSec: 0 });
    // One IPv6 /64 is one address, whatever the host part.
    const conns = [h.open('203.0.113.5'), h.login('user0', passwordOf('user0'), '2001:db8:1:2::10'), h.open('2001:db8:1:2::99'), h.open('198.51.100.1')];
    expect(h.machine.stats().connectedAddresses).toBe(3);
    h.close(conns[1] as number);
    expect(h.machine.stats().connectedAddresses).toBe(3);
    for (const c of conns) h.close(c);
    expect(h.machine.stats()).toMatchObject({ connections: 0, connectedAddresses: 0 });
    // Refused connections count too while open, and are forgotten the same way.
    const hoard = Array.from({ length: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX + 1 }, () => h.open('203.0.113.7'));
    expect(h.machine.stats().connectedAddresses).toBe(1);
    for (const c of hoard) h.close(c);
    expect(h.machine.stats().connectedAddresses).toBe(0);
  });
});

describe('the callee cannot choose where the caller connects', () => {
  it('the caller gets the address the server sees the callee at, whatever host the callee names (it got the named one before)', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'mallory'], [['alice', 'mallory']]) });
    const alice = h.login('alice', passwordOf('alice'), '198.51.100.20');
    const mallory = h.login('mallory', passwordOf('mallory'), '::ffff:203.0.113.66');
    h.send(alice, { type: 'session.request', username: 'mallory' });
    const asked = h.framesOf(mallory, 'session.incoming')[0]!;
    // Mallory names an internal host of alice's network.
    h.send(mallory, { type: 'session.answer', requestId: asked.requestId, accept: true, host: '10.0.0.1', port: 22 });
    expect(h.framesOf(alice, 'session.established')).toMatchObject([{ role: 'caller', username: 'mallory', host: '203.0.113.66', port: 22 }]);
  });

  it('accepting needs only a port now; the named host is ignored', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const alice = h.login('alice', passwordOf('alice'), '198.51.100.20');
    const bob = h.login('bob', passwordOf('bob'), '198.51.100.21');
    h.send(alice, { type: 'session.request', username: 'bob' });
    const asked = h.framesOf(bob, 'session.incoming')[0]!;
    h.send(bob, { type: 'session.answer', requestId: asked.requestId, accept: true, port: 4000 });
    expect(h.framesOf(alice, 'session.established')).toMatchObject([{ host: '198.51.100.21', port: 4000 }]);
  });
});
