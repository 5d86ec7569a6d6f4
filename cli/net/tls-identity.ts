/**
 * The server's TLS identity: its certificate and private key (PEM) and the certificate's SHA-256
 * fingerprint, which clients pin (cli/client/known-servers.ts).
 *
 * Given with --tls-cert and --tls-key, the files are read as they are. Otherwise the server keeps
 * its own in its data dir: made on first start (an EC P-256 key and a self-signed certificate,
 * by the `selfsigned` library: no hand-written ASN.1), read on every later start, so the
 * fingerprint its clients pinned stays the same across restarts.
 */
import { X509Certificate } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** File names in the server's data dir. */
export const TLS_CERT_FILE = 'tls-cert.pem';
export const TLS_KEY_FILE = 'tls-key.pem';
/**
 * Validity of a generated certificate. Clients pin the fingerprint and never check dates or
 * names against a CA, so a long life only spares the operator a re-pin on every client.
 */
export const TLS_CERT_VALIDITY_DAYS = 3_650;
const DAY_MS = 86_400_000;

export interface TlsIdentity {
  readonly cert: string;
  readonly key: string;
  /** SHA-256 of the certificate (DER), upper-case hex pairs joined by ':' (as openssl and node print it). */
  readonly fingerprint: string;
  /** Where it came from: made now, read from the data dir, or read from --tls-cert/--tls-key. */
  readonly source: 'generated' | 'data-dir' | 'given';
  readonly certPath: string;
}

export interface TlsIdentityOptions {
  readonly dataDir: string;
  readonly certPath?: string;
  readonly keyPath?: string;
}

/** The SHA-256 fingerprint of a PEM certificate, in the form of TlsIdentity.fingerprint. */
export function certificateFingerprint(certPem: string): string {
  return new X509Certificate(certPem).fingerprint256;
}

/**
 * A fingerprint as a user may type it (any case, with or without ':' between pairs, with or
 * without a "SHA256:" prefix) in the canonical form, or null when it is not 32 bytes of hex.
 */
export function normalizeFingerprint(text: string): string | null {
  const hex = text.trim().replace(/^sha-?256:/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return null;
  return hex.match(/../g)!.join(':');
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT';
}

export async function loadTlsIdentity(options: TlsIdentityOptions): Promise<TlsIdentity> {
  if ((options.certPath === undefined) !== (options.keyPath === undefined)) {
    throw new Error('--tls-cert and --tls-key go together: give both or neither');
  }
  if (options.certPath !== undefined && options.keyPath !== undefined) {
    const [cert, key] = await Promise.all([readFile(options.certPath, 'utf8'), readFile(options.keyPath, 'utf8')]);
    return { cert, key, fingerprint: certificateFingerprint(cert), source: 'given', certPath: options.certPath };
  }
  const certPath = join(options.dataDir, TLS_CERT_FILE);
  const keyPath = join(options.dataDir, TLS_KEY_FILE);
  try {
    const [cert, key] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    return { cert, key, fingerprint: certificateFingerprint(cert), source: 'data-dir', certPath };
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
  const { generate } = await import('selfsigned');
  const nowMs = Date.now();
  const made = await generate([{ name: 'commonName', value: 'p2pchat server' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(nowMs - DAY_MS),
    notAfterDate: new Date(nowMs + TLS_CERT_VALIDITY_DAYS * DAY_MS),
  });
  await mkdir(options.dataDir, { recursive: true });
  // The key first and private (0600), each written whole then renamed: a crash leaves no half file.
  await writeAtomically(keyPath, made.private, 0o600);
  await writeAtomically(certPath, made.cert, 0o644);
  return { cert: made.cert, key: made.private, fingerprint: certificateFingerprint(made.cert), source: 'generated', certPath };
}

async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text, { mode });
  await rename(temporary, path);
}
