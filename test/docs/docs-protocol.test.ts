/**
 * The protocol document stays true to the code: every error code, frame type (client-server and
 * peer-to-peer) and limit that the code defines is listed in docs/PROTOCOL.md.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../core/errors.ts';
import { CLIENT_FRAME_TYPES, serverFrameSchema } from '../../core/frames.ts';
import * as limits from '../../core/limits.ts';
import { P2P_FRAME_TYPES } from '../../core/peer/frames.ts';

const docs = readFileSync('docs/PROTOCOL.md', 'utf8');

describe('docs/PROTOCOL.md', () => {
  it('lists every error code of core/errors.ts', () => {
    const missing = ERROR_CODES.filter((code) => !docs.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });

  it('lists every client, server and peer-to-peer frame type of core/frames.ts and core/peer/frames.ts', () => {
    const serverTypes = serverFrameSchema.options.map((option) => option.shape.type.value);
    const missing = [...CLIENT_FRAME_TYPES, ...serverTypes, ...P2P_FRAME_TYPES].filter((type) => !docs.includes(`\`${type}\``));
    expect(missing).toEqual([]);
  });

  it('lists every limit of core/limits.ts', () => {
    const names = Object.keys(limits).filter((name) => /^[A-Z0-9_]+$/.test(name) && name !== 'PROTOCOL_VERSION');
    const missing = names.filter((name) => !docs.includes(name.replace(/_(MIN|MAX|BURST|PER_SEC)$/, '')));
    expect(missing).toEqual([]);
  });
});
