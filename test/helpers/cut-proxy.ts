/**
 * A TCP proxy on loopback that a test can cut and mend: what a server sees when its database or
 * its bus goes away (the connection breaks, new ones are refused) and comes back, without
 * stopping the shared service other suites use.
 *
 * It runs in a child process: the PostgreSQL store blocks the server's thread while it waits for
 * a commit, and a proxy on that same thread could then never pass the commit along.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';

const PROXY_SOURCE = `
const net = require('node:net');
const target = Number(process.argv[1]);
const sockets = new Set();
const upstreams = new Set();
let cut = false;
let held = false;
const server = net.createServer((client) => {
  if (cut) return client.destroy();
  const upstream = net.connect(target, '127.0.0.1');
  upstreams.add(upstream);
  upstream.on('close', () => upstreams.delete(upstream));
  if (held) upstream.pause();
  for (const socket of [client, upstream]) {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => { sockets.delete(socket); client.destroy(); upstream.destroy(); });
  }
  client.pipe(upstream);
  upstream.pipe(client);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));
let buffered = '';
process.stdin.on('data', (chunk) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\\n'); nl >= 0; nl = buffered.indexOf('\\n')) {
    const command = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (command === 'cut') { cut = true; for (const s of sockets) s.destroy(); sockets.clear(); }
    if (command === 'mend') cut = false;
    // Mended later by the proxy itself: a test whose server blocks this process's thread meanwhile.
    if (command.startsWith('mend-after ')) setTimeout(() => { cut = false; }, Number(command.slice(11)));
    // Held: nothing from the service reaches the client (it waits, in order, in the buffers)
    // while the connection stays up and the client's own writes still go through.
    if (command === 'hold') { held = true; for (const s of upstreams) s.pause(); }
    if (command === 'release') { held = false; for (const s of upstreams) s.resume(); }
    process.stdout.write('done ' + command + '\\n');
  }
});
process.stdin.on('end', () => process.exit(0));
`;

export class CutProxy {
  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    private readonly lines: AsyncIterator<string>,
  ) {}

  /** Listens on 127.0.0.1, port 0, forwarding to targetPort on 127.0.0.1. */
  static async start(targetPort: number): Promise<CutProxy> {
    const child = spawn(process.execPath, ['-e', PROXY_SOURCE, String(targetPort)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const lines = readLines(child);
    const first = await lines.next();
    if (first.done === true) throw new Error('the cut proxy did not start');
    return new CutProxy(child, Number(first.value), lines);
  }

  /** `url` with its port replaced by the proxy's. */
  via(url: string): string {
    const parsed = new URL(url);
    parsed.port = String(this.port);
    return parsed.toString();
  }

  /** Breaks every connection through the proxy and refuses new ones until mend(). */
  cutAll(): Promise<void> {
    return this.command('cut');
  }

  mend(): Promise<void> {
    return this.command('mend');
  }

  /** Mends in `ms`, on the proxy's own clock (the test's thread may be blocked by then). */
  mendAfter(ms: number): Promise<void> {
    return this.command(`mend-after ${ms}`);
  }

  /**
   * Holds back what the service sends to the clients (a slow bus: messages arrive late, in
   * order) while the connections stay up and what the clients send still goes through.
   */
  hold(): Promise<void> {
    return this.command('hold');
  }

  /** Lets everything held back through, in order. */
  release(): Promise<void> {
    return this.command('release');
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.stdin?.end();
    await exited;
  }

  private async command(name: string): Promise<void> {
    this.child.stdin?.write(`${name}\n`);
    const line = await this.lines.next();
    if (line.value !== `done ${name}`) throw new Error(`the cut proxy answered ${String(line.value)} to ${name}`);
  }
}

async function* readLines(child: ChildProcess): AsyncGenerator<string> {
  let buffered = '';
  for await (const chunk of child.stdout ?? []) {
    buffered += String(chunk);
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      yield buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
    }
  }
}
