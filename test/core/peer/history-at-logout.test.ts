/**
 * What our logout ends is marked in our history (core/peer/machine.ts, endSessionsWithLogin): a
 * transfer it fails is marked failed, and a message it leaves unacknowledged is marked failed,
 * as they are when a session ends any other way. Before, the link had already forgotten the
 * account when the sessions ended, so those marks went nowhere: the history kept showing the
 * transfer `offered` and the message `sending` for ever, while the user had been told they failed.
 * In the pure world (peer-world.ts): real server and peer machines, in memory.
 */
import { describe, expect, it } from 'vitest';
import { TRANSFER_RESUME_WAIT_MS } from '../../../core/limits.ts';
import { twoFriends } from './peer-world.ts';

describe('our logout in the middle of things', () => {
  it('a transfer it fails is marked failed in our history, as at the friend\'s', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.sources.set('/a.bin', new Uint8Array(10));
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/a.bin', name: 'a.bin', size: 10 }] });
    world.command('alice', { cmd: 'logout' });
    expect(world.eventsOf('alice', 'file.failed')).toMatchObject([{ reason: 'session-closed' }]);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => [m.kind, m.status])).toEqual([['file', 'failed']]);
    expect(world.histories.get('bob')!.page('bob', 'alice', 10, null).map((m) => [m.kind, m.status])).toEqual([['file', 'failed']]);
  });

  it('a message it leaves unacknowledged is reported undelivered and marked failed in our history', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'chat.send', username: 'bob', text: 'never acknowledged', id: 'm1' });
    world.command('alice', { cmd: 'logout' });
    expect(world.eventsOf('alice', 'error')).toMatchObject([{ code: 'MESSAGE_UNDELIVERED', username: 'bob', id: 'm1' }]);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => [m.text, m.status])).toEqual([['never acknowledged', 'failed']]);
  });

  it('the next login writes to its own account\'s history only', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.sources.set('/a.bin', new Uint8Array(10));
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/a.bin', name: 'a.bin', size: 10 }] });
    world.command('alice', { cmd: 'logout' });
    world.command('alice', { cmd: 'signup', username: 'alice2', password: 'alice2-password' });
    world.command('alice', { cmd: 'login', username: 'alice2', password: 'alice2-password' });
    expect(world.histories.get('alice')!.search('alice2', 'a.bin', null, 10)).toEqual([]);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => m.status)).toEqual(['failed']);
  });
});

describe('after our logout', () => {
  it('a transfer that was waiting for a resume and gives up is marked failed in the history of the account it belonged to', () => {
    const world = twoFriends();
    world.command('alice', { cmd: 'chat.open', username: 'bob' });
    world.sources.set('/a.bin', new Uint8Array(4096));
    world.pausedReaders.add('bob');
    world.command('alice', { cmd: 'file.send', username: 'bob', files: [{ path: '/a.bin', name: 'a.bin', size: 4096 }] });
    // The stream drops: the offer waits for a resume on the next session, which never comes.
    world.cutP2p('alice', 'bob');
    world.command('alice', { cmd: 'logout' });
    world.advance(TRANSFER_RESUME_WAIT_MS + 1);
    expect(world.eventsOf('alice', 'file.failed')).toMatchObject([{ reason: 'resume-timeout' }]);
    expect(world.histories.get('alice')!.page('alice', 'bob', 10, null).map((m) => [m.kind, m.status])).toEqual([['file', 'failed']]);
  });
});
