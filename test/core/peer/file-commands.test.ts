/**
 * Files at the peer machine's edges (core/peer/machine.ts, "files"): the answers to a file command
 * that cannot be carried out (no session, no such transfer, no slot), the offers a receiver turns
 * down before asking its user (too large, a transfer id or stream already in use), the frames a
 * friend sends about transfers that are not its own, and the outcome of a finished download told
 * again on the next session, since the frame that said it may have been lost. In the pure world
 * (peer-world.ts): real server and peer machines, in memory.
 */
import { describe, expect, it } from 'vitest';
import { FILES_PER_OFFER_MAX, TRANSFERS_ACTIVE_MAX, TRANSFER_OUTCOMES_REMEMBERED_MAX } from '../../../core/limits.ts';
import { errorMessage } from '../../../core/errors.ts';
import type { PreparedFile } from '../../../core/peer/commands.ts';
import type { P2pFrame } from '../../../core/peer/frames.ts';
import { type World, carolJoins, recordEffects, twoFriends } from './peer-world.ts';

function inSession(config: Parameters<typeof twoFriends>[0] = {}): World {
  const world = twoFriends(config);
  world.command('alice', { cmd: 'chat.open', username: 'bob' });
  expect(world.peer('bob').openSessions()).toEqual(['alice']);
  return world;
}

function source(world: World, path: string, bytes: number): PreparedFile {
  world.sources.set(path, new Uint8Array(bytes).fill(7));
  return { path, name: path.slice(path.lastIndexOf('/') + 1), size: bytes };
}

/** The P2P frames `name` sends from now on. */
function recordSent(world: World, name: string): P2pFrame[] {
  const sent: P2pFrame[] = [];
  const machine = world.peer(name);
  const take = machine.takeEffects.bind(machine);
  machine.takeEffects = () => {
    const effects = take();
    for (const effect of effects) if (effect.type === 'p2p.send') sent.push(effect.frame);
    return effects;
  };
  return sent;
}

function commandWithRef(world: World, name: string, command: Parameters<World['command']>[1], ref: number): void {
  world.input(name, { type: 'command', command, ref });
}

