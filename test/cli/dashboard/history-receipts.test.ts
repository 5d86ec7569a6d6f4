/**
 * The dashboard's view-model with history, receipts and typing: a reopened chat shows what was
 * said (from the client's `history`), scrolling back asks for the page before, search lists its
 * matches in the events pane, outgoing lines show ✓ / ✓✓ / read, "is typing…" comes and goes, and
 * the dashboard tells the client what the user read and typed (rate-limited).
 */
import { describe, expect, it } from 'vitest';
import { CHAT_TYPING_INTERVAL_MS } from '../../../core/limits.ts';
import type { HistoryStatus } from '../../../core/peer/history.ts';
import type { ClientCommand } from '../../../cli/dashboard/client-port.ts';
import type { EventInput } from '../../../cli/dashboard/fake-port.ts';
import type { KeyInput } from '../../../cli/dashboard/line-editor.ts';
import { HISTORY_LINES_PER_PAGE, TYPING_SHOWN_MS } from '../../../cli/dashboard/limits.ts';
import { type DashboardAction, type DashboardState, initialState, reduce } from '../../../cli/dashboard/view-model.ts';
import { chatLabel, renderChat } from '../../../cli/dashboard/views/render.ts';

const config = { serverAddress: '127.0.0.1:12345', chatRequestTimeoutMs: 30_000, logFile: null, downloadDir: './downloads' };
const at = '2026-01-01T00:00:00.000Z';

class Driver {
  state: DashboardState;
  nowMs = 1_000_000;
  commands: ClientCommand[] = [];
  constructor() {
    this.state = initialState(config, this.nowMs);
  }
  dispatch(action: DashboardAction): this {
    const step = reduce(this.state, action);
    this.state = step.state;
    this.commands.push(...step.commands);
    return this;
  }
  event(event: EventInput): this {
    return this.dispatch({ type: 'event', event: { at, ...event } as never, nowMs: this.nowMs });
  }
  key(key: KeyInput): this {
    return this.dispatch({ type: 'key', key, nowMs: this.nowMs });
  }
  type(text: string): this {
    for (const ch of text) this.key({ ch, name: ch.toLowerCase() });
    return this;
  }
  advance(ms: number): this {
    this.nowMs += ms;
    return this.dispatch({ type: 'tick', nowMs: this.nowMs });
  }
  commandsOf<Name extends ClientCommand['cmd']>(cmd: Name): Extract<ClientCommand, { cmd: Name }>[] {
    return this.commands.filter((command): command is Extract<ClientCommand, { cmd: Name }> => command.cmd === cmd);
  }
  loggedInWithBob(): this {
    this.type('alice').key({ name: 'tab' }).type('password1').key({ name: 'enter' });
    this.event({ event: 'login.ok', username: 'alice', friends: [{ username: 'bob', nickname: 'Bob', status: 'online' }] });
    this.state = { ...this.state, focus: 'friends', friendCursor: 0 };
    this.key({ name: 'enter' });
    return this.event({ event: 'chat.opened', username: 'bob' });
  }
  lines(): string[] {
    return (this.state.sessions[0]?.lines ?? []).map((line) => `${line.kind}:${line.text}`);
  }
}

function record(id: string | number, direction: 'in' | 'out', text: string, status: HistoryStatus) {
  return { id, from: direction === 'in' ? 'bob' : 'alice', username: 'bob', text, at, direction, status, kind: 'message' } as const;
}

