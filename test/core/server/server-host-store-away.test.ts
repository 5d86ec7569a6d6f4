/**
 * A store that cannot be reached withdraws the batch (StoreRefusal `unavailable`: never committed,
 * core/store.ts): the host tells nobody of it. The answer to the request becomes SERVER_DEGRADED,
 * notices of the change to others are dropped, later batches of the same round are not tried, and
 * the owner is told to read the store again once it answers. Once the node knows its store is
 * away (cluster.health `store: false`), the machine refuses every change at once.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame } from '../../../core/frames.ts';
import { type ClusterMessage, ClusterRouter } from '../../../core/server/cluster.ts';
import { ServerHost, type ServerHostHooks, withheldSend } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore, type StoreOp, type StoreRefusal } from '../../../core/store.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, STILL_CLOCK as clock, SettledHasher, framesWritten } from './host-fakes.ts';

/** A MemoryStore that, while away, withdraws every batch (and counts the tries). */
class AwayStore extends MemoryStore {
  away = false;
  tries = 0;
  override apply(ops: readonly StoreOp[]): StoreRefusal | null {
    if (!this.away) return super.apply(ops);
    this.tries += 1;
    return { reason: 'the database does not answer', unavailable: true };
  }
}

const SEALED = Buffer.from('sealed bytes the server never reads').toString('base64');

function world(hooks: 'all' | 'empty' | 'none' = 'all') {
  const store = storeWith(['alice', 'bob', 'carol'], [['alice', 'bob'], ['alice', 'carol']], undefined, new AwayStore());
  const transport = new FakeTransport();
  const hasher = new SettledHasher();
  const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0 });
  const unavailable: StoreOp[][] = [];
  const logged: string[] = [];
  const allHooks: ServerHostHooks = {
    onStoreUnavailable: (_refusal, ops) => unavailable.push([...ops]),
    onEffect: (effect) => {
      if (effect.type === 'send') logged.push(effect.frame.type);
    },
  };
  const host = new ServerHost({
    machine,
    transport,
    store,
    hasher,
    clock,
    ...(hooks === 'none' ? {} : { hooks: hooks === 'empty' ? {} : allHooks }),
  });
  host.listen('127.0.0.1', 0, () => {});
  const open = (address: string): FakeStream => {
    const stream = new FakeStream(address);
    transport.onAccept?.(stream);
    return stream;
  };
  const send = (stream: FakeStream, ...frames: ClientFrame[]): void => {
    (stream.events as StreamEvents).onData(Buffer.concat(frames.map((frame) => encodeControl(frame))));
    hasher.settle();
  };
  const login = (username: string, address: string): FakeStream => {
    const stream = open(address);
    send(stream, { type: 'login', id: 1, username, password: passwordOf(username) });
    return stream;
  };
  return { store, host, machine, unavailable, logged, open, send, login };
}

