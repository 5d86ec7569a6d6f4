/**
 * The dashboard's view-model: all of its state, and one pure reducer over client events, keys and
 * clock ticks. No blessed, no I/O, no clock reads: time comes in with each action (`nowMs`) and
 * what must happen outside comes back as data (commands for the client, a quit request). The
 * blessed views only draw a state and turn keypresses into actions, so everything a user can do
 * is testable here without a terminal.
 *
 * Theory of operation:
 * - Screen 'login' until `login.ok`; back to 'login' on an unrequested `logout.ok`.
 * - Modal dialogs stack by urgency: a chat request (it times out) over a file offer over whatever
 *   the user opened (help, a prompt, a friend-request answer). Keys go to the top one only.
 * - Every list is bounded (limits.ts); every list the user moves in has a cursor clamped to it.
 */
import type { ClientCommand, ClientEvent, ClientEventOf, PresenceStatus } from './client-port.ts';
import { CHAT_TYPING_INTERVAL_MS, HISTORY_SEARCH_CHARS_MAX } from '../../core/limits.ts';
import { formatBytes, parsePathList } from './format.ts';
import { EMPTY_EDITOR, type KeyInput, type LineEditor, editLine } from './line-editor.ts';
import { chatClosedText, chatFailedText, clientStoppedText, errorText, transferFailedText } from './reason-text.ts';
import {
  CHAT_LINES_PER_SESSION_MAX,
  EVENT_LINES_MAX,
  FILES_PER_SEND_MAX,
  HISTORY_LINES_PER_PAGE,
  HISTORY_PREFETCH_LINES,
  NICKNAME_CHARS_MAX,
  SEARCH_RESULTS_SHOWN_MAX,
  PASSWORD_CHARS_MAX,
  PASSWORD_CHARS_MIN,
  PENDING_PROMPTS_MAX,
  PROMPT_CHARS_MAX,
  SPEED_SAMPLES_MAX,
  SPEED_WINDOW_MS,
  TEXT_MESSAGE_CHARS_MAX,
  TRANSFERS_SHOWN_MAX,
  TYPING_PAUSE_MS,
  USERNAME_CHARS_MAX,
} from './limits.ts';

// ---------------------------------------------------------------------------------------------
// State

/**
 * starting: the client is not taking commands yet; ready: it is, but the server has not answered
 * us yet (nothing proves the link before a login); connected: the server answered.
 */
export type ConnectionState = 'starting' | 'ready' | 'connected' | 'reconnecting' | 'closed';
export type AuthMode = 'login' | 'signup';
export type AuthField = 'username' | 'password' | 'nickname' | 'submit' | 'switch';

export interface AuthState {
  readonly mode: AuthMode;
  readonly field: AuthField;
  readonly username: LineEditor;
  readonly password: LineEditor;
  readonly nickname: LineEditor;
  /** The request in flight, if any: the form is locked until it is answered. */
  readonly pending: AuthMode | null;
  readonly error: string | null;
  readonly notice: string | null;
}

export interface Friend {
  readonly username: string;
  readonly nickname: string;
  readonly status: PresenceStatus;
  /** What this user and the friend compare out of band (docs/SECURITY.md); absent while the friend has no keys. */
  readonly safetyNumber?: string;
}

export type ChatLineKind = 'in' | 'out' | 'system';
export type MessageId = string | number;
export interface ChatLine {
  readonly kind: ChatLineKind;
  readonly text: string;
  readonly atMs: number;
  /** Outgoing lines: true once the peer acknowledged the message (`chat.sent`). */
  readonly delivered?: boolean;
  /** Messages: the id (ours or the friend's), matching receipts and history records. */
  readonly id?: MessageId;
  /**
   * Outgoing lines: held sealed by the server for the friend (`chat.queued`), in the friend's
   * history (`chat.delivered`), read by the friend (`chat.read`), or never arrived.
   */
  readonly receipt?: 'queued' | 'delivered' | 'read' | 'failed';
}

/**
 * The history of a chat in the client's store (`history`): not asked yet, being asked, older
 * records may remain (a full page came back), or every record is shown.
 */
export type HistoryLoad = 'none' | 'loading' | 'more' | 'all';

/**
 * mailbox: a tab with no chat session (the friend is offline, or we did not ask): it shows the
 * history, and what the user writes there goes sealed through the server (`chat.queued`). A
 * session asked for or offered there moves it on to requesting and open, as any tab.
 */
export type SessionState = 'mailbox' | 'requesting' | 'open' | 'closed' | 'failed';
export interface Session {
  readonly peer: string;
  readonly state: SessionState;
  readonly lines: readonly ChatLine[];
  readonly unread: number;
  /** Lines scrolled up from the bottom (0 = following the newest). */
  readonly scrollback: number;
  readonly history: HistoryLoad;
  /** When the friend last said it is typing (null: not lately). */
  readonly typingAtMs: number | null;
  /** When we last told the friend we are typing (chat.typing). */
  readonly typingSentAtMs: number | null;
  /** The newest of the friend's messages we told it we read (chat.read). */
  readonly readUpTo: MessageId | null;
}

export interface ChatRequest {
  readonly from: string;
  readonly receivedAtMs: number;
  readonly deadlineMs: number;
}

export interface FileOffer {
  readonly transferId: string;
  readonly from: string;
  readonly name: string;
  readonly size: number;
}

export type TransferState = 'waiting' | 'active' | 'done' | 'failed';
export interface ProgressSample {
  readonly atMs: number;
  readonly bytes: number;
}
export interface Transfer {
  readonly transferId: string;
  readonly direction: 'in' | 'out';
  readonly peer: string;
  readonly name: string;
  readonly size: number;
  readonly bytes: number;
  readonly state: TransferState;
  readonly startedAtMs: number;
  readonly finishedAtMs: number | null;
  readonly samples: readonly ProgressSample[];
  /** Where a received file was saved. */
  readonly path: string | null;
  readonly reason: string | null;
}

export type EventLevel = 'info' | 'warn' | 'error';
export interface EventLine {
  readonly atMs: number;
  readonly level: EventLevel;
  readonly text: string;
}

export type Pane = 'input' | 'friends' | 'chat' | 'transfers' | 'events';
/** Tab order. */
export const PANES: readonly Pane[] = ['input', 'friends', 'chat', 'transfers', 'events'];

export type PromptPurpose = 'add-friend' | 'send-files' | 'unblock' | 'nickname' | 'search';
/** What a confirm dialog asks before it is done: ending a friendship, or blocking a user. */
export type ConfirmAction = 'remove' | 'block';
export type PasswordField = 'old' | 'new';
export type UserDialog =
  | { readonly kind: 'help' }
  | { readonly kind: 'prompt'; readonly purpose: PromptPurpose; readonly editor: LineEditor; readonly error: string | null }
  | { readonly kind: 'friend-request'; readonly from: string }
  | { readonly kind: 'confirm'; readonly action: ConfirmAction; readonly username: string }
  /** Change password: both fields masked; `pending` while the server checks (the dialog shows its answer). */
  | {
      readonly kind: 'password';
      readonly old: LineEditor;
      readonly new: LineEditor;
      readonly field: PasswordField;
      readonly error: string | null;
      readonly pending: boolean;
    };

/** The dialog on top, with what it is about. */
export type Modal =
  | { readonly kind: 'chat-request'; readonly request: ChatRequest; readonly secondsLeft: number }
  | { readonly kind: 'file-offer'; readonly offer: FileOffer }
  | UserDialog;

export interface DashboardConfig {
  /** Server address as given (shown in the status bar). */
  readonly serverAddress: string;
  /** How long a chat request stays answerable (the server's session timeout). */
  readonly chatRequestTimeoutMs: number;
  /** Shown in the help dialog. */
  readonly logFile: string | null;
  readonly downloadDir: string;
  /** What a leading ~ means in the send-files prompt (null: no expansion). */
  readonly homeDir?: string | null;
}

