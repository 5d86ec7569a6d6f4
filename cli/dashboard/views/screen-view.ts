/**
 * The blessed widgets: a thin layer that places boxes and fills them with what views/render.ts
 * draws from a state. It keeps no state of its own beyond the last one drawn (to redraw on a
 * resize); it never handles a key (keys go to the view-model through the app).
 *
 * Boxes are sized from the screen's current size on every draw (computeLayout), so a terminal
 * resize only needs one more draw.
 */
import blessed from 'blessed';
import type { Widgets } from 'blessed';
import { truncate } from '../format.ts';
import { type DashboardState, type Pane, dialogWaiting, topModal } from '../view-model.ts';
import {
  chatLabel,
  dialogContent,
  friendsLabel,
  renderChat,
  renderEvents,
  renderFriends,
  renderInput,
  renderLogin,
  renderStatus,
  renderTransfers,
} from './render.ts';
import { teachBlessedCharWidths } from './wide-chars.ts';

export interface Rect {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

export interface Layout {
  readonly friends: Rect;
  readonly transfers: Rect;
  readonly chat: Rect;
  readonly input: Rect;
  readonly events: Rect;
  readonly status: Rect;
}

/** Smallest terminal the layout is designed for; smaller ones still draw, cramped. */
export const SCREEN_COLS_MIN = 60;
export const SCREEN_ROWS_MIN = 18;

export function computeLayout(cols: number, rows: number): Layout {
  const width = Math.max(cols, 20);
  const height = Math.max(rows, 10);
  const statusHeight = 1;
  const eventsHeight = height >= 30 ? 8 : height >= 20 ? 6 : 4;
  const mainHeight = Math.max(6, height - statusHeight - eventsHeight);
  const leftWidth = Math.max(20, Math.min(36, Math.floor(width * 0.32)));
  const inputHeight = 3;
  const friendsHeight = Math.max(3, Math.ceil(mainHeight * 0.55));
  return {
    friends: { left: 0, top: 0, width: leftWidth, height: friendsHeight },
    transfers: { left: 0, top: friendsHeight, width: leftWidth, height: Math.max(3, mainHeight - friendsHeight) },
    chat: { left: leftWidth, top: 0, width: width - leftWidth, height: Math.max(3, mainHeight - inputHeight) },
    input: { left: leftWidth, top: mainHeight - inputHeight, width: width - leftWidth, height: inputHeight },
    events: { left: 0, top: mainHeight, width, height: eventsHeight },
    status: { left: 0, top: height - statusHeight, width, height: statusHeight },
  };
}

type PaneBoxes = Record<Pane, Widgets.BoxElement>;

const FOCUS_COLOUR = 'cyan';
const BLUR_COLOUR = 'gray';

function paneBox(screen: Widgets.Screen): Widgets.BoxElement {
  return blessed.box({
    parent: screen,
    tags: true,
    border: { type: 'line' },
    style: { border: { fg: BLUR_COLOUR }, label: {} },
    wrap: false,
  });
}

function place(box: Widgets.BoxElement, rect: Rect): void {
  box.left = rect.left;
  box.top = rect.top;
  box.width = rect.width;
  box.height = rect.height;
}

export class ScreenView {
  private readonly panes: PaneBoxes;
  private readonly status: Widgets.BoxElement;
  private readonly login: Widgets.BoxElement;
  private readonly dialog: Widgets.BoxElement;
  private last: DashboardState | null = null;

  constructor(readonly screen: Widgets.Screen) {
    teachBlessedCharWidths();
    this.panes = {
      friends: paneBox(screen),
      transfers: paneBox(screen),
      chat: paneBox(screen),
      input: paneBox(screen),
      events: paneBox(screen),
    };
    this.status = blessed.box({ parent: screen, tags: true, style: { bg: 'blue', fg: 'white' }, wrap: false });
    this.login = blessed.box({
      parent: screen,
      tags: true,
      border: { type: 'line' },
      style: { border: { fg: FOCUS_COLOUR } },
      label: ' p2pchat ',
      wrap: false,
      hidden: true,
    });
    this.dialog = blessed.box({
      parent: screen,
      tags: true,
      border: { type: 'line' },
      style: { border: { fg: 'yellow' }, bg: 'black' },
      wrap: false,
      hidden: true,
    });
    screen.on('resize', () => {
      if (this.last) this.draw(this.last);
    });
  }