describe('file commands that cannot be carried out', () => {
  it('file.send to a friend with no open session: NO_SUCH_PEER naming the friend, nothing offered', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    expect(world.eventsOf('alice', 'error')).toEqual([{ event: 'error', code: 'NO_SUCH_PEER', message: errorMessage('NO_SUCH_PEER'), username: 'bob' }]);
    expect(world.eventsOf('alice', 'file.offered')).toEqual([]);
    expect(world.peer('alice').transferCount()).toBe(0);
  });

  it(`file.send of more files than the ${TRANSFERS_ACTIVE_MAX} transfer slots have left: QUEUE_FULL, none of them offered; exactly filling them is fine`, () => {
    const world = inSession();
    // bob reads nothing: every offer stays unanswered and holds its slot.
    world.pausedReaders.add('bob');
    const file = source(world, '/a.bin', 10);
    const send = (count: number): void => world.command('alice', { cmd: 'file.send', username: 'bob', files: Array.from({ length: count }, () => file) });
    send(32);
    send(TRANSFERS_ACTIVE_MAX - 32 - 1);
    expect(world.eventsOf('alice', 'error')).toEqual([]);
    send(2);
    expect(world.eventsOf('alice', 'error')).toEqual([{ event: 'error', code: 'QUEUE_FULL', message: errorMessage('QUEUE_FULL'), detail: 'too many transfers' }]);
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX - 1);
    send(1);
    expect(world.peer('alice').transferCount()).toBe(TRANSFERS_ACTIVE_MAX);
    send(1);
    expect(world.eventsOf('alice', 'error')).toHaveLength(2);
    expect(world.eventsOf('alice', 'file.offered')).toHaveLength(TRANSFERS_ACTIVE_MAX);
  });

  it('file.answer for a transfer nobody offered, or one already answered: NO_SUCH_TRANSFER with its id and the command ref', () => {
    const world = inSession();
    commandWithRef(world, 'bob', { cmd: 'file.answer', transferId: 'nope', accept: true }, 5);
    const [error] = world.eventsOf('bob', 'error');
    expect(error).toEqual({ event: 'error', code: 'NO_SUCH_TRANSFER', message: errorMessage('NO_SUCH_TRANSFER'), id: 'nope' });
    expect(world.refOf.get(error!)).toBe(5);
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    world.command('bob', { cmd: 'file.answer', transferId: offer!.transferId, accept: false });
    expect(world.eventsOf('alice', 'file.failed')).toMatchObject([{ transferId: offer!.transferId, reason: 'declined' }]);
    world.command('bob', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
    expect(world.eventsOf('bob', 'error').at(-1)).toMatchObject({ code: 'NO_SUCH_TRANSFER', id: offer!.transferId });
  });

  it('file.answer again, yes or no, for a download already under way: NO_SUCH_TRANSFER (it awaits no answer), and the download goes on', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    const transferId = offer!.transferId;
    world.pausedReaders.add('bob');
    world.command('bob', { cmd: 'file.answer', transferId, accept: true });
    world.command('bob', { cmd: 'file.answer', transferId, accept: true });
    world.command('bob', { cmd: 'file.answer', transferId, accept: false });
    const refused = { event: 'error', code: 'NO_SUCH_TRANSFER', message: errorMessage('NO_SUCH_TRANSFER'), id: transferId };
    expect(world.eventsOf('bob', 'error')).toEqual([refused, refused]);
    world.pausedReaders.delete('bob');
    world.readSome('bob', Number.POSITIVE_INFINITY);
    expect(world.eventsOf('bob', 'file.received')).toMatchObject([{ transferId }]);
  });

  it('file.answer yes to an offer still waiting starts the download', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    world.command('bob', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
    expect(world.eventsOf('bob', 'file.received')).toMatchObject([{ transferId: offer!.transferId }]);
    expect(world.eventsOf('alice', 'file.sent')).toMatchObject([{ transferId: offer!.transferId }]);
  });

  it('file.cancel of a transfer nobody has: NO_SUCH_TRANSFER with its id', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.cancel', transferId: 'nope' });
    expect(world.eventsOf('alice', 'error')).toEqual([{ event: 'error', code: 'NO_SUCH_TRANSFER', message: errorMessage('NO_SUCH_TRANSFER'), id: 'nope' }]);
  });

  it('file.cancel by the sender or by the receiver ends the transfer on both sides, cancelled', () => {
    for (const canceller of ['alice', 'bob'] as const) {
      const world = inSession();
      world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
      const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
      world.command(canceller, { cmd: 'file.cancel', transferId: offer!.transferId });
      expect(world.eventsOf(canceller, 'file.failed')).toMatchObject([{ transferId: offer!.transferId, reason: 'cancelled' }]);
      const other = canceller === 'alice' ? 'bob' : 'alice';
      expect(world.eventsOf(other, 'file.failed')).toMatchObject([{ transferId: offer!.transferId }]);
      expect(world.peer('alice').transferCount() + world.peer('bob').transferCount()).toBe(0);
      expect(world.eventsOf(canceller, 'error')).toEqual([]);
    }
  });
});