export interface DashboardState {
  readonly config: DashboardConfig;
  readonly nowMs: number;
  readonly screen: 'login' | 'main';
  readonly connection: ConnectionState;
  /** Set once the user asked to quit: the client is logging out. */
  readonly quitting: boolean;
  readonly me: string | null;
  /** Our nickname as the server last said (login.ok, account.updated). */
  readonly myNickname: string | null;
  readonly auth: AuthState;
  /** Sorted: online first, then by username. */
  readonly friends: readonly Friend[];
  /** Friend requests waiting for our answer, oldest first. */
  readonly incomingRequests: readonly string[];
  /** Friend requests we sent that are not answered yet. */
  readonly outgoingRequests: readonly string[];
  /** Tabs, in the order they opened. */
  readonly sessions: readonly Session[];
  readonly activePeer: string | null;
  readonly chatRequests: readonly ChatRequest[];
  readonly fileOffers: readonly FileOffer[];
  readonly transfers: readonly Transfer[];
  readonly events: readonly EventLine[];
  readonly focus: Pane;
  readonly friendCursor: number;
  readonly transferCursor: number;
  /** Lines scrolled up in the events pane. */
  readonly eventsScrollback: number;
  readonly input: LineEditor;
  readonly dialog: UserDialog | null;
  /** Which button of a yes/no dialog is highlighted. */
  readonly modalChoice: 'yes' | 'no';
  /**
   * Whether the chat request or file offer on top takes the keys. One that pops up while the user
   * types waits, shown, until the typing pauses (TYPING_PAUSE_MS) or Tab goes to it.
   */
  readonly dialogFocused: boolean;
  /** When the user last pressed a key (-Infinity: never). */
  readonly lastKeyMs: number;
  /** Numbers the ids of the messages we send (with the time, unique across runs). */
  readonly nextMessageSeq: number;
}

export function initialState(config: DashboardConfig, nowMs: number): DashboardState {
  return {
    config,
    nowMs,
    screen: 'login',
    connection: 'starting',
    quitting: false,
    me: null,
    myNickname: null,
    auth: {
      mode: 'login',
      field: 'username',
      username: EMPTY_EDITOR,
      password: EMPTY_EDITOR,
      nickname: EMPTY_EDITOR,
      pending: null,
      error: null,
      notice: null,
    },
    friends: [],
    incomingRequests: [],
    outgoingRequests: [],
    sessions: [],
    activePeer: null,
    chatRequests: [],
    fileOffers: [],
    transfers: [],
    events: [],
    focus: 'friends',
    friendCursor: 0,
    transferCursor: 0,
    eventsScrollback: 0,
    input: EMPTY_EDITOR,
    dialog: null,
    modalChoice: 'yes',
    dialogFocused: false,
    lastKeyMs: Number.NEGATIVE_INFINITY,
    nextMessageSeq: 1,
  };
}

// ---------------------------------------------------------------------------------------------
// Derived views of the state (used by the views and the tests)

export type FriendPaneItem =
  | { readonly kind: 'friend'; readonly friend: Friend; readonly unread: number; readonly session: SessionState | null }
  | { readonly kind: 'request'; readonly from: string }
  | { readonly kind: 'requested'; readonly username: string };

/** What the friends pane lists, in order: friends, then requests to answer, then requests sent. */
export function friendPaneItems(state: DashboardState): FriendPaneItem[] {
  const items: FriendPaneItem[] = state.friends.map((friend) => {
    const session = findSession(state, friend.username);
    return { kind: 'friend', friend, unread: session?.unread ?? 0, session: session?.state ?? null };
  });
  for (const from of state.incomingRequests) items.push({ kind: 'request', from });
  for (const username of state.outgoingRequests) items.push({ kind: 'requested', username });
  return items;
}

export function findSession(state: DashboardState, peer: string): Session | undefined {
  return state.sessions.find((session) => session.peer === peer);
}

export function activeSession(state: DashboardState): Session | undefined {
  return state.activePeer === null ? undefined : findSession(state, state.activePeer);
}

export function totalUnread(state: DashboardState): number {
  return state.sessions.reduce((sum, session) => sum + session.unread, 0);
}

export function secondsLeft(request: ChatRequest, nowMs: number): number {
  return Math.max(0, Math.ceil((request.deadlineMs - nowMs) / 1000));
}

/** The dialog on top, if any (keys go to it unless it is a request waiting for the user's typing to pause). */
export function topModal(state: DashboardState): Modal | null {
  const request = state.chatRequests[0];
  if (request) return { kind: 'chat-request', request, secondsLeft: secondsLeft(request, state.nowMs) };
  const offer = state.fileOffers[0];
  if (offer) return { kind: 'file-offer', offer };
  return state.dialog;
}

/** The chat request or file offer on top, as a key that changes when another one comes up. */
function requestOnTop(state: DashboardState): string | null {
  const request = state.chatRequests[0];
  if (request) return `chat:${request.from}:${request.receivedAtMs}`;
  const offer = state.fileOffers[0];
  return offer ? `file:${offer.transferId}` : null;
}

/** True when the top dialog is a request that does not take the keys yet. */
export function dialogWaiting(state: DashboardState): boolean {
  return requestOnTop(state) !== null && !state.dialogFocused;
}

/** The user has text under way (the message line or an open prompt), or pressed a key just now. */
function userTyping(state: DashboardState): boolean {
  if (state.nowMs - state.lastKeyMs < TYPING_PAUSE_MS) return true;
  if (state.dialog?.kind === 'prompt' && state.dialog.editor.text !== '') return true;
  if (state.dialog?.kind === 'password' && (state.dialog.old.text !== '' || state.dialog.new.text !== '')) return true;
  return state.screen === 'main' && state.focus === 'input' && state.input.text !== '';
}

/**
 * Bytes per second over the last SPEED_WINDOW_MS of progress, or null before two samples. A
 * finished transfer reports its average from its first progress to its end (null if it had none).
 */
export function transferSpeed(transfer: Transfer): number | null {
  if (transfer.state === 'done' && transfer.finishedAtMs !== null) {
    // Without progress the clock never started (it would count the wait for an answer).
    if (transfer.samples.length === 0) return null;
    const elapsedMs = transfer.finishedAtMs - transfer.startedAtMs;
    return elapsedMs > 0 ? (transfer.size * 1000) / elapsedMs : null;
  }
  const last = transfer.samples[transfer.samples.length - 1];
  if (!last) return null;
  const first = transfer.samples.find((sample) => last.atMs - sample.atMs <= SPEED_WINDOW_MS) ?? last;
  const elapsedMs = last.atMs - first.atMs;
  if (elapsedMs <= 0) return null;
  return ((last.bytes - first.bytes) * 1000) / elapsedMs;
}

// ---------------------------------------------------------------------------------------------
// Actions and the reducer

export type DashboardAction =
  | { readonly type: 'event'; readonly event: ClientEvent; readonly nowMs: number }
  | { readonly type: 'key'; readonly key: KeyInput; readonly nowMs: number }
  | { readonly type: 'tick'; readonly nowMs: number }
  | { readonly type: 'port.closed'; readonly reason: string; readonly requested: boolean; readonly nowMs: number };

export interface Step {
  readonly state: DashboardState;
  /** Commands for the client, in order. */
  readonly commands: readonly ClientCommand[];
  /** True when the user asked to quit: the app closes the port (logging out) and exits. */
  readonly quit: boolean;
}

export function reduce(previous: DashboardState, action: DashboardAction): Step {
  const state = { ...previous, nowMs: Math.max(previous.nowMs, action.nowMs) };
  const out: Out = { commands: [], quit: false };
  let next: DashboardState;
  switch (action.type) {
    case 'event':
      next = onEvent(state, action.event, out);
      break;
    case 'key':
      next = { ...onKey(state, action.key, out), lastKeyMs: state.nowMs };
      break;
    case 'tick':
      next = expireChatRequests(state);
      break;
    case 'port.closed':
      next = addEvent(
        { ...state, connection: 'closed' },
        action.requested ? 'info' : 'error',
        action.requested ? 'Client closed' : clientStoppedText(action.reason, state.config.logFile),
      );
      break;
  }
  return { state: markRead(focusRequest(state, next), out), commands: out.commands, quit: out.quit };
}

/**
 * The friend's messages in the chat on screen count as read: tell the client (chat.read with the
 * newest one) whenever that one changes, whatever brought the chat on screen.
 */
function markRead(state: DashboardState, out: Out): DashboardState {
  if (state.screen !== 'main') return state;
  const session = activeSession(state);
  if (!session) return state;
  const newest = [...session.lines].reverse().find((line) => line.kind === 'in' && line.id !== undefined);
  if (newest?.id === undefined || newest.id === session.readUpTo) return state;
  out.commands.push({ cmd: 'chat.read', username: session.peer, id: newest.id });
  return updateSession(state, session.peer, (entry) => ({ ...entry, readUpTo: newest.id ?? null }));
}

/**
 * Decides whether the request on top takes the keys: a new one does only if the user is not
 * typing (the key that answered the last one counts as typing, so a second `y` cannot answer the
 * next one unseen); a waiting one does once the typing pauses with nothing under way.
 */
function focusRequest(before: DashboardState, after: DashboardState): DashboardState {
  const top = requestOnTop(after);
  if (top === null) return after.dialogFocused ? { ...after, dialogFocused: false } : after;
  if (top !== requestOnTop(before)) return { ...after, dialogFocused: !userTyping(after), modalChoice: 'yes' };
  if (!after.dialogFocused && !userTyping(after)) return { ...after, dialogFocused: true };
  return after;
}

