/**
 * The unauthenticated idle limit at its edges, on the server machine: a sign-up or login whose
 * password check spans the limit is answered, never cut (before the fix the idle timer counted
 * from the opening and closed the connection under the check: the client got SERVER_UNAVAILABLE,
 * and a sign-up's account was made all the same); the window starts again at each answer; and a
 * connection that keeps asking is still closed after UNAUTHENTICATED_LIFETIME_IDLE_LIMITS limits.
 */
import { describe, expect, it } from 'vitest';
import { PASSWORD_CHECKS_RUNNING_MAX, PASSWORD_CHECKS_WAITING_MAX, UNAUTHENTICATED_LIFETIME_IDLE_LIMITS } from '../../../core/limits.ts';
import { ServerHarness, passwordOf, storeWith } from '../../helpers/server-harness.ts';

const IDLE_MS = 5_000;
const LIFETIME_MS = IDLE_MS * UNAUTHENTICATED_LIFETIME_IDLE_LIMITS;

function harness(): ServerHarness {
  return new ServerHarness({ unauthenticatedIdleMs: IDLE_MS, ttlMs: 10 * LIFETIME_MS, store: storeWith(['alice']), authAttemptsPerAddressPerSec: 0 });
}

/** A request answered at once and refused, as a client that keeps asking would send. */
const BAD_RESUME = { type: 'resume', username: 'alice', token: 'not-a-token' } as const;

describe('a request in progress at the idle limit', () => {
  it('a login whose check spans the limit is answered login.ok on the same connection (closed under it before the fix)', () => {
    const h = harness();
    const c = h.open();
    h.advance(IDLE_MS - 1);
    h.sendUnsettled(c, { type: 'login', id: 1, username: 'alice', password: passwordOf('alice') });
    h.advance(IDLE_MS);
    expect(h.errors(c)).toEqual([]);
    expect(h.isClosed(c)).toBe(false);
    h.settle();
    expect(h.last(c)).toMatchObject({ type: 'login.ok', re: 1, username: 'alice' });
    h.advance(LIFETIME_MS);
    expect(h.isClosed(c)).toBe(false);
  });

  it('a sign-up whose hash spans the limit gets signup.ok, and the window restarts from the answer: the login that follows fits in it', () => {
    const h = harness();
    const c = h.open();
    h.advance(IDLE_MS - 1);
    h.sendUnsettled(c, { type: 'signup', id: 2, username: 'bob', password: 'correct horse' });
    h.advance(2 * IDLE_MS);
    h.settle();
    expect(h.last(c)).toEqual({ type: 'signup.ok', re: 2, username: 'bob' });
    h.advance(IDLE_MS - 1);
    expect(h.isClosed(c)).toBe(false);
    h.send(c, { type: 'login', id: 3, username: 'bob', password: 'correct horse' });
    expect(h.last(c)).toMatchObject({ type: 'login.ok', re: 3 });
  });

  it('after the answer a silent connection is closed one idle limit later, not before', () => {
    const h = harness();
    const c = h.open();
    h.advance(IDLE_MS - 1);
    h.sendUnsettled(c, { type: 'login', id: 4, username: 'alice', password: 'wrong password' });
    h.advance(IDLE_MS);
    h.settle();
    expect(h.errors(c)).toEqual(['BAD_CREDENTIALS']);
    h.advance(IDLE_MS - 1);
    expect(h.isClosed(c)).toBe(false);
    h.advance(1);
    expect(h.errors(c)).toEqual(['BAD_CREDENTIALS', 'UNAUTHENTICATED_TIMEOUT']);
    expect(h.isClosed(c)).toBe(true);
  });

  it('a request answered at once restarts the window too; a frame that is not a sign-up, login or resume does not', () => {
    const h = harness();
    const c = h.open();
    h.advance(IDLE_MS - 1);
    h.send(c, BAD_RESUME);
    h.advance(IDLE_MS - 1);
    h.send(c, { type: 'heartbeat' });
    expect(h.isClosed(c)).toBe(false);
    h.advance(1);
    expect(h.errors(c)).toEqual(['BAD_RESUME_TOKEN', 'NOT_LOGGED_IN', 'UNAUTHENTICATED_TIMEOUT']);
  });

  it('a login pushed out of the full wait line (BUSY) gets a new window from that answer: its connection is still closed when silent', () => {
    const h = new ServerHarness({ unauthenticatedIdleMs: IDLE_MS, authAttemptsPerAddressPerSec: 0 });
    for (let i = 0; i < PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX - 1; i++) {
      h.sendUnsettled(h.open('198.18.0.1'), { type: 'login', username: `nobody${i}`, password: 'flood password' });
    }
    const newest = h.open('198.18.0.1');
    h.sendUnsettled(newest, { type: 'login', username: 'newest', password: 'flood password' });
    // Its first window passes while it waits: nothing is cut.
    h.advance(2 * IDLE_MS);
    expect(h.errors(newest)).toEqual([]);
    // The line is full: a newcomer from elsewhere pushes out the newest wait of the address
    // holding the most, which is answered BUSY and is a guest again.
    h.sendUnsettled(h.open('198.18.0.2'), { type: 'login', username: 'other', password: 'flood password' });
    expect(h.errors(newest)).toEqual(['BUSY']);
    h.advance(IDLE_MS - 1);
    expect(h.isClosed(newest)).toBe(false);
    h.advance(1);
    expect(h.errors(newest)).toEqual(['BUSY', 'UNAUTHENTICATED_TIMEOUT']);
    expect(h.isClosed(newest)).toBe(true);
  });
});