describe('offers a receiver turns down without asking its user', () => {
  it('a file larger than fileBytesMax: file.failed too-large at both ends, no offer shown; one of exactly fileBytesMax is offered', () => {
    const world = inSession({ fileBytesMax: 100 });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/big.bin', 101)] });
    const [offered] = world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>;
    expect(world.eventsOf('bob', 'file.failed')).toEqual([{ event: 'file.failed', transferId: offered!.transferId, reason: 'too-large', username: 'alice' }]);
    expect(world.eventsOf('bob', 'file.offer')).toEqual([]);
    expect(world.eventsOf('alice', 'file.failed')).toMatchObject([{ transferId: offered!.transferId, reason: 'too-large' }]);
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/fits.bin', 100)] });
    expect(world.eventsOf('bob', 'file.offer')).toMatchObject([{ name: 'fits.bin', size: 100 }]);
  });

  it('an offer reusing a transfer id or a wire stream already in use: file.fail protocol-error, the first transfer untouched', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    const sent = recordSent(world, 'bob');
    world.injectP2p('alice', 'bob', { type: 'file.offer', files: [{ transferId: offer!.transferId, stream: 99, name: 'x.bin', size: 5 }] });
    world.injectP2p('alice', 'bob', { type: 'file.offer', files: [{ transferId: 'fresh-id', stream: 1, name: 'y.bin', size: 5 }] });
    expect(sent).toEqual([
      { type: 'file.fail', transferId: offer!.transferId, reason: 'protocol-error' },
      { type: 'file.fail', transferId: 'fresh-id', reason: 'protocol-error' },
    ]);
    expect(world.eventsOf('bob', 'file.offer')).toHaveLength(1);
    expect(world.peer('bob').transferCount()).toBe(1);
  });

  it('a stream number whose transfer has ended may be offered again (a friend\'s client that restarted counts from 1 again)', () => {
    const world = inSession({ autoAcceptFile: true });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    expect(world.eventsOf('bob', 'file.received')).toHaveLength(1);
    const [first] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    const sent = recordSent(world, 'bob');
    world.injectP2p('alice', 'bob', { type: 'file.offer', files: [{ transferId: 'alice-restarted-1', stream: 1, name: 'again.bin', size: 5 }] });
    expect(sent.filter((f) => f.type === 'file.fail')).toEqual([]);
    expect(world.eventsOf('bob', 'file.offer').map((e) => (e as { transferId: string }).transferId)).toEqual([first!.transferId, 'alice-restarted-1']);
  });

  it('an offer whose id is one of our own outgoing transfers is refused protocol-error', () => {
    const world = inSession();
    world.command('bob', { cmd: 'file.send', username: 'alice', files: [source(world, '/b.bin', 10)] });
    const [mine] = world.eventsOf('bob', 'file.offered') as Array<{ transferId: string }>;
    const sent = recordSent(world, 'bob');
    world.injectP2p('alice', 'bob', { type: 'file.offer', files: [{ transferId: mine!.transferId, stream: 77, name: 'x.bin', size: 5 }] });
    expect(sent).toEqual([{ type: 'file.fail', transferId: mine!.transferId, reason: 'protocol-error' }]);
  });
});

