/**
 * The learning-rate schedule of one `fit` call, as fastai 0.7 runs it: a constant rate, or
 * cosine annealing with warm restarts (SGDR) and fastai's `CosAnneal` warm-up.
 */

/** One `fit` call: `learner.fit(lr, nCycle, { cycleLen, cycleMult })`, or `--fit lr:n:len:mult`. */
export interface FitSpec {
  /** The rate: constant without `cycleLen`, the top of every cosine cycle with it. */
  lr: number;
  /** Cycles to run; without `cycleLen`, the number of epochs. */
  nCycle: number;
  /** Epochs in the first cycle. Without it the rate is constant (no annealing). */
  cycleLen?: number;
  /** Each cycle is this many times longer than the one before. Default 1. */
  cycleMult?: number;
}

/** Thrown for a FitSpec that is not a schedule: a rate or count that is not positive. */
export class FitSpecError extends RangeError {
  override name = 'FitSpecError';
}

/** Checks `spec` and throws a FitSpecError saying which field is wrong and how. */
export function checkFitSpec(spec: FitSpec): void {
  const where = `in the fit ${describeFitSpec(spec)}`;
  if (typeof spec.lr !== 'number' || !Number.isFinite(spec.lr) || spec.lr <= 0) {
    throw new FitSpecError(`Expected lr to be a positive number ${where}, but got ${spec.lr}.`);
  }
  const whole = (name: 'nCycle' | 'cycleLen' | 'cycleMult', value: unknown) => {
    if (!Number.isInteger(value) || (value as number) < 1) {
      throw new FitSpecError(
        `Expected ${name} to be a whole number >= 1 ${where}, but got ${value}. ` +
          // Whole cycle lengths keep every cycle on epoch boundaries, where checkpoints are.
          (name === 'nCycle' ? '' : 'Cycles here are whole epochs long.'),
      );
    }
  };
  whole('nCycle', spec.nCycle);
  if (spec.cycleLen !== undefined) whole('cycleLen', spec.cycleLen);
  if (spec.cycleMult !== undefined) whole('cycleMult', spec.cycleMult);
  if (spec.cycleMult !== undefined && spec.cycleMult !== 1 && spec.cycleLen === undefined) {
    throw new FitSpecError(
      `Expected cycleLen with cycleMult ${spec.cycleMult} ${where}, but cycleLen is missing; ` +
        'without cycleLen the rate is constant and there are no cycles to lengthen.',
    );
  }
}

/**
 * `spec` with its fields in a fixed order and unset options left out, so that two equal
 * plans have equal JSON (a checkpoint compares them that way).
 */
export function normalizeFitSpec(spec: FitSpec): FitSpec {
  const { lr, nCycle, cycleLen, cycleMult } = spec;
  return {
    lr,
    nCycle,
    ...(cycleLen !== undefined && { cycleLen }),
    ...(cycleMult !== undefined && { cycleMult }),
  };
}

/** `lr:nCycle[:cycleLen[:cycleMult]]`, the CLI's `--fit` notation. */
export function describeFitSpec(spec: FitSpec): string {
  const parts = [spec.lr, spec.nCycle];
  if (spec.cycleLen !== undefined) parts.push(spec.cycleLen);
  if (spec.cycleMult !== undefined) parts.push(spec.cycleMult);
  return parts.join(':');
}

/**
 * Epochs the fit runs: `nCycle` without `cycleLen`, else the sum over the cycles
 * `i < nCycle` of `cycleLen * cycleMult^i` (fastai's `sum_geom`).
 */
export function epochsIn(spec: FitSpec): number {
  checkFitSpec(spec);
  if (spec.cycleLen === undefined) return spec.nCycle;
  const mult = spec.cycleMult ?? 1;
  let epochs = 0;
  for (let i = 0; i < spec.nCycle; i++) epochs += spec.cycleLen * mult ** i;
  return epochs;
}

/**
 * The rate for training iteration `iteration` (0 for the fit's first batch) of the fit `spec`,
 * with `itersPerEpoch` batches an epoch. A pure function: a resumed run recomputes the rate
 * from its position alone.
 *
 * With `cycleLen`, cycle `i` lasts `n_i = cycleLen * cycleMult^i * itersPerEpoch` iterations
 * and the rate at iteration `t` of it is `lr/2 * (1 + cos(pi * t / n_i))`: full `lr` at the
 * start of every cycle, near zero at its end. As fastai's `CosAnneal`, while `iteration` is
 * below `n_0 / 20` the rate is `lr / 100` instead; those iterations still count toward the
 * first cycle.
 */
export function lrAt(spec: FitSpec, iteration: number, itersPerEpoch: number): number {
  checkFitSpec(spec);
  if (!Number.isInteger(itersPerEpoch) || itersPerEpoch < 1) {
    throw new RangeError(
      `Expected itersPerEpoch to be a whole number >= 1, but got ${itersPerEpoch}.`,
    );
  }
  const total = epochsIn(spec) * itersPerEpoch;
  if (!Number.isInteger(iteration) || iteration < 0 || iteration >= total) {
    throw new RangeError(
      `Expected iteration to be a whole number from 0 to ${total - 1} for the fit ` +
        `${describeFitSpec(spec)} at ${itersPerEpoch} iterations an epoch, but got ${iteration}.`,
    );
  }
  if (spec.cycleLen === undefined) return spec.lr;
  const first = spec.cycleLen * itersPerEpoch;
  if (iteration < first / 20) return spec.lr / 100;
  // Walk to the cycle holding `iteration`; t is the iteration within it, n its length.
  const mult = spec.cycleMult ?? 1;
  let t = iteration;
  let n = first;
  while (t >= n) {
    t -= n;
    n *= mult;
  }
  return (spec.lr / 2) * (1 + Math.cos((Math.PI * t) / n));
}
