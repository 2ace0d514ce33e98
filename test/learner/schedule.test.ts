// The pure parts of the learner: the rate schedule value by value against fastai 0.7's
// formulas, the loss smoother, the lrFind suggestion, and the history's CSV and rows.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkFitSpec,
  epochsIn,
  FitSpecError,
  lrAt,
  normalizeFitSpec,
  type FitSpec,
} from '../../src/learner/schedule';
import { SmoothedLoss } from '../../src/learner/smoothLoss';
import { suggestLr } from '../../src/learner/suggestLr';
import {
  epochHeader,
  formatEpochRow,
  historyToCsv,
  type EpochRecord,
} from '../../src/learner/history';

/** The rates a fit runs, one an iteration, from lrAt. */
function schedule(spec: FitSpec, itersPerEpoch: number): number[] {
  const total = epochsIn(spec) * itersPerEpoch;
  return Array.from({ length: total }, (_, i) => lrAt(spec, i, itersPerEpoch));
}

/**
 * The same schedule written out from the cycle lengths, as fastai's CosAnneal steps it:
 * `cycles` lists each cycle's length in iterations.
 */
function expectedCosine(lr: number, cycles: number[]): number[] {
  const rates: number[] = [];
  for (const n of cycles) {
    for (let t = 0; t < n; t++) {
      const global = rates.length;
      rates.push(global < cycles[0] / 20 ? lr / 100 : (lr / 2) * (1 + Math.cos((Math.PI * t) / n)));
    }
  }
  return rates;
}

describe('lrAt', () => {
  it('holds the rate constant for nCycle epochs without cycleLen', () => {
    assert.deepEqual(schedule({ lr: 0.03, nCycle: 2 }, 5), new Array(10).fill(0.03));
  });

  it('anneals each cycle by cosine, with lr/100 for the first 1/20 of the first cycle', () => {
    // 40 iterations a cycle: iterations 0 and 1 (< 40 / 20 = 2) are the warm-up.
    const spec = { lr: 0.1, nCycle: 3, cycleLen: 1 };
    const rates = schedule(spec, 40);
    assert.deepEqual(rates, expectedCosine(0.1, [40, 40, 40]));
    assert.equal(rates[0], 0.001);
    assert.equal(rates[1], 0.001);
    assert.equal(rates[2], 0.05 * (1 + Math.cos((Math.PI * 2) / 40)));
    // Each later cycle restarts at full rate; the warm-up does not come back.
    assert.equal(rates[40], 0.1);
    assert.equal(rates[80], 0.1);
  });

  it('lengthens every cycle by cycleMult', () => {
    // 15 iterations an epoch, cycles of 2, 4 and 8 epochs: 30, 60, 120 iterations.
    const spec = { lr: 0.2, nCycle: 3, cycleLen: 2, cycleMult: 2 };
    const rates = schedule(spec, 15);
    assert.equal(rates.length, 210);
    assert.deepEqual(rates, expectedCosine(0.2, [30, 60, 120]));
    // Warm-up: iteration < 30 / 20 = 1.5, so iterations 0 and 1.
    assert.deepEqual(rates.slice(0, 3), [0.002, 0.002, 0.1 * (1 + Math.cos((Math.PI * 2) / 30))]);
    assert.equal(rates[30], 0.2);
    assert.equal(rates[90], 0.2);
    assert.equal(rates[90 + 60], 0.1 * (1 + Math.cos((Math.PI * 60) / 120)));
  });

  it('restarts from the fit: the same iteration gives the same rate every time', () => {
    const spec = { lr: 0.1, nCycle: 2, cycleLen: 1, cycleMult: 2 };
    assert.equal(lrAt(spec, 17, 7), lrAt({ ...spec }, 17, 7));
  });

  it('refuses iterations outside the fit', () => {
    assert.throws(() => lrAt({ lr: 0.1, nCycle: 1 }, 5, 5), /from 0 to 4 .* but got 5/);
    assert.throws(() => lrAt({ lr: 0.1, nCycle: 1 }, -1, 5), RangeError);
    assert.throws(() => lrAt({ lr: 0.1, nCycle: 1 }, 0, 0), /itersPerEpoch/);
  });
});

describe('epochsIn', () => {
  it('counts nCycle epochs without cycleLen, the geometric sum with it', () => {
    assert.equal(epochsIn({ lr: 1, nCycle: 2 }), 2);
    assert.equal(epochsIn({ lr: 1, nCycle: 4, cycleLen: 1 }), 4);
    assert.equal(epochsIn({ lr: 1, nCycle: 3, cycleLen: 2 }), 6);
    assert.equal(epochsIn({ lr: 1, nCycle: 3, cycleLen: 1, cycleMult: 2 }), 1 + 2 + 4);
    assert.equal(epochsIn({ lr: 1, nCycle: 2, cycleLen: 3, cycleMult: 3 }), 3 + 9);
  });
});

