/**
 * The shared logger redacts secrets by configuration, writes JSON lines to the destination it is
 * given, and the server's log hooks name users and codes but never passwords or tokens.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REDACTED, createLogger } from '../../cli/log.ts';
import { createLogHooks } from '../../cli/server/log-hooks.ts';

function memorySink(): { lines: () => Array<Record<string, unknown>>; write: (line: string) => void } {
  const chunks: string[] = [];
  return {
    write: (line) => {
      chunks.push(line);
    },
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

describe('createLogger', () => {
  it('redacts password, token, resumeToken and passwordHash fields, at the top and one level down', () => {
    const sink = memorySink();
    const log = createLogger({ destination: sink, level: 'info' });
    log.info({ username: 'ann', password: 'hunter22-secret', token: 'tok', resumeToken: 'rt', passwordHash: 'scrypt$x' }, 'top');
    log.info({ frame: { type: 'login', username: 'ann', password: 'hunter22-secret' }, session: { token: 'tok2' } }, 'nested');
    const [top, nested] = sink.lines();
    expect(top).toMatchObject({ username: 'ann', password: REDACTED, token: REDACTED, resumeToken: REDACTED, passwordHash: REDACTED, msg: 'top' });
    expect(nested).toMatchObject({ frame: { type: 'login', username: 'ann', password: REDACTED }, session: { token: REDACTED } });
    expect(JSON.stringify(sink.lines())).not.toContain('hunter22-secret');
    expect(REDACTED).toBe('[Redacted]');
  });

  it('honours the level and writes JSON lines to a file destination', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-log-test-'));
    try {
      const path = join(dir, 'sub', 'server.log');
      const log = createLogger({ destination: path, level: 'warn', format: 'auto' });
      log.info('dropped');
      log.warn({ event: 'kept' }, 'kept');
      log.flush();
      const lines = readFileSync(path, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ event: 'kept', level: 40 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('server log hooks', () => {
  it('log sign-ups, logins and logouts at info without passwords, hashes or tokens', () => {
    const sink = memorySink();
    const hooks = createLogHooks(createLogger({ destination: sink, level: 'debug' }));
    hooks.onConnectionOpened?.(7, '127.0.0.1');
    hooks.onEffect?.({ type: 'hash', jobId: 1, password: 'plain-secret-pw' });
    hooks.onEffect?.({ type: 'commit', jobId: 1, ops: [{ op: 'account.create', username: 'ann', nickname: 'Ann', passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==', createdAtMs: 1 }] });
    hooks.onEffect?.({ type: 'send', connId: 7, frame: { type: 'signup.ok', username: 'ann' } });
    hooks.onEffect?.({ type: 'verify', jobId: 2, password: 'plain-secret-pw', passwordHash: 'scrypt$16384$8$1$c2FsdA==$aGFzaA==' });
    hooks.onEffect?.({
      type: 'send',
      connId: 7,
      frame: { type: 'login.ok', username: 'ann', nickname: 'Ann', friends: [], incoming: [], outgoing: [], resumeToken: 'resume-secret', resumed: false },
    });
    hooks.onEffect?.({ type: 'send', connId: 7, frame: { type: 'error', code: 'NOT_FRIENDS', message: 'not friends with that user' } });
    hooks.onEffect?.({ type: 'send', connId: 7, frame: { type: 'logout.ok' } });
    hooks.onConnectionClosed?.(7);
    const lines = sink.lines();
    const events = lines.map((line) => line.event);
    expect(events).toEqual(['connection.opened', 'signup', 'login', 'error', 'logout', 'connection.closed']);
    expect(lines.find((line) => line.event === 'logout')).toMatchObject({ username: 'ann', level: 30 });
    expect(lines.find((line) => line.event === 'error')).toMatchObject({ code: 'NOT_FRIENDS', level: 20 });
    const text = JSON.stringify(lines);
    for (const secret of ['plain-secret-pw', 'scrypt$', 'resume-secret']) expect(text).not.toContain(secret);
  });

  it('log nothing per frame at info level', () => {
    const sink = memorySink();
    const hooks = createLogHooks(createLogger({ destination: sink, level: 'info' }));
    hooks.onConnectionOpened?.(1, '127.0.0.1');
    hooks.onEffect?.({ type: 'send', connId: 1, frame: { type: 'heartbeat.ack' } });
    hooks.onEffect?.({ type: 'send', connId: 1, frame: { type: 'error', code: 'BAD_FRAME', message: 'x' } });
    hooks.onConnectionClosed?.(1);
    expect(sink.lines()).toEqual([]);
  });
});
