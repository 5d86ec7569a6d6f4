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

describe('LineSplitter', () => {
  it('any chunking of the stream yields the same lines, multi-byte characters included', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme' }).map((s) => s.replace(/\n/g, '')), { maxLength: 20 }), fc.array(fc.nat(), { maxLength: 30 }), (lines, cuts) => {
        const bytes = Buffer.from(lines.map((line) => `${line}\n`).join(''), 'utf8');
        expect(split(chunked(bytes, cuts), 1 << 20).lines).toEqual(lines);
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
