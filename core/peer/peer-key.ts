/**
 * Whether the key a peer proved on its P2P link is the one the server vouched for, as data:
 * the runtime's transport (TLS in cli/) tells which Ed25519 key the other side proved in its
 * handshake (base64 SPKI DER, or null when the link proved none: plain TCP, the simulator's
 * network), session.established told which key the server holds for that friend (null when the
 * friend registered none). The link is the friend's only when the two are the same, both keys or
 * both absent: a peer presenting another key, or none when one was vouched for, is refused with
 * PEER_KEY_MISMATCH before anything secret is sent (the caller's token, chat, files).
 */
export function peerKeyMatches(vouched: string | null, presented: string | null): boolean {
  return vouched === presented;
}

/** Short form of a key for a refusal's detail: enough to tell two keys apart, not the whole key. */
export function keyHint(key: string | null): string {
  return key === null ? 'none' : key.slice(16, 28);
}
