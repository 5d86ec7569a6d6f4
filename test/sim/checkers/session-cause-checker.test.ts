/**
 * The chat-failed-cause checker judged directly, without a world: which request a chat.failed
 * ends decides what the checker expects of the next one to the same friend. And the two checkers
 * riding on its records, asked-once and ends-by-deadline.
 */
import { describe, expect, it } from 'vitest';
import { P2P_HELLO_TIMEOUT_MS, SESSION_ACK_WAIT_MS, SESSION_OUTCOME_GRACE_MS } from '../../../core/limits.ts';
import { SessionCauses } from '../../../sim/checkers/session-cause-checker.ts';

/** The server's session timeout the frames below name (any value; the checks read it from the frames). */
const SERVER_SESSION_TIMEOUT_MS = 3000;

function checker(): { causes: SessionCauses; violations: string[] } {
  const violations: string[] = [];
  return { causes: new SessionCauses('peer5', (detail) => violations.push(detail)), violations };
}

/** A chat.open to `friend` the server acknowledges as `requestId` (the command refused nothing). */
function openAcked(causes: SessionCauses, friend: string, requestId: string, atMs: number): object | null {
  const request = causes.chatOpen(friend, atMs);
  causes.chatOpenInput(friend);
  causes.chatOpenInputDone();
  causes.serverFrames([{ type: 'session.pending', requestId, username: friend, timeoutMs: SERVER_SESSION_TIMEOUT_MS }], atMs + 10);
  causes.settled(atMs + 10);
  return request;
}

describe('SessionCauses', () => {
  // Found by a swarm over clock-drift.yaml (seed 11, run 34, seed 823639257), a false alarm: the
  // `timeout` the server named for the second request ended the first one instead (opened, its
  // P2P hello deadline long passed), so the second stayed pending in the checker, the next
  // chat.open started no record, and its server-unavailable (link declared dead) was judged
  // against the second's causes.
  it("ends the request the server's session.failed named, not an older opened one a deadline fits", () => {
    const { causes, violations } = checker();
    openAcked(causes, 'peer3', 's2', 0);
    causes.serverFrames([{ type: 'session.established', requestId: 's2', username: 'peer3', role: 'caller' }], 100);
    causes.opened('peer3');
    causes.settled(150);

    openAcked(causes, 'peer3', 's23', 20_000);
    causes.serverFrames([{ type: 'session.failed', requestId: 's23', username: 'peer3', reason: 'timeout' }], 23_020);
    causes.failed('peer3', 'timeout', false, 23_020);
    causes.settled(23_020);

    // The next chat.open starts a request of its own (none is pending), refused at once: the link is gone.
    expect(causes.chatOpen('peer3', 30_000)).not.toBeNull();
    causes.linkLost();
    causes.chatOpenInput('peer3');
    causes.failed('peer3', 'server-unavailable', false, 37_369);
    causes.chatOpenInputDone();
    causes.settled(37_369);
    expect(violations).toEqual([]);
  });

  it('still calls a server-unavailable wrong for a request the server had acknowledged', () => {
    const { causes, violations } = checker();
    openAcked(causes, 'peer3', 's1', 0);
    causes.failed('peer3', 'server-unavailable', false, 500);
    causes.settled(500);
    expect(violations).toEqual(["peer5's chat.open to peer3 ended server-unavailable, which nothing told the client: told nothing, no session.established"]);
  });
});

/** A checker with its riders, whose clock is a list of checks run by `runUntil`. */
function riders(): { causes: SessionCauses; asked: string[]; late: string[]; runUntil: (nowMs: number) => void } {
  const asked: string[] = [];
  const late: string[] = [];
  let checks: Array<{ atMs: number; check: (nowMs: number) => void }> = [];
  const causes = new SessionCauses('peer5', () => undefined, {
    violateAsked: (detail) => asked.push(detail),
    violateLate: (detail) => late.push(detail),
    checkAt: (atMs, check) => checks.push({ atMs, check }),
  });
  const runUntil = (nowMs: number): void => {
    const due = checks.filter((c) => c.atMs <= nowMs).sort((a, b) => a.atMs - b.atMs);
    checks = checks.filter((c) => c.atMs > nowMs);
    for (const c of due) c.check(c.atMs);
  };
  return { causes, asked, late, runUntil };
}

const incoming = (requestId: string, timeoutMs = SERVER_SESSION_TIMEOUT_MS) => ({ type: 'session.incoming', requestId, from: 'peer3', timeoutMs });

