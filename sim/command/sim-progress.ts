/**
 * The progress bar of long runs, on stderr: redrawn in place on a terminal, otherwise one line at
 * most every PROGRESS_LINE_EVERY_MS of wall time. Wall time is read here, outside the simulation,
 * and never flows back into it.
 */
import { performance } from 'node:perf_hooks';

const REDRAW_EVERY_MS = 100;
const PROGRESS_LINE_EVERY_MS = 10_000;
/** Runs shorter than this draw nothing. */
const SHOW_AFTER_MS = 1_000;
const BAR_CHARS = 30;

export class Progress {
  private readonly startMs = performance.now();
  private lastDrawMs = 0;
  private drawn = false;

  constructor(
    private readonly label: string,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  update(doneMs: number, totalMs: number, events: number): void {
    const nowMs = performance.now();
    if (nowMs - this.startMs < SHOW_AFTER_MS) return;
    const tty = this.stream.isTTY === true;
    if (nowMs - this.lastDrawMs < (tty ? REDRAW_EVERY_MS : PROGRESS_LINE_EVERY_MS)) return;
    this.lastDrawMs = nowMs;
    const share = totalMs === 0 ? 1 : Math.min(1, doneMs / totalMs);
    const filled = Math.round(share * BAR_CHARS);
    const rate = events / ((nowMs - this.startMs) / 1000);
    const text = `${this.label} [${'#'.repeat(filled)}${'.'.repeat(BAR_CHARS - filled)}] ${(share * 100).toFixed(0)}% ${(doneMs / 1000).toFixed(0)}/${(totalMs / 1000).toFixed(0)}s virtual, ${events} events, ${Math.round(rate)} ev/s`;
    if (tty) {
      this.stream.write(`\r${text}\u001b[K`);
      this.drawn = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  done(): void {
    if (this.drawn) this.stream.write('\r\u001b[K');
  }
}
