/**
 * The dashboard app: wires a ClientPort, the view-model and a ScreenView. Events and keys become
 * actions, the reducer's commands go to the port, the state is drawn (at most once per turn of
 * the event loop, so a paste of a thousand characters is one draw, not a thousand).
 *
 * Quitting (q, Ctrl-C): the port is closed, which sends `quit` so the client logs out first; then
 * the screen is destroyed and `done` resolves.
 */
import type { Widgets } from 'blessed';
import type { ClientCommand, ClientEvent, ClientPort } from './client-port.ts';
import { TICK_MS } from './limits.ts';
import { type DashboardAction, type DashboardConfig, type DashboardState, initialState, reduce } from './view-model.ts';
import { EXIT_OK } from '../exit-codes.ts';
import { KeyDecoder } from './views/keys.ts';
import { ScreenView } from './views/screen-view.ts';

/** The part of a pino logger the app uses (so tests can pass a silent one). */
export interface AppLogger {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface AppOptions {
  readonly screen: Widgets.Screen;
  readonly port: ClientPort;
  readonly config: DashboardConfig;
  readonly logger?: AppLogger;
  /** Wall clock in ms (tests pass a fake). */
  readonly now?: () => number;
  /** 0 disables the countdown tick (tests drive `tick()` themselves). */
  readonly tickMs?: number;
}

const SILENT: AppLogger = { info: () => {}, warn: () => {} };

/** What reaches the log of a command: never a password or a message text. */
function commandLogFields(command: ClientCommand): object {
  const fields: Record<string, unknown> = { cmd: command.cmd };
  if ('username' in command) fields.username = command.username;
  if ('transferId' in command) fields.transferId = command.transferId;
  if ('paths' in command) fields.files = command.paths.length;
  return fields;
}

function eventLogFields(event: ClientEvent): object {
  const fields: Record<string, unknown> = { event: event.event };
  for (const key of ['username', 'from', 'status', 'reason', 'code', 'transferId', 'path'] as const) {
    if (key in event) fields[key] = (event as Record<string, unknown>)[key];
  }
  return fields;
}

export class DashboardApp {
  readonly view: ScreenView;
  /** Resolves with the exit code once the dashboard has quit and the screen is gone. */
  readonly done: Promise<number>;
  private stateValue: DashboardState;
  private readonly logger: AppLogger;
  private readonly now: () => number;
  private readonly decoder = new KeyDecoder();
  private readonly unsubscribe: (() => void)[] = [];
  private tickTimer: NodeJS.Timeout | null = null;
  private drawScheduled: NodeJS.Immediate | null = null;
  private resolveDone: (code: number) => void = () => {};
  private stopping = false;

  constructor(private readonly options: AppOptions) {
    this.logger = options.logger ?? SILENT;
    this.now = options.now ?? Date.now;
    this.stateValue = initialState(options.config, this.now());
    this.view = new ScreenView(options.screen);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    this.unsubscribe.push(
      options.port.onEvent((event) => {
        this.logger.info(eventLogFields(event), 'client event');
        this.dispatch({ type: 'event', event, nowMs: this.now() });
      }),
      options.port.onClosed((closed) => {
        if (!closed.requested) this.logger.warn({ reason: closed.reason }, 'client stopped');
        this.dispatch({ type: 'port.closed', reason: closed.reason, requested: closed.requested, nowMs: this.now() });
      }),
    );
    const onKeypress = (ch: string | undefined, key: Widgets.Events.IKeyEventArg | undefined) => {
      const input = this.decoder.decode(ch, key);
      if (input?.ctrl && input.name === 'l') return this.redraw();
      if (input) this.dispatch({ type: 'key', key: input, nowMs: this.now() });
    };
    options.screen.on('keypress', onKeypress);
    this.unsubscribe.push(() => options.screen.removeListener('keypress', onKeypress));
    const tickMs = options.tickMs ?? TICK_MS;
    if (tickMs > 0) this.tickTimer = setInterval(() => this.tick(), tickMs);
    this.view.draw(this.stateValue);
  }

  get state(): DashboardState {
    return this.stateValue;
  }

  dispatch(action: DashboardAction): void {
    if (this.stopping) return;
    const step = reduce(this.stateValue, action);
    this.stateValue = step.state;
    for (const command of step.commands) {
      this.logger.info(commandLogFields(command), 'command');
      this.options.port.send(command);
    }
    this.scheduleDraw();
    if (step.quit) void this.quit();
  }

  tick(): void {
    this.dispatch({ type: 'tick', nowMs: this.now() });
  }

  /** Draws now (tests call it to see the screen without waiting for the event loop). */
  drawNow(): void {
    if (this.drawScheduled) clearImmediate(this.drawScheduled);
    this.drawScheduled = null;
    if (!this.stopping) this.view.draw(this.stateValue);
  }

  /** Ctrl-L: repaint every cell (after something else wrote over the terminal). */
  private redraw(): void {
    if (this.stopping) return;
    this.options.screen.realloc();
    this.drawNow();
  }

  private scheduleDraw(): void {
    if (this.drawScheduled || this.stopping) return;
    this.drawScheduled = setImmediate(() => {
      this.drawScheduled = null;
      if (!this.stopping) this.view.draw(this.stateValue);
    });
  }

  /** Logs out (through the port), then tears the screen down. Idempotent. */
  async quit(): Promise<void> {
    if (this.stopping) return;
    this.drawNow(); // shows "logging out…"
    this.stopping = true;
    this.logger.info({}, 'quitting');
    try {
      await this.options.port.close();
    } finally {
      this.teardown();
      this.resolveDone(EXIT_OK);
    }
  }

  private teardown(): void {
    if (this.tickTimer) clearInterval(this.tickTimer);
    this.tickTimer = null;
    if (this.drawScheduled) clearImmediate(this.drawScheduled);
    this.drawScheduled = null;
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.options.screen.destroy();
  }
}
