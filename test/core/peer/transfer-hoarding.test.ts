/**
 * Transfer slots cannot be hoarded by one friend (docs/SECURITY.md, attack table): the attack is a
 * friend whose offers never move a byte. Before, one friend could hold all TRANSFERS_ACTIVE_MAX
 * slots of a client with such offers, for as long as the link stayed up, and every other friend's
 * offer was refused `busy`. Now one friend holds at most TRANSFERS_IN_PER_PEER_MAX incoming slots,
 * an accepted transfer that does not move fails with `stalled` after TRANSFER_STALL_MS (its
 * temporary file removed), and an offer nobody answers fails the same way after
 * TRANSFER_ANSWER_WAIT_MS.
 */
import { describe, expect, it } from 'vitest';
import { FILES_PER_OFFER_MAX, RECONNECT_DELAY_MS_MAX, TRANSFERS_ACTIVE_MAX, TRANSFERS_IN_PER_PEER_MAX, TRANSFER_ANSWER_WAIT_MS, TRANSFER_STALL_MS } from '../../../core/limits.ts';
import type { PreparedFile } from '../../../core/peer/commands.ts';
import type { PeerConfig } from '../../../core/peer/machine.ts';
import { carolJoins, twoFriends, type World } from './peer-world.ts';

function source(world: World, path: string, bytes: number): PreparedFile {
  world.sources.set(path, new Uint8Array(bytes).fill(7));
  return { path, name: path.slice(path.lastIndexOf('/') + 1), size: bytes };
}

function reasons(world: World, name: string): string[] {
  return world.eventsOf(name, 'file.failed').map((e) => String((e as { reason: string }).reason));
}

/** alice and bob, and carol who is alice's friend too; each pair has a chat open. */
function threeFriends(aliceConfig: Partial<PeerConfig> = {}): World {
  const world = twoFriends(aliceConfig);
  carolJoins(world, 'alice');
  world.command('bob', { cmd: 'chat.open', username: 'alice' });
  world.command('carol', { cmd: 'chat.open', username: 'alice' });
  expect(world.eventsOf('alice', 'chat.opened')).toHaveLength(2);
  return world;
}

/**
 * threeFriends, and dave, a fourth friend with a chat open to alice, while bob and then carol (so
 * bob is the first of two friends at 32) each hold TRANSFERS_IN_PER_PEER_MAX of alice's slots with
 * unanswered offers of files larger than a few frames: every slot is taken.
 */
function slotsHeldByTwo(): World {
  const world = threeFriends();
  // A fourth sign-up from the world's one address: lift the sign-up rate (the links come back by resume).
  world.restartServer({ signupsPerAddressPerHour: 0 });
  world.advance(RECONNECT_DELAY_MS_MAX * 2);
  world.addPeer('dave', 7004);
  world.command('dave', { cmd: 'signup', username: 'dave', password: 'dave-password' });
  world.command('dave', { cmd: 'login', username: 'dave', password: 'dave-password' });
  world.command('dave', { cmd: 'friend.request', username: 'alice' });
  world.command('alice', { cmd: 'friend.accept', username: 'dave' });
  world.command('dave', { cmd: 'chat.open', username: 'alice' });
  for (const sender of ['bob', 'carol']) {
    const files = Array.from({ length: TRANSFERS_IN_PER_PEER_MAX }, (_, i) => source(world, `/${sender}/big-${i}.bin`, 1024 * 1024));
    world.command(sender, { cmd: 'file.send', username: 'alice', files });
  }
  return world;
}

/** bob offers alice as many never-moving files as his client lets him: TRANSFERS_ACTIVE_MAX. */
function hoard(world: World): void {
  for (let batch = 0; batch < TRANSFERS_ACTIVE_MAX / FILES_PER_OFFER_MAX; batch++) {
    const files = Array.from({ length: FILES_PER_OFFER_MAX }, (_, i) => source(world, `/bob/hoard-${batch}-${i}.bin`, 1024));
    world.command('bob', { cmd: 'file.send', username: 'alice', files });
  }
  expect(world.eventsOf('bob', 'file.offered')).toHaveLength(TRANSFERS_ACTIVE_MAX);
}

