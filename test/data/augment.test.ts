import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import {
  augmentInto,
  CIFAR_STATS,
  computeStats,
  drawAugmentation,
  IMAGE_LENGTH,
  normalisationTable,
  normaliseInto,
  padImage,
  type Augmentation,
  type PadMode,
} from '../../src/data/augment';
import { createRandom } from '../../src/data/random';
import { fixtureImage } from '../helpers/dataFixtures';

/** Pixel (r, c, k) of an HWC image `size` wide. */
const at = (img: ArrayLike<number>, size: number, r: number, c: number, k: number): number =>
  img[(r * size + c) * 3 + k];

/** The lesson's float32 arithmetic, done with a Float32Array so no step is in float64. */
function fastaiNormalise(p: number, c: number): number {
  const f = new Float32Array(4);
  f[0] = p / 255;
  f[1] = CIFAR_STATS.mean[c];
  f[2] = CIFAR_STATS.std[c];
  f[3] = f[0] - f[1];
  f[3] = f[3] / f[2];
  return f[3];
}

/** pad, then flip, then crop, done step by step on whole arrays: the reference. */
function referenceAugment(image: Uint8Array, aug: Augmentation, padMode: PadMode): Uint8Array {
  const padded = padImage(image, padMode);
  const out = new Uint8Array(IMAGE_LENGTH);
  for (let r = 0; r < 32; r++) {
    for (let c = 0; c < 32; c++) {
      const pc = aug.flip ? 39 - (aug.left + c) : aug.left + c;
      for (let k = 0; k < 3; k++) out[(r * 32 + c) * 3 + k] = at(padded, 40, aug.top + r, pc, k);
    }
  }
  return out;
}

describe('normalisation', () => {
  it('gives the lesson float32 values, bit for bit', () => {
    const table = normalisationTable();
    for (let c = 0; c < 3; c++) {
      for (const p of [0, 1, 127, 128, 200, 254, 255]) {
        assert.equal(table[c * 256 + p], fastaiNormalise(p, c), `channel ${c}, pixel ${p}`);
      }
    }
    // Spot values, worked out by hand: (0 - 0.4914) / 0.24703 and (1 - 0.44653) / 0.26159.
    assert.ok(Math.abs(table[0] - -1.98923) < 1e-5);
    assert.ok(Math.abs(table[512 + 255] - 2.115791) < 1e-5);
  });

  it('writes a whole image through the table, channel by channel', () => {
    const image = fixtureImage(3);
    const table = normalisationTable();
    const out = new Float32Array(2 * IMAGE_LENGTH);
    normaliseInto(image, 0, table, out, 1);
    assert.ok(
      out.subarray(0, IMAGE_LENGTH).every((v) => v === 0),
      'slot 0 untouched',
    );
    for (let i = 0; i < IMAGE_LENGTH; i++) {
      assert.equal(out[IMAGE_LENGTH + i], fastaiNormalise(image[i], i % 3));
    }
  });

  it('refuses stats that are not three finite numbers with positive std', () => {
    assert.throws(() => normalisationTable({ mean: [0, 0], std: [1, 1, 1] }), /Expected stats/);
    assert.throws(() => normalisationTable({ mean: [0, 0, 0], std: [1, 0, 1] }), /positive std/);
  });
});

describe('padding', () => {
  // A row a, b, c, ... as values 0..31 in every channel makes the mirror easy to read.
  const ramp = new Uint8Array(IMAGE_LENGTH);
  for (let r = 0; r < 32; r++) {
    for (let c = 0; c < 32; c++)
      for (let k = 0; k < 3; k++) ramp[(r * 32 + c) * 3 + k] = c + 100 * k;
  }

  it("reflects like OpenCV's BORDER_REFLECT, repeating the edge pixel (dcba|abcd)", () => {
    const padded = padImage(ramp, 'reflect');
    const row = (r: number) => Array.from({ length: 40 }, (_, c) => at(padded, 40, r, c, 0));
    assert.deepEqual(row(10).slice(0, 6), [3, 2, 1, 0, 0, 1]);
    assert.deepEqual(row(10).slice(34), [30, 31, 31, 30, 29, 28]);
    assert.equal(at(padded, 40, 0, 0, 2), 203, 'channels are padded alike');
    // Rows too: padded row 0 is image row 3, padded row 3 is image row 0, row 39 is row 28.
    const column = new Uint8Array(IMAGE_LENGTH);
    for (let r = 0; r < 32; r++) column[r * 96] = r;
    const p2 = padImage(column, 'reflect');
    assert.deepEqual(
      [0, 1, 2, 3, 4, 36, 39].map((r) => at(p2, 40, r, 4, 0)),
      [3, 2, 1, 0, 0, 31, 28],
    );
  });

  it('pads with black pixels in zeros mode', () => {
    const padded = padImage(ramp, 'zeros');
    const row = Array.from({ length: 40 }, (_, c) => at(padded, 40, 10, c, 1));
    assert.deepEqual(row.slice(0, 6), [0, 0, 0, 0, 100, 101]);
    assert.deepEqual(row.slice(34), [130, 131, 0, 0, 0, 0]);
    assert.equal(at(padded, 40, 2, 20, 1), 0);
  });
});

