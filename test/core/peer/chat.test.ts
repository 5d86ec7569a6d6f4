/**
 * The chat machine (core/peer/chat.ts) composed by the peer machine, against the real server
 * machine in the in-memory world (peer-world.ts), with each peer's history in the client's own
 * SQLite store (in memory): receipts, typing, history records and their statuses, and sessions
 * that end with the login on both sides.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CHATS_WITHOUT_SESSION_MAX, CHAT_TYPING_INTERVAL_MS, CHAT_UNACKED_MESSAGES_MAX, CONTROL_FRAME_BYTES_MAX, RECONNECT_DELAY_MS_MAX } from '../../../core/limits.ts';
import { type ChatAction, ChatMachine } from '../../../core/peer/chat.ts';
import { TTL_MS, twoFriends } from './peer-world.ts';

function inSession(config = {}) {
  const world = twoFriends(config);
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
  expect(world.eventsOf('bob', 'chat.opened')).toHaveLength(1);
  return world;
}

describe('chat over an open session', () => {
  it('a message is sent, stored by the friend (chat.delivered) and read (chat.read); both histories follow the statuses', () => {
    const world = inSession();
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'hi bob', id: 'm1' });
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'still there?', id: 'm2' });
    expect(world.eventsOf('alice', 'chat.sent')).toEqual([
      { event: 'chat.sent', username: 'bob', id: 'm1' },
      { event: 'chat.sent', username: 'bob', id: 'm2' },
    ]);
    expect(world.eventsOf('alice', 'chat.delivered')).toEqual([
      { event: 'chat.delivered', username: 'bob', id: 'm1' },
      { event: 'chat.delivered', username: 'bob', id: 'm2' },
    ]);
    const alice = world.histories.get('alice')!;
    const bob = world.histories.get('bob')!;
    expect(alice.page('alice', 'bob', 10, null).map((m) => [m.id, m.from, m.direction, m.status])).toEqual([
      ['m1', 'alice', 'out', 'delivered'],
      ['m2', 'alice', 'out', 'delivered'],
    ]);
    expect(bob.page('bob', 'alice', 10, null).map((m) => [m.id, m.from, m.text, m.direction, m.status])).toEqual([
      ['m1', 'alice', 'hi bob', 'in', 'received'],
      ['m2', 'alice', 'still there?', 'in', 'received'],
    ]);
    // Reading the second marks both read, on both sides.
    world.command('bob', { cmd: 'chat.read', username: 'alice', id: 'm2' });
    expect(world.eventsOf('alice', 'chat.read')).toEqual([{ event: 'chat.read', username: 'bob', id: 'm2' }]);
    expect(alice.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['read', 'read']);
    expect(bob.page('bob', 'alice', 10, null).map((m) => m.status)).toEqual(['read', 'read']);
  });

  it('with read receipts off, chat.read marks our own history only: the friend hears nothing', () => {
    const world = twoFriends();
    world.addPeer('carol', 7003, { readReceipts: false });
    world.command('carol', { cmd: 'signup', username: 'carol', password: 'carol-password' });
    world.command('carol', { cmd: 'login', username: 'carol', password: 'carol-password' });
    world.command('alice', { cmd: 'friend.request', username: 'carol' });
    world.command('carol', { cmd: 'friend.accept', username: 'alice' });
    world.command('alice', { cmd: 'chat.open', username: 'carol' });
    world.command('alice', { cmd: 'chat.send', username: 'carol', text: 'read me', id: 7 });
    world.command('carol', { cmd: 'chat.read', username: 'alice', id: 7 });
    expect(world.eventsOf('alice', 'chat.delivered')).toEqual([{ event: 'chat.delivered', username: 'carol', id: 7 }]);
    expect(world.eventsOf('alice', 'chat.read')).toEqual([]);
    expect(world.histories.get('carol')!.page('carol', 'alice', 10, null).map((m) => m.status)).toEqual(['read']);
    expect(world.histories.get('alice')!.page('alice', 'carol', 10, null).map((m) => m.status)).toEqual(['delivered']);
  });

  it('a read receipt given while no session is open waits for the next session', () => {
    const world = inSession();
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'later', id: 'x' });
    world.command('bob', { cmd: 'chat.close', username: 'alice' });
    world.command('bob', { cmd: 'chat.read', username: 'alice', id: 'x' });
    expect(world.eventsOf('alice', 'chat.read')).toEqual([]);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.read')).toEqual([{ event: 'chat.read', username: 'bob', id: 'x' }]);
  });

  it('typing: one indicator per interval goes out, and a friend sending faster is ignored', () => {
    const world = inSession();
    world.command('alice', { cmd: 'chat.typing', username: 'bob' });
    world.command('alice', { cmd: 'chat.typing', username: 'bob' });
    world.advance(CHAT_TYPING_INTERVAL_MS - 1);
    world.command('alice', { cmd: 'chat.typing', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.typing')).toEqual([{ event: 'chat.typing', from: 'alice' }]);
    world.advance(1);
    world.command('alice', { cmd: 'chat.typing', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.typing')).toHaveLength(2);
    // A hostile friend floods typing frames: at most one per half interval reaches the user.
    for (let i = 0; i < 50; i++) world.injectP2p('alice', 'bob', { type: 'typing' });
    expect(world.eventsOf('bob', 'chat.typing')).toHaveLength(2);
    world.advance(CHAT_TYPING_INTERVAL_MS / 2);
    for (let i = 0; i < 50; i++) world.injectP2p('alice', 'bob', { type: 'typing' });
    expect(world.eventsOf('bob', 'chat.typing')).toHaveLength(3);
  });

  it('typing to a friend without a session is dropped, never an error', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.typing', username: 'bob' });
    expect(world.eventsOf('alice', 'error')).toEqual([]);
  });

  it('a message not acknowledged when the session drops is reported undelivered and marked failed', () => {
    const world = inSession();
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'lost', id: 'l1' });
    world.cutP2p('alice', 'bob');
    expect(world.eventsOf('alice', 'error')).toMatchObject([{ code: 'MESSAGE_UNDELIVERED', id: 'l1', username: 'bob' }]);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['failed']);
  });
});

describe('history commands', () => {
  it('history pages back with before, search finds across friends newest first; kept across logout and login', () => {
    const world = inSession();
    for (let i = 1; i <= 5; i++) world.command('alice', { cmd: 'chat.send', username: 'bob', text: `note ${i}`, id: i });
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'A NOTE back', id: 'b1' });
    world.command('alice', { cmd: 'logout' });
    world.command('alice', { cmd: 'login', username: 'alice', password: 'alice-password' });
    world.command('alice', { cmd: 'history', username: 'bob', limit: 3 });
    const [page] = world.eventsOf('alice', 'history');
    expect(page).toMatchObject({ username: 'bob' });
    expect(page?.event === 'history' && page.messages.map((m) => m.id)).toEqual([4, 5, 'b1']);
    world.command('alice', { cmd: 'history', username: 'bob', limit: 3, before: 4 });
    const older = world.eventsOf('alice', 'history')[1];
    expect(older?.event === 'history' && older.messages.map((m) => m.text)).toEqual(['note 1', 'note 2', 'note 3']);
    world.command('alice', { cmd: 'history.search', text: 'note' });
    const found = world.eventsOf('alice', 'history')[2];
    expect(found?.event === 'history' && found.messages.map((m) => m.id)).toEqual(['b1', 5, 4, 3, 2, 1]);
    expect(found).toMatchObject({ text: 'note' });
  });

  it('history before login is NOT_LOGGED_IN (history is kept per account)', () => {
    const world = twoFriends();
    world.addPeer('dave', 7004);
    world.command('dave', { cmd: 'history', username: 'bob' });
    expect(world.eventsOf('dave', 'error')).toMatchObject([{ code: 'NOT_LOGGED_IN' }]);
  });

  it('a file transfer is in history on both sides: offered, then done', () => {
    const world = inSession({ autoAcceptFile: true });
    const bytes = new Uint8Array(1000).fill(7);
    world.sources.set('/src/a.bin', bytes);
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/src/a.bin', name: 'a.bin', size: 1000 }] });
    world.advance(1000);
    expect(world.eventsOf('bob', 'file.received')).toHaveLength(1);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => [m.kind, m.text, m.direction, m.status, m.size])).toEqual([['file', 'a.bin', 'out', 'done', 1000]]);
    expect(world.histories.get('bob')!.page('bob', 'alice', 10, null).map((m) => [m.kind, m.text, m.direction, m.status])).toEqual([['file', 'a.bin', 'in', 'done']]);
  });
});

describe('sessions end with the user', () => {
  it('a timed-out user: the friend closes the P2P chat (offline) when it sees them offline, and messages no longer go through', () => {
    const world = inSession();
    // alice's server link dies and stays dead; her P2P stream to bob stays up.
    world.serverUp = false;
    world.cutServerLink('alice');
    world.advance(TTL_MS + RECONNECT_DELAY_MS_MAX);
    expect(world.eventsOf('bob', 'presence').at(-1)).toEqual({ event: 'presence', username: 'alice', status: 'offline' });
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'offline' }]);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'offline' }]);
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'after the timeout', id: 'late' });
    expect(world.eventsOf('bob', 'chat.message')).toEqual([]);
    // No session, and no server to leave it with either.
    expect(world.eventsOf('alice', 'error').at(-1)).toMatchObject({ code: 'SERVER_UNAVAILABLE', username: 'bob', id: 'late' });
  });

  it('logout closes the chat on both sides with reason offline', () => {
    const world = inSession();
    world.command('bob', { cmd: 'logout' });
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'offline' }]);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'offline' }]);
    expect(world.peers.get('alice')!.openSessions()).toEqual([]);
  });

  it('chat.close still says closed on both sides', () => {
    const world = inSession();
    world.command('alice', { cmd: 'chat.close', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'closed' }]);
  });
});

describe('the chat machine on its own', () => {
  it('a chat frame for a friend without an open chat is a protocol error, and changes nothing', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    chat.frame('bob', 'in:1', { type: 'msg', id: 1, text: 'x' }, 0);
    expect(chat.takeActions()).toEqual([{ type: 'protocol-error', friend: 'bob', frameType: 'msg', state: 'none' }]);
    chat.read('bob', 1);
    chat.takeActions();
    chat.frame('bob', 'in:1', { type: 'msg.ack', id: 1 }, 0);
    expect(chat.takeActions()).toEqual([{ type: 'protocol-error', friend: 'bob', frameType: 'msg.ack', state: 'ExpectSession' }]);
    expect(chat.stateOf('bob')).toBe('ExpectSession');
  });

  it('a late frame from a replaced session is dropped', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    chat.opened('bob', 'in:1');
    chat.opened('bob', 'in:2');
    chat.takeActions();
    chat.frame('bob', 'in:1', { type: 'msg', id: 1, text: 'old stream' }, 0);
    expect(chat.takeActions()).toEqual([]);
  });
});

describe('the chat machine on its own: sending and its ends', () => {
  const open = (readReceipts = true): ChatMachine => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts });
    chat.opened('bob', 's1');
    chat.takeActions();
    return chat;
  };
  const ofType = <T extends ChatAction['type']>(actions: ChatAction[], type: T) => actions.filter((a): a is Extract<ChatAction, { type: T }> => a.type === type);

  it('a friend with no chat is in no state; sending to them is NO_SUCH_PEER with the command id', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    expect(chat.stateOf('bob')).toBeNull();
    chat.send('bob', 'hi', 'x1', 0);
    chat.send('bob', 'hi', undefined, 0);
    expect(chat.takeActions()).toEqual([
      { type: 'error', code: 'NO_SUCH_PEER', username: 'bob', id: 'x1' },
      { type: 'error', code: 'NO_SUCH_PEER', username: 'bob' },
    ]);
  });

  it('a message without an id gets the next generated one; it is recorded as sending and goes out as msg', () => {
    const chat = open();
    chat.send('bob', 'one', undefined, 10);
    chat.send('bob', 'two', undefined, 11);
    const actions = chat.takeActions();
    expect(ofType(actions, 'record')).toEqual([
      { type: 'record', entry: { friend: 'bob', id: 'p-m1', text: 'one', atMs: 10, direction: 'out', status: 'sending', kind: 'message' }, confirm: false },
      { type: 'record', entry: { friend: 'bob', id: 'p-m2', text: 'two', atMs: 11, direction: 'out', status: 'sending', kind: 'message' }, confirm: false },
    ]);
    expect(ofType(actions, 'send').map((a) => a.frame)).toEqual([
      { type: 'msg', id: 'p-m1', text: 'one' },
      { type: 'msg', id: 'p-m2', text: 'two' },
    ]);
    expect(chat.unackedCount('bob')).toBe(2);
    expect(chat.unackedCount('carol')).toBe(0);
  });

  it('an ack takes exactly that message off the unacknowledged list, marks it sent and says chat.sent; an unknown ack does nothing', () => {
    const chat = open();
    chat.send('bob', 'one', 'a', 0);
    chat.send('bob', 'two', 'b', 0);
    chat.takeActions();
    chat.frame('bob', 's1', { type: 'msg.ack', id: 'b' }, 0);
    expect(chat.takeActions()).toEqual([
      { type: 'mark', mark: { friend: 'bob', id: 'b', direction: 'out', status: 'sent', through: false } },
      { type: 'event', event: { event: 'chat.sent', username: 'bob', id: 'b' } },
    ]);
    chat.frame('bob', 's1', { type: 'msg.ack', id: 'zzz' }, 0);
    expect(chat.takeActions()).toEqual([]);
    expect(chat.unackedCount('bob')).toBe(1);
    // Only the one still unacknowledged is reported when the session ends.
    chat.ended('bob', 'closed');
    expect(ofType(chat.takeActions(), 'error').map((a) => a.id)).toEqual(['a']);
  });

  it('a message received is acknowledged, recorded as received (the friend hears msg.stored once stored) and shown', () => {
    const chat = open();
    chat.frame('bob', 's1', { type: 'msg', id: 9, text: 'hello' }, 33);
    expect(chat.takeActions()).toEqual([
      { type: 'send', streamId: 's1', frame: { type: 'msg.ack', id: 9 } },
      { type: 'record', entry: { friend: 'bob', id: 9, text: 'hello', atMs: 33, direction: 'in', status: 'received', kind: 'message' }, confirm: true },
      { type: 'event', event: { event: 'chat.message', from: 'bob', text: 'hello', id: 9 } },
    ]);
    chat.stored('bob', 9);
    expect(chat.takeActions()).toEqual([{ type: 'send', streamId: 's1', frame: { type: 'msg.stored', id: 9 } }]);
    // Stored after the session ended: nobody to tell.
    chat.ended('bob', 'closed');
    chat.takeActions();
    chat.stored('bob', 9);
    expect(chat.takeActions()).toEqual([]);
  });

  it(`at ${CHAT_UNACKED_MESSAGES_MAX} unacknowledged messages the next is QUEUE_FULL`, () => {
    const chat = open();
    for (let i = 0; i < CHAT_UNACKED_MESSAGES_MAX - 1; i++) chat.send('bob', 'x', i, 0);
    chat.takeActions();
    chat.send('bob', 'last that fits', 'fits', 0);
    expect(ofType(chat.takeActions(), 'error')).toEqual([]);
    chat.send('bob', 'one too many', 'full', 0);
    expect(chat.takeActions()).toEqual([{ type: 'error', code: 'QUEUE_FULL', username: 'bob', id: 'full' }]);
  });

  it('a text whose JSON fills the control frame but for the envelope is sent; one byte more is BAD_COMMAND', () => {
    const chat = open();
    const fits = 'x'.repeat(CONTROL_FRAME_BYTES_MAX - 256 - 2);
    chat.send('bob', fits, 'fits', 0);
    expect(ofType(chat.takeActions(), 'error')).toEqual([]);
    chat.send('bob', `${fits}x`, 'long', 0);
    expect(chat.takeActions()).toEqual([{ type: 'error', code: 'BAD_COMMAND', username: 'bob', id: 'long', detail: 'text too long once encoded' }]);
    // Escaping counts: a short text of quotes is twice as long once encoded.
    chat.send('bob', '"'.repeat((CONTROL_FRAME_BYTES_MAX - 256) / 2), 'quotes', 0);
    expect(ofType(chat.takeActions(), 'error').map((a) => a.code)).toEqual(['BAD_COMMAND']);
  });

  it('the end of a session reports each unacknowledged message undelivered and failed, then chat.closed; a replaced session (reason null) says no chat.closed', () => {
    const chat = open();
    chat.send('bob', 'lost', 'l1', 0);
    chat.takeActions();
    chat.ended('bob', null);
    expect(chat.takeActions()).toEqual([
      { type: 'error', code: 'MESSAGE_UNDELIVERED', detail: 'message l1 to bob', username: 'bob', id: 'l1' },
      { type: 'mark', mark: { friend: 'bob', id: 'l1', direction: 'out', status: 'failed', through: false } },
    ]);
    expect(chat.stateOf('bob')).toBeNull();
  });

  it('the end of a session that is not open changes nothing: a read receipt held for the next session stays held', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    // A friend the chat machine never heard of: nothing to end, nothing to say.
    chat.ended('bob', 'closed');
    expect(chat.takeActions()).toEqual([]);
    expect(chat.stateOf('bob')).toBeNull();
    chat.read('bob', 5);
    chat.takeActions();
    chat.ended('bob', 'closed');
    expect(chat.takeActions()).toEqual([]);
    expect(chat.stateOf('bob')).toBe('ExpectSession');
    chat.opened('bob', 's2');
    expect(chat.takeActions()).toEqual([{ type: 'send', streamId: 's2', frame: { type: 'msg.read', id: 5 } }]);
  });

  it('a friend no more: a held read receipt is dropped, and never sent; an open chat is left to its session end', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    chat.read('bob', 5);
    chat.opened('carol', 'c1');
    chat.forget('bob');
    chat.forget('carol');
    expect(chat.stateOf('bob')).toBeNull();
    expect(chat.stateOf('carol')).toBe('Open');
    chat.takeActions();
    chat.opened('bob', 's2');
    expect(chat.takeActions()).toEqual([]);
  });

  it('another account logged in: every held read receipt is dropped and never sent; open chats are left to their session ends', () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    chat.read('bob', 5);
    chat.read('dave', 6);
    chat.opened('carol', 'c1');
    chat.forgetReceipts();
    expect(chat.takeActions().filter((a) => a.type === 'send')).toEqual([]);
    expect([chat.stateOf('bob'), chat.stateOf('dave'), chat.stateOf('carol')]).toEqual([null, null, 'Open']);
    chat.opened('bob', 's2');
    expect(chat.takeActions()).toEqual([]);
  });

  it(`at most ${CHATS_WITHOUT_SESSION_MAX} read receipts wait for a session: past it the oldest is forgotten, open chats untouched`, () => {
    const chat = new ChatMachine({ idPrefix: 'p', readReceipts: true });
    chat.opened('open-friend', 'o1');
    for (let i = 0; i <= CHATS_WITHOUT_SESSION_MAX; i++) chat.read(`friend${i}`, i);
    expect(chat.stateOf('friend0')).toBeNull();
    expect(chat.stateOf('friend1')).toBe('ExpectSession');
    expect(chat.stateOf(`friend${CHATS_WITHOUT_SESSION_MAX}`)).toBe('ExpectSession');
    expect(chat.stateOf('open-friend')).toBe('Open');
  });
});

function sha(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
