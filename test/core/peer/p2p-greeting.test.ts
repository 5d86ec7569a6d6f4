/**
 * The P2P channel's greeting rules (core/peer/machine.ts, P2P_FRAME_RULES): what a peer machine
 * answers a stream that says something other than what its state waits for. Before the greeting,
 * anything but the expected frame is refused with an error frame and the stream closes (a stranger
 * learns nothing and holds no slot); on an open session a bad frame is told with an error frame
 * and the session goes on (a friend's buggy frame must not end the chat). In the pure world (real
 * server and peer machines): bob plays the callee of raw streams, alice the caller whose hello bob
 * does not read yet, so a test speaks for bob.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl, encodeData } from '../../../core/codec.ts';
import { errorMessage } from '../../../core/errors.ts';
import { P2P_HELLO_TIMEOUT_MS } from '../../../core/limits.ts';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { aliceAwaitingHelloOk, carolJoins, heldCallerToken, twoFriends, type World } from './peer-world.ts';

/** What `name` sent on its P2P streams from now on (its effects still go to the world). */
function recordSent(world: World, name: string): Array<{ streamId: string; frame: P2pFrame | 'close' | 'reset' }> {
  const sent: Array<{ streamId: string; frame: P2pFrame | 'close' | 'reset' }> = [];
  const machine = world.peer(name);
  const take = machine.takeEffects.bind(machine);
  machine.takeEffects = () => {
    const effects = take();
    for (const effect of effects) {
      if (effect.type === 'p2p.send') sent.push({ streamId: effect.streamId, frame: effect.frame });
      else if (effect.type === 'p2p.close') sent.push({ streamId: effect.streamId, frame: 'close' });
      else if (effect.type === 'p2p.reset') sent.push({ streamId: effect.streamId, frame: 'reset' });
    }
    return effects;
  };
  return sent;
}

/** A stranger's raw stream to bob's P2P port, fed `bytes`: what bob answered on it. */
function rawToBob(world: World, bytes: Uint8Array[]): Array<P2pFrame | 'close' | 'reset'> {
  const bob = world.peer('bob');
  const streamId = `raw:${String(world.nowMs)}`;
  bob.handle({ type: 'p2p.accepted', streamId, remoteAddress: '10.0.0.9', peerKey: null }, world.nowMs);
  const answers: Array<P2pFrame | 'close' | 'reset'> = [];
  for (const piece of bytes) {
    bob.handle({ type: 'p2p.bytes', streamId, bytes: piece }, world.nowMs);
    for (const effect of bob.takeEffects()) {
      if (effect.type === 'p2p.send' && effect.streamId === streamId) answers.push(effect.frame);
      if ((effect.type === 'p2p.close' || effect.type === 'p2p.reset') && effect.streamId === streamId) answers.push(effect.type === 'p2p.close' ? 'close' : 'reset');
    }
  }
  return answers;
}


describe('a stream not greeted yet (callee) is refused and closed', () => {
  it('file data before any hello: BAD_SESSION_TOKEN "data before hello", then the close', () => {
    const world = twoFriends();
    expect(rawToBob(world, [encodeData(1, 0, new Uint8Array([1, 2, 3]))])).toEqual([
      { type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: data before hello` },
      'close',
    ]);
  });

  it('a chat message before any hello: BAD_SESSION_TOKEN "expected hello", then the close', () => {
    const world = twoFriends();
    expect(rawToBob(world, [encodeControl({ type: 'msg', id: 'm1', text: 'hi' })])).toEqual([
      { type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: expected hello` },
      'close',
    ]);
  });

  it('a frame that matches no schema before any hello: BAD_SESSION_TOKEN "expected hello", then the close', () => {
    const world = twoFriends();
    expect(rawToBob(world, [encodeControl({ type: 'hello', username: 42 })])).toEqual([
      { type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: expected hello` },
      'close',
    ]);
  });

  it('bytes that are no frame at all: refused with the decoder\'s own code, then the close, and nothing more is read', () => {
    const world = twoFriends();
    const garbage = new Uint8Array(16).fill(0xff);
    const answers = rawToBob(world, [garbage, encodeControl({ type: 'hello', username: 'alice', token: 'x' })]);
    // 0xff where the protocol version stands: the decoder's BAD_VERSION, not a guess at a bad hello.
    expect(answers).toEqual([{ type: 'error', code: 'BAD_VERSION', message: expect.stringMatching(/^.+: version 255, expected \d+$/) }, 'close']);
  });

  it('a hello that brings no token bob holds is refused, and its stream gives way to the friend\'s real one', () => {
    const world = twoFriends();
    expect(rawToBob(world, [encodeControl({ type: 'hello', username: 'alice', token: 'guessed' })])).toEqual([
      { type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: token refused` },
      'close',
    ]);
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
  });
});

