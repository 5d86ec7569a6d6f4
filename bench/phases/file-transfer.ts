/**
 * file_transfer_mb_s: two real headless clients (`p2pchat client --headless`, each its own
 * process) log in to a real server, open a chat session, and one sends a file of random bytes to
 * the other directly, peer to peer; the time runs from the file.send command to the receiver's
 * file.received, whose SHA-256 must match the file's (three rounds, the median counts). The
 * baseline pushes the same number of bytes, in chunks of the protocol's size, from one process to
 * another over a bare node:tls connection on loopback with the same cipher as the P2P link (TLS 1.3,
 * node's default suites: the suite negotiated is in the details), before and after the transfer.
 * A bare node:net pipe is measured once too and kept in the details: the physical limit, with no
 * encryption at all. MB is 10^6 bytes on both sides. The HTML report shows the receiver's
 * file.progress as MB/s over time.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FILE_CHUNK_BYTES } from '../../core/limits.ts';
import { startBaselineProcess } from '../baselines.ts';
import { loadTlsIdentity } from '../../cli/net/tls-identity.ts';
import type { PipeTls } from '../baselines/bare-servers.ts';
import { HeadlessClient } from '../headless-driver.ts';
import { IntervalCounter } from '../interval-counts.ts';
import { progress } from '../progress.ts';
import { BENCH_PASSWORD, seedStore } from '../seed.ts';
import { startBenchServer } from '../server-launcher.ts';
import type { PhaseContext } from './context.ts';

const CLIENT_START_TIMEOUT_MS = 60_000;
const STEP_TIMEOUT_MS = 30_000;
/** Generous: even 1 MB/s moves the full run's file in under five minutes. */
const TRANSFER_TIMEOUT_MS = 300_000;
/**
 * The bare pipe moves at least this much per measurement: at about 1 GB/s on loopback, the file's
 * own size would be over in tens of milliseconds, too short to measure on a shared machine.
 */
const PIPE_BYTES_MIN = 1024 * 1024 * 1024;
/**
 * The file goes across this many times on the same session and the median round counts: one
 * transfer is half a second, and one stall of the shared machine (another process's burst, a
 * slow fsync) can double it.
 */
const TRANSFER_ROUNDS = 3;
const SENDER = 'fsend';
const RECEIVER = 'frecv';

/** Writes `bytes` random bytes to `path` and returns their SHA-256 (hex). */
async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const out = createWriteStream(path);
  const block = 1024 * 1024;
  for (let written = 0; written < bytes; written += block) {
    const chunk = randomBytes(Math.min(block, bytes - written));
    hash.update(chunk);
    if (!out.write(chunk)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  }
  await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  return hash.digest('hex');
}

/** MB/s of a bare pipe between two processes, over node:tls when `tls` is given (and the cipher it used). */
async function measureBarePipe(bytes: number, tls?: PipeTls): Promise<{ mbPerSec: number; cipher: string }> {
  const receiver = startBaselineProcess('pipe receiver');
  const sender = startBaselineProcess('pipe sender');
  try {
    const { port } = await receiver.call<{ port: number }>('pipeReceive', tls === undefined ? {} : { tls }, STEP_TIMEOUT_MS);
    const received = receiver.call<{ bytes: number; wallMs: number; cipher: string }>('pipeReceived', {}, TRANSFER_TIMEOUT_MS);
    await sender.call('pipeSend', { port, bytes, chunkBytes: FILE_CHUNK_BYTES, tls: tls !== undefined }, TRANSFER_TIMEOUT_MS);
    const receipt = await received;
    if (receipt.bytes !== bytes) throw new Error(`bare pipe delivered ${receipt.bytes} of ${bytes} bytes`);
    return { mbPerSec: receipt.bytes / 1e6 / (receipt.wallMs / 1000), cipher: receipt.cipher };
  } finally {
    await Promise.all([receiver.stop(), sender.stop()]);
  }
}

