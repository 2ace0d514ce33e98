import { PLOT_SKIP_END as SKIP_END, PLOT_SKIP_START as SKIP_START } from './plot';

/**
 * A rate to try from an lrFind curve, and the rule that gave it.
 *
 * The rule: the rate where the smoothed loss falls fastest against log(rate), that is the
 * most negative forward difference `(loss[i+1] - loss[i]) / (ln lr[i+1] - ln lr[i])`, over
 * the points the plot shows (fastai's `sched.plot` leaves out the first 10 and the last 5).
 * When fewer than two points remain or the loss never falls there, a tenth of the rate at the
 * lowest loss of the whole curve. With no points at all, NaN.
 */
export function suggestLr(
  lrs: readonly number[],
  losses: readonly number[],
): { suggestedLr: number; suggestion: string } {
  if (lrs.length !== losses.length) {
    throw new RangeError(
      `Expected as many losses as rates, but got ${losses.length} losses for ${lrs.length} rates.`,
    );
  }
  if (lrs.length === 0) {
    return {
      suggestedLr: NaN,
      suggestion:
        'none: the loss blew up at the first iteration; try a lower startLr or check the data',
    };
  }
  const end = lrs.length - SKIP_END;
  let steepest = -1;
  let steepestSlope = 0;
  for (let i = SKIP_START; i + 1 < end; i++) {
    const slope = (losses[i + 1] - losses[i]) / (Math.log(lrs[i + 1]) - Math.log(lrs[i]));
    if (slope < steepestSlope) {
      steepestSlope = slope;
      steepest = i;
    }
  }
  if (steepest >= 0) {
    return {
      suggestedLr: lrs[steepest],
      suggestion:
        `steepest descent: the rate where the smoothed loss falls fastest against log(lr) ` +
        `(first ${SKIP_START} and last ${SKIP_END} points skipped)`,
    };
  }
  let lowest = 0;
  for (let i = 1; i < losses.length; i++) if (losses[i] < losses[lowest]) lowest = i;
  return {
    suggestedLr: lrs[lowest] / 10,
    suggestion:
      'a tenth of the rate at the lowest smoothed loss (too few points, or no fall, ' +
      'for the steepest descent)',
  };
}
