/**
 * PeerHost (core/peer/host.ts) at the edges of its ports: a host given no hooks and a sink with
 * onEvent only, a file port failing at each step of a download, a listener that cannot listen, a
 * stop before any listen, the writeTogether hook, a stranger holding P2P streams open without a
 * hello, and the keys proved in P2P handshakes. Same rig as peer-host.test.ts: the in-memory
 * network and virtual clock.
 */
import { describe, expect, it } from 'vitest';
import { P2P_UNAUTHENTICATED_STREAMS_MAX } from '../../../core/limits.ts';
import { PeerHost } from '../../../core/peer/host.ts';
import { PeerMachine } from '../../../core/peer/machine.ts';
import type { Listener, Stream, Transport } from '../../../core/transport.ts';
import { SERVER_ADDRESS, SERVER_PORT } from '../../../sim/world/server-node.ts';
import { simIdentityOf } from '../../../sim/world/sim-sealer.ts';
import { MemoryFiles, P2P_PORT, Rig, fileOf } from './host-rig.ts';

const failing = (e: { event: string }): boolean => e.event === 'file.sent' || e.event === 'file.failed';
const received = (e: { event: string }): boolean => e.event === 'file.received' || e.event === 'file.failed';

describe('PeerHost without optional hooks', () => {
  it('a host given no hooks and a sink with onEvent only does all the rest: sessions, failed reads and writes, a throwing history, a reset, quit', () => {
    const rig = new Rig();
    rig.hooksOf = () => undefined;
    rig.eventsOnly.add('alice');
    rig.eventsOnly.add('bob');
    const throwing = {
      append: () => {
        throw new Error('disk full');
      },
      mark: () => undefined,
      page: () => [],
      search: () => [],
      failQueued: () => undefined,
      failQueuedExcept: () => undefined, friendshipsSeen: () => undefined,
    };
    const { alice, bob } = rig.friendsInSession({ alice: throwing });
    const bobFrom = bob.events.length;
    rig.command(alice, { cmd: 'chat.send', username: 'bob', text: 'kept nowhere' }, (e) => e.event === 'chat.sent');
    rig.waitFor(bob, (e) => e.event === 'chat.message', bobFrom);
    // A read that fails, a digest that fails, a write that fails: each transfer fails, nothing throws.
    expect(rig.command(alice, { cmd: 'file.send', username: 'bob', files: [{ path: '/src/gone.bin', name: 'gone.bin', size: 10 }] }, failing)).toMatchObject({ event: 'file.failed' });
    alice.files.failDigest = true;
    expect(rig.command(alice, { cmd: 'file.send', username: 'bob', files: [fileOf(alice.files, 'a.bin', 5_000)] }, failing)).toMatchObject({ event: 'file.failed' });
    alice.files.failDigest = false;
    bob.files.failWrites = true;
    expect(rig.command(alice, { cmd: 'file.send', username: 'bob', files: [fileOf(alice.files, 'b.bin', 5_000)] }, failing)).toMatchObject({ event: 'file.failed' });
    // The P2P stream closes on both sides, then the server link drops and comes back.
    const bobClosed = bob.events.length;
    rig.command(alice, { cmd: 'chat.close', username: 'bob' }, (e) => e.event === 'chat.closed');
    rig.waitFor(bob, (e) => e.event === 'chat.closed', bobClosed);
    const aliceFrom = alice.events.length;
    rig.network.resetNode('10.0.0.1');
    rig.waitFor(alice, (e) => e.event === 'reconnected', aliceFrom);
    // quit without onExit: the host still stops.
    alice.host.input({ type: 'command', command: { cmd: 'quit' } });
    for (let i = 0; i < 100 && !alice.host.stopped; i++) rig.clock.runUntil(rig.clock.nowMs() + 10);
    expect(alice.host.stopped).toBe(true);
  });
});

describe('PeerHost and a file port failing a download', () => {
  it('a download whose temporary file cannot be opened, made durable or moved into place fails on both sides, noted file.io.failed; nothing is committed', () => {
    const rig = new Rig();
    const { alice, bob } = rig.friendsInSession();
    for (const step of ['failOpen', 'failFinish', 'failCommit'] as const) {
      bob.files[step] = true;
      const bobFrom = bob.events.length;
      const notesFrom = bob.notes.length;
      const sent = rig.command(alice, { cmd: 'file.send', username: 'bob', files: [fileOf(alice.files, `${step}.bin`, 5_000)] }, failing);
      expect(sent, step).toMatchObject({ event: 'file.failed' });
      expect(rig.waitFor(bob, received, bobFrom), step).toMatchObject({ event: 'file.failed' });
      expect(bob.notes.slice(notesFrom).map((n) => n.event), step).toContain('file.io.failed');
      bob.files[step] = false;
    }
    expect(bob.files.committed.size).toBe(0);
  });
});

