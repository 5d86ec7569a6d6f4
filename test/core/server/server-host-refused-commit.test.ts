/**
 * A sign-up whose account the store refused (a `commit` effect: the machine applies its batch only
 * once told it was taken, core/server/host.ts) leaves the machine's memory as it was: unlike a
 * refused plain persist batch, it is not read again from the store, so what the machine alone
 * knows (which mail it already handed over and waits to hear acknowledged) is kept.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame } from '../../../core/frames.ts';
import { ServerHost } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import { MemoryStore, type StoreOp, type StoreRefusal } from '../../../core/store.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, STILL_CLOCK as clock, SettledHasher, framesWritten } from './host-fakes.ts';

/** A MemoryStore that refuses every batch creating an account (another node took the name first). */
class TakenNamesStore extends MemoryStore {
  refusing = false;
  override apply(ops: readonly StoreOp[]): StoreRefusal | null {
    if (this.refusing && ops.some((op) => op.op === 'account.create')) return { reason: 'the name was taken on another node' };
    return super.apply(ops);
  }
}

const SEALED = Buffer.from('sealed bytes the server never reads').toString('base64');

describe('ServerHost and a refused sign-up', () => {
  it('a sign-up the store refused does not make the machine forget the mail it handed over: an acknowledgement pushes no copy of the other', () => {
    const store = storeWith(['alice', 'bob'], [['alice', 'bob']], undefined, new TakenNamesStore());
    store.apply([1, 2].map((seq): StoreOp => ({ op: 'mail.add', seq, from: 'alice', to: 'bob', messageId: `m${seq}`, sealed: SEALED, sentAtMs: 500 })));
    const transport = new FakeTransport();
    const hasher = new SettledHasher();
    const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0 });
    const host = new ServerHost({ machine, transport, store, hasher, clock });
    host.listen('127.0.0.1', 0, () => {});
    const open = (address: string): FakeStream => {
      const stream = new FakeStream(address);
      transport.onAccept?.(stream);
      return stream;
    };
    const send = (stream: FakeStream, frame: ClientFrame): void => {
      (stream.events as StreamEvents).onData(encodeControl(frame));
      hasher.settle();
    };
    const delivered = (stream: FakeStream) => framesWritten(stream).filter((f) => f.type === 'mail.deliver');

    const bob = open('10.0.0.1');
    send(bob, { type: 'login', id: 1, username: 'bob', password: passwordOf('bob') });
    expect(delivered(bob)).toMatchObject([{ seq: 1 }, { seq: 2 }]);
    store.refusing = true;
    const carol = open('10.0.0.2');
    send(carol, { type: 'signup', id: 1, username: 'carol', password: passwordOf('carol') });
    expect(framesWritten(carol).at(-1)).toMatchObject({ type: 'error', code: 'USERNAME_TAKEN' });
    send(bob, { type: 'mail.ack', seq: 1 });
    expect(delivered(bob)).toMatchObject([{ seq: 1 }, { seq: 2 }]);
    expect(store.mailRecords.map((mail) => mail.seq)).toEqual([2]);
  });
});
