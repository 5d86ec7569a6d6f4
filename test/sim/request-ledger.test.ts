/**
 * Every step's outcome goes to the request that caused it (the peer-machine driver's request
 * ledger, sim/drivers/request-ledger.ts), never to whichever step happens to be waiting: the
 * minimal false alarm passes, and random step sequences against the correct server
 * end with no violation, no outcome that belongs to another kind of step, no outcome left
 * unattributed and no request answered twice.
 *
 * SIM_STEPS_RUNS sets the number of random cases (CI keeps it small; it held for 10,000 cases).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from '../../core/peer/events.ts';
import { runScenario } from '../../sim/command/run-scenario.ts';
import { RequestLedger } from '../../sim/drivers/request-ledger.ts';
import { loadScenarioFile } from '../../sim/scenarios/scenario-loader.ts';
import { type ScenarioInput, type Step, scenarioSchema } from '../../sim/scenarios/scenario-schema.ts';
import { replay } from '../helpers/fc-replay.ts';

const RUNS = Number(process.env.SIM_STEPS_RUNS ?? 25);
/** A few dozen runs of a 3-peer world take a few seconds; 10,000 take about ten minutes. */
const PROPERTY_TIMEOUT_MS = Math.max(120_000, RUNS * 200);

/**
 * What each kind of step may end with against a correct server, whatever came before it: its own
 * answers and the local refusals that concern it. An outcome outside its set is one that belongs
 * to another request (the false alarm was a session step ending NO_SUCH_PEER, a chat's error).
 */
const OUTCOMES: Readonly<Record<string, ReadonlySet<string>>> = {
  login: new Set(['ok', 'ALREADY_LOGGED_IN', 'BAD_CREDENTIALS']),
  logout: new Set(['ok', 'NOT_LOGGED_IN']),
  friendRequest: new Set(['ok', 'USER_NOT_FOUND', 'ALREADY_FRIENDS', 'ALREADY_REQUESTED', 'SELF_REQUEST', 'NOT_LOGGED_IN']),
  session: new Set(['established', 'rejected', 'timeout', 'offline', 'not-friends', 'NOT_LOGGED_IN', 'SESSION_PENDING', 'cancelled', 'already-pending']),
  // With no session open a chat goes to the friend's mailbox: held (queued), or refused there.
  chat: new Set(['ok', 'NO_SUCH_PEER', 'MESSAGE_UNDELIVERED', 'queued', 'PEER_KEY_UNKNOWN']),
  sendFile: new Set(['ok', 'NO_SUCH_PEER', 'file-cancelled', 'file-declined', 'file-connection-lost']),
};

const target = fc.constantFrom('bob', 'carol', 'dave');
const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>('login'),
  fc.constant<Step>({ logout: {} }),
  target.map((w): Step => ({ session: { with: w } })),
  fc.tuple(target, fc.integer({ min: 1, max: 3 })).map(([w, messages]): Step => ({ chat: { with: w, messages } })),
  fc.tuple(target, fc.integer({ min: 0, max: 40_000 })).map(([w, bytes]): Step => ({ sendFile: { with: w, bytes } })),
  fc.constantFrom('dave', 'nobody', 'alice').map((to): Step => ({ friendRequest: { to } })),
  fc.integer({ min: 0, max: 3_000 }).map((ms): Step => ({ think: ms })),
);

function world(steps: Step[], bobPolicy: 'accept' | 'reject' | 'ignore'): ScenarioInput {
  return {
    version: 1,
    durationMs: 60_000,
    server: { ttlMs: 5_000, sessionTimeoutMs: 3_000 },
    populations: [
      { name: 'alice', behaviour: 'script' },
      { name: 'bob', behaviour: 'answerer' },
      { name: 'carol', behaviour: 'idle' },
      { name: 'dave', behaviour: 'idle' },
    ],
    friends: { pairs: [['alice', 'bob'], ['alice', 'carol']] },
    behaviours: { script: steps, answerer: [{ answer: bobPolicy }, 'login'], idle: ['login'] },
  };
}

function stepLines(lines: string[]): Array<{ peer: number; step: string; outcome: string }> {
  return lines.map((l) => JSON.parse(l) as { k: string; peer: number; step: string; outcome: string }).filter((l) => l.k === 'step');
}

describe('the request ledger: outcomes go to the request that caused them', () => {
  it('the minimal false alarm passes (chat with no session, then a rejected session)', () => {
    const { scenario } = loadScenarioFile('test/sim/fixtures/chat-without-session-then-reject.yaml');
    const report = runScenario(scenario, { seed: 1 });
    expect({ violations: report.violations, failed: report.expectations.filter((e) => !e.passed) }).toEqual({ violations: [], failed: [] });
    expect(report.metrics.session_outcome_rejected).toBe(1);
  });

  it('random step sequences against a correct server: no violation, every outcome of its own step', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { minLength: 1, maxLength: 12 }), fc.constantFrom('accept', 'reject', 'ignore'), fc.integer({ min: 1, max: 0xffff }), (steps, policy, seed) => {
        const scenario = scenarioSchema.parse(world(['login', ...steps], policy));
        const lines: string[] = [];
        const report = runScenario(scenario, { seed, traceSink: (l) => lines.push(l) });
        const foreign = stepLines(lines).filter((s) => s.peer === 0 && OUTCOMES[s.step] !== undefined && !OUTCOMES[s.step]?.has(s.outcome));
        expect({
          violations: report.violations.slice(0, 3),
          foreign,
          unattributed: report.metrics.outcomes_unattributed,
          afterEnd: report.metrics.outcomes_after_end,
        }).toEqual({ violations: [], foreign: [], unattributed: 0, afterEnd: 0 });
      }),
      { numRuns: RUNS, ...replay },
    );
  }, PROPERTY_TIMEOUT_MS);
});

