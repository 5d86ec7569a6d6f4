/**
 * A blessed screen on fake TTY streams: keys are written to `input` as a terminal would send
 * them, what the screen shows is read back as text (screen.lines), and a resize is the output
 * stream changing size and emitting 'resize', as a real TTY does.
 */
import { PassThrough } from 'node:stream';
import blessed from 'blessed';
import type { Widgets } from 'blessed';
import { screenText } from '../../../../cli/dashboard/views/screen-view.ts';

export interface FakeTerminal {
  readonly screen: Widgets.Screen;
  readonly input: PassThrough;
  readonly output: PassThrough;
  /** Sends raw bytes as the terminal would (e.g. 'abc', '\r', '\t', '\x1bOP' for F1). */
  type(data: string): Promise<void>;
  text(): string[];
  resize(cols: number, rows: number): Promise<void>;
  destroy(): void;
}

function fakeTty(cols: number, rows: number): PassThrough {
  const stream = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; rows: number; setRawMode: (raw: boolean) => void };
  stream.isTTY = true;
  stream.columns = cols;
  stream.rows = rows;
  stream.setRawMode = () => {};
  return stream;
}

/** Lets blessed's input handler and the app's coalesced draw run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

export const KEYS = {
  enter: '\r',
  tab: '\t',
  shiftTab: '\x1b[Z',
  escape: '\x1b',
  backspace: '\x7f',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
  f1: '\x1bOP',
  f2: '\x1bOQ',
  f3: '\x1bOR',
  f4: '\x1bOS',
  ctrlC: '\x03',
  ctrlN: '\x0e',
} as const;

export function createFakeTerminal(cols = 100, rows = 30): FakeTerminal {
  const input = fakeTty(cols, rows);
  const output = fakeTty(cols, rows);
  output.resume(); // drain escape codes nobody reads
  const screen = blessed.screen({
    input: input as unknown as Widgets.IScreenOptions['input'],
    output: output as unknown as Widgets.IScreenOptions['output'],
    terminal: 'xterm',
    smartCSR: true,
    fullUnicode: true,
    warnings: false,
  });
  return {
    screen,
    input,
    output,
    async type(data: string) {
      // One write per key: a terminal sends an escape sequence in one piece, and blessed
      // splits one write into keys.
      input.write(data);
      await settle();
    },
    text: () => screenText(screen),
    async resize(newCols: number, newRows: number) {
      const tty = output as unknown as { columns: number; rows: number };
      tty.columns = newCols;
      tty.rows = newRows;
      output.emit('resize');
      await settle();
      await settle();
    },
    destroy: () => screen.destroy(),
  };
}