describe('chat-failed-cause, a callee asked again after a resume', () => {
  // Found by a swarm of session-asked-again.yaml (root seed 41, seed 3029667959): Dave, reset and
  // resumed, heard Carol's request again with the time the server had left (3,752 ms at 781 ms),
  // and ended it `timeout` by that deadline, 5 ms before the first frame's (4,424 ms at 114 ms).
  // The client was right to follow the server's latest word; the checker called it early.
  it("takes the deadline from the repeat's time left, not the first frame's", () => {
    const { causes, violations } = checker();
    causes.serverFrames([{ type: 'session.incoming', requestId: 's1', from: 'carol', timeoutMs: 4424 }], 114.1);
    causes.serverFrames([{ type: 'session.incoming', requestId: 's1', from: 'carol', timeoutMs: 3752.14 }], 781.2);
    const repeatDeadlineMs = 781.2 + 3752.14 + SESSION_OUTCOME_GRACE_MS;
    causes.failed('carol', 'timeout', true, repeatDeadlineMs);
    causes.settled(repeatDeadlineMs);
    expect(violations).toEqual([]);
    // Sooner than even the repeat's deadline is early.
    const early = checker();
    early.causes.serverFrames([{ type: 'session.incoming', requestId: 's1', from: 'carol', timeoutMs: 4424 }], 114.1);
    early.causes.serverFrames([{ type: 'session.incoming', requestId: 's1', from: 'carol', timeoutMs: 3752.14 }], 781.2);
    early.causes.failed('carol', 'timeout', true, repeatDeadlineMs - 100);
    early.causes.settled(repeatDeadlineMs - 100);
    expect(early.violations).toHaveLength(1);
  });
});

describe('asked-once', () => {
  it('takes one chat.request per request the server made, and none for the repeat after a resume', () => {
    const { causes, asked } = riders();
    causes.serverFrames([incoming('s1')], 0);
    causes.asked('peer3');
    expect(asked).toEqual([]);
    // Asked again after a resume: the same request.
    causes.serverFrames([incoming('s1', 2000)], 1000);
    causes.asked('peer3');
    expect(asked).toHaveLength(1);
    // A request of its own (the server forgot the first): the user is asked about it.
    causes.serverFrames([incoming('s9')], 1500);
    causes.asked('peer3');
    expect(asked).toHaveLength(1);
  });

  // Found by a swarm of clock-drift.yaml (root seed 23, seed 2820104457): the server restarted,
  // the callee logged in again with its password, and the restarted server, counting its request
  // ids from 1 again, asked about a new request `s1`. The checker took it for the old `s1` and
  // called the client's (right) chat.request a second ask.
  it('takes a request a restarted server numbers like an old one, after a password login, for a new one', () => {
    const { causes, asked } = riders();
    causes.passwordLoginSent();
    causes.serverFrames([incoming('s1')], 0);
    causes.asked('peer3');
    causes.passwordLoginSent();
    causes.serverFrames([incoming('s1')], 20_000);
    causes.asked('peer3');
    expect(asked).toEqual([]);
  });
});

