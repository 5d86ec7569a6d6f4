/**
 * tokensEqual: the constant-time comparison of resume and session tokens. It must agree with
 * plain string equality on every input (timing is not asserted: no wall-clock tests).
 * Replay a property failure with `FC_SEED=<seed> FC_PATH=<path> npx vitest run test/core/tokens.test.ts`.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { tokensEqual } from '../../core/tokens.ts';
import { replay } from '../helpers/fc-replay.ts';

describe('tokensEqual', () => {
  it('tells equal tokens from different ones, including prefixes, NULs and empty strings', () => {
    expect(tokensEqual('abc', 'abc')).toBe(true);
    expect(tokensEqual('', '')).toBe(true);
    expect(tokensEqual('abc', 'abd')).toBe(false);
    expect(tokensEqual('abc', 'ab')).toBe(false);
    expect(tokensEqual('ab', 'abc')).toBe(false);
    expect(tokensEqual('', 'a')).toBe(false);
    expect(tokensEqual('ab', 'ab\u0000')).toBe(false);
    expect(tokensEqual('\u0000', '')).toBe(false);
    expect(tokensEqual('é', 'e')).toBe(false);
  });

  it('property: tokensEqual(a, b) is exactly a === b', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary' }), (a, b) => {
        expect(tokensEqual(a, b)).toBe(a === b);
        expect(tokensEqual(a, a)).toBe(true);
      }),
      { numRuns: 500, ...replay },
    );
  });

  it('property: a token differing from another in one code unit, anywhere, is never equal to it', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 64 }), fc.nat(), fc.integer({ min: 1, max: 0xffff }), (token, at, delta) => {
        const i = at % token.length;
        const changed = token.slice(0, i) + String.fromCharCode((token.charCodeAt(i) + delta) % 0x10000) + token.slice(i + 1);
        expect(tokensEqual(token, changed)).toBe(false);
      }),
      { numRuns: 300, ...replay },
    );
  });
});
