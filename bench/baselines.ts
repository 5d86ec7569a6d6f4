/** Starts a baseline process (see baseline-process.ts) and hands back its RPC handle. */
import { fileURLToPath } from 'node:url';
import { forkTs } from './processes.ts';
import { RpcChild } from './rpc.ts';

const BASELINE_MODULE = fileURLToPath(new URL('./baseline-process.ts', import.meta.url));

export function startBaselineProcess(label: string, env: NodeJS.ProcessEnv = {}): RpcChild {
  return new RpcChild(forkTs(BASELINE_MODULE, [], env), label);
}
