/**
 * The headless client's two JSON-lines contracts (docs/CLIENT.md), read without a process: a
 * command line on stdin (parseCommandLine) and an event line on stdout (parseEventLine). A bad
 * line is an answer with a reason a script can act on, never an exception; the command's `id`
 * comes back as `ref` on every answer, errors included, once the id itself is valid.
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../../core/peer/commands.ts';
import { parseEventLine } from '../../../core/peer/events.ts';

describe('command lines (stdin)', () => {
  it('a line that is not JSON is BAD_COMMAND "line is not JSON", without a ref', () => {
    expect(parseCommandLine('{"cmd":"friends"')).toEqual({ ok: false, code: 'BAD_COMMAND', message: 'line is not JSON' });
  });

  it('JSON that is not an object (null, an array, a number, a string) is BAD_COMMAND "line is not a JSON object"', () => {
    for (const line of ['null', '[{"cmd":"friends"}]', '7', '"friends"']) {
      expect(parseCommandLine(line)).toEqual({ ok: false, code: 'BAD_COMMAND', message: 'line is not a JSON object' });
    }
  });

  it('an id that is not 1-64 characters or a non-negative integer is refused before the command is read, and no ref is given back', () => {
    for (const id of ['', 'x'.repeat(65), -1, 1.5, true, null, {}]) {
      expect(parseCommandLine(JSON.stringify({ cmd: 'friends', id }))).toEqual({
        ok: false,
        code: 'BAD_COMMAND',
        message: 'id: a string of 1 to 64 characters, or a non-negative integer',
      });
    }
  });

  it('a valid id comes back as ref on success and on every refusal after it', () => {
    expect(parseCommandLine('{"cmd":"friends","id":"a1"}')).toEqual({ ok: true, command: { cmd: 'friends' }, ref: 'a1' });
    expect(parseCommandLine('{"cmd":"friends","id":0}')).toEqual({ ok: true, command: { cmd: 'friends' }, ref: 0 });
    expect(parseCommandLine(`{"cmd":"friends","id":"${'x'.repeat(64)}"}`)).toMatchObject({ ok: true, ref: 'x'.repeat(64) });
    expect(parseCommandLine('{"id":7}')).toEqual({ ok: false, code: 'BAD_COMMAND', message: 'missing "cmd"', ref: 7 });
    expect(parseCommandLine('{"cmd":"dance","id":7}')).toMatchObject({ code: 'UNKNOWN_COMMAND', ref: 7 });
    expect(parseCommandLine('{"cmd":"login","id":7}')).toMatchObject({ code: 'BAD_COMMAND', ref: 7 });
  });

  it('a command without an id has no ref at all (not ref: undefined)', () => {
    const parsed = parseCommandLine('{"cmd":"logout"}');
    expect(parsed).toEqual({ ok: true, command: { cmd: 'logout' } });
    expect('ref' in parsed).toBe(false);
    expect('ref' in parseCommandLine('{"cmd":"dance"}')).toBe(false);
  });

  it('a cmd that is not a string is "missing \\"cmd\\""', () => {
    for (const line of ['{}', '{"cmd":7}', '{"cmd":null}']) {
      expect(parseCommandLine(line)).toEqual({ ok: false, code: 'BAD_COMMAND', message: 'missing "cmd"' });
    }
  });

  it('an unknown command is UNKNOWN_COMMAND naming it, cut to 64 characters', () => {
    expect(parseCommandLine('{"cmd":"dance"}')).toEqual({ ok: false, code: 'UNKNOWN_COMMAND', message: 'unknown command "dance"' });
    const long = 'y'.repeat(100);
    expect(parseCommandLine(JSON.stringify({ cmd: long }))).toEqual({ ok: false, code: 'UNKNOWN_COMMAND', message: `unknown command "${'y'.repeat(64)}"` });
  });

  it('a known command with a bad field is BAD_COMMAND naming the field path and what is wrong', () => {
    const missing = parseCommandLine('{"cmd":"login","username":"alice"}');
    expect(missing).toMatchObject({ ok: false, code: 'BAD_COMMAND' });
    expect(missing.ok ? '' : missing.message).toMatch(/^password: /);
    const nested = parseCommandLine('{"cmd":"file.send","username":"bob","paths":["a",""]}');
    expect(nested.ok ? '' : nested.message).toMatch(/^paths\.1: /);
  });

  it('a valid command comes back parsed, unknown extra fields stripped', () => {
    expect(parseCommandLine('{"cmd":"chat.send","username":"bob","text":"hi","extra":1}')).toEqual({ ok: true, command: { cmd: 'chat.send', username: 'bob', text: 'hi' } });
  });
});

describe('event lines (stdout)', () => {
  const at = '2026-12-06T06:00:00.000Z';

  it('a line that is not JSON says "not JSON"', () => {
    expect(parseEventLine('{"event":')).toEqual({ ok: false, reason: 'not JSON' });
  });

  it('a line without a string "event" (null, a number, no field) says "no \\"event\\" field"', () => {
    for (const line of ['null', '3', '{}', '{"event":5}']) expect(parseEventLine(line)).toEqual({ ok: false, reason: 'no "event" field' });
  });

  it('an unknown event is named, cut to 64 characters', () => {
    expect(parseEventLine('{"event":"party","at":"x"}')).toEqual({ ok: false, reason: 'unknown event "party"' });
    expect(parseEventLine(JSON.stringify({ event: 'z'.repeat(80) }))).toEqual({ ok: false, reason: `unknown event "${'z'.repeat(64)}"` });
  });

  it('a known event with a bad field names the event, the field path and the problem', () => {
    const bad = parseEventLine(JSON.stringify({ event: 'presence', at, username: 'bob', status: 'asleep' }));
    expect(bad.ok).toBe(false);
    expect(bad.ok ? '' : bad.reason).toMatch(/^bad "presence" event: status /);
    const nested = parseEventLine(JSON.stringify({ event: 'history', at, messages: [{ id: 1, from: 'bob', username: 'bob', text: 't', at, direction: 'up', status: 'read', kind: 'message' }] }));
    expect(nested.ok ? '' : nested.reason).toMatch(/^bad "history" event: messages\.0\.direction /);
    const noAt = parseEventLine(JSON.stringify({ event: 'disconnected' }));
    expect(noAt.ok ? '' : noAt.reason).toMatch(/^bad "disconnected" event: at /);
  });

  it('a valid line gives the event with its time and ref, extra fields stripped', () => {
    expect(parseEventLine(JSON.stringify({ event: 'chat.sent', at, ref: 4, username: 'bob', id: 4, extra: true }))).toEqual({
      ok: true,
      event: { event: 'chat.sent', at, ref: 4, username: 'bob', id: 4 },
    });
  });
});
