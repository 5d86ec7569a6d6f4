/**
 * The abuse attacks of docs/SECURITY.md replayed from outside, over real TCP from distinct loopback source
 * addresses, against the real server with its default per-address limits (the in-process server
 * lifts them for other tests; here they are put back). The figures in docs/SECURITY.md "Abuse resistance"
 * come from this replay and from test/core/server/server-abuse.test.ts.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BenchConnection, ServerError } from '../../../bench/protocol-client.ts';
import {
  AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
  CONNECTIONS_PER_ADDRESS_MAX,
  FRIEND_REQUESTS_PER_USER_BURST,
  LOGIN_GUESSES_FREE,
  SIGNUPS_PER_ADDRESS_BURST,
  SIGNUPS_PER_ADDRESS_PER_HOUR,
  UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
} from '../../../core/limits.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const REPLY_MS = 10_000;
let server: TestServer;

beforeAll(async () => {
  server = await TestServer.start({
    authRatePerAddress: AUTH_ATTEMPTS_PER_ADDRESS_PER_SEC,
    signupsPerAddressPerHour: SIGNUPS_PER_ADDRESS_PER_HOUR,
    connectionsPerAddress: CONNECTIONS_PER_ADDRESS_MAX,
    unauthConnectionsPerAddress: UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX,
  });
});

afterAll(async () => {
  await server.close();
});

/** The reply's type, or the error's code. */
async function outcome(reply: Promise<{ type: string }>): Promise<string> {
  return reply.then(
    (frame) => frame.type,
    (error: unknown) => (error instanceof ServerError ? String(error.frame.code) : String(error)),
  );
}

describe('the abuse attacks replayed from outside', () => {
  it('sign-ups from one address: the burst, then RATE_LIMITED; the owner is not locked out by a stranger guessing', async () => {
    const mint = await BenchConnection.connect({ port: server.tcpPort, localAddress: '127.0.0.50', timeoutMs: REPLY_MS });
    const signups: string[] = [];
    for (let i = 0; i < 10; i++) signups.push(await outcome(mint.request({ type: 'signup', username: `mint${i}`, password: 'long enough' }, 'signup.ok', REPLY_MS)));
    mint.destroy();
    expect(signups.filter((s) => s === 'signup.ok')).toHaveLength(SIGNUPS_PER_ADDRESS_BURST);
    expect(signups.slice(SIGNUPS_PER_ADDRESS_BURST).every((s) => s === 'RATE_LIMITED')).toBe(true);

    const stranger = await BenchConnection.connect({ port: server.tcpPort, localAddress: '127.0.0.60', timeoutMs: REPLY_MS });
    const guesses: string[] = [];
    for (let i = 0; i < 2 * LOGIN_GUESSES_FREE; i++) guesses.push(await outcome(stranger.request({ type: 'login', username: 'mint0', password: 'wrong guess' }, 'login.ok', REPLY_MS)));
    stranger.destroy();
    expect(guesses.slice(0, LOGIN_GUESSES_FREE).every((g) => g === 'BAD_CREDENTIALS')).toBe(true);
    expect(guesses.slice(LOGIN_GUESSES_FREE).every((g) => g === 'RATE_LIMITED')).toBe(true);
    const owner = await BenchConnection.connect({ port: server.tcpPort, localAddress: '127.0.0.61', timeoutMs: REPLY_MS });
    expect(await outcome(owner.request({ type: 'login', username: 'mint0', password: 'long enough' }, 'login.ok', REPLY_MS))).toBe('login.ok');
    owner.destroy();
  }, 60_000);

  it(`a stranger asking and withdrawing a friend request in a loop reaches its target ${FRIEND_REQUESTS_PER_USER_BURST} times, then RATE_LIMITED`, async () => {
    // Unbounded before: 1,800 friend.incoming a second at the target, and every other user's
    // requests held up by seconds behind the store's fsyncs.
    const login = async (username: string, localAddress: string): Promise<BenchConnection> => {
      const connection = await BenchConnection.connect({ port: server.tcpPort, localAddress, timeoutMs: REPLY_MS });
      await connection.request({ type: 'signup', username, password: 'long enough' }, 'signup.ok', REPLY_MS);
      await connection.request({ type: 'login', username, password: 'long enough' }, 'login.ok', REPLY_MS);
      return connection;
    };
    const victim = await login('flooded', '127.0.0.80');
    const mallory = await login('flooder', '127.0.0.81');
    let incoming = 0;
    victim.onPush('friend.incoming', () => (incoming += 1));
    const refusals: string[] = [];
    mallory.onPush('friend.requested', () => {});
    mallory.onPush('friend.removed', () => {});
    mallory.onPush('error', (frame) => refusals.push(String(frame.code)));
    const loops = 5 * FRIEND_REQUESTS_PER_USER_BURST;
    for (let i = 0; i < loops; i++) {
      mallory.send({ type: 'friend.request', username: 'flooded' });
      mallory.send({ type: 'friend.remove', username: 'flooded' });
    }
    // The server answers in order: once this is answered, every loop was.
    await mallory.request({ type: 'friends.list', id: 999_999 }, 'friends', REPLY_MS);
    await victim.request({ type: 'friends.list' }, 'friends', REPLY_MS);
    expect(incoming).toBe(FRIEND_REQUESTS_PER_USER_BURST);
    // Each refused request is RATE_LIMITED, and its withdrawal NOT_FRIENDS (nothing to withdraw).
    expect(refusals.filter((code) => code === 'RATE_LIMITED')).toHaveLength(loops - FRIEND_REQUESTS_PER_USER_BURST);
    victim.destroy();
    mallory.destroy();
  }, 60_000);

  it(`one address holds at most ${UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX} idle connections; another address still gets in`, async () => {
    // Through the TLS handshake (the server's default): a connection reaches the server's limits
    // once its handshake is done.
    const sockets: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    await Promise.all(
      Array.from({ length: 100 }, () =>
        new Promise<void>((resolve) => {
          // localAddress is passed on to the TCP socket by node, though its TLS typings leave it out.
          const socket = tls.connect({ port: server.tcpPort, host: '127.0.0.1', localAddress: '127.0.0.70', rejectUnauthorized: false } as tls.ConnectionOptions, () => resolve());
          sockets.push(socket);
          socket.resume();
          socket.on('error', () => resolve());
          socket.on('close', () => closed.add(socket));
        }),
      ),
    );
    // Each refused socket gets TOO_MANY_CONNECTIONS and a close: wait for them, bounded.
    for (let waited = 0; closed.size < 100 - UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX && waited < 10_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    expect(sockets.length - closed.size).toBe(UNAUTHENTICATED_CONNECTIONS_PER_ADDRESS_MAX);
    const other = await BenchConnection.connect({ port: server.tcpPort, localAddress: '127.0.0.71', timeoutMs: REPLY_MS });
    expect(other.open).toBe(true);
    other.destroy();
    for (const socket of sockets) socket.destroy();
  }, 60_000);
});
