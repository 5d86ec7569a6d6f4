/**
 * Runs one peer's behaviour: a list of steps interpreted with an explicit stack (no recursion, so
 * repeat and choose nest without growing the JS stack). Each step calls the PeerDriver and moves on
 * when its callback comes; a step that answers at once continues from the event queue, so a long
 * run of instant steps never recurses either.
 *
 * A peer that is crashed waits (its in-flight step fails with CRASHED) until it is restarted; in
 * the healed liveness phase no new step starts.
 */
import type { AnswerPolicy, StepOutcome } from './peer-driver.ts';
import type { PeerSlot } from './peer-slot.ts';
import { samplerOf } from '../world/distributions.ts';
import type { Step } from '../scenarios/scenario-schema.ts';
import { STEPS_DEPTH_MAX } from '../scenarios/scenario-schema.ts';

/** A P2P step (chat, sendFile) on a driver without a P2P channel: not run, never faked (counted in p2p_steps_not_run). */
export const NO_P2P_CHANNEL = 'NO_P2P_CHANNEL';
/** A step the driver has no way to take (changePassword, unfriend, quit on the light client): not run. */
export const NOT_SUPPORTED = 'NOT_SUPPORTED';
/** A sendOffline step on a driver without the offline mailbox: not run. */
export const NO_MAILBOX = 'NO_MAILBOX';
/**
 * Outcomes of a step the driver did not run (it lacks what the step needs): they say nothing of how
 * the world served the step, only which driver the scenario was run on.
 */
export const NOT_RUN_OUTCOMES: ReadonlySet<string> = new Set([NO_P2P_CHANNEL, NOT_SUPPORTED, NO_MAILBOX]);

export interface RunnerHost {
  nowMs(): number;
  /** Schedules fn after delayMs, also when the peer has crashed by then (take() parks the script until a restart). */
  after(slot: PeerSlot, delayMs: number, fn: () => void): void;
  /** False once the workload phase is over. */
  readonly acceptingSteps: boolean;
  friendUsername(slot: PeerSlot, which: string): string | null;
  /** Peers the befriend step asks (graph neighbours with a higher index). */
  befriendTargets(slot: PeerSlot): string[];
  /** A step with `expect` ended otherwise. */
  onStepMismatch(slot: PeerSlot, step: string, expected: string, got: string): void;
  onStepOutcome(slot: PeerSlot, step: string, outcome: string): void;
  onCrashStep(slot: PeerSlot, downMs: number | undefined): void;
  readonly p2pAvailable: boolean;
  /** A step with `withinMs` ended (checker served-within-bound). */
  onTimedStep(slot: PeerSlot, step: string, expected: string, outcome: string, sinceMs: number, withinMs: number): void;
  /** Hostile: a raw hello with a guessed or replayed token to `to`'s P2P port. */
  p2pHello(slot: PeerSlot, to: string, token: 'guess' | 'replay', as: string | undefined, done: (outcome: string) => void): void;
  /** Hostile: raw connections to the server that never log in. */
  hoardConnections(slot: PeerSlot, count: number, renew: boolean, done: (outcome: string) => void): void;
  /** Hostile: `rounds` rounds of malformed input to the server (sim/drivers/malformed-input.ts). */
  malformedFrames(slot: PeerSlot, rounds: number, done: (outcome: string) => void): void;
}

interface Frame {
  readonly steps: readonly Step[];
  index: number;
  repeatsLeft: number;
}

export class BehaviourRunner {
  private readonly stack: Frame[] = [];
  private running = false;
  /** Waiting for a restart after a crash. */
  private parked = false;
  done = false;
  /** The step that has started and not ended yet (think steps are not counted: a timer ends them). */
  pendingStep: { readonly step: string; readonly sinceMs: number } | null = null;
  /** The script made the peer go silent: its later steps may never be answered. */
  silenced = false;

  constructor(
    private readonly slot: PeerSlot,
    steps: readonly Step[],
    private readonly host: RunnerHost,
  ) {
    this.stack.push({ steps, index: 0, repeatsLeft: 0 });
  }

  start(): void {
    this.next();
  }

  /** After a restart: carry on where the crash interrupted. */
  resume(): void {
    if (!this.parked) return;
    this.parked = false;
    this.next();
  }

