/**
 * What the peer machine tells its user of the server's replies and pushes (core/peer/machine.ts,
 * onServerFrame), and what it tells the server of itself: one peer machine and a server typed by
 * hand (hand-typed-client.ts), so each frame comes exactly as written. Friends' requests,
 * answers, blocks and identities become the events of the headless contract, each reply under
 * the ref of the command it answers; a server error is passed on with its words, but a shutdown
 * notice is not (the close that follows says it); and the address a callee gives for its P2P
 * listener is one a friend can reach.
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../core/errors.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import type { PeerCommand } from '../../../core/peer/commands.ts';
import type { PeerConfig } from '../../../core/peer/machine.ts';
import { Client, ConfiguredClient, WELCOME, loginOk } from './hand-typed-client.ts';

/** A hand-typed client with `config` that can start on any listener address. */
class ListeningClient extends ConfiguredClient {
  /** Started with its listener on `p2pHost`, connected (the server sees `localAddress`), logged in as alice. */
  loggedInAt(p2pHost: string, localAddress: string | null): this {
    this.input({ type: 'start', p2pHost, p2pPort: 7001 });
    this.input({ type: 'server.open', linkId: this.linkId, localAddress });
    this.frame(WELCOME);
    this.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    this.frame(loginOk(this.lastSent('login').id!, 'tok1'));
    return this;
  }
}

/** The address alice's automatic yes to bob's session request gives for her P2P listener. */
function advertised(config: Partial<PeerConfig>, p2pHost: string, localAddress: string | null): { host?: string; port?: number } {
  const client = new ListeningClient(config).loggedInAt(p2pHost, localAddress);
  client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
  const answer = client.lastSent('session.answer') as Extract<ClientFrame, { type: 'session.answer' }>;
  expect(answer).toMatchObject({ requestId: 'r1', accept: true });
  return { host: answer.host, port: answer.port };
}

describe('the address a callee gives for its P2P listener', () => {
  it('the configured p2pAdvertiseHost, whatever the listener and the connection say', () => {
    expect(advertised({ p2pAdvertiseHost: 'chat.example.org' }, '0.0.0.0', '10.0.0.5')).toEqual({ host: 'chat.example.org', port: 7001 });
  });

  it('a listener on one address: that address', () => {
    expect(advertised({}, '192.168.1.7', '10.0.0.5')).toEqual({ host: '192.168.1.7', port: 7001 });
  });

  it('a listener on every address (0.0.0.0, ::, or none named): our address as the server connection sees it', () => {
    for (const wildcard of ['0.0.0.0', '::', '']) expect(advertised({}, wildcard, '10.0.0.5')).toEqual({ host: '10.0.0.5', port: 7001 });
  });

  it('an IPv4 address seen through an IPv6 socket (::ffff:a.b.c.d) is given as plain IPv4', () => {
    expect(advertised({}, '::', '::ffff:10.0.0.5')).toEqual({ host: '10.0.0.5', port: 7001 });
    expect(advertised({}, '::', 'fe80::1')).toEqual({ host: 'fe80::1', port: 7001 });
  });

  it('no local address known: loopback', () => {
    expect(advertised({}, '0.0.0.0', null)).toEqual({ host: '127.0.0.1', port: 7001 });
    expect(advertised({}, '0.0.0.0', '')).toEqual({ host: '127.0.0.1', port: 7001 });
  });
});

