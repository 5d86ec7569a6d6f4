/**
 * The peer servers of `p2pchat bench --peers`: found on the machine (never installed by the bench),
 * each started as the current user on loopback with a configuration generated into the run's
 * scratch directory (peer-config.ts), on free ports, and stopped with every other process of the
 * run (processes.ts). Accounts and rosters go in through each server's own admin interface:
 *
 *   ejabberd: the admin commands `register` and `add_rosteritem` (the same ones `ejabberdctl`
 *             runs) over mod_http_api on loopback, many in flight: one `ejabberdctl` call starts
 *             an Erlang VM, about a second each, too slow for thousands of accounts.
 *   Prosody:  its admin shell (`prosodyctl shell`, mod_admin_shell) fed on stdin: `user:create`
 *             for the accounts whose login cost is measured, and for the others Prosody's own
 *             SCRAM and storage functions with a low iteration count (as our own bench seeds
 *             those with a cheap scrypt); rosters through core.rostermanager.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { delimiter, join } from 'node:path';
import { loadTlsIdentity } from '../../cli/net/tls-identity.ts';
import { progress } from '../progress.ts';
import { rssKbOf, spawnTracked, stopChild } from '../processes.ts';
import { inPool } from '../protocol-client.ts';
import {
  PEER_XMPP_DOMAIN,
  ejabberdConfig,
  ejabberdCtlConfig,
  prosodyConfig,
  prosodyCreateUserLines,
  prosodyRosterLine,
} from './peer-config.ts';
import type { PeerName } from './peer-report.ts';

/** How long a peer may take to start (ejabberd boots an Erlang VM and mnesia). */
const PEER_START_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 200;
/** Admin HTTP requests in flight at once while making accounts and rosters (ejabberd). */
const ADMIN_REQUESTS_IN_FLIGHT = 16;
/** Accounts or rosters per admin-shell line (Prosody): lines stay a few tens of KB. */
const SHELL_BATCH = 400;
/** One admin-shell session may take this long (thousands of accounts, each hashed by the server). */
const SHELL_TIMEOUT_MS = 600_000;
/**
 * SCRAM iteration count of the Prosody accounts whose login cost is not what a figure measures
 * (held, presence): the counterpart of our bench's N=16 scrypt for the same accounts.
 */
export const PROSODY_CHEAP_ITERATIONS = 16;

/** What each peer's default password scheme is, as the report states it. */
export const PEER_PASSWORD_SCHEMES: Record<PeerName, string> = {
  ejabberd: 'SCRAM-SHA-1 over TLS; passwords stored plain (auth_password_format: plain, the default), so the server derives PBKDF2-SHA1 with 4096 iterations on each SCRAM login',
  prosody: 'SCRAM-SHA-1 over TLS; SCRAM keys stored (internal_hashed, the default), PBKDF2-SHA1 with 10000 iterations: the client derives it on each login, the server checks stored keys',
};
/** PBKDF2-SHA1 iterations of each peer's default scheme (ejabberd's SCRAM default, Prosody's default_iteration_count). */
export const PEER_SCRAM_ITERATIONS: Record<PeerName, number> = { ejabberd: 4096, prosody: 10_000 };

export type PeerLookup = { readonly installed: true; readonly command: string; readonly version: string } | { readonly installed: false; readonly reason: string };

const INSTALL_HINT: Record<PeerName, string> = {
  ejabberd: 'apt-get install ejabberd (Debian package; see docs/BENCHMARKS.md)',
  prosody: 'apt-get install prosody (Debian package; see docs/BENCHMARKS.md)',
};
const PEER_COMMAND: Record<PeerName, string> = { ejabberd: 'ejabberdctl', prosody: 'prosody' };

/** Where commands are looked for: PATH plus the sbin directories, where Debian puts ejabberdctl. */
export function defaultSearchPath(): string {
  return [process.env.PATH ?? '', '/usr/local/sbin', '/usr/sbin', '/sbin'].join(delimiter);
}

