/**
 * The sender's file hash, fed by the reads that send the file: the rule every file port follows
 * (cli/client/file-io.ts on node:fs, the simulator's and the tests' ports in memory). Reads are
 * answered in file order from where the sender (re)starts, and a resume never starts past the
 * bytes sent, so each answer either repeats bytes hashed already, or goes past them: only the part
 * past `hashedBytes` feeds the hash. The hash itself (node:crypto in cli/) comes in as a port, so
 * this stays pure.
 */
export interface IncrementalHash {
  update(bytes: Uint8Array): unknown;
  digest(encoding: 'hex'): string;
}

export class ReadHash {
  /** The hash covers the file's bytes [0, hashedBytes). */
  private hashedBytes = 0;
  private digested: string | null = null;

  constructor(private readonly hash: IncrementalHash) {}

  /** A read of `chunk` at `offset` was answered. A chunk past a gap (never the machine's reads) is not hashed. */
  feed(offset: number, chunk: Uint8Array): void {
    const fresh = this.hashedBytes - offset;
    if (this.digested !== null || fresh < 0 || fresh >= chunk.byteLength) return;
    this.hash.update(fresh === 0 ? chunk : chunk.subarray(fresh));
    this.hashedBytes = offset + chunk.byteLength;
  }

  /** The SHA-256 (hex) of the bytes fed; the same answer when asked again (a resume at the end). */
  digest(): string {
    this.digested ??= this.hash.digest('hex');
    return this.digested;
  }
}
