/**
 * Safety numbers are symmetric (both friends compute the same), depend on every key and name in
 * them, and have a fixed, readable shape; the known-peers file tells each key change once.
 */
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { makeIdentity } from '../../../cli/client/identity-keys.ts';
import { KnownPeers } from '../../../cli/client/known-peers.ts';
import { safetyNumber } from '../../../cli/client/safety-number.ts';
import { replay } from '../../helpers/fc-replay.ts';

const a = makeIdentity().publicKeys;
const b = makeIdentity().publicKeys;
const c = makeIdentity().publicKeys;

describe('safety numbers', () => {
  it('property: the same for both friends, whoever computes it, and 30 digits in groups of five', () => {
    fc.assert(
      fc.property(fc.oneof(fc.constant('a'), fc.constant('a\u0000'), fc.string({ minLength: 1, maxLength: 32 })), fc.oneof(fc.constant('a'), fc.string({ minLength: 1, maxLength: 32 })), (nameA, nameB) => {
        const ab = safetyNumber({ username: nameA, keys: a }, { username: nameB, keys: b });
        expect(ab).toBe(safetyNumber({ username: nameB, keys: b }, { username: nameA, keys: a }));
        expect(ab).toMatch(/^\d{5}( \d{5}){5}$/);
      }),
      { numRuns: 200, ...replay },
    );
  });

  it('changes with either key of either side', () => {
    const base = safetyNumber({ username: 'alice', keys: a }, { username: 'bob', keys: b });
    expect(safetyNumber({ username: 'alice', keys: a }, { username: 'bob', keys: c })).not.toBe(base);
    expect(safetyNumber({ username: 'alice', keys: c }, { username: 'bob', keys: b })).not.toBe(base);
    expect(safetyNumber({ username: 'alice', keys: a }, { username: 'bob', keys: { ...b, sealKey: c.sealKey } })).not.toBe(base);
    expect(safetyNumber({ username: 'alice', keys: a })).not.toBe(base);
  });
});

describe('known peers', () => {
  it('remembers a first sighting silently, reports a change once, and keeps its file private', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-known-peers-'));
    const peers = new KnownPeers(dir);
    expect(peers.observe([{ username: 'bob', identity: a }])).toEqual([]);
    expect(peers.observe([{ username: 'bob', identity: a }])).toEqual([]);
    expect(statSync(peers.file).mode & 0o777).toBe(0o600);
    const again = new KnownPeers(dir);
    expect(again.get('bob')).toEqual(a);
    expect(again.observe([{ username: 'bob', identity: b }])).toEqual([{ username: 'bob', old: a, new: b }]);
    expect(new KnownPeers(dir).observe([{ username: 'bob', identity: b }])).toEqual([]);
  });
});

describe('known peers shared by two clients on one data dir', () => {
  it('neither program writes away what the other remembered, and a change one of them reported is not reported again by the other', () => {
    // Before: each program read the file once and wrote its own copy whole, so the last writer
    // dropped the other's friends (a later key change of theirs went unreported), and a change
    // the other had already told came again.
    const dir = mkdtempSync(join(tmpdir(), 'p2pchat-known-peers-'));
    const first = new KnownPeers(dir);
    const second = new KnownPeers(dir);
    first.observe([{ username: 'bob', identity: a }]);
    second.observe([{ username: 'carol', identity: b }]);
    first.observe([{ username: 'dave', identity: c }]);
    const later = new KnownPeers(dir);
    expect([later.get('bob'), later.get('carol'), later.get('dave')]).toEqual([a, b, c]);
    expect(second.observe([{ username: 'bob', identity: b }])).toEqual([{ username: 'bob', old: a, new: b }]);
    expect(first.observe([{ username: 'bob', identity: b }])).toEqual([]);
    expect(first.get('bob')).toEqual(b);
  });
});
