/**
 * Resumed peer-to-peer TLS links (cli/net/peer-sessions.ts, TcpTransport's P2P connect), over real
 * sockets on loopback: a second link to the same friend, vouched key and address resumes from the
 * first one's ticket and each side still reports the key the other proved; a ticket is never
 * offered under another name, key or address, nor kept from a link that proved another key; a
 * stranger at the friend's address cannot open it (a full handshake shows the stranger's key); a
 * ticket without its secret opens no link at all; tickets are forgotten when told.
 */
import tls from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { makeIdentity } from '../../../cli/client/identity-keys.ts';
import { type IdentityCertificate, makeIdentityCertificate, peerTlsTransport } from '../../../cli/net/identity-certificate.ts';
import { PEER_SESSIONS_CACHED_MAX, PEER_SESSION_LIFETIME_S, type PeerSession, PeerSessions, peerSessionsForgottenBy } from '../../../cli/net/peer-sessions.ts';
import type { TcpTransport } from '../../../cli/net/tcp-transport.ts';
import type { ConnectIntent, Listener, Stream } from '../../../core/transport.ts';
import { eventually } from '../../helpers/eventually.ts';

const WAIT_MS = 10_000;

interface Peer {
  readonly name: string;
  readonly key: string;
  readonly certificate: IdentityCertificate;
  readonly transport: TcpTransport;
}

async function peer(name: string): Promise<Peer> {
  const identity = makeIdentity();
  const certificate = await makeIdentityCertificate(identity.signPrivateKey);
  return { name, key: identity.publicKeys.signKey, certificate, transport: peerTlsTransport(certificate) };
}

const listeners: Listener[] = [];
const streams: Stream[] = [];
afterEach(() => {
  for (const stream of streams.splice(0)) stream.close();
  for (const listener of listeners.splice(0)) listener.close();
});

/** Listens with `who`'s P2P transport (port 0: any); the accepted streams are collected. */
async function listen(who: Peer, port = 0): Promise<{ port: number; accepted: ResumableStream[] }> {
  const accepted: ResumableStream[] = [];
  const listener = await new Promise<Listener>((resolve, reject) =>
    who.transport.listen('127.0.0.1', port, (stream) => {
      stream.setEvents({ onOpen() {}, onData() {}, onDrain() {}, onClose() {} });
      streams.push(stream);
      accepted.push(stream as ResumableStream);
    }, (result) => (result instanceof Error ? reject(result) : resolve(result))),
  );
  listeners.push(listener);
  return { port: listener.port, accepted };
}

type ResumableStream = Stream & { readonly resumed: boolean };

/** Connects with `who`'s P2P transport; resolves once open (with its stream), or with the close reason. */
function connect(who: Peer, port: number, intent?: ConnectIntent): Promise<{ stream: ResumableStream; error: string | null }> {
  return new Promise((resolve) => {
    const stream = who.transport.connect('127.0.0.1', port, {
      onOpen: () => resolve({ stream, error: null }),
      onData() {},
      onDrain() {},
      onClose: (error) => resolve({ stream, error: error ?? 'closed' }),
    }, intent) as ResumableStream;
    streams.push(stream);
  });
}

/** A first, full link from `from` to `to`, and the ticket it leaves `from` (tickets come after the handshake). */
async function firstLink(from: Peer, to: Peer, port: number): Promise<void> {
  const kept = from.transport.peerSessionsKept;
  const first = await connect(from, port, { peer: to.name, vouchedKey: to.key });
  expect(first).toMatchObject({ error: null, stream: { resumed: false, peerKey: to.key } });
  await eventually(() => from.transport.peerSessionsKept === kept + 1, 'the ticket of the first link kept', WAIT_MS);
}