describe('dashboard: history', () => {
  it('a reopened chat asks for its history and shows it above the session, without repeating what is on screen', () => {
    const driver = new Driver().loggedInWithBob();
    expect(driver.commandsOf('history')).toEqual([{ cmd: 'history', username: 'bob', limit: HISTORY_LINES_PER_PAGE }]);
    driver.event({ event: 'chat.message', from: 'bob', text: 'new one', id: 'b9' });
    driver.event({
      event: 'history',
      username: 'bob',
      messages: [record('a1', 'out', 'earlier question', 'read'), record('b1', 'in', 'earlier answer', 'read'), record('b9', 'in', 'new one', 'received')],
    });
    expect(driver.lines()).toEqual(['out:earlier question', 'in:earlier answer', 'system:Asking bob for a session…', 'system:Session opened', 'in:new one']);
    expect(driver.state.sessions[0]?.history).toBe('all');
    expect(renderChat(driver.state, 80, 10)).toContain('alice: earlier question ✓✓ read');
  });

  it('scrolling back to the top asks for the page before the oldest line, until a short page says nothing is left', () => {
    const driver = new Driver().loggedInWithBob();
    const page = Array.from({ length: HISTORY_LINES_PER_PAGE }, (_, i) => record(100 + i, 'in', `old ${i}`, 'read'));
    driver.event({ event: 'history', username: 'bob', messages: page });
    expect(driver.state.sessions[0]?.history).toBe('more');
    driver.state = { ...driver.state, focus: 'chat' };
    for (let i = 0; i < 4; i++) driver.key({ name: 'pageup' });
    expect(driver.commandsOf('history').at(-1)).toEqual({ cmd: 'history', username: 'bob', limit: HISTORY_LINES_PER_PAGE, before: 100 });
    driver.event({ event: 'history', username: 'bob', messages: [record(1, 'in', 'the very first', 'read')] });
    expect(driver.lines()[0]).toBe('in:the very first');
    expect(driver.state.sessions[0]?.history).toBe('all');
    const asked = driver.commandsOf('history').length;
    for (let i = 0; i < 10; i++) driver.key({ name: 'pageup' });
    expect(driver.commandsOf('history')).toHaveLength(asked);
  });

  it('search (/ outside the message line) sends history.search and lists the matches in the events pane', () => {
    const driver = new Driver().loggedInWithBob();
    driver.state = { ...driver.state, focus: 'friends' };
    driver.key({ ch: '/', name: '/' }).type('lunch').key({ name: 'enter' });
    expect(driver.commandsOf('history.search')).toEqual([{ cmd: 'history.search', text: 'lunch' }]);
    driver.event({ event: 'history', text: 'lunch', messages: [record('b1', 'in', 'Lunch at noon?', 'read')] });
    const texts = driver.state.events.map((line) => line.text);
    expect(texts).toContain('Search "lunch": 1 found');
    expect(texts.at(-1)).toBe('  2026-01-01 00:00 from bob: Lunch at noon?');
  });
});

describe('dashboard: receipts and typing', () => {
  it('an outgoing line goes … then ✓ (ack), ✓✓ (stored), ✓✓ read; a read receipt covers the earlier lines too', () => {
    const driver = new Driver().loggedInWithBob();
    driver.type('one').key({ name: 'enter' }).type('two').key({ name: 'enter' });
    const [first, second] = driver.commandsOf('chat.send').map((command) => command.id);
    expect(first).not.toBe(second);
    const shown = () => renderChat(driver.state, 80, 10);
    expect(shown()).toContain('alice: two …');
    driver.event({ event: 'chat.sent', username: 'bob', id: second! });
    expect(shown()).toContain('alice: two ✓');
    driver.event({ event: 'chat.delivered', username: 'bob', id: second! });
    expect(shown()).toContain('alice: two ✓✓');
    expect(shown()).toContain('alice: one …');
    driver.event({ event: 'chat.read', username: 'bob', id: second! });
    expect(shown()).toContain('alice: one ✓✓ read');
    expect(shown()).toContain('alice: two ✓✓ read');
  });

  it('a message on screen is told read (chat.read with its id); one in another tab waits until that tab is shown', () => {
    const driver = new Driver().loggedInWithBob();
    driver.event({ event: 'chat.message', from: 'bob', text: 'seen at once', id: 'b1' });
    expect(driver.commandsOf('chat.read')).toEqual([{ cmd: 'chat.read', username: 'bob', id: 'b1' }]);
    driver.event({ event: 'presence', username: 'carol', status: 'online' });
    driver.event({ event: 'chat.opened', username: 'carol' });
    driver.state = { ...driver.state, activePeer: 'bob' };
    driver.event({ event: 'chat.message', from: 'carol', text: 'not seen yet', id: 'c1' });
    expect(driver.commandsOf('chat.read').map((command) => command.username)).toEqual(['bob']);
    driver.key({ ctrl: true, name: 'n' });
    expect(driver.commandsOf('chat.read').at(-1)).toEqual({ cmd: 'chat.read', username: 'carol', id: 'c1' });
  });

  it('typing tells the friend at most once per interval; the friend typing shows in the title for a while', () => {
    const driver = new Driver().loggedInWithBob();
    driver.type('hel');
    expect(driver.commandsOf('chat.typing')).toEqual([{ cmd: 'chat.typing', username: 'bob' }]);
    driver.advance(CHAT_TYPING_INTERVAL_MS).type('lo');
    expect(driver.commandsOf('chat.typing')).toHaveLength(2);
    driver.event({ event: 'chat.typing', from: 'bob' });
    expect(chatLabel(driver.state)).toContain('bob is typing…');
    driver.advance(TYPING_SHOWN_MS);
    expect(chatLabel(driver.state)).not.toContain('typing');
  });
});