describe('the unauthenticated lifetime', () => {
  /** Asks (a bad resume) once every idle limit but one, UNAUTHENTICATED_LIFETIME_IDLE_LIMITS times: the lifetime less a few ms. */
  function keepAsking(h: ServerHarness, c: number): void {
    for (let i = 0; i < UNAUTHENTICATED_LIFETIME_IDLE_LIMITS; i++) {
      h.advance(IDLE_MS - 1);
      h.send(c, BAD_RESUME);
    }
    expect(h.isClosed(c)).toBe(false);
  }
  const ASKED_MS = UNAUTHENTICATED_LIFETIME_IDLE_LIMITS * (IDLE_MS - 1);

  it('a connection that keeps asking is closed UNAUTHENTICATED_LIFETIME_IDLE_LIMITS idle limits after it opened, not before', () => {
    const h = harness();
    const c = h.open();
    keepAsking(h, c);
    h.advance(LIFETIME_MS - 1 - ASKED_MS);
    expect(h.isClosed(c)).toBe(false);
    h.advance(1);
    expect(h.errors(c).at(-1)).toBe('UNAUTHENTICATED_TIMEOUT');
    expect(h.isClosed(c)).toBe(true);
  });

  it('a request in progress at the end of the lifetime is answered first, then the connection closes at once', () => {
    const h = harness();
    const c = h.open();
    keepAsking(h, c);
    h.sendUnsettled(c, { type: 'login', id: 5, username: 'alice', password: 'wrong password' });
    h.advance(LIFETIME_MS);
    expect(h.isClosed(c)).toBe(false);
    h.settle();
    expect(h.errors(c).at(-1)).toBe('BAD_CREDENTIALS');
    h.advance(0);
    expect(h.errors(c).slice(-2)).toEqual(['BAD_CREDENTIALS', 'UNAUTHENTICATED_TIMEOUT']);
    expect(h.isClosed(c)).toBe(true);
  });

  it('a logout starts a new lifetime, which ends in its turn', () => {
    const h = harness();
    const c = h.open();
    h.advance(IDLE_MS - 1);
    h.send(c, { type: 'login', username: 'alice', password: passwordOf('alice') });
    h.advance(LIFETIME_MS);
    h.send(c, { type: 'logout' });
    keepAsking(h, c);
    h.advance(LIFETIME_MS - 1 - ASKED_MS);
    expect(h.isClosed(c)).toBe(false);
    h.advance(1);
    expect(h.errors(c).at(-1)).toBe('UNAUTHENTICATED_TIMEOUT');
  });
});

describe('a password change pushed out of the full wait line', () => {
  it('is answered BUSY and its connection stays logged in (it was made a guest before the fix)', () => {
    const h = new ServerHarness({ store: storeWith(['alice']), unauthenticatedIdleMs: IDLE_MS, authAttemptsPerAddressPerSec: 0 });
    const alice = h.login('alice', passwordOf('alice'), '198.18.0.1');
    for (let i = 0; i < PASSWORD_CHECKS_RUNNING_MAX + PASSWORD_CHECKS_WAITING_MAX - 1; i++) {
      h.sendUnsettled(h.open('198.18.0.1'), { type: 'login', username: `nobody${i}`, password: 'flood password' });
    }
    h.sendUnsettled(alice, { type: 'account.password', id: 6, old: passwordOf('alice'), new: 'a new password' });
    // A newcomer from elsewhere pushes out the newest wait of the address holding the most: alice's.
    h.sendUnsettled(h.open('198.18.0.2'), { type: 'login', username: 'other', password: 'flood password' });
    expect(h.last(alice)).toMatchObject({ type: 'error', re: 6, code: 'BUSY' });
    h.advance(2 * IDLE_MS);
    expect(h.isClosed(alice)).toBe(false);
    h.sendUnsettled(alice, { type: 'heartbeat', id: 7 });
    expect(h.last(alice)).toEqual({ type: 'heartbeat.ack', re: 7 });
    expect(h.machine.isOnline('alice')).toBe(true);
  });
});
