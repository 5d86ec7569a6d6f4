/**
 * Pure text helpers of the dashboard: sizes, speeds, progress bars, wrapping, path lists. Widths
 * are row budgets (char-width.ts layoutWidth): at least the terminal cells a text takes (a CJK
 * character or an emoji two), and what blessed counts when it cuts a row, so nothing is cut.
 */
import { layoutWidth } from './char-width.ts';

const BYTE_UNITS = ['B', 'KB', 'MB', 'GB', 'TB'] as const;

/** 1536 → "1.5 KB" (powers of 1024, one decimal under 10 units, none above). */
export function formatBytes(bytes: number): string {
  let value = Math.max(0, bytes);
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${value.toFixed(digits)} ${BYTE_UNITS[unit]}`;
}

export function formatSpeed(bytesPerSec: number | null): string {
  return bytesPerSec === null ? '–' : `${formatBytes(bytesPerSec)}/s`;
}

/** "[#####-----]" for fraction 0.5 and width 12 (brackets included). Reads without colour. */
export function progressBar(fraction: number, width: number): string {
  const inner = Math.max(1, width - 2);
  const clamped = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const filled = Math.round(clamped * inner);
  return `[${'#'.repeat(filled)}${'-'.repeat(inner - filled)}]`;
}

export function percent(bytes: number, size: number): number {
  if (size <= 0) return 100;
  return Math.min(100, Math.floor((bytes / size) * 100));
}

/** Row budget of a text (char-width.ts layoutWidth): at least its terminal cells. */
export function layoutTextWidth(text: string): number {
  let width = 0;
  for (const char of text) width += layoutWidth(char);
  return width;
}

/** How many of `chars`, from the first, fit in a row budget of `width`. */
function fittingCount(chars: readonly string[], width: number): number {
  let used = 0;
  let count = 0;
  for (const char of chars) {
    const cells = layoutWidth(char);
    if (used + cells > width) break;
    used += cells;
    count++;
  }
  return count;
}

/**
 * Wraps text to lines of at most `width` cells, breaking at spaces when it can and inside a word
 * when it must (never inside a wide character). Newlines in the text start new lines.
 */
export function wrapText(text: string, width: number): string[] {
  const lineWidth = Math.max(1, width);
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let rest = Array.from(paragraph);
    if (rest.length === 0) lines.push('');
    while (rest.length > 0) {
      const fits = fittingCount(rest, lineWidth);
      if (fits >= rest.length) {
        lines.push(rest.join(''));
        break;
      }
      let cut = rest.lastIndexOf(' ', fits);
      if (cut <= 0) cut = Math.max(1, fits);
      lines.push(rest.slice(0, cut).join(''));
      rest = rest.slice(rest[cut] === ' ' ? cut + 1 : cut);
    }
  }
  return lines;
}

/** Truncates to `width` cells, marking the cut with "…". */
export function truncate(text: string, width: number): string {
  if (layoutTextWidth(text) <= width) return text;
  const chars = Array.from(text);
  if (width <= 1) return chars.slice(0, fittingCount(chars, Math.max(0, width))).join('');
  return `${chars.slice(0, fittingCount(chars, width - 1)).join('')}…`;
}

/** Truncates from the start, keeping the end (a path's file name): "…/dl/big.iso". */
export function truncateStart(text: string, width: number): string {
  if (layoutTextWidth(text) <= width) return text;
  const reversed = Array.from(text).reverse();
  const keep = fittingCount(reversed, Math.max(0, width <= 1 ? width : width - 1));
  const end = reversed.slice(0, keep).reverse().join('');
  return width <= 1 ? end : `…${end}`;
}

export type PathsParse = { readonly ok: true; readonly paths: string[] } | { readonly ok: false; readonly error: string };

/**
 * Splits a typed list of paths the way a shell would for the simple cases: whitespace separates,
 * "double" or 'single' quotes keep spaces, a backslash escapes the next character, and an
 * unquoted ~ starting a path (alone or before /) is the home directory, when one is given.
 */
export function parsePathList(input: string, pathsMax: number, homeDir: string | null = null): PathsParse {
  const paths: string[] = [];
  let current = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  const chars = Array.from(input);
  for (let index = 0; index < chars.length; index++) {
    const char = chars[index] ?? '';
    if (quote !== null) {
      if (char === quote) quote = null;
      else current += char;
      continue;
    }
    const next = chars[index + 1];
    if (char === '~' && !inToken && homeDir !== null && (next === undefined || next === '/' || next === ' ' || next === '\t')) {
      current += homeDir;
      inToken = true;
    } else if (char === '"' || char === "'") {
      quote = char;
      inToken = true;
    } else if (char === '\\' && index + 1 < chars.length) {
      current += chars[++index] ?? '';
      inToken = true;
    } else if (char === ' ' || char === '\t') {
      if (inToken) paths.push(current);
      current = '';
      inToken = false;
    } else {
      current += char;
      inToken = true;
    }
  }
  if (quote !== null) return { ok: false, error: `unclosed ${quote} quote` };
  if (inToken) paths.push(current);
  if (paths.length === 0) return { ok: false, error: 'type at least one path' };
  if (paths.length > pathsMax) return { ok: false, error: `at most ${pathsMax} files at once` };
  return { ok: true, paths };
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** The local calendar day of a time, as a key that two times share when they fall on the same day. */
export function localDayKey(atMs: number): string {
  const date = new Date(atMs);
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`;
}

/**
 * The day a chat pane's date separator names, in local time: "Today", "Yesterday", or
 * "Tue 24 Nov 2026" (spelled out here, not by Intl, so it reads the same on every machine).
 */
export function dayLabel(atMs: number, nowMs: number): string {
  const key = localDayKey(atMs);
  if (key === localDayKey(nowMs)) return 'Today';
  const yesterday = new Date(nowMs);
  yesterday.setDate(yesterday.getDate() - 1);
  if (key === localDayKey(yesterday.getTime())) return 'Yesterday';
  const date = new Date(atMs);
  return `${WEEKDAYS[date.getDay()] ?? ''} ${date.getDate()} ${MONTHS[date.getMonth()] ?? ''} ${date.getFullYear()}`;
}