describe('a stream that never says hello', () => {
  it(`is reset after P2P_HELLO_TIMEOUT_MS (${P2P_HELLO_TIMEOUT_MS} ms), and nobody is told (nobody was known)`, () => {
    const world = twoFriends();
    const sent = recordSent(world, 'bob');
    world.input('bob', { type: 'p2p.accepted', streamId: 'in:silent', remoteAddress: '10.0.0.9', peerKey: null });
    const told = world.events.get('bob')!.length;
    world.advance(P2P_HELLO_TIMEOUT_MS - 1);
    expect(sent).toEqual([]);
    world.advance(1);
    expect(sent).toEqual([{ streamId: 'in:silent', frame: 'reset' }]);
    expect(world.events.get('bob')!.length).toBe(told);
  });
});

describe('the caller waiting for hello.ok', () => {
  it('a hello.ok naming someone else than the friend called is refused BAD_FRAME and the chat.open fails unreachable', () => {
    const world = aliceAwaitingHelloOk();
    const sent = recordSent(world, 'alice');
    world.injectP2p('bob', 'alice', { type: 'hello.ok', username: 'mallory' });
    expect(sent.map((s) => s.frame)).toEqual([{ type: 'error', code: 'BAD_FRAME', message: `${errorMessage('BAD_FRAME')}: expected hello.ok` }, 'close']);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'unreachable' }]);
    expect(world.peer('alice').openSessions()).toEqual([]);
  });

  it('anything but hello.ok or an error is refused BAD_FRAME "expected hello.ok"', () => {
    const world = aliceAwaitingHelloOk();
    const sent = recordSent(world, 'alice');
    world.injectP2p('bob', 'alice', { type: 'msg', id: 'm1', text: 'too early' });
    expect(sent.map((s) => s.frame)).toEqual([{ type: 'error', code: 'BAD_FRAME', message: `${errorMessage('BAD_FRAME')}: expected hello.ok` }, 'close']);
    expect(world.eventsOf('alice', 'chat.message')).toEqual([]);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'unreachable' }]);
  });

  it('the callee\'s error instead of hello.ok fails the chat.open with its code as the reason (lower case, dashes), and the stream closes quietly', () => {
    const world = aliceAwaitingHelloOk();
    const sent = recordSent(world, 'alice');
    world.injectP2p('bob', 'alice', { type: 'error', code: 'PEER_KEY_MISMATCH', message: 'not you' });
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'peer-key-mismatch' }]);
    expect(sent.map((s) => s.frame)).toEqual(['close']);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    // The hello timer went with the stream: nothing fails a second time later.
    world.advance(60_000);
    expect(world.eventsOf('alice', 'chat.failed')).toHaveLength(1);
  });

  it(`a callee that never answers the hello: the caller gives up after P2P_HELLO_TIMEOUT_MS (${P2P_HELLO_TIMEOUT_MS} ms), chat.failed timeout, the stream reset`, () => {
    const world = aliceAwaitingHelloOk();
    const sent = recordSent(world, 'alice');
    world.advance(P2P_HELLO_TIMEOUT_MS - 1);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
    world.advance(1);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'bob', reason: 'timeout' }]);
    expect(sent).toContainEqual({ streamId: 'out:1', frame: 'reset' });
  });

  it('a hello.ok from the friend opens the session', () => {
    const world = aliceAwaitingHelloOk();
    world.injectP2p('bob', 'alice', { type: 'hello.ok', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });
});

