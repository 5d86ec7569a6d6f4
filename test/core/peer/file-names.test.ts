/**
 * Received file names: whatever a peer offers, the name kept is one plain, bounded component
 * inside the download directory, and the candidates for "never overwrite" are all distinct.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FILE_NAME_CANDIDATES_MAX, FILE_NAME_CHARS_MAX } from '../../../core/limits.ts';
import { FALLBACK_FILE_NAME, candidateName, isSafeFileName, sanitizeFileName, splitExtension } from '../../../core/peer/file-names.ts';
import { hostileFileName } from '../../helpers/edge-arbitraries.ts';
import { replay } from '../../helpers/fc-replay.ts';

describe('sanitizeFileName', () => {
  it.each([
    ['../../etc/passwd', 'passwd'],
    ['/tmp/x', 'x'],
    ['..', FALLBACK_FILE_NAME],
    ['.', FALLBACK_FILE_NAME],
    ['', FALLBACK_FILE_NAME],
    ['dir\\..\\win.ini', 'win.ini'],
    ['C:evil.exe', 'C_evil.exe'],
    ['.bashrc', 'bashrc'],
    ['report.pdf', 'report.pdf'],
    ['bell\u0007\u001b[2J.txt', 'bell[2J.txt'],
    ['name\u202egnp.exe', 'namegnp.exe'],
    ['trailing. . ', 'trailing'],
    // Windows device names, with or without an extension, any case.
    ['CON', '_CON'],
    ['nul', '_nul'],
    ['con.txt', '_con.txt'],
    ['Com1.tar.gz', '_Com1.tar.gz'],
    ['lpt9 .log', '_lpt9 .log'],
    ['console.txt', 'console.txt'],
    ['conX', 'conX'],
    // Lone surrogates become U+FFFD, so the name reported is the name written.
    ['a\uD800b.txt', 'a\uFFFDb.txt'],
    ['\uDC00x', '\uFFFDx'],
    ['pair\uD83D\uDE00.txt', 'pair\uD83D\uDE00.txt'],
  ])('%j becomes %j', (offered, kept) => {
    expect(sanitizeFileName(offered)).toBe(kept);
  });

  it('never returns a lone surrogate, even when truncation cuts a pair', () => {
    const name = sanitizeFileName(`${'a'.repeat(FILE_NAME_CHARS_MAX - 1)}\uD83D\uDE00${'b'.repeat(10)}`);
    expect(name).toBe(Buffer.from(name, 'utf8').toString('utf8'));
    expect(candidateName(`${'\uD83D\uDE00'.repeat(100)}`, 7)).toBe(Buffer.from(candidateName(`${'\uD83D\uDE00'.repeat(100)}`, 7), 'utf8').toString('utf8'));
  });

  it('keeps the extension of an overlong name', () => {
    const name = sanitizeFileName(`${'a'.repeat(500)}.tar.gz`);
    expect(name.length).toBe(FILE_NAME_CHARS_MAX);
    expect(name.endsWith('.gz')).toBe(true);
  });

  it('any offered name becomes one safe, non-empty, bounded component', () => {
    fc.assert(
      fc.property(hostileFileName(), (offered) => {
      const name = sanitizeFileName(offered);
      expect(name.length).toBeGreaterThan(0);
      expect(name.length).toBeLessThanOrEqual(FILE_NAME_CHARS_MAX);
      expect(name).not.toMatch(/[/\\:\u0000-\u001f\u007f-\u009f]/);
      expect(name.startsWith('.')).toBe(false);
      // No Windows device name, whatever the case or extension ("con.txt" opens the console).
      expect(name).not.toMatch(/^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])\s*(\.|$)/i);
      // Well-formed: the name reported is the name written.
      expect(Buffer.from(name, 'utf8').toString('utf8')).toBe(name);
      expect(isSafeFileName(name)).toBe(true);
    }),
      replay,
    );
  });

  it('a name whose dot hides a leading space is stripped to a fixed point (found by the property below, seed 40535756)', () => {
    expect(sanitizeFileName('. !')).toBe('!');
    expect(isSafeFileName(candidateName(sanitizeFileName('. !'), 1))).toBe(true);
  });

  it('the first n candidates are distinct and safe', () => {
    fc.assert(
      fc.property(hostileFileName(), fc.integer({ min: 1, max: 50 }), (offered, n) => {
      const base = sanitizeFileName(offered);
      const candidates = Array.from({ length: n + 1 }, (_, i) => candidateName(base, i));
      expect(new Set(candidates).size).toBe(candidates.length);
      for (const candidate of candidates) expect(isSafeFileName(candidate)).toBe(true);
    }),
      replay,
    );
  });

  it('a name at the length bound that already ends in " (1)" does not come back as its own first candidate (found by the property above, seed -528216514)', () => {
    const name = `${'a'.repeat(FILE_NAME_CHARS_MAX - 4)} (1)`;
    expect(sanitizeFileName(name)).toBe(name);
    expect(candidateName(name, 1)).not.toBe(name);
    expect(candidateName(name, 1)).toBe(`${'a'.repeat(FILE_NAME_CHARS_MAX - 5)} (1)`);
    expect(isSafeFileName(candidateName(name, 1))).toBe(true);
  });

  it('an extension too long to leave room for the suffix is cut with the rest: no candidate passes the bound', () => {
    const name = `a.${'x'.repeat(FILE_NAME_CHARS_MAX - 2)}`;
    expect(sanitizeFileName(name)).toBe(name);
    for (const n of [1, 9, 10, FILE_NAME_CANDIDATES_MAX - 1]) {
      const candidate = candidateName(name, n);
      expect(candidate).toHaveLength(FILE_NAME_CHARS_MAX);
      expect(candidate.endsWith(` (${n})`)).toBe(true);
      expect(isSafeFileName(candidate)).toBe(true);
    }
  });

  it('an extension is kept in the candidates as long as the longest suffix and a stem of two characters fit beside it', () => {
    const longestSuffixChars = ` (${FILE_NAME_CANDIDATES_MAX - 1})`.length;
    const keptExtension = `.${'x'.repeat(FILE_NAME_CHARS_MAX - longestSuffixChars - 2 - 1)}`;
    expect(candidateName(`stem${keptExtension}`, 1)).toBe(`stem (1)${keptExtension}`);
    expect(candidateName(`stem${keptExtension}`, FILE_NAME_CANDIDATES_MAX - 1)).toBe(`st (${FILE_NAME_CANDIDATES_MAX - 1})${keptExtension}`);
    const droppedExtension = `${keptExtension}x`;
    expect(candidateName(`stem${droppedExtension}`, 1)).toBe(`stem${droppedExtension}`.slice(0, FILE_NAME_CHARS_MAX - 4) + ' (1)');
  });

  it('names at the bound ending in " (k)" before any extension: every candidate a runtime tries is distinct, safe and not the name', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: FILE_NAME_CANDIDATES_MAX - 1 }),
        fc.oneof(fc.constant(''), fc.integer({ min: 1, max: FILE_NAME_CHARS_MAX - 12 }).map((chars) => `.${'e'.repeat(chars)}`)),
        (k, extension) => {
          const tail = ` (${k})${extension}`;
          const name = `${'s'.repeat(FILE_NAME_CHARS_MAX - tail.length)}${tail}`;
          expect(sanitizeFileName(name)).toBe(name);
          const tried = [...new Set([0, 1, 2, k - 1, k, k + 1, FILE_NAME_CANDIDATES_MAX - 1])].filter((n) => n >= 0 && n < FILE_NAME_CANDIDATES_MAX);
          const candidates = tried.map((n) => candidateName(name, n));
          expect(new Set(candidates).size).toBe(tried.length);
          for (const candidate of candidates) expect(isSafeFileName(candidate), candidate).toBe(true);
        },
      ),
      replay,
    );
  });

  it('a name at the length bound, or short with a long extension, is kept whole', () => {
    const atBound = `${'a'.repeat(FILE_NAME_CHARS_MAX - 61)}.${'x'.repeat(60)}`;
    expect(atBound).toHaveLength(FILE_NAME_CHARS_MAX);
    expect(sanitizeFileName(atBound)).toBe(atBound);
    const shortLongExtension = `a.${'x'.repeat(60)}`;
    expect(sanitizeFileName(shortLongExtension)).toBe(shortLongExtension);
  });

  it('an overlong name keeps its extension only when it is shorter than a quarter of the bound', () => {
    const stem = 'a'.repeat(FILE_NAME_CHARS_MAX);
    const kept = `.${'e'.repeat(FILE_NAME_CHARS_MAX / 4 - 2)}`;
    expect(sanitizeFileName(`${stem}${kept}`)).toBe(`${stem.slice(0, FILE_NAME_CHARS_MAX - kept.length)}${kept}`);
    const dropped = `.${'e'.repeat(FILE_NAME_CHARS_MAX / 4 - 1)}`;
    expect(sanitizeFileName(`${stem}${dropped}`)).toBe(stem);
    // An extension longer than the bound itself is dropped too, never kept whole.
    expect(sanitizeFileName(`short.${'e'.repeat(FILE_NAME_CHARS_MAX + 100)}`)).toBe('short');
  });
});

describe('splitExtension and candidateName', () => {
  it('the extension is from the last dot; a name without one, or whose only dot leads, has none', () => {
    expect(splitExtension('archive.tar.gz')).toEqual(['archive.tar', '.gz']);
    expect(splitExtension('README')).toEqual(['README', '']);
    expect(splitExtension('.bashrc')).toEqual(['.bashrc', '']);
  });

  it('candidate 0 is the name itself, then "stem (n).ext" with the stem whole when it fits', () => {
    expect(candidateName('report.pdf', 0)).toBe('report.pdf');
    expect(candidateName('report.pdf', 2)).toBe('report (2).pdf');
    expect(candidateName('notes', 10)).toBe('notes (10)');
  });

  it('a candidate of a name at the bound is cut in the stem, so it stays within the bound and keeps the extension', () => {
    const name = `${'a'.repeat(FILE_NAME_CHARS_MAX - 4)}.txt`;
    const candidate = candidateName(name, 3);
    expect(candidate).toHaveLength(FILE_NAME_CHARS_MAX);
    expect(candidate.endsWith('a (3).txt')).toBe(true);
  });
});

describe('isSafeFileName', () => {
  it('is false for an empty name, an overlong one, and any name sanitizing would change', () => {
    expect(isSafeFileName('')).toBe(false);
    expect(isSafeFileName('a'.repeat(FILE_NAME_CHARS_MAX + 1))).toBe(false);
    expect(isSafeFileName('../x')).toBe(false);
    expect(isSafeFileName('con.txt')).toBe(false);
    expect(isSafeFileName('a'.repeat(FILE_NAME_CHARS_MAX))).toBe(true);
  });
});
