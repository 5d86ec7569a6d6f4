/**
 * The client runtime's resumable P2P sessions, end to end over TLS on loopback (two runtimes in
 * this process, the real server, each side checking the key the other proved): a chat reopened
 * with the same friend resumes the first link's session on both ends; the caller's tickets go when
 * its login ends (logout.ok), and a friend's go when the friend's key changes (peer.key.changed).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientRuntime, type TimedEvent } from '../../../cli/client/client-runtime.ts';
import { makeIdentity } from '../../../cli/client/identity-keys.ts';
import { KnownPeers } from '../../../cli/client/known-peers.ts';
import { FixedServerPin } from '../../../cli/client/known-servers.ts';
import { makeIdentityCertificate, peerTlsTransport } from '../../../cli/net/identity-certificate.ts';
import { realClock } from '../../../cli/net/real-clock.ts';
import type { TcpTransport } from '../../../cli/net/tcp-transport.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const WAIT_MS = 20_000;

class Client {
  readonly events: TimedEvent[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    readonly runtime: ClientRuntime,
    readonly transport: TcpTransport,
  ) {
    runtime.onEvent((event) => {
      this.events.push(event);
      for (const waiter of [...this.waiters]) waiter();
    });
  }

  /** Sends a command and waits (bounded) for the next event named `name` after it. */
  async request(command: Parameters<ClientRuntime['command']>[0], name: string, fields: Record<string, unknown> = {}): Promise<TimedEvent> {
    const from = this.events.length;
    this.runtime.command(command);
    return this.waitFor(name, fields, from);
  }

  waitFor(name: string, fields: Record<string, unknown> = {}, from = 0): Promise<TimedEvent> {
    const find = (): TimedEvent | undefined =>
      this.events.slice(from).find((event) => event.event === name && Object.entries(fields).every(([key, value]) => (event as Record<string, unknown>)[key] === value));
    const found = find();
    if (found !== undefined) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = (): void => {
        const event = find();
        if (event === undefined) return;
        this.waiters.delete(waiter);
        clearTimeout(timer);
        resolve(event);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${name}; last: ${JSON.stringify(this.events.slice(-3))}`));
      }, WAIT_MS);
      this.waiters.add(waiter);
    });
  }
}

describe('client runtime: resumed P2P sessions', () => {
  let server: TestServer;
  let dir: string;
  let alice: Client;
  let bob: Client;
  const started: Client[] = [];

  const start = async (name: string, signup: boolean): Promise<Client> => {
    const identity = makeIdentity();
    const transport = peerTlsTransport(await makeIdentityCertificate(identity.signPrivateKey));
    const runtime = new ClientRuntime({
      identity,
      knownPeers: new KnownPeers(join(dir, `${name}-data`)),
      serverHost: '127.0.0.1',
      serverPort: server.tcpPort,
      p2pHost: '127.0.0.1',
      p2pPort: 0,
      downloadDir: join(dir, `${name}-downloads`),
      machine: { idPrefix: name, autoAcceptChat: true },
      transport,
      serverPins: new FixedServerPin(server.fingerprint),
      clock: realClock,
      logger: pino({ level: 'silent' }),
    });
    const client = new Client(runtime, transport);
    started.push(client);
    await runtime.start();
    await client.waitFor('ready');
    if (signup) await client.request({ cmd: 'signup', username: name, password: `${name}-password` }, 'signup.ok');
    await client.request({ cmd: 'login', username: name, password: `${name}-password` }, 'login.ok');
    return client;
  };

  /** alice opens a chat with bob and closes it again. */
  const chat = async (): Promise<void> => {
    await alice.request({ cmd: 'chat.open', username: 'bob' }, 'chat.opened', { username: 'bob' });
    await alice.request({ cmd: 'chat.close', username: 'bob' }, 'chat.closed', { username: 'bob' });
    await bob.waitFor('chat.closed', { username: 'alice' }, bob.events.findLastIndex((event) => event.event === 'chat.opened'));
  };

  const ticketKept = async (count: number): Promise<void> => {
    for (let round = 0; round < 200 && alice.transport.peerSessionsKept !== count; round++) await new Promise((done) => setTimeout(done, 10));
    expect(alice.transport.peerSessionsKept).toBe(count);
  };

  beforeAll(async () => {
    server = await TestServer.start();
    dir = await mkdtemp(join(tmpdir(), 'p2pchat-tickets-'));
    [alice, bob] = await Promise.all([start('alice', true), start('bob', true)]);
    await alice.request({ cmd: 'friend.request', username: 'bob' }, 'friend.requested');
    await bob.waitFor('friend.request');
    await bob.request({ cmd: 'friend.accept', username: 'alice' }, 'friend.added');
    await alice.waitFor('friend.added');
  }, 60_000);

  afterAll(async () => {
    for (const client of started) client.runtime.stop();
    await server?.close();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('a chat reopened with the same friend resumes the first link, and both ends still accept the key the other proved', async () => {
    await chat();
    await ticketKept(1);
    await chat();
    await chat();
    expect(alice.transport.handshakes).toEqual({ full: 1, resumed: 2 });
    expect(alice.events.filter((event) => event.event === 'error')).toEqual([]);
    expect(bob.events.filter((event) => event.event === 'error')).toEqual([]);
  }, 60_000);

  it('forgets every ticket when the login ends: the next login opens with a full handshake', async () => {
    await ticketKept(1);
    await alice.request({ cmd: 'logout' }, 'logout.ok');
    expect(alice.transport.peerSessionsKept).toBe(0);
    await alice.request({ cmd: 'login', username: 'alice', password: 'alice-password' }, 'login.ok');
    await chat();
    expect(alice.transport.handshakes).toEqual({ full: 2, resumed: 2 });
    await ticketKept(1);
  }, 60_000);

  it("forgets a friend's tickets when the friend's key changes", async () => {
    await ticketKept(1);
    // bob starts again from another data dir: a new identity key, which the server now vouches for.
    // The server tells bob's online friends his new key at his login (friend.updated, 6d13c6f).
    const before = alice.events.length;
    bob.runtime.stop();
    bob = await start('bob', false);
    await alice.waitFor('peer.key.changed', { username: 'bob' }, before);
    expect(alice.transport.peerSessionsKept).toBe(0);
    await chat();
    expect(alice.transport.handshakes).toEqual({ full: 3, resumed: 2 });
  }, 60_000);
});
