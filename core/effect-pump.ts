/**
 * Drains a machine's effects until it is quiet. Carrying out an effect can feed the machine again
 * (a stream that closes at once, a slow reader cut off); those inputs only queue more effects,
 * which the running loop picks up in its next round, so a nested pump() does nothing. Bounded:
 * at most `roundsMax` rounds per pump, each handling what the previous one caused.
 */
export class EffectPump<E> {
  private pumping = false;

  constructor(
    private readonly takeEffects: () => readonly E[],
    private readonly performBatch: (effects: readonly E[]) => void,
    private readonly roundsMax: number,
  ) {}

  /** True when this call drained the machine; false when a pump already running will. */
  pump(): boolean {
    if (this.pumping) return false;
    this.pumping = true;
    try {
      for (let round = 0; round < this.roundsMax; round++) {
        const effects = this.takeEffects();
        if (effects.length === 0) break;
        this.performBatch(effects);
      }
    } finally {
      this.pumping = false;
    }
    return true;
  }
}
