/**
 * The real server over real TCP on loopback: the seed's use cases end to end, through the same
 * codec the clients use, with SQLite and scrypt underneath.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TcpTestClient, loggedInClient } from '../helpers/tcp-test-client.ts';
import { type TestServer, startTestServer } from './server-fixture.ts';

const SESSION_TIMEOUT_MS = 1_000;

describe('real server: accounts, friends, presence and sessions over TCP', () => {
  let server: TestServer;
  const clients: TcpTestClient[] = [];

  async function user(name: string): Promise<TcpTestClient> {
    const { client } = await loggedInClient(server.tcpPort, name);
    clients.push(client);
    return client;
  }

  async function open(): Promise<TcpTestClient> {
    const client = await TcpTestClient.open(server.tcpPort);
    clients.push(client);
    return client;
  }

  /** Makes two logged-in users friends. */
  async function befriend(a: TcpTestClient, nameA: string, b: TcpTestClient, nameB: string): Promise<void> {
    expect(await a.request({ type: 'friend.request', username: nameB })).toMatchObject({ type: 'friend.requested', username: nameB });
    await b.waitFor('friend.incoming', (f) => f.from === nameA);
    expect(await b.request({ type: 'friend.accept', username: nameA })).toMatchObject({ type: 'friend.added', username: nameA });
    await a.waitFor('friend.added', (f) => f.username === nameB);
  }

  beforeAll(async () => {
    server = await startTestServer({ sessionTimeoutMs: SESSION_TIMEOUT_MS });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('signs up a new account, and refuses the same username twice', async () => {
    const first = await open();
    expect(await first.signup('carol')).toMatchObject({ type: 'signup.ok', username: 'carol' });
    const second = await open();
    expect(await second.signup('carol', 'another-password')).toMatchObject({ type: 'error', code: 'USERNAME_TAKEN' });
    expect(server.machine.hasAccount('carol')).toBe(true);
  });

  it('refuses a wrong password and an unknown user with the same BAD_CREDENTIALS', async () => {
    const client = await open();
    expect(await client.signup('dave')).toMatchObject({ type: 'signup.ok' });
    expect(await client.login('dave', 'not-daves-password')).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    expect(await client.login('nobody-here', 'whatever-password')).toMatchObject({ type: 'error', code: 'BAD_CREDENTIALS' });
    expect(await client.login('dave')).toMatchObject({ type: 'login.ok', username: 'dave' });
  });

  it('befriends by request and accept, and a later login returns the friend list with status', async () => {
    const erin = await user('erin');
    const frank = await user('frank');
    await befriend(erin, 'erin', frank, 'frank');
    const again = await open();
    const login = await again.login('frank');
    // frank took over his own session: no presence flap, and the friend list shows erin online.
    expect(login).toMatchObject({ type: 'login.ok', resumed: true, friends: [{ username: 'erin', status: 'online' }] });
  });

  it('pushes presence to friends on login and on logout', async () => {
    const gina = await user('gina');
    const hank = await user('hank');
    await befriend(gina, 'gina', hank, 'hank');
    expect(await hank.request({ type: 'logout' })).toMatchObject({ type: 'logout.ok' });
    await gina.waitFor('presence', (f) => f.username === 'hank' && f.status === 'offline');
    const login = await hank.login('hank');
    expect(login).toMatchObject({ type: 'login.ok', friends: [{ username: 'gina', status: 'online' }] });
    await gina.waitFor('presence', (f) => f.username === 'hank' && f.status === 'online');
  });

  it('brokers an accepted session: both sides get the same token, only the caller gets host and port', async () => {
    const ivan = await user('ivan');
    const judy = await user('judy');
    await befriend(ivan, 'ivan', judy, 'judy');
    expect(await ivan.request({ type: 'session.request', username: 'judy' })).toMatchObject({ type: 'session.pending', username: 'judy' });
    const incoming = await judy.waitFor('session.incoming', (f) => f.from === 'ivan');
    const answered = await judy.request({ type: 'session.answer', requestId: incoming.requestId, accept: true, host: '127.0.0.1', port: 40_000 });
    expect(answered).toMatchObject({ type: 'session.answered', accept: true });
    const callerSide = await ivan.waitFor('session.established');
    const calleeSide = await judy.waitFor('session.established');
    expect(callerSide).toMatchObject({ role: 'caller', username: 'judy', host: '127.0.0.1', port: 40_000 });
    expect(calleeSide).toMatchObject({ role: 'callee', username: 'ivan' });
    expect(calleeSide.host).toBeUndefined();
    expect(calleeSide.token).toBe(callerSide.token);
    expect(callerSide.token.length).toBeGreaterThanOrEqual(16);
  });

  it('tells the caller when the callee rejects', async () => {
    const kate = await user('kate');
    const liam = await user('liam');
    await befriend(kate, 'kate', liam, 'liam');
    kate.send({ type: 'session.request', username: 'liam' });
    const incoming = await liam.waitFor('session.incoming');
    await liam.request({ type: 'session.answer', requestId: incoming.requestId, accept: false });
    expect(await kate.waitFor('session.failed')).toMatchObject({ username: 'liam', reason: 'rejected' });
  });

  it('fails a session request nobody answers, after the session timeout', async () => {
    const mona = await user('mona');
    const nick = await user('nick');
    await befriend(mona, 'mona', nick, 'nick');
    mona.send({ type: 'session.request', username: 'nick' });
    await nick.waitFor('session.incoming');
    expect(await mona.waitFor('session.failed', () => true, SESSION_TIMEOUT_MS * 5)).toMatchObject({ username: 'nick', reason: 'timeout' });
    expect(await nick.waitFor('session.withdrawn')).toMatchObject({ from: 'mona', reason: 'timeout' });
  });

  it('refuses a session with someone who is not a friend', async () => {
    const olga = await user('olga');
    await user('pete');
    expect(await olga.request({ type: 'session.request', username: 'pete' })).toMatchObject({ type: 'session.failed', reason: 'not-friends' });
  });

  it('resumes with the resume token after a dropped connection, without a presence flap', async () => {
    const { client: quin, login } = await loggedInClient(server.tcpPort, 'quin');
    clients.push(quin);
    const rosa = await user('rosa');
    await befriend(quin, 'quin', rosa, 'rosa');
    quin.close();
    await quin.waitClosed();
    const resumed = await open();
    expect(await resumed.request({ type: 'resume', username: 'quin', token: login.resumeToken })).toMatchObject({ type: 'login.ok', resumed: true });
    expect(await resumed.request({ type: 'resume', username: 'quin', token: 'not-the-token' })).toMatchObject({ type: 'error' });
    // A round trip on rosa's connection: anything the server sent her before it has arrived.
    expect(await rosa.request({ type: 'heartbeat' })).toMatchObject({ type: 'heartbeat.ack' });
    expect(rosa.pending().filter((f) => f.type === 'presence')).toEqual([]);
  });
});