interface Out {
  commands: ClientCommand[];
  quit: boolean;
}

// ---------------------------------------------------------------------------------------------
// Small immutable helpers

function addEvent(state: DashboardState, level: EventLevel, text: string): DashboardState {
  const events = [...state.events, { atMs: state.nowMs, level, text }].slice(-EVENT_LINES_MAX);
  // Someone reading older events keeps their place: the new line lands below.
  const eventsScrollback = state.eventsScrollback === 0 ? 0 : Math.min(state.eventsScrollback + 1, events.length);
  return { ...state, events, eventsScrollback };
}

function sortFriends(friends: readonly Friend[]): Friend[] {
  return [...friends].sort((a, b) => {
    if (a.status !== b.status) return a.status === 'online' ? -1 : 1;
    return a.username < b.username ? -1 : a.username > b.username ? 1 : 0;
  });
}

/** The user leaves the friend list and both request lists (unfriended or blocked). */
function forgetUser(state: DashboardState, username: string): DashboardState {
  return clampCursors({
    ...state,
    friends: state.friends.filter((friend) => friend.username !== username),
    incomingRequests: without(state.incomingRequests, username),
    outgoingRequests: without(state.outgoingRequests, username),
  });
}

function without(list: readonly string[], item: string): string[] {
  return list.filter((entry) => entry !== item);
}

function clampCursors(state: DashboardState): DashboardState {
  const friendCount = friendPaneItems(state).length;
  return {
    ...state,
    friendCursor: Math.max(0, Math.min(state.friendCursor, friendCount - 1)),
    transferCursor: Math.max(0, Math.min(state.transferCursor, state.transfers.length - 1)),
  };
}

function updateSession(state: DashboardState, peer: string, update: (session: Session) => Session): DashboardState {
  const existing = findSession(state, peer);
  if (!existing) {
    const created = update({ peer, state: 'requesting', lines: [], unread: 0, scrollback: 0, history: 'none', typingAtMs: null, typingSentAtMs: null, readUpTo: null });
    return { ...state, sessions: [...state.sessions, created] };
  }
  return { ...state, sessions: state.sessions.map((session) => (session.peer === peer ? update(session) : session)) };
}

function appendLine(session: Session, line: ChatLine): Session {
  const lines = [...session.lines, line].slice(-CHAT_LINES_PER_SESSION_MAX);
  // Keep a reader's place when they scrolled up.
  const scrollback = session.scrollback === 0 ? 0 : session.scrollback + 1;
  return { ...session, lines, scrollback };
}

function systemLine(state: DashboardState, text: string): ChatLine {
  return { kind: 'system', text, atMs: state.nowMs };
}

function updateTransfer(state: DashboardState, transferId: string, update: (transfer: Transfer) => Transfer): DashboardState {
  if (!state.transfers.some((transfer) => transfer.transferId === transferId)) return state;
  return { ...state, transfers: state.transfers.map((transfer) => (transfer.transferId === transferId ? update(transfer) : transfer)) };
}

function addTransfer(state: DashboardState, transfer: Transfer): DashboardState {
  let transfers = [...state.transfers.filter((existing) => existing.transferId !== transfer.transferId), transfer];
  while (transfers.length > TRANSFERS_SHOWN_MAX) {
    const finished = transfers.findIndex((entry) => entry.state === 'done' || entry.state === 'failed');
    transfers = transfers.filter((_, index) => index !== (finished >= 0 ? finished : 0));
  }
  return clampCursors({ ...state, transfers });
}

function activate(state: DashboardState, peer: string): DashboardState {
  return updateSession({ ...state, activePeer: peer }, peer, (session) => ({ ...session, unread: 0 }));
}

function friendLabel(state: DashboardState, username: string): string {
  const friend = state.friends.find((entry) => entry.username === username);
  return friend && friend.nickname && friend.nickname !== username ? `${friend.nickname} (${username})` : username;
}

// ---------------------------------------------------------------------------------------------
// Client events

function onEvent(state: DashboardState, event: ClientEvent, out: Out): DashboardState {
  switch (event.event) {
    case 'ready':
      return addEvent({ ...state, connection: state.connection === 'starting' ? 'ready' : state.connection }, 'info', `Client ready; server ${state.config.serverAddress}`);
    case 'signup.ok':
      return onSignupOk(state, out);
    case 'login.ok':
      return onLoginOk(state, event);
    case 'logout.ok':
      if (state.quitting) return state;
      return onLoggedOut(state);
    case 'friends':
      return clampCursors({
        ...state,
        friends: sortFriends(event.friends.map(toFriend)),
        incomingRequests: event.pending.filter((username, index) => event.pending.indexOf(username) === index),
      });
    case 'friend.request':
      if (state.incomingRequests.includes(event.from)) return state;
      return addEvent(clampCursors({ ...state, incomingRequests: [...state.incomingRequests, event.from] }), 'info', `${event.from} wants to be your friend (select the request and press y or n)`);
    case 'friend.requested':
      return addEvent(
        clampCursors({ ...state, outgoingRequests: [...without(state.outgoingRequests, event.username), event.username] }),
        'info',
        `Friend request sent to ${event.username}`,
      );
    case 'friend.added':
      return onFriendAdded(state, event);
    case 'friend.declined':
      return addEvent(
        clampCursors({ ...state, incomingRequests: without(state.incomingRequests, event.username), outgoingRequests: without(state.outgoingRequests, event.username) }),
        'info',
        `Friend request between you and ${event.username} declined`,
      );
    case 'friend.removed':
      return addEvent(forgetUser(state, event.username), 'info', `${friendLabel(state, event.username)} is no longer a friend`);
    case 'friend.blocked':
      return addEvent(forgetUser(state, event.username), 'info', `You blocked ${event.username}`);
    case 'friend.unblocked':
      return addEvent(state, 'info', `You unblocked ${event.username}`);
    case 'friend.updated': {
      const before = friendLabel(state, event.username);
      const friends = state.friends.map((friend) => (friend.username === event.username ? { ...friend, nickname: event.nickname } : friend));
      return addEvent({ ...state, friends }, 'info', `${before} is now called ${event.nickname}`);
    }
    case 'account.updated':
      return onAccountUpdated(state, event);
    case 'presence':
      return onPresence(state, event);
    case 'chat.request':
      return onChatRequest(state, event.from, event.timeoutMs ?? state.config.chatRequestTimeoutMs, out);
    case 'chat.opened':
      return onChatOpened(state, event.username, out);
    case 'chat.closed': {
      const session = findSession(state, event.username);
      if (!session) return state;
      // The tab says why in its last line, as the events pane does (reason-text.ts).
      const text = chatClosedText(event.reason, friendLabel(state, event.username));
      const closed = updateSession(state, event.username, (entry) => appendLine({ ...entry, state: 'closed' }, systemLine(state, text)));
      return addEvent(closed, 'info', text);
    }
    case 'chat.failed': {
      // A request to us ended (timeout, cancel, caller gone): its dialog goes with it. Only an
      // `incoming` one: ours to the same friend may fail while theirs still waits for our answer.
      const label = friendLabel(state, event.username);
      if (event.incoming === true && state.chatRequests.some((request) => request.from === event.username)) {
        const ended = { ...state, chatRequests: state.chatRequests.filter((request) => request.from !== event.username) };
        return addEvent(ended, 'warn', chatFailedText(event.reason, label, true));
      }
      const text = chatFailedText(event.reason, label, event.incoming === true);
      // A chat already open stays open: the request that failed was another one (the friend asked
      // again after losing their end, and their hello never came), not this chat.
      const session = findSession(state, event.username);
      if (session === undefined || session.state === 'open') return addEvent(state, 'warn', text);
      const failed = updateSession(state, event.username, (entry) => appendLine({ ...entry, state: 'failed' }, systemLine(state, text)));
      return addEvent(failed, 'warn', text);
    }
    case 'chat.message':
      return onChatMessage(state, event, out);
    case 'chat.sent':
      return updateSession(state, event.username, (session) => markSent(session, event.id));
    case 'chat.queued':
      return addEvent(
        updateLines(state, event.username, (line) => (line.kind === 'out' && line.id === event.id && line.receipt === undefined ? { ...line, receipt: 'queued' } : line)),
        'info',
        `${friendLabel(state, event.username)} has no open chat: your message is sealed and held by the server until they take it`,
      );
    case 'chat.delivered':
      return updateLines(state, event.username, (line) => (line.kind === 'out' && line.id === event.id && line.receipt !== 'read' ? { ...line, delivered: true, receipt: 'delivered' } : line));
    case 'chat.read':
      return onReadReceipt(state, event.username, event.id);
    case 'chat.typing':
      return findSession(state, event.from) ? updateSession(state, event.from, (session) => ({ ...session, typingAtMs: state.nowMs })) : state;
    case 'history':
      return event.text === undefined ? onHistoryPage(state, event) : onSearchResults(state, event);
    case 'file.offer':
      return onFileOffer(state, event, out);
    case 'file.offered':
      return addEvent(
        addTransfer(state, newTransfer(state, event.transferId, 'out', event.username, event.name, event.size, 'waiting')),
        'info',
        `Offered ${event.name} to ${event.username}; waiting for an answer`,
      );
    case 'file.progress': {
      const progressed = updateTransfer(state, event.transferId, (transfer) => withProgress(transfer, event.bytes, event.size, state.nowMs));
      if (event.resumedFrom === undefined) return progressed;
      // Either side hears where a cut transfer picked up again.
      const name = state.transfers.find((transfer) => transfer.transferId === event.transferId)?.name ?? `transfer ${event.transferId}`;
      return addEvent(progressed, 'info', `Resumed ${name} from ${formatBytes(event.resumedFrom)}`);
    }
    case 'file.received': {
      const done = updateTransfer(state, event.transferId, (transfer) => ({
        ...transfer,
        state: 'done',
        bytes: event.size,
        size: event.size,
        path: event.path,
        finishedAtMs: state.nowMs,
      }));
      const noted = updateSession(done, event.from, (session) => appendLine(session, systemLine(state, `Received a file, saved to ${event.path}`)));
      return addEvent(findSession(state, event.from) ? noted : done, 'info', `Received a file from ${event.from}, saved to ${event.path}`);
    }
    case 'file.sent': {
      const done = updateTransfer(state, event.transferId, (transfer) => ({ ...transfer, state: 'done', bytes: event.size, finishedAtMs: state.nowMs }));
      const name = state.transfers.find((transfer) => transfer.transferId === event.transferId)?.name ?? `transfer ${event.transferId}`;
      return addEvent(done, 'info', `Sent ${name} to ${event.username}`);
    }
    case 'file.failed': {
      const transfer = state.transfers.find((entry) => entry.transferId === event.transferId);
      const offer = state.fileOffers.find((entry) => entry.transferId === event.transferId);
      const failed = updateTransfer({ ...state, fileOffers: state.fileOffers.filter((entry) => entry.transferId !== event.transferId) }, event.transferId, (entry) => ({
        ...entry,
        state: 'failed',
        reason: event.reason,
        finishedAtMs: state.nowMs,
      }));
      const file = transfer?.name ?? offer?.name ?? `transfer ${event.transferId}`;
      const peer = transfer?.peer ?? offer?.from ?? event.username ?? null;
      const direction = transfer?.direction ?? (offer === undefined ? null : 'in');
      return addEvent(failed, 'warn', transferFailedText(event.reason, { file, peer: peer === null ? null : friendLabel(state, peer), direction }));
    }
    case 'disconnected':
      return addEvent({ ...state, connection: 'reconnecting' }, 'warn', 'Lost the server; reconnecting…');
    case 'server.degraded':
      return addEvent(state, 'warn', `The server lost its database or bus; logging in again in ${Math.ceil(event.retryInMs / 1000)} s…`);
    case 'reconnected':
      if (state.screen === 'main') out.commands.push({ cmd: 'friends' });
      return addEvent({ ...state, connection: 'connected' }, 'info', 'Reconnected to the server');
    case 'server.key':
      return addEvent(state, 'info', `Server certificate SHA-256 ${event.fingerprint} (${event.pinned ? 'matches the pin' : 'first use: now pinned'})`);
    case 'fingerprint':
      return addEvent(state, 'info', `Safety number with ${event.username}: ${event.safetyNumber}`);
    case 'peer.key.changed':
      return addEvent(
        {
          ...state,
          friends: state.friends.map((friend) => (friend.username === event.username ? { ...friend, safetyNumber: event.new } : friend)),
        },
        'error',
        `${friendLabel(state, event.username)}'s identity key changed: safety number ${event.old} is now ${event.new}. Compare the new one with them before trusting the chat.`,
      );
    case 'error':
      return onError(state, event);
  }
}