describe('friend requests, answers and blocks become events', () => {
  function withRef(client: Client, command: PeerCommand, ref: number): number {
    client.input({ type: 'command', command, ref });
    return (client.sent.at(-1) as { id: number }).id;
  }

  it('each reply to a friend command is told under the command\'s ref, with the friend it names', () => {
    const client = new Client().loggedIn();
    const requested = withRef(client, { cmd: 'friend.request', username: 'bob' }, 11);
    expect(client.sent.at(-1)).toEqual({ type: 'friend.request', id: requested, username: 'bob' });
    client.frame({ type: 'friend.requested', re: requested, username: 'bob' });
    const declined = withRef(client, { cmd: 'friend.decline', username: 'carol' }, 12);
    client.frame({ type: 'friend.declined', re: declined, username: 'carol' });
    const blocked = withRef(client, { cmd: 'friend.block', username: 'dave' }, 13);
    client.frame({ type: 'friend.blocked', re: blocked, username: 'dave' });
    const unblocked = withRef(client, { cmd: 'friend.unblock', username: 'dave' }, 14);
    client.frame({ type: 'friend.unblocked', re: unblocked, username: 'dave' });
    expect(client.answersTo(11)).toEqual([{ event: 'friend.requested', username: 'bob' }]);
    expect(client.answersTo(12)).toEqual([{ event: 'friend.declined', username: 'carol' }]);
    expect(client.answersTo(13)).toEqual([{ event: 'friend.blocked', username: 'dave' }]);
    expect(client.answersTo(14)).toEqual([{ event: 'friend.unblocked', username: 'dave' }]);
  });

  it('a friend added is told with the identity keys the server vouches for, when it gives them, and without the field when not', () => {
    const client = new Client().loggedIn();
    const identity = { signKey: `MCowBQYDK2VwAyEA${'B'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'B'.repeat(43)}=` };
    client.frame({ type: 'friend.added', username: 'bob', nickname: 'Bobby', status: 'online', identity });
    client.frame({ type: 'friend.added', username: 'carol', nickname: 'carol', status: 'offline' });
    expect(client.events.filter((e) => e.event.event === 'friend.added').map((e) => e.event)).toEqual([
      { event: 'friend.added', username: 'bob', nickname: 'Bobby', status: 'online', identity },
      { event: 'friend.added', username: 'carol', nickname: 'carol', status: 'offline' },
    ]);
    // No identity field at all (not one holding undefined): the JSON line a script reads has none.
    expect(Object.keys(client.events.at(-1)!.event)).not.toContain('identity');
  });

  it('a request that was answered (added, declined, blocked) is told again after a blip if the server still lists it, one never answered is not', () => {
    const client = new Client().loggedIn();
    client.frame({ type: 'friend.incoming', from: 'bob', nickname: 'bob' });
    client.frame({ type: 'friend.incoming', from: 'carol', nickname: 'carol' });
    client.frame({ type: 'friend.incoming', from: 'dave', nickname: 'dave' });
    client.frame({ type: 'friend.incoming', from: 'erin', nickname: 'erin' });
    client.frame({ type: 'friend.added', username: 'bob', nickname: 'bob', status: 'online' });
    client.frame({ type: 'friend.declined', username: 'carol' });
    client.frame({ type: 'friend.blocked', username: 'dave' });
    const shown = client.events.filter((e) => e.event.event === 'friend.request').length;
    expect(shown).toBe(4);
    // The link drops; the login taken back lists all four as still pending (say the answers were lost).
    const resumeId = client.resuming();
    client.frame({ ...loginOk(resumeId, 'tok2'), incoming: ['bob', 'carol', 'dave', 'erin'], resumed: true } as ServerFrame);
    const again = client.events.filter((e) => e.event.event === 'friend.request').slice(shown).map((e) => e.event);
    expect(again).toEqual([
      { event: 'friend.request', from: 'bob' },
      { event: 'friend.request', from: 'carol' },
      { event: 'friend.request', from: 'dave' },
    ]);
  });

  it('the friends list (the reply to friends) is told with its pending requests, which a login taken back later does not tell again', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 15 });
    const friends = [{ username: 'bob', nickname: 'bob', status: 'online' as const }];
    client.frame({ type: 'friends', re: client.lastSent('friends.list').id!, friends, incoming: ['carol'], outgoing: [] });
    expect(client.answersTo(15)).toEqual([{ event: 'friends', friends, pending: ['carol'] }]);
    const resumeId = client.resuming();
    client.frame({ ...loginOk(resumeId, 'tok2'), friends, incoming: ['carol', 'dave'], resumed: true } as ServerFrame);
    expect(client.events.filter((e) => e.event.event === 'friend.request').map((e) => e.event)).toEqual([{ event: 'friend.request', from: 'dave' }]);
  });

  it('a friend\'s new nickname is told as friend.updated', () => {
    const client = new Client().loggedIn();
    client.frame({ type: 'friend.updated', username: 'bob', nickname: 'Robert' });
    expect(client.events.at(-1)?.event).toEqual({ event: 'friend.updated', username: 'bob', nickname: 'Robert' });
  });

  // An older or dishonest server's nicknames that break the rule (core/nickname.ts) are never
  // shown: a right-to-left override would reverse the "(username)" a client shows after it.
  it('a nickname that breaks the rule, from the server, is shown as the username: friend lists, friend.added, friend.updated, account.updated', () => {
    const client = new Client().loggedIn();
    client.frame({ type: 'friend.updated', username: 'bob', nickname: '\u202eecila' });
    client.frame({ type: 'friend.updated', username: 'bob', nickname: '\u2800' });
    client.frame({ type: 'friend.added', username: 'carol', nickname: '', status: 'online' });
    expect(client.events.slice(-3).map((e) => e.event)).toEqual([
      { event: 'friend.updated', username: 'bob', nickname: 'bob' },
      { event: 'friend.updated', username: 'bob', nickname: 'bob' },
      { event: 'friend.added', username: 'carol', nickname: 'carol', status: 'online' },
    ]);
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 16 });
    const friends = [
      { username: 'bob', nickname: 'Bob \u202e', status: 'online' as const },
      { username: 'carol', nickname: 'Carol', status: 'offline' as const },
    ];
    client.frame({ type: 'friends', re: client.lastSent('friends.list').id!, friends, incoming: [], outgoing: [] });
    expect(client.answersTo(16)).toEqual([{ event: 'friends', friends: [{ ...friends[0], nickname: 'bob' }, friends[1]], pending: [] }]);
    client.input({ type: 'command', command: { cmd: 'account.nickname', nickname: 'x' }, ref: 17 });
    client.frame({ type: 'account.updated', re: client.lastSent('account.nickname').id!, username: 'alice', nickname: '   ' });
    expect(client.answersTo(17)).toEqual([{ event: 'account.updated', username: 'alice', nickname: 'alice' }]);
  });
});