describe('a friend\'s frames about transfers that are not its own', () => {
  it('file.resume of a transfer we never sent it: file.fail no-such-transfer back', () => {
    const world = inSession();
    const sent = recordSent(world, 'alice');
    world.injectP2p('bob', 'alice', { type: 'file.resume', transferId: 'ghost', offset: 0, limit: 10 });
    expect(sent).toEqual([{ type: 'file.fail', transferId: 'ghost', reason: 'no-such-transfer' }]);
  });

  it('a third friend cannot accept, decline, cancel or resume a transfer offered to another', () => {
    const world = inSession();
    world.addPeer('carol', 7003);
    world.command('carol', { cmd: 'signup', username: 'carol', password: 'carol-password' });
    world.command('carol', { cmd: 'login', username: 'carol', password: 'carol-password' });
    world.command('alice', { cmd: 'friend.request', username: 'carol' });
    world.command('carol', { cmd: 'friend.accept', username: 'alice' });
    world.command('carol', { cmd: 'chat.open', username: 'alice' });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offered] = world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>;
    const id = offered!.transferId;
    const sent = recordSent(world, 'alice');
    world.injectP2p('carol', 'alice', { type: 'file.decline', transferId: id });
    world.injectP2p('carol', 'alice', { type: 'file.fail', transferId: id, reason: 'cancelled' });
    world.injectP2p('carol', 'alice', { type: 'file.ok', transferId: id });
    world.injectP2p('carol', 'alice', { type: 'file.credit', transferId: id, limit: 10 });
    world.injectP2p('carol', 'alice', { type: 'file.resume', transferId: id, offset: 0, limit: 10 });
    expect(sent).toEqual([{ type: 'file.fail', transferId: id, reason: 'no-such-transfer' }]);
    expect(world.eventsOf('alice', 'file.failed')).toEqual([]);
    // bob's answer still counts.
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    world.command('bob', { cmd: 'file.answer', transferId: offer!.transferId, accept: true });
    expect(world.eventsOf('alice', 'file.sent')).toMatchObject([{ transferId: id }]);
  });
  it('a third friend cannot end or fail a download another friend offered', () => {
    const world = inSession();
    carolJoins(world, 'alice');
    world.command('carol', { cmd: 'chat.open', username: 'alice' });
    world.command('bob', { cmd: 'file.send', username: 'alice', files: [source(world, '/b.bin', 10)] });
    const [offer] = world.eventsOf('alice', 'file.offer') as Array<{ transferId: string }>;
    const id = offer!.transferId;
    world.injectP2p('carol', 'alice', { type: 'file.end', transferId: id, sha256: '0'.repeat(64) });
    world.injectP2p('carol', 'alice', { type: 'file.fail', transferId: id, reason: 'cancelled' });
    expect(world.eventsOf('alice', 'file.failed')).toEqual([]);
    world.command('alice', { cmd: 'file.answer', transferId: id, accept: true });
    expect(world.eventsOf('alice', 'file.received')).toMatchObject([{ transferId: id }]);
    expect(world.eventsOf('bob', 'file.sent')).toMatchObject([{ transferId: id }]);
  });
});

