/**
 * core/server/accounts.ts on its own: the name and password checks at their bounds, and the
 * Directory (the server's in-memory accounts, friendships, requests and blocks). In a cluster every
 * node applies the ops other nodes publish (docs/CLUSTER.md), so an op can name an account this
 * node's directory does not hold (its account.create lost on the bus, or not there yet): such an op
 * changes nothing and throws nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Directory, checkNickname, checkPassword } from '../../../core/server/accounts.ts';
import { NICKNAME_CHARS_MAX, PASSWORD_CHARS_MAX, PASSWORD_CHARS_MIN } from '../../../core/limits.ts';
import type { AccountRecord, StoreOp, StoreSnapshot } from '../../../core/store.ts';

function account(username: string): AccountRecord {
  return { username, nickname: `${username} nick`, passwordHash: `${username}-hash`, createdAtMs: 0 };
}

function directoryOf(usernames: readonly string[], rest: Partial<StoreSnapshot> = {}): Directory {
  return new Directory({ accounts: usernames.map(account), friendships: [], requests: [], ...rest });
}

/** Everything a directory says about an account, sets as sorted lists, to compare before and after. */
function viewOf(directory: Directory, username: string) {
  const a = directory.get(username);
  if (a === undefined) return undefined;
  return {
    nickname: a.nickname,
    passwordHash: a.passwordHash,
    identity: a.identity,
    friends: [...a.friends].sort(),
    incoming: [...a.incoming].sort(),
    outgoing: [...a.outgoing].sort(),
    blocked: [...a.blocked].sort(),
  };
}

describe('account checks at their bounds', () => {
  it(`a password of exactly PASSWORD_CHARS_MIN (${PASSWORD_CHARS_MIN}) characters is accepted, one fewer is not`, () => {
    expect(checkPassword('p'.repeat(PASSWORD_CHARS_MIN))).toBeNull();
    expect(checkPassword('p'.repeat(PASSWORD_CHARS_MIN - 1))).toBe('PASSWORD_INVALID');
  });

  it(`a password of exactly PASSWORD_CHARS_MAX (${PASSWORD_CHARS_MAX}) characters is accepted, one more is not`, () => {
    expect(checkPassword('p'.repeat(PASSWORD_CHARS_MAX))).toBeNull();
    expect(checkPassword('p'.repeat(PASSWORD_CHARS_MAX + 1))).toBe('PASSWORD_INVALID');
  });

  it(`a nickname of exactly NICKNAME_CHARS_MAX (${NICKNAME_CHARS_MAX}) characters is accepted, one more is not`, () => {
    expect(checkNickname('n'.repeat(NICKNAME_CHARS_MAX))).toBeNull();
    expect(checkNickname('n'.repeat(NICKNAME_CHARS_MAX + 1))).toBe('NICKNAME_INVALID');
  });
});