export async function runFilePhase(ctx: PhaseContext): Promise<void> {
  const c = ctx.config;
  await ctx.phase('file transfer', ['file_transfer_mb_s'], async () => {
    const dir = join(ctx.tmpDir, 'file-transfer');
    const dataDir = join(dir, 'data');
    await mkdir(join(dir, 'downloads-send'), { recursive: true });
    await mkdir(join(dir, 'downloads-recv'), { recursive: true });
    const file = join(dir, 'payload.bin');
    progress(`file transfer: writing ${c.fileBytes / 1e6} MB of random bytes`);
    const sha256 = await writeRandomFile(file, c.fileBytes);

    const pipeBytes = Math.max(c.fileBytes, PIPE_BYTES_MIN);
    // The kind of certificate the real server makes (self-signed EC P-256), in a throwaway data dir.
    const identity = await loadTlsIdentity({ dataDir: join(dir, 'pipe-tls') });
    const pipeTls: PipeTls = { cert: identity.cert, key: identity.key };
    progress(`bare node:net pipe between two processes (the physical limit): ${pipeBytes / 1e6} MB`);
    const netPipe = await measureBarePipe(pipeBytes);
    progress(`bare node:tls pipe between two processes (before): ${pipeBytes / 1e6} MB`);
    const tlsBefore = await measureBarePipe(pipeBytes, pipeTls);

    await seedStore(dataDir, { realAccounts: [], cheapAccounts: [SENDER, RECEIVER], friendships: [[SENDER, RECEIVER]] });
    const server = await startBenchServer({ dataDir, ttlMs: 60_000, label: 'file server' });
    const clients: HeadlessClient[] = [];
    try {
      progress('file transfer: starting two headless clients');
      const sender = await HeadlessClient.start('sender', server.tcpPort, server.tlsFingerprint, join(dir, 'downloads-send'), CLIENT_START_TIMEOUT_MS);
      clients.push(sender);
      const receiver = await HeadlessClient.start('receiver', server.tcpPort, server.tlsFingerprint, join(dir, 'downloads-recv'), CLIENT_START_TIMEOUT_MS);
      clients.push(receiver);
      const senderIn = sender.waitFor((e) => e.event === 'login.ok', STEP_TIMEOUT_MS, 'login.ok');
      sender.send({ cmd: 'login', username: SENDER, password: BENCH_PASSWORD });
      await senderIn;
      // The sender asks for a chat only once it has seen the receiver come online.
      const receiverOnline = sender.waitFor((e) => e.event === 'presence' && e.username === RECEIVER && e.status === 'online', STEP_TIMEOUT_MS, 'presence online');
      const receiverIn = receiver.waitFor((e) => e.event === 'login.ok', STEP_TIMEOUT_MS, 'login.ok');
      receiver.send({ cmd: 'login', username: RECEIVER, password: BENCH_PASSWORD });
      await receiverIn;
      await receiverOnline;
      const opened = sender.waitFor((e) => (e.event === 'chat.opened' || e.event === 'chat.failed') && e.username === RECEIVER, STEP_TIMEOUT_MS, 'chat.opened');
      sender.send({ cmd: 'chat.open', username: RECEIVER });
      const chat = await opened;
      if (chat.event === 'chat.failed') throw new Error(`chat.open failed: ${chat.reason}`);

      const roundsMs: number[] = [];
      // MB received per interval, from the receiver's file.progress (at most a few per second).
      const receivedMb = new IntervalCounter(Date.now());
      let progressBytes = 0;
      const unwatch = receiver.watch((e) => {
        if (e.event !== 'file.progress') return;
        if (e.bytes > progressBytes) receivedMb.add(Date.now(), (e.bytes - progressBytes) / 1e6);
        progressBytes = e.bytes;
      });
      for (let round = 1; round <= TRANSFER_ROUNDS; round++) {
        progressBytes = 0;
        progress(`file transfer: ${c.fileBytes / 1e6} MB peer to peer, round ${round}/${TRANSFER_ROUNDS}`);
        const received = receiver.waitFor((e) => e.event === 'file.received' || e.event === 'file.failed', TRANSFER_TIMEOUT_MS, 'file.received');
        const sent = sender.waitFor((e) => e.event === 'file.sent' || e.event === 'file.failed', TRANSFER_TIMEOUT_MS, 'file.sent');
        const startedMs = performance.now();
        sender.send({ cmd: 'file.send', username: RECEIVER, paths: [file] });
        const receipt = await received;
        roundsMs.push(performance.now() - startedMs);
        const sendReceipt = await sent;
        if (receipt.event === 'file.failed') throw new Error(`the receiver reports file.failed: ${receipt.reason}`);
        if (sendReceipt.event === 'file.failed') throw new Error(`the sender reports file.failed: ${sendReceipt.reason}`);
        if (receipt.sha256 !== sha256 || receipt.size !== c.fileBytes) {
          throw new Error(`the received file does not match: sha256 ${receipt.sha256} size ${receipt.size}`);
        }
        // Each round lands under a new name (never overwritten); drop it so rounds don't fill the disk.
        await rm(receipt.path, { force: true });
      }
      unwatch();
      ctx.charts.throughputOf('file transfer', 'MB received (file.progress), per second', receivedMb.take());
      const wallMs = [...roundsMs].sort((a, b) => a - b)[Math.floor(roundsMs.length / 2)] as number;
      // The baseline again after the transfer; the mean of the two is held against it.
      progress('bare node:tls pipe between two processes (after)');
      const tlsAfter = await measureBarePipe(pipeBytes, pipeTls);
      ctx.record('file_transfer_mb_s', {
        value: c.fileBytes / 1e6 / (wallMs / 1000),
        baseline: (tlsBefore.mbPerSec + tlsAfter.mbPerSec) / 2,
        details: {
          bytes: c.fileBytes,
          wallMs: Math.round(wallMs),
          rounds: TRANSFER_ROUNDS,
          roundsWallMs: roundsMs.map((ms) => Math.round(ms)).join(' '),
          sha256Verified: 'yes',
          pipeBytes,
          baselineKind: 'bare node:tls pipe',
          tlsPipeCipher: tlsBefore.cipher,
          tlsPipeBeforeMbPerSec: Math.round(tlsBefore.mbPerSec),
          tlsPipeAfterMbPerSec: Math.round(tlsAfter.mbPerSec),
          netPipeMbPerSec: Math.round(netPipe.mbPerSec),
          ratioToNetPipe: Number((c.fileBytes / 1e6 / (wallMs / 1000) / netPipe.mbPerSec).toFixed(3)),
        },
      });
    } finally {
      await Promise.all(clients.map((client) => client.stop()));
      await server.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });
}
