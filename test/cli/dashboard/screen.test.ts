import { afterEach, describe, expect, it } from 'vitest';
import { DashboardApp } from '../../../cli/dashboard/app.ts';
import type { ClientCommand } from '../../../cli/dashboard/client-port.ts';
import { type EventInput, FakeClientPort } from '../../../cli/dashboard/fake-port.ts';
import { type FakeTerminal, KEYS, createFakeTerminal, settle } from './helpers/fake-terminal.ts';

const config = { serverAddress: '127.0.0.1:12345', chatRequestTimeoutMs: 30_000, logFile: '/tmp/p2pchat-client.log', downloadDir: './downloads' };

/** A scripted client: accepts alice/password1, knows bob (online) and carol (offline). */
function responder(command: ClientCommand): EventInput[] {
  switch (command.cmd) {
    case 'login':
      if (command.password !== 'password1') return [{ event: 'error', code: 'BAD_CREDENTIALS', message: 'wrong username or password' }];
      return [{ event: 'login.ok', username: command.username, friends: [{ username: 'bob', nickname: 'Bob', status: 'online' }, { username: 'carol', nickname: 'carol', status: 'offline' }] }];
    case 'chat.open':
      return [{ event: 'chat.opened', username: command.username }];
    case 'chat.send':
      return [{ event: 'chat.sent', username: command.username, id: '1' }];
    default:
      return [];
  }
}

let terminal: FakeTerminal | null = null;
let app: DashboardApp | null = null;
let nowMs = 1_700_000_000_000;

async function start(cols = 100, rows = 30): Promise<{ terminal: FakeTerminal; app: DashboardApp; port: FakeClientPort }> {
  terminal = createFakeTerminal(cols, rows);
  const port = new FakeClientPort(responder);
  app = new DashboardApp({ screen: terminal.screen, port, config, now: () => nowMs, tickMs: 0 });
  port.emit({ event: 'ready', p2pHost: '127.0.0.1', p2pPort: 40000 });
  await settle();
  return { terminal, app, port };
}

function screenHas(lines: string[], text: string): boolean {
  return lines.some((line) => line.includes(text));
}

async function logIn(term: FakeTerminal): Promise<void> {
  await term.type('alice');
  await term.type(KEYS.tab);
  await term.type('password1');
  await term.type(KEYS.enter);
}

afterEach(() => {
  app = null;
  terminal?.destroy();
  terminal = null;
});

describe('login screen', () => {
  it('shows the form with the password masked and the server address', async () => {
    const { terminal } = await start();
    await terminal.type('alice');
    await terminal.type(KEYS.tab);
    await terminal.type('secretpw');
    const text = terminal.text();
    expect(screenHas(text, 'Username  alice')).toBe(true);
    expect(screenHas(text, 'Password  ********')).toBe(true);
    expect(text.join('\n')).not.toContain('secretpw');
    expect(screenHas(text, 'Server 127.0.0.1:12345')).toBe(true);
    // The connection state is said once, in the status bar (not "client ready" and "· ready").
    expect(text.join('\n').match(/ready/g)).toEqual(['ready']);
    expect(screenHas(text, '○ client ready')).toBe(true);
  });

  it('shows a wrong password inline and stays on the form', async () => {
    const { terminal } = await start();
    await terminal.type('alice');
    await terminal.type(KEYS.tab);
    await terminal.type('nope-nope');
    await terminal.type(KEYS.enter);
    expect(screenHas(terminal.text(), '✗ Wrong username or password (BAD_CREDENTIALS)')).toBe(true);
    expect(screenHas(terminal.text(), 'Log in to chat')).toBe(true);
  });

  it('switches to sign-up with F2 and shows the nickname field', async () => {
    const { terminal } = await start();
    await terminal.type(KEYS.f2);
    const text = terminal.text();
    expect(screenHas(text, 'Create an account')).toBe(true);
    expect(screenHas(text, 'Nickname')).toBe(true);
    expect(screenHas(text, 'p2pchat · sign up')).toBe(true);
  });
});

