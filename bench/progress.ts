/** Progress lines on stderr (stdout is the report's, with --json only the JSON). */
const startedAtMs = Date.now();

export function progress(message: string): void {
  const seconds = ((Date.now() - startedAtMs) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${seconds}s] ${message}\n`);
}
