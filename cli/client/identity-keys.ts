/**
 * The client's long-term identity: an Ed25519 key pair (it authenticates this client on
 * peer-to-peer links) and an X25519 key pair (offline messages are sealed to it), made with
 * node:crypto the first time a data dir is used and kept in `identity.json` there, readable by
 * its owner only (0600, in a 0700 directory). The public halves travel as base64 SPKI DER
 * (core/identity.ts): registered at sign-up and at every password login (so an account made
 * before keys existed, or used from a new data dir, gets them), and handed to friends by the
 * server.
 */
import { type KeyObject, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IdentityKeys, isIdentityKeys } from '../../core/identity.ts';
import { publicKeyText } from '../crypto/key-text.ts';

export const IDENTITY_FILE = 'identity.json';
/** An identity file larger than this is refused, not read: it holds two short PEM keys. */
const IDENTITY_FILE_BYTES_MAX = 64 * 1024;
const FORMAT_VERSION = 1;

export interface ClientIdentity {
  /** What the server stores and friends are given. */
  readonly publicKeys: IdentityKeys;
  readonly signPrivateKey: KeyObject;
  readonly sealPrivateKey: KeyObject;
}

function identityOf(signPrivateKey: KeyObject, sealPrivateKey: KeyObject): ClientIdentity {
  const publicKeys = { signKey: publicKeyText(createPublicKey(signPrivateKey)), sealKey: publicKeyText(createPublicKey(sealPrivateKey)) };
  if (!isIdentityKeys(publicKeys)) throw new Error('the identity keys are not an Ed25519 and an X25519 key');
  return { publicKeys, signPrivateKey, sealPrivateKey };
}

/** A new identity, in memory only (tests, the benchmark's clients). */
export function makeIdentity(): ClientIdentity {
  return identityOf(generateKeyPairSync('ed25519').privateKey, generateKeyPairSync('x25519').privateKey);
}

/**
 * The identity kept in `dataDir`, made and saved now if there is none. Throws when the file exists
 * but cannot be read as one: a damaged identity is never silently replaced (friends would see
 * a new key and be warned for nothing).
 */
export function loadOrCreateIdentity(dataDir: string): { readonly identity: ClientIdentity; readonly created: boolean } {
  const path = join(dataDir, IDENTITY_FILE);
  let text: string | null = null;
  try {
    if (statSync(path).size > IDENTITY_FILE_BYTES_MAX) throw new Error(`${path} is larger than ${IDENTITY_FILE_BYTES_MAX} bytes`);
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text !== null) return { identity: parseIdentityFile(text, path), created: false };
  return createIdentity(dataDir, path);
}

/**
 * Makes an identity and publishes it under `path` only if no other program got there first
 * (two clients started at once on a new data dir): a hard link fails when the name exists, where
 * a rename would replace it. The program that loses takes the keys in the file, so both register
 * the same keys and the file holds the ones mail is sealed to.
 */
function createIdentity(dataDir: string, path: string): { readonly identity: ClientIdentity; readonly created: boolean } {
  const identity = makeIdentity();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const body = {
    version: FORMAT_VERSION,
    signPrivateKey: identity.signPrivateKey.export({ format: 'pem', type: 'pkcs8' }),
    sealPrivateKey: identity.sealPrivateKey.export({ format: 'pem', type: 'pkcs8' }),
    signKey: identity.publicKeys.signKey,
    sealKey: identity.publicKeys.sealKey,
  };
  // Written whole under another name, then linked into place: a crash leaves no half key.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  chmodSync(temporary, 0o600);
  try {
    linkSync(temporary, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return { identity: parseIdentityFile(readFileSync(path, 'utf8'), path), created: false };
    // A file system without hard links: a rename, as before (the race is back, the key is whole).
    renameSync(temporary, path);
    return { identity, created: true };
  } finally {
    rmSync(temporary, { force: true });
  }
  return { identity, created: true };
}

function parseIdentityFile(text: string, path: string): ClientIdentity {
  let body: { version?: unknown; signPrivateKey?: unknown; sealPrivateKey?: unknown };
  try {
    body = JSON.parse(text) as typeof body;
  } catch {
    throw new Error(`${path} is not JSON`);
  }
  if (body.version !== FORMAT_VERSION || typeof body.signPrivateKey !== 'string' || typeof body.sealPrivateKey !== 'string') {
    throw new Error(`${path} is not a p2pchat identity (version ${FORMAT_VERSION})`);
  }
  const signPrivateKey = createPrivateKey(body.signPrivateKey);
  const sealPrivateKey = createPrivateKey(body.sealPrivateKey);
  if (signPrivateKey.asymmetricKeyType !== 'ed25519' || sealPrivateKey.asymmetricKeyType !== 'x25519') {
    throw new Error(`${path} does not hold an Ed25519 and an X25519 key`);
  }
  return identityOf(signPrivateKey, sealPrivateKey);
}
