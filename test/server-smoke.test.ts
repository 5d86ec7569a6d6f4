import { describe, expect, it } from 'vitest';
import { ServerHarness } from './helpers/server-harness.ts';

describe('server machine smoke', () => {
  it('signs up, logs in, befriends and brokers a session', () => {
    const h = new ServerHarness();
    h.signup('alice');
    h.signup('bob');
    const a = h.login('alice');
    const b = h.login('bob');
    h.befriend('alice', a, 'bob', b);
    expect(h.framesOf(a, 'friend.added')[0]).toMatchObject({ username: 'bob', status: 'online' });
    h.send(a, { type: 'session.request', username: 'bob', id: 7 });
    const incoming = h.framesOf(b, 'session.incoming')[0]!;
    h.send(b, { type: 'session.answer', requestId: incoming.requestId, accept: true, host: '127.0.0.1', port: 4000 });
    const ea = h.framesOf(a, 'session.established')[0]!;
    const eb = h.framesOf(b, 'session.established')[0]!;
    expect(ea).toMatchObject({ role: 'caller', username: 'bob', host: '127.0.0.1', port: 4000 });
    expect(eb.token).toBe(ea.token);
  });
});
