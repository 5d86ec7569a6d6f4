/**
 * Chat commands at the peer machine (core/peer/machine.ts, onChatOpen, onChatClose, onChatSend):
 * each gets its answer at once when there is nothing to ask the server, naming the friend, under
 * the command's ref; a message to a friend with no session while the server is out of reach is
 * refused with the id it would have had, so a script can tell which. One peer machine and a
 * server typed by hand (hand-typed-client.ts).
 */
import { describe, expect, it } from 'vitest';
import { errorMessage } from '../../../core/errors.ts';
import type { ServerFrame } from '../../../core/frames.ts';
import { SERVER_REQUESTS_PENDING_MAX } from '../../../core/limits.ts';
import { Client, ConfiguredClient, loginOk } from './hand-typed-client.ts';

/** Logged in as alice with bob as a friend (offline). */
function withFriend(): Client {
  const client = new Client().welcomed();
  client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
  const ok = loginOk(client.lastSent('login').id!, 'tok1') as Extract<ServerFrame, { type: 'login.ok' }>;
  client.frame({ ...ok, friends: [{ username: 'bob', nickname: 'bob', status: 'offline' }] });
  return client;
}

describe('chat commands answered without the server', () => {
  it('chat.open while our own request to that friend is still out: SESSION_PENDING naming the friend, nothing sent again', () => {
    const client = withFriend();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    const sent = client.sent.length;
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 101 });
    expect(client.answersTo(101)).toEqual([{ event: 'error', code: 'SESSION_PENDING', message: errorMessage('SESSION_PENDING'), username: 'bob' }]);
    expect(client.sent.length).toBe(sent);
  });

  it(`chat.open with ${SERVER_REQUESTS_PENDING_MAX} requests awaiting the server: QUEUE_FULL naming the friend, nothing sent`, () => {
    const client = withFriend();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) client.input({ type: 'command', command: { cmd: 'friends' } });
    const sent = client.sent.length;
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 110 });
    expect(client.answersTo(110)).toEqual([{ event: 'error', code: 'QUEUE_FULL', message: errorMessage('QUEUE_FULL'), detail: 'too many requests waiting for the server', username: 'bob' }]);
    expect(client.sent.length).toBe(sent);
  });

  it('chat.close with no session with that friend: NO_SUCH_PEER naming the friend', () => {
    const client = withFriend();
    client.input({ type: 'command', command: { cmd: 'chat.close', username: 'bob' }, ref: 102 });
    expect(client.answersTo(102)).toEqual([{ event: 'error', code: 'NO_SUCH_PEER', message: errorMessage('NO_SUCH_PEER'), username: 'bob' }]);
  });

  it('chat.answer with no request from that friend: NO_SUCH_SESSION_REQUEST naming the friend', () => {
    const client = withFriend();
    client.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: true }, ref: 103 });
    expect(client.answersTo(103)).toEqual([{ event: 'error', code: 'NO_SUCH_SESSION_REQUEST', message: errorMessage('NO_SUCH_SESSION_REQUEST'), username: 'bob' }]);
  });

  it('chat.send to a friend with no session while the server is out of reach: SERVER_UNAVAILABLE with the message\'s id, generated ones counting up', () => {
    const client = withFriend();
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'one' }, ref: 104 });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'two' }, ref: 105 });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'mine', id: 'm-7' }, ref: 106 });
    const detail = 'no open session, and the server that would hold the message is not reachable now';
    expect(client.answersTo(104)).toEqual([{ event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail, username: 'bob', id: 'alice-o1' }]);
    expect(client.answersTo(105)).toEqual([{ event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail, username: 'bob', id: 'alice-o2' }]);
    expect(client.answersTo(106)).toEqual([{ event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail, username: 'bob', id: 'm-7' }]);
  });

  it('chat.send to someone who is not a friend, or while logged out: NO_SUCH_PEER, nothing sealed', () => {
    const client = withFriend();
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'mallory', text: 'hi', id: 1 }, ref: 107 });
    expect(client.answersTo(107)).toMatchObject([{ event: 'error', code: 'NO_SUCH_PEER', username: 'mallory' }]);
    const loggedOut = new Client().welcomed();
    loggedOut.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'hi', id: 1 }, ref: 108 });
    expect(loggedOut.answersTo(108)).toMatchObject([{ event: 'error', code: 'NO_SUCH_PEER', username: 'bob' }]);
    expect([...client.effects, ...loggedOut.effects].filter((e) => e.type === 'mail.seal')).toEqual([]);
  });

  it('chat.send to a friend after our logout: NO_SUCH_PEER, not SERVER_UNAVAILABLE (nothing is sealed without a login)', () => {
    const client = withFriend();
    client.input({ type: 'command', command: { cmd: 'logout' } });
    client.frame({ type: 'logout.ok', re: client.lastSent('logout').id! });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'hi', id: 1 }, ref: 141 });
    expect(client.answersTo(141)).toMatchObject([{ event: 'error', code: 'NO_SUCH_PEER', username: 'bob' }]);
  });

  it('chat.read before any login writes nothing to a history (there is no account to write to)', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'chat.read', username: 'bob', id: 1 } });
    expect(client.effects.filter((e) => e.type === 'history.mark' || e.type === 'history.append')).toEqual([]);
  });

  it('chat.send to a friend with no session, logged in: the message is sealed with the friend\'s key, to be left with the server', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    const ok = loginOk(client.lastSent('login').id!, 'tok1') as Extract<ServerFrame, { type: 'login.ok' }>;
    const identity = { signKey: `MCowBQYDK2VwAyEA${'B'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'B'.repeat(43)}=` };
    client.frame({ ...ok, friends: [{ username: 'bob', nickname: 'bob', status: 'offline', identity }] });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'offline hello', id: 'm-1' }, ref: 109 });
    expect(client.answersTo(109).filter((e) => e.event === 'error')).toEqual([]);
    expect(client.effects.filter((e) => e.type === 'mail.seal')).toMatchObject([{ sealKey: identity.sealKey }]);
  });

  it("a friend's new identity keys (friend.updated with identity, a login from a new data dir) are told, and offline messages are sealed to them from then on; a nickname change keeps the keys, and keys told for someone who is not a friend make no key", () => {
    const keys = (letter: string) => ({ signKey: `MCowBQYDK2VwAyEA${letter.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${letter.repeat(43)}=` });
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    const ok = loginOk(client.lastSent('login').id!, 'tok1') as Extract<ServerFrame, { type: 'login.ok' }>;
    client.frame({ ...ok, friends: [{ username: 'bob', nickname: 'bob', status: 'offline', identity: keys('B') }] });
    client.frame({ type: 'friend.updated', username: 'bob', nickname: 'bob', identity: keys('C') });
    client.frame({ type: 'friend.updated', username: 'bob', nickname: 'Bobby' });
    client.frame({ type: 'friend.updated', username: 'mallory', nickname: 'mallory', identity: keys('M') });
    const told = client.events.filter((e) => e.event.event === 'friend.updated').map((e) => e.event);
    expect(told).toEqual([
      { event: 'friend.updated', username: 'bob', nickname: 'bob', identity: keys('C') },
      { event: 'friend.updated', username: 'bob', nickname: 'Bobby' },
      { event: 'friend.updated', username: 'mallory', nickname: 'mallory', identity: keys('M') },
    ]);
    expect(Object.keys(told[1]!)).not.toContain('identity');
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'offline hello', id: 'm-1' }, ref: 110 });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'mallory', text: 'hello stranger', id: 'm-2' }, ref: 111 });
    expect(client.effects.filter((e) => e.type === 'mail.seal')).toMatchObject([{ sealKey: keys('C').sealKey }]);
    expect(client.answersTo(111)).toMatchObject([{ event: 'error', username: 'mallory' }]);
  });
});

