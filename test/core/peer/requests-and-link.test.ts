/**
 * The user's requests to the server and the link they travel on (core/peer/machine.ts, request,
 * onLinkLost, onLinkAction): each request gets exactly one answer, under its command's ref,
 * whatever the link does; quit ends everything the user had open and exits; a frame the server
 * had no business sending is told as UNEXPECTED_FRAME. One peer machine and a server typed by
 * hand (hand-typed-client.ts), or the pure world (peer-world.ts) where friends are needed.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { errorMessage } from '../../../core/errors.ts';
import { LOGIN_RESENDS_MAX, P2P_HELLO_TIMEOUT_MS, QUIT_LOGOUT_WAIT_MS, RECONNECT_DELAY_MS_MAX, SERVER_REQUESTS_PENDING_MAX } from '../../../core/limits.ts';
import { type PeerEffect, PeerMachine } from '../../../core/peer/machine.ts';
import { Client, ConfiguredClient, WELCOME, loginOk } from './hand-typed-client.ts';
import { twoFriends } from './peer-world.ts';

describe('each request to the server is answered once, under its command\'s ref', () => {
  it('a request whose reply the dropped link took: SERVER_UNAVAILABLE naming the command, under its ref, once', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 81 });
    client.input({ type: 'command', command: { cmd: 'friend.request', username: 'bob' }, ref: 82 });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(81)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to friends' },
    ]);
    expect(client.answersTo(82)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to friend.request' },
    ]);
    // The events that follow (disconnected) answer no command.
    expect(client.events.filter((e) => e.event.event === 'disconnected')).toEqual([{ event: { event: 'disconnected' }, ref: undefined }]);
    // A reply that comes after all (it cannot, on a new link) would answer nothing: the requests are forgotten.
    client.untilConnect();
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    client.frame(WELCOME);
    const resumeId = client.lastSent('resume').id!;
    client.frame(loginOk(resumeId, 'tok2'));
    expect(client.answersTo(81)).toHaveLength(1);
    expect(client.answersTo(82)).toHaveLength(1);
  });

  it(`a login the link gave up sending again (its link lost ${LOGIN_RESENDS_MAX + 1} times before the answer): SERVER_UNAVAILABLE naming login, under its ref, once`, () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' }, ref: 86 });
    for (let loss = 1; loss <= LOGIN_RESENDS_MAX; loss++) {
      client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
      expect(client.answersTo(86)).toEqual([]);
      client.untilConnect();
      client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
      client.frame(WELCOME);
    }
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(86)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to login' },
    ]);
  });

  it('a command while no link is up: SERVER_UNAVAILABLE at once, under its ref, and nothing is sent', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    const sent = client.sent.length;
    client.input({ type: 'command', command: { cmd: 'friend.request', username: 'bob' }, ref: 83 });
    expect(client.answersTo(83)).toEqual([{ event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE') }]);
    expect(client.sent.length).toBe(sent);
  });

  it(`at ${SERVER_REQUESTS_PENDING_MAX} requests awaiting their reply the next is QUEUE_FULL and not sent; a reply frees a place`, () => {
    const client = new Client().loggedIn();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) client.input({ type: 'command', command: { cmd: 'friends' } });
    const sent = client.sent.length;
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 84 });
    expect(client.answersTo(84)).toEqual([{ event: 'error', code: 'QUEUE_FULL', message: errorMessage('QUEUE_FULL'), detail: 'too many requests waiting for the server' }]);
    expect(client.sent.length).toBe(sent);
    const first = client.sent.find((f) => f.type === 'friends.list') as { id: number };
    client.frame({ type: 'friends', re: first.id, friends: [], incoming: [], outgoing: [] });
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 85 });
    expect(client.answersTo(85)).toEqual([]);
    expect(client.sent.length).toBe(sent + 1);
  });

  it('sign-up registers our identity keys when we have them, and sends no identity field when we have none', () => {
    const identity = { signKey: `MCowBQYDK2VwAyEA${'A'.repeat(43)}=`, sealKey: `MCowBQYDK2VuAyEA${'A'.repeat(43)}=` };
    const keyed = new ConfiguredClient({ identity }).welcomed();
    keyed.input({ type: 'command', command: { cmd: 'signup', username: 'alice', password: 'alice-password' } });
    expect(keyed.lastSent('signup')).toEqual({ type: 'signup', id: expect.any(Number), username: 'alice', password: 'alice-password', identity });
    const plain = new Client().welcomed();
    plain.input({ type: 'command', command: { cmd: 'signup', username: 'alice', password: 'alice-password' } });
    expect('identity' in plain.lastSent('signup')).toBe(false);
  });

  it('a second start changes nothing: one connection, and ready and the address friends are given are the first listener\'s', () => {
    const client = new Client().welcomed();
    const connects = client.effects.filter((e) => e.type === 'server.connect').length;
    client.input({ type: 'start', p2pHost: '10.9.9.9', p2pPort: 9999 });
    expect(client.effects.filter((e) => e.type === 'server.connect').length).toBe(connects);
    expect(client.events.filter((e) => e.event.event === 'ready').map((e) => e.event)).toEqual([{ event: 'ready', p2pHost: '127.0.0.1', p2pPort: 7001 }]);
    // Friends are still told to connect to the first listener.
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    client.frame(loginOk(client.lastSent('login').id!, 'tok1'));
    client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
    expect(client.lastSent('session.answer')).toMatchObject({ accept: true, host: '127.0.0.1', port: 7001 });
  });

  it('sign-up sends the nickname only when given', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'signup', username: 'alice', password: 'alice-password', nickname: 'Al' } });
    expect(client.lastSent('signup')).toEqual({ type: 'signup', id: expect.any(Number), username: 'alice', password: 'alice-password', nickname: 'Al' });
    client.input({ type: 'command', command: { cmd: 'signup', username: 'alice2', password: 'alice-password' } });
    // No nickname field at all, not one holding undefined.
    expect(client.lastSent('signup')).toStrictEqual({ type: 'signup', id: expect.any(Number), username: 'alice2', password: 'alice-password' });
    client.frame({ type: 'signup.ok', re: client.lastSent('signup').id!, username: 'alice2' });
    expect(client.events.at(-1)?.event).toEqual({ event: 'signup.ok', username: 'alice2' });
  });

  it('a sign-up whose reply the dropped link took: SERVER_UNAVAILABLE naming signup, under its ref', () => {
    const client = new Client().welcomed();
    client.input({ type: 'command', command: { cmd: 'signup', username: 'alice', password: 'alice-password' }, ref: 87 });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(87)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to signup' },
    ]);
  });
});

describe('the shape of what the machine tells its user', () => {
  it('an event answering no command has no ref, and an error with nothing to add has no detail, username or id field', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    const from = client.effects.length;
    // A command with no ref, while no link is up: SERVER_UNAVAILABLE with nothing more to say.
    client.input({ type: 'command', command: { cmd: 'friends' } });
    expect(client.effects.slice(from)).toStrictEqual([
      { type: 'event', event: { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE') } },
    ]);
  });
});

describe('what a machine does on its own', () => {
  it('nothing before it is started: no effect to carry out, no timer', () => {
    const machine = new PeerMachine();
    expect(machine.takeEffects()).toEqual([]);
    expect(machine.nextTimeoutMs()).toBeNull();
  });

  it('an event a timer causes answers no command, even right after a command given with a ref', () => {
    const client = new ConfiguredClient({ autoAcceptChat: false }).loggedIn();
    client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
    // A command that is answered by nothing (an indicator with no session to carry it).
    client.input({ type: 'command', command: { cmd: 'chat.typing', username: 'carol' }, ref: 97 });
    expect(client.answersTo(97)).toEqual([]);
    client.advance(60_000);
    expect(client.events.filter((e) => e.event.event === 'chat.failed')).toEqual([
      { event: { event: 'chat.failed', username: 'bob', reason: 'timeout', incoming: true }, ref: undefined },
    ]);
  });
});

describe('frames the server had no business sending', () => {
  it('a reply in a state that takes none (login.ok while logged in) is told UNEXPECTED_FRAME with the frame and the state', () => {
    const client = new Client().loggedIn();
    client.frame(loginOk(999, 'tok9'));
    expect(client.events.at(-1)?.event).toEqual({ event: 'error', code: 'UNEXPECTED_FRAME', message: errorMessage('UNEXPECTED_FRAME'), detail: 'login.ok from the server in LoggedIn' });
  });

  it('a session frame for a request in a state that takes none (a second session.pending) is told UNEXPECTED_FRAME, naming the request\'s state', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    const re = client.lastSent('session.request').id!;
    const pending = { type: 'session.pending', re, requestId: 'r1', username: 'bob', timeoutMs: 30_000 } as const;
    client.frame(pending);
    client.frame(pending);
    expect(client.events.at(-1)?.event).toEqual({
      event: 'error',
      code: 'UNEXPECTED_FRAME',
      message: errorMessage('UNEXPECTED_FRAME'),
      detail: 'session.pending from the server for a request in ExpectOutcome',
    });
  });
});

describe('quit', () => {
  it('tells each friend in session bye (offline), closes every stream, and exits 0; commands after it are ignored', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    const effects: PeerEffect[] = [];
    const alice = world.peer('alice');
    const take = alice.takeEffects.bind(alice);
    alice.takeEffects = () => {
      const taken = take();
      effects.push(...taken);
      return taken;
    };
    world.command('alice', { cmd: 'quit' });
    expect(world.exits.get('alice')).toBe(0);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'offline' }]);
    expect(effects.filter((e) => e.type === 'p2p.send' && e.frame.type === 'bye')).toEqual([{ type: 'p2p.send', streamId: 'out:1', frame: { type: 'bye', reason: 'offline' } }]);
    expect(effects.at(-1)).toEqual({ type: 'exit', code: 0 });
    const after = effects.length;
    world.command('alice', { cmd: 'friends' });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(effects.length).toBe(after);
  });

  it('a command typed while quit waits for the server\'s logout.ok is ignored', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'quit' }, ref: 91 });
    const sent = client.sent.length;
    const told = client.events.length;
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 92 });
    expect(client.sent.length).toBe(sent);
    expect(client.events.length).toBe(told);
    client.frame({ type: 'logout.ok', re: client.lastSent('logout').id! });
    expect(client.answersTo(91)).toEqual([{ event: 'logout.ok' }]);
    expect(client.effects.at(-1)).toEqual({ type: 'exit', code: 0 });
  });
});

describe('after the exit', () => {
  it('a timer due at the same moment as quit\'s give-up changes nothing: exit is the last effect', () => {
    const client = new Client().loggedIn();
    // bob asks, alice's client says yes by itself, and the server gives her the token bob's hello must bring.
    client.frame({ type: 'session.incoming', requestId: 'r1', from: 'bob', timeoutMs: 30_000 });
    client.frame({ type: 'session.answered', re: client.lastSent('session.answer').id!, requestId: 'r1', accept: true });
    client.frame({ type: 'session.established', requestId: 'r1', username: 'bob', role: 'callee', token: 't1' });
    client.input({ type: 'command', command: { cmd: 'quit' } });
    // The server never answers the logout: quit gives up waiting when the token's wait has run out too.
    client.advance(P2P_HELLO_TIMEOUT_MS + QUIT_LOGOUT_WAIT_MS);
    expect(client.effects.at(-1)).toEqual({ type: 'exit', code: 0 });
    expect(client.events.filter((e) => e.event.event === 'chat.failed')).toEqual([]);
  });
});

describe('quit behind the user\'s own logout', () => {
  it('a link that drops before the logout\'s answer: the logout is told SERVER_UNAVAILABLE naming logout, under its ref, and the client exits', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'logout' }, ref: 93 });
    client.input({ type: 'command', command: { cmd: 'quit' }, ref: 94 });
    expect(client.sent.filter((f) => f.type === 'logout')).toHaveLength(1);
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    expect(client.answersTo(93)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to logout' },
    ]);
    expect(client.effects.at(-1)).toEqual({ type: 'exit', code: 0 });
  });
});

describe('the login taken back after a server restart', () => {
  it('keeps the P2P sessions open: the resume refused, the password logs back in, and the chat never closed', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.restartServer();
    world.advance(2 * RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'after the restart', id: 1 });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([{ event: 'chat.message', from: 'alice', text: 'after the restart', id: 1 }]);
  });
});

describe('a reply and a push in one read', () => {
  it('the reply answers its command\'s ref; the push after it answers none', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'friends' }, ref: 181 });
    const reply = encodeControl({ type: 'friends', re: client.lastSent('friends.list').id!, friends: [], incoming: [], outgoing: [] });
    const push = encodeControl({ type: 'presence', username: 'bob', status: 'online' });
    const both = new Uint8Array(reply.byteLength + push.byteLength);
    both.set(reply, 0);
    both.set(push, reply.byteLength);
    client.input({ type: 'server.bytes', linkId: client.linkId, bytes: both });
    expect(client.answersTo(181)).toEqual([{ event: 'friends', friends: [], pending: [] }]);
    expect(client.events.filter((e) => e.event.event === 'presence')).toEqual([{ event: { event: 'presence', username: 'bob', status: 'online' }, ref: undefined }]);
  });
});

describe('a friends list and the streams not yet greeted', () => {
  it('a session we are setting up as caller (connecting to bob) ends when a friends list no longer names bob', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    client.frame({ type: 'session.pending', re: client.lastSent('session.request').id!, requestId: 's1', username: 'bob', timeoutMs: 30_000 });
    client.frame({ type: 'session.established', requestId: 's1', username: 'bob', role: 'caller', token: 't', host: '127.0.0.1', port: 7002 });
    expect(client.effects).toContainEqual({ type: 'p2p.connect', streamId: 'out:1', host: '127.0.0.1', port: 7002, friend: 'bob', vouchedKey: null });
    client.input({ type: 'command', command: { cmd: 'friends' } });
    client.frame({ type: 'friends', re: client.lastSent('friends.list').id!, friends: [], incoming: [], outgoing: [] });
    expect(client.effects).toContainEqual({ type: 'p2p.reset', streamId: 'out:1' });
    expect(client.events.map((e) => e.event)).toContainEqual({ event: 'chat.failed', username: 'bob', reason: 'not-friends' });
  });

  it('a stream accepted and not yet greeted is left alone by a friends list: nobody is known on it to end anything with', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'p2p.accepted', streamId: 'in:1', remoteAddress: '127.0.0.1', peerKey: null });
    const from = client.effects.length;
    client.input({ type: 'command', command: { cmd: 'friends' } });
    client.frame({ type: 'friends', re: client.lastSent('friends.list').id!, friends: [], incoming: [], outgoing: [] });
    expect(client.effects.slice(from).filter((e) => e.type.startsWith('p2p.'))).toEqual([]);
  });
});

describe('what the machine shows its runtime', () => {
  it('serverLinkComing while a connection is made or its welcome awaited (the runtime holds server commands then), and who is logged in', () => {
    const client = new Client();
    expect(client.machine.serverLinkComing).toBe(false);
    expect(client.machine.linkState).toBe('ExpectStart');
    client.input({ type: 'start', p2pHost: '127.0.0.1', p2pPort: 7001 });
    expect(client.machine.serverLinkComing).toBe(true);
    client.input({ type: 'server.open', linkId: client.linkId, localAddress: '127.0.0.1' });
    expect(client.machine.serverLinkComing).toBe(true);
    client.frame(WELCOME);
    expect(client.machine.serverLinkComing).toBe(false);
    expect(client.machine.linkState).toBe('ExpectLogin');
    expect([client.machine.username, client.machine.loggedIn]).toEqual([null, false]);
    client.input({ type: 'command', command: { cmd: 'login', username: 'alice', password: 'alice-password' } });
    client.frame(loginOk(client.lastSent('login').id!, 'tok1'));
    expect([client.machine.username, client.machine.loggedIn, client.machine.linkState]).toEqual(['alice', true, 'LoggedIn']);
    client.input({ type: 'command', command: { cmd: 'chat.open', username: 'bob' } });
    expect(client.machine.sessionRequestCount).toBe(1);
    expect(client.machine.openSessions()).toEqual([]);
    expect(client.machine.transferCount()).toBe(0);
  });
});

/** The SERVER_UNAVAILABLE error event a command is answered with, saying why. */
function unavailable(detail: string) {
  return { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail };
}