/** The first `name` in the directories of `path`, or null. */
export function findOnPath(name: string, path: string = defaultSearchPath()): string | null {
  const dirs = path.split(delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** Runs a command to its end with `input` on its stdin, bounded; its exit code and output come back whatever they are. */
export function runWithInput(command: string, args: readonly string[], input = '', timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not end within ${timeoutMs} ms`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A child that exits without reading all its input (a version query, a command that failed
    // early) closes the pipe under us: its exit code and output say what happened, so the write's
    // EPIPE is not an error of its own (unhandled, it would throw out of the process).
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/** The installed package's version (Debian), or 'unknown'. */
async function packageVersion(peer: PeerName): Promise<string> {
  const dpkg = findOnPath('dpkg-query');
  if (dpkg === null) return 'unknown';
  const { code, stdout } = await runWithInput(dpkg, ['-W', '-f=${Version}', peer]).catch(() => ({ code: 1, stdout: '' }));
  return code === 0 && stdout.trim() !== '' ? stdout.trim() : 'unknown';
}

export async function lookUpPeer(peer: PeerName, path: string = defaultSearchPath()): Promise<PeerLookup> {
  const command = findOnPath(PEER_COMMAND[peer], path);
  if (command === null) return { installed: false, reason: `${PEER_COMMAND[peer]} not found on PATH: ${peer} is not installed (${INSTALL_HINT[peer]})` };
  if (peer === 'prosody' && findOnPath('prosodyctl', path) === null) return { installed: false, reason: `prosodyctl not found on PATH (${INSTALL_HINT[peer]})` };
  return { installed: true, command, version: await packageVersion(peer) };
}

/** A port free on 127.0.0.1 right now (the peers cannot be told to take port 0 and report it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface PeerServer {
  readonly peer: PeerName;
  readonly version: string;
  readonly c2sPort: number;
  /** How it runs, for the report's details. */
  readonly settings: Record<string, number | string>;
  /** Accounts whose login cost is measured: the server's default password scheme. */
  registerAccounts(usernames: readonly string[], password: string): Promise<void>;
  /** Accounts for holding and presence: as cheap to log in to as the server allows (see each). */
  registerCheapAccounts(usernames: readonly string[], password: string): Promise<void>;
  /** Gives each user a roster of its contacts, subscription both. */
  setRosters(rosters: ReadonlyArray<readonly [string, readonly string[]]>): Promise<void>;
  /** The SASL mechanism the cheap accounts log in with. */
  readonly cheapMechanism: 'SCRAM-SHA-1' | 'PLAIN';
  /** Sessions the server itself counts, or null when it cannot say. */
  sessions(): Promise<number | null>;
  rssKb(): Promise<number>;
  stop(): Promise<void>;
}

/** Every process under `pid` (itself included), from /proc. */
async function processTree(pid: number): Promise<number[]> {
  const { readdir, readFile } = await import('node:fs/promises');
  const parents = new Map<number, number[]>();
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    // The command name is in parentheses and may hold spaces: fields resume after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const parent = Number(fields[1]);
    if (!Number.isInteger(parent)) continue;
    parents.set(parent, [...(parents.get(parent) ?? []), Number(entry)]);
  }
  const tree: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const next = queue.shift() as number;
    tree.push(next);
    queue.push(...(parents.get(next) ?? []));
  }
  return tree;
}

/** RSS of a process and everything under it (a wrapper script, the VM, its helpers). */
async function treeRssKb(pid: number): Promise<number> {
  let total = 0;
  for (const one of await processTree(pid)) total += await rssKbOf(one).catch(() => 0);
  return total;
}

async function writeCertificate(dir: string): Promise<{ certFile: string; keyFile: string; bothFile: string }> {
  // The same kind of certificate our server makes for itself (EC P-256, selfsigned): one TLS cost for every side.
  const identity = await loadTlsIdentity({ dataDir: join(dir, 'tls') });
  const certFile = join(dir, 'tls', 'tls-cert.pem');
  const keyFile = join(dir, 'tls', 'tls-key.pem');
  const bothFile = join(dir, 'tls', 'key-and-cert.pem');
  await writeFile(bothFile, `${identity.key}\n${identity.cert}`, { mode: 0o600 });
  return { certFile, keyFile, bothFile };
}

function logOutput(label: string, child: ReturnType<typeof spawnTracked>): void {
  for (const stream of [child.stdout, child.stderr]) {
    stream?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') progress(`${label}: ${line.slice(0, 300)}`);
    });
  }
}

async function waitUntil(label: string, exited: () => boolean, ready: () => Promise<boolean>): Promise<void> {
  const deadlineMs = Date.now() + PEER_START_TIMEOUT_MS;
  while (!(await ready())) {
    if (exited()) throw new Error(`${label} exited before it was ready`);
    if (Date.now() > deadlineMs) throw new Error(`${label} not ready within ${PEER_START_TIMEOUT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
}

export async function startEjabberd(command: string, version: string, scratch: string): Promise<PeerServer> {
  const dir = join(scratch, 'ejabberd');
  await mkdir(join(dir, 'logs'), { recursive: true });
  await mkdir(join(dir, 'spool'), { recursive: true });
  const { bothFile } = await writeCertificate(dir);
  const input = { dir, c2sPort: await freePort(), httpPort: await freePort(), distPort: await freePort(), nodeName: `p2pchat-bench-${process.pid}@localhost`, certFile: bothFile };
  await writeFile(join(dir, 'ejabberd.yml'), ejabberdConfig(input));
  await writeFile(join(dir, 'ejabberdctl.cfg'), ejabberdCtlConfig(input));
  const child = spawnTracked(command, ['--config-dir', dir, '--config', join(dir, 'ejabberd.yml'), '--ctl-config', join(dir, 'ejabberdctl.cfg'), '--logs', join(dir, 'logs'), '--spool', join(dir, 'spool'), 'foreground'], { cwd: dir });
  logOutput('ejabberd', child);
  let exited = false;
  child.once('exit', () => (exited = true));
  const api = async (name: string, body: Record<string, unknown>): Promise<unknown> => {
    const response = await fetch(`http://127.0.0.1:${input.httpPort}/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`ejabberd ${name}: HTTP ${response.status} ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  };
  try {
    await waitUntil('ejabberd', () => exited, () => api('status', {}).then(() => true, () => false));
    await waitUntil('ejabberd c2s', () => exited, () => canConnect(input.c2sPort));
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  progress(`ejabberd ${version}: c2s on ${input.c2sPort}, admin API on ${input.httpPort} (pid ${child.pid})`);
  const register = async (usernames: readonly string[], password: string): Promise<void> => {
    await inPool(usernames, ADMIN_REQUESTS_IN_FLIGHT, async (user) => {
      await api('register', { user, host: PEER_XMPP_DOMAIN, password });
    });
  };
  return {
    peer: 'ejabberd',
    version,
    c2sPort: input.c2sPort,
    cheapMechanism: 'PLAIN',
    settings: {
      command,
      config: 'generated ejabberd.yml: one host, c2s on 127.0.0.1 with starttls_required, mod_roster, mod_disco, mod_ping, mod_admin_extra, mod_http_api on loopback; no shaper, no max_user_sessions, no mod_offline',
      storage: 'mnesia (the default)',
      accounts: 'admin command register over mod_http_api',
      rosters: 'admin command add_rosteritem over mod_http_api, subscription both',
      passwordScheme: PEER_PASSWORD_SCHEMES.ejabberd,
      heldAndPresenceLogins: 'SASL PLAIN over TLS (passwords stored plain: a string compare, the cheapest login it has)',
    },
    registerAccounts: register,
    registerCheapAccounts: register,
    setRosters: async (rosters) => {
      const items = rosters.flatMap(([user, contacts]) => contacts.map((contact) => [user, contact] as const));
      await inPool(items, ADMIN_REQUESTS_IN_FLIGHT, async ([user, contact]) => {
        await api('add_rosteritem', { localuser: user, localhost: PEER_XMPP_DOMAIN, user: contact, host: PEER_XMPP_DOMAIN, nick: contact, group: 'bench', subs: 'both' });
      });
    },
    sessions: async () => {
      const answer = (await api('connected_users_number', {})) as { num_sessions?: number };
      return typeof answer.num_sessions === 'number' ? answer.num_sessions : null;
    },
    rssKb: () => treeRssKb(child.pid ?? 0),
    stop: async () => {
      await api('stop', {}).catch(() => null);
      await stopChild(child, 15_000);
    },
  };
}

export async function startProsody(command: string, version: string, scratch: string): Promise<PeerServer> {
  const dir = join(scratch, 'prosody');
  await mkdir(join(dir, 'data'), { recursive: true });
  await mkdir(join(dir, 'certs'), { recursive: true });
  const { certFile, keyFile } = await writeCertificate(dir);
  const input = { dir, c2sPort: await freePort(), certFile, keyFile };
  const configFile = join(dir, 'prosody.cfg.lua');
  await writeFile(configFile, prosodyConfig(input));
  const prosodyctl = findOnPath('prosodyctl') ?? 'prosodyctl';
  // -F: in the foreground, so the bench owns the process and its RSS is this pid's.
  const child = spawnTracked(command, ['--config', configFile, '-F'], { cwd: dir });
  logOutput('prosody', child);
  let exited = false;
  child.once('exit', () => (exited = true));
  try {
    await waitUntil('prosody', () => exited, () => canConnect(input.c2sPort));
  } catch (error) {
    await stopChild(child);
    throw error;
  }
  progress(`Prosody ${version}: c2s on ${input.c2sPort} (pid ${child.pid})`);
  const shell = async (lines: string, what: string): Promise<string> => {
    const { code, stdout, stderr } = await runWithInput(prosodyctl, ['--config', configFile, 'shell'], lines, SHELL_TIMEOUT_MS);
    if (code !== 0 || /\| (Error|! )/.test(stdout)) throw new Error(`prosodyctl shell (${what}) failed: ${(stderr || stdout).slice(-300)}`);
    return stdout;
  };
  const batches = <T>(items: readonly T[]): T[][] => Array.from({ length: Math.ceil(items.length / SHELL_BATCH) }, (_, i) => items.slice(i * SHELL_BATCH, (i + 1) * SHELL_BATCH));
  return {
    peer: 'prosody',
    version,
    c2sPort: input.c2sPort,
    cheapMechanism: 'SCRAM-SHA-1',
    settings: {
      command,
      config: 'generated prosody.cfg.lua: one VirtualHost, c2s on 127.0.0.1 with c2s_require_encryption, modules roster, saslauth, tls, disco, ping, admin_shell, posix; s2s, offline and c2s_limits off',
      storage: 'internal (files, the default)',
      accounts: `prosodyctl shell: user:create (default hashing) for the login figures; the others through util.sasl.scram and the accounts store with ${PROSODY_CHEAP_ITERATIONS} iterations`,
      rosters: 'prosodyctl shell: core.rostermanager, subscription both',
      passwordScheme: PEER_PASSWORD_SCHEMES.prosody,
      heldAndPresenceLogins: `SCRAM-SHA-1 with ${PROSODY_CHEAP_ITERATIONS} iterations (PLAIN would make the server derive the key)`,
    },
    registerAccounts: async (usernames, password) => {
      for (const batch of batches(usernames)) await shell(prosodyCreateUserLines(batch, password), 'user:create');
    },
    registerCheapAccounts: async (usernames, password) => {
      for (const batch of batches(usernames)) await shell(prosodyCheapAccountsLine(batch, password), 'cheap accounts');
    },
    setRosters: async (rosters) => {
      for (const batch of batches(rosters)) await shell(batch.map(([user, contacts]) => prosodyRosterLine(user, contacts)).join(''), 'rosters');
    },
    sessions: async () => {
      const out = await shell('c2s:count()\n', 'c2s:count');
      const match = /Total: (\d+)/.exec(out);
      return match?.[1] === undefined ? null : Number(match[1]);
    },
    rssKb: () => treeRssKb(child.pid ?? 0),
    stop: () => stopChild(child, 15_000),
  };
}

/**
 * Admin-shell line making accounts the way mod_auth_internal_hashed's create_user does (salt,
 * SCRAM-SHA-1 stored and server keys in hex), with PROSODY_CHEAP_ITERATIONS iterations.
 */
export function prosodyCheapAccountsLine(usernames: readonly string[], password: string): string {
  for (const name of [...usernames, password]) if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new Error(`refusing ${JSON.stringify(name)} in an admin-shell line`);
  const list = usernames.map((name) => `"${name}"`).join(',');
  return `>local h = require "util.sasl.scram".hashers["SHA-1"]; local hex = require "util.hex"; local uuid = require "util.uuid".generate; local st = require "core.storagemanager".open("${PEER_XMPP_DOMAIN}", "accounts"); for _, u in ipairs({${list}}) do local s = uuid(); local ok, sk, vk = h("${password}", s, ${PROSODY_CHEAP_ITERATIONS}); assert(ok); assert(st:set(u, { stored_key = hex.encode(sk), server_key = hex.encode(vk), salt = s, iteration_count = ${PROSODY_CHEAP_ITERATIONS} })) end; print("accounts ok")\n`;
}
