/**
 * The protocol document stays true to the code: every error code, frame type and limit that the
 * code defines is listed in docs/PROTOCOL.md (or, for the peer-to-peer part, docs/PROTOCOL-P2P.md).
 */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../core/errors.ts';
import { CLIENT_FRAME_TYPES, serverFrameSchema } from '../core/frames.ts';
import * as limits from '../core/limits.ts';

const docPaths = ['docs/PROTOCOL.md', 'docs/PROTOCOL-P2P.md'].filter((path) => existsSync(path));
const docs = docPaths.map((path) => readFileSync(path, 'utf8')).join('\n');

describe('docs/PROTOCOL.md', () => {
  it('lists every error code of core/errors.ts', () => {
    const missing = ERROR_CODES.filter((code) => !docs.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('lists every client and server frame type of core/frames.ts', () => {
    const serverTypes = serverFrameSchema.options.map((option) => option.shape.type.value);
    const missing = [...CLIENT_FRAME_TYPES, ...serverTypes].filter((type) => !docs.includes(`\`${type}\``));
    expect(missing).toEqual([]);
  });

  it('lists every limit of core/limits.ts', () => {
    const names = Object.keys(limits).filter((name) => /^[A-Z0-9_]+$/.test(name) && name !== 'PROTOCOL_VERSION');
    const missing = names.filter((name) => !docs.includes(name.replace(/_(MIN|MAX|BURST|PER_SEC)$/, '')));
    expect(missing).toEqual([]);
  });
});