describe('transfer slots under a hoarding friend', () => {
  it(`one friend's offers take at most TRANSFERS_IN_PER_PEER_MAX (${TRANSFERS_IN_PER_PEER_MAX}) of a client's ${TRANSFERS_ACTIVE_MAX} slots: another friend's file still gets through`, () => {
    const world = threeFriends();
    hoard(world);
    expect(world.eventsOf('alice', 'file.offer').filter((e) => (e as { from: string }).from === 'bob')).toHaveLength(TRANSFERS_IN_PER_PEER_MAX);
    expect(reasons(world, 'alice').filter((r) => r === 'busy')).toHaveLength(TRANSFERS_ACTIVE_MAX - TRANSFERS_IN_PER_PEER_MAX);
    world.command('carol', { cmd: 'file.send', username: 'alice', files: [source(world, '/carol/photo.jpg', 5000)] });
    const offer = world.eventsOf('alice', 'file.offer').find((e) => (e as { from: string }).from === 'carol') as { transferId: string } | undefined;
    expect(offer).toBeDefined();
    world.command('alice', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
    expect(world.eventsOf('alice', 'file.received')).toHaveLength(1);
    expect(world.eventsOf('carol', 'file.sent')).toHaveLength(1);
  });

  it('the friend whose offers are refused busy is told so: each of its files fails busy at its end too', () => {
    const world = threeFriends();
    hoard(world);
    expect(reasons(world, 'bob')).toEqual(Array.from({ length: TRANSFERS_ACTIVE_MAX - TRANSFERS_IN_PER_PEER_MAX }, () => 'busy'));
  });

  it(`with all ${TRANSFERS_ACTIVE_MAX} slots taken by our own uploads, a friend's offer is refused busy; a slot freed takes the next`, () => {
    const world = threeFriends();
    // Half to each friend: neither holds more than TRANSFERS_IN_PER_PEER_MAX of alice's offers.
    for (const friend of ['bob', 'carol']) {
      for (let batch = 0; batch < TRANSFERS_ACTIVE_MAX / 2 / FILES_PER_OFFER_MAX; batch++) {
        const files = Array.from({ length: FILES_PER_OFFER_MAX }, (_, i) => source(world, `/alice/${friend}-${batch}-${i}.bin`, 1024));
        world.command('alice', { cmd: 'file.send', username: friend, files });
      }
    }
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX);
    world.command('carol', { cmd: 'file.send', username: 'alice', files: [source(world, '/carol/first.jpg', 5000)] });
    expect(world.eventsOf('alice', 'file.offer')).toEqual([]);
    expect(reasons(world, 'alice')).toEqual(['busy']);
    const [mine] = world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>;
    world.command('alice', { cmd: 'file.cancel', transferId: mine!.transferId });
    world.command('carol', { cmd: 'file.send', username: 'alice', files: [source(world, '/carol/second.jpg', 5000)] });
    expect(world.eventsOf('alice', 'file.offer')).toMatchObject([{ from: 'carol', name: 'second.jpg' }]);
  });

  it(`two friends holding every slot with ${TRANSFERS_IN_PER_PEER_MAX} unanswered offers each cannot keep a third friend's offer nor our own sends out: the oldest idle offer of the fullest gives way (busy)`, () => {
    const world = slotsHeldByTwo();
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX);
    world.command('dave', { cmd: 'file.send', username: 'alice', files: [source(world, '/dave/photo.jpg', 5000)] });
    const offer = world.eventsOf('alice', 'file.offer').find((e) => (e as { from: string }).from === 'dave') as { transferId: string } | undefined;
    expect(offer).toBeDefined();
    // bob's first offer (the oldest of the fullest) gave way, and bob is told.
    const [bobsFirst] = world.eventsOf('bob', 'file.offered') as Array<{ transferId: string }>;
    expect(world.eventsOf('alice', 'file.failed')).toEqual([{ event: 'file.failed', transferId: bobsFirst!.transferId, reason: 'busy', username: 'bob' }]);
    expect(world.eventsOf('bob', 'file.failed')).toMatchObject([{ transferId: bobsFirst!.transferId, reason: 'busy' }]);
    // Our own file goes too, every slot taken again: carol (now the fullest) gives way.
    world.command('alice', { cmd: 'file.send', username: 'dave', files: [source(world, '/alice/mine.txt', 10)] });
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    expect(world.eventsOf('carol', 'file.failed')).toMatchObject([{ reason: 'busy' }]);
    expect(world.eventsOf('dave', 'file.offer')).toMatchObject([{ from: 'alice', name: 'mine.txt' }]);
    world.command('alice', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
    expect(world.eventsOf('alice', 'file.received')).toHaveLength(1);
  });

  it('our own send of several files with every slot held by idle offers pushes out as many, each from the friend holding the most at that moment', () => {
    const world = threeFriends();
    for (const hoarder of ['bob', 'carol']) {
      const files = Array.from({ length: TRANSFERS_IN_PER_PEER_MAX }, (_, i) => source(world, `/${hoarder}/hoard-${i}.bin`, 1024));
      world.command(hoarder, { cmd: 'file.send', username: 'alice', files });
    }
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/alice/a.txt', 10), source(world, '/alice/b.txt', 10), source(world, '/alice/c.txt', 10)] });
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    // bob (first of two at 32) gives one, then carol (now the fullest) one, then bob again.
    const firstOf = (name: string, n: number): string[] => (world.eventsOf(name, 'file.offered') as Array<{ transferId: string }>).slice(0, n).map((e) => e.transferId);
    expect(world.eventsOf('alice', 'file.failed').map((e) => (e as { transferId: string }).transferId)).toEqual([...firstOf('bob', 1), ...firstOf('carol', 1), ...firstOf('bob', 2).slice(1)]);
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX);
  });

  it('a transfer moving bytes is never pushed out: the idle offers of the friend holding the most idle ones give way', () => {
    const world = slotsHeldByTwo();
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX);
    // alice accepts bob's first file and reads only part of it: it is moving, not idle.
    world.pausedReaders.add('alice');
    const [bobsFirst] = world.eventsOf('alice', 'file.offer') as Array<{ transferId: string }>;
    world.command('alice', { cmd: 'file.answer', transferId: bobsFirst!.transferId, accept: true });
    world.command('dave', { cmd: 'file.send', username: 'alice', files: [source(world, '/dave/photo.jpg', 5000)] });
    world.readSome('alice', 100_000);
    expect(world.eventsOf('alice', 'file.offer').some((e) => (e as { from: string }).from === 'dave')).toBe(true);
    // bob holds 31 idle offers and carol 32: carol's oldest gives way, never bob's moving file.
    const [carolsFirst] = world.eventsOf('carol', 'file.offered') as Array<{ transferId: string }>;
    expect(world.eventsOf('alice', 'file.failed').map((e) => (e as { transferId: string }).transferId)).toEqual([carolsFirst!.transferId]);
  });

  it('an accepted transfer that has not moved a byte is idle like an offer: the oldest of the friend holding the most gives way', () => {
    const world = slotsHeldByTwo();
    // alice accepts bob's first file and reads none of it (what bob sends waits unread): bob still
    // holds 32 idle, as carol does, and bob is the first of the two at 32, so his oldest idle
    // transfer, the accepted one, gives way.
    world.pausedReaders.add('alice');
    const [bobsFirst] = world.eventsOf('alice', 'file.offer') as Array<{ transferId: string }>;
    world.command('alice', { cmd: 'file.answer', transferId: bobsFirst!.transferId, accept: true });
    world.pausedReaders.delete('alice');
    world.command('dave', { cmd: 'file.send', username: 'alice', files: [source(world, '/dave/photo.jpg', 5000)] });
    expect(world.eventsOf('alice', 'file.offer').some((e) => (e as { from: string }).from === 'dave')).toBe(true);
    expect(world.eventsOf('alice', 'file.failed').map((e) => (e as { transferId: string }).transferId)).toEqual([bobsFirst!.transferId]);
  });

  it(`offers nobody answers fail with stalled after TRANSFER_ANSWER_WAIT_MS (${TRANSFER_ANSWER_WAIT_MS} ms), and the slots come back`, () => {
    const world = threeFriends();
    hoard(world);
    world.advance(TRANSFER_ANSWER_WAIT_MS - 1);
    expect(reasons(world, 'alice').filter((r) => r === 'stalled')).toHaveLength(0);
    world.advance(2);
    expect(reasons(world, 'alice').filter((r) => r === 'stalled')).toHaveLength(TRANSFERS_IN_PER_PEER_MAX);
    expect(world.peer('alice').transferCount()).toBe(0);
  });

  it(`an offer the friend never reads fails at the sender after TRANSFER_ANSWER_WAIT_MS, with no word from the friend`, () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    // bob reads nothing: he never sees the offer, and his side arms no wait of its own for it.
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/alice/a.bin', 1024)] });
    world.advance(TRANSFER_ANSWER_WAIT_MS - 1);
    expect(reasons(world, 'alice')).toEqual([]);
    world.advance(2);
    expect(reasons(world, 'alice')).toEqual(['stalled']);
    expect(world.peer('alice').transferCount()).toBe(0);
  });

  it(`an offer our user never answers fails here after TRANSFER_ANSWER_WAIT_MS though the sender's word cannot reach us`, () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/alice/a.bin', 1024)] });
    expect(world.eventsOf('bob', 'file.offer')).toHaveLength(1);
    // From now on bob reads nothing: alice's own file.fail at her deadline never reaches him.
    world.pausedReaders.add('bob');
    world.advance(TRANSFER_ANSWER_WAIT_MS - 1);
    expect(reasons(world, 'bob')).toEqual([]);
    world.advance(2);
    expect(reasons(world, 'bob')).toEqual(['stalled']);
    expect(world.peer('bob').transferCount()).toBe(0);
  });

  it(`a sending transfer that stops moving fails at the sender after TRANSFER_STALL_MS, with no word from the receiver`, () => {
    const world = twoFriends({ autoAcceptFile: true });
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/alice/big.bin', 8 * 1024 * 1024)] });
    world.readSome('bob', 512 * 1024);
    expect(world.eventsOf('bob', 'file.progress').length).toBeGreaterThan(0);
    // Neither reads the other any more: each side's verdict is its own.
    world.pausedReaders.add('alice');
    world.advance(TRANSFER_STALL_MS - 1);
    expect(reasons(world, 'alice')).toEqual([]);
    world.advance(2);
    expect(reasons(world, 'alice')).toEqual(['stalled']);
    expect(world.peer('alice').transferCount()).toBe(0);
  });

  it(`an accepted transfer that never moves a byte fails with stalled after TRANSFER_STALL_MS (${TRANSFER_STALL_MS} ms) on both sides, and the receiver removes its temporary file`, () => {
    const world = threeFriends({ autoAcceptFile: true });
    // bob never reads what alice sends (her file.accept and credit): nothing ever moves.
    world.pausedReaders.add('bob');
    hoard(world);
    const accepted = world.eventsOf('alice', 'file.offer').map((e) => String((e as { transferId: string }).transferId));
    expect(accepted).toHaveLength(TRANSFERS_IN_PER_PEER_MAX);
    world.advance(TRANSFER_STALL_MS - 1);
    expect(reasons(world, 'alice').filter((r) => r === 'stalled')).toHaveLength(0);
    world.advance(2);
    expect(reasons(world, 'alice').filter((r) => r === 'stalled')).toHaveLength(TRANSFERS_IN_PER_PEER_MAX);
    for (const transferId of accepted) expect(world.discarded).toContain(`alice|${transferId}`);
    expect(world.peer('alice').transferCount()).toBe(0);
    // bob hears it once he reads again: his offers end as stalled too, not left waiting.
    world.pausedReaders.delete('bob');
    world.readSome('bob', Number.POSITIVE_INFINITY);
    expect(reasons(world, 'bob').filter((r) => r === 'stalled').length).toBeGreaterThanOrEqual(TRANSFERS_IN_PER_PEER_MAX);
  });

  it('a transfer that keeps moving is never stalled, however long it takes', () => {
    const world = threeFriends({ autoAcceptFile: true });
    world.command('carol', { cmd: 'file.send', username: 'alice', files: [source(world, '/carol/big.bin', 3 * 1024 * 1024)] });
    // A slow reader: a little of the stream each TRANSFER_STALL_MS / 2, far longer than the stall bound in all.
    world.pausedReaders.add('alice');
    for (let round = 0; round < 200 && world.eventsOf('alice', 'file.received').length === 0; round++) {
      world.advance(TRANSFER_STALL_MS / 2);
      world.readSome('alice', 64 * 1024);
    }
    expect(reasons(world, 'alice')).toEqual([]);
    expect(reasons(world, 'carol')).toEqual([]);
    expect(world.eventsOf('alice', 'file.received')).toHaveLength(1);
  });
});