describe('server errors', () => {
  it('an error reply is told with its code, words and detail, under the ref of the command it answers; one without detail has no detail field', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'friend.request', username: 'nobody' }, ref: 21 });
    const id = client.lastSent('friend.request').id!;
    client.frame({ type: 'error', re: id, code: 'NO_SUCH_USER', message: 'no such user', detail: 'nobody' });
    client.input({ type: 'command', command: { cmd: 'friend.request', username: 'bob' }, ref: 22 });
    client.frame({ type: 'error', re: client.lastSent('friend.request').id!, code: 'ALREADY_FRIENDS', message: 'already friends' });
    expect(client.answersTo(21)).toEqual([{ event: 'error', code: 'NO_SUCH_USER', message: 'no such user', detail: 'nobody' }]);
    expect(client.answersTo(22)).toEqual([{ event: 'error', code: 'ALREADY_FRIENDS', message: 'already friends' }]);
    expect(Object.keys(client.answersTo(22)[0]!)).not.toContain('detail');
  });

  it('SERVER_SHUTTING_DOWN is not told: the close that follows says it (disconnected)', () => {
    const client = new Client().loggedIn();
    const before = client.events.length;
    client.frame({ type: 'error', code: 'SERVER_SHUTTING_DOWN', message: errorMessage('SERVER_SHUTTING_DOWN') });
    expect(client.events.slice(before)).toEqual([]);
    client.input({ type: 'server.closed', linkId: client.linkId, error: null });
    expect(client.events.slice(before).map((e) => e.event.event)).toEqual(['disconnected']);
  });
});
