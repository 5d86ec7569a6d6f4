/**
 * Read pacing: one stream flooding the process hands over at most READ_BYTES_PER_TURN_MAX (and
 * what the socket had buffered when it was paused) per event-loop turn, so another stream is read
 * in between. Before, libuv read a readable socket up to 32 times 64 KiB per turn: 2 MiB of one
 * friend's messages went through before another friend's socket was looked at. Nothing is lost
 * or reordered.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Listener, Stream } from '../../../core/transport.ts';
import { READ_BYTES_PER_TURN_MAX, TcpTransport } from '../../../cli/net/tcp-transport.ts';

const FLOOD_BYTES = 8 * 1024 * 1024;
/** Past the budget, the chunk that crossed it and what node had buffered before the pause (a read's worth). */
const TURN_BYTES_BOUND = READ_BYTES_PER_TURN_MAX + 2 * 64 * 1024;

describe('TcpTransport read pacing', () => {
  const closers: Array<() => void> = [];
  afterEach(() => {
    for (const close of closers.splice(0)) close();
  });

  it(`a flooding stream hands over at most about ${READ_BYTES_PER_TURN_MAX} bytes per turn, another stream is read meanwhile, and every byte comes in order`, async () => {
    const transport = new TcpTransport();
    const accepted: Stream[] = [];
    let onTwo: () => void = () => {};
    const two = new Promise<void>((resolve) => (onTwo = resolve));
    const listener = await new Promise<Listener>((resolve, reject) =>
      transport.listen('127.0.0.1', 0, (stream) => (accepted.push(stream), accepted.length === 2 && onTwo()), (result) => (result instanceof Error ? reject(result) : resolve(result))),
    );
    const flooder = net.connect({ host: '127.0.0.1', port: listener.port });
    await new Promise((resolve) => flooder.once('connect', resolve));
    const other = net.connect({ host: '127.0.0.1', port: listener.port });
    closers.push(() => (flooder.destroy(), other.destroy(), listener.close()));
    await two;
    const [floodStream, otherStream] = accepted as [Stream, Stream];
    let turnBytes = 0;
    let maxTurnBytes = 0;
    let floodReceived = 0;
    let inOrder = true;
    let otherAtFloodBytes = -1;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => (done = resolve));
    const endTurn = (): void => {
      maxTurnBytes = Math.max(maxTurnBytes, turnBytes);
      turnBytes = 0;
      if (floodReceived < FLOOD_BYTES) setImmediate(endTurn);
    };
    setImmediate(endTurn);
    floodStream.setEvents({
      onOpen() {},
      onData(bytes) {
        for (let i = 0; i < bytes.length; i += 4093) if (bytes[i] !== (floodReceived + i) % 251) inOrder = false;
        floodReceived += bytes.length;
        turnBytes += bytes.length;
        if (floodReceived >= FLOOD_BYTES) done();
      },
      onDrain() {},
      onClose() {},
    });
    otherStream.setEvents({ onOpen() {}, onData: () => void (otherAtFloodBytes = floodReceived), onDrain() {}, onClose() {} });
    const flood = Buffer.alloc(FLOOD_BYTES, 0).map((_, i) => i % 251);
    flooder.write(flood);
    // The other stream's byte is sent once the flood is under way.
    setTimeout(() => other.write('x'), 5);
    await finished;
    expect(inOrder).toBe(true);
    expect(maxTurnBytes).toBeLessThanOrEqual(TURN_BYTES_BOUND);
    expect(otherAtFloodBytes).toBeGreaterThanOrEqual(0);
    expect(otherAtFloodBytes).toBeLessThan(FLOOD_BYTES);
  });
});
