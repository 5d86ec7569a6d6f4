/**
 * Pure drawing: state in, blessed-tagged text out, one function per pane. No widgets here, so
 * the layout and wording are testable as strings. Every symbol that carries meaning also reads
 * without colour (● online, ○ offline, > cursor, [brackets] on the focused pane and button).
 *
 * Text from the network is sanitised (control characters would drive the terminal) and escaped
 * (braces would be read as blessed tags) before it is placed.
 */
import { dayLabel, formatBytes, formatSpeed, localDayKey, percent, progressBar, truncate, truncateStart, wrapText } from '../format.ts';
import { layoutWidth, textWidth } from '../char-width.ts';
import type { LineEditor } from '../line-editor.ts';
import { transferFailedShort } from '../reason-text.ts';
import { TYPING_SHOWN_MS } from '../limits.ts';
import {
  type AuthField,
  type ChatLine,
  type DashboardState,
  type EventLine,
  type FriendPaneItem,
  type Modal,
  type Transfer,
  activeSession,
  authFields,
  dialogWaiting,
  friendPaneItems,
  totalUnread,
  transferSpeed,
} from '../view-model.ts';

// ---------------------------------------------------------------------------------------------
// Text safety

/** Replaces control characters (C0, DEL, C1) with a visible placeholder, tabs with a space. */
export function sanitize(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\t/g, ' ').replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/g, '�');
}

/** Escapes blessed tag braces. */
export function escapeTags(text: string): string {
  return text.replace(/[{}]/g, (brace) => (brace === '{' ? '{open}' : '{close}'));
}

/** Network or user text, made safe to place inside tagged content. */
export function safe(text: string): string {
  return escapeTags(sanitize(text));
}

function padEnd(text: string, width: number): string {
  const length = textWidth(text);
  return length >= width ? text : text + ' '.repeat(width - length);
}