function toFriend(info: { username: string; nickname?: string | undefined; status: PresenceStatus; safetyNumber?: string | undefined }): Friend {
  const friend: Friend = { username: info.username, nickname: info.nickname ?? info.username, status: info.status };
  return info.safetyNumber === undefined ? friend : { ...friend, safetyNumber: info.safetyNumber };
}

function onSignupOk(state: DashboardState, out: Out): DashboardState {
  const username = state.auth.username.text;
  const password = state.auth.password.text;
  // Sign-up then straight in: the user typed the credentials a moment ago.
  out.commands.push({ cmd: 'login', username, password });
  return { ...state, connection: 'connected', auth: { ...state.auth, mode: 'login', pending: 'login', error: null, notice: 'Account created; logging in…' } };
}

function onAccountUpdated(state: DashboardState, event: ClientEventOf<'account.updated'>): DashboardState {
  const next = { ...state, myNickname: event.nickname };
  if (state.dialog?.kind === 'password' && state.dialog.pending) {
    return addEvent({ ...next, dialog: null }, 'info', 'Password changed; any other session of this account can no longer resume');
  }
  return addEvent(next, 'info', `Your nickname is now ${event.nickname}`);
}

function onLoginOk(state: DashboardState, event: ClientEventOf<'login.ok'>): DashboardState {
  const me = state.auth.username.text;
  const loggedIn: DashboardState = {
    ...state,
    connection: 'connected',
    screen: 'main',
    me,
    friends: sortFriends(event.friends.map(toFriend)),
    // Requests that came while we were away (each also comes as a friend.request, which finds it listed).
    incomingRequests: event.pending === undefined ? state.incomingRequests : [...new Set(event.pending)],
    myNickname: event.nickname ?? me,
    // The password leaves memory as soon as it has served.
    auth: { ...state.auth, password: EMPTY_EDITOR, pending: null, error: null, notice: null, field: 'username' },
    focus: 'friends',
    friendCursor: 0,
  };
  const online = loggedIn.friends.filter((friend) => friend.status === 'online').length;
  const asking = loggedIn.incomingRequests.length;
  const requests = asking === 0 ? '' : `; ${asking} friend request${asking === 1 ? '' : 's'} waiting`;
  return addEvent(clampCursors(loggedIn), 'info', `Logged in as ${me}; ${online} of ${loggedIn.friends.length} friends online${requests}`);
}

/** Back to the login form with nothing of the last user's left on screen (the events stay). */
function onLoggedOut(state: DashboardState): DashboardState {
  const fresh = initialState(state.config, state.nowMs);
  return addEvent(
    {
      ...fresh,
      connection: state.connection,
      events: state.events,
      auth: { ...fresh.auth, username: state.auth.username, field: 'password', notice: 'Logged out' },
    },
    'info',
    'Logged out',
  );
}

function onFriendAdded(state: DashboardState, event: ClientEventOf<'friend.added'>): DashboardState {
  const { username } = event;
  const friend = toFriend(event);
  const friends = sortFriends([...state.friends.filter((known) => known.username !== username), friend]);
  return addEvent(
    clampCursors({
      ...state,
      friends,
      incomingRequests: without(state.incomingRequests, username),
      outgoingRequests: without(state.outgoingRequests, username),
    }),
    'info',
    `${username} is now your friend`,
  );
}

function onPresence(state: DashboardState, event: ClientEventOf<'presence'>): DashboardState {
  const known = state.friends.find((friend) => friend.username === event.username);
  if (known && known.status === event.status) return state;
  const friends = known
    ? state.friends.map((friend) => (friend.username === event.username ? { ...friend, status: event.status } : friend))
    : [...state.friends, { username: event.username, nickname: event.username, status: event.status }];
  return addEvent(clampCursors({ ...state, friends: sortFriends(friends) }), 'info', `${friendLabel(state, event.username)} is ${event.status}`);
}

function onChatRequest(state: DashboardState, from: string, timeoutMs: number, out: Out): DashboardState {
  const deadlineMs = state.nowMs + timeoutMs;
  if (state.chatRequests.some((request) => request.from === from)) {
    return { ...state, chatRequests: state.chatRequests.map((request) => (request.from === from ? { ...request, deadlineMs } : request)) };
  }
  if (state.chatRequests.length >= PENDING_PROMPTS_MAX) {
    out.commands.push({ cmd: 'chat.answer', username: from, accept: false });
    return addEvent(state, 'warn', `Declined a chat request from ${from}: too many requests waiting`);
  }
  const wasIdle = state.chatRequests.length === 0;
  const next = { ...state, chatRequests: [...state.chatRequests, { from, receivedAtMs: state.nowMs, deadlineMs }] };
  return addEvent(wasIdle ? { ...next, modalChoice: 'yes' } : next, 'info', `${friendLabel(state, from)} asks for a chat session`);
}

