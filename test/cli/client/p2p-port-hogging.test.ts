/**
 * A stranger hogging a client's P2P port, over real TLS: it holds every slot for connections not
 * yet authenticated (P2P_UNAUTHENTICATED_STREAMS_MAX) from one address, saying nothing, and opens
 * a new one as each is reset. Before, the next connection was reset whoever made it, so a friend's
 * chat.open failed `unreachable` for as long as the stranger kept it up; now a connection from
 * another address takes the place of one of the address holding the most.
 */
import tls from 'node:tls';
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { P2P_UNAUTHENTICATED_STREAMS_MAX } from '../../../core/limits.ts';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const STRANGER_ADDRESS = '127.0.0.9';

/** A silent TLS connection from the stranger's address; resolves once its handshake is done. */
function hog(port: number): Promise<{ socket: tls.TLSSocket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    // localAddress is passed on to the TCP socket by node, though its TLS typings leave it out.
    const socket = tls.connect({ host: '127.0.0.1', port, localAddress: STRANGER_ADDRESS, minVersion: 'TLSv1.3', rejectUnauthorized: false } as tls.ConnectionOptions, () =>
      resolve({ socket, closed }),
    );
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    socket.on('error', () => {});
    socket.once('close', () => reject(new Error('closed before its handshake ended')));
  });
}

describe('a stranger holding every unauthenticated slot of a P2P port', () => {
  let server: TestServer;
  let alice: HeadlessClient;
  let bob: HeadlessClient;
  const sockets: tls.TLSSocket[] = [];

  beforeAll(async () => {
    server = await TestServer.start();
    [alice, bob] = await Promise.all([HeadlessClient.start('alice', { server: server.address }), HeadlessClient.start('bob', { server: server.address, autoAccept: 'chat' })]);
    await signupAndLogin(alice, 'alice');
    await signupAndLogin(bob, 'bob');
    await befriend(alice, 'alice', bob, 'bob');
  });

  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    alice?.kill();
    bob?.kill();
    await server?.close();
    for (const client of [alice, bob]) if (client !== undefined) await rm(client.downloadDir, { recursive: true, force: true });
  });

  it("does not keep a friend out: alice's chat.open to bob opens", async () => {
    const bobPort = Number(bob.seen('ready')[0]?.p2pPort);
    for (let i = 0; i < P2P_UNAUTHENTICATED_STREAMS_MAX; i++) sockets.push((await hog(bobPort)).socket);
    // One more from the same address is reset: bob's client holds the others (and no more of the stranger's).
    const extra = await hog(bobPort);
    sockets.push(extra.socket);
    await extra.closed;
    alice.send({ cmd: 'chat.open', username: 'bob' });
    expect(await alice.waitForAny(['chat.opened', 'chat.failed'], { username: 'bob' })).toMatchObject({ event: 'chat.opened' });
    // The stranger lost one connection to make room, no more.
    expect(sockets.filter((socket) => socket.destroyed || socket.readableEnded).length).toBeLessThanOrEqual(2);
  }, 60_000);
});
