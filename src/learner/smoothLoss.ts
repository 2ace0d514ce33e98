/** What a SmoothedLoss needs to carry on where it stopped, e.g. from a checkpoint. */
export interface SmoothedLossState {
  /** The raw (biased) moving average. */
  average: number;
  /** Losses seen so far. */
  count: number;
}

/**
 * fastai's training loss: an exponential moving average of batch losses with weight `beta`
 * on the past, divided by `1 - beta^count` so the first values are not pulled toward the
 * zero it starts from.
 */
export class SmoothedLoss {
  private average: number;
  private count: number;

  constructor(
    readonly beta = 0.98,
    state: SmoothedLossState = { average: 0, count: 0 },
  ) {
    if (!(beta >= 0 && beta < 1)) {
      throw new RangeError(`Expected beta to be in [0, 1), but got ${beta}.`);
    }
    this.average = state.average;
    this.count = state.count;
  }

  /** Takes one batch's loss and returns the smoothed loss including it. */
  add(loss: number): number {
    this.average = this.beta * this.average + (1 - this.beta) * loss;
    this.count += 1;
    return this.value;
  }

  /** The bias-corrected average; NaN before the first loss. */
  get value(): number {
    return this.count === 0 ? NaN : this.average / (1 - this.beta ** this.count);
  }

  /** Losses taken so far. */
  get seen(): number {
    return this.count;
  }

  /** A plain copy of the state, for a checkpoint's JSON. */
  state(): SmoothedLossState {
    return { average: this.average, count: this.count };
  }
}
