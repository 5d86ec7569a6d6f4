/**
 * The dashboard's sentences for the client's reasons and error codes (cli/dashboard/reason-text.ts):
 * every reason and code the client can report has one, derived from the core's lists of them
 * (the types the core writes through) and, for the client's own error codes, from the UPPER_SNAKE
 * literals in its code, so a new code without a sentence fails here; and no string, known or not, makes the dashboard throw or lose the code.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../core/errors.ts';
import { sessionFailureSchema } from '../../../core/frames.ts';
import { CHAT_CLOSED_REASONS } from '../../../core/peer/chat.ts';
import { TRANSFER_FAILURES } from '../../../core/peer/frames.ts';
import { CLIENT_CHAT_FAILURES } from '../../../core/peer/events.ts';
import { KNOWN_PEERS_FAILED, NO_IDENTITY, PEER_KEY_UNKNOWN } from '../../../cli/client/friend-keys.ts';
import { KNOWN_SERVERS_FAILED, SERVER_KEY_CHANGED } from '../../../cli/client/known-servers.ts';
import {
  CLIENT_ERROR_CODES,
  chatClosedText,
  chatFailedText,
  clientStoppedText,
  errorText,
  hasChatClosedText,
  hasChatFailedText,
  hasErrorText,
  hasTransferFailedText,
  transferFailedShort,
  transferFailedText,
} from '../../../cli/dashboard/reason-text.ts';
import { replay } from '../../helpers/fc-replay.ts';

const ROOT = join(import.meta.dirname, '../../..');

function source(path: string): string {
  return readFileSync(join(ROOT, path), 'utf8');
}

function matches(text: string, pattern: RegExp): string[] {
  return [...text.matchAll(pattern)].map((match) => match[1] ?? '');
}

/** UPPER_SNAKE literals in the client's code that are not error codes: errno and signal names. */
const NOT_ERROR_CODES = new Set(['EEXIST', 'EISDIR', 'ENOENT', 'ENOTSUP', 'EPERM', 'EXDEV', 'SIGHUP', 'SIGINT', 'SIGKILL', 'SIGTERM']);

/** Every UPPER_SNAKE literal in the peer core and the client runtime: the codes they write by name. */
function codeLiteralsInClient(): string[] {
  const files = [
    ...readdirSync(join(ROOT, 'core/peer')).map((name) => `core/peer/${name}`),
    ...readdirSync(join(ROOT, 'cli/client')).map((name) => `cli/client/${name}`),
  ].filter((path) => path.endsWith('.ts'));
  const codes = new Set<string>();
  for (const path of files) for (const code of matches(source(path), /'([A-Z][A-Z0-9_]{3,})'/g)) if (!NOT_ERROR_CODES.has(code)) codes.add(code);
  return [...codes].sort();
}