/** Logged in as alice with bob (offline, with keys) as a friend. */
function withKeyedFriend(): Client {
  const client = new Client().welcomed();
  client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
  const ok = loginOk(client.lastSent('login').id!, 'tok1') as Extract<ServerFrame, { type: 'login.ok' }>;
  const identity = { signKey: `MCowBQYDK2VwAyEA${'B'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'B'.repeat(43)}=` };
  client.frame({ ...ok, friends: [{ username: 'bob', nickname: 'bob', status: 'offline', identity }] });
  return client;
}

describe('offline messages the server turns down', () => {
  /** Logged in with bob (offline, with keys) as a friend; a message to him sealed and sent as mail.send: its request id. */
  function mailSent(client: Client, id: string, ref: number): number {
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id }, ref });
    const seal = client.effects.filter((e) => e.type === 'mail.seal').at(-1) as { ticket: number };
    client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    return client.lastSent('mail.send').id!;
  }

  it('its error names the friend and the message, under the command\'s ref, with the server\'s detail (or its words when it gives none)', () => {
    const client = withKeyedFriend();
    const full = mailSent(client, 'm-1', 111);
    client.frame({ type: 'error', re: full, code: 'MAILBOX_FULL', message: 'mailbox full', detail: 'bob holds 100 messages' });
    const blocked = mailSent(client, 'm-2', 112);
    client.frame({ type: 'error', re: blocked, code: 'BLOCKED', message: 'blocked' });
    expect(client.answersTo(111)).toEqual([{ event: 'error', code: 'MAILBOX_FULL', message: errorMessage('MAILBOX_FULL'), detail: 'bob holds 100 messages', username: 'bob', id: 'm-1' }]);
    expect(client.answersTo(112)).toEqual([{ event: 'error', code: 'BLOCKED', message: errorMessage('BLOCKED'), detail: 'blocked', username: 'bob', id: 'm-2' }]);
  });

  it('a code we do not know is told PEER_ERROR, never passed off as one of ours', () => {
    const client = withKeyedFriend();
    const re = mailSent(client, 'm-3', 113);
    client.frame({ type: 'error', re, code: 'SOMETHING_NEW', message: 'something new' });
    expect(client.answersTo(113)).toEqual([{ event: 'error', code: 'PEER_ERROR', message: errorMessage('PEER_ERROR'), detail: 'something new', username: 'bob', id: 'm-3' }]);
  });
});

