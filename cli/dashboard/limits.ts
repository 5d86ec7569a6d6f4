/**
 * Bounds of the dashboard's own state (what it keeps on screen and in memory). Protocol limits
 * live in core/limits.ts and are reused from there; these only bound the UI.
 */
import { NICKNAME_CHARS_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, TEXT_MESSAGE_CHARS_MAX, USERNAME_CHARS_MAX } from '../../core/limits.ts';

export { NICKNAME_CHARS_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN, TEXT_MESSAGE_CHARS_MAX, USERNAME_CHARS_MAX };

/** Lines kept in each chat pane (older ones scroll away for good). */
export const CHAT_LINES_PER_SESSION_MAX = 1_000;
/** Lines kept in the events pane. */
export const EVENT_LINES_MAX = 200;
/** Transfers listed; the oldest finished ones go first when the list is full. */
export const TRANSFERS_SHOWN_MAX = 50;
/** Chat requests or file offers waiting for an answer at once; more are declined for the user. */
export const PENDING_PROMPTS_MAX = 32;
/** Files one "send files" prompt may name. */
export const FILES_PER_SEND_MAX = 32;
/** Characters of a path-list or username prompt. */
export const PROMPT_CHARS_MAX = 4_096;
/** Progress samples kept per transfer for its speed, and the window they cover. */
export const SPEED_SAMPLES_MAX = 16;
export const SPEED_WINDOW_MS = 3_000;
/** How often the dashboard re-renders countdowns and speeds. */
export const TICK_MS = 1_000;
/**
 * A chat request or file offer that pops up while the user is typing (a key in the last this
 * many ms, or text in the line they type into) does not take the keys: it waits, shown, until
 * the typing pauses this long with the line empty, or the user presses Tab. So a `y` or `n` typed
 * as part of a word never answers a dialog, nor one the user has not seen yet.
 */
export const TYPING_PAUSE_MS = 1_000;
/** History records asked for at once: when a chat opens, and each time the reader scrolls back to the top. */
export const HISTORY_LINES_PER_PAGE = 50;
/** Scrolled this close to the oldest line shown, the next page of history is asked for. */
export const HISTORY_PREFETCH_LINES = 20;
/** How long "is typing…" stays up after the friend's last typing indicator. */
export const TYPING_SHOWN_MS = 5_000;
/** Search matches listed in the events pane. */
export const SEARCH_RESULTS_SHOWN_MAX = 20;
