/**
 * The nickname rule, one for the server (which refuses a nickname that breaks it) and the client
 * (which will not show one that does, whoever sent it).
 *
 * A nickname is shown to friends in every client, so it must read as it was typed, stay on one
 * line and show something. A name that breaks the rule is never shown: the username is, in its
 * place. Nicknames stored before the rule was tightened (empty, blank, with direction controls)
 * stay in the store as they are, but nobody sees them; a dishonest or older server's are treated
 * the same by the client.
 */
import type { ErrorCode } from './errors.ts';
import { NICKNAME_CHARS_MAX } from './limits.ts';

/**
 * Control characters (C0, DEL, C1) and lone surrogates, allowed in no nickname nor password: they
 * are not text, and JSON escapes each to six bytes (frame sizes assume three).
 */
export const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]|\p{Cs}/u;
// Direction controls (Unicode Bidi_Control: the embeddings and overrides U+202A-U+202E, the
// isolates U+2066-U+2069, the marks U+061C, U+200E, U+200F) reorder or reverse what follows them,
// so a friend's name could show reversed or pose as another's; line and paragraph separators
// (U+2028, U+2029) break it over lines.
const LAYOUT_CHARS = /[\p{Bidi_Control}\u2028\u2029]/u;
// Something to show: one character that is none of white space, the invisible ones
// (Default_Ignorable_Code_Point: zero-width spaces, word joiners, the Hangul fillers; and every
// format character, Cf), a combining mark with nothing to sit on (M), a code point not assigned
// yet (Cn, which no font draws), nor a glyph drawn blank: U+2800 BRAILLE PATTERN BLANK and
// U+1D159 MUSICAL SYMBOL NULL NOTEHEAD, both letters-like "symbols" that fonts draw as nothing
// and that pass for a name with nothing in it.
const VISIBLE_CHAR = /[^\s\p{Default_Ignorable_Code_Point}\p{Cf}\p{M}\p{Cn}\u2800\u{1d159}]/u;

/** null when `nickname` may be shown; NICKNAME_INVALID otherwise. Lengths are UTF-16 units. */
export function checkNickname(nickname: string): ErrorCode | null {
  if (nickname.length > NICKNAME_CHARS_MAX || CONTROL_CHARS.test(nickname) || LAYOUT_CHARS.test(nickname)) return 'NICKNAME_INVALID';
  // White space at either end cannot be seen, and would let two names that look alike differ.
  if (nickname.trim() !== nickname || !VISIBLE_CHAR.test(nickname)) return 'NICKNAME_INVALID';
  return null;
}

/** The name to show for an account: its nickname when that keeps the rule, else its username. */
export function shownNickname(nickname: string, username: string): string {
  return checkNickname(nickname) === null ? nickname : username;
}
