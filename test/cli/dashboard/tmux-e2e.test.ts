/**
 * End to end under tmux: the real server (in this process), one real dashboard in a detached tmux
 * session (a real pseudo-terminal), one real headless client. The dashboard is driven only by
 * keystrokes (tmux send-keys) and checked only by what its screen shows (tmux capture-pane):
 * sign-up, a friend request accepted with y, a chat request accepted from the dialog, messages
 * both ways, and Ctrl-C logging out before the process exits 0.
 *
 * The headless side is the tests' one headless helper (test/helpers/headless-client.ts), the
 * server the one in-process server (test/helpers/in-process-server.ts). Skips, saying why, when
 * tmux is not installed. The tmux server runs on its own socket (-S), so it never touches a
 * user's sessions.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const root = resolve(import.meta.dirname, '../../..');
const COLS = 120;
const ROWS = 36;
/** Per step; generous because CI machines can be loaded (two cores, several suites at once). */
const WAIT_MS = 20_000;
/** The whole scenario, a few dozen steps: it takes ~15 s on an idle machine (a request left to time out takes 6). */
const SCENARIO_TIMEOUT_MS = 180_000;
/** The server's session timeout: the dialog counts down from it (the dashboard's own default is 30 s). */
const SESSION_TIMEOUT_MS = 6_000;
const POLL_MS = 50;

/** tmux is the one prerequisite outside npm; CI installs it (.ci/run), so there it must be present. */
function missingPrerequisite(): string | null {
  if (spawnSync('tmux', ['-V']).status === 0) return null;
  if (process.env.CI === 'true') throw new Error('tmux is missing in CI: .ci/run should have installed it');
  return 'tmux is not installed (apt-get install -y tmux)';
}

/** `p2pchat client` without --headless: the dashboard. */
function dashboardEntry(): string[] {
  return [join(root, 'cli/main.ts'), 'client'];
}

function shellQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

class Tmux {
  readonly target = 'dash';

  /** A socket of our own (-S) in the test's directory: no user session is touched, nothing is left. */
  constructor(readonly socketPath: string) {}

