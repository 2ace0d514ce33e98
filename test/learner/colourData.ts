/**
 * A data set a small convnet learns in a few steps: the class of an image is which of its
 * colour channels is bright (red, green, blue), or none (class 3, dark). Flips and crops keep
 * the class, so augmentation may stay on. Pixels are deterministic noise from `seed`.
 */
import * as tf from '@tensorflow/tfjs';
import type { CifarArrays, Split } from '../../src/data/CifarArrays';
import { createDataLoader, type DataLoader } from '../../src/data';
import { ConvBnNet } from '../../src/models';

export const COLOUR_CLASSES = ['red', 'green', 'blue', 'dark'];

function colourSplit(count: number, seed: number): Split {
  // mulberry32: a small, well-mixed generator; any fixed stream would do.
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const images = new Uint8Array(count * 32 * 32 * 3);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % COLOUR_CLASSES.length;
    labels[i] = label;
    for (let p = 0; p < 32 * 32; p++) {
      for (let c = 0; c < 3; c++) {
        const noise = Math.floor(random() * 110);
        images[(i * 32 * 32 + p) * 3 + c] = noise + (c === label ? 140 : 0);
      }
    }
  }
  return { images, labels, count };
}

/** `trainCount` training and `testCount` test images of the four colour classes. */
export function colourCifar(trainCount: number, testCount: number, seed = 1): CifarArrays {
  return {
    classes: [...COLOUR_CLASSES],
    train: colourSplit(trainCount, seed),
    test: colourSplit(testCount, seed + 1000),
  };
}

/** A loader over colourCifar with a fixed shuffling seed. */
export function colourLoader(
  options: { trainCount?: number; testCount?: number; batchSize?: number; augment?: boolean } = {},
): DataLoader {
  return createDataLoader(colourCifar(options.trainCount ?? 128, options.testCount ?? 64), {
    batchSize: options.batchSize ?? 32,
    seed: 7,
    augment: options.augment ?? true,
  });
}

/** The lesson's ConvBnNet, narrow: conv1 to 4 channels, BnLayers to 8 and 16, 4 classes. */
export function tinyConvBn(seed = 3): tf.LayersModel {
  return ConvBnNet([4, 8, 16], COLOUR_CLASSES.length, { seed });
}
