/**
 * A real client (bob, `p2pchat client --headless`) taking resumed TLS links on its P2P port, over
 * real TCP: a resumed link still needs the one-time session token, and still proves only the key
 * of the handshake its ticket came from, so once the server vouches another key for the caller
 * the resumed link is refused with PEER_KEY_MISMATCH and no hello.ok.
 *
 * The caller "mallory" is played by the test: a raw client of the server (for real session
 * tokens) and a raw TLS peer that keeps the ticket of its first link, as a caller's transport
 * does (cli/net/peer-sessions.ts), and offers it again.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';
import { TcpTestClient } from '../../helpers/tcp-test-client.ts';
import { RawP2pPeer } from '../../helpers/raw-p2p-peer.ts';
import { type ClientIdentity, makeIdentity } from '../../../cli/client/identity-keys.ts';
import { type IdentityCertificate, makeIdentityCertificate } from '../../../cli/net/identity-certificate.ts';

describe('resumed links on a real client P2P port', () => {
  let server: TestServer;
  let bob: HeadlessClient;
  let bobPort: number;
  const clients: TcpTestClient[] = [];
  const links: RawP2pPeer[] = [];
  let malloryIdentity: ClientIdentity;
  let malloryCertificate: IdentityCertificate;
  /** The ticket of mallory's first, full, link to bob. */
  let ticket: Buffer;

  /** A session mallory asks for and bob accepts: its one-time token. */
  const sessionToken = async (mallory: TcpTestClient): Promise<string> => {
    mallory.send({ type: 'session.request', username: 'bob' });
    const established = await mallory.waitFor('session.established');
    expect(established.port).toBe(bobPort);
    return String(established.token);
  };

  const link = async (session?: Buffer): Promise<RawP2pPeer> => {
    const opened = await RawP2pPeer.connect(bobPort, malloryCertificate, session);
    links.push(opened);
    return opened;
  };

  beforeAll(async () => {
    server = await TestServer.start();
    bob = await HeadlessClient.start('bob', { server: server.address, autoAccept: 'chat' });
    bobPort = Number(bob.seen('ready')[0]?.p2pPort);
    await signupAndLogin(bob, 'bob');
    malloryIdentity = makeIdentity();
    malloryCertificate = await makeIdentityCertificate(malloryIdentity.signPrivateKey);
    const mallory = await TcpTestClient.open(server.tcpPort);
    clients.push(mallory);
    expect(await mallory.request({ type: 'signup', username: 'mallory', password: 'mallory-password', identity: malloryIdentity.publicKeys })).toMatchObject({ type: 'signup.ok' });
    expect(await mallory.login('mallory', 'mallory-password')).toMatchObject({ type: 'login.ok' });
    await mallory.request({ type: 'friend.request', username: 'bob' });
    await bob.request({ cmd: 'friend.accept', username: 'mallory' }, 'friend.added', { username: 'mallory' });
    // The first link: a full handshake proving mallory's registered key, and its tickets.
    const token = await sessionToken(mallory);
    const first = await link();
    expect(first.resumed).toBe(false);
    first.send({ type: 'hello', username: 'mallory', token });
    expect(await first.waitFor('hello.ok')).toMatchObject({ username: 'bob' });
    await bob.waitFor('chat.opened', { username: 'mallory' });
    for (let round = 0; round < 200 && first.tickets.length === 0; round++) await new Promise((done) => setTimeout(done, 10));
    ticket = first.tickets.at(-1)!;
    expect(ticket).toBeDefined();
    first.destroy();
    await bob.waitFor('chat.closed', { username: 'mallory' });
  });

  afterAll(async () => {
    for (const opened of links) opened.destroy();
    for (const client of clients) client.close();
    bob?.kill();
    await server?.close();
    if (bob !== undefined) await rm(bob.downloadDir, { recursive: true, force: true });
  });

  it('still needs the one-time session token: a resumed link without it is refused, with it the chat opens', async () => {
    const token = await sessionToken(clients[0]!);
    const without = await link(ticket);
    expect(without.resumed).toBe(true);
    without.send({ type: 'hello', username: 'mallory', token: 'made-up-token' });
    await without.expectRefused('BAD_SESSION_TOKEN');
    const withToken = await link(ticket);
    expect(withToken.resumed).toBe(true);
    withToken.send({ type: 'hello', username: 'mallory', token });
    expect(await withToken.waitFor('hello.ok')).toMatchObject({ username: 'bob' });
    await bob.waitFor('chat.opened', { username: 'mallory' });
    withToken.destroy();
    await bob.waitFor('chat.closed', { username: 'mallory' });
  });

  it("is refused with PEER_KEY_MISMATCH once the server vouches another key for the caller, though its ticket still resumes", async () => {
    // Mallory logs in with another identity: the server now vouches its key for her.
    const renewed = await TcpTestClient.open(server.tcpPort);
    clients.push(renewed);
    expect(await renewed.request({ type: 'login', username: 'mallory', password: 'mallory-password', identity: makeIdentity().publicKeys })).toMatchObject({ type: 'login.ok' });
    const token = await sessionToken(renewed);
    const stale = await link(ticket);
    expect(stale.resumed).toBe(true);
    stale.send({ type: 'hello', username: 'mallory', token });
    await stale.expectRefused('PEER_KEY_MISMATCH');
    await bob.waitFor('error', { code: 'PEER_KEY_MISMATCH', username: 'mallory' });
  });
});