// A nickname is shown to friends in every client: it must show something, read the way it was
// typed, and stay on one line. Each row is one edge of that rule.
describe('nickname rule', () => {
  it.each([
    ['a plain name', 'Alice'],
    ['one character', 'a'],
    ['spaces inside', 'Alice A.'],
    ['right-to-left letters', '\u05e9\u05dc\u05d5\u05dd'],
    ['an emoji joined by zero-width joiners', '\u{1f469}\u200d\u{1f469}\u200d\u{1f467}'],
    ['an emoji with its presentation selector', '\u2764\ufe0f'],
    ['a combining accent', 'Rene\u0301'],
    ['a no-break space inside', 'Alice\u00a0A.'],
    [`${NICKNAME_CHARS_MAX} units with the last one visible`, `${'\u200b'.repeat(NICKNAME_CHARS_MAX - 1)}x`],
  ])('accepts %s', (_why, nickname) => {
    expect(checkNickname(nickname)).toBeNull();
  });

  it.each([
    ['empty', ''],
    ['a space', ' '],
    ['spaces and a no-break space', '  \u00a0 '],
    ['an ideographic space', '\u3000'],
    ['zero-width spaces only', '\u200b\u200b'],
    ['a byte order mark only', '\ufeff'],
    ['a Hangul filler only', '\u3164'],
    ['a soft hyphen and a word joiner only', '\u00ad\u2060'],
    ['a braille pattern blank only (drawn as nothing)', '\u2800'],
    ['braille pattern blanks and spaces', '\u2800 \u2800'],
    ['a musical null notehead only (drawn as nothing)', '\u{1d159}'],
    ['a combining mark with nothing to sit on', '\u0301\u0301'],
    ['an unassigned code point only', '\u0378'],
    ['a format character only (Egyptian hieroglyph joiner)', '\u{13430}'],
    ['a space in front', ' Alice'],
    ['a space behind', 'Alice '],
    ['a no-break space behind', 'Alice\u00a0'],
    ['a right-to-left override', 'Alice\u202egnp.exe'],
    ['a left-to-right embedding', '\u202aAlice'],
    ['a right-to-left embedding', '\u202bAlice'],
    ['a pop directional formatting', 'Alice\u202c'],
    ['a left-to-right override', 'Al\u202dice'],
    ['a left-to-right isolate', 'Al\u2066ice'],
    ['a right-to-left isolate', 'Al\u2067ice'],
    ['a first-strong isolate', 'Al\u2068ice'],
    ['a pop directional isolate', 'Al\u2069ice'],
    ['a right-to-left mark', 'Alice\u200f'],
    ['a left-to-right mark', '\u200eAlice'],
    ['an Arabic letter mark', 'Al\u061cice'],
    ['a line separator inside', 'Alice\u2028Bob'],
    ['a paragraph separator inside', 'Alice\u2029Bob'],
    ['a NUL', 'Al\u0000ice'],
    ['an escape (C0)', '\u001b[2JAlice'],
    ['a DEL', 'Alice\u007f'],
    ['a C1 control', 'Al\u0085ice'],
    ['the last C1 control', 'Al\u009fice'],
    ['a lone surrogate', 'Al\ud800ice'],
    [`${NICKNAME_CHARS_MAX + 1} units`, 'n'.repeat(NICKNAME_CHARS_MAX + 1)],
  ])('refuses %s', (_why, nickname) => {
    expect(checkNickname(nickname)).toBe('NICKNAME_INVALID');
  });

  it('any name is accepted exactly when it has a visible character, no space at either end, no control, direction or line-break character, and fits', () => {
    const piece = fc.constantFrom('a', 'Z', '\u00e9', '\u4e2d', '\u{1f600}', ' ', '\u00a0', '\u3000', '\u200b', '\u200d', '\ufeff', '\u3164', '\u202e', '\u2066', '\u200f', '\u2028', '\u0000', '\u0085', '\ud800', '\n', '.');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }).map((p) => p.join('')), (nickname) => {
        const fits = nickname.length <= NICKNAME_CHARS_MAX;
        const trimmed = nickname.trim() === nickname;
        const banned = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c\u2028\u2029\ud800-\udfff]/.test(nickname.replace(/\u{1f600}/gu, ''));
        const visible = /[^\s\u200b\u200d\u3164\u202e\u2066\u200f]/u.test(nickname);
        expect(checkNickname(nickname) === null).toBe(fits && trimmed && !banned && visible);
      }),
    );
  });
});

