/**
 * The exit codes of every `p2pchat` command, defined once (README.md and the docs of each command
 * list them). sim/command/ and bench/run.ts return them to cli/commands/, which exits with them.
 */
export const EXIT_OK = 0;
/** A failed expectation or check (a scenario, an invariant, the bench's regression gate), or a process that could not start or crashed. */
export const EXIT_FAILED = 1;
/** A usage or input error: a bad option, an invalid scenario file, the dashboard without a terminal. */
export const EXIT_USAGE = 2;
/** A benchmark figure missed its threshold. */
export const EXIT_THRESHOLD = 3;
/** Stopped by Ctrl-C while cleaning up: 128 + SIGINT, the shell's convention. */
export const EXIT_INTERRUPTED = 130;
