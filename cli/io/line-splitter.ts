/**
 * Splits a byte stream into UTF-8 lines, bounded: a line over `lineBytesMax` is reported and
 * skipped up to its newline, never buffered whole. Used on both sides of the JSON-lines contract
 * (the headless client's stdin, the dashboard's reading of the client's stdout).
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private skipping = false;

  constructor(
    private readonly lineBytesMax: number,
    private readonly onLine: (line: string) => void,
    private readonly onOverlong: () => void,
  ) {}

  push(chunk: Buffer): void {
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      start = newline + 1;
      if (this.skipping) {
        this.skipping = false;
        continue;
      }
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      this.onLine(line.toString('utf8'));
    }
    const rest = chunk.subarray(start);
    if (this.skipping || rest.byteLength === 0) return;
    this.pendingBytes += rest.byteLength;
    if (this.pendingBytes > this.lineBytesMax) {
      this.pending = [];
      this.pendingBytes = 0;
      this.skipping = true;
      this.onOverlong();
      return;
    }
    this.pending.push(Buffer.from(rest));
  }

  /** The stream ended: a last line without its newline still counts. */
  end(): void {
    if (!this.skipping && this.pending.length > 0) this.onLine(Buffer.concat(this.pending).toString('utf8'));
    this.pending = [];
    this.pendingBytes = 0;
  }
}
