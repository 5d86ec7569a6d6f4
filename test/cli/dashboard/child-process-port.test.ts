import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChildProcessClientPort, headlessClientCommand } from '../../../cli/dashboard/child-process-port.ts';
import type { ClientCommand, ClientEvent, PortClosed } from '../../../cli/dashboard/client-port.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'fake-headless.mjs');
const ports: ChildProcessClientPort[] = [];

/**
 * A client that answers quit gets this long to do it: a child on a busy machine can take far more
 * than the port's own short bound to answer, and the test is about the answer, not the bound (the
 * stubborn client's test passes its own short one).
 */
const QUIT_ANSWER_WAIT_MS = 20_000;
/** The bound the stubborn client's test runs out, short so the test is quick. */
const QUIT_IGNORED_WAIT_MS = 300;

function startFake(env: NodeJS.ProcessEnv = {}, quitTimeoutMs = QUIT_ANSWER_WAIT_MS): { port: ChildProcessClientPort; events: ClientEvent[]; warnings: string[]; closed: Promise<PortClosed> } {
  const warnings: string[] = [];
  const port = new ChildProcessClientPort({
    command: { file: process.execPath, args: [fixture] },
    env: { ...process.env, ...env },
    logger: { info: () => {}, warn: (_fields, message) => warnings.push(message) },
    quitTimeoutMs,
    terminateTimeoutMs: 300,
  });
  ports.push(port);
  const events: ClientEvent[] = [];
  port.onEvent((event) => events.push(event));
  const closed = new Promise<PortClosed>((resolve) => port.onClosed(resolve));
  return { port, events, warnings, closed };
}

async function until(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

afterEach(async () => {
  await Promise.all(ports.splice(0).map((port) => port.close()));
});

describe('ChildProcessClientPort speaks JSON lines with a child process', () => {
  it('delivers validated events, ignores lines that are not contract events, and sends commands', async () => {
    const { port, events, warnings } = startFake();
    await until(() => events.length === 1);
    expect(events[0]?.event).toBe('ready');
    port.send({ cmd: 'friends' });
    port.send({ cmd: 'noise' } as unknown as ClientCommand);
    await until(() => events.length === 3);
    expect(events.map((event) => event.event)).toEqual(['ready', 'friends', 'presence']);
    expect(warnings).toEqual(['client output line ignored', 'client output line ignored']);
  });

  it('close() sends quit, the client logs out and exits, the port reports a requested close', async () => {
    const { port, events, closed } = startFake();
    await until(() => events.length === 1);
    await port.close();
    expect(events.at(-1)?.event).toBe('logout.ok');
    expect(await closed).toMatchObject({ requested: true });
  });

  it('reports a client that dies on its own as an unrequested close', async () => {
    const { port, events, closed } = startFake();
    await until(() => events.length === 1);
    port.send({ cmd: 'crash' } as unknown as ClientCommand);
    expect(await closed).toEqual({ reason: 'the client process exited with code 3', requested: false });
    port.send({ cmd: 'friends' }); // a dead port drops commands without throwing
  });

  it('terminates a client that does not quit in time', async () => {
    const { port, events, closed, warnings } = startFake({ STUBBORN: '1' }, QUIT_IGNORED_WAIT_MS);
    await until(() => events.length === 1);
    await port.close();
    expect((await closed).reason).toBe('the client process was killed (SIGKILL)');
    expect(warnings).toContain('client did not quit in time; terminating it');
  });

  it('builds the real command line from the headless options', () => {
    const command = headlessClientCommand({ server: '10.0.0.1:4000', p2pHost: '127.0.0.1', p2pPort: 0, downloadDir: 'dl', logFile: '/tmp/x.log' });
    expect(command.file).toBe(process.execPath);
    expect(command.args[0]).toBe('--import');
    expect(command.args[1]).toMatch(/^file:.*tsx/);
    expect(command.args[2]).toMatch(/cli[/\\]main\.ts$/);
    expect(command.args.slice(3)).toEqual(['client', '--headless', '--server', '10.0.0.1:4000', '--p2p-host', '127.0.0.1', '--p2p-port', '0', '--download-dir', 'dl', '--log-file', '/tmp/x.log']);
  });
});