describe('augmentInto', () => {
  const table = normalisationTable();
  const image = fixtureImage(7);

  it('flips a known image left-right (centre crop, flip on)', () => {
    const out = new Float32Array(IMAGE_LENGTH);
    augmentInto(image, 0, { flip: true, top: 4, left: 4 }, 'reflect', table, out, 0);
    for (let r = 0; r < 32; r++) {
      for (let c = 0; c < 32; c++) {
        for (let k = 0; k < 3; k++) {
          assert.equal(out[(r * 32 + c) * 3 + k], table[k * 256 + at(image, 32, r, 31 - c, k)]);
        }
      }
    }
  });

  it('gives the image back with the centre crop and no flip, as validation does', () => {
    const out = new Float32Array(IMAGE_LENGTH);
    const expected = new Float32Array(IMAGE_LENGTH);
    augmentInto(image, 0, { flip: false, top: 4, left: 4 }, 'reflect', table, out, 0);
    normaliseInto(image, 0, table, expected, 0);
    assert.deepEqual(out, expected);
  });

  it('matches pad, flip, crop done step by step, for every offset, flip and pad mode', () => {
    const images = new Uint8Array(3 * IMAGE_LENGTH);
    images.set(image, 2 * IMAGE_LENGTH);
    const out = new Float32Array(2 * IMAGE_LENGTH);
    for (const padMode of ['reflect', 'zeros'] as const) {
      for (const flip of [false, true]) {
        for (let top = 0; top < 8; top++) {
          for (let left = 0; left < 8; left++) {
            const aug = { flip, top, left };
            augmentInto(images, 2, aug, padMode, table, out, 1);
            const ref = referenceAugment(image, aug, padMode);
            for (let i = 0; i < IMAGE_LENGTH; i++) {
              if (out[IMAGE_LENGTH + i] !== table[(i % 3) * 256 + ref[i]]) {
                assert.fail(`${padMode} ${JSON.stringify(aug)}: value ${i} differs`);
              }
            }
          }
        }
      }
    }
  });

  it('shows reflected border values at the corner crop', () => {
    const out = new Float32Array(IMAGE_LENGTH);
    augmentInto(image, 0, { flip: false, top: 0, left: 0 }, 'reflect', table, out, 0);
    // Output (0, 0) is padded (0, 0), which BORDER_REFLECT fills from image (3, 3).
    assert.equal(out[0], table[at(image, 32, 3, 3, 0)]);
    // Output (3, 4) is padded (3, 4): image (0, 0).
    assert.equal(out[(3 * 32 + 4) * 3 + 1], table[256 + at(image, 32, 0, 0, 1)]);
    augmentInto(image, 0, { flip: false, top: 0, left: 0 }, 'zeros', table, out, 0);
    assert.equal(out[0], table[0], 'zero padding is a black pixel, then normalised');
  });
});

describe('drawAugmentation', () => {
  it('draws crop offsets 0 to 7, each about as often, and flips half the time', () => {
    const random = createRandom(42);
    const tops = new Array(8).fill(0);
    const lefts = new Array(8).fill(0);
    let flips = 0;
    const draws = 16000;
    for (let i = 0; i < draws; i++) {
      const { flip, top, left } = drawAugmentation(random);
      assert.ok(Number.isInteger(top) && top >= 0 && top <= 7, `top ${top}`);
      assert.ok(Number.isInteger(left) && left >= 0 && left <= 7, `left ${left}`);
      tops[top]++;
      lefts[left]++;
      if (flip) flips++;
    }
    for (const count of [...tops, ...lefts]) assert.ok(count > 1800 && count < 2200, `${count}`);
    assert.ok(flips > 7700 && flips < 8300, `${flips} flips`);
  });

  it('takes floor(U * 8): the extremes of U give offsets 0 and 7', () => {
    const values = [0.49, 0, 0.999999];
    const aug = drawAugmentation(() => values.shift() ?? 0);
    assert.deepEqual(aug, { flip: true, top: 0, left: 7 });
  });
});

describe('computeStats', () => {
  it('gives per-channel mean and population std of pixels scaled to 0..1', () => {
    const images = new Uint8Array(2 * IMAGE_LENGTH);
    for (let i = 0; i < IMAGE_LENGTH; i += 3) {
      images[i] = 255; // image 0: red 1, green 0, blue 0
      images[IMAGE_LENGTH + i] = 255; // image 1: red 1, green 1, blue 0.2
      images[IMAGE_LENGTH + i + 1] = 255;
      images[IMAGE_LENGTH + i + 2] = 51;
    }
    const { mean, std } = computeStats(images);
    assert.deepEqual(
      mean.map((v) => +v.toFixed(12)),
      [1, 0.5, 0.1],
    );
    assert.deepEqual(
      std.map((v) => +v.toFixed(12)),
      [0, 0.5, 0.1],
    );
    assert.deepEqual(
      computeStats(images, 1).mean.map((v) => +v.toFixed(12)),
      [1, 0, 0],
    );
  });

  it('refuses a count outside the data', () => {
    assert.throws(() => computeStats(new Uint8Array(IMAGE_LENGTH), 2), /from 1 to 1/);
  });
});