  private next(): void {
    if (this.running) return;
    this.running = true;
    const turn = { sync: true, ranSync: false };
    const continueAfter = this.continuation(turn);
    // Run instant steps in a loop; the first asynchronous step ends it.
    for (let guard = 0; guard < 1_000; guard++) {
      const step = this.take();
      if (step === null) {
        this.running = false;
        return;
      }
      turn.ranSync = false;
      turn.sync = true;
      this.execute(step, continueAfter);
      turn.sync = false;
      if (!turn.ranSync) return;
    }
    // A thousand instant steps in a row: yield to the queue rather than spin.
    this.host.after(this.slot, 0, () => {
      this.running = false;
      this.next();
    });
  }

  /**
   * What a step calls when it ends: noted if it ended at once (the loop in next() goes on), else
   * the next turn starts. Made by a method, not bound to a name in next(): tsx keeps function
   * names, which costs a defineProperty for every named closure made, and this runs every step.
   */
  private continuation(turn: { sync: boolean; ranSync: boolean }): () => void {
    return () => {
      if (turn.sync) {
        turn.ranSync = true;
        return;
      }
      this.running = false;
      this.next();
    };
  }

  /** The next step to run, or null when there is none (finished, parked or phase over). */
  private take(): Step | null {
    if (!this.host.acceptingSteps) return null;
    if (!this.slot.driver.alive) {
      this.parked = true;
      return null;
    }
    for (;;) {
      const frame = this.stack[this.stack.length - 1];
      if (frame === undefined) {
        this.done = true;
        return null;
      }
      const step = frame.steps[frame.index];
      if (step !== undefined) {
        frame.index += 1;
        return step;
      }
      if (frame.repeatsLeft > 0) {
        frame.repeatsLeft -= 1;
        frame.index = 0;
        continue;
      }
      this.stack.pop();
    }
  }

  private push(steps: readonly Step[], times: number): void {
    if (this.stack.length >= STEPS_DEPTH_MAX) throw new RangeError(`steps nested deeper than ${STEPS_DEPTH_MAX}`);
    if (steps.length > 0) this.stack.push({ steps, index: 0, repeatsLeft: times - 1 });
  }

