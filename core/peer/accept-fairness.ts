/**
 * Who gives way when a client's slots for accepted P2P streams not yet authenticated
 * (P2P_UNAUTHENTICATED_STREAMS_MAX) are all taken and another stream is accepted.
 *
 * Refusing every newcomer let one address hold them all: a stranger opening connections that say
 * nothing, each replaced as its hello timer reset it, kept every friend's hello out (their
 * chat.open failed `unreachable`). Shared by address key (core/net-address.ts) instead, as the
 * server's password-check line is (core/rate-limit.ts FairQueue): the newcomer takes the place of
 * the oldest stream of the address key holding the most, if that key would still hold at least as
 * many as the newcomer's once it gave one up; otherwise the newcomer is refused. So one address
 * can never keep another out, a hog's own newcomers are refused rather than taking each other's
 * place, and two keys never push each other out in turn. Only many addresses, each holding a
 * slot or two, can fill the slots now. The TLS listeners bound their handshakes under way in all by
 * the same rule (cli/net/tcp-transport.ts, TLS_HANDSHAKES_MAX), where "stream" is a handshake.
 */
/** An accepted stream still waiting for its hello, and the address key it came from. */
export interface WaitingStream {
  readonly streamId: string;
  readonly addressKey: string;
}

/**
 * With every slot taken (`waiting`, oldest first), the stream to reset to make room for one from
 * the address key `newcomerKey`, or null: the newcomer is refused.
 */
export function streamToEvict(waiting: Iterable<WaitingStream>, newcomerKey: string): string | null {
  const held = new Map<string, { count: number; oldest: string }>();
  for (const stream of waiting) {
    const entry = held.get(stream.addressKey);
    if (entry === undefined) held.set(stream.addressKey, { count: 1, oldest: stream.streamId });
    else entry.count += 1;
  }
  let fullest: { count: number; oldest: string } | undefined;
  for (const entry of held.values()) if (fullest === undefined || entry.count > fullest.count) fullest = entry;
  const newcomerHolds = held.get(newcomerKey)?.count ?? 0;
  if (fullest === undefined || fullest.count - 1 < newcomerHolds + 1) return null;
  return fullest.oldest;
}