describe('checkFitSpec', () => {
  it('says which field is wrong, what it got, and in which fit', () => {
    assert.throws(
      () => checkFitSpec({ lr: 0, nCycle: 1 }),
      (err: Error) =>
        err instanceof FitSpecError &&
        err.message === 'Expected lr to be a positive number in the fit 0:1, but got 0.',
    );
    assert.throws(() => checkFitSpec({ lr: NaN, nCycle: 1 }), FitSpecError);
    assert.throws(() => checkFitSpec({ lr: 0.1, nCycle: 1.5 }), /nCycle .* whole number/);
    assert.throws(() => checkFitSpec({ lr: 0.1, nCycle: 2, cycleLen: 0 }), /cycleLen/);
    assert.throws(
      () => checkFitSpec({ lr: 0.1, nCycle: 2, cycleLen: 1, cycleMult: 1.5 }),
      /cycleMult .* but got 1.5. Cycles here are whole epochs long/,
    );
    assert.throws(
      () => checkFitSpec({ lr: 0.1, nCycle: 2, cycleMult: 2 }),
      /Expected cycleLen with cycleMult 2/,
    );
  });

  it('normalises a spec for comparison, dropping unset options', () => {
    const spec = { cycleMult: undefined, nCycle: 2, lr: 0.1, cycleLen: 1 };
    assert.equal(JSON.stringify(normalizeFitSpec(spec)), '{"lr":0.1,"nCycle":2,"cycleLen":1}');
  });
});

describe('SmoothedLoss', () => {
  it('is the bias-corrected moving average of the losses, beta 0.98', () => {
    const smoother = new SmoothedLoss();
    assert.ok(Number.isNaN(smoother.value));
    const beta = 0.98;
    // The first value is the first loss itself, (1 - beta) * 2 / (1 - beta), up to rounding.
    assert.ok(Math.abs(smoother.add(2) - 2) < 1e-12);
    const average = beta * ((1 - beta) * 2) + (1 - beta) * 1;
    assert.equal(smoother.add(1), average / (1 - beta ** 2));
    assert.equal(smoother.seen, 2);
  });

  it('carries on from a saved state exactly', () => {
    const a = new SmoothedLoss();
    [3, 2.5, 2.2].forEach((loss) => a.add(loss));
    const b = new SmoothedLoss(0.98, JSON.parse(JSON.stringify(a.state())));
    assert.equal(b.add(1.9), a.add(1.9));
  });
});

describe('suggestLr', () => {
  const lrs = Array.from({ length: 40 }, (_, i) => 1e-5 * 10 ** (i / 5));

  it('picks the steepest fall of the loss against log(lr), ends skipped', () => {
    // Flat, then a fall that is steepest between points 24 and 25, then a rise.
    const losses = lrs.map((_, i) => (i < 20 ? 2 : i <= 24 ? 2 - (i - 20) * 0.1 : 1));
    losses[25] = 0.5;
    const { suggestedLr, suggestion } = suggestLr(lrs, losses);
    assert.equal(suggestedLr, lrs[24]);
    assert.match(suggestion, /^steepest descent/);
  });

  it('ignores a fall among the first 10 or last 5 points', () => {
    const losses = lrs.map((_, i) => (i === 3 || i === 37 ? 0.1 : 2 + i * 0.01));
    const { suggestedLr, suggestion } = suggestLr(lrs, losses);
    // No fall where it looks, so a tenth of the rate at the lowest loss (point 3).
    assert.equal(suggestedLr, lrs[3] / 10);
    assert.match(suggestion, /^a tenth of the rate at the lowest/);
  });

  it('has no suggestion without points', () => {
    assert.ok(Number.isNaN(suggestLr([], []).suggestedLr));
    assert.match(suggestLr([], []).suggestion, /^none/);
  });
});

describe('history', () => {
  const history: EpochRecord[] = [
    {
      epoch: 1,
      lr: 0.03,
      trainLoss: 1.5,
      validLoss: 1.25,
      accuracy: 0.5,
      seconds: 2.5,
      imagesPerSec: 100.4,
    },
    {
      epoch: 2,
      lr: 1e-3,
      trainLoss: 1.125,
      validLoss: 1,
      accuracy: 0.625,
      seconds: 2,
      imagesPerSec: 125,
    },
  ];

  it('writes CSV with the JSON field names and full precision', () => {
    assert.equal(
      historyToCsv(history),
      'epoch,lr,trainLoss,validLoss,accuracy,seconds,imagesPerSec\n' +
        '1,0.03,1.5,1.25,0.5,2.5,100.4\n' +
        '2,0.001,1.125,1,0.625,2,125\n',
    );
  });

  it('prints rows aligned under the header', () => {
    const header = epochHeader();
    const row = formatEpochRow(history[0]);
    assert.equal(row.length, header.length);
    assert.match(header, /^epoch +lr +train loss +valid loss +accuracy +seconds +images\/s$/);
    assert.deepEqual(row.trim().split(/ +/), [
      '1',
      '3.00e-2',
      '1.5000',
      '1.2500',
      '0.5000',
      '2.5',
      '100',
    ]);
  });
});
