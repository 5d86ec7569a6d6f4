/**
 * The simulated server process: the real ServerMachine run by the real ServerHost over the
 * in-memory network and the virtual clock, with a MemoryStore and a simulated password hasher.
 *
 * A crash kills the process: its streams vanish, its timers and hashing jobs never fire. Only the
 * MemoryStore survives (as the SQLite file would); a restart builds a new machine from
 * store.load(), so everything else (who is online, resume tokens, pending session requests) is
 * lost, exactly as in the real server.
 */
import { type ServerConfig, type ServerMachine, type ServerStats } from '../../core/server/machine.ts';
import { ServerHost } from '../../core/server/host.ts';
import type { SimNetwork } from './network.ts';
import { newServerMachine, type PlantedBug } from './planted-bugs.ts';
import type { Prng } from './prng.ts';
import { NodeClockRate, Scope, type SimClock } from './sim-clock.ts';
import { SimHasher } from './sim-hasher.ts';
import { PlantedOutput } from './planted-output.ts';
import { SimStore } from './sim-store.ts';

export const SERVER_ADDRESS = '10.255.255.254';
export const SERVER_PORT = 7000;
const TOKEN_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_LENGTH = 24;

/** The server's configuration, and a planted bug (sim/world/planted-bugs.ts) when a scenario asks for one. */
export type ServerTuning = Partial<Omit<ServerConfig, 'newToken'>> & { readonly plantedBug?: PlantedBug };

export class ServerNode {
  readonly store = new SimStore();
  host: ServerHost | null = null;
  /** Counts restarts, so checkers can tell one incarnation's request ids from the next. */
  incarnation = 0;
  private scope: Scope | null = null;
  /** Stats of incarnations that crashed, summed into the report. */
  readonly pastStats: ServerStats[] = [];
  /** The server machine's own clock (fault kind `clock`: drift and forward steps). */
  readonly clockRate = new NodeClockRate();
  /** TEST-ONLY bugs the simulator plants in what the server sends (fault kind `plant`). */
  readonly planted = new PlantedOutput();

  constructor(
    private readonly clock: SimClock,
    private readonly network: SimNetwork,
    private readonly tokens: Prng,
    private readonly tuning: ServerTuning,
    private readonly hashCostMs: number,
  ) {}

  get up(): boolean {
    return this.host !== null;
  }

  get machine(): ServerMachine | null {
    return this.host?.machine ?? null;
  }

  start(): void {
    if (this.host !== null) return;
    this.incarnation += 1;
    this.network.restartNode(SERVER_ADDRESS);
    const scope = new Scope();
    const clock = this.clock.scoped(scope, this.clockRate);
    const { plantedBug, ...config } = this.tuning;
    const machine = newServerMachine(this.store.load(), { ...config, newToken: () => this.newToken() }, plantedBug);
    const host = new ServerHost({
      machine,
      transport: this.planted.wrapsServer ? this.planted.wrap(this.network.transport(SERVER_ADDRESS)) : this.network.transport(SERVER_ADDRESS),
      store: this.store,
      hasher: new SimHasher(clock, this.hashCostMs),
      clock,
    });
    this.scope = scope;
    this.host = host;
    host.listen(SERVER_ADDRESS, SERVER_PORT, (result) => {
      if (result instanceof Error) throw result;
    });
  }

  /** The process stops until `untilMs` (SIGSTOP, a GC pause, a stalled disk): it hears nothing, its timers fire late. */
  pause(untilMs: number): void {
    if (this.scope === null) return;
    this.scope.pausedUntilMs = Math.max(this.scope.pausedUntilMs, untilMs);
    this.network.pauseNode(SERVER_ADDRESS, this.scope.pausedUntilMs);
  }

  crash(): void {
    if (this.host === null) return;
    this.pastStats.push(this.host.machine.stats());
    this.scope?.kill();
    this.scope = null;
    this.host = null;
    this.network.crashNode(SERVER_ADDRESS);
  }

  private newToken(): string {
    let token = '';
    for (let i = 0; i < TOKEN_LENGTH; i++) token += TOKEN_CHARS[this.tokens.int(TOKEN_CHARS.length)];
    return token;
  }
}
