import net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { startBareHttpServer, startEchoServer } from '../../../bench/baselines/bare-servers.ts';
import { FrameDecoder, encodeControl } from '../../../core/codec.ts';

const closers: Array<() => void> = [];
afterAll(() => closers.forEach((close) => close()));

describe('bare baseline servers', () => {
  it('the echo server returns every frame whole, however the bytes were split', async () => {
    const { port, server } = await startEchoServer();
    closers.push(() => server.close());
    const frames = [encodeControl({ type: 'presence', username: 'f0', status: 'online' }), encodeControl({ type: 'x', pad: 'y'.repeat(300) })];
    const bytes = Buffer.concat(frames.map((f) => Buffer.from(f)));
    const socket = net.connect({ host: '127.0.0.1', port });
    const decoder = new FrameDecoder();
    const received: unknown[] = [];
    const done = new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        decoder.push(chunk);
        for (let frame = decoder.next(); frame !== null; frame = decoder.next()) if (frame.kind === 'control') received.push(frame.message);
        if (received.length === frames.length) resolve();
      });
    });
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    // Byte by byte for the first frame, then the rest at once.
    for (let i = 0; i < frames[0]!.length; i++) socket.write(bytes.subarray(i, i + 1));
    socket.write(bytes.subarray(frames[0]!.length));
    await done;
    socket.destroy();
    expect(received).toEqual([{ type: 'presence', username: 'f0', status: 'online' }, { type: 'x', pad: 'y'.repeat(300) }]);
  });

  it('the bare http server answers like /healthz', async () => {
    const { port, server } = await startBareHttpServer();
    closers.push(() => server.close());
    const response = await fetch(`http://127.0.0.1:${port}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('ok\n');
  });
});