  /** Draws a state and renders the screen. */
  draw(state: DashboardState): void {
    this.last = state;
    const cols = this.screen.cols;
    const rows = this.screen.rows;
    const layout = computeLayout(cols, rows);
    place(this.status, layout.status);
    this.status.setContent(renderStatus(state));
    if (state.screen === 'login') this.drawLogin(state, cols, rows);
    else this.drawMain(state, layout);
    this.drawDialog(state, cols, rows);
    this.screen.render();
  }

  private drawLogin(state: DashboardState, cols: number, rows: number): void {
    for (const box of Object.values(this.panes)) box.hide();
    const width = Math.min(64, Math.max(30, cols - 4));
    const content = renderLogin(state, width - 2);
    // As tall as the form (plus borders and a blank line), within the screen above the status bar.
    const height = Math.max(3, Math.min(content.split('\n').length + 3, rows - 1));
    place(this.login, { left: Math.max(0, Math.floor((cols - width) / 2)), top: Math.max(0, Math.floor((rows - 1 - height) / 2)), width, height });
    this.login.setLabel(state.auth.mode === 'login' ? ' p2pchat · log in ' : ' p2pchat · sign up ');
    this.login.setContent(content);
    this.login.show();
  }

  private drawMain(state: DashboardState, layout: Layout): void {
    this.login.hide();
    const inner = (rect: Rect) => ({ width: Math.max(1, rect.width - 2), height: Math.max(1, rect.height - 2) });
    const labels: Record<Pane, string> = {
      friends: friendsLabel(state),
      transfers: 'Transfers',
      chat: chatLabel(state),
      input: 'Message',
      events: 'Events',
    };
    const contents: Record<Pane, string> = {
      friends: renderFriends(state, inner(layout.friends).width, inner(layout.friends).height),
      transfers: renderTransfers(state, inner(layout.transfers).width, inner(layout.transfers).height),
      chat: renderChat(state, inner(layout.chat).width, inner(layout.chat).height),
      input: renderInput(state, inner(layout.input).width),
      events: renderEvents(state, inner(layout.events).width, inner(layout.events).height),
    };
    for (const pane of Object.keys(this.panes) as Pane[]) {
      const box = this.panes[pane];
      const focused = state.focus === pane;
      place(box, layout[pane]);
      // The brackets mark the focused pane without colour; the border colour marks it with.
      const label = truncate(labels[pane], Math.max(1, layout[pane].width - 8));
      box.setLabel(focused ? `[ ${label} ]` : ` ${label} `);
      box.style.border.fg = focused ? FOCUS_COLOUR : BLUR_COLOUR;
      box.setContent(contents[pane]);
      box.show();
    }
  }

  private drawDialog(state: DashboardState, cols: number, rows: number): void {
    const modal = topModal(state);
    if (!modal) {
      this.dialog.hide();
      return;
    }
    const content = dialogContent(state, modal);
    const width = Math.min(content.width, cols);
    const height = Math.min(content.height, content.body.split('\n').length + 3, rows);
    place(this.dialog, { left: Math.max(0, Math.floor((cols - width) / 2)), top: Math.max(0, Math.floor((rows - height) / 2)), width, height });
    this.dialog.setLabel(` ${content.title} `);
    // Yellow when it takes the keys; grey while it waits for the user's typing to pause.
    this.dialog.style.border.fg = dialogWaiting(state) ? 'gray' : 'yellow';
    this.dialog.setContent(content.body);
    this.dialog.show();
    this.dialog.setFront();
  }
}

/** What the screen shows, as text: one string per row (what a user reads, without attributes). */
export function screenText(screen: Widgets.Screen): string[] {
  const lines = (screen as unknown as { lines: { [x: number]: [number, string] }[] & { length: number } }).lines;
  const out: string[] = [];
  for (let y = 0; y < lines.length; y++) {
    const line = lines[y];
    if (!line) continue;
    let text = '';
    for (let x = 0; x < screen.cols; x++) {
      const cell = line[x]?.[1] ?? ' ';
      // The second column of a wide character: blessed's placeholder, nothing a user reads.
      if (cell !== '\x03') text += cell;
    }
    out.push(text.replace(/\s+$/, ''));
  }
  return out;
}