  private execute(step: Step, then: () => void): void {
    const slot = this.slot;
    const driver = slot.driver;
    const host = this.host;
    const finish = this.finisher(then);
    if (typeof step === 'string') {
      switch (step) {
        case 'signup':
          return driver.signup(slot.password, finish('signup', undefined));
        case 'login':
          return driver.login(slot.password, finish('login', undefined));
        case 'logout':
          return driver.logout(finish('logout', undefined));
        case 'quit':
          return this.quit(false, finish('quit', undefined));
        case 'befriend':
          return this.befriend(host.befriendTargets(slot), then);
        case 'silent':
          this.silenced = true;
          driver.goSilent();
          return then();
        case 'crash':
          host.onCrashStep(slot, undefined);
          return then();
      }
    }
    if ('signup' in step) return driver.signup(step.signup.password ?? slot.password, finish('signup', step.signup.expect, step.signup.withinMs));
    if ('login' in step) {
      const given = step.login.password;
      const password = given === undefined ? slot.password : given === 'wrong' ? `${slot.password}-wrong` : given;
      return driver.login(password, finish('login', step.login.expect, step.login.withinMs));
    }
    if ('logout' in step) return driver.logout(finish('logout', step.logout.expect));
    if ('changePassword' in step) {
      const finishChange = finish('changePassword', step.changePassword.expect);
      if (driver.changePassword === undefined) return finishChange(NOT_SUPPORTED);
      return driver.changePassword(step.changePassword.to, finishChange, step.changePassword.old);
    }
    if ('quit' in step) return this.quit(step.quit.logoutFirst === true, finish('quit', step.quit.expect), step.quit.signal === true);
    if ('think' in step) return host.after(slot, samplerOf(step.think)(slot.prng), then);
    if ('choose' in step) {
      let draw = slot.prng.float();
      for (const branch of step.choose) {
        if (draw < branch.p) {
          this.push(branch.steps, 1);
          break;
        }
        draw -= branch.p;
      }
      return then();
    }
    if ('repeat' in step) {
      this.push(step.repeat.steps, step.repeat.times);
      return then();
    }
    if ('friendRequest' in step) return driver.friendRequest(step.friendRequest.to, finish('friendRequest', step.friendRequest.expect, step.friendRequest.withinMs));
    if ('session' in step) {
      const target = host.friendUsername(slot, step.session.with);
      if (target === null) return finish('session', step.session.expect, step.session.withinMs)('NO_FRIEND');
      return driver.sessionRequest(target, finish('session', step.session.expect, step.session.withinMs));
    }
    if ('answer' in step) {
      const answer = step.answer;
      const policy: AnswerPolicy = typeof answer === 'string' ? answer : answer.policy;
      const delay = typeof answer === 'string' || answer.delay === undefined ? () => 0 : samplerOf(answer.delay);
      driver.setAnswerPolicy(policy, () => delay(slot.prng));
      return then();
    }
    if ('chat' in step) {
      // The P2P channel needs the peer machine (driver: peer-machine); never pretend it ran.
      if (driver.chat === undefined) return finish('chat', undefined)(NO_P2P_CHANNEL);
      const target = host.friendUsername(slot, step.chat.with);
      if (target === null) return finish('chat', undefined)('NO_FRIEND');
      return driver.chat(target, step.chat.messages, finish('chat', undefined));
    }
    if ('sendOffline' in step) {
      if (driver.sendOffline === undefined) return finish('sendOffline', undefined)(NO_MAILBOX);
      const target = host.friendUsername(slot, step.sendOffline.with);
      if (target === null) return finish('sendOffline', undefined)('NO_FRIEND');
      return driver.sendOffline(target, step.sendOffline.messages, finish('sendOffline', undefined));
    }
    if ('sendFile' in step) {
      const send = step.sendFile;
      const finishFile = finish('sendFile', send.expect, send.withinMs);
      if (driver.sendFile === undefined) return finishFile(NO_P2P_CHANNEL);
      const target = host.friendUsername(slot, send.with);
      if (target === null) return finishFile('NO_FRIEND');
      return driver.sendFile(target, send.bytes, finishFile, send);
    }
    if ('unfriend' in step) {
      const finishUnfriend = finish('unfriend', step.unfriend.expect);
      if (driver.unfriend === undefined) return finishUnfriend(NOT_SUPPORTED);
      return driver.unfriend(step.unfriend.with, finishUnfriend);
    }
    if ('answerFriends' in step) {
      driver.setFriendPolicy?.(step.answerFriends.policy, step.answerFriends.accept ?? []);
      return then();
    }
    if ('p2pHello' in step) {
      const hello = step.p2pHello;
      return host.p2pHello(slot, hello.to, hello.token, hello.as, finish('p2pHello', hello.expect));
    }
    if ('hoardConnections' in step) {
      return host.hoardConnections(slot, step.hoardConnections.count, step.hoardConnections.renew === true, finish('hoardConnections', undefined));
    }
    if ('malformedFrames' in step) {
      return host.malformedFrames(slot, step.malformedFrames.rounds ?? 1, finish('malformedFrames', undefined));
    }
    if ('crash' in step) {
      host.onCrashStep(slot, step.crash.downMs);
      return then();
    }
    step satisfies never;
  }

  /** The user quits the program: only the peer machine has a quit (the light client has no program to end). */
  private quit(logoutFirst: boolean, done: (outcome: StepOutcome) => void, signal = false): void {
    const driver = this.slot.driver;
    if (driver.quit === undefined) return done(NOT_SUPPORTED);
    return driver.quit(logoutFirst, done, signal);
  }

  /** A step's callback maker: records the outcome (and any mismatch), then goes on. */
  private finisher(then: () => void): (name: string, expected: string | undefined, withinMs?: number) => (outcome: StepOutcome) => void {
    const slot = this.slot;
    const host = this.host;
    return (name, expected, withinMs) => {
      const sinceMs = host.nowMs();
      this.pendingStep = { step: name, sinceMs };
      return (outcome) => {
        this.pendingStep = null;
        host.onStepOutcome(slot, name, outcome);
        if (expected !== undefined && outcome !== expected) host.onStepMismatch(slot, name, expected, outcome);
        if (withinMs !== undefined) host.onTimedStep(slot, name, expected ?? (name === 'session' ? 'established' : 'ok'), outcome, sinceMs, withinMs);
        then();
      };
    };
  }

  private befriend(targets: string[], then: () => void): void {
    const target = targets.shift();
    if (target === undefined) return then();
    this.pendingStep = { step: 'befriend', sinceMs: this.host.nowMs() };
    this.slot.driver.friendRequest(target, (outcome) => {
      this.pendingStep = null;
      this.host.onStepOutcome(this.slot, 'befriend', outcome);
      this.befriend(targets, then);
    });
  }
}
