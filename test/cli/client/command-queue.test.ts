/**
 * The headless command queue on its own (cli/client/command-queue.ts): nothing runs before
 * `ready`; account commands run one at a time, each after the previous one's answer; a chat.open
 * holds back what goes to that friend only; lanes held past COMMAND_ANSWER_WAIT_MS are let go; a
 * full queue refuses with QUEUE_FULL and the line's ref.
 */
import { describe, expect, it } from 'vitest';
import type { UserCommand } from '../../../core/peer/commands.ts';
import type { ClientEvent } from '../../../core/peer/events.ts';
import { COMMANDS_QUEUED_MAX, COMMAND_ANSWER_WAIT_MS, CommandQueue } from '../../../cli/client/command-queue.ts';

function harness() {
  const ran: Array<{ command: UserCommand; tag: number }> = [];
  const refused: Array<[string, unknown]> = [];
  let coming = false;
  const hooks: { onRun: ((command: UserCommand, tag: number) => void) | null } = { onRun: null };
  const queue = new CommandQueue({
    run: (command, tag) => {
      ran.push({ command, tag });
      hooks.onRun?.(command, tag);
    },
    refuse: (code, _message, ref) => refused.push([code, ref]),
    serverLinkComing: () => coming,
    nowMs: () => 0,
  });
  const push = (command: UserCommand, ref?: string): void => queue.push({ kind: 'command', command, ref }, 0);
  const answer = (event: ClientEvent, tag?: number) => {
    const ref = queue.onEvent(event, tag);
    queue.pump(0);
    return ref;
  };
  return { queue, ran, refused, push, answer, hooks, setComing: (value: boolean) => (coming = value) };
}

const ready: ClientEvent = { event: 'ready', p2pHost: '127.0.0.1', p2pPort: 1 };

