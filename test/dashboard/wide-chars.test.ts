/**
 * Wide characters on the screen (issue 13): after a message with CJK, emoji or combining marks,
 * blessed's picture of each row must match what a terminal draws, cell for cell: a character a
 * terminal draws two cells wide (char-width.ts, what wcwidth says) must be followed by blessed's
 * placeholder for its second cell. When it is not (blessed's old table counted emoji as one), the
 * rest of the row sits one column off on the real terminal and partial redraws leave stale cells:
 * the `…` of an unacknowledged message stayed beside its `✓`. Read back from `screen.lines`, over
 * a matrix of texts and terminal widths, before and after the delivery mark changes, and after a
 * log-out and a new login (where a stray `?` once stayed in the emptied chat pane).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Widgets } from 'blessed';
import { DashboardApp } from '../../cli/dashboard/app.ts';
import { charWidth, textWidth } from '../../cli/dashboard/char-width.ts';
import type { ClientCommand } from '../../cli/dashboard/client-port.ts';
import { type EventInput, FakeClientPort } from '../../cli/dashboard/fake-port.ts';
import { type FakeTerminal, KEYS, createFakeTerminal, settle } from './helpers/fake-terminal.ts';

const config = { serverAddress: '127.0.0.1:12345', chatRequestTimeoutMs: 30_000, logFile: null, downloadDir: './downloads' };
const TEXTS = ['中文消息 好的', 'party 🎉 time 😀', 'café e\u0301te\u0301 naïve', 'mix 中😀é 🎉字', '😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀 long 中文中文中文中文中文中文中文中文中文'];
const WIDTHS = [64, 100, 137];

/** Never acknowledges a message by itself: the test says when it was delivered. */
function responder(command: ClientCommand): EventInput[] {
  if (command.cmd === 'login') return [{ event: 'login.ok', friends: [{ username: 'bob', nickname: 'Bob', status: 'online' }] }];
  if (command.cmd === 'chat.open') return [{ event: 'chat.opened', username: command.username }];
  if (command.cmd === 'logout') return [{ event: 'logout.ok' }];
  return [];
}

type Cells = { [x: number]: [number, string] }[];

/** Rows where blessed's cells disagree with a terminal's widths: a wide character without its placeholder, or a placeholder without one. */
function misalignedRows(screen: Widgets.Screen): string[] {
  const lines = (screen as unknown as { lines: Cells }).lines;
  const bad: string[] = [];
  for (let y = 0; y < screen.rows; y++) {
    const line = lines[y];
    if (!line) continue;
    for (let x = 0; x < screen.cols; x++) {
      const cell = line[x]?.[1] ?? ' ';
      if (cell === '\x03') {
        if (charWidth(line[x - 1]?.[1] ?? ' ') !== 2) bad.push(`row ${y} col ${x}: a placeholder after a narrow character`);
        continue;
      }
      if (charWidth(cell) === 2 && x < screen.cols - 1 && line[x + 1]?.[1] !== '\x03') bad.push(`row ${y} col ${x}: ${cell} drawn in one cell`);
    }
  }
  return bad;
}

let terminal: FakeTerminal | null = null;
afterEach(() => {
  terminal?.destroy();
  terminal = null;
});

async function loggedInWithBob(cols: number): Promise<{ terminal: FakeTerminal; port: FakeClientPort }> {
  terminal = createFakeTerminal(cols, 30);
  const port = new FakeClientPort(responder);
  new DashboardApp({ screen: terminal.screen, port, config, now: () => 1_700_000_000_000, tickMs: 0 });
  port.emit({ event: 'ready' });
  await settle();
  await terminal.type('alice');
  await terminal.type(KEYS.tab);
  await terminal.type('password1');
  await terminal.type(KEYS.enter);
  await terminal.type(KEYS.enter); // Enter on bob (first in the list) opens the session
  return { terminal, port };
}

describe('wide characters leave no stale cells', () => {
  for (const cols of WIDTHS) {
    it(`at ${cols} columns: every text's cells match a terminal's before and after its ✓, and after a new login`, async () => {
      const { terminal, port } = await loggedInWithBob(cols);
      for (const text of TEXTS) {
        await terminal.type(text);
        await terminal.type(KEYS.enter);
        expect(misalignedRows(terminal.screen)).toEqual([]);
        port.emit({ event: 'chat.sent', username: 'bob', id: '1' });
        await settle();
        expect(misalignedRows(terminal.screen)).toEqual([]);
        const shown = terminal.text().join('\n');
        if (text.length < 30) expect(shown).toContain(`alice: ${text} ✓`);
        expect(shown).not.toMatch(/…\s*✓|✓\s*…/);
        port.emit({ event: 'chat.message', from: 'bob', text, id: 'b1' });
        await settle();
        expect(misalignedRows(terminal.screen)).toEqual([]);
      }
      // Log out (F9) and in again: the emptied chat pane holds nothing from before.
      await terminal.type('\x1b[20~');
      await terminal.type('password1');
      await terminal.type(KEYS.enter);
      expect(misalignedRows(terminal.screen)).toEqual([]);
      expect(terminal.text().join('\n')).not.toMatch(/[?�]/);
    });
  }

  it('wraps a long line of wide characters inside the chat pane, in cells', async () => {
    const { terminal } = await loggedInWithBob(70);
    const text = '中'.repeat(80);
    await terminal.type(text);
    await terminal.type(KEYS.enter);
    const rows = terminal.text().filter((row) => row.includes('中'));
    const shownChars = rows.reduce((sum, row) => sum + Array.from(row).filter((char) => char === '中').length, 0);
    expect(shownChars).toBe(80);
    for (const row of rows) expect(textWidth(row)).toBeLessThanOrEqual(70);
  });
});
