/**
 * Hostile and broken input over real TCP never crashes the server: each offender gets its error
 * code (decoded with the real FrameDecoder), at most the offending connection is closed, and a
 * logged-in bystander on the same server keeps working (its heartbeat is still acknowledged).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FRAME_KIND_CONTROL, encodeControl } from '../../../core/codec.ts';
import { PROTOCOL_VERSION } from '../../../core/limits.ts';
import { TcpTestClient, loggedInClient } from '../../helpers/tcp-test-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const UNAUTH_IDLE_MS = 1_000;

describe('real server: bad input closes at most the offending connection', () => {
  let server: TestServer;
  let bystander: TcpTestClient;
  const clients: TcpTestClient[] = [];

  async function open(): Promise<TcpTestClient> {
    const client = await TcpTestClient.open(server.tcpPort);
    clients.push(client);
    return client;
  }

  /** The bystander's session survived: a heartbeat is acknowledged and it is still online. */
  async function bystanderStillServed(): Promise<void> {
    expect(await bystander.request({ type: 'heartbeat' })).toMatchObject({ type: 'heartbeat.ack' });
    expect(server.machine.isOnline('bystander')).toBe(true);
  }

  beforeAll(async () => {
    // A long TTL and a short unauthenticated idle limit: only the silent half-frame client times out.
    server = await TestServer.start({ unauthenticatedIdleMs: UNAUTH_IDLE_MS, ttlMs: 60_000 });
    bystander = (await loggedInClient(server.tcpPort, 'bystander')).client;
    clients.push(bystander);
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await server.close();
  });

  it('garbage bytes: BAD_VERSION, then the connection is closed', async () => {
    const client = await open();
    client.sendRaw(Uint8Array.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x13, 0x37, 0x42, 0x99]));
    await client.waitError('BAD_VERSION');
    await client.waitClosed();
    await bystanderStillServed();
  });

  it('a length prefix of 0xFFFFFFFF: FRAME_TOO_LARGE before any payload is buffered, then closed', async () => {
    const client = await open();
    const header = new Uint8Array(FRAME_HEADER_BYTES);
    const view = new DataView(header.buffer);
    view.setUint8(0, PROTOCOL_VERSION);
    view.setUint8(1, FRAME_KIND_CONTROL);
    view.setUint32(2, 0xffff_ffff);
    client.sendRaw(header);
    await client.waitError('FRAME_TOO_LARGE');
    await client.waitClosed();
    await bystanderStillServed();
  });

  it('half a frame and then silence: UNAUTHENTICATED_TIMEOUT after the idle limit, then closed', async () => {
    const client = await open();
    const frame = encodeControl({ type: 'login', username: 'bystander', password: 'bystander-password' });
    client.sendRaw(frame.subarray(0, Math.floor(frame.byteLength / 2)));
    await client.waitError('UNAUTHENTICATED_TIMEOUT', UNAUTH_IDLE_MS * 10);
    await client.waitClosed();
    await bystanderStillServed();
  });

  it('another protocol (an HTTP request on the chat port): BAD_VERSION, then closed', async () => {
    const client = await open();
    client.sendRaw('GET / HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await client.waitError('BAD_VERSION');
    await client.waitClosed();
    await bystanderStillServed();
  });

  it('a control frame that is not JSON: BAD_JSON, then closed', async () => {
    const client = await open();
    const payload = new TextEncoder().encode('{not json');
    const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
    const view = new DataView(frame.buffer);
    view.setUint8(0, PROTOCOL_VERSION);
    view.setUint8(1, FRAME_KIND_CONTROL);
    view.setUint32(2, payload.byteLength);
    frame.set(payload, FRAME_HEADER_BYTES);
    client.sendRaw(frame);
    await client.waitError('BAD_JSON');
    await client.waitClosed();
    await bystanderStillServed();
  });

  it('an unknown frame type: UNKNOWN_TYPE, and the connection stays usable', async () => {
    const client = await open();
    expect(await client.request({ type: 'teleport', to: 'mars' })).toMatchObject({ type: 'error', code: 'UNKNOWN_TYPE' });
    expect(await client.request({ type: 'login', username: 42 } as Record<string, unknown>)).toMatchObject({ type: 'error', code: 'BAD_FRAME' });
    expect(await client.signup('survivor')).toMatchObject({ type: 'signup.ok' });
    expect(client.closed).toBe(false);
    await bystanderStillServed();
  });

  it('a frame that needs a login, before login: NOT_LOGGED_IN, and the connection stays usable', async () => {
    const client = await open();
    expect(await client.request({ type: 'heartbeat' })).toMatchObject({ type: 'error', code: 'NOT_LOGGED_IN' });
    expect(await client.request({ type: 'session.request', username: 'bystander' })).toMatchObject({ type: 'error', code: 'NOT_LOGGED_IN' });
    expect(await client.request({ type: 'friends.list' })).toMatchObject({ type: 'error', code: 'NOT_LOGGED_IN' });
    expect(client.closed).toBe(false);
    await bystanderStillServed();
  });

  it('counts every error code it sent', () => {
    const errors = server.machine.stats().errors;
    for (const code of ['BAD_VERSION', 'FRAME_TOO_LARGE', 'UNAUTHENTICATED_TIMEOUT', 'BAD_JSON', 'UNKNOWN_TYPE', 'NOT_LOGGED_IN']) {
      expect(errors[code], code).toBeGreaterThanOrEqual(1);
    }
  });
});
