/**
 * Every process the benchmark starts is registered here, so that all of them are stopped at the
 * end of the run, on a failure, when the global deadline passes, and on Ctrl-C (SIGINT/SIGTERM):
 * a benchmark must never leave a server or a load worker behind holding ports and 10,000 sockets.
 */
import { type ChildProcess, fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { progress } from './progress.ts';
import { EXIT_INTERRUPTED } from '../cli/exit-codes.ts';

/** How long a child gets between SIGTERM and SIGKILL. */
export const CHILD_STOP_GRACE_MS = 3_000;
/** The repository root (bench/ is one level down). */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

const children = new Set<ChildProcess>();
/** Children started as leaders of their own process group (a script that runs the real server under it): signals go to the group. */
const groupLeaders = new WeakSet<ChildProcess>();
let handlersInstalled = false;
/** Once set (signal, deadline), no new process may start: phases still running fail fast instead. */
let stopping = false;

/** Stops every child and refuses new ones from now on. */
export function beginStopping(): Promise<void> {
  stopping = true;
  return stopAllChildren();
}

function refuseWhenStopping(what: string): void {
  if (stopping) throw new Error(`not starting ${what}: the benchmark is stopping`);
}

function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  // A failed spawn or an IPC write to a dead child is reported through the caller, not thrown here.
  child.on('error', () => {});
  return child;
}

/** A TypeScript module of bench/ in its own node process, with an IPC channel. */
export function forkTs(modulePath: string, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}): ChildProcess {
  refuseWhenStopping(modulePath);
  installSignalHandlers();
  const child = fork(modulePath, [...args], {
    cwd: REPO_ROOT,
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  return track(child);
}

/** `node --import tsx cli/main.ts ARGS` (the real command) in its own process. */
export function spawnCli(args: readonly string[], env: NodeJS.ProcessEnv = {}, stdio: 'ignore' | 'pipe' = 'ignore'): ChildProcess {
  refuseWhenStopping(`cli ${args[0] ?? ''}`);
  installSignalHandlers();
  const child = spawn(process.execPath, ['--import', 'tsx', 'cli/main.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env },
    stdio: stdio === 'pipe' ? ['pipe', 'pipe', 'pipe'] : ['ignore', 'ignore', 'pipe'],
  });
  return track(child);
}

/**
 * Another program (the peers of bench/peers/: ejabberdctl, prosody) in its own process group,
 * stopped with everything else; its group gets the signals, so a wrapper script's children go too.
 */
export function spawnTracked(command: string, args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): ChildProcess {
  refuseWhenStopping(command);
  installSignalHandlers();
  const child = spawn(command, [...args], { cwd: options.cwd ?? REPO_ROOT, env: { ...process.env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  groupLeaders.add(child);
  return track(child);
}

function signal(child: ChildProcess, name: NodeJS.Signals): void {
  if (groupLeaders.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, name);
      return;
    } catch {
      // The group is gone already: signal the child itself.
    }
  }
  child.kill(name);
}

/** Stops one child: SIGTERM, then SIGKILL after the grace. Resolves once it exited. */
export function stopChild(child: ChildProcess, graceMs: number = CHILD_STOP_GRACE_MS): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => signal(child, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      // What the group leader left running (a wrapper script exits before its server does).
      if (groupLeaders.has(child)) signal(child, 'SIGKILL');
      resolve();
    });
    signal(child, 'SIGTERM');
  });
}

export async function stopAllChildren(): Promise<void> {
  await Promise.all([...children].map((child) => stopChild(child)));
}

/** Last resort, synchronous (process 'exit' handlers cannot wait). */
function killAllNow(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) signal(child, 'SIGKILL');
  }
}

function installSignalHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.once('exit', killAllNow);
  const onSignal = (signal: NodeJS.Signals): void => {
    progress(`${signal}: stopping ${children.size} child process(es)`);
    void beginStopping().finally(() => process.exit(EXIT_INTERRUPTED));
    // A second signal, or children that ignore SIGTERM and SIGKILL's grace: do not hang.
    setTimeout(() => {
      killAllNow();
      process.exit(EXIT_INTERRUPTED);
    }, CHILD_STOP_GRACE_MS + 1_000).unref();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Resident set size of a process in KB, from /proc (Linux). */
export async function rssKbOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (match === null || match[1] === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}
