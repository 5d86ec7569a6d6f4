/**
 * Identity keys on the server: registered at sign-up (or at the first login that offers them),
 * stored with the account, and handed to friends on every friend view and on session.established,
 * each side getting the other's keys. Malformed keys are refused by the frame schema.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { IdentityKeys } from '../../../core/identity.ts';
import { ServerHarness, storeWith } from '../../helpers/server-harness.ts';

function keys(): IdentityKeys {
  const spki = (key: ReturnType<typeof generateKeyPairSync>['publicKey']): string => key.export({ format: 'der', type: 'spki' }).toString('base64');
  return { signKey: spki(generateKeyPairSync('ed25519').publicKey), sealKey: spki(generateKeyPairSync('x25519').publicKey) };
}

function signup(h: ServerHarness, username: string, identity?: IdentityKeys): void {
  const conn = h.open();
  h.send(conn, { type: 'signup', id: 1, username, password: `${username}-password`, ...(identity === undefined ? {} : { identity }) });
  expect(h.last(conn)).toMatchObject({ type: 'signup.ok' });
  h.close(conn);
}

function login(h: ServerHarness, username: string, identity?: IdentityKeys): number {
  const conn = h.open();
  h.send(conn, { type: 'login', id: 2, username, password: `${username}-password`, ...(identity === undefined ? {} : { identity }) });
  expect(h.last(conn)).toMatchObject({ type: 'login.ok' });
  return conn;
}

describe('identity keys', () => {
  it('sign-up stores the keys; friends get them on friend.added, login.ok and friends, and never a stranger', () => {
    const h = new ServerHarness();
    const aliceKeys = keys();
    const bobKeys = keys();
    signup(h, 'alice', aliceKeys);
    signup(h, 'bob', bobKeys);
    expect(h.store.load().accounts.find((a) => a.username === 'alice')?.identity).toEqual(aliceKeys);
    const alice = login(h, 'alice');
    const bob = login(h, 'bob');
    h.send(alice, { type: 'friend.request', username: 'bob' });
    expect(h.framesOf(bob, 'friend.incoming')[0]).not.toHaveProperty('identity');
    h.send(bob, { type: 'friend.accept', username: 'alice' });
    expect(h.framesOf(alice, 'friend.added')).toMatchObject([{ username: 'bob', identity: bobKeys }]);
    expect(h.framesOf(bob, 'friend.added')).toMatchObject([{ username: 'alice', identity: aliceKeys }]);
    h.send(alice, { type: 'friends.list', id: 5 });
    const since = h.framesOf(alice, 'friend.added')[0]?.since;
    expect(h.framesOf(alice, 'friends').at(-1)?.friends).toEqual([{ username: 'bob', nickname: 'bob', status: 'online', identity: bobKeys, since }]);
    h.send(alice, { type: 'logout' });
    const again = login(h, 'alice');
    expect(h.framesOf(again, 'login.ok')[0]?.friends).toEqual([{ username: 'bob', nickname: 'bob', status: 'online', identity: bobKeys, since }]);
  });

  it('session.established gives each side the keys of the other', () => {
    const h = new ServerHarness();
    const aliceKeys = keys();
    const bobKeys = keys();
    signup(h, 'alice', aliceKeys);
    signup(h, 'bob', bobKeys);
    const alice = login(h, 'alice');
    const bob = login(h, 'bob');
    h.befriend('alice', alice, 'bob', bob);
    h.send(alice, { type: 'session.request', id: 7, username: 'bob' });
    const requestId = h.framesOf(bob, 'session.incoming')[0]!.requestId;
    h.send(bob, { type: 'session.answer', id: 8, requestId, accept: true, port: 4000 });
    expect(h.framesOf(alice, 'session.established')).toMatchObject([{ username: 'bob', role: 'caller', identity: bobKeys }]);
    expect(h.framesOf(bob, 'session.established')).toMatchObject([{ username: 'alice', role: 'callee', identity: aliceKeys }]);
  });

  it('an account without keys gets them at its first login that offers some; a later login with other keys replaces them', () => {
    const h = new ServerHarness({ store: storeWith(['alice', 'bob'], [['alice', 'bob']]) });
    const bob = login(h, 'bob');
    h.send(bob, { type: 'friends.list', id: 3 });
    expect(h.framesOf(bob, 'friends').at(-1)?.friends[0]).not.toHaveProperty('identity');
    const first = keys();
    login(h, 'alice', first);
    expect(h.store.load().accounts.find((a) => a.username === 'alice')?.identity).toEqual(first);
    h.send(bob, { type: 'friends.list', id: 4 });
    expect(h.framesOf(bob, 'friends').at(-1)?.friends[0]).toMatchObject({ username: 'alice', identity: first });
    // A login without keys (an old client) leaves them as they are.
    login(h, 'alice');
    expect(h.store.load().accounts.find((a) => a.username === 'alice')?.identity).toEqual(first);
    const second = keys();
    login(h, 'alice', second);
    expect(h.store.load().accounts.find((a) => a.username === 'alice')?.identity).toEqual(second);
    // And they survive a restart (the store's snapshot carries them).
    h.restart();
    const bobAgain = login(h, 'bob');
    expect(h.framesOf(bobAgain, 'login.ok')[0]?.friends[0]).toMatchObject({ username: 'alice', identity: second });
  });

  it('keys registered or replaced at a login reach the friends online at once (friend.updated with them); the same keys again, or none, tell nobody', () => {
    // Before: a friend online kept sealing offline messages to the old key until its next friend
    // view, and the new data dir could open none of them (MAIL_UNREADABLE).
    const h = new ServerHarness({ store: storeWith(['alice', 'bob', 'carol'], [['alice', 'bob']]) });
    const bob = login(h, 'bob');
    const carol = login(h, 'carol');
    const first = keys();
    login(h, 'alice', first);
    login(h, 'alice', first);
    login(h, 'alice');
    const second = keys();
    login(h, 'alice', second);
    expect(h.framesOf(bob, 'friend.updated')).toEqual([
      { type: 'friend.updated', username: 'alice', nickname: 'alice', identity: first },
      { type: 'friend.updated', username: 'alice', nickname: 'alice', identity: second },
    ]);
    expect(h.framesOf(carol, 'friend.updated')).toEqual([]);
  });

  it('a wrong password registers nothing', () => {
    const h = new ServerHarness({ store: storeWith(['alice']) });
    const conn = h.open();
    h.send(conn, { type: 'login', id: 1, username: 'alice', password: 'not-the-password', identity: keys() });
    expect(h.errors(conn)).toEqual(['BAD_CREDENTIALS']);
    expect(h.store.load().accounts[0]).not.toHaveProperty('identity');
  });

  it.each([
    ['a sign key of the wrong algorithm', (k: IdentityKeys) => ({ ...k, signKey: k.sealKey })],
    ['a seal key of the wrong algorithm', (k: IdentityKeys) => ({ ...k, sealKey: k.signKey })],
    ['a truncated key', (k: IdentityKeys) => ({ ...k, signKey: k.signKey.slice(0, 40) })],
    ['a key with junk after it', (k: IdentityKeys) => ({ ...k, sealKey: `${k.sealKey}AAAA` })],
    ['a missing key', (k: IdentityKeys) => ({ signKey: k.signKey }) as unknown as IdentityKeys],
  ])('sign-up with %s is BAD_FRAME and makes no account', (_name, spoil) => {
    const h = new ServerHarness();
    const conn = h.open();
    h.send(conn, { type: 'signup', id: 1, username: 'alice', password: 'alice-password', identity: spoil(keys()) });
    expect(h.errors(conn)).toEqual(['BAD_FRAME']);
    expect(h.store.load().accounts).toEqual([]);
  });
});