function expireChatRequests(state: DashboardState): DashboardState {
  const expired = state.chatRequests.filter((request) => request.deadlineMs <= state.nowMs);
  if (expired.length === 0) return state;
  let next: DashboardState = { ...state, chatRequests: state.chatRequests.filter((request) => request.deadlineMs > state.nowMs) };
  for (const request of expired) next = addEvent(next, 'warn', `Chat request from ${friendLabel(state, request.from)} timed out`);
  return next;
}

function onChatOpened(state: DashboardState, peer: string, out: Out): DashboardState {
  const before = findSession(state, peer);
  // Follow a session the user asked for or accepted; don't yank them away from another chat.
  const follow = state.activePeer === null || before?.state === 'requesting' || activeSession(state)?.state !== 'open';
  let next = updateSession(state, peer, (session) => appendLine({ ...session, state: 'open' }, systemLine(state, 'Session opened')));
  // What was said before, from the client's history, above the new session.
  if ((before?.history ?? 'none') === 'none') next = askHistory(next, peer, null, out);
  if (follow) next = { ...activate(next, peer), focus: 'input' };
  return addEvent(next, 'info', `Chat with ${friendLabel(state, peer)} opened`);
}

function onChatMessage(state: DashboardState, event: ClientEventOf<'chat.message'>, out: Out): DashboardState {
  const { from, text, id } = event;
  const seen = state.screen === 'main' && state.activePeer === from;
  const existing = findSession(state, from);
  // A sealed message held by the server comes without a session: its tab is a mailbox tab, with
  // what was said before above it. It shows when it was written (never later than now: the
  // sender's clock says so, and a clock may be wrong).
  const offline = event.offline === true;
  const atMs = offline && event.sentAtMs !== undefined ? Math.min(event.sentAtMs, state.nowMs) : state.nowMs;
  let next = updateSession(state, from, (session) => {
    // A P2P message proves a session (a new tab, or one still asking, is open); a sealed one does not.
    let sessionState: SessionState = session.state;
    if (existing === undefined) sessionState = offline ? 'mailbox' : 'open';
    else if (session.state === 'requesting' && !offline) sessionState = 'open';
    const opened = { ...session, state: sessionState };
    return {
      ...appendLine(opened, { kind: 'in', text, atMs, id }),
      unread: seen ? 0 : session.unread + 1,
      // A message ends the typing.
      typingAtMs: null,
    };
  });
  if (existing === undefined && offline) next = askHistory(next, from, null, out);
  return next.activePeer === null ? activate(next, from) : next;
}

/** The friend acknowledged message `id` (or, when no line has that id, the oldest waiting: acks keep the order). */
function markSent(session: Session, id: MessageId): Session {
  let index = session.lines.findIndex((line) => line.kind === 'out' && line.id === id);
  if (index < 0) index = session.lines.findIndex((line) => line.kind === 'out' && line.delivered === false);
  if (index < 0) return session;
  return { ...session, lines: session.lines.map((line, at) => (at === index ? { ...line, delivered: true } : line)) };
}

function updateLines(state: DashboardState, peer: string, update: (line: ChatLine) => ChatLine): DashboardState {
  if (!findSession(state, peer)) return state;
  return updateSession(state, peer, (session) => ({ ...session, lines: session.lines.map(update) }));
}

/** The friend read up to our message `id`: it and every earlier message we sent. */
function onReadReceipt(state: DashboardState, peer: string, id: MessageId): DashboardState {
  const session = findSession(state, peer);
  if (!session) return state;
  const index = session.lines.findIndex((line) => line.kind === 'out' && line.id === id);
  if (index < 0) return state;
  return updateSession(state, peer, (entry) => ({
    ...entry,
    lines: entry.lines.map((line, at) => (at <= index && line.kind === 'out' && line.receipt !== 'failed' ? { ...line, delivered: true, receipt: 'read' } : line)),
  }));
}

/** Asks the client's history for records with `peer` older than `before` (null: the newest). */
function askHistory(state: DashboardState, peer: string, before: MessageId | null, out: Out): DashboardState {
  out.commands.push({ cmd: 'history', username: peer, limit: HISTORY_LINES_PER_PAGE, ...(before === null ? {} : { before }) });
  return updateSession(state, peer, (session) => ({ ...session, history: 'loading' }));
}

/** A page of history: the records not on screen yet go above what is, oldest first. */
function onHistoryPage(state: DashboardState, event: ClientEventOf<'history'>): DashboardState {
  const peer = event.username;
  if (peer === undefined || !findSession(state, peer)) return state;
  return updateSession(state, peer, (session) => {
    const shown = new Set(session.lines.filter((line) => line.id !== undefined).map((line) => `${line.kind}:${JSON.stringify(line.id)}`));
    const older: ChatLine[] = [];
    for (const record of event.messages) {
      const kind = record.direction === 'in' ? 'in' : 'out';
      if (record.kind === 'message' && shown.has(`${kind}:${JSON.stringify(record.id)}`)) continue;
      older.push(historyLine(record));
    }
    const room = CHAT_LINES_PER_SESSION_MAX - session.lines.length;
    const kept = older.slice(Math.max(0, older.length - Math.max(0, room)));
    // A short page means nothing older is left; a full pane keeps no more either.
    const full = kept.length < older.length || session.lines.length + kept.length >= CHAT_LINES_PER_SESSION_MAX;
    return { ...session, lines: [...kept, ...session.lines], history: event.messages.length < HISTORY_LINES_PER_PAGE || full ? 'all' : 'more' };
  });
}

function historyLine(record: ClientEventOf<'history'>['messages'][number]): ChatLine {
  const atMs = Date.parse(record.at);
  if (record.kind === 'file') {
    const what = record.direction === 'out' ? 'Sent a file' : 'Received a file';
    const outcome = record.status === 'done' ? '' : record.status === 'failed' ? ' (failed)' : ' (not finished)';
    return { kind: 'system', text: `${what}: ${record.text}${outcome}`, atMs };
  }
  if (record.direction === 'in') return { kind: 'in', text: record.text, atMs, id: record.id };
  const receipt = record.status === 'read' ? 'read' : record.status === 'delivered' ? 'delivered' : record.status === 'failed' ? 'failed' : record.status === 'queued' ? 'queued' : undefined;
  const delivered = record.status !== 'sending' && record.status !== 'queued' && record.status !== 'failed';
  return { kind: 'out', text: record.text, atMs, id: record.id, delivered, ...(receipt === undefined ? {} : { receipt }) };
}

/** Search matches go to the events pane, newest first. */
function onSearchResults(state: DashboardState, event: ClientEventOf<'history'>): DashboardState {
  const count = event.messages.length;
  let next = addEvent(state, 'info', `Search "${event.text ?? ''}": ${count === 0 ? 'nothing found' : `${count} found${count > SEARCH_RESULTS_SHOWN_MAX ? `, the newest ${SEARCH_RESULTS_SHOWN_MAX} below` : ''}`}`);
  for (const record of event.messages.slice(0, SEARCH_RESULTS_SHOWN_MAX)) {
    const arrow = record.direction === 'out' ? `to ${record.username}` : `from ${record.username}`;
    next = addEvent(next, 'info', `  ${record.at.slice(0, 16).replace('T', ' ')} ${arrow}: ${record.text}`);
  }
  return next;
}

function onFileOffer(state: DashboardState, event: ClientEventOf<'file.offer'>, out: Out): DashboardState {
  if (state.fileOffers.length >= PENDING_PROMPTS_MAX) {
    out.commands.push({ cmd: 'file.answer', transferId: event.transferId, accept: false });
    return addEvent(state, 'warn', `Declined ${event.name} from ${event.from}: too many offers waiting`);
  }
  const offer: FileOffer = { transferId: event.transferId, from: event.from, name: event.name, size: event.size };
  const next = { ...state, fileOffers: [...state.fileOffers, offer] };
  return addEvent(state.fileOffers.length === 0 && state.chatRequests.length === 0 ? { ...next, modalChoice: 'yes' } : next, 'info', `${event.from} offers ${event.name}`);
}

function newTransfer(state: DashboardState, transferId: string, direction: 'in' | 'out', peer: string, name: string, size: number, initial: TransferState): Transfer {
  return {
    transferId,
    direction,
    peer,
    name,
    size,
    bytes: 0,
    state: initial,
    startedAtMs: state.nowMs,
    finishedAtMs: null,
    samples: [],
    path: null,
    reason: null,
  };
}