  run(...args: string[]): string {
    const result = spawnSync('tmux', ['-S', this.socketPath, '-f', '/dev/null', ...args], { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`tmux ${args.join(' ')} failed: ${result.stderr}`);
    return result.stdout;
  }

  keys(...keys: string[]): void {
    this.run('send-keys', '-t', this.target, ...keys);
  }

  text(text: string): void {
    this.run('send-keys', '-t', this.target, '-l', text);
  }

  capture(): string {
    return this.run('capture-pane', '-p', '-t', this.target);
  }

  async waitFor(needle: string | RegExp, what: string): Promise<string> {
    const deadline = Date.now() + WAIT_MS;
    let screen = '';
    while (Date.now() < deadline) {
      screen = this.capture();
      if (typeof needle === 'string' ? screen.includes(needle) : needle.test(screen)) return screen;
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
    throw new Error(`timed out waiting for ${what} (${String(needle)}); the dashboard shows:\n${screen}`);
  }

  kill(): void {
    spawnSync('tmux', ['-S', this.socketPath, 'kill-server']);
  }
}

/**
 * bob asks alice for a session and alice accepts in the dialog. Any outcome but chat.opened fails
 * the test. (It once retried on a `bad-session-token` refusal: the caller's hello could reach the
 * callee before the callee's own copy of the token. The callee now parks a hello from a friend it
 * has just said yes to until its session.established comes, docs/PROTOCOL.md, so a retry would
 * only hide whatever else went wrong.)
 */
async function openSessionFromDialog(tmux: Tmux, headless: HeadlessClient): Promise<void> {
  headless.send({ cmd: 'chat.open', username: 'alice' });
  const dialog = await tmux.waitFor('bob asks for a chat session.', 'the chat request dialog');
  expect(dialog).toMatch(/Time left: \d+ s/);
  // A dialog that popped up right after a key press waits for a pause before it takes keys:
  // its buttons show once it does.
  await tmux.waitFor('Accept (y)', 'the dialog taking the keys');
  tmux.keys('y');
  const outcome = await headless.waitForAny(['chat.opened', 'chat.failed'], {}, WAIT_MS);
  if (outcome.event !== 'chat.opened') throw new Error(`chat.open failed: ${JSON.stringify(outcome)}`);
}

const skipReason = missingPrerequisite();
if (skipReason) console.warn(`dashboard tmux end-to-end test skipped: ${skipReason}`);

describe.skipIf(skipReason !== null)(`dashboard end to end under tmux${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let tmux: Tmux | null = null;
  let workDir = '';
  let server: TestServer | null = null;
  let bob: HeadlessClient | null = null;

  beforeAll(async () => {
    workDir = await mkdtemp(join(tmpdir(), 'p2pchat-dash-e2e-'));
    tmux = new Tmux(join(workDir, 'tmux.sock'));
    server = await TestServer.start({ sessionTimeoutMs: SESSION_TIMEOUT_MS });
    const address = server.address;
    bob = await HeadlessClient.start('bob', { server: address, downloadDir: join(workDir, 'bob-downloads'), extraArgs: ['--log-file', join(workDir, 'bob.log')] });
    const tsxLoader = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const dashboard = [process.execPath, '--import', tsxLoader, ...dashboardEntry()];
    dashboard.push('--server', address, '--p2p-host', '127.0.0.1', '--download-dir', join(workDir, 'alice-downloads'), '--log-file', join(workDir, 'dashboard.log'));
    // The shell reports the exit code on screen and lingers, so the test can read it.
    // (LANG through env(1), not new-session -e, which tmux before 3.2 lacks.)
    const shell = `env LANG=C.UTF-8 ${dashboard.map(shellQuote).join(' ')}; echo "DASHBOARD-EXIT=$?"; sleep 30`;
    tmux.run('new-session', '-d', '-s', tmux.target, '-x', String(COLS), '-y', String(ROWS), '-c', workDir, shell);
  });

  const startedTmux = (): Tmux => {
    if (!tmux) throw new Error('tmux was not started');
    return tmux;
  };

  afterAll(async () => {
    tmux?.kill();
    await bob?.quit();
    await server?.close();
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('signs up, makes friends, opens a session from the dialog and chats both ways, then quits cleanly', async () => {
    const headless = bob!;
    const tmux = startedTmux();
    const loginForm = await tmux.waitFor('client ready', 'the login form with the client ready');
    // The connection state is said once (the status bar), not also "· ready" in the form.
    expect(loginForm.match(/ready/g)).toEqual(['ready']);

    // Sign up from the form: F2 switches to sign-up; Enter moves field by field, then submits.
    tmux.keys('F2');
    const signupForm = await tmux.waitFor('Create an account', 'the sign-up form');
    // The nickname's "(optional)" note fits inside the form's border.
    expect(signupForm).toMatch(/Nickname +_+ \(optional\) *│/);
    tmux.text('alice');
    tmux.keys('Enter');
    tmux.text('password-alice');
    tmux.keys('Enter', 'Enter');
    await tmux.waitFor('user alice', 'the main screen');

    await headless.request({ cmd: 'signup', username: 'bob', password: 'password-bob', nickname: 'Bob' }, 'signup.ok', {}, WAIT_MS);
    await headless.request({ cmd: 'login', username: 'bob', password: 'password-bob' }, 'login.ok', {}, WAIT_MS);
    await headless.request({ cmd: 'friend.request', username: 'alice' }, 'friend.requested', {}, WAIT_MS);

    // The request shows in the friends pane (focused after login); y accepts it.
    await tmux.waitFor('? bob asks: y/n', 'the friend request');
    tmux.keys('y');
    await headless.waitFor('friend.added', { username: 'alice' }, WAIT_MS);
    await tmux.waitFor('● bob (Bob)', 'bob online in the friend list');

    // A request left unanswered: the dialog counts down from the server's timeout, and closes
    // itself when the server says the request ended.
    headless.send({ cmd: 'chat.open', username: 'alice' });
    const countdown = await tmux.waitFor(/Time left: \d+ s/, 'the countdown');
    expect(Number(/Time left: (\d+) s/.exec(countdown)?.[1])).toBeLessThanOrEqual(SESSION_TIMEOUT_MS / 1000);
    await headless.waitFor('chat.failed', { reason: 'timeout' }, WAIT_MS);
    await tmux.waitFor(/The chat request from Bob \(bob\) timed out before it was answered \(timeout\)|Chat request from Bob \(bob\) timed out/, 'the request ended in the events pane');
    expect(tmux.capture()).not.toContain('asks for a chat session.');

    // bob asks for a session: the dialog counts down; y accepts.
    await openSessionFromDialog(tmux, headless);
    await tmux.waitFor('Chat with bob · open', 'the open session');

    // alice → bob: typed into the message line (focused once the session opened), Enter sends.
    tmux.text('hello bob, from the dashboard');
    tmux.keys('Enter');
    const received = await headless.waitFor('chat.message', {}, WAIT_MS);
    expect(received).toMatchObject({ from: 'alice', text: 'hello bob, from the dashboard' });
    await tmux.waitFor('alice: hello bob, from the dashboard ✓', 'the delivered message');

    // bob → alice.
    await headless.request({ cmd: 'chat.send', username: 'alice', text: 'hi alice {from headless}' }, 'chat.sent', {}, WAIT_MS);
    const screen = await tmux.waitFor('bob: hi alice {from headless}', 'the incoming message');
    expect(screen).toContain(`server ${server!.address} │ ● connected │ user alice`);

    // A file offer popping up mid-word takes none of the letters: "nice" is sent whole, and the
    // offer waits (Tab to answer) until alice turns to it.
    const offeredFile = join(workDir, 'offer.txt');
    await writeFile(offeredFile, 'a file\n');
    tmux.text('n');
    await tmux.waitFor('> n', 'the n in the message line');
    headless.send({ cmd: 'file.send', username: 'alice', paths: [offeredFile] });
    await tmux.waitFor('Press Tab to answer', 'the waiting file offer');
    tmux.text('ice');
    tmux.keys('Enter');
    await headless.waitFor('chat.message', { text: 'nice' }, WAIT_MS);
    expect(tmux.capture()).toContain('Press Tab to answer');
    tmux.keys('Tab');
    await tmux.waitFor('Accept (y)', 'the offer taking the keys');
    tmux.keys('n');
    await headless.waitFor('file.failed', { reason: 'declined' }, WAIT_MS);
    await tmux.waitFor('You declined offer.txt (declined)', 'the declined file named by its name');

    // Emoji and CJK: once the ✓ replaces the …, nothing stale is left beside it on the terminal.
    tmux.text('party 🎉 time 😀 中文');
    tmux.keys('Enter');
    // ✓ on the ack, then ✓✓ once bob's client stored it in its history (chat.delivered).
    const delivered = await tmux.waitFor(/alice: party 🎉 time 😀 中文 ✓✓/, 'the delivered emoji message');
    const row = delivered.split('\n').find((line) => line.includes('alice: party 🎉')) ?? '';
    expect(row).toMatch(/alice: party 🎉 time 😀 中文 ✓✓ +│$/);

    // A terminal resize: the layout follows, the conversation stays.
    tmux.run('resize-window', '-t', tmux.target, '-x', '90', '-y', '26');
    // Until the dashboard redraws, tmux shows the old screen cropped (its status bar cut off), so
    // a status bar on the new last line proves the redraw.
    const resized = await tmux.waitFor(/\n p2pchat │ server [^\n]*user alice[^\n]*\n?$/, 'the status bar on the last line after a resize');
    const resizedLines = resized.trimEnd().split('\n');
    expect(resizedLines.length).toBe(26);
    expect(resized).toContain('bob: hi alice {from headless}');

    // F9 logs out; logging in again shows an empty chat pane with nothing left from before.
    tmux.keys('F9');
    await tmux.waitFor('Log in to chat', 'the login form after F9');
    tmux.text('password-alice');
    tmux.keys('Enter');
    const again = await tmux.waitFor(/user alice/, 'the main screen after logging in again');
    const panes = again.slice(0, again.indexOf('┌─ Events'));
    expect(panes).toContain('(no chats)');
    expect(panes).not.toMatch(/[?�…😀🎉中]/);

    // Escape means back: out of the message line, so Esc then q quits (it does not type q).
    tmux.keys('i');
    await tmux.waitFor('[ Message ]', 'the message line focused');
    tmux.keys('Escape');
    await tmux.waitFor(/\[ Friends/, 'the friend list focused');
    // Logging out first (bob sees alice go offline), then the process exits 0.
    tmux.keys('q');
    await headless.waitFor('presence', { username: 'alice', status: 'offline' }, WAIT_MS);
    await tmux.waitFor('DASHBOARD-EXIT=0', 'the dashboard exiting 0');
  }, SCENARIO_TIMEOUT_MS);
});
