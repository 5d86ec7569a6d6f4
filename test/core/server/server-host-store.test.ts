/**
 * ServerHost and its store (core/server/host.ts): what a round of the machine persisted is
 * committed before the round ends, also when persist ops close the round; a batch the store
 * refuses (nothing of it committed) is told to the onStoreRefused hook, never thrown, and the
 * machine, which had already applied it to its memory, reads the store again, so what it serves
 * next is what the store holds.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame, ServerFrame } from '../../../core/frames.ts';
import { ServerHost, type ServerHostHooks } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore, type StoreOp, type StoreRefusal } from '../../../core/store.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, STILL_CLOCK, SettledHasher, framesWritten } from './host-fakes.ts';

/** A MemoryStore that refuses the next batch it is given when told to (as a shared database may). */
class RefusingStore extends MemoryStore {
  refuseNext: StoreRefusal | null = null;
  override apply(ops: readonly StoreOp[]): StoreRefusal | null {
    const refusal = this.refuseNext;
    if (refusal === null) return super.apply(ops);
    this.refuseNext = null;
    return refusal;
  }
}

/** A ServerHost on fake streams over a RefusingStore holding `usernames` (and friendships). */
function hostWith(usernames: readonly string[], friendships: ReadonlyArray<readonly [string, string]>, hooks?: ServerHostHooks) {
  const store = storeWith(usernames, friendships, 'Alice', new RefusingStore());
  const transport = new FakeTransport();
  const hasher = new SettledHasher();
  const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0 });
  const host = new ServerHost({ machine, transport, store, hasher, clock: STILL_CLOCK, ...(hooks === undefined ? {} : { hooks }) });
  host.listen('127.0.0.1', 0, () => {});
  let nextAddress = 1;
  const client = {
    open(): FakeStream {
      const stream = new FakeStream(`10.0.0.${nextAddress++}`);
      transport.onAccept?.(stream);
      return stream;
    },
    send(stream: FakeStream, frame: ClientFrame): void {
      (stream.events as StreamEvents).onData(encodeControl(frame));
      hasher.settle();
    },
    login(username: string): FakeStream {
      const stream = client.open();
      client.send(stream, { type: 'login', id: 1, username, password: passwordOf(username) });
      expect(framesWritten(stream).map((f) => f.type)).toContain('login.ok');
      return stream;
    },
    last(stream: FakeStream): ServerFrame | undefined {
      return framesWritten(stream).at(-1);
    },
  };
  return { store, host, machine, client };
}

const SEALED = Buffer.from('sealed bytes the server never reads').toString('base64');

/** alice mails bob while he is offline and logs out; bob logs in and is handed the mail (not yet acknowledged). */
function mailForBob() {
  const { store, client } = hostWith(['alice', 'bob'], [['alice', 'bob']]);
  const alice = client.login('alice');
  client.send(alice, { type: 'mail.send', id: 2, username: 'bob', messageId: 'm1', sealed: SEALED });
  client.send(alice, { type: 'logout', id: 3 });
  const bob = client.login('bob');
  const delivered = framesWritten(bob).find((f) => f.type === 'mail.deliver');
  return { store, client, bob, delivered };
}

describe('ServerHost and its store', () => {
  it('a round that ends with persist ops (an acknowledged mail and the receipt owed to its offline sender) has them committed', () => {
    const { store, client, bob, delivered } = mailForBob();
    expect(delivered).toMatchObject({ from: 'alice', messageId: 'm1' });
    client.send(bob, { type: 'mail.ack', seq: delivered?.type === 'mail.deliver' ? delivered.seq : -1 });
    expect(store.mailRecords).toEqual([]);
    expect(store.load().receipts).toMatchObject([{ sender: 'alice', recipient: 'bob', messageId: 'm1' }]);
  });

  it('a refused batch is told to onStoreRefused with its ops, and a nickname change the store refused is not what the next login shows', () => {
    const told: Array<{ refusal: StoreRefusal; ops: readonly StoreOp[] }> = [];
    const { store, client } = hostWith(['alice'], [], { onStoreRefused: (refusal, ops) => told.push({ refusal, ops }) });
    const alice = client.login('alice');
    store.refuseNext = { reason: 'the database said no' };
    client.send(alice, { type: 'account.nickname', id: 2, nickname: 'Queen A' });
    expect(told).toEqual([{ refusal: { reason: 'the database said no' }, ops: [{ op: 'account.nickname', username: 'alice', nickname: 'Queen A' }] }]);
    client.send(alice, { type: 'logout', id: 3 });
    const again = client.login('alice');
    expect(framesWritten(again).find((f) => f.type === 'login.ok')).toMatchObject({ nickname: 'Alice' });
  });

  it('a mail acknowledgement the store refused (a round that ends with it) leaves the mail held: it is delivered again at the next login', () => {
    const { store, client, bob, delivered } = mailForBob();
    store.refuseNext = { reason: 'the database said no' };
    client.send(bob, { type: 'mail.ack', seq: delivered?.type === 'mail.deliver' ? delivered.seq : -1 });
    expect(store.mailRecords).toHaveLength(1);
    client.send(bob, { type: 'logout', id: 4 });
    const bobAgain = client.login('bob');
    expect(framesWritten(bobAgain).filter((f) => f.type === 'mail.deliver')).toMatchObject([{ from: 'alice', messageId: 'm1' }]);
  });

  it('a host with hooks but no onStoreRefused goes on after a refusal', () => {
    const effects: string[] = [];
    const { store, client } = hostWith(['alice'], [], { onEffect: (effect) => effects.push(effect.type) });
    const alice = client.login('alice');
    store.refuseNext = { reason: 'the database said no' };
    client.send(alice, { type: 'account.nickname', id: 2, nickname: 'Queen A' });
    client.send(alice, { type: 'heartbeat', id: 3 });
    expect(client.last(alice)).toEqual({ type: 'heartbeat.ack', re: 3 });
    expect(effects).toContain('persist');
  });
});
