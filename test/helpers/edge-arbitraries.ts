/**
 * Generators biased toward the edges of their domain. fast-check's plain strings almost never
 * contain a separator, a dot run, a device name or a lone surrogate, so a property over them
 * passes whatever a path or name check does with those; these draw the pieces that matter most
 * of the time, and plain random strings the rest of the time.
 */
import fc from 'fast-check';
import { FILE_NAME_CHARS_MAX, USERNAME_CHARS_MAX, USERNAME_CHARS_MIN } from '../../core/limits.ts';

/** The pieces of a hostile file name: separators, dot runs, drives, device names, controls, bidi, surrogates. */
const FILE_NAME_PIECES = [
  '/', '\\', '.', '..', '...', ':', 'C:', 'c:\\', '//', '\\\\?\\',
  'CON', 'nul', 'Com1', 'LPT9', 'aux', 'prn', 'con ', 'com¹',
  ' ', '  ', '\t', '\u0000', '\u0007', '\u001b[2J', '\u007f', '\u0085', '\u2028', '\u202e', '\u2066',
  '\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D\uDE00', 'e\u0301', '中文', '\uFFFD',
  '.txt', '.tar.gz', '.exe', ' (1)', '.bashrc', 'passwd', 'etc', 'a', 'b', 'report', '~', '$', '%2e%2e', '*', '?', '"', '<', '>', '|',
];

/** A name as a hostile or careless peer would offer it: mostly built from edge pieces, sometimes long. */
export function hostileFileName(): fc.Arbitrary<string> {
  const piece = fc.constantFrom(...FILE_NAME_PIECES);
  const pieces = fc.array(piece, { minLength: 0, maxLength: 12 }).map((p) => p.join(''));
  // Around the length bound, where truncation can cut a pair or leave a dot or space at the end.
  const nearBound = fc
    .tuple(fc.integer({ min: FILE_NAME_CHARS_MAX - 4, max: FILE_NAME_CHARS_MAX + 4 }), pieces, fc.constantFrom('a', '.', ' ', '\uD83D\uDE00'))
    .map(([length, tail, fill]) => fill.repeat(length).slice(0, length) + tail);
  return fc.oneof(
    { weight: 6, arbitrary: pieces },
    { weight: 2, arbitrary: nearBound },
    { weight: 2, arbitrary: fc.string({ maxLength: 400, unit: 'binary' }) },
  );
}

/** Usernames at and around their bounds and pattern: valid ones, one char short or long, bad first chars, case, unicode. */
export function edgeUsername(): fc.Arbitrary<string> {
  const valid = fc.stringMatching(/^[a-z0-9][a-z0-9._-]*$/).filter((s) => s.length >= USERNAME_CHARS_MIN && s.length <= USERNAME_CHARS_MAX);
  const atLength = fc.constantFrom(USERNAME_CHARS_MIN - 1, USERNAME_CHARS_MIN, USERNAME_CHARS_MAX, USERNAME_CHARS_MAX + 1).map((n) => 'a'.repeat(n));
  const odd = fc.constantFrom('', '.alice', '-bob', '_x_', 'Alice', 'ALICE', 'alice ', ' alice', 'al ice', 'ålice', 'alice\u0000', '__proto__', 'constructor', 'toString');
  return fc.oneof({ weight: 4, arbitrary: valid }, { weight: 2, arbitrary: atLength }, { weight: 3, arbitrary: odd }, { weight: 1, arbitrary: fc.string({ maxLength: 40 }) });
}
