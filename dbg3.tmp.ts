import { runScenario } from './sim/command/run-scenario.ts';
import { loadScenarioFile } from './sim/scenarios/scenario-loader.ts';
import { SessionCauses } from './sim/checkers/session-cause-checker.ts';
const who = process.env.DBG;
const P = SessionCauses.prototype as any;
for (const name of ['serverFrames', 'failed', 'opened', 'answeredNo', 'chatOpen', 'linkLost', 'logoutTyped']) {
  const orig = P[name];
  P[name] = function (this: any, ...args: any[]) {
    if (this.username === who) {
      if (name === 'serverFrames') { for (const m of args[0]) if (String(m.type).startsWith('session') || String(m.type).startsWith('friend') || m.type === 'error' || m.type==='logout.ok') console.log(args[1]|0, 'wire', JSON.stringify(m).slice(0, 120)); }
      else console.log(name, JSON.stringify(args));
    }
    return orig.apply(this, args);
  };
}
const s = loadScenarioFile(process.argv[2]!).scenario;
const r = runScenario(s, { seed: s.seed ?? 1 });
console.log(r.violations.map((v) => v.detail));
