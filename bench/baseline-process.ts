/**
 * A baseline in its own process (the server under test has one too, so both sides pay the same
 * process and scheduling costs). Started by baselines.ts with fork(); driven over rpc.ts.
 *
 *   node --import tsx bench/baseline-process.ts
 */
import { measureScryptRate } from './baselines/scrypt-rate.ts';
import { type PipeReceipt, type PipeTls, sendThroughPipe, startBareHttpServer, startEchoServer, startHoldServer, startPipeReceiver } from './baselines/bare-servers.ts';
import { rssKbOf } from './processes.ts';
import { serveRpc } from './rpc.ts';
import { measureSim, measureSimScale } from './sim-rate.ts';

let holdConnections: (() => number) | null = null;
let pipeReceived: Promise<PipeReceipt> | null = null;

serveRpc({
  scrypt: (args: { concurrency: number; durationMs: number }) => measureScryptRate(args.concurrency, args.durationMs),
  sim: (args: { peers: number; virtualMs: number; seed: number }) => measureSim(args.peers, args.virtualMs, args.seed),
  simScale: (args: { peers: number; seed: number }) => measureSimScale(args.peers, args.seed),
  echo: async () => ({ port: (await startEchoServer()).port }),
  http: async () => ({ port: (await startBareHttpServer()).port }),
  hold: async (args: { tls?: PipeTls } = {}) => {
    const held = await startHoldServer(args.tls);
    holdConnections = held.connections;
    return { port: held.port };
  },
  rss: async () => ({ rssKb: await rssKbOf(process.pid), connections: holdConnections?.() ?? 0 }),
  pipeReceive: async (args: { tls?: PipeTls }) => {
    const receiver = await startPipeReceiver(args.tls);
    pipeReceived = receiver.received;
    return { port: receiver.port };
  },
  pipeReceived: () => {
    if (pipeReceived === null) throw new Error('no pipe receiver');
    return pipeReceived;
  },
  pipeSend: async (args: { port: number; bytes: number; chunkBytes: number; tls?: boolean }) => {
    await sendThroughPipe(args.port, args.bytes, args.chunkBytes, args.tls === true);
    return { sent: args.bytes };
  },
});
