/**
 * The report's `peers` section (docs/BENCHMARKS.md, "Peers side by side"): one entry per peer
 * server, each figure of p2pchat beside the same figure of the peer, as the ratio p2pchat / peer.
 * A peer that is not installed, or that failed to start, is listed as missing with the reason and
 * never passes; so is a figure either side could not measure.
 */
import { roundFigure } from '../report.ts';

export const PEER_NAMES = ['ejabberd', 'prosody'] as const;
export type PeerName = (typeof PEER_NAMES)[number];

export const PEER_TITLES: Record<PeerName, string> = { ejabberd: 'ejabberd', prosody: 'Prosody' };

/** The figures compared with each peer, in report order. */
export const PEER_FIGURE_NAMES = ['connections_held', 'rss_per_connection_kb', 'presence_fanout_rate', 'login_rate', 'login_rate_matched_cost'] as const;
export type PeerFigureName = (typeof PEER_FIGURE_NAMES)[number];

export const PEER_FIGURE_UNITS: Record<PeerFigureName, string> = {
  connections_held: 'connections',
  rss_per_connection_kb: 'KB',
  presence_fanout_rate: 'notifications/s',
  login_rate: 'logins/s',
  login_rate_matched_cost: 'logins/s',
};

/** Figures where less is better: p2pchat is ahead when its ratio is at most 1. */
const LOWER_IS_BETTER: ReadonlySet<PeerFigureName> = new Set(['rss_per_connection_kb']);

/** What one side measured for one figure; value null when it could not (note says why). */
export interface PeerSide {
  readonly value: number | null;
  readonly note?: string;
  readonly details?: Record<string, number | string>;
}

export interface PeerFigure {
  readonly name: PeerFigureName;
  readonly unit: string;
  readonly p2pchat: number | null;
  readonly peer: number | null;
  /** p2pchat / peer, or null when either side is missing or the peer's value is not positive. */
  readonly ratio: number | null;
  readonly lowerIsBetter: boolean;
  /** p2pchat at least as good as the peer (ratio >= 1, or <= 1 when lower is better); null when not comparable. */
  readonly ahead: boolean | null;
  readonly note?: string;
  readonly details?: Record<string, number | string>;
}

export interface PeerSection {
  readonly peer: PeerName;
  readonly title: string;
  /** The peer's version as its package or binary reports it; null when not installed. */
  readonly version: string | null;
  readonly missing: boolean;
  /** Why it is missing, or what went wrong for some of its figures. */
  readonly note?: string;
  /** Every figure measured on both sides and p2pchat ahead on each: the goal, not yet a promise. */
  readonly passed: boolean;
  /** How the peer ran: configuration, password scheme, sizes. */
  readonly settings: Record<string, number | string>;
  readonly figures: PeerFigure[];
}

/** p2pchat / peer, or null when it is not a number to compare. */
export function peerRatio(p2pchat: number | null, peer: number | null): number | null {
  if (p2pchat === null || peer === null || !Number.isFinite(p2pchat) || !Number.isFinite(peer) || peer <= 0 || p2pchat < 0) return null;
  return p2pchat / peer;
}

export function isAhead(ratio: number | null, lowerIsBetter: boolean): boolean | null {
  if (ratio === null) return null;
  return lowerIsBetter ? ratio <= 1 : ratio >= 1;
}

function joinNotes(...notes: Array<string | undefined>): string | undefined {
  const present = notes.filter((note): note is string => note !== undefined && note !== '');
  return present.length === 0 ? undefined : present.join('; ');
}

export function peerFigure(name: PeerFigureName, ours: PeerSide, theirs: PeerSide): PeerFigure {
  const lowerIsBetter = LOWER_IS_BETTER.has(name);
  const ratio = peerRatio(ours.value, theirs.value);
  const note = joinNotes(ours.note === undefined ? undefined : `p2pchat: ${ours.note}`, theirs.note === undefined ? undefined : `peer: ${theirs.note}`);
  const details = { ...prefixed('p2pchat', ours.details), ...prefixed('peer', theirs.details) };
  return {
    name,
    unit: PEER_FIGURE_UNITS[name],
    p2pchat: ours.value === null ? null : roundFigure(ours.value),
    peer: theirs.value === null ? null : roundFigure(theirs.value),
    ratio: ratio === null ? null : roundFigure(ratio),
    lowerIsBetter,
    ahead: isAhead(ratio, lowerIsBetter),
    ...(note === undefined ? {} : { note }),
    ...(Object.keys(details).length === 0 ? {} : { details }),
  };
}

function prefixed(prefix: string, details: Record<string, number | string> | undefined): Record<string, number | string> {
  const out: Record<string, number | string> = {};
  for (const [key, value] of Object.entries(details ?? {})) out[`${prefix}${key.charAt(0).toUpperCase()}${key.slice(1)}`] = value;
  return out;
}

export function peerSection(input: { peer: PeerName; version: string | null; settings: Record<string, number | string>; figures: PeerFigure[]; note?: string }): PeerSection {
  const byName = new Map(input.figures.map((figure) => [figure.name, figure]));
  // Every compared figure is listed, in order; one the run never reached is missing on the peer's side.
  const figures = PEER_FIGURE_NAMES.map((name) => byName.get(name) ?? peerFigure(name, { value: null, note: 'not measured' }, { value: null, note: 'not measured' }));
  return {
    peer: input.peer,
    title: PEER_TITLES[input.peer],
    version: input.version,
    missing: false,
    ...(input.note === undefined ? {} : { note: input.note }),
    passed: figures.every((figure) => figure.ahead === true),
    settings: input.settings,
    figures,
  };
}

/** A peer that could not be compared at all (not installed, failed to start): every figure missing, not passed. */
export function missingPeerSection(peer: PeerName, reason: string, version: string | null = null): PeerSection {
  return {
    peer,
    title: PEER_TITLES[peer],
    version,
    missing: true,
    note: reason,
    passed: false,
    settings: {},
    figures: PEER_FIGURE_NAMES.map((name) => peerFigure(name, { value: null }, { value: null, note: reason })),
  };
}

function cell(value: number | null): string {
  return value === null ? '-' : String(value);
}

/** The peers part of the readable table (empty when the run compared no peer). */
export function formatPeers(sections: readonly PeerSection[]): string[] {
  const lines: string[] = [];
  for (const section of sections) {
    lines.push('', `peer ${section.title}${section.version === null ? '' : ` ${section.version}`}: ${section.missing ? `MISSING (${section.note ?? 'no reason given'})` : section.passed ? 'p2pchat ahead on every figure' : 'p2pchat not ahead on every figure'}`);
    if (section.missing) continue;
    const header = ['name', 'p2pchat', section.title, 'unit', 'ratio p2pchat/peer', 'ahead'];
    const rows = section.figures.map((f) => [f.name, cell(f.p2pchat), cell(f.peer), f.unit, `${cell(f.ratio)}${f.lowerIsBetter ? ' (lower is better)' : ''}`, f.ahead === null ? 'MISSING' : f.ahead ? 'yes' : 'NO']);
    const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
    const line = (cells: readonly string[]): string => cells.map((text, i) => text.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
    lines.push(line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line));
    for (const figure of section.figures) if (figure.note !== undefined) lines.push(`  ${figure.name}: ${figure.note}`);
    if (section.note !== undefined) lines.push(`  note: ${section.note}`);
  }
  return lines;
}
