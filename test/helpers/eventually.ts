/**
 * Waits for a condition a system reaches on its own (a bus hop, a lease, a timer on the server):
 * polls every POLL_MS, bounded by boundMs, and names what it waited for when it gives up.
 */

/** Short enough not to slow a test, long enough not to spin a busy machine. */
const POLL_MS = 20;

export async function eventually(check: () => boolean | Promise<boolean>, what: string, boundMs: number): Promise<void> {
  const deadline = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${boundMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