function withProgress(transfer: Transfer, bytes: number, size: number, nowMs: number): Transfer {
  if (transfer.state === 'done' || transfer.state === 'failed') return transfer;
  // The clock of a transfer starts at its first progress (an offer may wait long for an answer).
  const startedAtMs = transfer.state === 'waiting' ? nowMs : transfer.startedAtMs;
  const samples = [...transfer.samples, { atMs: nowMs, bytes }].filter((sample) => nowMs - sample.atMs <= SPEED_WINDOW_MS * 2).slice(-SPEED_SAMPLES_MAX);
  return { ...transfer, state: 'active', bytes: Math.min(bytes, size), size, samples, startedAtMs };
}

function onError(state: DashboardState, event: ClientEventOf<'error'>): DashboardState {
  const text = errorText({ code: event.code, message: event.message, detail: event.detail, who: event.username === undefined ? undefined : friendLabel(state, event.username) });
  // HISTORY_UNAVAILABLE answers no login: the client says it once after `ready`, maybe while a
  // login typed before then is still on its way, which must not be taken for refused.
  if (state.auth.pending !== null && event.code !== 'HISTORY_UNAVAILABLE') {
    return { ...state, auth: { ...state.auth, pending: null, error: text, notice: null } };
  }
  // The password dialog waits for the server: its answer shows there, and the user may try again.
  if (state.dialog?.kind === 'password' && state.dialog.pending) {
    const error = event.code === 'BAD_CREDENTIALS' ? `the old password is wrong (${event.code})` : text;
    return { ...state, dialog: { ...state.dialog, pending: false, error, field: event.code === 'PASSWORD_INVALID' ? 'new' : 'old' } };
  }
  // Our yes came too late (the request had ended): the friend is not "asking" any more.
  const peer = event.username;
  // About one of our messages (MESSAGE_UNDELIVERED, MAILBOX_FULL, PEER_KEY_UNKNOWN, ...): its line says ✗.
  if (peer !== undefined && event.id !== undefined && findSession(state, peer)) {
    const failed = updateLines(state, peer, (line) => (line.kind === 'out' && line.id === event.id && line.receipt !== 'read' && line.receipt !== 'delivered' ? { ...line, receipt: 'failed' } : line));
    return addEvent(failed, 'error', text);
  }
  if (event.code === 'NO_SUCH_SESSION_REQUEST' && peer !== undefined && findSession(state, peer)?.state === 'requesting') {
    const said = `The chat request from ${friendLabel(state, peer)} had already ended (${event.code})`;
    const ended = updateSession(state, peer, (session) => appendLine({ ...session, state: 'failed' }, systemLine(state, said)));
    return addEvent(ended, 'warn', said);
  }
  return addEvent(state, 'error', text);
}

// ---------------------------------------------------------------------------------------------
// Keys

function isEnter(key: KeyInput): boolean {
  return key.name === 'enter' || key.name === 'linefeed';
}

function onKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  if (key.ctrl && key.name === 'c') return requestQuit(state, out);
  if (state.quitting) return state;
  const modal = topModal(state);
  if (modal && dialogWaiting(state)) {
    // The request waits for the user's typing; Tab goes to it.
    if (key.name === 'tab' && !key.shift) return { ...state, dialogFocused: true };
    return onKeyBelow(state, key, out);
  }
  if (modal) return onModalKey(state, modal, key, out);
  return onKeyBelow(state, key, out);
}

/** A key for what lies under the requests: a dialog the user opened, or the screen. */
function onKeyBelow(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  if (state.dialog) return onModalKey(state, state.dialog, key, out);
  if (key.name === 'f1') return { ...state, dialog: { kind: 'help' } };
  return state.screen === 'login' ? onLoginKey(state, key, out) : onMainKey(state, key, out);
}

function requestQuit(state: DashboardState, out: Out): DashboardState {
  if (state.quitting) return state;
  out.quit = true;
  return addEvent({ ...state, quitting: true }, 'info', 'Logging out…');
}

function onModalKey(state: DashboardState, modal: Modal, key: KeyInput, out: Out): DashboardState {
  switch (modal.kind) {
    case 'help':
      if (key.name === 'escape' || key.name === 'f1' || isEnter(key) || key.ch === 'q' || key.ch === '?') return { ...state, dialog: null };
      return state;
    case 'prompt':
      return onPromptKey(state, modal, key, out);
    case 'password':
      return onPasswordKey(state, modal, key, out);
    case 'chat-request':
    case 'file-offer':
    case 'friend-request':
    case 'confirm': {
      const answer = yesNoAnswer(state, key);
      if (answer === 'toggle') return { ...state, modalChoice: state.modalChoice === 'yes' ? 'no' : 'yes' };
      if (answer === null) return state;
      return answerModal({ ...state, modalChoice: 'yes' }, modal, answer, out);
    }
  }
}

function yesNoAnswer(state: DashboardState, key: KeyInput): boolean | 'toggle' | null {
  if (key.ch === 'y' || key.ch === 'Y') return true;
  if (key.ch === 'n' || key.ch === 'N' || key.name === 'escape') return false;
  if (isEnter(key)) return state.modalChoice === 'yes';
  if (key.name === 'left' || key.name === 'right' || key.name === 'tab') return 'toggle';
  return null;
}

function answerModal(state: DashboardState, modal: Modal, accept: boolean, out: Out): DashboardState {
  switch (modal.kind) {
    case 'chat-request': {
      const from = modal.request.from;
      out.commands.push({ cmd: 'chat.answer', username: from, accept });
      const next = { ...state, chatRequests: state.chatRequests.filter((request) => request.from !== from) };
      if (!accept) return addEvent(next, 'info', `Declined the chat request from ${from}`);
      // Mark it as ours so the opened session takes the focus.
      return updateSession(next, from, (session) => ({ ...session, state: session.state === 'open' ? 'open' : 'requesting' }));
    }
    case 'file-offer': {
      const offer = modal.offer;
      out.commands.push({ cmd: 'file.answer', transferId: offer.transferId, accept });
      const next = { ...state, fileOffers: state.fileOffers.filter((entry) => entry.transferId !== offer.transferId) };
      if (!accept) {
        // Listed as declined, so the file.failed that follows names the file, as the sender's side does.
        const declined = { ...newTransfer(state, offer.transferId, 'in', offer.from, offer.name, offer.size, 'failed'), reason: 'declined', finishedAtMs: state.nowMs };
        return addEvent(addTransfer(next, declined), 'info', `Declined ${offer.name} from ${offer.from}`);
      }
      return addEvent(addTransfer(next, newTransfer(state, offer.transferId, 'in', offer.from, offer.name, offer.size, 'waiting')), 'info', `Accepted ${offer.name} from ${offer.from}`);
    }
    case 'friend-request':
      out.commands.push({ cmd: accept ? 'friend.accept' : 'friend.decline', username: modal.from });
      return { ...state, dialog: null };
    case 'confirm': {
      if (!accept) return { ...state, dialog: null };
      const label = friendLabel(state, modal.username);
      if (modal.action === 'remove') {
        out.commands.push({ cmd: 'friend.remove', username: modal.username });
        return addEvent({ ...state, dialog: null }, 'info', `Removing ${label} from your friends…`);
      }
      out.commands.push({ cmd: 'friend.block', username: modal.username });
      return addEvent({ ...state, dialog: null }, 'info', `Blocking ${label}…`);
    }
    default:
      return state;
  }
}

function onPromptKey(state: DashboardState, prompt: Extract<UserDialog, { kind: 'prompt' }>, key: KeyInput, out: Out): DashboardState {
  if (key.name === 'escape') return { ...state, dialog: null };
  if (isEnter(key)) return submitPrompt(state, prompt, out);
  const editor = editLine(prompt.editor, key, PROMPT_CHARS_MAX);
  if (editor === null) return state;
  return { ...state, dialog: { ...prompt, editor, error: null } };
}

