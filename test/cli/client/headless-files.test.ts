/**
 * File transfer between two headless clients over real TCP: several files at once (one of them
 * 100 MB), hashes checked on disk, decline, cancel, a hash mismatch that leaves nothing behind,
 * the receiver's size limit, and a resume after the P2P connection is cut mid-transfer.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeadlessClient, befriend, signupAndLogin } from '../../helpers/headless-client.ts';
import { TestServer } from '../../helpers/in-process-server.ts';

const BIG_FILE_BYTES = 100 * 1024 * 1024 + 12_345;
const TRANSFER_WAIT_MS = 60_000;
/** Bound on waiting for a file to appear or go (no event says so): generous for a loaded machine. */
const FS_WAIT_MS = 20_000;
const CUT_AFTER_BYTES = 30 * 1024 * 1024;

async function writeRandomFile(path: string, bytes: number): Promise<string> {
  const hash = createHash('sha256');
  const block = randomBytes(1024 * 1024);
  const handle = await open(path, 'w');
  try {
    for (let offset = 0, n = 0; offset < bytes; offset += block.byteLength, n++) {
      block.writeUInt32BE(n, 0); // every block differs, so a misplaced chunk changes the hash
      const piece = block.subarray(0, Math.min(block.byteLength, bytes - offset));
      hash.update(piece);
      await handle.write(piece, 0, piece.byteLength, offset);
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(4 * 1024 * 1024);
    for (let position = 0; ; ) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.byteLength, position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

/**
 * Waits (bounded) until the receiver's temporary file exists: only then does "no partial file left
 * behind" prove a deletion (the file is created in the thread pool, which a busy disk can delay).
 */
async function expectTempFile(dir: string): Promise<void> {
  let seen: string[] = [];
  // Bounded by time, not by a count of short polls: a loaded machine takes seconds.
  for (const deadline = Date.now() + FS_WAIT_MS; Date.now() < deadline; ) {
    seen = await readdir(dir);
    if (seen.some((name) => name.endsWith('.part'))) return;
    await new Promise((done) => setTimeout(done, 20));
  }
  expect(seen.filter((name) => name.endsWith('.part'))).not.toEqual([]);
}

/** Waits (bounded) until a directory holds exactly the expected names. */
async function expectDirectory(dir: string, names: string[]): Promise<void> {
  let seen: string[] = [];
  for (const deadline = Date.now() + FS_WAIT_MS; Date.now() < deadline; ) {
    seen = (await readdir(dir)).sort();
    if (JSON.stringify(seen) === JSON.stringify([...names].sort())) return;
    await new Promise((done) => setTimeout(done, 50));
  }
  expect(seen).toEqual([...names].sort());
}

describe('headless client: file transfer over TCP', () => {
  let server: TestServer;
  let alice: HeadlessClient;
  let bob: HeadlessClient;
  let carol: HeadlessClient;
  let sourceDir: string;
  let bigPath: string;
  let bigSha: string;

  beforeAll(async () => {
    sourceDir = await mkdtemp(join(tmpdir(), 'p2pchat-source-'));
    bigPath = join(sourceDir, 'big.bin');
    server = await TestServer.start();
    [alice, bob, carol, bigSha] = await Promise.all([
      HeadlessClient.start('alice', { server: server.address }),
      HeadlessClient.start('bob', { server: server.address }),
      HeadlessClient.start('carol', { server: server.address, autoAccept: 'chat,file', maxFileBytes: 1_000 }),
      writeRandomFile(bigPath, BIG_FILE_BYTES),
    ]);
    await Promise.all([signupAndLogin(alice, 'alice'), signupAndLogin(bob, 'bob'), signupAndLogin(carol, 'carol')]);
    await befriend(alice, 'alice', bob, 'bob');
    await befriend(alice, 'alice', carol, 'carol');
    alice.send({ cmd: 'chat.open', username: 'bob' });
    await bob.waitFor('chat.request', { from: 'alice' });
    bob.send({ cmd: 'chat.answer', username: 'alice', accept: true });
    await Promise.all([alice.waitFor('chat.opened', { username: 'bob' }), bob.waitFor('chat.opened', { username: 'alice' })]);
  }, 60_000);

  afterAll(async () => {
    for (const client of [alice, bob, carol]) client?.kill();
    await server?.close();
    for (const dir of [sourceDir, alice?.downloadDir, bob?.downloadDir, carol?.downloadDir]) {
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
    }
  });

  it('sends three files in one offer, one of them over 100 MB, and each arrives intact', async () => {
    const small = join(sourceDir, 'notes.txt');
    const empty = join(sourceDir, 'empty.dat');
    await writeFile(small, 'hello from alice\n');
    await writeFile(empty, '');
    const expected = new Map([
      ['notes.txt', createHash('sha256').update('hello from alice\n').digest('hex')],
      ['empty.dat', createHash('sha256').digest('hex')],
      ['big.bin', bigSha],
    ]);
    alice.send({ cmd: 'file.send', username: 'bob', paths: [small, bigPath, empty] });
    const offered = await Promise.all([0, 1, 2].map(() => alice.waitFor('file.offered', { username: 'bob' })));
    expect(offered.map((e) => e.name).sort()).toEqual(['big.bin', 'empty.dat', 'notes.txt']);
    const offers = await Promise.all([0, 1, 2].map(() => bob.waitFor('file.offer', { from: 'alice' })));
    for (const offer of offers) {
      // The offer names the file and its size only: the digest comes in the final frame.
      expect((offer as Record<string, unknown>).sha256).toBeUndefined();
      bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
    }
    for (const offer of offers) {
      const received = await bob.waitFor('file.received', { transferId: offer.transferId }, TRANSFER_WAIT_MS);
      expect(received).toMatchObject({ from: 'alice', size: offer.size, sha256: expected.get(String(offer.name)) });
      expect(dirname(String(received.path))).toBe(bob.downloadDir);
      expect(await sha256Of(String(received.path))).toBe(expected.get(String(offer.name)));
      await alice.waitFor('file.sent', { transferId: offer.transferId, username: 'bob' });
    }
    await expectDirectory(bob.downloadDir, ['big.bin', 'empty.dat', 'notes.txt']);
    // Progress events stay rare: a few per second per transfer, never one per chunk.
    const bigId = offers.find((o) => o.name === 'big.bin')?.transferId;
    const progress = bob.seen('file.progress').filter((e) => e.transferId === bigId);
    expect(progress.length).toBeLessThan(BIG_FILE_BYTES / (64 * 1024) / 10);
  }, TRANSFER_WAIT_MS);

  it('never overwrites: the same name again lands as "name (1).ext"', async () => {
    const small = join(sourceDir, 'notes.txt');
    alice.send({ cmd: 'file.send', username: 'bob', paths: [small] });
    const offer = await bob.waitFor('file.offer', { from: 'alice' });
    bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
    const received = await bob.waitFor('file.received', { transferId: offer.transferId });
    expect(received.path).toBe(join(bob.downloadDir, 'notes (1).txt'));
    expect(await readFile(join(bob.downloadDir, 'notes.txt'), 'utf8')).toBe('hello from alice\n');
  });

  it('reports a declined file on both sides', async () => {
    alice.send({ cmd: 'file.send', username: 'bob', paths: [join(sourceDir, 'notes.txt')] });
    const offer = await bob.waitFor('file.offer', { from: 'alice' });
    bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: false });
    expect(await bob.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'declined' });
    expect(await alice.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'declined' });
  });

  it('cancels a transfer mid-way and leaves no partial file behind', async () => {
    const before = (await readdir(bob.downloadDir)).sort();
    alice.send({ cmd: 'file.send', username: 'bob', paths: [bigPath] });
    const offer = await bob.waitFor('file.offer', { from: 'alice' });
    bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
    await bob.waitFor('file.progress', { transferId: offer.transferId });
    await expectTempFile(bob.downloadDir);
    alice.send({ cmd: 'file.cancel', transferId: offer.transferId });
    expect(await alice.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'cancelled' });
    // 100 MB cannot cross loopback in the few milliseconds a command takes to arrive.
    expect(await bob.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'cancelled' });
    await expectDirectory(bob.downloadDir, before);
  }, TRANSFER_WAIT_MS);

  it('lets the receiver cancel too, and answers unknown transfer ids with NO_SUCH_TRANSFER', async () => {
    const before = (await readdir(bob.downloadDir)).sort();
    alice.send({ cmd: 'file.send', username: 'bob', paths: [bigPath] });
    const offer = await bob.waitFor('file.offer', { from: 'alice' });
    bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
    await bob.waitFor('file.progress', { transferId: offer.transferId });
    await expectTempFile(bob.downloadDir);
    bob.send({ cmd: 'file.cancel', transferId: offer.transferId });
    expect(await bob.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'cancelled' });
    expect(await alice.waitFor('file.failed', { transferId: offer.transferId })).toMatchObject({ reason: 'cancelled' });
    await expectDirectory(bob.downloadDir, before);
    expect((await bob.request({ cmd: 'file.cancel', transferId: offer.transferId }, 'error')).code).toBe('NO_SUCH_TRANSFER');
    expect((await bob.request({ cmd: 'file.answer', transferId: 'nope', accept: true }, 'error')).code).toBe('NO_SUCH_TRANSFER');
  }, TRANSFER_WAIT_MS);

  it('a file changed after its offer and before it was read arrives as it was read, with that digest', async () => {
    const path = join(sourceDir, 'changing.bin');
    await writeFile(path, Buffer.alloc(300_000, 1));
    alice.send({ cmd: 'file.send', username: 'bob', paths: [path] });
    const offer = await bob.waitFor('file.offer', { from: 'alice' });
    // Same size, other bytes: the offer carries no digest, the sender hashes what it reads.
    const changed = Buffer.alloc(300_000, 2);
    await writeFile(path, changed);
    bob.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
    const received = await bob.waitFor('file.received', { transferId: offer.transferId });
    expect(received.sha256).toBe(createHash('sha256').update(changed).digest('hex'));
    expect(await sha256Of(String(received.path))).toBe(received.sha256);
    await alice.waitFor('file.sent', { transferId: offer.transferId });
  });

  it('refuses an offer over the receiver size limit', async () => {
    alice.send({ cmd: 'chat.open', username: 'carol' });
    await alice.waitFor('chat.opened', { username: 'carol' });
    const path = join(sourceDir, 'two-k.bin');
    await writeFile(path, Buffer.alloc(2_000, 7));
    alice.send({ cmd: 'file.send', username: 'carol', paths: [path] });
    const offered = await alice.waitFor('file.offered', { username: 'carol' });
    expect(await alice.waitFor('file.failed', { transferId: offered.transferId })).toMatchObject({ reason: 'too-large' });
    expect(await carol.waitFor('file.failed', { transferId: offered.transferId })).toMatchObject({ reason: 'too-large' });
    expect(await readdir(carol.downloadDir)).toEqual([]);
  });

  it('resumes from the written offset after the P2P connection is cut mid-transfer', async () => {
    // Dave's client resets its first P2P stream once 30 MB arrived (a wrapping transport,
    // cli/net/cutting-transport.ts): mid-transfer on any machine. Later streams are left alone.
    const dave = await HeadlessClient.start('dave', { server: server.address, cutP2pAfterBytes: CUT_AFTER_BYTES });
    try {
      await signupAndLogin(dave, 'dave');
      await befriend(alice, 'alice', dave, 'dave');
      alice.send({ cmd: 'chat.open', username: 'dave' });
      await dave.waitFor('chat.request', { from: 'alice' });
      dave.send({ cmd: 'chat.answer', username: 'alice', accept: true });
      await Promise.all([alice.waitFor('chat.opened', { username: 'dave' }), dave.waitFor('chat.opened', { username: 'alice' })]);
      alice.send({ cmd: 'file.send', username: 'dave', paths: [bigPath] });
      const offer = await dave.waitFor('file.offer', { from: 'alice' });
      dave.send({ cmd: 'file.answer', transferId: offer.transferId, accept: true });
      await Promise.all([
        alice.waitFor('chat.closed', { username: 'dave', reason: 'error' }),
        dave.waitFor('chat.closed', { username: 'alice', reason: 'error' }),
      ]);
      expect(dave.seen('file.failed').some((e) => e.transferId === offer.transferId)).toBe(false);
      // A new session (either side may ask) picks the transfer up where the written bytes end.
      alice.send({ cmd: 'chat.open', username: 'dave' });
      await dave.waitFor('chat.request', { from: 'alice' });
      dave.send({ cmd: 'chat.answer', username: 'alice', accept: true });
      await dave.waitFor('chat.opened', { username: 'alice' });
      const received = await dave.waitFor('file.received', { transferId: offer.transferId }, TRANSFER_WAIT_MS / 2);
      expect(await sha256Of(String(received.path))).toBe(bigSha);
      await alice.waitFor('file.sent', { transferId: offer.transferId });
      const resumed = dave.seen('file.progress').find((e) => e.transferId === offer.transferId && typeof e.resumedFrom === 'number');
      expect(resumed).toBeDefined();
      expect(Number(resumed?.resumedFrom)).toBeGreaterThan(0);
      expect(Number(resumed?.resumedFrom)).toBeLessThanOrEqual(CUT_AFTER_BYTES);
      // Both sides report where it resumed from.
      const senderResumed = alice.seen('file.progress').find((e) => e.transferId === offer.transferId && typeof e.resumedFrom === 'number');
      expect(senderResumed?.resumedFrom).toBe(resumed?.resumedFrom);
    } finally {
      dave.kill();
      await rm(dave.downloadDir, { recursive: true, force: true });
    }
  }, TRANSFER_WAIT_MS);
});