describe('resumed peer-to-peer links', () => {
  it('a second link to the same friend, vouched key and address resumes, and each side still reports the key the other proved', async () => {
    const [alice, bob] = await Promise.all([peer('alice'), peer('bob')]);
    const bobPort = await listen(bob);
    await firstLink(alice, bob, bobPort.port);
    for (let round = 0; round < 2; round++) {
      const again = await connect(alice, bobPort.port, { peer: 'bob', vouchedKey: bob.key });
      expect(again).toMatchObject({ error: null, stream: { resumed: true, peerKey: bob.key } });
    }
    await eventually(() => bobPort.accepted.length === 3, 'three links accepted', WAIT_MS);
    // The callee reads the caller's certificate back out of the ticket it sealed: the key the
    // first handshake proved, on every resumed link.
    expect(bobPort.accepted.map((stream) => [stream.resumed, stream.peerKey])).toEqual([[false, alice.key], [true, alice.key], [true, alice.key]]);
    expect(alice.transport.handshakes).toEqual({ full: 1, resumed: 2 });
  });

  it('offers no ticket under another name, another vouched key or without a name, and keeps none from a link that proved another key than the vouched one', async () => {
    const [alice, bob, other] = await Promise.all([peer('alice'), peer('bob'), peer('other')]);
    const bobPort = await listen(bob);
    await firstLink(alice, bob, bobPort.port);
    for (const intent of [{ peer: 'carol', vouchedKey: bob.key }, { peer: 'bob', vouchedKey: other.key }, undefined]) {
      const link = await connect(alice, bobPort.port, intent);
      expect(link).toMatchObject({ error: null, stream: { resumed: false, peerKey: bob.key } });
    }
    // The link vouched for `other` proved bob's key (the core refuses it): its tickets were not kept,
    // nor were those of the link to "carol" kept under bob's name.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(alice.transport.peerSessionsKept).toBe(2);
    expect(alice.transport.handshakes).toEqual({ full: 4, resumed: 0 });
  });

  it("a stranger listening at the friend's address is offered the ticket and cannot open it: a full handshake shows the stranger's own key", async () => {
    const [alice, bob, mallory] = await Promise.all([peer('alice'), peer('bob'), peer('mallory')]);
    const bobPort = await listen(bob);
    await firstLink(alice, bob, bobPort.port);
    listeners.pop()!.close();
    const malloryPort = await listen(mallory, bobPort.port);
    const link = await connect(alice, bobPort.port, { peer: 'bob', vouchedKey: bob.key });
    expect(link).toMatchObject({ error: null, stream: { resumed: false, peerKey: mallory.key } });
    await eventually(() => malloryPort.accepted.length === 1, 'the link accepted', WAIT_MS);
    expect(malloryPort.accepted[0]).toMatchObject({ resumed: false, peerKey: alice.key });
  });

  it('a ticket without its secret (what an onlooker could copy: the ticket is sent in the clear) opens no link, and the caller drops it', async () => {
    const [alice, bob, mallory] = await Promise.all([peer('alice'), peer('bob'), peer('mallory')]);
    const bobPort = await listen(bob);
    await firstLink(alice, bob, bobPort.port);
    // The caller's kept session with its resumption secret (the master key of the serialized
    // SSL_SESSION, its fifth field) replaced: the ticket itself is untouched.
    const sessions = (alice.transport as unknown as { peerSessions: PeerSessions }).peerSessions;
    const link = PeerSessions.linkOf('127.0.0.1', bobPort.port, { peer: 'bob', vouchedKey: bob.key })!;
    const kept = sessions.offer(link, Date.now())!;
    const withoutSecret = withMasterKeyReplaced(kept.ticket);
    sessions.keep(link, { ...kept, ticket: withoutSecret });
    const refused = await connect(alice, bobPort.port, { peer: 'bob', vouchedKey: bob.key });
    expect(refused.error).not.toBeNull();
    // Mallory with the same ticket and her own certificate gets no further.
    const stolen = await rawConnect(mallory.certificate, bobPort.port, withoutSecret);
    expect(stolen).toMatch(/alert|ECONNRESET|socket hang up/);
    expect(bobPort.accepted).toHaveLength(1);
    // Dropped: the next link is a full handshake, not the same failure.
    expect(alice.transport.peerSessionsKept).toBe(0);
    const next = await connect(alice, bobPort.port, { peer: 'bob', vouchedKey: bob.key });
    expect(next).toMatchObject({ error: null, stream: { resumed: false, peerKey: bob.key } });
  });

  it("forgets one friend's tickets, or every ticket, when told", async () => {
    const [alice, bob, carol] = await Promise.all([peer('alice'), peer('bob'), peer('carol')]);
    const [bobPort, carolPort] = await Promise.all([listen(bob), listen(carol)]);
    await firstLink(alice, bob, bobPort.port);
    await firstLink(alice, carol, carolPort.port);
    alice.transport.forgetSessions('bob');
    expect(alice.transport.peerSessionsKept).toBe(1);
    expect(await connect(alice, bobPort.port, { peer: 'bob', vouchedKey: bob.key })).toMatchObject({ stream: { resumed: false } });
    expect(await connect(alice, carolPort.port, { peer: 'carol', vouchedKey: carol.key })).toMatchObject({ stream: { resumed: true } });
    alice.transport.forgetSessions();
    expect(alice.transport.peerSessionsKept).toBe(0);
    expect(await connect(alice, carolPort.port, { peer: 'carol', vouchedKey: carol.key })).toMatchObject({ stream: { resumed: false } });
  });
});

