/**
 * Names of received files. A name from the wire is never used as a path: it is reduced to one
 * plain file name (no separators, no '..', no absolute path, no control characters, bounded
 * length), and an existing file is never overwritten: the runtime tries `candidateName(name, n)`
 * for n = 0, 1, 2, ... with an exclusive create (link) and takes the first that is free.
 */
import { FILE_NAME_CHARS_MAX } from '../limits.ts';

export const FALLBACK_FILE_NAME = 'received-file';

// C0, DEL, C1 controls, and the Unicode line/paragraph separators and bidi overrides that can
// disguise a name on a terminal.
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** One safe file name for what a peer offered. Always returns a usable, non-empty name. */
export function sanitizeFileName(offered: string): string {
  // Keep only the last path component, whatever the separator convention of the sender.
  const parts = offered.split(/[/\\]/);
  let name = (parts[parts.length - 1] ?? '').replace(UNSAFE_CHARS, '');
  // Windows drive prefixes ("C:evil") and stray colons.
  name = stripEdges(name.replace(/:/g, '_'));
  if (name.length === 0) return FALLBACK_FILE_NAME;
  // Truncating can leave a space or dot at the new end: strip again, so the result is a fixed
  // point (sanitizing a sanitized name changes nothing).
  return stripEdges(truncateName(name, FILE_NAME_CHARS_MAX)) || FALLBACK_FILE_NAME;
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

/** The n-th name to try: n = 0 is the name itself, then "name (1).ext", "name (2).ext", ... */
export function candidateName(name: string, n: number): string {
  if (n === 0) return name;
  const [stem, extension] = splitExtension(name);
  const suffix = ` (${n})`;
  const stemCharsMax = FILE_NAME_CHARS_MAX - suffix.length - extension.length;
  return stem.slice(0, Math.max(1, stemCharsMax)) + suffix + extension;
}

/** True when `name` is what sanitizeFileName would keep: a single safe component. */
export function isSafeFileName(name: string): boolean {
  return name.length > 0 && name.length <= FILE_NAME_CHARS_MAX && sanitizeFileName(name) === name;
}