describe('the outcome of a finished download is told again on the next session', () => {
  it('the receiver repeats file.ok when a new session with the sender opens (the first may have been lost)', () => {
    const world = inSession({ autoAcceptFile: true });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [received] = world.eventsOf('bob', 'file.received') as Array<{ transferId: string }>;
    expect(received).toBeDefined();
    world.cutP2p('alice', 'bob');
    const sent = recordSent(world, 'bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(sent).toContainEqual({ type: 'file.ok', transferId: received!.transferId });
    // Only to that sender: a session with another friend hears nothing of it.
    expect(sent.filter((f) => f.type === 'file.ok')).toHaveLength(1);
  });

  it(`at most ${TRANSFER_OUTCOMES_REMEMBERED_MAX} outcomes are kept: the oldest is forgotten first`, () => {
    const world = inSession({ autoAcceptFile: true });
    const file = source(world, '/a.bin', 1);
    for (let sent = 0; sent <= TRANSFER_OUTCOMES_REMEMBERED_MAX; sent += 32) {
      const count = Math.min(32, TRANSFER_OUTCOMES_REMEMBERED_MAX + 1 - sent);
      world.command('alice', { cmd: 'file.send', username: 'bob', files: Array.from({ length: count }, () => file) });
    }
    const received = (world.eventsOf('bob', 'file.received') as Array<{ transferId: string }>).map((e) => e.transferId);
    expect(received).toHaveLength(TRANSFER_OUTCOMES_REMEMBERED_MAX + 1);
    world.cutP2p('alice', 'bob');
    const sent = recordSent(world, 'bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    const repeated = sent.filter((f) => f.type === 'file.ok').map((f) => (f as { transferId: string }).transferId);
    expect(repeated).toEqual(received.slice(1));
  });
});

describe('the outcomes kept are the latest decided', () => {
  it('an outcome decided again under an id a friend reused counts as the newest: the older ones are forgotten before it', () => {
    const world = inSession();
    const file = source(world, '/a.bin', 1);
    /** alice offers `count` files and bob declines each: one outcome (file.fail declined) remembered per file. */
    const declineFiles = (count: number): string[] => {
      const ids: string[] = [];
      for (let sent = 0; sent < count; sent += FILES_PER_OFFER_MAX) {
        const before = world.eventsOf('bob', 'file.offer').length;
        const length = Math.min(FILES_PER_OFFER_MAX, count - sent);
        world.command('alice', { cmd: 'file.send', username: 'bob', files: Array.from({ length }, () => file) });
        for (const offer of world.eventsOf('bob', 'file.offer').slice(before) as Array<{ transferId: string }>) {
          world.command('bob', { cmd: 'file.answer', transferId: offer.transferId, accept: false });
          ids.push(offer.transferId);
        }
      }
      return ids;
    };
    const [first, second] = declineFiles(TRANSFER_OUTCOMES_REMEMBERED_MAX);
    // alice's client offers the first id again (a client reusing ids); bob declines it again.
    world.injectP2p('alice', 'bob', { type: 'file.offer', files: [{ transferId: first!, stream: 9999, name: 'again.bin', size: 1 }] });
    world.command('bob', { cmd: 'file.answer', transferId: first!, accept: false });
    declineFiles(1);
    world.cutP2p('alice', 'bob');
    const sent = recordSent(world, 'bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    const repeated = sent.filter((f) => f.type === 'file.fail').map((f) => (f as { transferId: string }).transferId);
    expect(repeated).toHaveLength(TRANSFER_OUTCOMES_REMEMBERED_MAX);
    expect(repeated).not.toContain(second);
    expect(repeated.slice(-2, -1)).toEqual([first]);
  });
});

describe('transfers end with the session they run on', () => {
  it('and only with it: a session with carol lost, or closed, leaves the uploads and downloads with bob running', () => {
    for (const end of ['lost', 'closed'] as const) {
      const world = inSession();
      carolJoins(world, 'alice');
      world.command('carol', { cmd: 'chat.open', username: 'alice' });
      // Both files wait on their sender's slow disk, accepted, when carol's session ends.
      world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
      world.command('bob', { cmd: 'file.send', username: 'alice', files: [source(world, '/b.bin', 20)] });
      const [up] = world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>;
      const [down] = world.eventsOf('bob', 'file.offered') as Array<{ transferId: string }>;
      world.slowDisk.add(up!.transferId);
      world.slowDisk.add(down!.transferId);
      world.command('bob', { cmd: 'file.answer', transferId: up!.transferId, accept: true });
      world.command('alice', { cmd: 'file.answer', transferId: down!.transferId, accept: true });
      expect(world.heldReads).toHaveLength(2);
      if (end === 'lost') world.cutP2p('alice', 'carol');
      else world.command('alice', { cmd: 'chat.close', username: 'carol' });
      expect(world.peer('alice').openSessions()).toEqual(['bob']);
      world.releaseReads();
      expect(world.eventsOf('bob', 'file.received')).toMatchObject([{ transferId: up!.transferId, size: 10 }]);
      expect(world.eventsOf('alice', 'file.received')).toMatchObject([{ transferId: down!.transferId, size: 20 }]);
      expect(world.eventsOf('alice', 'file.failed')).toEqual([]);
    }
  });

  it('an upload cancelled while its friend is away is told to no stream meanwhile; the friend, resuming, hears no-such-transfer', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('alice', 'file.offered') as Array<{ transferId: string }>;
    const id = offer!.transferId;
    world.slowDisk.add(id);
    world.command('bob', { cmd: 'file.answer', transferId: id, accept: true });
    world.cutP2p('alice', 'bob');
    const effects = recordEffects(world, 'alice');
    world.command('alice', { cmd: 'file.cancel', transferId: id });
    expect(world.eventsOf('alice', 'file.failed')).toEqual([{ event: 'file.failed', transferId: id, reason: 'cancelled', username: 'bob' }]);
    expect(effects.filter((e) => e.type === 'p2p.send' || e.type === 'p2p.data')).toEqual([]);
    world.releaseReads();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    expect(world.eventsOf('bob', 'file.failed')).toMatchObject([{ transferId: id }]);
  });

  it('chat.close during a transfer fails it session-closed on both sides, and nothing waits for a resume', () => {
    const world = inSession();
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    const [offer] = world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>;
    world.command('alice', { cmd: 'chat.close', username: 'bob' });
    expect(world.eventsOf('alice', 'file.failed')).toEqual([{ event: 'file.failed', transferId: offer!.transferId, reason: 'session-closed', username: 'bob' }]);
    expect(world.eventsOf('bob', 'file.failed')).toMatchObject([{ transferId: offer!.transferId, reason: 'session-closed' }]);
    expect(world.peer('alice').transferCount() + world.peer('bob').transferCount()).toBe(0);
  });

  it('a session closed, by either side, while several uploads are being sent fails every one of them session-closed on both sides', () => {
    for (const closer of ['alice', 'bob'] as const) {
      const world = inSession();
      world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10), source(world, '/b.bin', 20)] });
      const ids = (world.eventsOf('bob', 'file.offer') as Array<{ transferId: string }>).map((o) => o.transferId).sort();
      // Both uploads accepted and sending, their reads waiting on alice's slow disk.
      for (const id of ids) world.slowDisk.add(id);
      for (const id of ids) world.command('bob', { cmd: 'file.answer', transferId: id, accept: true });
      expect(world.heldReads).toHaveLength(2);
      world.command(closer, { cmd: 'chat.close', username: closer === 'alice' ? 'bob' : 'alice' });
      for (const name of ['alice', 'bob']) {
        const failed = world.eventsOf(name, 'file.failed') as Array<{ transferId: string; reason: string }>;
        expect(failed.map((e) => [e.transferId, e.reason]).sort()).toEqual(ids.map((id) => [id, 'session-closed']));
      }
      expect(world.peer('alice').transferCount() + world.peer('bob').transferCount()).toBe(0);
      world.releaseReads();
      expect(world.eventsOf('bob', 'file.received')).toEqual([]);
    }
  });
});