describe('the request ledger matches by ref, never by arrival', () => {
  function ledger(): { ledger: RequestLedger; outcomes: string[]; afterEnd: string[]; unattributed: string[] } {
    const outcomes: string[] = [];
    const afterEnd: string[] = [];
    const unattributed: string[] = [];
    const l = new RequestLedger({
      onOutcomeAfterEnd: (entry, event) => afterEnd.push(`${entry.kind}#${entry.seq} ${entry.outcome} then ${event.event === 'error' ? event.code : event.event}`),
      onUnattributed: (event) => unattributed.push(event.event === 'error' ? event.code : event.event),
    });
    return { ledger: l, outcomes, afterEnd, unattributed };
  }
  const stale: ClientEvent = { event: 'error', code: 'SERVER_UNAVAILABLE', message: 'unavailable', detail: 'the server connection closed before the reply to chat.answer' };
  const loginOk: ClientEvent = { event: 'login.ok', username: 'alice', friends: [], pending: [], nickname: 'alice' };

  // The cluster swarm's seed 3750875625: a stale error about a chat.answer came out while the
  // machine heard the login's reply frame, and was taken as the login's outcome, then login.ok as a second one.
  it("an error without a ref is no open command's outcome: the login ends with its own answer, once", () => {
    const { ledger: l, outcomes, afterEnd, unattributed } = ledger();
    const login = l.add('login', null, null, (o) => outcomes.push(o));
    l.onPushedErrorsHeard([]);
    expect(l.onEvent(stale)).toBe(false);
    expect(l.onEvent(loginOk, login.seq)).toBe(true);
    l.onServerFramesHandled();
    expect({ outcomes, afterEnd, unattributed }).toEqual({ outcomes: ['ok'], afterEnd: [], unattributed: ['SERVER_UNAVAILABLE'] });
  });

  it("an error with a ref ends that command, whatever else is open; one after its end is a second outcome", () => {
    const { ledger: l, outcomes, afterEnd } = ledger();
    const logout = l.add('logout', null, null, (o) => outcomes.push(`logout ${o}`));
    const login = l.add('login', null, null, (o) => outcomes.push(`login ${o}`));
    expect(l.onEvent({ ...stale, detail: 'the server connection closed before the reply to login' }, login.seq)).toBe(true);
    expect(l.onEvent({ event: 'logout.ok' }, logout.seq)).toBe(true);
    expect(l.onEvent(loginOk, login.seq)).toBe(true);
    expect(outcomes).toEqual(['login SERVER_UNAVAILABLE', 'logout ok']);
    expect(afterEnd).toEqual([`login#${login.seq} SERVER_UNAVAILABLE then login.ok`]);
  });

  it('what became of a message the server held (mail.failed as its error, naming the message) is no second outcome of its chat.send', () => {
    const { ledger: l, outcomes, afterEnd } = ledger();
    const send = l.add('chat.send', 'bob', 'm1', (o) => outcomes.push(`chat.send ${o}`));
    expect(l.onEvent({ event: 'chat.queued', username: 'bob', id: 'm1' }, send.seq)).toBe(true);
    expect(l.onEvent({ event: 'error', code: 'MAIL_UNREADABLE', message: 'gone', username: 'bob', id: 'm1' })).toBe(true);
    expect({ outcomes, afterEnd }).toEqual({ outcomes: ['chat.send queued'], afterEnd: [] });
  });

  it("an event a command's handling emits that does not answer it goes by its key: a chat.open's chat.failed during a login", () => {
    const { ledger: l, outcomes } = ledger();
    l.reached(l.add('chat.open', 'bob', null, (o) => outcomes.push(`chat.open ${o}`)));
    const login = l.add('login', null, null, (o) => outcomes.push(`login ${o}`));
    expect(l.onEvent({ event: 'friend.request', from: 'carol' }, login.seq)).toBe(false);
    expect(l.onEvent({ event: 'chat.failed', username: 'bob', reason: 'not-friends' }, login.seq)).toBe(true);
    expect(l.onEvent(loginOk, login.seq)).toBe(true);
    expect(outcomes).toEqual(['chat.open not-friends', 'login ok']);
  });

  // The driver types through the headless client's command queue: a chat.open may wait there (behind
  // the server lane) while the friend's own request opens the session. Its answer is the chat.opened
  // the machine gives it when it runs, with its ref, not the session's opening before it (which
  // would make that one a second outcome).
  it("a chat.open still waiting to reach the machine is not answered by its friend's session opening", () => {
    const { ledger: l, outcomes, afterEnd } = ledger();
    const open = l.add('chat.open', 'bob', null, (o) => outcomes.push(`chat.open ${o}`));
    expect(l.onEvent({ event: 'chat.opened', username: 'bob' })).toBe(false);
    l.reached(open);
    expect(l.onEvent({ event: 'chat.opened', username: 'bob' }, open.seq)).toBe(true);
    expect({ outcomes, afterEnd }).toEqual({ outcomes: ['chat.open established'], afterEnd: [] });
  });

  it('an error the server pushed unasked, or a peer sent, is not counted unattributed', () => {
    const { ledger: l, unattributed } = ledger();
    l.add('login', null, null, () => {});
    l.onPushedErrorsHeard(['HEARTBEAT_TIMEOUT']);
    l.onEvent({ event: 'error', code: 'HEARTBEAT_TIMEOUT', message: 'timed out' });
    l.onServerFramesHandled();
    l.onEvent({ event: 'error', code: 'BAD_FRAME', message: 'bad', detail: 'from bob: bad frame' });
    expect(unattributed).toEqual([]);
  });
});
