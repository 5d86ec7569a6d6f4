/**
 * Token comparison that takes the same time wherever the first difference is, so a remote
 * guesser learns nothing from response timing. Tokens are generated outside the core (it has no
 * randomness) by the `newToken` function a runtime passes in.
 */
export function tokensEqual(a: string, b: string): boolean {
  const length = Math.max(a.length, b.length);
  let diff = a.length ^ b.length;
  for (let i = 0; i < length; i++) diff |= (a.charCodeAt(i) | 0) ^ (b.charCodeAt(i) | 0);
  return diff === 0;
}