describe('Directory', () => {
  it('a stored nickname that breaks the rule (stored before it) is shown as the username; one that keeps it, as it is', () => {
    const stored = (username: string, nickname: string): AccountRecord => ({ ...account(username), nickname });
    const directory = new Directory({
      accounts: [stored('alice', ''), stored('bob', '\u202eecila'), stored('carol', '\u2800'), stored('dave', 'Dave')],
      friendships: [],
      requests: [],
    });
    expect(['alice', 'bob', 'carol', 'dave'].map((name) => directory.get(name)?.nickname)).toEqual(['alice', 'bob', 'carol', 'Dave']);
    // The same for what another node (a cluster) or an old op applies.
    directory.apply({ op: 'account.nickname', username: 'dave', nickname: 'Dave\u2028' });
    directory.apply({ op: 'account.create', ...stored('erin', ' ') });
    expect([directory.get('dave')?.nickname, directory.get('erin')?.nickname]).toEqual(['dave', 'erin']);
  });

  it('size is the number of accounts: those of the snapshot plus those created since', () => {
    const directory = directoryOf(['alice', 'bob']);
    expect(directory.size).toBe(2);
    directory.apply({ op: 'account.create', ...account('carol') });
    expect(directory.size).toBe(3);
  });

  it('an account that blocked someone still sees the requests of everyone else, and not those of the one it blocked', () => {
    const directory = directoryOf(['alice', 'bob', 'carol', 'dave'], {
      blocks: [['alice', 'carol']],
      requests: [
        ['bob', 'alice'],
        ['carol', 'alice'],
        ['dave', 'alice'],
      ],
    });
    const alice = directory.get('alice')!;
    expect(directory.visibleIncoming(alice).sort()).toEqual(['bob', 'dave']);
    // The blocked request is kept: carol's own list shows it pending.
    expect([...directory.get('carol')!.outgoing]).toEqual(['alice']);
  });

  it('areFriends is false, not an error, when the first name is no account here', () => {
    const directory = directoryOf(['bob']);
    expect(directory.areFriends('ghost', 'bob')).toBe(false);
  });

  it('an account created and friended from ops reads as friends both ways', () => {
    const directory = directoryOf(['alice']);
    directory.apply({ op: 'account.create', ...account('bob') });
    directory.apply({ op: 'friendship.add', a: 'alice', b: 'bob' });
    expect(directory.areFriends('alice', 'bob')).toBe(true);
    expect(directory.areFriends('bob', 'alice')).toBe(true);
  });

  describe('an op naming an account this node does not hold changes nothing and throws nothing', () => {
    // Each op names 'ghost' (no account here) in one place and real accounts elsewhere.
    const ops: ReadonlyArray<[string, StoreOp]> = [
      ['account.identity', { op: 'account.identity', username: 'ghost', identity: { signKey: 's', sealKey: 'k' } }],
      ['friendship.add, first name unknown', { op: 'friendship.add', a: 'ghost', b: 'alice' }],
      ['friendship.add, second name unknown', { op: 'friendship.add', a: 'alice', b: 'ghost' }],
      ['friendship.add, both unknown', { op: 'friendship.add', a: 'ghost', b: 'ghost2' }],
      ['friendship.remove, first name unknown', { op: 'friendship.remove', a: 'ghost', b: 'alice' }],
      ['friendship.remove, second name unknown', { op: 'friendship.remove', a: 'alice', b: 'ghost' }],
      ['request.add, sender unknown', { op: 'request.add', from: 'ghost', to: 'alice' }],
      ['request.add, recipient unknown', { op: 'request.add', from: 'alice', to: 'ghost' }],
      ['request.add, both unknown', { op: 'request.add', from: 'ghost', to: 'ghost2' }],
      ['request.remove, sender unknown', { op: 'request.remove', from: 'ghost', to: 'alice' }],
      ['request.remove, recipient unknown', { op: 'request.remove', from: 'alice', to: 'ghost' }],
      ['block.add, blocker unknown', { op: 'block.add', blocker: 'ghost', blocked: 'alice' }],
      ['block.remove, blocker unknown', { op: 'block.remove', blocker: 'ghost', blocked: 'alice' }],
      ['account.password', { op: 'account.password', username: 'ghost', passwordHash: 'new-hash' }],
      ['account.nickname', { op: 'account.nickname', username: 'ghost', nickname: 'Ghost' }],
    ];
    for (const [name, op] of ops) {
      it(name, () => {
        // alice has one of everything, so a stray change to any of her sets shows.
        const directory = directoryOf(['alice', 'bob', 'carol', 'dave'], {
          friendships: [['alice', 'bob']],
          requests: [
            ['alice', 'carol'],
            ['dave', 'alice'],
          ],
          blocks: [['alice', 'dave']],
        });
        const before = viewOf(directory, 'alice');
        expect(() => directory.apply(op)).not.toThrow();
        expect(viewOf(directory, 'alice')).toEqual(before);
        expect(directory.has('ghost')).toBe(false);
        expect(directory.has('ghost2')).toBe(false);
        expect(directory.size).toBe(4);
      });
    }
  });
});
