import { describe, expect, it } from 'vitest';
import { CLIENT_EVENT_NAMES, parseClientEvent } from '../../cli/dashboard/client-port.ts';
import { FakeClientPort } from '../../cli/dashboard/fake-port.ts';

const at = '2026-01-01T00:00:00.000Z';

describe('parseClientEvent accepts every contract event and rejects the rest without throwing', () => {
  it('knows every event name of CONTRACTS.md section 1, and server.key of section 4', () => {
    expect([...CLIENT_EVENT_NAMES].sort()).toEqual(
      [
        'ready', 'signup.ok', 'logout.ok', 'login.ok', 'friends', 'friend.request', 'friend.requested', 'friend.added',
        'friend.declined', 'presence', 'chat.request', 'chat.opened', 'chat.closed', 'chat.failed', 'chat.message',
        'chat.sent', 'file.offer', 'file.offered', 'file.progress', 'file.received', 'file.sent', 'file.failed',
        'disconnected', 'reconnected', 'error', 'server.key',
      ].sort(),
    );
  });

  it('parses a login.ok with friends and keeps extra fields out of the way', () => {
    const line = JSON.stringify({ event: 'login.ok', at, friends: [{ username: 'bob', nickname: 'Bob', status: 'online' }], extra: 1 });
    const parsed = parseClientEvent(line);
    expect(parsed).toEqual({ ok: true, event: { event: 'login.ok', at, friends: [{ username: 'bob', nickname: 'Bob', status: 'online' }] } });
  });

  it('turns a numeric transfer id into text', () => {
    const parsed = parseClientEvent(JSON.stringify({ event: 'file.progress', at, transferId: 7, bytes: 10, size: 20 }));
    expect(parsed.ok && parsed.event.event === 'file.progress' && parsed.event.transferId).toBe('7');
  });

  it.each([
    ['not json', 'not JSON'],
    ['[]', 'no "event" field'],
    [JSON.stringify({ event: 'nope', at }), 'unknown event "nope"'],
    [JSON.stringify({ event: 'presence', at, username: 'bob', status: 'away' }), 'bad "presence" event'],
    [JSON.stringify({ event: 'chat.message', from: 'bob', text: 'hi' }), 'bad "chat.message" event'],
  ])('rejects %s', (line, reason) => {
    const parsed = parseClientEvent(line);
    expect(parsed.ok).toBe(false);
    expect(!parsed.ok && parsed.reason).toContain(reason);
  });
});

describe('FakeClientPort', () => {
  it('records commands, answers through its responder, and stops after close', async () => {
    const port = new FakeClientPort((command) => (command.cmd === 'friends' ? [{ event: 'friends', friends: [], pending: ['carol'] }] : []));
    const seen: string[] = [];
    port.onEvent((event) => seen.push(event.event));
    let closedReason = '';
    port.onClosed((closed) => (closedReason = closed.reason));
    port.send({ cmd: 'friends' });
    expect(seen).toEqual(['friends']);
    await port.close();
    expect(closedReason).toBe('closed');
    port.send({ cmd: 'friends' });
    expect(port.sent.map((command) => command.cmd)).toEqual(['friends', 'quit']);
  });
});