describe('ends-by-deadline', () => {
  it("calls a request the server asked about and nobody ended by its deadline late, not one that ended", () => {
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s1')], 0);
    runUntil(SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS);
    expect(late).toEqual([]);
    runUntil(SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toHaveLength(1);

    const ended = riders();
    ended.causes.serverFrames([incoming('s1')], 0);
    ended.causes.failed('peer3', 'timeout', true, SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS);
    ended.runUntil(60_000);
    expect(ended.late).toEqual([]);
  });

  // Found by test/sim/swarm/mitm.test.ts (mitm-swarm-base.yaml, seed 41): a callee's logout
  // failure was taken for an older request of the same friend's whose session had opened long
  // before (its record stays on the books), so the pending one was called late at its deadline.
  it("a logout's failure ends the friend's pending request, not an older one whose session opened", () => {
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s14')], 6_783);
    causes.serverFrames([{ type: 'session.established', requestId: 's14', username: 'peer3', role: 'callee' }], 7_108);
    causes.opened('peer3');
    causes.serverFrames([incoming('s25')], 13_363);
    causes.logoutTyped();
    causes.failed('peer3', 'logged-out', true, 13_568);
    causes.settled(13_568);
    runUntil(60_000);
    expect(late).toEqual([]);
  });

  // Found by swarms of cluster-three-nodes.yaml (root seed 2203, seed 2069222241; root seed 1709,
  // seed 1066903040): the callee typed a logout, the server asked it about a friend's request before
  // taking the logout, and the link went before the logout's answer came: the client ended the
  // login itself, and the request with it, `logged-out`. Nothing but the typed logout says so.
  it('a request heard while a typed logout is not over may end logged-out; once the logout was refused, not', () => {
    const { causes, violations } = checker();
    causes.logoutTyped();
    causes.serverFrames([{ type: 'session.incoming', requestId: 's29', from: 'peer3', timeoutMs: SERVER_SESSION_TIMEOUT_MS }], 100);
    causes.failed('peer3', 'logged-out', true, 100);
    causes.settled(100);
    expect(violations).toEqual([]);
    causes.logoutTyped();
    causes.logoutRefused();
    causes.serverFrames([{ type: 'session.incoming', requestId: 's30', from: 'peer3', timeoutMs: SERVER_SESSION_TIMEOUT_MS }], 200);
    causes.failed('peer3', 'logged-out', true, 200);
    causes.settled(200);
    expect(violations).toHaveLength(1);
  });

  it('moves the deadline when the server asks again after a resume', () => {
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s1')], 0);
    causes.serverFrames([incoming('s1', 2500)], 1000);
    runUntil(SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 100);
    expect(late).toEqual([]);
    runUntil(1000 + 2500 + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toHaveLength(1);
  });

  it("judges a caller's request from its session.pending to the server's timeout plus grace", () => {
    const { causes, late, runUntil } = riders();
    openAcked(causes, 'peer4', 's2', 0);
    runUntil(10 + SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS);
    expect(late).toEqual([]);
    runUntil(10 + SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toEqual([expect.stringContaining("peer5's request s2@login0 to peer4 has not ended 50 ms after its deadline (8010 ms on the client's clock: the server's timeout plus SESSION_OUTCOME_GRACE_MS)")]);
  });

  // After its session.established the P2P set-up decides, on one timer either side (core/peer/machine.ts):
  // the caller's hello times out, the callee's held token expires, P2P_HELLO_TIMEOUT_MS on.
  const ESTABLISHED_AT_MS = 100;
  const HELLO_DEADLINE_MS = ESTABLISHED_AT_MS + P2P_HELLO_TIMEOUT_MS;

  it("judges a caller's request past its session.established by its hello deadline, not the server's", () => {
    const { causes, late, runUntil } = riders();
    openAcked(causes, 'peer3', 's1', 0);
    causes.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'caller' }], ESTABLISHED_AT_MS);
    runUntil(HELLO_DEADLINE_MS);
    expect(late).toEqual([]);
    runUntil(HELLO_DEADLINE_MS + 50);
    expect(late).toEqual([
      "peer5's request s1@login0 to peer3 has not ended 50 ms after its deadline (10100 ms on the client's clock: its session.established plus P2P_HELLO_TIMEOUT_MS: the hello to the callee times out then)",
    ]);
    runUntil(60_000);
    expect(late).toHaveLength(1);
  });

  it("judges a callee's held token by its session.established plus P2P_HELLO_TIMEOUT_MS", () => {
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s1')], 0);
    causes.asked('peer3');
    causes.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'callee' }], ESTABLISHED_AT_MS);
    runUntil(HELLO_DEADLINE_MS);
    expect(late).toEqual([]);
    runUntil(HELLO_DEADLINE_MS + 50);
    expect(late).toEqual([
      "peer3's request s1@login0 to peer5 has not ended 50 ms after its deadline (10100 ms on the client's clock: its session.established plus P2P_HELLO_TIMEOUT_MS: the token held for the caller's hello expires then)",
    ]);
  });

  it('takes a P2P set-up for ended by its chat.failed, or by a chat.opened with the friend told since its session.established', () => {
    for (const end of ['failed', 'opened'] as const) {
      for (const role of ['caller', 'callee'] as const) {
        const { causes, late, runUntil } = riders();
        if (role === 'caller') openAcked(causes, 'peer3', 's1', 0);
        else causes.serverFrames([incoming('s1')], 0);
        causes.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role }], ESTABLISHED_AT_MS);
        if (end === 'opened') causes.opened('peer3');
        else causes.failed('peer3', 'timeout', role === 'callee', HELLO_DEADLINE_MS);
        causes.settled(HELLO_DEADLINE_MS);
        runUntil(60_000);
        expect(late, `${role}, ${end}`).toEqual([]);
      }
    }
  });

  // A chat.opened told before the session.established is another session's (the friend's open
  // one, still open here when they asked again): it answers nothing of this request's.
  it('calls a held token late that a chat.opened before its session.established did not answer', () => {
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s1')], 0);
    causes.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'callee' }], 50);
    causes.opened('peer3');
    causes.serverFrames([incoming('s2')], 1000);
    causes.failed('peer3', 'replaced', true, 1000);
    causes.serverFrames([{ type: 'session.established', requestId: 's2', username: 'peer3', role: 'callee' }], 1100);
    runUntil(60_000);
    expect(late).toEqual([expect.stringContaining("peer3's request s2@login0 to peer5 has not ended 50 ms after its deadline (11100 ms")]);
  });

  // session-outcome-lost.yaml: the session.pending of Alice's request was lost; the broker drops
  // the session.established that follows as stale (a request not acknowledged is found by its
  // ref, which that frame does not carry) and gives the request up at SESSION_ACK_WAIT_MS.
  it("ignores a caller's session.established for a request never acknowledged, as the client does", () => {
    const { causes, late, runUntil } = riders();
    causes.chatOpen('peer3', 0);
    causes.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'caller' }], ESTABLISHED_AT_MS);
    runUntil(SESSION_ACK_WAIT_MS);
    expect(late).toEqual([]);
    const violations: string[] = [];
    const judged = new SessionCauses('peer5', (detail) => violations.push(detail));
    judged.chatOpen('peer3', 0);
    judged.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'caller' }], ESTABLISHED_AT_MS);
    // A `timeout` at its hello deadline is early: the client waits SESSION_ACK_WAIT_MS for it.
    judged.failed('peer3', 'timeout', false, HELLO_DEADLINE_MS);
    judged.settled(HELLO_DEADLINE_MS);
    expect(violations).toEqual([expect.stringContaining("peer5's chat.open to peer3 ended timeout, which nothing told the client: its earliest deadline is 30000 ms")]);
  });
});