describe('dashboard: a friend who is offline', () => {
  function loggedInWithOfflineBob(): Driver {
    const driver = new Driver();
    driver.type('alice').key({ name: 'tab' }).type('password1').key({ name: 'enter' });
    driver.event({ event: 'login.ok', username: 'alice', friends: [{ username: 'bob', nickname: 'Bob', status: 'offline' }] });
    driver.state = { ...driver.state, focus: 'friends', friendCursor: 0 };
    return driver;
  }

  it('Enter on an offline friend opens their history (before: only "is offline"); what is written there goes sealed: ✉, then ✓✓', () => {
    const driver = loggedInWithOfflineBob().key({ name: 'enter' });
    expect(driver.commandsOf('chat.open')).toEqual([]);
    expect(driver.commandsOf('history')).toEqual([{ cmd: 'history', username: 'bob', limit: HISTORY_LINES_PER_PAGE }]);
    expect(driver.state.sessions[0]).toMatchObject({ peer: 'bob', state: 'mailbox' });
    expect(driver.state.activePeer).toBe('bob');
    expect(driver.state.focus).toBe('input');
    driver.event({ event: 'history', username: 'bob', messages: [record('a1', 'out', 'see you monday', 'read'), record('b1', 'in', 'bye!', 'read')] });
    expect(driver.lines()).toEqual(['out:see you monday', 'in:bye!']);
    expect(chatLabel(driver.state)).toBe('Chat with bob · no session: messages wait sealed at the server');
    driver.type('call me').key({ name: 'enter' });
    const [send] = driver.commandsOf('chat.send');
    expect(send).toMatchObject({ cmd: 'chat.send', username: 'bob', text: 'call me' });
    expect(renderChat(driver.state, 80, 10)).toContain('alice: call me …');
    driver.event({ event: 'chat.queued', username: 'bob', id: send!.id! });
    expect(renderChat(driver.state, 80, 10)).toContain('alice: call me ✉');
    driver.event({ event: 'chat.delivered', username: 'bob', id: send!.id! });
    expect(renderChat(driver.state, 80, 10)).toContain('alice: call me ✓✓');
    // Once bob is back, Enter on him asks for a session from the same tab.
    driver.event({ event: 'presence', username: 'bob', status: 'online' });
    driver.state = { ...driver.state, focus: 'friends', friendCursor: 0 };
    driver.key({ name: 'enter' });
    expect(driver.commandsOf('chat.open')).toEqual([{ cmd: 'chat.open', username: 'bob' }]);
    expect(driver.state.sessions).toHaveLength(1);
    expect(driver.commandsOf('history')).toHaveLength(1);
  });

  it('a history record still held by the server shows ✉; a message the server refused (MAILBOX_FULL) shows ✗', () => {
    const driver = loggedInWithOfflineBob().key({ name: 'enter' });
    driver.event({ event: 'history', username: 'bob', messages: [record('a1', 'out', 'waiting for bob', 'queued')] });
    expect(renderChat(driver.state, 80, 10)).toContain('alice: waiting for bob ✉');
    driver.type('one more').key({ name: 'enter' });
    const id = driver.commandsOf('chat.send')[0]!.id!;
    driver.event({ event: 'error', code: 'MAILBOX_FULL', message: 'the mailbox is full', username: 'bob', id });
    expect(renderChat(driver.state, 80, 10)).toContain('alice: one more ✗');
  });

  it('a sealed message waiting at login opens a mailbox tab (before: a tab marked open with no session), dated when it was written, history above it', () => {
    const driver = loggedInWithOfflineBob();
    const sentAtMs = driver.nowMs - 3_600_000;
    driver.event({ event: 'chat.message', from: 'bob', text: 'are you there?', id: 'b7', offline: true, sentAtMs });
    expect(driver.state.sessions[0]).toMatchObject({ peer: 'bob', state: 'mailbox' });
    expect(driver.state.sessions[0]?.lines.at(-1)).toMatchObject({ kind: 'in', text: 'are you there?', atMs: sentAtMs });
    expect(driver.commandsOf('history')).toEqual([{ cmd: 'history', username: 'bob', limit: HISTORY_LINES_PER_PAGE }]);
    // A sender's clock ahead of ours never dates a message in the future.
    driver.event({ event: 'chat.message', from: 'bob', text: 'from the future', id: 'b8', offline: true, sentAtMs: driver.nowMs + 86_400_000 });
    expect(driver.state.sessions[0]?.lines.at(-1)?.atMs).toBe(driver.nowMs);
  });

  it('scrolling back in a mailbox tab asks for the page before, as in any chat', () => {
    const driver = loggedInWithOfflineBob().key({ name: 'enter' });
    const page = Array.from({ length: HISTORY_LINES_PER_PAGE }, (_, i) => record(200 + i, 'in', `old ${i}`, 'read'));
    driver.event({ event: 'history', username: 'bob', messages: page });
    for (let i = 0; i < 4; i++) driver.key({ name: 'pageup' });
    expect(driver.commandsOf('history').at(-1)).toEqual({ cmd: 'history', username: 'bob', limit: HISTORY_LINES_PER_PAGE, before: 200 });
  });
});

