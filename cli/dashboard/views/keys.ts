/**
 * blessed keypress → KeyInput. blessed reports one CR twice (as "enter", then as "return"), so
 * "return" is dropped here and Enter reaches the view-model exactly once; this is the only place
 * that knows blessed's key quirks.
 */
import type { KeyInput } from '../line-editor.ts';

/** The shape blessed passes as the second keypress argument (Widgets.Events.IKeyEventArg). */
export interface BlessedKey {
  readonly name?: string;
  readonly full?: string;
  readonly sequence?: string;
  readonly ctrl?: boolean;
  readonly shift?: boolean;
  readonly meta?: boolean;
}

export function toKeyInput(ch: string | undefined, key: BlessedKey | undefined): KeyInput | null {
  const name = key?.name;
  if (name === 'return') return null; // the same CR as the "enter" just before it
  if (name === undefined && (ch === undefined || ch === '')) return null;
  const input: { name?: string; ch?: string; ctrl?: boolean; shift?: boolean; meta?: boolean } = {};
  if (name !== undefined) input.name = name;
  if (ch !== undefined && ch !== '') input.ch = ch;
  if (key?.ctrl) input.ctrl = true;
  if (key?.shift) input.shift = true;
  if (key?.meta) input.meta = true;
  return input;
}

function isHighSurrogate(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return ch.length === 1 && code >= 0xd800 && code <= 0xdbff;
}

function isLowSurrogate(ch: string): boolean {
  const code = ch.charCodeAt(0);
  return ch.length === 1 && code >= 0xdc00 && code <= 0xdfff;
}

/**
 * blessed splits its input with `split('')`, so a character outside the BMP (an emoji) arrives as
 * two keypresses, one per UTF-16 half. The decoder joins the halves into one character (and drops
 * a half that arrives alone), so the editor never holds a broken pair.
 */
export class KeyDecoder {
  private highSurrogate: string | null = null;

  decode(ch: string | undefined, key: BlessedKey | undefined): KeyInput | null {
    if (ch !== undefined && isHighSurrogate(ch)) {
      this.highSurrogate = ch;
      return null;
    }
    const high = this.highSurrogate;
    this.highSurrogate = null;
    if (ch !== undefined && isLowSurrogate(ch)) return high === null ? null : { ch: high + ch };
    return toKeyInput(ch, key);
  }
}
