import { describe, expect, it } from 'vitest';
import { dropOldestPast } from '../../core/bounded.ts';

describe('bounded collections: the oldest entry goes first', () => {
  it('a map at its bound keeps every entry; one more drops the oldest inserted, and says which', () => {
    const seen = new Map([['a', 1], ['b', 2]]);
    expect(dropOldestPast(seen, 2)).toBeUndefined();
    expect([...seen.keys()]).toEqual(['a', 'b']);
    seen.set('c', 3);
    expect(dropOldestPast(seen, 2)).toBe('a');
    expect([...seen.keys()]).toEqual(['b', 'c']);
  });

  it('a key re-inserted is the newest: the next drop takes the one after it', () => {
    const seen = new Set(['a', 'b']);
    seen.delete('a');
    seen.add('a');
    seen.add('c');
    expect(dropOldestPast(seen, 2)).toBe('b');
    expect([...seen]).toEqual(['a', 'c']);
  });

  it('a bound of zero keeps nothing', () => {
    const seen = new Set([7]);
    expect(dropOldestPast(seen, 0)).toBe(7);
    expect(seen.size).toBe(0);
    expect(dropOldestPast(seen, 0)).toBeUndefined();
  });
});
