import { textWidth } from '../../cli/dashboard/char-width.ts';
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { formatBytes, parsePathList, progressBar, truncate, truncateStart, wrapText } from '../../cli/dashboard/format.ts';
import { editLine, editorOf, EMPTY_EDITOR } from '../../cli/dashboard/line-editor.ts';

describe('text helpers', () => {
  it('formats sizes in binary units', () => {
    expect([0, 1023, 1536, 10 * 1024 * 1024, 5 * 1024 ** 3].map(formatBytes)).toEqual(['0 B', '1023 B', '1.5 KB', '10 MB', '5.0 GB']);
  });

  it('draws a progress bar that reads without colour', () => {
    expect(progressBar(0.5, 12)).toBe('[#####-----]');
    expect(progressBar(2, 6)).toBe('[####]');
    expect(progressBar(Number.NaN, 4)).toBe('[--]');
  });

  test.prop([fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 40 })])(
    'property: wrapped lines fit the width and keep every non-space character in order',
    (text, width) => {
      const lines = wrapText(text, width);
      for (const line of lines) expect(Array.from(line).length).toBeLessThanOrEqual(width);
      expect(lines.join('').replace(/[\s]/g, '')).toBe(text.replace(/[\s]/g, ''));
    },
  );

  test.prop([fc.string({ unit: fc.constantFrom('a', 'b', ' ', '中', '文', '😀', '🎉', 'e\u0301', '✓', '…'), maxLength: 120 }), fc.integer({ min: 2, max: 40 })])(
    'property: over CJK, emoji and combining marks, wrapped lines fit the width in terminal cells, truncation too',
    (text, width) => {
      const lines = wrapText(text, width);
      for (const line of lines) expect(textWidth(line)).toBeLessThanOrEqual(width);
      expect(lines.join('').replace(/[\s]/g, '')).toBe(text.replace(/[\s]/g, ''));
      expect(textWidth(truncate(text, width))).toBeLessThanOrEqual(width);
      expect(textWidth(truncateStart(text, width))).toBeLessThanOrEqual(width);
    },
  );

  it('counts cells as a terminal does: CJK and emoji two, combining marks none', () => {
    expect(textWidth('abc')).toBe(3);
    expect(textWidth('中文')).toBe(4);
    expect(textWidth('😀✓…')).toBe(4);
    expect(textWidth('e\u0301')).toBe(1);
    expect(truncate('中文字幕', 5)).toBe('中文…');
  });

  it('truncates with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(truncateStart('/home/a/downloads/big.iso', 12)).toBe('…ads/big.iso');
  });

  it('splits a path list like a shell for quotes and escapes, and bounds it', () => {
    expect(parsePathList(`a "b c" 'd e' f\\ g`, 10)).toEqual({ ok: true, paths: ['a', 'b c', 'd e', 'f g'] });
    expect(parsePathList('~/a.txt ~ "~/quoted" b~/c', 10, '/home/al')).toEqual({ ok: true, paths: ['/home/al/a.txt', '/home/al', '~/quoted', 'b~/c'] });
    expect(parsePathList('~/a.txt', 10)).toEqual({ ok: true, paths: ['~/a.txt'] });
    expect(parsePathList('"open', 10)).toEqual({ ok: false, error: 'unclosed " quote' });
    expect(parsePathList('   ', 10)).toEqual({ ok: false, error: 'type at least one path' });
    expect(parsePathList('a b c', 2)).toEqual({ ok: false, error: 'at most 2 files at once' });
  });
});

describe('line editor', () => {
  it('moves and deletes by code point', () => {
    let editor = editorOf('a😀b');
    editor = editLine(editor, { name: 'left' }, 100)!;
    editor = editLine(editor, { name: 'backspace' }, 100)!;
    expect(editor).toEqual({ text: 'ab', cursor: 1 });
    editor = editLine(editor, { ch: 'X' }, 100)!;
    expect(editor).toEqual({ text: 'aXb', cursor: 2 });
    expect(editLine(editor, { ctrl: true, name: 'u' }, 100)).toEqual({ text: 'b', cursor: 0 });
    expect(editLine(editorOf('one two'), { ctrl: true, name: 'w' }, 100)).toEqual({ text: 'one ', cursor: 4 });
  });

  it('drops control characters and input beyond the limit, and leaves other keys to the caller', () => {
    expect(editLine(EMPTY_EDITOR, { ch: '\x1b' }, 10)).toBeNull();
    expect(editLine(editorOf('abc'), { ch: 'd' }, 3)).toEqual({ text: 'abc', cursor: 3 });
    expect(editLine(EMPTY_EDITOR, { name: 'enter', ch: '\r' }, 10)).toBeNull();
    expect(editLine(EMPTY_EDITOR, { name: 'tab', ch: '\t' }, 10)).toBeNull();
  });
});
