/**
 * The bench's headless-client driver (bench/headless-driver.ts): a client that exits rejects
 * every waiter with why, and a waiter nobody awaits yet never ends the bench as an unhandled
 * rejection (the run must still write its report when its deadline stops every process).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { HeadlessClient } from '../../bench/headless-driver.ts';

/** The driver around any child process: its constructor is private, for HeadlessClient.start. */
const around = HeadlessClient as unknown as new (child: ChildProcess, label: string) => HeadlessClient;

describe('HeadlessClient waiters', () => {
  it('rejects both waiters of a client that exits, the one awaited second included, without an unhandled rejection', async () => {
    const child = spawn(process.execPath, ['-e', ''], { stdio: ['pipe', 'pipe', 'pipe'] });
    const client = new around(child, 'sender');
    const first = client.waitFor(() => false, 60_000, 'file.received');
    const second = client.waitFor(() => false, 60_000, 'file.sent');
    await expect(first).rejects.toThrow('sender exited (code 0, signal null)');
    // The second was rejected while nobody awaited it: a turn of the event loop lets node see it.
    await new Promise((resolve) => setImmediate(resolve));
    await expect(second).rejects.toThrow('sender exited');
    await expect(client.waitFor(() => false, 60_000, 'ready')).rejects.toThrow('sender exited');
    if (child.exitCode === null) await once(child, 'exit');
  });
});
