/**
 * The machine's interface to its host, beyond the frames: the counters stats() reports, the
 * effects a quiet machine hands out, the read-only queries, a repeated `open`, and the one shared
 * heartbeat ack.
 */
import { describe, expect, it } from 'vitest';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

describe('the machine interface', () => {
  it('stats() counts the frames read, the frames sent and the error frames sent by code; each call is a snapshot later traffic does not change', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const c = h.open();
    h.send(c, { type: 'login', username: 'alice', password: 'not the password' });
    h.send(c, { type: 'login', username: 'alice', password: 'not the password either' });
    h.send(c, { type: 'heartbeat' });
    const before = h.machine.stats();
    expect(before.framesIn).toBe(3);
    // The welcome and three errors.
    expect(before.framesOut).toBe(4);
    expect(before.errors).toStrictEqual({ BAD_CREDENTIALS: 2, NOT_LOGGED_IN: 1 });
    h.send(c, { type: 'heartbeat' });
    expect(h.machine.stats().errors).toStrictEqual({ BAD_CREDENTIALS: 2, NOT_LOGGED_IN: 2 });
    expect(before.errors).toStrictEqual({ BAD_CREDENTIALS: 2, NOT_LOGGED_IN: 1 });
  });

  it('stats() counts logins, failed logins and resumes, one each, as /metrics shows them', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob']) });
    const alice = h.login('alice');
    h.login('bob');
    const wrong = h.open();
    h.send(wrong, { type: 'login', username: 'alice', password: 'not the password' });
    const token = h.tokenOf(alice);
    h.close(alice);
    const resumed = h.resume('alice', token);
    expect(h.framesOf(resumed, 'login.ok')).toHaveLength(1);
    const stats = h.machine.stats();
    expect([stats.logins, stats.loginsFailed, stats.resumes]).toStrictEqual([2, 1, 1]);
  });

  it('an error frame with nothing to add has no detail field at all (not an undefined one)', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.send(c, { type: 'heartbeat', id: 3 });
    expect(h.last(c)).toStrictEqual({ type: 'error', re: 3, code: 'NOT_LOGGED_IN', message: expect.any(String) });
  });

  it('a quiet machine hands out the same frozen empty list each time it is asked (no new array per ask)', () => {
    const h = new ServerHarness();
    h.open();
    const first = h.machine.takeEffects();
    expect(first).toStrictEqual([]);
    expect(Object.isFrozen(first)).toBe(true);
    expect(h.machine.takeEffects()).toBe(first);
  });

  it('friendsOf() an unknown user is empty, not an error', () => {
    const h = new ServerHarness();
    expect(h.machine.friendsOf('nobody').size).toBe(0);
  });

  it('an open for a connection id already open changes nothing: one welcome, one connection', () => {
    const h = new ServerHarness();
    const c = h.open();
    h.input({ type: 'open', connId: c, remoteAddress: '10.0.0.1' });
    expect(h.frames(c).map((f) => f.type)).toEqual(['welcome']);
    expect(h.machine.stats().connections).toBe(1);
  });

  it('a heartbeat without an id is acked with one shared frame, without a `re`; with an id, the ack names it', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const alice = h.login('alice');
    h.send(alice, { type: 'heartbeat' });
    h.send(alice, { type: 'heartbeat' });
    h.send(alice, { type: 'heartbeat', id: 4 });
    const acks = h.framesOf(alice, 'heartbeat.ack');
    expect(acks[0]).toStrictEqual({ type: 'heartbeat.ack' });
    expect(acks[1]).toBe(acks[0]);
    expect(acks[2]).toStrictEqual({ type: 'heartbeat.ack', re: 4 });
  });
});