describe('an open session told of a bad frame goes on', () => {
  function inSession(): World {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    return world;
  }

  it('a frame type nobody knows: UNKNOWN_TYPE back to the friend, and the chat still carries messages', () => {
    const world = inSession();
    world.injectP2p('bob', 'alice', { type: 'file.teleport', transferId: 't' });
    expect(world.eventsOf('bob', 'error')).toEqual([
      { event: 'error', code: 'PEER_ERROR', message: errorMessage('PEER_ERROR'), detail: `from alice: UNKNOWN_TYPE: ${errorMessage('UNKNOWN_TYPE')}` },
    ]);
    world.command('bob', { cmd: 'chat.send', username: 'alice', text: 'still here', id: 1 });
    expect(world.eventsOf('alice', 'chat.message')).toEqual([{ event: 'chat.message', from: 'bob', text: 'still here', id: 1 }]);
  });

  it('a known frame type that breaks its schema: BAD_FRAME back to the friend, session kept', () => {
    const world = inSession();
    world.injectP2p('bob', 'alice', { type: 'msg', text: 42 });
    expect(world.eventsOf('bob', 'error')).toEqual([
      { event: 'error', code: 'PEER_ERROR', message: errorMessage('PEER_ERROR'), detail: `from alice: BAD_FRAME: ${errorMessage('BAD_FRAME')}` },
    ]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    expect(world.peer('bob').openSessions()).toEqual(['alice']);
  });

  it('bytes that are no frame at all end even an open session: the decoder\'s code, then the close', () => {
    const world = inSession();
    const sent = recordSent(world, 'alice');
    world.input('alice', { type: 'p2p.bytes', streamId: 'out:1', bytes: new Uint8Array(16).fill(0xff) });
    expect(sent.map((s) => s.frame)).toEqual([{ type: 'error', code: 'BAD_VERSION', message: expect.any(String) }, 'close']);
    expect(world.peer('alice').openSessions()).toEqual([]);
  });

  it('a frame that is JSON but no object (null, a string) is BAD_FRAME, session kept', () => {
    const world = inSession();
    for (const message of [null, 'just text']) {
      world.peer('alice').handle({ type: 'p2p.bytes', streamId: 'out:1', bytes: encodeControl(message as unknown as object) }, world.nowMs);
    }
    const told = world.peer('alice').takeEffects().filter((e) => e.type === 'p2p.send').map((e) => (e as { frame: unknown }).frame);
    expect(told).toEqual([
      { type: 'error', code: 'BAD_FRAME', message: errorMessage('BAD_FRAME') },
      { type: 'error', code: 'BAD_FRAME', message: errorMessage('BAD_FRAME') },
    ]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
  });

  it('a frame without a type is BAD_FRAME, not UNKNOWN_TYPE', () => {
    const world = inSession();
    world.injectP2p('bob', 'alice', { text: 'no type' });
    expect(world.eventsOf('bob', 'error')).toMatchObject([{ detail: `from alice: BAD_FRAME: ${errorMessage('BAD_FRAME')}` }]);
  });

  it('a second hello on the open session: BAD_FRAME "already greeted", session kept', () => {
    const world = inSession();
    world.injectP2p('bob', 'alice', { type: 'hello', username: 'bob', token: 'again' });
    expect(world.eventsOf('bob', 'error')).toMatchObject([{ code: 'PEER_ERROR', detail: 'from alice: BAD_FRAME: already greeted' }]);
    expect(world.peer('alice').openSessions()).toEqual(['bob']);
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([]);
  });

  it('a bye ends the session with the reason the friend gave, and no bye goes back', () => {
    const world = inSession();
    const sent = recordSent(world, 'alice');
    world.injectP2p('bob', 'alice', { type: 'bye', reason: 'offline' });
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'offline' }]);
    expect(sent.map((s) => s.frame)).toEqual(['close']);
    expect(world.peer('alice').openSessions()).toEqual([]);
  });

  it('a bye without a reason ends the session as closed', () => {
    const world = inSession();
    world.injectP2p('bob', 'alice', { type: 'bye' });
    expect(world.eventsOf('alice', 'chat.closed')).toEqual([{ event: 'chat.closed', username: 'bob', reason: 'closed' }]);
  });
});

