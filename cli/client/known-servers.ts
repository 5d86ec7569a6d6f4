/**
 * Server pinning, like SSH's known_hosts: the client's data dir holds a `known-servers` file, one
 * line per server address with the SHA-256 fingerprint of the certificate it presented the first
 * time (trust on first use), or the one given up front with --server-fingerprint.
 *
 *   # comment
 *   127.0.0.1:12345 9A:3F:...:C1
 *
 * Every TLS handshake with the server is checked here before the client sends anything
 * (TcpTransport's verifyServer): the pinned fingerprint lets the link open, an unknown server is
 * pinned now, and a different certificate is refused with SERVER_KEY_CHANGED, naming both
 * fingerprints and how to accept the new one on purpose. What the user sees of it are the
 * headless events `server.key` and `error` (CONTRACTS.md section 4).
 */
import { mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientEvent } from '../../core/peer/events.ts';

export const KNOWN_SERVERS_FILE = 'known-servers';
/** A known-servers file larger than this is refused, not read: it holds one short line per server. */
export const KNOWN_SERVERS_BYTES_MAX = 1024 * 1024;
/** The refusal code (the stream's close reason, and the `error` event's code). */
export const SERVER_KEY_CHANGED = 'SERVER_KEY_CHANGED';
/** The pins could not be read or written: the server cannot be checked, so it is refused. */
export const KNOWN_SERVERS_FAILED = 'KNOWN_SERVERS_FAILED';

const HEADER = '# p2pchat known servers: HOST:PORT SHA256-FINGERPRINT, one a line. Delete a line to forget that server.\n';

/** The address a pin is kept under: HOST:PORT, IPv6 hosts in brackets, names in lower case. */
export function serverAddress(host: string, port: number): string {
  const bare = host.toLowerCase();
  return `${bare.includes(':') ? `[${bare}]` : bare}:${port}`;
}

export interface PinVerdict {
  /** null: the link may open; else the error code that refuses it. */
  readonly refusal: string | null;
  /** What to tell the user (each at most once per fingerprint per run). */
  readonly events: readonly ClientEvent[];
}

/** What the runtime asks of each TLS handshake with the server. */
export interface ServerKeyCheck {
  verify(host: string, port: number, presented: string): PinVerdict;
}

/** A pin held in memory only (the benchmark's clients, tests): that fingerprint or nothing; no file, no events. */
export class FixedServerPin implements ServerKeyCheck {
  constructor(private readonly fingerprint: string) {}

  verify(_host: string, _port: number, presented: string): PinVerdict {
    return { refusal: presented === this.fingerprint ? null : SERVER_KEY_CHANGED, events: [] };
  }
}

export interface ServerPinsOptions {
  readonly dataDir: string;
  /** --server-fingerprint, already normalized: pinned up front, replacing what the file holds. */
  readonly expectedFingerprint?: string | null;
}

export class ServerPins implements ServerKeyCheck {
  readonly file: string;
  private readonly dataDir: string;
  private readonly expected: string | null;
  /** Fingerprints already announced (server.key) or refused (error) in this run: no repeats on reconnects. */
  private readonly told = new Set<string>();

  constructor(options: ServerPinsOptions) {
    this.dataDir = options.dataDir;
    this.file = join(options.dataDir, KNOWN_SERVERS_FILE);
    this.expected = options.expectedFingerprint ?? null;
  }

  /** The fingerprint pinned for an address in the file, or null. */
  pinned(address: string): string | null {
    return this.read().get(address) ?? null;
  }

  verify(host: string, port: number, presented: string): PinVerdict {
    const address = serverAddress(host, port);
    const stored = this.pinned(address);
    const expected = this.expected ?? stored;
    if (expected === null) {
      this.write(address, presented);
      return { refusal: null, events: this.once(`key ${presented}`, { event: 'server.key', fingerprint: presented, pinned: false, server: address, firstUse: true }) };
    }
    if (presented === expected) {
      // Given up front: it replaces what the file held, so later runs without the flag keep it.
      if (stored !== presented) this.write(address, presented);
      return { refusal: null, events: this.once(`key ${presented}`, { event: 'server.key', fingerprint: presented, pinned: true, server: address, firstUse: false }) };
    }
    const where = this.expected !== null ? 'given with --server-fingerprint' : `pinned in ${this.file}`;
    const message =
      `the server at ${address} presented a certificate with SHA-256 ${presented}, but ${expected} is ${where}: ` +
      'refused before anything was sent. If the server was given a new key on purpose (check its log or /api/v1/stats), ' +
      `accept it by starting once with --server-fingerprint ${presented}, or delete the line of ${address} in ${this.file}`;
    return {
      refusal: SERVER_KEY_CHANGED,
      events: this.once(`refused ${presented}`, { event: 'error', code: SERVER_KEY_CHANGED, message, server: address, pinned: expected, presented }),
    };
  }

  private once(key: string, event: ClientEvent): ClientEvent[] {
    if (this.told.has(key)) return [];
    this.told.add(key);
    return [event];
  }

  private read(): Map<string, string> {
    const pins = new Map<string, string>();
    let text: string;
    try {
      if (statSync(this.file).size > KNOWN_SERVERS_BYTES_MAX) throw new Error(`${this.file} is over ${KNOWN_SERVERS_BYTES_MAX} bytes: not a known-servers file`);
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return pins;
      throw error;
    }
    for (const line of text.split('\n')) {
      const trimmed = line.trim();
      if (trimmed === '' || trimmed.startsWith('#')) continue;
      const [address, fingerprint] = trimmed.split(/\s+/);
      if (address !== undefined && fingerprint !== undefined) pins.set(address, fingerprint.toUpperCase());
    }
    return pins;
  }

  /** Pins `fingerprint` for `address` (replacing its line), written whole then renamed; mode 0600. */
  private write(address: string, fingerprint: string): void {
    const pins = this.read();
    pins.set(address, fingerprint);
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const body = [...pins].map(([pinnedAddress, pinnedFingerprint]) => `${pinnedAddress} ${pinnedFingerprint}\n`).join('');
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, HEADER + body, { mode: 0o600 });
    renameSync(temporary, this.file);
  }
}