describe('real server: heartbeat TTL', () => {
  const TTL_MS = 1_000;
  let server: TestServer;
  const clients: TcpTestClient[] = [];

  beforeAll(async () => {
    server = await startTestServer({ ttlMs: TTL_MS });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server.stop();
  });

  it('logs out a silent client after the TTL and tells its friend it is offline', async () => {
    const { client: silent } = await loggedInClient(server.tcpPort, 'silent');
    const { client: alive } = await loggedInClient(server.tcpPort, 'alive');
    clients.push(silent, alive);
    expect(await silent.request({ type: 'friend.request', username: 'alive' })).toMatchObject({ type: 'friend.requested' });
    expect(await alive.request({ type: 'friend.accept', username: 'silent' })).toMatchObject({ type: 'friend.added' });
    // Only `alive` heartbeats (bounded: at most 40 beats), `silent` says nothing more.
    let beats = 0;
    const heartbeat = setInterval(() => {
      if (beats++ < 40) alive.send({ type: 'heartbeat' });
    }, TTL_MS / 4);
    try {
      await alive.waitFor('presence', (f) => f.username === 'silent' && f.status === 'offline', TTL_MS * 5);
      await silent.waitError('HEARTBEAT_TIMEOUT');
      expect(server.machine.isOnline('silent')).toBe(false);
      expect(server.machine.isOnline('alive')).toBe(true);
    } finally {
      clearInterval(heartbeat);
    }
  });
});

describe('real server with --tls off (loopback labs, raw-frame tools)', () => {
  it('speaks plain frames on a loopback address and says so on /api/v1/stats', async () => {
    const plain = await startTestServer({ tls: false });
    try {
      expect(plain.tlsFingerprint).toBeNull();
      const client = await TcpTestClient.open(plain.tcpPort, true);
      expect((await client.signup('plainuser')).type).toBe('signup.ok');
      expect((await client.login('plainuser')).type).toBe('login.ok');
      client.close();
      const stats = (await (await fetch(`http://127.0.0.1:${plain.httpPort}/api/v1/stats`)).json()) as { tls: unknown };
      expect(stats.tls).toEqual({ enabled: false, fingerprint: null });
    } finally {
      await plain.stop();
    }
  });
});
