/**
 * A stream accepted on the P2P port is held to small frames until its hello is accepted
 * (P2P_HELLO_FRAME_BYTES_MAX): before, a stranger's first frame could be 512 KiB, parsed as JSON
 * before it was refused, on a fresh connection each time, from anyone who can reach the port.
 * Once the friend's hello is accepted, frames up to FRAME_BYTES_MAX pass again.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import { P2P_HELLO_FRAME_BYTES_MAX, TEXT_MESSAGE_CHARS_MAX, TOKEN_CHARS_MAX, USERNAME_CHARS_MAX } from '../../../core/limits.ts';
import { FRAME_HEADER_BYTES } from '../../../core/codec.ts';
import { recordEffects, twoFriends } from './peer-world.ts';

describe('frames before the hello', () => {
  it(`a stranger's first frame past ${P2P_HELLO_FRAME_BYTES_MAX} bytes is refused FRAME_TOO_LARGE from its header, and the stream closed`, () => {
    const world = twoFriends();
    const effects = recordEffects(world, 'bob');
    world.input('bob', { type: 'p2p.accepted', streamId: 'stranger', remoteAddress: '10.0.0.9', peerKey: null });
    const frame = encodeControl({ type: 'hello', username: 'alice', token: 'x'.repeat(P2P_HELLO_FRAME_BYTES_MAX) });
    // The header alone is enough to refuse it: the payload is never buffered nor parsed.
    world.input('bob', { type: 'p2p.bytes', streamId: 'stranger', bytes: frame.subarray(0, FRAME_HEADER_BYTES) });
    const sent = effects.filter((e) => e.type === 'p2p.send' && e.streamId === 'stranger').map((e) => (e as { frame: { code?: string } }).frame.code);
    expect(sent).toEqual(['FRAME_TOO_LARGE']);
    expect(effects.some((e) => e.type === 'p2p.close' && e.streamId === 'stranger')).toBe(true);
  });

  it('the largest hello there can be (every character escaped) fits', () => {
    const escaped = '\u0001';
    const hello = encodeControl({ type: 'hello', username: escaped.repeat(USERNAME_CHARS_MAX * 4), token: escaped.repeat(TOKEN_CHARS_MAX) });
    expect(hello.byteLength - FRAME_HEADER_BYTES).toBeLessThanOrEqual(P2P_HELLO_FRAME_BYTES_MAX);
  });

  it("once the friend's hello is accepted, a message of the largest size passes", () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'chat.opened')).toHaveLength(1);
    const text = '\u4e2d'.repeat(TEXT_MESSAGE_CHARS_MAX);
    world.injectP2p('alice', 'bob', { type: 'msg', id: 1, text });
    expect(world.eventsOf('bob', 'chat.message')).toMatchObject([{ from: 'alice', text }]);
  });
});
