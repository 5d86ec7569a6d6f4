/**
 * ServerHost and a store shared by the nodes of a cluster (AccountStore.heldMailOf, docs/CLUSTER.md):
 * a user who attaches here is handed the mail and receipts the store holds for it now (any node
 * may have queued some this one never heard of), read once per attach and for nobody else.
 */
import { describe, expect, it } from 'vitest';
import { encodeControl } from '../../../core/codec.ts';
import type { ClientFrame } from '../../../core/frames.ts';
import { ClusterRouter } from '../../../core/server/cluster.ts';
import { ServerHost } from '../../../core/server/host.ts';
import { ServerMachine } from '../../../core/server/machine.ts';
import { type HeldMail, MemoryStore } from '../../../core/store.ts';
import type { StreamEvents } from '../../../core/transport.ts';
import { passwordOf, storeWith } from '../../helpers/server-harness.ts';
import { FakeStream, FakeTransport, STILL_CLOCK as clock, SettledHasher, framesWritten } from './host-fakes.ts';

/** A shared store: what heldMailOf answers is set by the test (what other nodes queued), and every read is noted. */
class SharedStore extends MemoryStore {
  readonly asked: string[] = [];
  /** username → what the store holds for it now; a user missing here cannot be read now (null). */
  readonly held = new Map<string, HeldMail>();
  heldMailOf(username: string): HeldMail | null {
    this.asked.push(username);
    return this.held.get(username) ?? null;
  }
}

const SEALED = Buffer.from('sealed bytes the server never reads').toString('base64');

/** One clustered node over a SharedStore holding `usernames` (all friends of alice), its bus a stub that goes nowhere. */
function nodeWith(usernames: readonly string[]) {
  const store = storeWith(usernames, usernames.filter((u) => u !== 'alice').map((u) => ['alice', u] as const), undefined, new SharedStore());
  const transport = new FakeTransport();
  const hasher = new SettledHasher();
  const machine = new ServerMachine(store.load(), { newToken: () => 'token', signupsPerAddressPerHour: 0, clustered: true, sessionRequestIdPrefix: 'n1.s' });
  let host: ServerHost | null = null;
  const cluster = new ClusterRouter({
    nodeId: 'n1',
    bus: { connected: true, publish() {}, setHandler() {} },
    leaseTtlMs: 10_000,
    input: (input) => host?.input(input),
    heldUsers: (visit) => machine.heldUsers(visit),
    nowMs: () => clock.nowMs(),
  });
  host = new ServerHost({ machine, transport, store, hasher, clock, cluster });
  host.listen('127.0.0.1', 0, () => {});
  host.joinCluster();
  let nextAddress = 1;
  const send = (stream: FakeStream, frame: ClientFrame): void => {
    (stream.events as StreamEvents).onData(encodeControl(frame));
    hasher.settle();
  };
  const login = (username: string): FakeStream => {
    const stream = new FakeStream(`10.0.0.${nextAddress++}`);
    transport.onAccept?.(stream);
    send(stream, { type: 'login', id: 1, username, password: passwordOf(username) });
    expect(framesWritten(stream).map((f) => f.type)).toContain('login.ok');
    return stream;
  };
  return { store, login, send };
}

describe('ServerHost and the mail a shared store holds', () => {
  it('a user attaching here is handed the mail and receipts the store holds for it that this node never heard of, read once for that user only', () => {
    const { store, login, send } = nodeWith(['alice', 'bob', 'carol']);
    store.held.set('bob', {
      mail: [{ seq: 7, from: 'alice', to: 'bob', messageId: 'm1', sealed: SEALED, sentAtMs: 500 }],
      receipts: [{ seq: 3, sender: 'bob', recipient: 'carol', messageId: 'r1' }],
    });
    const bob = login('bob');
    const frames = framesWritten(bob);
    expect(frames.filter((f) => f.type === 'mail.deliver')).toMatchObject([{ seq: 7, from: 'alice', messageId: 'm1', sealed: SEALED }]);
    expect(frames.filter((f) => f.type === 'mail.delivered')).toEqual([{ type: 'mail.delivered', username: 'carol', messageId: 'r1' }]);
    // Going offline is announced too, and reads nothing; neither does opening a connection.
    send(bob, { type: 'logout', id: 2 });
    const carol = login('carol');
    send(carol, { type: 'heartbeat', id: 2 });
    expect(store.asked).toEqual(['bob', 'carol']);
  });

  it('a user whose held mail the store cannot read now still logs in, and is handed the mail this node holds', () => {
    const { store, login, send } = nodeWith(['alice', 'bob']);
    const alice = login('alice');
    send(alice, { type: 'mail.send', id: 2, username: 'bob', messageId: 'm1', sealed: SEALED });
    const bob = login('bob');
    expect(store.asked).toEqual(['alice', 'bob']);
    expect(framesWritten(bob).filter((f) => f.type === 'mail.deliver')).toMatchObject([{ from: 'alice', messageId: 'm1' }]);
  });
});