describe('every reason and error code the client can report has a sentence', () => {
  it('every code of the registry (core/errors.ts) and every code the client adds', () => {
    const clientCodes = [NO_IDENTITY, PEER_KEY_UNKNOWN, KNOWN_PEERS_FAILED, KNOWN_SERVERS_FAILED, SERVER_KEY_CHANGED, ...CLIENT_ERROR_CODES];
    expect([...ERROR_CODES, ...clientCodes].filter((code) => !hasErrorText(code))).toEqual([]);
  });

  it('every code written by name in core/peer and cli/client (a new literal needs a sentence, or a place in NOT_ERROR_CODES)', () => {
    const literals = codeLiteralsInClient();
    // The scan finds what it must, so an empty result cannot pass for coverage.
    expect(literals).toEqual(expect.arrayContaining(['INSECURE_ADDRESS', 'IDENTITY_FAILED', 'SESSION_PENDING', 'SERVER_UNAVAILABLE']));
    expect(literals.filter((code) => !hasErrorText(code))).toEqual([]);
  });

  it("every chat.failed reason (ChatFailedReason: the server's SessionFailure and the client's own) and any error code a server answers a request with", () => {
    const reasons = [...sessionFailureSchema.options, ...CLIENT_CHAT_FAILURES, ...ERROR_CODES];
    expect(reasons.filter((reason) => !hasChatFailedText(reason))).toEqual([]);
  });

  it('every chat.closed reason (CHAT_CLOSED_REASONS): the bye frame\'s and the contract\'s `error`, a connection lost', () => {
    expect(CHAT_CLOSED_REASONS.filter((reason) => !hasChatClosedText(reason))).toEqual([]);
  });

  it('every file.failed reason (TRANSFER_FAILURES)', () => {
    expect(TRANSFER_FAILURES.filter((reason) => !hasTransferFailedText(reason))).toEqual([]);
  });

  it('each sentence ends with its code in parentheses, says something beside it, and names who it is about', () => {
    const transfer = { file: 'notes.md', peer: 'bob', direction: 'out' as const };
    const said: [string, string][] = [
      ...ERROR_CODES.map((code): [string, string] => [code, errorText({ code, who: 'bob' })]),
      ...CLIENT_ERROR_CODES.map((code): [string, string] => [code, errorText({ code })]),
      ...[...sessionFailureSchema.options, ...CLIENT_CHAT_FAILURES].flatMap((reason): [string, string][] => [
        [reason, chatFailedText(reason, 'bob', false)],
        [reason, chatFailedText(reason, 'bob', true)],
      ]),
      ...CHAT_CLOSED_REASONS.map((reason): [string, string] => [reason, chatClosedText(reason, 'bob')]),
      ...TRANSFER_FAILURES.map((reason): [string, string] => [reason, transferFailedText(reason, transfer)]),
    ];
    for (const [code, text] of said) {
      expect(text.endsWith(` (${code})`), text).toBe(true);
      expect(text.length, text).toBeGreaterThan(code.length + 12);
      expect(text, text).not.toMatch(/undefined|null|\[object/);
    }
    for (const reason of [...sessionFailureSchema.options, ...CLIENT_CHAT_FAILURES]) expect(chatFailedText(reason, 'bob', false)).toContain('bob');
    for (const reason of CHAT_CLOSED_REASONS) expect(chatClosedText(reason, 'bob')).toContain('bob');
    for (const reason of TRANSFER_FAILURES) expect(transferFailedText(reason, transfer)).toContain('notes.md');
  });
});

describe('what the sentences say', () => {
  it('says who could not be reached and what may be why', () => {
    expect(chatFailedText('unreachable', 'Bob (bob)', false)).toBe(
      'Bob (bob) could not be reached: their client may be behind a firewall or NAT, or just went offline (unreachable)',
    );
  });

  it("tells the friend's request to us from ours to them", () => {
    expect(chatFailedText('timeout', 'bob', false)).toMatch(/^bob did not answer your chat request in time/);
    expect(chatFailedText('timeout', 'bob', true)).toBe('The chat request from bob timed out before it was answered (timeout)');
    // A reason that never ends their request still says whose it was.
    expect(chatFailedText('unreachable', 'bob', true)).toBe('The chat request from bob ended (unreachable)');
  });

  it("the server's error code as a chat.failed reason reads as that error, about the friend", () => {
    expect(chatFailedText('SESSION_PENDING', 'bob', false)).toBe('You asked bob for a chat already: wait for their answer (SESSION_PENDING)');
    expect(chatFailedText('SERVER_DEGRADED', 'bob', true)).toBe(
      'The chat request from bob ended: the server lost its database or bus: the client tries again by itself, or use another server (SERVER_DEGRADED)',
    );
  });

  it('an error about nobody in particular starts with a capital; a username keeps its case', () => {
    expect(errorText({ code: 'PEER_OFFLINE' })).toMatch(/^That user is offline/);
    expect(errorText({ code: 'PEER_OFFLINE', who: 'bob' })).toMatch(/^bob is offline/);
  });

  it('shows the detail only where the user acts on it (which file)', () => {
    expect(errorText({ code: 'FILE_NOT_FOUND', message: 'file not found or unreadable', detail: '/tmp/x: ENOENT' })).toBe(
      'That file is not there or cannot be read: check the path (/tmp/x: ENOENT) (FILE_NOT_FOUND)',
    );
    expect(errorText({ code: 'UNEXPECTED_FRAME', message: 'm', detail: 'session.pending from the server in ExpectAnswer' })).not.toContain('ExpectAnswer');
  });

  it('a transfer says which side declined; the transfers pane gets a few words and the code', () => {
    expect(transferFailedText('declined', { file: 'a.txt', peer: 'bob', direction: 'out' })).toBe('bob declined a.txt (declined)');
    expect(transferFailedText('declined', { file: 'a.txt', peer: 'bob', direction: 'in' })).toBe('You declined a.txt (declined)');
    expect(transferFailedShort('hash-mismatch')).toBe('damaged (hash-mismatch)');
    expect(transferFailedShort('stalled')).toBe('stalled');
  });

  it('a client that stopped: why, where the log is, and what to do', () => {
    expect(clientStoppedText('the client process exited with code 1', '/tmp/p2pchat.log')).toBe(
      'The client stopped: the client process exited with code 1. The log (/tmp/p2pchat.log) may say why. Press Ctrl-C to leave, then start the dashboard again.',
    );
  });
});

describe('a code no table knows (a newer server or client)', () => {
  it('falls back to the code itself, or the event\'s message with it', () => {
    expect(errorText({ code: 'BRAND_NEW' })).toBe('BRAND_NEW');
    expect(errorText({ code: 'BRAND_NEW', message: 'a newer server says so' })).toBe('a newer server says so (BRAND_NEW)');
    expect(chatFailedText('brand-new', 'bob', false)).toBe('The chat with bob did not open (brand-new)');
    expect(chatClosedText('brand-new', 'bob')).toBe('The chat with bob ended (brand-new)');
    expect(transferFailedText('brand-new', { file: 'a.txt', peer: null, direction: null })).toBe('a.txt failed (brand-new)');
    expect(transferFailedShort('brand-new')).toBe('brand-new');
  });

  it('an object\'s own property names are codes like any other, not entries', () => {
    for (const code of ['constructor', '__proto__', 'toString', 'hasOwnProperty', '']) {
      expect(hasErrorText(code) || hasChatFailedText(code) || hasChatClosedText(code) || hasTransferFailedText(code)).toBe(false);
      expect(chatFailedText(code, 'bob', false)).toBe(`The chat with bob did not open (${code})`);
    }
  });

  it('property: any code, any who, any file: every lookup returns a string that keeps the code, and never throws', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), fc.boolean(), (code, who, file, incoming) => {
        const texts = [
          chatFailedText(code, who, incoming),
          chatClosedText(code, who),
          transferFailedText(code, { file, peer: who, direction: incoming ? 'in' : null }),
          transferFailedShort(code),
          errorText({ code, who }),
          errorText({ code, message: file, who }),
        ];
        for (const text of texts) expect(text).toContain(code);
      }),
      { numRuns: 300, ...replay },
    );
  });
});