describe('the greeting in the order the network gives it', () => {
  it('a hello that overtakes the callee\'s own session.established waits for it, and the session opens once the token comes', () => {
    const world = twoFriends();
    world.holdFrames = { peer: 'bob', type: 'session.established' };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([]);
    expect(world.eventsOf('alice', 'error').concat(world.eventsOf('bob', 'error'))).toEqual([]);
    world.releaseHeld();
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
  });

  it('a hello with the token the callee holds opens the session at once, even while the same caller\'s newer request waits for its token', () => {
    const world = twoFriends();
    // alice's first hello waits unread at bob, who holds its token; she asks again meanwhile, and
    // bob's yes to that second request waits for its own token.
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.holdFrames = { peer: 'bob', type: 'session.established' };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.peer('bob').sessionRequestCount).toBe(1);
    world.pausedReaders.delete('bob');
    world.readSome('bob', 1);
    expect(world.peer('bob').openSessions()).toEqual(['alice']);
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual([]);
  });

  it('a retried chat opens even when its hello overtakes its token while the first attempt\'s unused token is still held', () => {
    const world = twoFriends();
    // alice's first stream drops before bob reads her hello: bob still holds that attempt's token.
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.cutP2p('alice', 'bob');
    const firstAttempt = [{ event: 'chat.failed', username: 'bob', reason: 'unreachable' }];
    expect(world.eventsOf('alice', 'chat.failed')).toEqual(firstAttempt);
    // She asks again at once, and her new hello reaches bob before his copy of the new token.
    world.holdFrames = { peer: 'bob', type: 'session.established' };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.pausedReaders.delete('bob');
    world.readSome('bob', 1);
    // The hello waits for the token it brings: not refused, nor opened on the older token.
    expect(world.eventsOf('alice', 'chat.failed')).toEqual(firstAttempt);
    expect(world.peer('bob').openSessions()).toEqual([]);
    world.releaseHeld();
    expect(world.eventsOf('bob', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
    expect(world.eventsOf('alice', 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'bob' }]);
    // The first attempt's request ended on bob's side when the new token took its place
    // (replaced, once: setup-ends.test.ts), and nothing fails later: no token is left to run out.
    world.advance(2 * P2P_HELLO_TIMEOUT_MS);
    expect(world.eventsOf('alice', 'chat.failed')).toEqual(firstAttempt);
    expect(world.eventsOf('bob', 'chat.failed')).toEqual([{ event: 'chat.failed', username: 'alice', reason: 'replaced', incoming: true }]);
    expect(world.peer('bob').openSessions()).toEqual(['alice']);
  });

  it('a parked hello is not opened by a token for another caller', () => {
    const world = twoFriends();
    carolJoins(world, 'bob');
    world.holdFrames = { peer: 'bob', type: 'session.established' };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('carol', { cmd: 'chat.open', username: 'bob' });
    // bob's two tokens come in the order the server sent them; each opens only its own caller's stream.
    world.releaseHeld();
    expect(world.eventsOf('bob', 'chat.opened').map((e) => (e as { username: string }).username).sort()).toEqual(['alice', 'carol']);
    expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(1);
    expect(world.eventsOf('carol', 'chat.opened')).toHaveLength(1);
  });

  it('a second hello on a stream whose first hello is parked is refused BAD_SESSION_TOKEN', () => {
    const world = twoFriends();
    world.holdFrames = { peer: 'bob', type: 'session.established' };
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    const bob = recordSent(world, 'bob');
    world.injectP2p('alice', 'bob', { type: 'hello', username: 'alice', token: 'again' });
    expect(bob.map((s) => s.frame)).toEqual([{ type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: expected hello` }, 'close']);
  });

  it('a p2p.open the runtime repeats, or one for a stream the machine never opened, sends no second hello', () => {
    const world = aliceAwaitingHelloOk();
    const sent = recordSent(world, 'alice');
    world.input('alice', { type: 'p2p.open', streamId: 'out:1', peerKey: null });
    world.input('alice', { type: 'p2p.open', streamId: 'out:99', peerKey: null });
    expect(sent).toEqual([]);
  });

  it('a callee proving another key than the vouched one: the caller resets the stream, sending nothing on it', () => {
    const world = twoFriends();
    world.presentedKey.set('bob', 'MCowBQYDK2VwAyEAmallorymallorymallorymallorymallorymallorymal=');
    const sent = recordSent(world, 'alice');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(sent).toEqual([{ streamId: 'out:1', frame: 'reset' }]);
    expect(world.eventsOf('alice', 'chat.failed')).toMatchObject([{ reason: 'peer-key-mismatch' }]);
  });
});

describe('several frames in one read', () => {
  function concat(...parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.byteLength;
    }
    return out;
  }

  it('a hello and a message in one read: the session opens and the message is shown', () => {
    const { world, token } = heldCallerToken();
    const bob = world.peer('bob');
    bob.handle({ type: 'p2p.accepted', streamId: 'in:raw', remoteAddress: '127.0.0.1', peerKey: null }, world.nowMs);
    bob.handle({ type: 'p2p.bytes', streamId: 'in:raw', bytes: concat(encodeControl({ type: 'hello', username: 'alice', token }), encodeControl({ type: 'msg', id: 7, text: 'right behind the hello' })) }, world.nowMs);
    const effects = bob.takeEffects();
    const events = effects.flatMap((e) => (e.type === 'event' ? [e.event] : []));
    expect(events).toContainEqual({ event: 'chat.opened', username: 'alice' });
    expect(events).toContainEqual({ event: 'chat.message', from: 'alice', text: 'right behind the hello', id: 7 });
  });

  it('a frame that ends the stream ends the read: what follows it in the same read is dropped', () => {
    const { world, token } = heldCallerToken();
    const bob = world.peer('bob');
    bob.handle({ type: 'p2p.accepted', streamId: 'in:raw', remoteAddress: '127.0.0.1', peerKey: null }, world.nowMs);
    bob.handle({ type: 'p2p.bytes', streamId: 'in:raw', bytes: encodeControl({ type: 'hello', username: 'alice', token }) }, world.nowMs);
    bob.takeEffects();
    bob.handle({ type: 'p2p.bytes', streamId: 'in:raw', bytes: concat(encodeControl({ type: 'bye', reason: 'closed' }), encodeControl({ type: 'msg', id: 8, text: 'after the bye' })) }, world.nowMs);
    const events = bob.takeEffects().flatMap((e) => (e.type === 'event' ? [e.event] : []));
    expect(events).toEqual([{ event: 'chat.closed', username: 'alice', reason: 'closed' }]);
  });

  it('a refused greeting ends the read too: a hello with a bad token and a message behind it', () => {
    const world = twoFriends();
    const answers = rawToBob(world, [concat(encodeControl({ type: 'hello', username: 'alice', token: 'guessed' }), encodeControl({ type: 'msg', id: 9, text: 'x' }))]);
    expect(answers).toEqual([{ type: 'error', code: 'BAD_SESSION_TOKEN', message: `${errorMessage('BAD_SESSION_TOKEN')}: token refused` }, 'close']);
  });
});

describe('a late hello with the token that expired', () => {
  it('is told SESSION_TOKEN_EXPIRED with how long the token lived, but only on the link the server vouched for: another key is PEER_KEY_MISMATCH', () => {
    const { world, token } = heldCallerToken();
    world.advance(P2P_HELLO_TIMEOUT_MS + 1);
    const bob = world.peer('bob');
    const answer = (streamId: string, peerKey: string | null): unknown => {
      bob.handle({ type: 'p2p.accepted', streamId, remoteAddress: '127.0.0.1', peerKey }, world.nowMs);
      bob.handle({ type: 'p2p.bytes', streamId, bytes: encodeControl({ type: 'hello', username: 'alice', token }) }, world.nowMs);
      return bob.takeEffects().find((e) => e.type === 'p2p.send' && e.streamId === streamId);
    };
    expect(answer('in:impostor', 'MCowBQYDK2VwAyEAmallorymallorymallorymallorymallorymallorymal=')).toMatchObject({ frame: { type: 'error', code: 'PEER_KEY_MISMATCH' } });
    expect(answer('in:late', null)).toEqual({
      type: 'p2p.send',
      streamId: 'in:late',
      frame: { type: 'error', code: 'SESSION_TOKEN_EXPIRED', message: `${errorMessage('SESSION_TOKEN_EXPIRED')}: the token expired ${P2P_HELLO_TIMEOUT_MS} ms after it was issued` },
    });
  });
});

