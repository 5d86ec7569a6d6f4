/**
 * The headless client's friend and account commands end to end (real server, real client
 * processes): a request made while the target was offline is listed in its login.ok (`pending`)
 * and told as a friend.request right after (before, neither: only an explicit `friends` showed
 * it); friend.remove, friend.block (silent to the blocked user) and friend.unblock; account.password
 * (the old one required) and account.nickname (friends get friend.updated).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/eventually.ts';
import { EVENT_WAIT_MS, HeadlessClient } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

describe('headless client: friends made while away, remove, block, password and nickname', () => {
  let server: TestServer;
  let alice: HeadlessClient;
  let bob: HeadlessClient;

  beforeAll(async () => {
    server = await TestServer.start();
    [alice, bob] = await Promise.all([HeadlessClient.start('alice', { server: server.address }), HeadlessClient.start('bob', { server: server.address })]);
  });

  afterAll(async () => {
    alice?.kill();
    bob?.kill();
    await server?.close();
  });

  it('a request made while the target was offline: login.ok lists it as pending, then a friend.request follows', async () => {
    await alice.request({ cmd: 'signup', username: 'alice', password: 'alice-secret-pw' }, 'signup.ok');
    await alice.request({ cmd: 'login', username: 'alice', password: 'alice-secret-pw' }, 'login.ok');
    await bob.request({ cmd: 'signup', username: 'bob', password: 'bob-secret-pw' }, 'signup.ok');
    await alice.request({ cmd: 'friend.request', username: 'bob' }, 'friend.requested', { username: 'bob' });
    const login = await bob.request({ cmd: 'login', username: 'bob', password: 'bob-secret-pw', id: 'in' }, 'login.ok');
    expect(login).toMatchObject({ ref: 'in', username: 'bob', pending: ['alice'] });
    const pushed = await bob.waitFor('friend.request', { from: 'alice' });
    expect(bob.events.indexOf(pushed)).toBeGreaterThan(bob.events.indexOf(login));
    await bob.request({ cmd: 'friend.accept', username: 'alice' }, 'friend.added', { username: 'alice' });
    await alice.waitFor('friend.added', { username: 'bob', status: 'online' });
  });

  it('friend.remove ends the friendship on both sides; a blocked user is answered as usual and never reaches us; unblock shows the request', async () => {
    await bob.request({ cmd: 'friend.remove', username: 'alice', id: 'rm' }, 'friend.removed', { username: 'alice', ref: 'rm' });
    await alice.waitFor('friend.removed', { username: 'bob' });
    await bob.request({ cmd: 'friend.block', username: 'alice', id: 'blk' }, 'friend.blocked', { username: 'alice', ref: 'blk' });
    await alice.request({ cmd: 'friend.request', username: 'bob' }, 'friend.requested', { username: 'bob' });
    // bob's list shows nothing; alice's own list shows her request pending (the block stays silent).
    const bobList = await bob.request({ cmd: 'friends', id: 'l1' }, 'friends', { ref: 'l1' });
    expect(bobList.pending).toEqual([]);
    expect(bob.events.filter((e) => e.event === 'friend.request')).toHaveLength(1);
    await bob.request({ cmd: 'friend.unblock', username: 'alice' }, 'friend.unblocked', { username: 'alice' });
    // Told at once, as a request made now would be, not only in the next list.
    await eventually(() => bob.seen('friend.request').length === 2, 'a second friend.request from alice, after the unblock', EVENT_WAIT_MS);
    expect(bob.seen('friend.request').at(-1)).toMatchObject({ from: 'alice' });
    const after = await bob.request({ cmd: 'friends', id: 'l2' }, 'friends', { ref: 'l2' });
    expect(after.pending).toEqual(['alice']);
    await bob.request({ cmd: 'friend.accept', username: 'alice' }, 'friend.added', { username: 'alice' });
  });

  it('account.password needs the old password; then only the new one logs in', async () => {
    const wrong = await alice.request({ cmd: 'account.password', old: 'not-my-password', new: 'alice-new-secret', id: 'pw1' }, 'error', { ref: 'pw1' });
    expect(wrong.code).toBe('BAD_CREDENTIALS');
    const ok = await alice.request({ cmd: 'account.password', old: 'alice-secret-pw', new: 'alice-new-secret', id: 'pw2' }, 'account.updated', { ref: 'pw2' });
    expect(ok).toMatchObject({ username: 'alice', nickname: 'alice' });
    await alice.request({ cmd: 'logout' }, 'logout.ok');
    const old = await alice.request({ cmd: 'login', username: 'alice', password: 'alice-secret-pw', id: 'old' }, 'error', { ref: 'old' });
    expect(old.code).toBe('BAD_CREDENTIALS');
    await alice.request({ cmd: 'login', username: 'alice', password: 'alice-new-secret', id: 'new' }, 'login.ok', { ref: 'new' });
  });

  it('account.nickname: account.updated to us, friend.updated to the friend', async () => {
    const updated = await alice.request({ cmd: 'account.nickname', nickname: 'Alice A.', id: 'nick' }, 'account.updated', { ref: 'nick' });
    expect(updated).toMatchObject({ username: 'alice', nickname: 'Alice A.' });
    await bob.waitFor('friend.updated', { username: 'alice', nickname: 'Alice A.' });
  });
});