function submitPrompt(state: DashboardState, prompt: Extract<UserDialog, { kind: 'prompt' }>, out: Out): DashboardState {
  const text = prompt.editor.text.trim();
  if (prompt.purpose === 'search') {
    if (text === '') return { ...state, dialog: { ...prompt, error: 'type something to look for' } };
    out.commands.push({ cmd: 'history.search', text: text.slice(0, HISTORY_SEARCH_CHARS_MAX) });
    return addEvent({ ...state, dialog: null }, 'info', `Searching every chat for "${text}"…`);
  }
  if (prompt.purpose === 'add-friend') {
    if (text === '') return { ...state, dialog: { ...prompt, error: 'type a username' } };
    out.commands.push({ cmd: 'friend.request', username: text });
    return { ...state, dialog: null };
  }
  if (prompt.purpose === 'unblock') {
    if (text === '') return { ...state, dialog: { ...prompt, error: 'type a username' } };
    out.commands.push({ cmd: 'friend.unblock', username: text });
    return { ...state, dialog: null };
  }
  if (prompt.purpose === 'nickname') {
    // As the server measures it (core/server/accounts.ts checkNickname): UTF-16 units, so an emoji
    // counts two; white space at either end is dropped, as the server would refuse it. The
    // server's other rules come back as its NICKNAME_INVALID, in a sentence.
    const nickname = text.trim();
    if (nickname.length > NICKNAME_CHARS_MAX) return { ...state, dialog: { ...prompt, error: `too long: at most ${NICKNAME_CHARS_MAX} (an emoji counts as two)` } };
    out.commands.push({ cmd: 'account.nickname', nickname: nickname === '' ? (state.me ?? '') : nickname });
    return { ...state, dialog: null };
  }
  const session = activeSession(state);
  if (!session || session.state !== 'open') return { ...state, dialog: { ...prompt, error: 'the chat session is not open any more' } };
  const parsed = parsePathList(prompt.editor.text, FILES_PER_SEND_MAX, state.config.homeDir ?? null);
  if (!parsed.ok) return { ...state, dialog: { ...prompt, error: parsed.error } };
  out.commands.push({ cmd: 'file.send', username: session.peer, paths: parsed.paths });
  const count = parsed.paths.length;
  return addEvent({ ...state, dialog: null }, 'info', `Sending ${count} file${count === 1 ? '' : 's'} to ${session.peer}…`);
}

function onPasswordKey(state: DashboardState, dialog: Extract<UserDialog, { kind: 'password' }>, key: KeyInput, out: Out): DashboardState {
  if (key.name === 'escape') return { ...state, dialog: null };
  if (dialog.pending) return state; // locked while the server answers
  if (key.name === 'tab' || key.name === 'up' || key.name === 'down') return { ...state, dialog: { ...dialog, field: dialog.field === 'old' ? 'new' : 'old' } };
  if (isEnter(key)) {
    if (dialog.field === 'old') return { ...state, dialog: { ...dialog, field: 'new' } };
    if (dialog.old.text === '') return { ...state, dialog: { ...dialog, field: 'old', error: 'type your current password' } };
    if (Array.from(dialog.new.text).length < PASSWORD_CHARS_MIN) return { ...state, dialog: { ...dialog, error: `the new password needs at least ${PASSWORD_CHARS_MIN} characters` } };
    out.commands.push({ cmd: 'account.password', old: dialog.old.text, new: dialog.new.text });
    return { ...state, dialog: { ...dialog, pending: true, error: null } };
  }
  const editor = editLine(dialog[dialog.field], key, PASSWORD_CHARS_MAX);
  if (editor === null) return state;
  return { ...state, dialog: { ...dialog, [dialog.field]: editor, error: null } };
}

// -- Login screen

const AUTH_FIELDS: Record<AuthMode, readonly AuthField[]> = {
  login: ['username', 'password', 'submit', 'switch'],
  signup: ['username', 'password', 'nickname', 'submit', 'switch'],
};

export function authFields(mode: AuthMode): readonly AuthField[] {
  return AUTH_FIELDS[mode];
}

function moveAuthField(auth: AuthState, step: number): AuthState {
  const fields = AUTH_FIELDS[auth.mode];
  const index = Math.max(0, fields.indexOf(auth.field));
  const next = fields[(index + step + fields.length) % fields.length] ?? 'username';
  return { ...auth, field: next };
}

function switchAuthMode(auth: AuthState): AuthState {
  const mode: AuthMode = auth.mode === 'login' ? 'signup' : 'login';
  return { ...auth, mode, error: null, notice: null, field: AUTH_FIELDS[mode].includes(auth.field) ? auth.field : 'username' };
}

function onLoginKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  const auth = state.auth;
  if (auth.pending !== null) return state; // locked while the server answers
  if (key.name === 'f2' || (key.ctrl && key.name === 't')) return { ...state, auth: switchAuthMode(auth) };
  if ((key.name === 'tab' && !key.shift) || key.name === 'down') return { ...state, auth: moveAuthField(auth, 1) };
  if ((key.name === 'tab' && key.shift) || key.name === 'up') return { ...state, auth: moveAuthField(auth, -1) };
  if (isEnter(key)) {
    if (auth.field === 'switch') return { ...state, auth: switchAuthMode(auth) };
    if (auth.field === 'username') return { ...state, auth: { ...auth, field: 'password' } };
    if (auth.field === 'password' && auth.mode === 'signup') return { ...state, auth: { ...auth, field: 'nickname' } };
    return submitAuth(state, out);
  }
  if (auth.field === 'submit' || auth.field === 'switch') return state;
  const charsMax = auth.field === 'username' ? USERNAME_CHARS_MAX : auth.field === 'password' ? PASSWORD_CHARS_MAX : NICKNAME_CHARS_MAX;
  const editor = editLine(auth[auth.field], key, charsMax);
  if (editor === null) return state;
  return { ...state, auth: { ...auth, [auth.field]: editor, error: null } };
}

function submitAuth(state: DashboardState, out: Out): DashboardState {
  const auth = state.auth;
  const username = auth.username.text.trim();
  const password = auth.password.text;
  if (username === '') return { ...state, auth: { ...auth, field: 'username', error: 'Type a username' } };
  if (password === '') return { ...state, auth: { ...auth, field: 'password', error: 'Type a password' } };
  if (auth.mode === 'signup') {
    const nickname = auth.nickname.text.trim();
    out.commands.push(nickname === '' ? { cmd: 'signup', username, password } : { cmd: 'signup', username, password, nickname });
  } else {
    out.commands.push({ cmd: 'login', username, password });
  }
  const notice = auth.mode === 'signup' ? 'Creating the account…' : 'Logging in…';
  return { ...state, auth: { ...auth, username: { text: username, cursor: Math.min(auth.username.cursor, Array.from(username).length) }, pending: auth.mode, error: null, notice } };
}

// -- Main screen

function cycleFocus(state: DashboardState, step: number): DashboardState {
  const index = PANES.indexOf(state.focus);
  const focus = PANES[(index + step + PANES.length) % PANES.length] ?? 'input';
  return { ...state, focus };
}

function onMainKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  if (key.name === 'tab') return cycleFocus(state, key.shift ? -1 : 1);
  if (key.name === 'f2') return openPrompt(state, 'add-friend');
  if (key.name === 'f3') return openSendFiles(state);
  if (key.name === 'f4') return closeActiveSession(state, out);
  if (key.name === 'f6') return openPasswordDialog(state);
  if (key.name === 'f7') return openPrompt(state, 'nickname');
  if (key.name === 'f9') {
    // Log out but stay: the form comes back on logout.ok (the seed GUI's log-out button).
    out.commands.push({ cmd: 'logout' });
    return addEvent(state, 'info', 'Logging out…');
  }
  if (key.ctrl && (key.name === 'n' || key.name === 'p')) return switchTab(state, key.name === 'n' ? 1 : -1);
  if (key.name === 'pageup' || key.name === 'pagedown') return scrollChat(state, key.name === 'pageup' ? 10 : -10, out);
  if (key.name === 'f5') return openPrompt(state, 'search');
  if (state.focus === 'input') return onInputKey(state, key, out);
  // Escape means back: out of the message line to the list, never into a text field.
  if (key.name === 'escape') return state.focus === 'friends' ? state : { ...state, focus: 'friends' };
  if (key.name === 'left' || key.name === 'right') return cycleFocus(state, key.name === 'left' ? -1 : 1);
  // Letter shortcuts, only outside the message input (where letters are text).
  switch (key.ch) {
    case 'q':
      return requestQuit(state, out);
    case '?':
      return { ...state, dialog: { kind: 'help' } };
    case 'a':
      return openPrompt(state, 'add-friend');
    case 'f':
      return openSendFiles(state);
    case 'x':
      return closeActiveSession(state, out);
    case '/':
      return openPrompt(state, 'search');
    case 'u':
      return openPrompt(state, 'unblock');
    case 'p':
      return openPasswordDialog(state);
    case 'e':
      return openPrompt(state, 'nickname');
    case 'i':
      return { ...state, focus: 'input' };
    default:
      break;
  }
  switch (state.focus) {
    case 'friends':
      return onFriendsKey(state, key, out);
    case 'chat':
      if (key.name === 'up' || key.name === 'down') return scrollChat(state, key.name === 'up' ? 1 : -1, out);
      if (isEnter(key)) return { ...state, focus: 'input' };
      return state;
    case 'transfers':
      return onTransfersKey(state, key, out);
    case 'events':
      if (key.name === 'up') return { ...state, eventsScrollback: Math.min(state.eventsScrollback + 1, Math.max(0, state.events.length - 1)) };
      if (key.name === 'down') return { ...state, eventsScrollback: Math.max(0, state.eventsScrollback - 1) };
      return state;
    default:
      return state;
  }
}