describe('the outcome of a chat.open the server answers', () => {
  it('a refusal (session.failed, or an error) is told chat.failed under the command\'s ref', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' }, ref: 161 });
    client.frame({ type: 'session.failed', re: client.lastSent('session.request').id!, username: 'bob', reason: 'not-friends' });
    expect(client.answersTo(161)).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'not-friends' }]);
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'carol' }, ref: 162 });
    client.frame({ type: 'error', re: client.lastSent('session.request').id!, code: 'USER_NOT_FOUND', message: errorMessage('USER_NOT_FOUND') });
    expect(client.answersTo(162)).toEqual([{ event: 'chat.failed', username: 'carol', reason: 'USER_NOT_FOUND' }]);
  });
});

describe('answering a friend\'s session request', () => {
  /** alice (answering by hand) is asked by bob for a session. */
  function asked(): Client {
    const client = new ConfiguredClient({ autoAcceptChat: false }).loggedIn();
    client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
    expect(client.events.at(-1)?.event).toEqual({ event: 'chat.request', from: 'bob', timeoutMs: 30_000 });
    return client;
  }

  it('chat.answer goes to the server with our P2P address when it is yes, without one when it is no', () => {
    const yes = asked();
    yes.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: true } });
    expect(yes.lastSent('session.answer')).toEqual({ type: 'session.answer', id: expect.any(Number), requestId: 'r1', accept: true, host: '127.0.0.1', port: 7001 });
    const no = asked();
    no.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: false } });
    expect(no.lastSent('session.answer')).toEqual({ type: 'session.answer', id: expect.any(Number), requestId: 'r1', accept: false });
  });

  it(`with ${SERVER_REQUESTS_PENDING_MAX} requests awaiting the server: QUEUE_FULL, nothing sent, and the request can be answered once there is room`, () => {
    const client = asked();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) client.input({ type: 'command', command: { cmd: 'friends' } });
    client.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: true }, ref: 121 });
    expect(client.answersTo(121)).toEqual([{ event: 'error', code: 'QUEUE_FULL', message: errorMessage('QUEUE_FULL'), detail: 'too many requests waiting for the server' }]);
    expect(client.sent.filter((f) => f.type === 'session.answer')).toEqual([]);
    const first = client.sent.find((f) => f.type === 'friends.list') as { id: number };
    client.frame({ type: 'friends', re: first.id, friends: [], incoming: [], outgoing: [] });
    client.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: true }, ref: 122 });
    expect(client.sent.filter((f) => f.type === 'session.answer')).toHaveLength(1);
  });

  it('with the link down: SERVER_UNAVAILABLE under its ref, nothing sent', () => {
    const client = asked();
    // The link drops and is not back yet; bob's request is the broker's to keep or end.
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'chat.answer', username: 'bob', accept: true }, ref: 123 });
    expect(client.answersTo(123)).toEqual([{ event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE') }]);
    expect(client.sent.filter((f) => f.type === 'session.answer')).toEqual([]);
  });
});

