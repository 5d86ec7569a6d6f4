/**
 * A tiny live run of each peer server, as `p2pchat bench --peers` drives it (bench/peers/):
 * started from its generated configuration on loopback, accounts and rosters made through its
 * admin interface, clients of the @xmpp/client load worker holding, seeing a flapper's presence,
 * and logging in with SCRAM-SHA-1. Needs Debian's ejabberd and prosody packages (docs/BENCHMARKS.md);
 * each is skipped, saying so, when not installed (CI runs only the quick bench and does not
 * install them).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { type PeerServer, lookUpPeer, startEjabberd, startProsody } from '../../bench/peers/peer-servers.ts';
import type { PeerName } from '../../bench/peers/peer-report.ts';
import { forkTs, stopAllChildren } from '../../bench/processes.ts';
import { RpcChild } from '../../bench/rpc.ts';

const LIVE_TIMEOUT_MS = 120_000;
const WORKER = fileURLToPath(new URL('../../bench/peers/xmpp-worker.ts', import.meta.url));
const PASSWORD = 'pw-live';

const found = { ejabberd: await lookUpPeer('ejabberd'), prosody: await lookUpPeer('prosody') };
for (const [peer, lookup] of Object.entries(found)) {
  if (!lookup.installed) console.warn(`peers live smoke of ${peer} SKIPPED: ${lookup.reason}`);
}

afterAll(async () => {
  await stopAllChildren();
});

async function smoke(peer: PeerName): Promise<void> {
  const lookup = found[peer];
  if (!lookup.installed) throw new Error('unreachable: skipped when not installed');
  const dir = await mkdtemp(join(os.tmpdir(), `p2pchat-peers-${peer}-`));
  let server: PeerServer | null = null;
  const worker = new RpcChild(forkTs(WORKER, [], { NODE_TLS_REJECT_UNAUTHORIZED: '0', NODE_NO_WARNINGS: '1' }), `${peer} smoke worker`);
  try {
    server = peer === 'ejabberd' ? await startEjabberd(lookup.command, lookup.version, dir) : await startProsody(lookup.command, lookup.version, dir);
    const observers = ['so0', 'so1', 'so2'];
    await server.registerAccounts(['sl0'], PASSWORD);
    await server.registerCheapAccounts([...observers, 'sf0'], PASSWORD);
    await server.setRosters([...observers.map((o) => [o, ['sf0']] as const), ['sf0', observers]]);
    const target = { port: server.c2sPort, localAddresses: [], password: PASSWORD, mechanism: server.cheapMechanism };

    const held = await worker.call<{ loggedIn: number; errors: Record<string, number> }>('holdLogins', { ...target, usernames: observers, concurrency: 3, countPresence: true }, 60_000);
    expect(held).toEqual({ loggedIn: 3, errors: {} });
    await worker.call('holdLogins', { ...target, usernames: ['sf0'], concurrency: 1 }, 60_000);
    expect(await server.sessions()).toBe(4);

    const flapped = await worker.call<{ changes: number; errors: Record<string, number> }>('flapLoop', { usernames: ['sf0'], durationMs: 500 }, 60_000);
    expect(flapped.errors).toEqual({});
    expect(flapped.changes).toBeGreaterThan(0);
    // Every change reaches each observer: wait for them, bounded.
    const wanted = flapped.changes * observers.length;
    const giveUpMs = Date.now() + 10_000;
    let counts = await worker.call<{ open: number; presenceReceived: number }>('counts', {}, 10_000);
    while (counts.presenceReceived < wanted && Date.now() < giveUpMs) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      counts = await worker.call<{ open: number; presenceReceived: number }>('counts', {}, 10_000);
    }
    expect(counts.open).toBe(4);
    expect(counts.presenceReceived).toBeGreaterThanOrEqual(wanted);

    const logins = await worker.call<{ logins: number; errors: Record<string, number> }>('loginLoop', { ...target, mechanism: 'SCRAM-SHA-1', usernames: ['sl0'], durationMs: 1_000 }, 60_000);
    expect(logins.errors).toEqual({});
    expect(logins.logins).toBeGreaterThan(0);

    const wrong = await worker.call<{ logins: number; errors: Record<string, number> }>('loginLoop', { ...target, password: 'not-the-password', mechanism: 'SCRAM-SHA-1', usernames: ['sl0'], durationMs: 300 }, 60_000);
    expect(wrong.logins).toBe(0);
    expect(Object.keys(wrong.errors).length).toBeGreaterThan(0);

    expect(await server.rssKb()).toBeGreaterThan(0);
    await worker.call('releaseAll', {}, 60_000);
  } finally {
    await worker.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

describe.skipIf(!found.ejabberd.installed)(`ejabberd live smoke${found.ejabberd.installed ? '' : ' (SKIPPED: not installed)'}`, () => {
  it('starts from its generated configuration, takes accounts and rosters, holds clients, fans presence out and logs in with SCRAM-SHA-1', () => smoke('ejabberd'), LIVE_TIMEOUT_MS);
});

describe.skipIf(!found.prosody.installed)(`Prosody live smoke${found.prosody.installed ? '' : ' (SKIPPED: not installed)'}`, () => {
  it('starts from its generated configuration, takes accounts and rosters, holds clients, fans presence out and logs in with SCRAM-SHA-1', () => smoke('prosody'), LIVE_TIMEOUT_MS);
});