describe("a friend's newer request in place of one we hold", () => {
  it("takes chat.failed `replaced` for the older one, and calls an older one nobody ended late at its own deadline", () => {
    const told = checker();
    told.causes.serverFrames([incoming('s1')], 0);
    told.causes.asked('peer3');
    told.causes.serverFrames([incoming('s2')], 1000);
    told.causes.failed('peer3', 'replaced', true, 1000);
    told.causes.asked('peer3');
    told.causes.settled(1000);
    expect(told.violations).toEqual([]);

    // The client that dropped the older one without a word (its user's yes left unanswered).
    const { causes, late, runUntil } = riders();
    causes.serverFrames([incoming('s1')], 0);
    causes.serverFrames([incoming('s2')], 1000);
    runUntil(SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toEqual([expect.stringContaining("peer3's request s1@login0 to peer5 has not ended")]);
  });

  // A swarm of cluster-three-nodes.yaml (root seed 4219, seed 3417163655): the caller refused a
  // man in the middle's key and asked again while the callee held the first request's token; the
  // client ends that one too (core/peer/machine.ts endReplacedToken). Left on the books, the next
  // `logged-out` was taken for it, and the newest request was called late at its deadline.
  it('takes `replaced` for an older request past its session.established too (its token held for a hello that will not come)', () => {
    const { causes, late, runUntil } = riders();
    const violations: string[] = [];
    const judged = new SessionCauses('peer5', (detail) => violations.push(detail));
    for (const c of [causes, judged]) {
      c.serverFrames([incoming('s1')], 0);
      c.asked('peer3');
      c.serverFrames([{ type: 'session.established', requestId: 's1', username: 'peer3', role: 'callee' }], 100);
      c.serverFrames([incoming('s2')], 1000);
      c.failed('peer3', 'replaced', true, 1000);
      c.asked('peer3');
      c.settled(1000);
      // The login ends: the newer request goes with it.
      c.logoutTyped();
      c.failed('peer3', 'logged-out', true, 2000);
      c.settled(2000);
    }
    expect(violations).toEqual([]);
    runUntil(1000 + SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toEqual([]);
  });

  // A swarm of process-pause.yaml (root seed 10501, seed 3145961085): peer3 said yes to peer10's
  // s14 and held its token while its own request to peer10 opened the session (requests crossing:
  // chat.opened, which may have been s14's); the session closed, peer10 asked again, and the new
  // token took s14's place: `replaced` for a request a chat.opened may have answered.
  it('takes `replaced` for an older request whose session may have opened, its token still held', () => {
    const { causes, violations } = checker();
    causes.serverFrames([incoming('s14')], 0);
    causes.asked('peer3');
    causes.serverFrames([{ type: 'session.established', requestId: 's14', username: 'peer3', role: 'callee' }], 200);
    causes.opened('peer3');
    causes.serverFrames([incoming('s18')], 5000);
    causes.asked('peer3');
    causes.serverFrames([{ type: 'session.established', requestId: 's18', username: 'peer3', role: 'callee' }], 5400);
    causes.failed('peer3', 'replaced', true, 5400);
    causes.settled(5400);
    expect(violations).toEqual([]);
  });

  it('calls `replaced` wrong for a request no newer one replaced', () => {
    const { causes, violations } = checker();
    causes.serverFrames([incoming('s1')], 0);
    causes.failed('peer3', 'replaced', true, 500);
    causes.settled(500);
    expect(violations).toEqual(["peer3's request to peer5 ended replaced, which nothing told the client: told nothing, no session.established"]);
  });
});

// A swarm of clock-drift.yaml (root seed 11213, seed 257019680): the server restarted and refused
// peer4's resume (BAD_RESUME_TOKEN); the client logs straight back in with the password and keeps
// what needs no server (core/peer/machine.ts: a refused resume ends no P2P set-up), so it ended
// only peer9's request still at the broker (s13) `logged-out`, not the one whose token it held
// (s11). The checker took that logged-out for s11 and called s13 late at its deadline.
describe('a refused resume ends the requests at the server, not those past their session.established', () => {
  it('takes its logged-out for the request not yet established, and the held token ends later by its own deadline', () => {
    const { causes, late, runUntil } = riders();
    const violations: string[] = [];
    const judged = new SessionCauses('peer5', (detail) => violations.push(detail));
    for (const c of [causes, judged]) {
      c.serverFrames([incoming('s11')], 0);
      c.asked('peer3');
      c.serverFrames([{ type: 'session.established', requestId: 's11', username: 'peer3', role: 'callee' }], 100);
      c.serverFrames([incoming('s13')], 2000);
      c.asked('peer3');
      c.serverFrames([{ type: 'error', re: 6, code: 'BAD_RESUME_TOKEN' }], 3000);
      c.failed('peer3', 'logged-out', true, 3000);
      c.settled(3000);
    }
    runUntil(2000 + SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 50);
    expect(late).toEqual([]);
    // The held token runs out at its hello deadline: its timeout is s11's.
    judged.failed('peer3', 'timeout', true, 10_100);
    judged.settled(10_100);
    expect(violations).toEqual([]);
  });
});

// A swarm of process-pause.yaml (root seed 12101, seed 3228238720): peer1's process was paused
// from before its request's deadline to 2.7 s after it; its own timer and the check, both held by
// the pause, came due in the same instant as it resumed, and the check ran first: the request the
// client ended in that instant was called 2,691 ms late.
describe('ends-by-deadline after a pause', () => {
  function heldChecks(): { causes: SessionCauses; late: string[]; checks: Array<{ atMs: number; check: (nowMs: number) => void }> } {
    const late: string[] = [];
    const checks: Array<{ atMs: number; check: (nowMs: number) => void }> = [];
    const causes = new SessionCauses('peer5', () => undefined, {
      violateAsked: () => undefined,
      violateLate: (detail) => late.push(detail),
      checkAt: (atMs, check) => checks.push({ atMs, check }),
    });
    return { causes, late, checks };
  }

  it('a check held past its time by a pause gives the resumed client the same slack before it judges', () => {
    const { causes, late, checks } = heldChecks();
    causes.serverFrames([incoming('s16')], 0);
    causes.asked('peer3');
    const resumedMs = SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 2691;
    checks.shift()?.check(resumedMs);
    expect(late).toEqual([]);
    // The client's own timer, due in the same instant, ends the request.
    causes.failed('peer3', 'timeout', true, resumedMs);
    causes.settled(resumedMs);
    const again = checks.shift();
    expect(again?.atMs).toBe(resumedMs + 50);
    again?.check(again.atMs);
    expect(late).toEqual([]);
  });

  it('and calls late a request the resumed client still did not end', () => {
    const { causes, late, checks } = heldChecks();
    causes.serverFrames([incoming('s16')], 0);
    const resumedMs = SERVER_SESSION_TIMEOUT_MS + SESSION_OUTCOME_GRACE_MS + 2691;
    checks.shift()?.check(resumedMs);
    const again = checks.shift();
    again?.check(again.atMs);
    expect(late).toEqual([expect.stringContaining("peer3's request s16@login0 to peer5 has not ended 2741 ms after its deadline")]);
  });
});
