/**
 * The transfer machines' frame tables (core/peer/transfer.ts): every state of each side against
 * every frame from the peer. A frame the table takes moves the transfer; one it ignores (after the
 * end) changes nothing and says nothing; any other fails the transfer with the stable reason
 * `protocol-error` and tells the peer (file.fail).
 */
import { describe, expect, it } from 'vitest';
import {
  IncomingTransfer,
  type IncomingState,
  OutgoingTransfer,
  type OutgoingState,
  RECEIVER_FRAME_RULES,
  type ReceiverFrameType,
  SENDER_FRAME_RULES,
  type SenderFrameType,
  type TransferAction,
  type TransferTuning,
} from '../../../core/peer/transfer.ts';

const SIZE = 8;
const TUNING: TransferTuning = { chunkBytes: 4, windowBytes: 8, readsInFlightMax: 2, progressIntervalMs: 1_000_000 };
const META = { transferId: 't1', peer: 'bob', wireStream: 1, size: SIZE };
const SHA = 'a'.repeat(64);

/** The transfer is in `state`, its actions so far taken. */
function settledIn<T extends OutgoingTransfer | IncomingTransfer>(t: T, state: string): T {
  expect(t.state).toBe(state);
  t.takeActions();
  return t;
}

/**
 * A sender driven into `state` by the inputs that lead there; `ended`: at the end of the file
 * (Suspended after file.end went out), so a taken frame's own checks pass.
 */
function senderIn(state: OutgoingState, ended = false): OutgoingTransfer {
  const t = new OutgoingTransfer(META, '/src', 'f.bin', 0, TUNING);
  const sendAll = (): void => {
    t.accepted(0, SIZE, 1);
    t.chunk(1, 0, new Uint8Array(4), 2);
    t.chunk(1, 4, new Uint8Array(4), 3);
  };
  switch (state) {
    case 'AwaitingAnswer':
      break;
    case 'Sending':
      t.accepted(0, SIZE, 1);
      break;
    case 'Digesting':
      sendAll();
      break;
    case 'AwaitingOk':
      sendAll();
      t.digested(1, SHA, 4);
      break;
    case 'Suspended':
      if (ended) {
        sendAll();
        t.digested(1, SHA, 4);
      } else {
        t.accepted(0, SIZE, 1);
      }
      t.suspend();
      break;
    case 'Done':
      sendAll();
      t.digested(1, SHA, 4);
      t.ok(5);
      break;
    case 'Failed':
      t.cancel();
      break;
  }
  return settledIn(t, state);
}

/** A receiver driven into `state`; `ended`: every byte in (Receiving), so file.end's own checks pass. */
function receiverIn(state: IncomingState, ended = false): IncomingTransfer {
  const t = new IncomingTransfer(META, 'f.bin', 'f.bin', 0, TUNING);
  const receiveAll = (): void => {
    t.accept(1);
    t.data(0, new Uint8Array(SIZE), 2);
    t.written(SIZE, 3);
    t.end(SHA, 4);
  };
  switch (state) {
    case 'AwaitingAnswer':
      break;
    case 'Receiving':
      t.accept(1);
      if (ended) t.data(0, new Uint8Array(SIZE), 2);
      break;
    case 'Suspended':
      t.accept(1);
      t.data(0, new Uint8Array(4), 2);
      t.written(4, 3);
      t.suspend();
      break;
    case 'Rehashing':
      t.accept(1);
      t.data(0, new Uint8Array(4), 2);
      t.written(4, 3);
      t.suspend();
      t.reattach(4);
      break;
    case 'Verifying':
      receiveAll();
      break;
    case 'Committing':
      receiveAll();
      t.hashed(SHA);
      break;
    case 'Done':
      receiveAll();
      t.hashed(SHA);
      t.committed('/downloads/f.bin');
      break;
    case 'Failed':
      t.cancel();
      break;
  }
  return settledIn(t, state);
}

function feedSender(t: OutgoingTransfer, frame: SenderFrameType): void {
  switch (frame) {
    case 'file.accept':
      return t.accepted(0, SIZE, 10);
    case 'file.decline':
      return t.declined();
    case 'file.credit':
      return t.credit(SIZE * 2, 10);
    case 'file.resume':
      return t.resumed(0, SIZE, 10);
    case 'file.ok':
      return t.ok(10);
    case 'file.fail':
      return t.remoteFailed('cancelled');
  }
}

function feedReceiver(t: IncomingTransfer, frame: ReceiverFrameType): void {
  switch (frame) {
    case 'data':
      return t.data(t.bytesWritten, new Uint8Array(1), 10);
    case 'file.end':
      return t.end(SHA, 10);
    case 'file.fail':
      return t.remoteFailed('cancelled');
  }
}

const refused = (actions: TransferAction[]): boolean =>
  actions.some((a) => a.type === 'send' && a.frame.type === 'file.fail' && a.frame.reason === 'protocol-error');

const SENDER_STATES: OutgoingState[] = ['AwaitingAnswer', 'Sending', 'Digesting', 'AwaitingOk', 'Suspended', 'Done', 'Failed'];
const RECEIVER_STATES: IncomingState[] = ['AwaitingAnswer', 'Receiving', 'Suspended', 'Rehashing', 'Verifying', 'Committing', 'Done', 'Failed'];

type Verdict = 'takes' | 'ignores' | 'refuses';

function verdictOf<S extends string>(rule: { readonly takes: readonly S[]; readonly ignores: readonly S[] }, state: S): Verdict {
  if (rule.takes.includes(state)) return 'takes';
  return rule.ignores.includes(state) ? 'ignores' : 'refuses';
}

/** Fed `frame` in `state` (by the table: `verdict`), what the transfer did. */
function expectVerdict(t: OutgoingTransfer | IncomingTransfer, state: string, verdict: Verdict, peerAway: boolean): void {
  const actions = t.takeActions();
  if (verdict === 'ignores') {
    expect(actions).toEqual([]);
    expect(t.state).toBe(state);
    return;
  }
  if (verdict === 'takes') {
    expect(refused(actions)).toBe(false);
    return;
  }
  // With the peer away (a suspended receiver) the verdict waits for the next session (outcomeFrame).
  if (peerAway && t instanceof IncomingTransfer) expect(t.outcomeFrame).toEqual({ type: 'file.fail', transferId: 't1', reason: 'protocol-error' });
  else expect(refused(actions)).toBe(true);
  expect(t.state).toBe('Failed');
  expect(t.failure).toBe('protocol-error');
}

describe('the sender\'s frame table', () => {
  for (const frame of Object.keys(SENDER_FRAME_RULES) as SenderFrameType[]) {
    for (const state of SENDER_STATES) {
      const verdict = verdictOf(SENDER_FRAME_RULES[frame], state);
      it(`${verdict} ${frame} in ${state}`, () => {
        const t = senderIn(state, frame === 'file.ok');
        feedSender(t, frame);
        expectVerdict(t, state, verdict, false);
      });
    }
  }
});

describe('the receiver\'s frame table', () => {
  for (const frame of Object.keys(RECEIVER_FRAME_RULES) as ReceiverFrameType[]) {
    for (const state of RECEIVER_STATES) {
      const verdict = verdictOf(RECEIVER_FRAME_RULES[frame], state);
      it(`${verdict} ${frame} in ${state}`, () => {
        const t = receiverIn(state, frame === 'file.end');
        feedReceiver(t, frame);
        expectVerdict(t, state, verdict, state === 'Suspended' || state === 'Rehashing');
      });
    }
  }
});
