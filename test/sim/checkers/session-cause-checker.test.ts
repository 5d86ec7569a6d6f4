/**
 * The chat-failed-cause checker judged directly, without a world: which request a chat.failed
 * ends decides what the checker expects of the next one to the same friend.
 */
import { describe, expect, it } from 'vitest';
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
