/**
 * Teaches blessed the character widths terminals use (char-width.ts). blessed keeps its own
 * table, from Unicode 6, where most emoji are one cell: a terminal draws them in two, so every
 * later cell of that row sits one column off from blessed's picture of the screen, and its
 * partial redraws leave stale cells behind (a `…` beside the `✓` that replaced it, a `?` in an
 * emptied pane). blessed reads both hooks through its unicode module at draw time: `charWidth`
 * (cells of a drawn character) and `chars.all` (which characters get a blank cell after them for
 * their second column); both are replaced here, once, for the whole process.
 */
import { createRequire } from 'node:module';
import { charWidth, wideCharClassSource } from '../char-width.ts';

interface BlessedUnicode {
  charWidth(text: string | number, index?: number): number;
  codePointAt(text: string, index: number): number;
  chars: { all: RegExp };
}

let taught = false;

export function teachBlessedCharWidths(): void {
  if (taught) return;
  taught = true;
  const unicode = createRequire(import.meta.url)('blessed/lib/unicode') as BlessedUnicode;
  const blessedWidth = unicode.charWidth.bind(unicode);
  unicode.charWidth = (text, index) => {
    const codePoint = typeof text === 'number' ? text : unicode.codePointAt(text, index ?? 0);
    return charWidth(codePoint) === 2 ? 2 : blessedWidth(text, index);
  };
  unicode.chars.all = new RegExp(`(${wideCharClassSource()})`, 'gu');
}
