/**
 * Hostile input on a client's P2P port, over real TCP: a stranger without a token, a replayed
 * (used) token and a token presented under another name are refused with BAD_SESSION_TOKEN and
 * a close; offered names that try to leave the download directory land safely inside it.
 *
 * "mallory" is played by the test itself: a raw client of the server (to get a real session
 * token) and a raw P2P peer speaking the frames of core/peer/frames.ts.
 */
import { createHash } from 'node:crypto';
import { readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeData } from '../../../core/codec.ts';
import { HeadlessClient, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';
import { TcpTestClient } from '../../helpers/tcp-test-client.ts';
import { RawP2pPeer } from '../../helpers/raw-p2p-peer.ts';
import { type ClientIdentity, makeIdentity } from '../../../cli/client/identity-keys.ts';
import { type IdentityCertificate, makeIdentityCertificate } from '../../../cli/net/identity-certificate.ts';

describe('P2P port: tokens and offered names', () => {
  let server: TestServer;
  let bob: HeadlessClient;
  let bobPort: number;
  let mallory: TcpTestClient;
  let token: string;
  const peers: RawP2pPeer[] = [];
  /** Mallory's registered identity, and another one (a man in the middle's). */
  let malloryIdentity: ClientIdentity;
  let malloryCertificate: IdentityCertificate;
  let otherCertificate: IdentityCertificate;

  beforeAll(async () => {
    server = await TestServer.start();
    bob = await HeadlessClient.start('bob', { server: server.address, autoAccept: 'chat,file' });
    bobPort = Number(bob.seen('ready')[0]?.p2pPort);
    await signupAndLogin(bob, 'bob');
    malloryIdentity = makeIdentity();
    malloryCertificate = await makeIdentityCertificate(malloryIdentity.signPrivateKey);
    otherCertificate = await makeIdentityCertificate(makeIdentity().signPrivateKey);
    mallory = await TcpTestClient.open(server.tcpPort);
    expect(await mallory.request({ type: 'signup', username: 'mallory', password: 'mallory-password', identity: malloryIdentity.publicKeys })).toMatchObject({ type: 'signup.ok' });
    expect(await mallory.login('mallory', 'mallory-password')).toMatchObject({ type: 'login.ok' });
    await mallory.request({ type: 'friend.request', username: 'bob' });
    await bob.request({ cmd: 'friend.accept', username: 'mallory' }, 'friend.added', { username: 'mallory' });
    mallory.send({ type: 'session.request', username: 'bob' });
    const established = await mallory.waitFor('session.established');
    expect(established.port).toBe(bobPort);
    token = established.token;
  });

  afterAll(async () => {
    for (const peer of peers) peer.destroy();
    mallory?.close();
    bob?.kill();
    await server?.close();
    if (bob !== undefined) await rm(bob.downloadDir, { recursive: true, force: true });
  });

  const connect = async (certificate = malloryCertificate): Promise<RawP2pPeer> => {
    const peer = await RawP2pPeer.connect(bobPort, certificate);
    peers.push(peer);
    return peer;
  };

  it('refuses a stranger without a token', async () => {
    const noToken = await connect();
    noToken.send({ type: 'hello', username: 'mallory', token: 'made-up-token' });
    await noToken.expectRefused();
    const noHello = await connect();
    noHello.send({ type: 'msg', id: 1, text: 'hi' });
    await noHello.expectRefused();
    const bytes = await connect();
    bytes.sendBytes(encodeData(1, 0, new Uint8Array(16)));
    await bytes.expectRefused();
  });

  it('refuses the real token presented under another name', async () => {
    const wrongName = await connect();
    wrongName.send({ type: 'hello', username: 'alice', token });
    await wrongName.expectRefused();
  });

  it('refuses the real token from a link that proves another key than the one vouched for, and keeps the token', async () => {
    const middle = await connect(otherCertificate);
    middle.send({ type: 'hello', username: 'mallory', token });
    await middle.expectRefused('PEER_KEY_MISMATCH');
    expect(middle.frames.some((frame) => frame.type === 'hello.ok')).toBe(false);
    await bob.waitFor('error', { code: 'PEER_KEY_MISMATCH', username: 'mallory' });
  });

  it('accepts the token once, then refuses it used', async () => {
    const first = await connect();
    first.send({ type: 'hello', username: 'mallory', token });
    expect(await first.waitFor('hello.ok')).toMatchObject({ username: 'bob' });
    await bob.waitFor('chat.opened', { username: 'mallory' });
    const replay = await connect();
    replay.send({ type: 'hello', username: 'mallory', token });
    await replay.expectRefused();

    // Offered names that try to leave the download directory.
    const names = ['../../etc/passwd', '/tmp/x', '..', 'a\u0000b\u001b[31m.txt', 'C:\\Windows\\evil.bat'];
    const content = new TextEncoder().encode('not what you think\n');
    const sha256 = createHash('sha256').update(content).digest('hex');
    first.send({
      type: 'file.offer',
      files: names.map((name, i) => ({ transferId: `m${i}`, stream: i + 1, name, size: content.byteLength })),
    });
    for (let i = 0; i < names.length; i++) await first.waitFor('file.accept');
    // The bytes, then the final frame with their digest.
    for (let i = 0; i < names.length; i++) {
      first.sendBytes(encodeData(i + 1, 0, content));
      first.send({ type: 'file.end', transferId: `m${i}`, sha256 });
    }
    const paths: string[] = [];
    for (let i = 0; i < names.length; i++) {
      const received = await bob.waitFor('file.received', { transferId: `m${i}` });
      paths.push(String(received.path));
    }
    for (const path of paths) expect(dirname(path)).toBe(bob.downloadDir);
    // Only the last component survives, without control characters; '..' becomes a fallback name.
    expect(paths).toEqual(['passwd', 'x', 'received-file', 'ab[31m.txt', 'evil.bat'].map((name) => join(bob.downloadDir, name)));
    expect((await readdir(bob.downloadDir)).sort()).toEqual(['ab[31m.txt', 'evil.bat', 'passwd', 'received-file', 'x']);
    expect(await first.waitFor('file.ok')).toMatchObject({ type: 'file.ok' });
  });
});
