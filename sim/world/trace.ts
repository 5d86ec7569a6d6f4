/**
 * The run's trace: every delivered network message and every world event (fault, step outcome,
 * violation) is folded into the traceHash; with --trace the same events are also written, one
 * JSON line each, so two runs can be diffed line by line.
 */
import { TraceHash } from './trace-hash.ts';

export type TraceLineSink = (line: string) => void;
/** Sees every world event (not the deliveries), e.g. to draw the run's timeline; never hashed. */
export type TraceNoteObserver = (atMs: number, kind: string, detail: Readonly<Record<string, string | number | boolean>>) => void;

const KIND_NAMES = ['data', 'fin', 'rst', 'open'] as const;

export class Trace {
  readonly hash = new TraceHash();
  events = 0;
  /** Set by whoever wants the world events as they happen (sim --html); null costs nothing. */
  noteObserver: TraceNoteObserver | null = null;

  constructor(
    private readonly nowMs: () => number,
    private readonly sink: TraceLineSink | null,
  ) {}

  /** A network message reached a live receiver. */
  delivery(kind: number, connId: number, toServerSide: boolean, bytes: Uint8Array | null): void {
    const atMs = this.nowMs();
    this.events += 1;
    const hash = this.hash;
    hash.num(atMs * 1000);
    hash.u32(kind | (toServerSide ? 16 : 0));
    hash.u32(connId);
    if (bytes !== null) hash.bytes(bytes);
    if (this.sink !== null) {
      const line: Record<string, unknown> = { t: atMs, k: KIND_NAMES[kind] ?? kind, conn: connId, to: toServerSide ? 'server' : 'peer' };
      if (bytes !== null) line.bytes = bytes.byteLength;
      this.sink(JSON.stringify(line));
    }
  }

  /** A world event: a fault, a step outcome, a violation. */
  note(kind: string, detail: Record<string, string | number | boolean>): void {
    const atMs = this.nowMs();
    this.events += 1;
    this.hash.num(atMs * 1000);
    this.hash.text(kind);
    for (const key of Object.keys(detail)) {
      this.hash.text(key);
      this.hash.text(String(detail[key]));
    }
    if (this.sink !== null) this.sink(JSON.stringify({ t: atMs, k: kind, ...detail }));
    this.noteObserver?.(atMs, kind, detail);
  }
}