describe('a friendship that ends takes its remembered outcomes with it', () => {
  it('after an unfriending and a new friendship, the old download\'s outcome is not told again; another friend\'s still is', () => {
    const world = inSession({ autoAcceptFile: true });
    world.addPeer('carol', 7003, { autoAcceptFile: true });
    world.command('carol', { cmd: 'signup', username: 'carol', password: 'carol-password' });
    world.command('carol', { cmd: 'login', username: 'carol', password: 'carol-password' });
    world.command('carol', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'friend.accept', username: 'carol' });
    world.command('carol', { cmd: 'chat.open', username: 'bob' });
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    world.command('carol', { cmd: 'file.send', username: 'bob', files: [source(world, '/c.bin', 10)] });
    const received = (world.eventsOf('bob', 'file.received') as Array<{ transferId: string }>).map((e) => e.transferId);
    expect(received).toHaveLength(2);
    world.command('alice', { cmd: 'friend.remove', username: 'bob' });
    world.command('alice', { cmd: 'friend.request', username: 'bob' });
    world.command('bob', { cmd: 'friend.accept', username: 'alice' });
    world.cutP2p('carol', 'bob');
    const sent = recordSent(world, 'bob');
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.command('carol', { cmd: 'chat.open', username: 'bob' });
    expect(sent.filter((f) => f.type === 'file.ok')).toEqual([{ type: 'file.ok', transferId: received[1] }]);
  });
});


describe('a file in history is not a chat message', () => {
  it('its record asks the store for no stored answer: neither side hears chat.delivered for a file', () => {
    const world = inSession({ autoAcceptFile: true });
    const aliceEffects = recordEffects(world, 'alice');
    const bobEffects = recordEffects(world, 'bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [source(world, '/a.bin', 10)] });
    expect(world.eventsOf('bob', 'file.received')).toHaveLength(1);
    const appends = [...aliceEffects, ...bobEffects].filter((e) => e.type === 'history.append');
    expect(appends.map((e) => e.type === 'history.append' && [e.entry.kind, e.confirm])).toEqual([['file', false], ['file', false]]);
    expect(world.eventsOf('alice', 'chat.delivered')).toEqual([]);
    expect(world.eventsOf('bob', 'chat.delivered')).toEqual([]);
  });
});