describe('ServerHost and a store that cannot be reached', () => {
  it('a withdrawn batch is not announced: the request is answered SERVER_DEGRADED, friends hear nothing, the owner is told to read the store again', () => {
    const { store, unavailable, logged, send, login } = world();
    const alice = login('alice', '10.0.0.1');
    const bob = login('bob', '10.0.0.2');
    const before = framesWritten(bob).length;
    logged.length = 0;
    store.away = true;
    send(alice, { type: 'account.nickname', id: 7, nickname: 'Al' }, { type: 'heartbeat', id: 8 });
    expect(framesWritten(alice).slice(-2)).toMatchObject([
      { type: 'error', re: 7, code: 'SERVER_DEGRADED' },
      { type: 'heartbeat.ack', re: 8 },
    ]);
    // bob is not told of a nickname that was never stored.
    expect(framesWritten(bob).slice(before)).toEqual([]);
    expect(unavailable).toEqual([[{ op: 'account.nickname', username: 'alice', nickname: 'Al' }]]);
    expect(logged).toEqual(['error', 'heartbeat.ack']);
  });

  it('mail withdrawn is not answered queued nor handed to its recipient; a second batch of the same round is not tried', () => {
    const { store, send, login } = world();
    const alice = login('alice', '10.0.0.1');
    const bob = login('bob', '10.0.0.2');
    store.away = true;
    send(
      alice,
      { type: 'mail.send', id: 1, username: 'carol', messageId: 'm1', sealed: SEALED },
      { type: 'account.nickname', id: 2, nickname: 'Al' },
    );
    expect(framesWritten(alice).filter((frame) => frame.type !== 'heartbeat.ack').slice(-2)).toMatchObject([
      { type: 'error', re: 1, code: 'SERVER_DEGRADED' },
      { type: 'error', re: 2, code: 'SERVER_DEGRADED' },
    ]);
    expect(store.tries).toBe(1);
    expect(store.mailRecords).toEqual([]);
    expect(framesWritten(bob).some((frame) => frame.type === 'friend.updated')).toBe(false);
  });

  it.each(['none', 'empty'] as const)('a host without hooks (%s) withdraws as well', (hooks) => {
    const { store, send, login } = world(hooks);
    const alice = login('alice', '10.0.0.1');
    store.away = true;
    send(alice, { type: 'account.nickname', id: 7, nickname: 'Al' });
    expect(framesWritten(alice).at(-1)).toMatchObject({ type: 'error', re: 7, code: 'SERVER_DEGRADED' });
  });

  it('what follows a withdrawn batch in the same round and sends nothing is carried out: a password check starts', () => {
    const { store, send, login } = world();
    const alice = login('alice', '10.0.0.1');
    store.away = true;
    send(alice, { type: 'account.nickname', id: 1, nickname: 'Al' }, { type: 'account.password', id: 2, old: passwordOf('alice'), new: 'a new password' });
    // The password was checked (a verify effect, then a hash), and its own batch withdrawn in turn.
    expect(framesWritten(alice).filter((frame) => frame.type === 'error').map((frame) => [frame.re, frame.code])).toEqual([
      [1, 'SERVER_DEGRADED'],
      [2, 'SERVER_DEGRADED'],
    ]);
    expect(store.tries).toBe(2);
  });

  it('a sign-up whose account is withdrawn is answered SERVER_DEGRADED (not USERNAME_TAKEN), and the name stays free', () => {
    const { store, machine, open, send, unavailable } = world();
    store.away = true;
    const dave = open('10.0.0.3');
    send(dave, { type: 'signup', id: 1, username: 'dave', password: passwordOf('dave') });
    expect(framesWritten(dave).at(-1)).toMatchObject({ type: 'error', re: 1, code: 'SERVER_DEGRADED' });
    expect(machine.hasAccount('dave')).toBe(false);
    // The machine never applied it: its memory needs no read of the store.
    expect(unavailable).toEqual([]);
    store.away = false;
    send(dave, { type: 'signup', id: 2, username: 'dave', password: passwordOf('dave') });
    expect(framesWritten(dave).at(-1)).toMatchObject({ type: 'signup.ok', re: 2 });
  });

  it('once the node knows its store is away, every change is refused at once and nothing is tried; an acknowledgement is left for later', () => {
    const { store, host, send, login } = world();
    store.apply([{ op: 'mail.add', seq: 1, from: 'alice', to: 'bob', messageId: 'm1', sealed: SEALED, sentAtMs: 500 }]);
    const alice = login('alice', '10.0.0.1');
    const bob = login('bob', '10.0.0.2');
    store.away = true;
    host.input({ type: 'cluster.health', healthy: false, bus: true, store: false });
    const changes: ClientFrame[] = [
      { type: 'friend.request', id: 1, username: 'carol' },
      { type: 'friend.accept', id: 2, username: 'carol' },
      { type: 'friend.decline', id: 3, username: 'carol' },
      { type: 'friend.remove', id: 4, username: 'bob' },
      { type: 'friend.block', id: 5, username: 'bob' },
      { type: 'friend.unblock', id: 6, username: 'bob' },
      { type: 'mail.send', id: 7, username: 'bob', messageId: 'm2', sealed: SEALED },
      { type: 'account.password', id: 8, old: passwordOf('alice'), new: 'a new password' },
      { type: 'account.nickname', id: 9, nickname: 'Al' },
    ];
    for (const change of changes) send(alice, change);
    expect(framesWritten(alice).filter((frame) => frame.type === 'error').map((frame) => [frame.re, frame.code])).toEqual(changes.map((change) => [change.id, 'SERVER_DEGRADED']));
    expect(framesWritten(alice).at(-1)).toMatchObject({ detail: 'this server cannot reach its database: nothing was changed' });
    send(bob, { type: 'mail.ack', id: 10, seq: 1 });
    expect(store.tries).toBe(0);
    expect(framesWritten(bob).filter((frame) => frame.type === 'error')).toEqual([]);
    // Reads go on.
    send(alice, { type: 'friends.list', id: 11 });
    expect(framesWritten(alice).at(-1)).toMatchObject({ type: 'friends', re: 11 });
    // Back: changes are taken again; the acknowledged mail is still held (handed over again at the next attach).
    store.away = false;
    host.input({ type: 'cluster.health', healthy: true, bus: true, store: true });
    send(alice, { type: 'account.nickname', id: 12, nickname: 'Al' });
    expect(framesWritten(alice).at(-1)).toMatchObject({ type: 'account.updated', re: 12, nickname: 'Al' });
    expect(store.mailRecords.map((mail) => mail.seq)).toEqual([1]);
  });

  it('withheldSend: a reply becomes SERVER_DEGRADED for its request, a notice is dropped, errors and heartbeat acks go as they are', () => {
    expect(withheldSend({ type: 'send', connId: 3, frame: { type: 'mail.queued', re: 4, username: 'bob', messageId: 'm' } })).toMatchObject({
      type: 'send',
      connId: 3,
      frame: { type: 'error', re: 4, code: 'SERVER_DEGRADED', detail: 'the database did not commit it: it was not done' },
    });
    expect(withheldSend({ type: 'send', connId: 3, frame: { type: 'friend.incoming', username: 'bob' } as never })).toBeNull();
    const error = { type: 'send', connId: 3, frame: { type: 'error', re: 1, code: 'BLOCKED', message: 'x' } } as const;
    expect(withheldSend(error)).toBe(error);
    const ack = { type: 'send', connId: 3, frame: { type: 'heartbeat.ack', re: 2 } } as const;
    expect(withheldSend(ack)).toBe(ack);
  });
});

