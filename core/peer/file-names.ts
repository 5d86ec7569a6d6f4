/**
 * Names of received files. A name from the wire is never used as a path: it is reduced to one
 * plain file name (no separators, no '..', no absolute path, no control characters, bounded
 * length), and an existing file is never overwritten: the runtime tries `candidateName(name, n)`
 * for n = 0, 1, 2, ... with an exclusive create (link) and takes the first that is free.
 */
import { FILE_NAME_CANDIDATES_MAX, FILE_NAME_CHARS_MAX } from '../limits.ts';

export const FALLBACK_FILE_NAME = 'received-file';

// C0, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides that can
// disguise a name on a terminal.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

// A high surrogate not followed by a low one, or a low one not after a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/**
 * Device names Windows reserves in any directory and with any extension ("con.txt" opens the
 * console): case-insensitive, judged on the part before the first dot, trailing spaces ignored.
 */
const WINDOWS_RESERVED_STEM = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³])\s*$/i;

/**
 * The name as well-formed UTF-16: each lone surrogate becomes U+FFFD, as UTF-8 encoding would
 * make it anyway. Otherwise the name reported (JSON keeps the lone surrogate) and the name written
 * (the file system gets U+FFFD) would differ. String.prototype.toWellFormed, for Node 20's lib.
 */
export function wellFormed(text: string): string {
  return text.replace(LONE_SURROGATE, '\uFFFD');
}

/** One safe file name for what a peer offered. Always returns a usable, non-empty name. */
export function sanitizeFileName(offered: string): string {
  // Keep only the last path component, whatever the separator convention of the sender.
  const parts = offered.split(/[/\\]/);
  let name = wellFormed(parts[parts.length - 1] ?? '').replace(UNSAFE_CHARS, '');
  // Windows drive prefixes ("C:evil") and stray colons.
  name = stripEdges(name.replace(/:/g, '_'));
  if (name.length === 0) return FALLBACK_FILE_NAME;
  // Truncating can leave a space or dot at the new end, or half a surrogate pair: clean again,
  // so the result is a fixed point (sanitizing a sanitized name changes nothing).
  name = stripEdges(wellFormed(truncateName(name, FILE_NAME_CHARS_MAX))) || FALLBACK_FILE_NAME;
  return avoidReservedName(name);
}

/** "CON", "nul.txt", "Com1.tar.gz" get a leading underscore: a plain file on every system. */
function avoidReservedName(name: string): string {
  const dot = name.indexOf('.');
  const stem = dot < 0 ? name : name.slice(0, dot);
  if (!WINDOWS_RESERVED_STEM.test(stem)) return name;
  return truncateName(`_${name}`, FILE_NAME_CHARS_MAX);
}

/**
 * Leading dots would make '.', '..' or hidden files; leading and trailing whitespace and
 * trailing dots confuse people and some file systems. Stripped together, so ". x" cannot leave
 * a leading space behind once its dot is gone.
 */
function stripEdges(name: string): string {
  return name.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
}

/** Splits "archive.tar.gz" into ["archive.tar", ".gz"]; a name without a dot has no extension. */
export function splitExtension(name: string): [string, string] {
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return [name, ''];
  return [name.slice(0, dot), name.slice(dot)];
}

function truncateName(name: string, charsMax: number): string {
  if (name.length <= charsMax) return name;
  const [stem, extension] = splitExtension(name);
  const keptExtension = extension.length < charsMax / 4 ? extension : '';
  return stem.slice(0, charsMax - keptExtension.length) + keptExtension;
}

/** The longest " (n)" a candidate gets: the runtime tries n = 0 to FILE_NAME_CANDIDATES_MAX - 1. */
const CANDIDATE_SUFFIX_CHARS_MAX = ` (${FILE_NAME_CANDIDATES_MAX - 1})`.length;
/**
 * The shortest stem a candidate keeps beside its extension: one character, and one more to give up
 * should the candidate come back as the name itself (below).
 */
const CANDIDATE_STEM_CHARS_MIN = 2;

/**
 * The n-th name to try: n = 0 is the name itself, then "name (1).ext", "name (2).ext", ..., cut to
 * FILE_NAME_CHARS_MAX. Whether the extension stays is decided once per name, not per n (only if
 * the longest suffix fits before it), so all of a name's candidates have one shape and differ in
 * their suffix alone: n candidates are n names. A name at the bound that already ends in
 * " (n).ext" would come back as itself once cut: that candidate gives up one more character.
 */
export function candidateName(name: string, n: number): string {
  if (n === 0) return name;
  const suffix = ` (${n})`;
  const [stem, extension] = splitExtension(name);
  const keepsExtension = FILE_NAME_CHARS_MAX - CANDIDATE_SUFFIX_CHARS_MAX - extension.length >= CANDIDATE_STEM_CHARS_MIN;
  const [head, tail] = keepsExtension ? [stem, extension] : [name, ''];
  const headCharsMax = FILE_NAME_CHARS_MAX - suffix.length - tail.length;
  const candidate = cutName(head, headCharsMax) + suffix + tail;
  return candidate === name ? cutName(head, headCharsMax - 1) + suffix + tail : candidate;
}

/** The first `charsMax` characters (at least one), a pair of surrogates cut in half made U+FFFD. */
function cutName(text: string, charsMax: number): string {
  return wellFormed(text.slice(0, Math.max(1, charsMax)));
}

/** True when `name` is what sanitizeFileName would keep: a single safe component. */
export function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= FILE_NAME_CHARS_MAX && sanitizeFileName(name) === name;
}