/** A clock time as HH:MM in local time (what the user's wall clock says). */
export function clock(atMs: number): string {
  const date = new Date(atMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

export const SYMBOL_ONLINE = '●';
export const SYMBOL_OFFLINE = '○';

// ---------------------------------------------------------------------------------------------
// Line editors

/**
 * A one-line editor drawn in `width` cells: a window that keeps the cursor visible, the cursor as
 * an inverse cell when focused, and `mask` in place of every character for passwords.
 */
export function renderEditor(editor: LineEditor, width: number, focused: boolean, mask?: string): string {
  const chars = Array.from(editor.text).map((char) => (mask ?? sanitize(char)));
  // The window starts as late as needed for the cursor's cell to fit, by row budget (format.ts).
  let start = 0;
  let beforeCursor = 0;
  for (let index = 0; index < editor.cursor && index < chars.length; index++) beforeCursor += layoutWidth(chars[index] ?? '');
  while (start < editor.cursor && beforeCursor + 1 > width) beforeCursor -= layoutWidth(chars[start++] ?? '');
  let shownCount = 0;
  for (let used = 0; start + shownCount < chars.length; shownCount++) {
    used += layoutWidth(chars[start + shownCount] ?? '');
    if (used > width) break;
  }
  const shown = chars.slice(start, start + shownCount);
  const cursorAt = editor.cursor - start;
  if (!focused) return escapeTags(shown.join(''));
  const before = escapeTags(shown.slice(0, cursorAt).join(''));
  const under = escapeTags(shown[cursorAt] ?? ' ');
  const after = escapeTags(shown.slice(cursorAt + 1).join(''));
  return `${before}{inverse}${under}{/inverse}${after}`;
}

// ---------------------------------------------------------------------------------------------
// Login screen

const FIELD_LABELS: Record<AuthField, string> = {
  username: 'Username',
  password: 'Password',
  nickname: 'Nickname',
  submit: '',
  switch: '',
};

export function renderLogin(state: DashboardState, innerWidth: number): string {
  const auth = state.auth;
  const fieldWidth = Math.max(8, innerWidth - 16);
  const lines: string[] = [''];
  const title = auth.mode === 'login' ? 'Log in to chat' : 'Create an account';
  lines.push(` {bold}${title}{/bold}`, '');
  for (const field of authFields(auth.mode)) {
    if (field === 'submit' || field === 'switch') continue;
    const focused = auth.field === field;
    const editor = auth[field];
    // The nickname's field is shorter by its "(optional)" note, so the note fits inside the form.
    const width = field === 'nickname' ? Math.max(4, fieldWidth - OPTIONAL_NOTE.length - 1) : fieldWidth;
    const value = renderEditor(editor, width, focused && auth.pending === null, field === 'password' ? '*' : undefined);
    const shownWidth = Math.min(width, (field === 'password' ? Array.from(editor.text).length : textWidth(editor.text)) + (focused ? 1 : 0));
    const filler = '_'.repeat(Math.max(0, width - shownWidth));
    const marker = focused ? '>' : ' ';
    const optional = field === 'nickname' ? ` {gray-fg}${OPTIONAL_NOTE}{/gray-fg}` : '';
    lines.push(`${marker} ${padEnd(FIELD_LABELS[field], 9)} ${value}{gray-fg}${filler}{/gray-fg}${optional}`);
  }
  lines.push('');
  const submitLabel = auth.mode === 'login' ? 'Log in' : 'Sign up';
  const switchLabel = auth.mode === 'login' ? 'New here? Sign up (F2)' : 'Have an account? Log in (F2)';
  lines.push(`  ${button(submitLabel, auth.field === 'submit')}  ${button(switchLabel, auth.field === 'switch')}`);
  lines.push('');
  // Wrapped, not cut: the server's refusal ends with its code (reason-text.ts).
  if (auth.error) lines.push(...wrapText(`✗ ${sanitize(auth.error)}`, Math.max(8, innerWidth - 2)).map((row) => ` {red-fg}${escapeTags(row)}{/red-fg}`));
  else if (auth.notice) lines.push(` {yellow-fg}${safe(auth.notice)}{/yellow-fg}`);
  else lines.push('');
  lines.push('');
  // The connection state is in the status bar below: said once, in one wording.
  lines.push(` {gray-fg}Server ${safe(state.config.serverAddress)}{/gray-fg}`);
  lines.push(` {gray-fg}Tab/↑↓ move · Enter next/submit · F1 help · Ctrl-C quit{/gray-fg}`);
  return lines.join('\n');
}

const OPTIONAL_NOTE = '(optional)';

function button(label: string, focused: boolean): string {
  return focused ? `{inverse}> ${label} <{/inverse}` : `[ ${label} ]`;
}


// ---------------------------------------------------------------------------------------------
// Main screen panes

function friendItemText(item: FriendPaneItem): { text: string; colour: string | null } {
  switch (item.kind) {
    case 'friend': {
      const { friend } = item;
      const online = friend.status === 'online';
      const symbol = online ? SYMBOL_ONLINE : SYMBOL_OFFLINE;
      const nick = friend.nickname && friend.nickname !== friend.username ? ` (${friend.nickname})` : '';
      const chat = item.session === 'open' ? ' »' : item.session === 'requesting' ? ' …' : item.session === 'mailbox' ? ' ✉' : '';
      const unread = item.unread > 0 ? ` [${item.unread}]` : '';
      return { text: `${symbol} ${friend.username}${nick}${chat}${unread}`, colour: online ? 'green' : 'gray' };
    }
    case 'request':
      return { text: `? ${item.from} asks: y/n`, colour: 'yellow' };
    case 'requested':
      return { text: `~ ${item.username} (asked)`, colour: 'gray' };
  }
}

/** The friends pane: one line per item, a window that keeps the cursor in view. */
export function renderFriends(state: DashboardState, width: number, height: number): string {
  const items = friendPaneItems(state);
  if (items.length === 0) return '{gray-fg}No friends yet.\nF2 or a: add one.{/gray-fg}';
  const rows = Math.max(1, height);
  const top = Math.max(0, Math.min(state.friendCursor - rows + 1, items.length - rows));
  const lines: string[] = [];
  for (let index = top; index < Math.min(items.length, top + rows); index++) {
    const item = items[index];
    if (!item) continue;
    const selected = index === state.friendCursor;
    const { text, colour } = friendItemText(item);
    const plain = truncate(`${selected ? '>' : ' '}${text}`, width);
    const body = safe(padEnd(plain, selected ? width : 0));
    const unreadBold = item.kind === 'friend' && item.unread > 0;
    let line = colour ? `{${colour}-fg}${body}{/${colour}-fg}` : body;
    if (unreadBold) line = `{bold}${line}{/bold}`;
    if (selected && state.focus === 'friends') line = `{inverse}${line}{/inverse}`;
    lines.push(line);
  }
  return lines.join('\n');
}

export function friendsLabel(state: DashboardState): string {
  const online = state.friends.filter((friend) => friend.status === 'online').length;
  const requests = state.incomingRequests.length > 0 ? `, ${state.incomingRequests.length} asking` : '';
  return `Friends ${online}/${state.friends.length} online${requests}`;
}

function chatLineText(line: ChatLine, peer: string, me: string): string {
  switch (line.kind) {
    case 'in':
      return `${clock(line.atMs)} ${peer}: ${line.text}`;
    case 'out':
      return `${clock(line.atMs)} ${me}: ${line.text}${outgoingMark(line)}`;
    case 'system':
      return `${clock(line.atMs)} -- ${line.text}`;
  }
}

/** … waiting for the ack, ✉ held sealed by the server, ✓ acknowledged, ✓✓ in the friend's history, ✓✓ read, ✗ never arrived. */
function outgoingMark(line: ChatLine): string {
  if (line.receipt === 'failed') return ' ✗';
  if (line.receipt === 'queued') return ' ✉';
  if (line.receipt === 'read') return ' ✓✓ read';
  if (line.receipt === 'delivered') return ' ✓✓';
  return line.delivered ? ' ✓' : ' …';
}

const CHAT_COLOURS: Record<ChatLine['kind'] | 'day', string> = { in: 'cyan', out: 'white', system: 'gray', day: 'yellow' };

/** The tab strip: every session, the active one in brackets, unread counts. */
export function renderTabs(state: DashboardState, width: number): string {
  if (state.sessions.length === 0) return '{gray-fg}(no chats){/gray-fg}';
  const parts = state.sessions.map((session) => {
    const unread = session.unread > 0 ? ` (${session.unread})` : '';
    const ended = session.state === 'closed' || session.state === 'failed' ? ' x' : session.state === 'requesting' ? ' …' : '';
    const label = `${session.peer}${ended}${unread}`;
    return session.peer === state.activePeer ? `[${label}]` : ` ${label} `;
  });
  const text = truncate(parts.join(' '), width);
  // Bold the active tab; its brackets already mark it without attributes.
  return safe(text).replace(/\[([^\]]*)\]/, '{bold}[$1]{/bold}');
}

/** The chat pane: tabs on top, then the active session's lines wrapped, newest at the bottom. */
export function renderChat(state: DashboardState, width: number, height: number): string {
  const tabs = renderTabs(state, width);
  const session = activeSession(state);
  const rows = Math.max(0, height - 1);
  if (!session) {
    const hint = wrapText('Select a friend (Tab to the list, ↑↓, Enter) to ask for a chat. Chat requests from friends pop up here.', width);
    return `${tabs}\n{gray-fg}${escapeTags(hint.join('\n'))}{/gray-fg}`;
  }
  const me = state.me ?? 'you';
  const wrapped: { text: string; kind: ChatLine['kind'] | 'day' }[] = [];
  // A date line where the day changes (lines carry only the time), and above the oldest line
  // when that one is not from today.
  let day = localDayKey(state.nowMs);
  for (const line of session.lines) {
    const lineDay = localDayKey(line.atMs);
    if (lineDay !== day) wrapped.push({ text: truncate(`── ${dayLabel(line.atMs, state.nowMs)} ──`, width), kind: 'day' });
    day = lineDay;
    for (const part of wrapText(sanitize(chatLineText(line, session.peer, me)), width)) wrapped.push({ text: part, kind: line.kind });
  }
  const scrollback = Math.min(session.scrollback, Math.max(0, wrapped.length - rows));
  const end = wrapped.length - scrollback;
  const shown = wrapped.slice(Math.max(0, end - rows), end);
  const body = shown.map((line) => `{${CHAT_COLOURS[line.kind]}-fg}${escapeTags(line.text)}{/${CHAT_COLOURS[line.kind]}-fg}`);
  return [tabs, ...body].join('\n');
}

export function chatLabel(state: DashboardState): string {
  const session = activeSession(state);
  if (!session) return 'Chat';
  const states = { mailbox: 'no session: messages wait sealed at the server', requesting: 'asking…', open: 'open', closed: 'closed', failed: 'failed' } as const;
  const scrolled = session.scrollback > 0 ? ' · scrolled (PgDn)' : '';
  const safetyNumber = state.friends.find((friend) => friend.username === session.peer)?.safetyNumber;
  const safety = safetyNumber === undefined ? '' : ` · safety ${safetyNumber}`;
  const typing = session.typingAtMs !== null && state.nowMs - session.typingAtMs < TYPING_SHOWN_MS ? ` · ${session.peer} is typing…` : '';
  return `Chat with ${session.peer} · ${states[session.state]}${typing}${safety}${scrolled}`;
}

export function renderInput(state: DashboardState, width: number): string {
  const session = activeSession(state);
  const focused = state.focus === 'input';
  if (state.input.text === '' && !focused) {
    if (session === undefined) return '{gray-fg}No open chat{/gray-fg}';
    return session.state === 'open'
      ? '{gray-fg}Tab here (or press i) and type; Enter sends{/gray-fg}'
      : '{gray-fg}No session: Tab here and type; Enter leaves it sealed at the server{/gray-fg}';
  }
  return `> ${renderEditor(state.input, Math.max(1, width - 2), focused)}`;
}

function speedSuffix(bytesPerSec: number | null): string {
  return bytesPerSec === null ? '' : ` · ${formatSpeed(bytesPerSec)}`;
}

function transferLines(transfer: Transfer, width: number, selected: boolean, focused: boolean): string[] {
  const arrow = transfer.direction === 'in' ? '↓' : '↑';
  const who = transfer.direction === 'in' ? `from ${transfer.peer}` : `to ${transfer.peer}`;
  const head = truncate(`${selected ? '>' : ' '}${arrow} ${transfer.name} ${who}`, width);
  let detail: string;
  let colour: string;
  switch (transfer.state) {
    case 'waiting':
      detail = `  waiting · ${formatBytes(transfer.size)}`;
      colour = 'yellow';
      break;
    case 'active': {
      const pct = percent(transfer.bytes, transfer.size);
      const bar = progressBar(transfer.bytes / Math.max(1, transfer.size), Math.max(6, width - 20));
      detail = `  ${bar} ${String(pct).padStart(3)}% ${formatSpeed(transferSpeed(transfer))}`;
      colour = 'cyan';
      break;
    }
    case 'done':
      detail =
        transfer.direction === 'in' && transfer.path
          ? `  ✓ ${truncateStart(transfer.path, Math.max(4, width - 4))}`
          : `  ✓ sent ${formatBytes(transfer.size)}${speedSuffix(transferSpeed(transfer))}`;
      colour = 'green';
      break;
    case 'failed':
      // A few words and the code (the events pane has the whole sentence).
      detail = `  ✗ ${transfer.reason === null ? 'failed' : transferFailedShort(transfer.reason)}`;
      colour = 'red';
      break;
  }
  const headText = safe(padEnd(head, selected && focused ? width : 0));
  const first = selected && focused ? `{inverse}${headText}{/inverse}` : headText;
  return [first, `{${colour}-fg}${safe(truncate(detail, width))}{/${colour}-fg}`];
}

export function renderTransfers(state: DashboardState, width: number, height: number): string {
  if (state.transfers.length === 0) return '{gray-fg}No transfers.\nF3 or f: send files.{/gray-fg}';
  const perItem = 2;
  const fits = Math.max(1, Math.floor(height / perItem));
  const top = Math.max(0, Math.min(state.transferCursor - fits + 1, state.transfers.length - fits));
  const lines: string[] = [];
  for (let index = top; index < Math.min(state.transfers.length, top + fits); index++) {
    const transfer = state.transfers[index];
    if (transfer) lines.push(...transferLines(transfer, width, index === state.transferCursor, state.focus === 'transfers'));
  }
  return lines.join('\n');
}

const LEVEL_MARKS: Record<EventLine['level'], { mark: string; colour: string }> = {
  info: { mark: ' ', colour: 'white' },
  warn: { mark: '!', colour: 'yellow' },
  error: { mark: '✗', colour: 'red' },
};

/**
 * The events pane, newest at the bottom. An event longer than the pane wraps under its own text
 * (not truncated: a reason's sentence ends with its code, the part a user searches for). Scrolled
 * back, the newest `eventsScrollback` events are below the pane; the pane stays full while there
 * are events to fill it.
 */
export function renderEvents(state: DashboardState, width: number, height: number): string {
  const rows = Math.max(1, height);
  const events = state.events;
  const end = events.length - Math.min(state.eventsScrollback, Math.max(0, events.length - 1));
  const above: string[] = [];
  for (let index = end - 1; index >= 0 && above.length < rows; index--) {
    const event = events[index];
    if (event) above.unshift(...eventRows(event, width));
  }
  const shown = above.slice(Math.max(0, above.length - rows));
  for (let index = end; index < events.length && shown.length < rows; index++) {
    const event = events[index];
    if (event) shown.push(...eventRows(event, width).slice(0, rows - shown.length));
  }
  return shown.join('\n');
}

function eventRows(event: EventLine, width: number): string[] {
  const { mark, colour } = LEVEL_MARKS[event.level];
  const prefix = `${clock(event.atMs)} ${mark} `;
  const indent = textWidth(prefix);
  // A pane too narrow to wrap under the text: one row, cut as before.
  if (width - indent < 8) return [`{${colour}-fg}${safe(truncate(`${prefix}${event.text}`, width))}{/${colour}-fg}`];
  return wrapText(sanitize(event.text), width - indent).map(
    (part, index) => `{${colour}-fg}${escapeTags(`${index === 0 ? prefix : ' '.repeat(indent)}${part}`)}{/${colour}-fg}`,
  );
}

const STATUS_CONNECTION: Record<DashboardState['connection'], string> = {
  starting: '{yellow-fg}◌ starting{/yellow-fg}',
  ready: '{yellow-fg}○ client ready{/yellow-fg}',
  connected: '{green-fg}● connected{/green-fg}',
  reconnecting: '{yellow-fg}◐ reconnecting{/yellow-fg}',
  closed: '{red-fg}✗ client stopped{/red-fg}',
};

export function renderStatus(state: DashboardState): string {
  const connection = STATUS_CONNECTION[state.connection];
  const unread = totalUnread(state);
  const parts = [
    ' p2pchat',
    `server ${safe(state.config.serverAddress)}`,
    connection,
    state.me ? `user {bold}${safe(state.me)}{/bold}` : 'not logged in',
    unread > 0 ? `{bold}${unread} unread{/bold}` : null,
    state.quitting ? '{yellow-fg}logging out…{/yellow-fg}' : 'F1 help · q quit',
  ];
  return parts.filter((part) => part !== null).join(' │ ');
}

// ---------------------------------------------------------------------------------------------
// Dialogs

export interface DialogContent {
  readonly title: string;
  readonly body: string;
  readonly width: number;
  readonly height: number;
}

/** A request that popped up while the user typed shows how to reach it instead of its buttons. */
function requestAnswers(state: DashboardState): string {
  if (dialogWaiting(state)) return ' {gray-fg}Press Tab to answer; your typing goes on below{/gray-fg}';
  return yesNo(state, 'Accept (y)', 'Decline (n)');
}

function yesNo(state: DashboardState, yes: string, no: string): string {
  return `   ${button(yes, state.modalChoice === 'yes')}   ${button(no, state.modalChoice === 'no')}`;
}

export const HELP_LINES: readonly (readonly [string, string])[] = [
  ['Tab / Shift-Tab', 'next / previous pane'],
  ['← →', 'previous / next pane (outside the message line)'],
  ['↑ ↓', 'move in a list, scroll the chat or events'],
  ['Enter', 'send the message · open a chat with the friend'],
  ['', 'answer the selected friend request'],
  ['y / n', 'accept / decline (dialogs, friend requests)'],
  ['Ctrl-N / Ctrl-P', 'next / previous chat tab'],
  ['PgUp / PgDn', 'scroll the chat (back into its history)'],
  ['F5  or  /', 'search every chat\'s history'],
  ['F2  or  a', 'add a friend (send a request)'],
  ['F3  or  f', 'send files into the open chat'],
  ['F4  or  x', 'close the chat (again: remove its tab)'],
  ['r', 'remove the selected friend (or withdraw a request)'],
  ['b', 'block the selected friend or asker'],
  ['u', 'unblock a user (by username)'],
  ['F6  or  p', 'change your password'],
  ['F7  or  e', 'change your nickname'],
  ['F9', 'log out (back to the login form)'],
  ['Ctrl-L', 'redraw the screen'],
  ['c / Delete', 'cancel the selected transfer'],
  ['i / Esc', 'back to the message line'],
  ['F1  or  ?', 'this help'],
  ['q  or  Ctrl-C', 'log out and quit'],
];

export function dialogContent(state: DashboardState, modal: Modal): DialogContent {
  switch (modal.kind) {
    case 'chat-request': {
      const more = state.chatRequests.length > 1 ? `\n {gray-fg}${state.chatRequests.length - 1} more waiting{/gray-fg}` : '';
      const urgent = modal.secondsLeft <= 5 ? 'red' : 'yellow';
      const body = [
        '',
        ` {bold}${safe(modal.request.from)}{/bold} asks for a chat session.`,
        '',
        ` Time left: {${urgent}-fg}{bold}${modal.secondsLeft} s{/bold}{/${urgent}-fg}`,
        '',
        requestAnswers(state),
      ].join('\n');
      return { title: 'Chat request', body: body + more, width: 50, height: 10 + (more ? 1 : 0) };
    }
    case 'file-offer': {
      const { offer } = modal;
      const more = state.fileOffers.length > 1 ? `\n {gray-fg}${state.fileOffers.length - 1} more waiting{/gray-fg}` : '';
      const body = [
        '',
        ` {bold}${safe(offer.from)}{/bold} offers a file:`,
        `   ${safe(truncate(offer.name, 50))}  (${formatBytes(offer.size)})`,
        ` {gray-fg}saved into ${safe(truncate(state.config.downloadDir, 44))}{/gray-fg}`,
        '',
        requestAnswers(state),
      ].join('\n');
      return { title: 'File offer', body: body + more, width: 60, height: 10 + (more ? 1 : 0) };
    }
    case 'friend-request': {
      const body = ['', ` {bold}${safe(modal.from)}{/bold} wants to be your friend.`, '', yesNo(state, 'Accept (y)', 'Decline (n)')].join('\n');
      return { title: 'Friend request', body, width: 50, height: 8 };
    }
    case 'confirm': {
      const who = `{bold}${safe(modal.username)}{/bold}`;
      const lines =
        modal.action === 'remove'
          ? [` Remove ${who} from your friends?`, ' {gray-fg}(or withdraw your request to them){/gray-fg}']
          : [` Block ${who}?`, ' {gray-fg}Their friend and chat requests stop reaching you;{/gray-fg}', ' {gray-fg}they are not told. u unblocks.{/gray-fg}'];
      const yes = modal.action === 'remove' ? 'Remove (y)' : 'Block (y)';
      const body = ['', ...lines, '', yesNo(state, yes, 'Cancel (n)')].join('\n');
      return { title: modal.action === 'remove' ? 'Remove a friend' : 'Block a user', body, width: 56, height: lines.length + 6 };
    }
    case 'password': {
      const width = 56;
      const field = (label: string, which: 'old' | 'new'): string => {
        const focused = modal.field === which && !modal.pending;
        return `${focused ? '>' : ' '} ${label} ${renderEditor(modal[which], width - 22, focused, '*')}`;
      };
      // The server's refusal wraps (it ends with its code); the dialog grows to hold it.
      const status = modal.pending
        ? ['{yellow-fg}Checking…{/yellow-fg}']
        : modal.error
          ? wrapText(`✗ ${sanitize(modal.error)}`, width - 4).map((row) => `{red-fg}${escapeTags(row)}{/red-fg}`)
          : ['{gray-fg}Tab switch · Enter next/change · Esc cancel{/gray-fg}'];
      const body = ['', field('Current password', 'old'), field('New password    ', 'new'), '', ...status.map((row) => ` ${row}`)].join('\n');
      return { title: 'Change password', body, width, height: 8 + status.length };
    }
    case 'prompt': {
      const width = modal.purpose === 'send-files' ? 72 : 50;
      const session = activeSession(state);
      const title =
        modal.purpose === 'add-friend'
          ? 'Add a friend'
          : modal.purpose === 'unblock'
            ? 'Unblock a user'
            : modal.purpose === 'nickname'
              ? 'Change nickname'
              : modal.purpose === 'search'
                ? 'Search history'
                : `Send files to ${session?.peer ?? '?'}`;
      const hint =
        modal.purpose === 'add-friend'
          ? 'Username to send a friend request to:'
          : modal.purpose === 'unblock'
            ? 'Username to unblock:'
            : modal.purpose === 'nickname'
              ? `New nickname (now ${safe(state.myNickname ?? state.me ?? '?')}; empty: your username):`
              : modal.purpose === 'search'
                ? 'Text to look for in every chat:'
                : 'Paths, separated by spaces ("quote" paths with spaces):';
      const error = modal.error ? `{red-fg}✗ ${safe(modal.error)}{/red-fg}` : '{gray-fg}Enter to send · Esc to cancel{/gray-fg}';
      const body = ['', ` ${hint}`, '', ` > ${renderEditor(modal.editor, width - 8, true)}`, '', ` ${error}`].join('\n');
      return { title, body, width, height: 9 };
    }
    case 'help': {
      const lines = HELP_LINES.map(([keys, what]) => ` {bold}${padEnd(keys, 16)}{/bold} ${what}`);
      const log = state.config.logFile ? ` Log file: ${safe(state.config.logFile)}` : ' Logs: off';
      lines.push('', log, ` Downloads: ${safe(state.config.downloadDir)}`, '', ' {gray-fg}Esc, Enter or F1 closes this help{/gray-fg}');
      return { title: 'Keys', body: lines.join('\n'), width: 70, height: lines.length + 3 };
    }
  }
}