describe('command queue', () => {
  it('holds everything until ready, then runs account commands one at a time in order', () => {
    const h = harness();
    h.push({ cmd: 'signup', username: 'amy', password: 'pw-pw-pw-1' }, 's');
    h.push({ cmd: 'login', username: 'amy', password: 'pw-pw-pw-1' }, 'l');
    h.push({ cmd: 'friend.request', username: 'bo' }, 'f');
    expect(h.ran).toEqual([]);
    h.answer(ready);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['signup']);
    expect(h.answer({ event: 'signup.ok', username: 'amy' }, h.ran[0]?.tag)).toBe('s');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['signup', 'login']);
    expect(h.answer({ event: 'error', code: 'BAD_CREDENTIALS', message: 'x' }, h.ran[1]?.tag)).toBe('l');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['signup', 'login', 'friend.request']);
  });

  it('waits while a server connection is being made', () => {
    const h = harness();
    h.answer(ready);
    h.setComing(true);
    h.push({ cmd: 'friends' });
    h.push({ cmd: 'chat.send', username: 'bo', text: 'x' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual([]);
    h.setComing(false);
    h.queue.pump(0);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['friends']);
  });

  it('quit comes last: after a chat.open has its answer and the send behind it was acknowledged', () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'chat.open', username: 'bo' });
    h.push({ cmd: 'chat.send', username: 'bo', text: 'hi' });
    h.push({ cmd: 'quit' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.open']);
    h.answer({ event: 'chat.opened', username: 'bo' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.open', 'chat.send']);
    h.answer({ event: 'chat.sent', username: 'bo', id: 'p-m1' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.open', 'chat.send', 'quit']);
  });

  it('quit waits for the messages our commands sent to be acknowledged (or reported undelivered)', () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'chat.send', username: 'bo', text: 'one' });
    h.push({ cmd: 'chat.send', username: 'bo', text: 'two' });
    h.push({ cmd: 'quit' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send', 'chat.send']);
    h.answer({ event: 'chat.sent', username: 'bo', id: 'p-m1' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send', 'chat.send']);
    h.answer({ event: 'error', code: 'MESSAGE_UNDELIVERED', message: 'x', username: 'bo' } as ClientEvent);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send', 'chat.send', 'quit']);
  });

  it('a quit waiting on a peer that never acknowledges goes after COMMAND_ANSWER_WAIT_MS of silence', () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'chat.send', username: 'bo', text: 'one' });
    h.push({ cmd: 'quit' });
    expect(h.queue.nextDeadlineMs()).toBe(COMMAND_ANSWER_WAIT_MS);
    h.queue.pump(COMMAND_ANSWER_WAIT_MS - 1);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send']);
    h.queue.pump(COMMAND_ANSWER_WAIT_MS);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send', 'quit']);
  });

  it('a chat.send refused at once (no session) holds nothing back', () => {
    const h = harness();
    h.answer(ready);
    h.hooks.onRun = (command, tag) => {
      if (command.cmd === 'chat.send') h.queue.onEvent({ event: 'error', code: 'NO_SUCH_PEER', message: 'x' }, tag);
    };
    h.push({ cmd: 'chat.send', username: 'bo', text: 'one' });
    h.push({ cmd: 'quit' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.send', 'quit']);
  });

  it('quit waits for the files our commands sent to arrive (or fail)', () => {
    const h = harness();
    h.answer(ready);
    // As the runtime does: the offer is told while the command runs.
    h.hooks.onRun = (command, tag) => {
      if (command.cmd === 'file.send') h.queue.onEvent({ event: 'file.offered', username: 'bo', transferId: 't1', name: 'a', size: 1 }, tag);
    };
    h.push({ cmd: 'file.send', username: 'bo', paths: ['/a'] });
    h.push({ cmd: 'quit' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['file.send']);
    h.answer({ event: 'file.sent', transferId: 't1', username: 'bo', size: 1, sha256: 'x' });
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['file.send', 'quit']);
  });

  it('a chat.open holds back what goes to that friend until the session opens, not the rest', () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'chat.open', username: 'bo' }, 'o');
    h.push({ cmd: 'chat.send', username: 'bo', text: 'hi', id: 'm1' }, 'm1');
    h.push({ cmd: 'chat.send', username: 'cy', text: 'hey' });
    expect(h.ran.map((r) => `${r.command.cmd}:${'username' in r.command ? r.command.username : ''}`)).toEqual(['chat.open:bo', 'chat.send:cy']);
    // The server's ack (tagged, no event of its own) does not open the session.
    expect(h.answer({ event: 'chat.opened', username: 'bo' })).toBe('o');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.open', 'chat.send', 'chat.send']);
    expect(h.answer({ event: 'chat.sent', username: 'bo', id: 'm1' })).toBe('m1');
  });

  it('a friend\'s request we said yes to ending (chat.failed incoming) answers the chat.answer, not our chat.open to that friend, which still holds its lane', () => {
    // Found by the swarm through the simulator's own attribution, which had the same fault: the
    // two requests with one friend (one each way) were one entry, so the end of the friend's
    // answered our chat.open and let what waited behind it go before the session was there.
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'chat.answer', username: 'bo', accept: true }, 'a');
    h.push({ cmd: 'chat.open', username: 'bo' }, 'o');
    h.push({ cmd: 'chat.send', username: 'bo', text: 'hi', id: 'm1' }, 'm1');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.answer', 'chat.open']);
    expect(h.answer({ event: 'chat.failed', username: 'bo', reason: 'timeout', incoming: true })).toBe('a');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.answer', 'chat.open']);
    expect(h.answer({ event: 'chat.failed', username: 'bo', reason: 'offline' })).toBe('o');
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['chat.answer', 'chat.open', 'chat.send']);
  });

  it('follows a transfer by id: the offers of a file.send, then its end', async () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'file.send', username: 'bo', paths: ['/a'] }, 'f');
    const tag = h.ran[0]?.tag;
    expect(h.answer({ event: 'file.offered', username: 'bo', transferId: 't1', name: 'a', size: 1 }, tag)).toBe('f');
    expect(h.answer({ event: 'file.progress', transferId: 't1', bytes: 1, size: 1 })).toBeUndefined();
    expect(h.answer({ event: 'file.sent', transferId: 't1', username: 'bo', size: 1, sha256: 'x' })).toBe('f');
  });

  it('lets go of a lane nobody answers after COMMAND_ANSWER_WAIT_MS', () => {
    const h = harness();
    h.answer(ready);
    h.push({ cmd: 'friends' });
    h.push({ cmd: 'logout' });
    expect(h.ran).toHaveLength(1);
    expect(h.queue.nextDeadlineMs()).toBe(COMMAND_ANSWER_WAIT_MS);
    h.queue.pump(COMMAND_ANSWER_WAIT_MS);
    expect(h.ran.map((r) => r.command.cmd)).toEqual(['friends', 'logout']);
  });

  it('refuses beyond COMMANDS_QUEUED_MAX waiting lines with QUEUE_FULL and the ref', () => {
    const h = harness();
    for (let i = 0; i < COMMANDS_QUEUED_MAX; i++) h.push({ cmd: 'friends' });
    h.push({ cmd: 'friends' }, 'over');
    expect(h.refused).toEqual([['QUEUE_FULL', 'over']]);
    expect(h.queue.waitingCount).toBe(COMMANDS_QUEUED_MAX);
  });
});
