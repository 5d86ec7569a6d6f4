import { describe, expect, it } from 'vitest';
import { CLIENT_EVENT_NAMES, clientEventSchema } from '../../../core/peer/events.ts';
import { parseClientEvent } from '../../../cli/dashboard/client-port.ts';
import { FakeClientPort } from '../../../cli/dashboard/fake-port.ts';
import { type DashboardState, initialState, reduce } from '../../../cli/dashboard/view-model.ts';
import { sampleOf } from '../../helpers/schema-samples.ts';

const at = '2026-01-01T00:00:00.000Z';
const config = { serverAddress: '127.0.0.1:12345', chatRequestTimeoutMs: 30_000, logFile: '/tmp/p2pchat-client.log', downloadDir: './downloads' };

/** One sample of every event the core can emit, built from the core's own list (core/peer/events.ts). */
const everyEvent = clientEventSchema.options.map((option) => sampleOf(option) as { event: string });

describe('the dashboard understands every event the core can emit', () => {
  it('has one sample per event name of the vocabulary, friend.removed among them', () => {
    expect(everyEvent.map((event) => event.event)).toEqual([...CLIENT_EVENT_NAMES]);
    expect(CLIENT_EVENT_NAMES).toContain('friend.removed');
  });

  it.each(everyEvent.map((event) => [event.event, event] as const))('parses a %s line, extra fields stripped', (_name, event) => {
    const parsed = parseClientEvent(JSON.stringify({ ...event, at, extra: 1 }));
    expect(parsed).toEqual({ ok: true, event: { ...event, at } });
  });

  it('takes every event into its view-model without throwing', () => {
    let state: DashboardState = initialState(config, 0);
    for (const event of everyEvent) {
      const parsed = parseClientEvent(JSON.stringify({ ...event, at }));
      if (!parsed.ok) throw new Error(parsed.reason);
      state = reduce(state, { type: 'event', event: parsed.event, nowMs: 0 }).state;
    }
    expect(state.events.length).toBeGreaterThan(0);
  });
});

describe('parseClientEvent rejects what is not in the vocabulary without throwing', () => {
  it.each([
    ['not json', 'not JSON'],
    ['[]', 'no "event" field'],
    [JSON.stringify({ event: 'nope', at }), 'unknown event "nope"'],
    [JSON.stringify({ event: 'presence', at, username: 'bob', status: 'away' }), 'bad "presence" event'],
    [JSON.stringify({ event: 'chat.message', from: 'bob', text: 'hi', id: 1 }), 'bad "chat.message" event'],
    [JSON.stringify({ event: 'file.progress', at, transferId: 7, bytes: 10, size: 20 }), 'bad "file.progress" event'],
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
