/**
 * A one-line text editor as a value: text plus a cursor, edited by key. The dashboard edits every
 * text field through this instead of blessed's textbox, whose readInput registers a new key
 * listener on each focus (the classic doubled-characters bug) and whose Enter arrives twice
 * (blessed emits both "enter" and "return" for one CR). One keypress in, one edit out.
 *
 * Positions count code points (not UTF-16 units), so an emoji is one step of the cursor.
 */

/** A key as the dashboard sees it: blessed's keypress, normalised (see views/keys.ts). */
export interface KeyInput {
  /** Named key: 'enter', 'tab', 'backspace', 'left', 'f1', 'a' (with ctrl), ... */
  readonly name?: string;
  /** The character typed, for printable input. */
  readonly ch?: string;
  readonly ctrl?: boolean;
  readonly shift?: boolean;
  readonly meta?: boolean;
}

export interface LineEditor {
  readonly text: string;
  /** Cursor position in code points, 0..length. */
  readonly cursor: number;
}

export const EMPTY_EDITOR: LineEditor = { text: '', cursor: 0 };

export function editorOf(text: string): LineEditor {
  return { text, cursor: Array.from(text).length };
}

/** A printable character: not a control character (C0, DEL, C1). */
export function isPrintable(ch: string): boolean {
  if (ch.length === 0) return false;
  for (const char of ch) {
    const code = char.codePointAt(0) ?? 0;
    if (code < 0x20 || (code >= 0x7f && code < 0xa0)) return false;
  }
  return true;
}

function splice(chars: readonly string[], start: number, deleteCount: number, insert: readonly string[] = []): string {
  return [...chars.slice(0, start), ...insert, ...chars.slice(start + deleteCount)].join('');
}

/** Inserts text at the cursor, keeping the whole text within charsMax (excess input is dropped). */
export function insertText(editor: LineEditor, text: string, charsMax: number): LineEditor {
  const chars = Array.from(editor.text);
  const room = Math.max(0, charsMax - chars.length);
  const insert = Array.from(text).filter((char) => isPrintable(char)).slice(0, room);
  if (insert.length === 0) return editor;
  return { text: splice(chars, editor.cursor, 0, insert), cursor: editor.cursor + insert.length };
}

function wordStartBefore(chars: readonly string[], cursor: number): number {
  let position = cursor;
  while (position > 0 && chars[position - 1] === ' ') position--;
  while (position > 0 && chars[position - 1] !== ' ') position--;
  return position;
}

/**
 * Applies one key. Returns the new editor, or null when the key is not an editing key (so the
 * caller can give it another meaning: Enter, Tab, Escape, function keys).
 */
export function editLine(editor: LineEditor, key: KeyInput, charsMax: number): LineEditor | null {
  const chars = Array.from(editor.text);
  const { cursor } = editor;
  if (key.ctrl) {
    switch (key.name) {
      case 'a':
        return { text: editor.text, cursor: 0 };
      case 'e':
        return { text: editor.text, cursor: chars.length };
      case 'u':
        return { text: splice(chars, 0, cursor), cursor: 0 };
      case 'k':
        return { text: splice(chars, cursor, chars.length - cursor), cursor };
      case 'w': {
        const start = wordStartBefore(chars, cursor);
        return { text: splice(chars, start, cursor - start), cursor: start };
      }
      case 'h': // Ctrl-H is backspace on many terminals
        return cursor === 0 ? editor : { text: splice(chars, cursor - 1, 1), cursor: cursor - 1 };
      default:
        return null;
    }
  }
  switch (key.name) {
    case 'backspace':
      return cursor === 0 ? editor : { text: splice(chars, cursor - 1, 1), cursor: cursor - 1 };
    case 'delete':
      return cursor >= chars.length ? editor : { text: splice(chars, cursor, 1), cursor };
    case 'left':
      return { text: editor.text, cursor: Math.max(0, cursor - 1) };
    case 'right':
      return { text: editor.text, cursor: Math.min(chars.length, cursor + 1) };
    case 'home':
      return { text: editor.text, cursor: 0 };
    case 'end':
      return { text: editor.text, cursor: chars.length };
    default:
      break;
  }
  if (key.meta) return null;
  if (key.ch !== undefined && isPrintable(key.ch)) return insertText(editor, key.ch, charsMax);
  return null;
}