describe('an offline message the server holds', () => {
  it('is told chat.queued with the friend and the message id', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    const ok = loginOk(client.lastSent('login').id!, 'tok1') as Extract<ServerFrame, { type: 'login.ok' }>;
    const identity = { signKey: `MCowBQYDK2VwAyEA${'B'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'B'.repeat(43)}=` };
    client.frame({ ...ok, friends: [{ username: 'bob', nickname: 'bob', status: 'offline', identity }] });
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id: 'm-9' }, ref: 131 });
    const seal = client.effects.find((e) => e.type === 'mail.seal') as { ticket: number };
    client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    client.frame({ type: 'mail.queued', re: client.lastSent('mail.send').id!, username: 'bob', messageId: 'm-9' } as ServerFrame);
    expect(client.answersTo(131)).toEqual([{ event: 'chat.queued', username: 'bob', id: 'm-9' }]);
  });
});


describe('offline messages in our history, and their bound', () => {
  it('one left with the server is recorded sending before it is sealed (no stored answer asked), marked queued when the server holds it and delivered when it says bob got it', () => {
    // Before: recorded at mail.queued only, so a program killed before it kept nothing of the message.
    const client = withKeyedFriend();
    client.nowMs = 5_000;
    const from = client.effects.length;
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id: 'm-7' }, ref: 141 });
    const history = () => client.effects.slice(from).filter((e) => e.type === 'history.append' || e.type === 'history.mark' || e.type === 'mail.seal').map((e) => e.type);
    expect(history()).toEqual(['history.append', 'mail.seal']);
    const seal = client.effects.find((e) => e.type === 'mail.seal') as { ticket: number };
    client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    client.frame({ type: 'mail.queued', re: client.lastSent('mail.send').id!, username: 'bob', messageId: 'm-7' } as ServerFrame);
    client.frame({ type: 'mail.delivered', username: 'bob', messageId: 'm-7' } as ServerFrame);
    expect(client.effects.slice(from).filter((e) => e.type === 'history.append' || e.type === 'history.mark')).toStrictEqual([
      {
        type: 'history.append',
        account: 'alice',
        entry: { friend: 'bob', id: 'm-7', text: 'for later', atMs: 5_000, direction: 'out', status: 'sending', kind: 'message', from: 'alice' },
        confirm: false,
      },
      { type: 'history.mark', account: 'alice', mark: { friend: 'bob', id: 'm-7', direction: 'out', status: 'queued', through: false } },
      { type: 'history.mark', account: 'alice', mark: { friend: 'bob', id: 'm-7', direction: 'out', status: 'delivered', through: false, receipt: true } },
    ]);
  });

  it('one the server refuses (its error reply) is marked failed and told under its command ref', () => {
    const client = withKeyedFriend();
    client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id: 'm-12' }, ref: 144 });
    const seal = client.effects.find((e) => e.type === 'mail.seal') as { ticket: number };
    client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    const from = client.effects.length;
    client.frame({ type: 'error', re: client.lastSent('mail.send').id!, code: 'MAILBOX_FULL', message: 'full' } as ServerFrame);
    expect(client.effects.slice(from).filter((e) => e.type.startsWith('history.'))).toStrictEqual([
      { type: 'history.mark', account: 'alice', mark: { friend: 'bob', id: 'm-12', direction: 'out', status: 'failed', through: false } },
    ]);
    expect(client.answersTo(144)).toMatchObject([{ event: 'error', code: 'MAILBOX_FULL', username: 'bob', id: 'm-12' }]);
  });

  it('a friendship ended while we are logged in fails what the server held of ours for them (it deleted it)', () => {
    // Before: the server deleted the held mail with the friendship and the history said queued for ever.
    const client = withKeyedFriend();
    const from = client.effects.length;
    client.frame({ type: 'friend.removed', username: 'bob' } as ServerFrame);
    expect(client.effects.slice(from).filter((e) => e.type.startsWith('history.'))).toStrictEqual([{ type: 'history.fail-queued', account: 'alice', friend: 'bob' }]);
  });

  it('at a login, by password or resumed, the friend list is the truth: ours queued for anyone not on it are failed, before any receipt the login brings', () => {
    // Before: a friend who removed us while we were away left what we had queued for them queued
    // for ever (the server deleted it with the friendship, and friend.removed is not held).
    const away = withKeyedFriend();
    const resume = away.resuming();
    const fromAway = away.effects.length;
    away.frame({ ...loginOk(resume, 'tok2'), friends: [{ username: 'carol', nickname: 'carol', status: 'online' }] } as ServerFrame);
    // bob did take one before he removed us: its receipt was held, and comes after the login.ok.
    away.frame({ type: 'mail.delivered', username: 'bob', messageId: 'm-1' } as ServerFrame);
    expect(away.effects.slice(fromAway).filter((e) => e.type.startsWith('history.'))).toStrictEqual([
      { type: 'history.fail-queued-except', account: 'alice', friends: ['carol'] },
      { type: 'history.mark', account: 'alice', mark: { friend: 'bob', id: 'm-1', direction: 'out', status: 'delivered', through: false, receipt: true } },
    ]);
    const byPassword = withFriend();
    expect(byPassword.effects.filter((e) => e.type.startsWith('history.'))).toStrictEqual([{ type: 'history.fail-queued-except', account: 'alice', friends: ['bob'] }]);
  });

  it('ones whose replies the dropped link took are each told SERVER_UNAVAILABLE under their own command\'s ref, or none', () => {
    const client = withKeyedFriend();
    for (const [id, ref] of [['m-10', 151], ['m-11', undefined]] as const) {
      client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id }, ...(ref === undefined ? {} : { ref }) });
      const seal = client.effects.filter((e) => e.type === 'mail.seal').at(-1) as { ticket: number };
      client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    }
    const from = client.events.length;
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    const lost = { code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before it said it holds the offline message', username: 'bob' };
    expect(client.events.slice(from)).toEqual([
      { event: { event: 'error', ...lost, id: 'm-10' }, ref: 151 },
      { event: { event: 'error', ...lost, id: 'm-11' }, ref: undefined },
      { event: { event: 'disconnected' }, ref: undefined },
    ]);
  });

  it(`one sent while ${SERVER_REQUESTS_PENDING_MAX} of the user's requests await the server is not left with it (SERVER_UNAVAILABLE); one fewer, and it goes`, () => {
    const client = withKeyedFriend();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX - 1; i++) client.input({ type: 'command', command: { cmd: 'friends' } });
    const sealNext = (id: string, ref: number): void => {
      client.input({ type: 'command', command: { cmd: 'chat.send', username: 'bob', text: 'for later', id }, ref });
      const seal = client.effects.filter((e) => e.type === 'mail.seal').at(-1) as { ticket: number };
      client.input({ type: 'mail.sealed', ticket: seal.ticket, sealed: 'c2VhbGVk' });
    };
    sealNext('m-8', 142);
    expect(client.answersTo(142)).toEqual([]);
    expect(client.sent.filter((f) => f.type === 'mail.send')).toHaveLength(1);
    client.input({ type: 'command', command: { cmd: 'friends' } });
    sealNext('m-9', 143);
    expect(client.answersTo(143)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the offline message was not left with the server', username: 'bob', id: 'm-9' },
    ]);
    expect(client.sent.filter((f) => f.type === 'mail.send')).toHaveLength(1);
  });
});
