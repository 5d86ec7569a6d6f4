import { describe, expect, it } from 'vitest';
import { EffectPump } from '../../core/effect-pump.ts';

describe('EffectPump', () => {
  it('drains effects caused while performing, in order, within the running pump', () => {
    const queue: string[][] = [['a']];
    const performed: string[] = [];
    const pump: EffectPump<string> = new EffectPump(
      () => queue.shift() ?? [],
      (effects) => {
        for (const effect of effects) {
          performed.push(effect);
          // Performing 'a' feeds the machine again; the nested pump leaves it to the running one.
          if (effect === 'a') {
            queue.push(['b']);
            expect(pump.pump()).toBe(false);
          }
        }
      },
      8,
    );
    expect(pump.pump()).toBe(true);
    expect(performed).toEqual(['a', 'b']);
  });

  it('stops after roundsMax rounds even if effects keep coming', () => {
    let rounds = 0;
    const pump = new EffectPump<number>(() => [rounds], () => void rounds++, 4);
    pump.pump();
    expect(rounds).toBe(4);
  });
});