function openPrompt(state: DashboardState, purpose: PromptPurpose): DashboardState {
  return { ...state, dialog: { kind: 'prompt', purpose, editor: EMPTY_EDITOR, error: null } };
}

function openPasswordDialog(state: DashboardState): DashboardState {
  return { ...state, dialog: { kind: 'password', old: EMPTY_EDITOR, new: EMPTY_EDITOR, field: 'old', error: null, pending: false } };
}

function openSendFiles(state: DashboardState): DashboardState {
  const session = activeSession(state);
  if (!session || session.state !== 'open') return addEvent(state, 'warn', 'Open a chat session first (select a friend, press Enter), then send files into it');
  return openPrompt(state, 'send-files');
}

function closeActiveSession(state: DashboardState, out: Out): DashboardState {
  const session = activeSession(state);
  if (!session) return state;
  if (session.state === 'open' || session.state === 'requesting') {
    out.commands.push({ cmd: 'chat.close', username: session.peer });
    return state;
  }
  // An ended session: F4 again removes its tab.
  const sessions = state.sessions.filter((entry) => entry.peer !== session.peer);
  const index = state.sessions.indexOf(session);
  const neighbour = sessions[Math.min(index, sessions.length - 1)];
  return neighbour ? activate({ ...state, sessions }, neighbour.peer) : { ...state, sessions, activePeer: null };
}

function switchTab(state: DashboardState, step: number): DashboardState {
  if (state.sessions.length === 0) return state;
  const index = state.sessions.findIndex((session) => session.peer === state.activePeer);
  const next = state.sessions[(index + step + state.sessions.length) % state.sessions.length];
  return next ? activate(state, next.peer) : state;
}

function scrollChat(state: DashboardState, lines: number, out: Out): DashboardState {
  const session = activeSession(state);
  if (!session) return state;
  // The view clamps to what fits; here only the lower bound and the history length matter.
  const scrollback = Math.max(0, Math.min(session.scrollback + lines, session.lines.length));
  const next = updateSession(state, session.peer, (entry) => ({ ...entry, scrollback }));
  // Near the oldest line shown: the page before it, from the client's history.
  if (lines <= 0 || session.history !== 'more' || scrollback < session.lines.length - HISTORY_PREFETCH_LINES) return next;
  const oldest = session.lines.find((line) => line.id !== undefined);
  return oldest?.id === undefined ? next : askHistory(next, session.peer, oldest.id, out);
}

function onInputKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  if (isEnter(key)) return sendMessage(state, out);
  if (key.name === 'up' || key.name === 'down') return scrollChat(state, key.name === 'up' ? 1 : -1, out);
  if (key.name === 'escape') return { ...state, focus: 'friends' };
  const editor = editLine(state.input, key, TEXT_MESSAGE_CHARS_MAX);
  if (editor === null) return state;
  const edited = { ...state, input: editor };
  return editor.text !== state.input.text && editor.text !== '' ? tellTyping(edited, out) : edited;
}

/** The user types into an open chat: tell the friend, at most once per CHAT_TYPING_INTERVAL_MS. */
function tellTyping(state: DashboardState, out: Out): DashboardState {
  const session = activeSession(state);
  if (!session || session.state !== 'open') return state;
  if (session.typingSentAtMs !== null && state.nowMs - session.typingSentAtMs < CHAT_TYPING_INTERVAL_MS) return state;
  out.commands.push({ cmd: 'chat.typing', username: session.peer });
  return updateSession(state, session.peer, (entry) => ({ ...entry, typingSentAtMs: state.nowMs }));
}

/**
 * Enter in the message line: to the active tab's friend, over the open session, or else (no
 * session: a mailbox tab, an ended one) sealed through the server, which holds it for the friend
 * (`chat.queued`, later `chat.delivered`). While a session is being asked for, the client holds
 * the message until it opens or fails, then sends it the one way or the other.
 */
function sendMessage(state: DashboardState, out: Out): DashboardState {
  const text = state.input.text;
  if (text.trim() === '') return state;
  const session = activeSession(state);
  if (!session) return addEvent(state, 'warn', 'No chat open: select a friend in the list and press Enter');
  // The time (base 36) and a counter: unique across runs, so history and receipts match this line.
  const id = `d${state.nowMs.toString(36)}-${state.nextMessageSeq}`;
  out.commands.push({ cmd: 'chat.send', username: session.peer, text, id });
  const sent = updateSession(state, session.peer, (entry) => ({
    ...appendLine(entry, { kind: 'out', text, atMs: state.nowMs, delivered: false, id }),
    scrollback: 0,
    // Sending ends the typing: the next key tells the friend again.
    typingSentAtMs: null,
  }));
  return { ...sent, input: EMPTY_EDITOR, nextMessageSeq: state.nextMessageSeq + 1 };
}

function onFriendsKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  const items = friendPaneItems(state);
  if (key.name === 'up') return { ...state, friendCursor: Math.max(0, state.friendCursor - 1) };
  if (key.name === 'down') return { ...state, friendCursor: Math.min(items.length - 1, state.friendCursor + 1) };
  if (key.name === 'home') return { ...state, friendCursor: 0 };
  if (key.name === 'end') return { ...state, friendCursor: Math.max(0, items.length - 1) };
  const item = items[state.friendCursor];
  if (!item) return state;
  const username = item.kind === 'friend' ? item.friend.username : item.kind === 'request' ? item.from : item.username;
  // b blocks whoever is selected (a friend, or someone asking); r ends a friendship or withdraws our request. Both ask first.
  if (key.ch === 'b') return { ...state, dialog: { kind: 'confirm', action: 'block', username }, modalChoice: 'no' };
  if (key.ch === 'r' && item.kind !== 'request') return { ...state, dialog: { kind: 'confirm', action: 'remove', username }, modalChoice: 'no' };
  if (item.kind === 'request') {
    if (isEnter(key)) return { ...state, dialog: { kind: 'friend-request', from: item.from }, modalChoice: 'yes' };
    if (key.ch === 'y' || key.ch === 'n') {
      out.commands.push({ cmd: key.ch === 'y' ? 'friend.accept' : 'friend.decline', username: item.from });
      return state;
    }
    return state;
  }
  if (item.kind === 'friend' && isEnter(key)) return openChat(state, item.friend, out);
  return state;
}

function openChat(state: DashboardState, friend: Friend, out: Out): DashboardState {
  const session = findSession(state, friend.username);
  if (session && (session.state === 'open' || session.state === 'requesting')) return { ...activate(state, friend.username), focus: 'input' };
  if (friend.status !== 'online') return openMailbox(state, friend, out);
  out.commands.push({ cmd: 'chat.open', username: friend.username });
  const requesting = updateSession(state, friend.username, (entry) =>
    appendLine({ ...entry, state: 'requesting' }, systemLine(state, `Asking ${friend.username} for a session…`)),
  );
  return addEvent(activate(requesting, friend.username), 'info', `Asked ${friendLabel(state, friend.username)} for a chat session`);
}

/**
 * A friend who is offline: their tab, with what was said (history), where what the user writes
 * waits for them sealed at the server. An ended session's tab stays as it is (it already has
 * the history); so does the text it says.
 */
function openMailbox(state: DashboardState, friend: Friend, out: Out): DashboardState {
  const existing = findSession(state, friend.username);
  let next = updateSession(state, friend.username, (session) => (existing === undefined ? { ...session, state: 'mailbox' } : session));
  if ((existing?.history ?? 'none') === 'none') next = askHistory(next, friend.username, null, out);
  const label = friendLabel(state, friend.username);
  return addEvent({ ...activate(next, friend.username), focus: 'input' }, 'info', `${label} is offline: what you write waits for them, sealed, at the server`);
}

function onTransfersKey(state: DashboardState, key: KeyInput, out: Out): DashboardState {
  if (key.name === 'up') return { ...state, transferCursor: Math.max(0, state.transferCursor - 1) };
  if (key.name === 'down') return { ...state, transferCursor: Math.min(state.transfers.length - 1, state.transferCursor + 1) };
  const transfer = state.transfers[state.transferCursor];
  if (transfer && (key.ch === 'c' || key.name === 'delete') && (transfer.state === 'active' || transfer.state === 'waiting')) {
    out.commands.push({ cmd: 'file.cancel', transferId: transfer.transferId });
    return addEvent(state, 'info', `Cancelling ${transfer.name}…`);
  }
  return state;
}