describe('main screen', () => {
  it('after login shows friends with status symbols, the status bar and the events', async () => {
    const { terminal } = await start();
    await logIn(terminal);
    const text = terminal.text();
    expect(screenHas(text, '● bob (Bob)')).toBe(true);
    expect(screenHas(text, '○ carol')).toBe(true);
    expect(screenHas(text, 'Friends 1/2 online')).toBe(true);
    expect(screenHas(text, 'server 127.0.0.1:12345 │ ● connected │ user alice')).toBe(true);
    expect(screenHas(text, 'Logged in as alice; 1 of 2 friends online')).toBe(true);
  });

  it('opens a chat with Enter on a friend, sends typed text with Enter, shows both sides', async () => {
    const { terminal, port } = await start();
    await logIn(terminal);
    await terminal.type(KEYS.enter); // bob is selected
    await terminal.type('hello bob');
    await terminal.type(KEYS.enter);
    port.emit({ event: 'chat.message', from: 'bob', text: 'hi alice {not a tag}', id: '7' });
    await settle();
    const text = terminal.text();
    expect(port.sentOf('chat.send')).toEqual([{ cmd: 'chat.send', username: 'bob', text: 'hello bob', id: expect.stringMatching(/^d[0-9a-z]+-1$/) }]);
    expect(screenHas(text, 'alice: hello bob ✓')).toBe(true);
    expect(screenHas(text, 'bob: hi alice {not a tag}')).toBe(true);
    expect(screenHas(text, '[bob]')).toBe(true);
  });

  it('typing fast never loses or doubles a character, whatever arrives in one chunk', async () => {
    const { terminal, port } = await start();
    await logIn(terminal);
    await terminal.type(KEYS.enter);
    const message = 'The quick brown fox: q? a f x i 123 {} é 😀 end';
    terminal.input.write(message); // one chunk, as a paste
    await settle();
    await terminal.type('!');
    await terminal.type(KEYS.enter);
    expect(port.sentOf('chat.send').map((command) => command.text)).toEqual([`${message}!`]);
    // One Enter sent one message (blessed reports CR as both "enter" and "return").
    await terminal.type('second');
    await terminal.type(KEYS.enter);
    expect(port.sentOf('chat.send').map((command) => command.text)).toEqual([`${message}!`, 'second']);
  });

  it('shows an incoming chat request with its countdown and answers it with y', async () => {
    const { terminal, port, app } = await start();
    await logIn(terminal);
    port.emit({ event: 'chat.request', from: 'bob', timeoutMs: 30_000 });
    await settle();
    expect(screenHas(terminal.text(), 'bob asks for a chat session.')).toBe(true);
    expect(screenHas(terminal.text(), 'Time left: 30 s')).toBe(true);
    nowMs += 12_000;
    app.tick();
    await settle();
    expect(screenHas(terminal.text(), 'Time left: 18 s')).toBe(true);
    // (the tick after a pause in typing gave the dialog the keys)
    await terminal.type('y');
    expect(port.sentOf('chat.answer')).toEqual([{ cmd: 'chat.answer', username: 'bob', accept: true }]);
    expect(screenHas(terminal.text(), 'Time left')).toBe(false);
  });

  it('shows a file offer, then the transfer with a progress bar, then where it was saved', async () => {
    const { terminal, port, app } = await start();
    await logIn(terminal);
    port.emit({ event: 'file.offer', from: 'bob', transferId: 't1', name: 'photo.png', offeredName: 'photo.png', size: 2_097_152 });
    await settle();
    expect(screenHas(terminal.text(), 'photo.png  (2.0 MB)')).toBe(true);
    // The keys go to the offer once the typing paused (the tick notices).
    nowMs += 1000;
    app.tick();
    await terminal.type('y');
    port.emit({ event: 'file.progress', transferId: 't1', bytes: 0, size: 2_097_152 });
    nowMs += 1000;
    port.emit({ event: 'file.progress', transferId: 't1', bytes: 1_048_576, size: 2_097_152 });
    await settle();
    const text = terminal.text().join('\n');
    expect(text).toContain('↓ photo.png from bob');
    expect(text).toMatch(/\[#+-+\]  50% 1\.0 MB\/s/);
    port.emit({ event: 'file.received', transferId: 't1', from: 'bob', path: '/home/alice/downloads/photo.png', size: 2_097_152, sha256: 'x' });
    await settle();
    expect(terminal.text().join('\n')).toContain('Received a file from bob, saved to /home/alice/downloads/photo.png');
  });

  it('F1 shows help, Escape closes it', async () => {
    const { terminal } = await start();
    await logIn(terminal);
    await terminal.type(KEYS.f1);
    expect(screenHas(terminal.text(), 'log out and quit')).toBe(true);
    expect(screenHas(terminal.text(), 'Log file: /tmp/p2pchat-client.log')).toBe(true);
    await terminal.type(KEYS.escape);
    await settle();
    expect(screenHas(terminal.text(), 'log out and quit')).toBe(false);
  });

  it('survives a terminal resize: the layout follows the new size and keeps its content', async () => {
    const { terminal } = await start(100, 30);
    await logIn(terminal);
    await terminal.resize(70, 20);
    let text = terminal.text();
    expect(text.length).toBe(20);
    expect(Math.max(...text.map((line) => line.length))).toBeLessThanOrEqual(70);
    expect(screenHas(text, '● bob')).toBe(true);
    expect(screenHas(text, 'user alice')).toBe(true);
    await terminal.resize(24, 8); // far below the designed minimum: cramped, but no crash
    expect(terminal.text().length).toBe(8);
    await terminal.resize(140, 40);
    text = terminal.text();
    expect(text.length).toBe(40);
    expect(screenHas(text, '● bob')).toBe(true);
    expect(text[39]).toContain('user alice');
  });

  it('shows the link to the server going and coming back, and a client that died', async () => {
    const { terminal, port } = await start();
    await logIn(terminal);
    port.emit({ event: 'disconnected' });
    await settle();
    expect(screenHas(terminal.text(), '◐ reconnecting │ user alice')).toBe(true);
    expect(screenHas(terminal.text(), '! Lost the server; reconnecting…')).toBe(true);
    port.emit({ event: 'reconnected' });
    await settle();
    expect(screenHas(terminal.text(), '● connected │ user alice')).toBe(true);
    expect(port.sentOf('friends').length).toBe(1); // statuses refreshed after the gap
    port.crash('the client process exited with code 1');
    await settle();
    expect(screenHas(terminal.text(), '✗ client stopped')).toBe(true);
    expect(screenHas(terminal.text(), '✗ The client stopped: the client process exited with code 1')).toBe(true);
  });

  it('q logs out through the port (quit) and tears the screen down', async () => {
    const { terminal, port, app } = await start();
    await logIn(terminal);
    await terminal.type('q');
    expect(await app.done).toBe(0);
    expect(port.sent.at(-1)).toEqual({ cmd: 'quit' });
    expect(port.closed?.requested).toBe(true);
  });
});