describe('ServerHost of a cluster node and a store that cannot be reached', () => {
  function clusterNode() {
    const store = storeWith(['alice', 'bob'], [['alice', 'bob']], undefined, new AwayStore());
    const transport = new FakeTransport();
    const hasher = new SettledHasher();
    const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0, clustered: true });
    const published: ClusterMessage[] = [];
    let host: ServerHost | null = null;
    const router = new ClusterRouter({
      nodeId: 'n1',
      bus: { connected: true, publish: (message) => published.push(message), setHandler: () => {} },
      leaseTtlMs: 10_000,
      input: (input) => host?.input(input),
      heldUsers: (visit) => machine.heldUsers(visit),
      nowMs: () => clock.nowMs(),
    });
    host = new ServerHost({ machine, transport, store, hasher, clock, cluster: router });
    host.listen('127.0.0.1', 0, () => {});
    const stream = new FakeStream('10.0.0.1');
    transport.onAccept?.(stream);
    const announced = (kind: string) => published.flatMap((message) => message.items).filter((item) => item.kind === kind);
    return { store, hasher, stream, announced };
  }

  it('a login whose identity keys are withdrawn is answered SERVER_DEGRADED and not announced to the other nodes', () => {
    const { store, hasher, stream, announced } = clusterNode();
    const spki = (key: ReturnType<typeof generateKeyPairSync>['publicKey']): string => key.export({ format: 'der', type: 'spki' }).toString('base64');
    const identity = { signKey: spki(generateKeyPairSync('ed25519').publicKey), sealKey: spki(generateKeyPairSync('x25519').publicKey) };
    store.away = true;
    (stream.events as StreamEvents).onData(encodeControl({ type: 'login', id: 1, username: 'alice', password: passwordOf('alice'), identity }));
    hasher.settle();
    expect(framesWritten(stream).at(-1)).toMatchObject({ type: 'error', re: 1, code: 'SERVER_DEGRADED' });
    expect(store.tries).toBe(1);
    expect(announced('attached')).toEqual([]);
  });

  it('a logout in the same round as a withdrawn batch is still announced: the user is not left online elsewhere', () => {
    const { store, hasher, stream, announced } = clusterNode();
    (stream.events as StreamEvents).onData(encodeControl({ type: 'login', id: 1, username: 'alice', password: passwordOf('alice') }));
    hasher.settle();
    expect(announced('attached')).toHaveLength(1);
    store.away = true;
    (stream.events as StreamEvents).onData(Buffer.concat([encodeControl({ type: 'account.nickname', id: 2, nickname: 'Al' }), encodeControl({ type: 'logout', id: 3 })]));
    // (The round's other replies are withheld too, logout.ok among them: the host cannot tell which
    // frame of the round a reply answers. The logout happened, and is said to the other nodes.)
    expect(framesWritten(stream).filter((frame) => frame.type === 'error').map((frame) => frame.re)).toContain(2);
    expect(announced('offline')).toMatchObject([{ username: 'alice' }]);
  });
});
