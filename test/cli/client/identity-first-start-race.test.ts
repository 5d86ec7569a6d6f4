/**
 * Two clients started at once on a new data dir both find no identity.json and both make keys.
 * Only one identity may win the file, and the program that lost must take the winner's keys: had
 * it kept its own, it would register keys no file holds, and offline messages sealed to them
 * would never open after its restart (MAIL_UNREADABLE), nor would its friends stop being warned.
 *
 * The race is made deterministic by node:fs's statSync, wrapped: the first look at identity.json
 * writes the other program's identity there (as if it won just then) and then reports the file
 * missing, as the look before the other's write did. Before the fix, the loser renamed its own
 * identity over the winner's.
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';

const race = vi.hoisted(() => ({ onFirstLook: null as null | ((path: string) => void) }));

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const statSync = ((path: string, ...rest: unknown[]) => {
    const hook = race.onFirstLook;
    if (hook !== null && String(path).endsWith('identity.json')) {
      race.onFirstLook = null;
      hook(String(path));
      throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${String(path)}'`), { code: 'ENOENT' });
    }
    return (fs.statSync as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof fs.statSync;
  return { ...fs, default: { ...fs, statSync }, statSync };
});

const { IDENTITY_FILE, loadOrCreateIdentity } = await import('../../../cli/client/identity-keys.ts');

describe('identity keys: two programs making them at once on one data dir', () => {
  it('the one whose write comes second takes the keys already in the file, and leaves the file as the first wrote it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-identity-race-'));
    const read = (): string => readFileSync(join(dir, IDENTITY_FILE), 'utf8');
    let first: ReturnType<typeof loadOrCreateIdentity> | null = null;
    let written = '';
    race.onFirstLook = () => {
      // The other program wins: its identity lands between our look and our write.
      first = loadOrCreateIdentity(dir);
      written = read();
    };
    const second = loadOrCreateIdentity(dir);
    expect(first).not.toBeNull();
    expect(read()).toBe(written);
    expect(second.created).toBe(false);
    expect(second.identity.publicKeys).toEqual(first!.identity.publicKeys);
    expect(readdirSync(dir)).toEqual([IDENTITY_FILE]);
  });
});