describe('dashboard: date lines in the chat pane', () => {
  const local = (day: number, hour: number, minute = 0) => new Date(2026, 10, day, hour, minute).getTime();

  function paneWith(nowMs: number, times: readonly number[]): string[] {
    const driver = new Driver().loggedInWithBob();
    const lines = times.map((atMs, i) => ({ kind: 'in' as const, text: `m${i}`, atMs, id: `b${i}` }));
    driver.state = { ...driver.state, nowMs, sessions: driver.state.sessions.map((session) => ({ ...session, lines })) };
    return renderChat(driver.state, 60, 20)
      .split('\n')
      .slice(1)
      .map((row) => row.replace(/\{[^}]*\}/g, ''));
  }

  it('a line names the day wherever it changes, and above the oldest line when that is not today', () => {
    const rows = paneWith(local(25, 9), [local(23, 22), local(24, 23, 59), local(25, 0, 1), local(25, 8)]);
    expect(rows).toEqual(['── Mon 23 Nov 2026 ──', '22:00 bob: m0', '── Yesterday ──', '23:59 bob: m1', '── Today ──', '00:01 bob: m2', '08:00 bob: m3']);
  });

  it('no date line when everything shown is from today', () => {
    const rows = paneWith(local(25, 9), [local(25, 7), local(25, 8)]);
    expect(rows).toEqual(['07:00 bob: m0', '08:00 bob: m1']);
  });
});
