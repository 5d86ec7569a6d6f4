import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { LineSplitter } from '../../../cli/io/line-splitter.ts';
import { replay } from '../../helpers/fc-replay.ts';

function split(chunks: Buffer[], lineBytesMax: number): { lines: string[]; overlong: number } {
  const lines: string[] = [];
  let overlong = 0;
  const splitter = new LineSplitter(lineBytesMax, (line) => lines.push(line), () => overlong++);
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return { lines, overlong };
}

function chunked(bytes: Buffer, cuts: number[]): Buffer[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.byteLength + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.byteLength]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

/** A small bound, so that drawn lines reach it: the edge where a line stops fitting. */
const LINE_BYTES_MAX = 24;

const bytesOf = (text: string): number => Buffer.byteLength(text, 'utf8');

/** Drops whole characters from the end until the line fits LINE_BYTES_MAX. */
function fitted(line: string): string {
  const chars = [...line];
  while (bytesOf(chars.join('')) > LINE_BYTES_MAX) chars.pop();
  return chars.join('');
}

/**
 * Lines within the bound, drawn toward its edges: empty, exactly LINE_BYTES_MAX bytes ending in a
 * character of 2, 3 or 4 bytes (which a chunk cut can split), CR, NUL, tabs, replacement chars.
 */
const edgeLine = fc.oneof(
  fc.array(fc.constantFrom('a', ' ', '\t', '\r', '\u0000', 'é', '中', '😀', '\uFFFD', 'e\u0301'), { maxLength: 16 }).map((pieces) => fitted(pieces.join(''))),
  fc.constantFrom('é', '中', '😀').map((wide) => 'a'.repeat(LINE_BYTES_MAX - bytesOf(wide)) + wide),
  fc.string({ unit: 'grapheme' }).map((s) => fitted(s.replace(/\n/g, ''))),
);

describe('LineSplitter', () => {
  it('any chunking of the stream yields the same lines, multi-byte characters and lines exactly at the bound included', () => {
    fc.assert(
      fc.property(fc.array(edgeLine, { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (lines, cuts) => {
        const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
        expect(split(chunked(bytes, cuts), LINE_BYTES_MAX)).toEqual({ lines, overlong: 0 });
      }),
      replay,
    );
  });

  it('skips an overlong line up to its newline, reports it once, and goes on', () => {
    const result = split([Buffer.from('ok\n' + 'x'.repeat(50)), Buffer.from('y'.repeat(50) + '\nnext\n')], 40);
    expect(result).toEqual({ lines: ['ok', 'next'], overlong: 1 });
  });

  it('keeps a last line that has no newline', () => {
    expect(split([Buffer.from('a\nb')], 10).lines).toEqual(['a', 'b']);
  });
});