describe('account changes and the login the link takes back', () => {
  it('a password change the server refused is never tried: after a server restart the client logs in once, with the old password', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'account.password', old: 'wrong-password', new: 'alice-new-password' });
    expect(world.eventsOf('alice', 'error')).toMatchObject([{ code: 'BAD_CREDENTIALS' }]);
    const logins: string[] = [];
    const alice = world.peer('alice');
    const take = alice.takeEffects.bind(alice);
    alice.takeEffects = () => {
      const effects = take();
      for (const e of effects) if (e.type === 'server.send' && e.frame.type === 'login') logins.push(e.frame.password);
      return effects;
    };
    world.restartServer();
    world.advance(RECONNECT_DELAY_MS_MAX * 2);
    expect(alice.loggedIn).toBe(true);
    expect(logins).toEqual(['alice-password']);
  });

  it(`a password change turned down QUEUE_FULL (${SERVER_REQUESTS_PENDING_MAX} requests awaiting the server) is never tried either: after a server restart the client logs in with the old password`, () => {
    const client = new Client().loggedIn();
    for (let i = 0; i < SERVER_REQUESTS_PENDING_MAX; i++) client.input({ type: 'command', command: { cmd: 'friends' } });
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 98 });
    expect(client.answersTo(98)).toMatchObject([{ event: 'error', code: 'QUEUE_FULL' }]);
    expect(client.sent.filter((f) => f.type === 'account.password')).toEqual([]);
    // The server restarted: the resume is refused, and the client logs in with the password it holds.
    const resumeId = client.resuming();
    client.frame({ type: 'error', re: resumeId, code: 'BAD_RESUME_TOKEN', message: 'resume token is unknown or expired; log in with the password' });
    expect(client.lastSent('login')).toMatchObject({ username: 'alice', password: 'alice-password' });
    expect(client.answersTo(98)).toHaveLength(1);
  });

  it('a password change whose answer the drop took, settled by the take-back: the old token resuming says it did not happen', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 171 });
    const resumeId = client.resuming();
    expect(client.answersTo(171)).toEqual([]);
    client.frame(loginOk(resumeId, 'tok2'));
    expect(client.answersTo(171)).toEqual([unavailable('the server connection closed before the password was changed: the old password still works; try again')]);
  });

  it('a password change settled by the take-back is answered once: a later drop, take-back and quit say nothing more of it', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 175 });
    client.frame(loginOk(client.resuming(), 'tok2'));
    expect(client.answersTo(175)).toHaveLength(1);
    client.frame(loginOk(client.resuming(), 'tok3'));
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'quit' } });
    expect(client.effects.at(-1)).toEqual({ type: 'exit', code: 0 });
    expect(client.answersTo(175)).toHaveLength(1);
  });

  it('a password change whose answer the drop took, when every password is refused after a server restart: answered SERVER_UNAVAILABLE once, as the login ends, saying neither password logs in', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 172 });
    const resumeId = client.resuming();
    client.frame({ type: 'error', re: resumeId, code: 'BAD_RESUME_TOKEN', message: 'resume token is unknown or expired; log in with the password' });
    for (let i = 0; i < 4 && client.machine.linkState === 'ExpectLoginOk'; i++) {
      client.frame({ type: 'error', re: client.lastSent('login').id!, code: 'BAD_CREDENTIALS', message: errorMessage('BAD_CREDENTIALS') });
    }
    expect(client.machine.linkState).toBe('ExpectLogin');
    // Not "the old password still works": the server has just refused it.
    expect(client.answersTo(172)).toEqual([unavailable('the server connection closed during the password change, and the server refused both the old and the new password afterwards: log in again')]);
  });

  it('a password change whose answer the drop took, then quit: answered SERVER_UNAVAILABLE before the exit, saying it is not known whether it happened', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 173 });
    client.input({ type: 'server.closed', linkId: client.linkId, error: 'ECONNRESET' });
    client.input({ type: 'command', command: { cmd: 'quit' } });
    // Not "the old password still works": the server may have changed it before the drop.
    expect(client.answersTo(173)).toEqual([unavailable('the server connection closed before the password change was answered, and the client quit before it could learn whether it happened: log in with the new password, or the old one if that fails')]);
    expect(client.effects.at(-1)).toEqual({ type: 'exit', code: 0 });
  });

  it('a password change in flight when the server ends the login (logged in elsewhere), then the link drops: answered SERVER_UNAVAILABLE at the drop, there being no login to take back', () => {
    const client = new Client().loggedIn();
    client.input({ type: 'command', command: { cmd: 'account.password', old: 'alice-password', new: 'alice-new-password' }, ref: 174 });
    client.frame({ type: 'error', code: 'LOGGED_IN_ELSEWHERE', message: errorMessage('LOGGED_IN_ELSEWHERE') });
    expect(client.machine.linkState).toBe('ExpectLogin');
    expect(client.answersTo(174)).toEqual([]);
    client.input({ type: 'server.closed', linkId: client.linkId, error: null });
    expect(client.answersTo(174)).toEqual([
      { event: 'error', code: 'SERVER_UNAVAILABLE', message: errorMessage('SERVER_UNAVAILABLE'), detail: 'the server connection closed before the reply to account.password' },
    ]);
  });

  it('a nickname change leaves the resume token alone: a blip after it resumes', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'account.nickname', nickname: 'Alice' });
    const resumes = world.server.stats().resumes;
    world.cutServerLink('alice');
    world.advance(RECONNECT_DELAY_MS_MAX);
    expect(world.server.stats().resumes).toBe(resumes + 1);
    expect(world.eventsOf('alice', 'reconnected')).toHaveLength(1);
  });
});

describe('quit while the server is out of reach', () => {
  it('still tells each friend in session bye (offline) over the session and closes it, then exits 0', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.serverUp = false;
    world.cutServerLink('alice');
    const effects: PeerEffect[] = [];
    const alice = world.peer('alice');
    const take = alice.takeEffects.bind(alice);
    alice.takeEffects = () => {
      const taken = take();
      effects.push(...taken);
      return taken;
    };
    world.command('alice', { cmd: 'quit' });
    expect(world.exits.get('alice')).toBe(0);
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'offline' }]);
    expect(effects).toEqual([
      { type: 'p2p.send', streamId: 'out:1', frame: { type: 'bye', reason: 'offline' } },
      { type: 'p2p.close', streamId: 'out:1' },
      { type: 'exit', code: 0 },
    ]);
  });
});