describe('the tickets a caller keeps', () => {
  const session = (peer: string, atMs: number): PeerSession => ({ peer, ticket: Buffer.from(peer), peerKey: `key-${peer}`, atMs });

  it('are offered until the listener would no longer take them, then dropped', () => {
    const sessions = new PeerSessions();
    sessions.keep('bob', session('bob', 1_000));
    const lifetimeMs = PEER_SESSION_LIFETIME_S * 1_000;
    expect(sessions.offer('bob', 1_000 + lifetimeMs - 1)?.peer).toBe('bob');
    expect(sessions.offer('bob', 1_000 + lifetimeMs)).toBeUndefined();
    expect(sessions.size).toBe(0);
  });

  it(`are at most ${PEER_SESSIONS_CACHED_MAX}, the one kept longest ago going first; a newer ticket of a link replaces its older one`, () => {
    const sessions = new PeerSessions();
    for (let i = 0; i < PEER_SESSIONS_CACHED_MAX; i++) sessions.keep(`link-${i}`, session(`p${i}`, 0));
    sessions.keep('link-0', session('p0-newer', 0));
    sessions.keep('one-more', session('new', 0));
    expect(sessions.size).toBe(PEER_SESSIONS_CACHED_MAX);
    expect(sessions.offer('link-1', 0)).toBeUndefined();
    expect(sessions.offer('link-0', 0)?.peer).toBe('p0-newer');
    expect(sessions.offer('one-more', 0)?.peer).toBe('new');
  });

  it("are forgotten every one when a login begins (login.ok, no logout before it) or ends (logout.ok), a friend's when the friend's key changes, and at no other event", () => {
    // ClientRuntime and the simulator both forget by this rule: a login.ok (another account's, or
    // the same one's after its login was lost without a logout.ok) owes nothing to the last login's links.
    const sessions = new PeerSessions();
    const forget = (event: Parameters<typeof peerSessionsForgottenBy>[0]): void => {
      const forgotten = peerSessionsForgottenBy(event);
      if (forgotten !== null) sessions.forget(forgotten.peer);
    };
    sessions.keep('bob-link', session('bob', 0));
    sessions.keep('carol-link', session('carol', 0));
    forget({ event: 'friends', friends: [], pending: [] });
    forget({ event: 'peer.key.changed', username: 'dave', old: 'k1', new: 'k2' });
    expect(sessions.size).toBe(2);
    forget({ event: 'peer.key.changed', username: 'bob', old: 'k1', new: 'k2' });
    expect(sessions.offer('bob-link', 0)).toBeUndefined();
    expect(sessions.size).toBe(1);
    forget({ event: 'login.ok', username: 'alice', friends: [] });
    expect(sessions.size).toBe(0);
    sessions.keep('carol-link', session('carol', 0));
    forget({ event: 'logout.ok' });
    expect(sessions.size).toBe(0);
  });

  it('need a name and a vouched key to be looked up', () => {
    expect(PeerSessions.linkOf('127.0.0.1', 7000, undefined)).toBeNull();
    expect(PeerSessions.linkOf('127.0.0.1', 7000, { peer: 'bob', vouchedKey: null })).toBeNull();
    const links = new Set([
      PeerSessions.linkOf('127.0.0.1', 7000, { peer: 'bob', vouchedKey: 'k' }),
      PeerSessions.linkOf('127.0.0.1', 7001, { peer: 'bob', vouchedKey: 'k' }),
      PeerSessions.linkOf('127.0.0.2', 7000, { peer: 'bob', vouchedKey: 'k' }),
      PeerSessions.linkOf('127.0.0.1', 7000, { peer: 'bob', vouchedKey: 'k2' }),
      PeerSessions.linkOf('127.0.0.1', 7000, { peer: 'carol', vouchedKey: 'k' }),
    ]);
    expect(links.size).toBe(5);
  });
});

/** A serialized SSL_SESSION (DER) with its master key (the fifth field of the outer SEQUENCE) inverted. */
function withMasterKeyReplaced(session: Buffer): Buffer {
  const copy = Buffer.from(session);
  const lengthOf = (at: number): { header: number; length: number } => {
    const first = copy[at + 1]!;
    if ((first & 0x80) === 0) return { header: 2, length: first };
    let length = 0;
    for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + copy[at + 2 + i]!;
    return { header: 2 + (first & 0x7f), length };
  };
  let at = lengthOf(0).header;
  for (let field = 0; field < 4; field++) {
    const { header, length } = lengthOf(at);
    at += header + length;
  }
  const { header, length } = lengthOf(at);
  expect(copy[at]).toBe(0x04);
  expect([32, 48]).toContain(length);
  for (let i = 0; i < length; i++) copy[at + header + i]! ^= 0xff;
  return copy;
}

/** A raw node:tls connect with a certificate and a session; resolves with how it ended ('open', or the error). */
function rawConnect(certificate: IdentityCertificate, port: number, session: Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = tls.connect({ host: '127.0.0.1', port, minVersion: 'TLSv1.3', rejectUnauthorized: false, cert: certificate.cert, key: certificate.key, session }, () => {
      socket.destroy();
      resolve('open');
    });
    socket.once('error', (error) => resolve(error.message));
  });
}
