/**
 * The friends' identity keys this data dir has seen, like SSH's known_hosts for people:
 * `known-peers.json`, {"version": 1, "peers": {USERNAME: {signKey, sealKey}}}. Each friend view
 * the server hands over is compared with it: a friend seen for the first time is remembered, a
 * friend whose keys differ from the remembered ones is reported (peer.key.changed, with the old
 * and new safety numbers) and the new keys are remembered, so each change is told once.
 *
 * Several clients may run on one data dir at once: each comparison reads the file afresh and
 * writes it back at once (both synchronous), so one program never writes away what another
 * remembered meanwhile, nor tells again a change the other already told.
 */
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type IdentityKeys, identityKeysEqual, isIdentityKeys } from '../../core/identity.ts';
import { FRIENDS_PER_USER_MAX } from '../../core/limits.ts';
import { dropOldestPast } from '../../core/bounded.ts';

export const KNOWN_PEERS_FILE = 'known-peers.json';
/** A known-peers file larger than this is refused, not read (a friend's entry is under 200 bytes). */
export const KNOWN_PEERS_BYTES_MAX = 4 * 1024 * 1024;
/**
 * Users remembered at most: friends of every account used with this data dir, and some who
 * stopped being friends. Beyond it the oldest are forgotten (they are remembered again on sight).
 */
export const KNOWN_PEERS_MAX = 4 * FRIENDS_PER_USER_MAX;
const FORMAT_VERSION = 1;

export interface KeyChange {
  readonly username: string;
  readonly old: IdentityKeys;
  readonly new: IdentityKeys;
}

export class KnownPeers {
  readonly file: string;
  private peers: Map<string, IdentityKeys> | null = null;

  constructor(private readonly dataDir: string) {
    this.file = join(dataDir, KNOWN_PEERS_FILE);
  }

  get(username: string): IdentityKeys | null {
    return this.load().get(username) ?? null;
  }

  /**
   * Compares the keys the server handed for some users with the remembered ones, remembers them,
   * and answers the changes. Writes the file once, and only when something is new.
   */
  observe(seen: ReadonlyArray<{ readonly username: string; readonly identity: IdentityKeys }>): KeyChange[] {
    // Read afresh: another client on this data dir may have written since (see the header).
    this.peers = null;
    const peers = this.load();
    const changes: KeyChange[] = [];
    let dirty = false;
    for (const { username, identity } of seen) {
      const old = peers.get(username);
      if (identityKeysEqual(old, identity)) continue;
      if (old !== undefined) changes.push({ username, old, new: identity });
      peers.delete(username); // re-inserted last: the newest sighting is forgotten last
      peers.set(username, { signKey: identity.signKey, sealKey: identity.sealKey });
      dirty = true;
    }
    // Several sightings may be new at once: one at a time, the oldest first.
    while (dropOldestPast(peers, KNOWN_PEERS_MAX) !== undefined);
    if (dirty) this.save(peers);
    return changes;
  }

  private load(): Map<string, IdentityKeys> {
    if (this.peers !== null) return this.peers;
    const peers = new Map<string, IdentityKeys>();
    let text: string | null = null;
    try {
      if (statSync(this.file).size > KNOWN_PEERS_BYTES_MAX) throw new Error(`${this.file} is larger than ${KNOWN_PEERS_BYTES_MAX} bytes`);
      text = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    if (text !== null) {
      const body = JSON.parse(text) as { version?: unknown; peers?: unknown };
      if (body.version !== FORMAT_VERSION || typeof body.peers !== 'object' || body.peers === null) throw new Error(`${this.file} is not a p2pchat known-peers file`);
      for (const [username, identity] of Object.entries(body.peers)) {
        if (isIdentityKeys(identity)) peers.set(username, { signKey: identity.signKey, sealKey: identity.sealKey });
      }
    }
    this.peers = peers;
    return peers;
  }

  private save(peers: Map<string, IdentityKeys>): void {
    mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    const temporary = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ version: FORMAT_VERSION, peers: Object.fromEntries(peers) }, null, 1)}\n`, { mode: 0o600 });
    chmodSync(temporary, 0o600);
    renameSync(temporary, this.file);
  }
}