describe('PeerHost listening and stopping', () => {
  it('a listener that cannot listen: only onReady hears of it; the machine is not started and the host has no port', () => {
    const rig = new Rig();
    const refused: Transport = {
      listen: (_host, _port, _onAccept, onReady) => onReady(new Error('EADDRINUSE')),
      connect: () => {
        throw new Error('never connects: never started');
      },
    };
    const files = new MemoryFiles(rig.clock);
    const events: string[] = [];
    const host = new PeerHost({
      machine: new PeerMachine({ serverHost: SERVER_ADDRESS, serverPort: SERVER_PORT, idPrefix: 'x' }),
      transport: refused,
      clock: rig.clock,
      files,
      sink: { onEvent: (event) => events.push(event.event) },
    });
    const results: Array<Listener | Error> = [];
    host.listen('10.0.0.9', P2P_PORT, (result) => results.push(result));
    rig.clock.runUntil(rig.clock.nowMs() + 1_000);
    expect(results).toEqual([new Error('EADDRINUSE')]);
    expect(events).toEqual([]);
    expect(host.p2pPort).toBe(0);
  });

  it('a host that never listened can stop, and abort, like any other', () => {
    const rig = new Rig();
    const files = new MemoryFiles(rig.clock);
    const host = new PeerHost({
      machine: new PeerMachine({ serverHost: SERVER_ADDRESS, serverPort: SERVER_PORT, idPrefix: 'x' }),
      transport: rig.network.transport('10.0.0.9'),
      clock: rig.clock,
      files,
      sink: { onEvent: () => undefined },
    });
    host.stop();
    host.abort();
    expect(host.stopped).toBe(true);
    expect(files.calls).toEqual(['closeAll']);
  });
});

describe('PeerHost writing data', () => {
  it('with a writeTogether hook, every data frame (header and chunk) is written inside it, on its stream', () => {
    const rig = new Rig();
    const together: Stream[] = [];
    rig.hooksOf = (name, hooks) =>
      name !== 'alice'
        ? hooks
        : {
            ...hooks,
            writeTogether: (stream, writes) => {
              together.push(stream);
              writes();
            },
          };
    const { alice, bob } = rig.friendsInSession();
    const file = fileOf(alice.files, 'together.bin', 300_000);
    expect(rig.command(alice, { cmd: 'file.send', username: 'bob', files: [file] }, failing)).toMatchObject({ event: 'file.sent', sha256: file.sha256 });
    expect(rig.waitFor(bob, received)).toMatchObject({ event: 'file.received', sha256: file.sha256 });
    // One call per chunk, all on the one P2P stream (never the server's).
    expect(together.length).toBe(alice.files.answered.length);
    expect(new Set(together).size).toBe(1);
  });
});

describe('PeerHost and streams that never say hello', () => {
  it(`past ${P2P_UNAUTHENTICATED_STREAMS_MAX} streams without a hello, the host resets the next one at once`, () => {
    const rig = new Rig();
    const { bob } = rig.friendsInSession();
    const stranger = rig.network.transport('10.0.0.66');
    const closed: Array<string | null> = [];
    for (let i = 0; i <= P2P_UNAUTHENTICATED_STREAMS_MAX; i++) {
      stranger.connect('10.0.0.2', P2P_PORT, { onOpen: () => undefined, onData: () => undefined, onDrain: () => undefined, onClose: (error) => closed.push(error) });
    }
    rig.clock.runUntil(rig.clock.nowMs() + 100);
    expect(closed).toHaveLength(1);
    expect(bob.notes.filter((n) => n.event === 'p2p.accepted')).toHaveLength(P2P_UNAUTHENTICATED_STREAMS_MAX + 2);
  });
});

describe('PeerHost telling the machine what the transport knows', () => {
  it('the key each side proved in the P2P handshake reaches the machine: friends whose proved keys are the ones the server vouched for open a session', () => {
    const rig = new Rig();
    const names = new Map([['10.0.0.1', 'alice'], ['10.0.0.2', 'bob']]);
    const keyAt = (address: string): string | null => {
      const name = names.get(address);
      return name === undefined ? null : simIdentityOf(name).signKey;
    };
    rig.network.handshakes = { delayMs: () => 0, reachesListener: () => true, keys: (_id, client, server) => ({ client: keyAt(client), server: keyAt(server) }) };
    rig.configOf = (name) => ({ identity: simIdentityOf(name), checkPeerKeys: true });
    const { alice, bob } = rig.friendsInSession();
    expect(alice.events.filter((e) => e.event === 'error')).toEqual([]);
    expect(bob.events.filter((e) => e.event === 'chat.opened')).toEqual([{ event: 'chat.opened', username: 'alice' }]);
  });
});
