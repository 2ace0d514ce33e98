import * as tf from '@tensorflow/tfjs';

import type { Batch, DataLoader } from './Batch';
import type { CifarArrays, Split } from './CifarArrays';
import {
  augmentInto,
  drawAugmentation,
  IMAGE_LENGTH,
  normalisationTable,
  normaliseInto,
  type ChannelStats,
  type PadMode,
  CIFAR_STATS,
} from './augment';
import { createRandom, deriveSeed, shuffledIndices } from './random';

/** How createDataLoader batches the arrays. */
export interface LoaderOptions {
  /** Images a batch; the last batch of an epoch may be smaller. Default 256, the lesson's bs. */
  batchSize?: number;
  /**
   * Seed of the shuffling and augmentation streams. Default: a random one, drawn once per loader,
   * so the loader is still consistent with itself (`train(k)` twice gives the same batches).
   */
  seed?: number;
  /** Pad, flip and crop training images. Default true; validation is never augmented. */
  augment?: boolean;
  /** How the crop's padding is filled. Default `'reflect'` (fastai's BORDER_REFLECT). */
  padMode?: PadMode;
  /** Use only the first N training images (for quick runs). Default: all. */
  trainLimit?: number;
  /** Use only the first N test (validation) images. Default: all. */
  testLimit?: number;
  /** Per-channel normalisation. Default: the lesson's CIFAR_STATS. */
  stats?: ChannelStats;
}

/**
 * Builds the lesson's data loader over decoded arrays: training batches reshuffled every epoch
 * and augmented (pad 4 by reflection, random flip, random 32x32 crop), validation batches in
 * order, both normalised per channel.
 *
 * Batches are made in plain JS into a fresh Float32Array and become one tensor each; nothing
 * else touches the backend, so a batch costs exactly the two tensors the consumer disposes.
 */
export function createDataLoader(data: CifarArrays, options: LoaderOptions = {}): DataLoader {
  const batchSize = options.batchSize ?? 256;
  checkCount('batchSize', batchSize);
  const augment = options.augment ?? true;
  const padMode = options.padMode ?? 'reflect';
  if (padMode !== 'reflect' && padMode !== 'zeros') {
    throw new RangeError(`Expected padMode to be 'reflect' or 'zeros', but got '${padMode}'.`);
  }
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
  if (!Number.isFinite(seed)) {
    throw new RangeError(`Expected seed to be a finite number, but got ${seed}.`);
  }
  const table = normalisationTable(options.stats ?? CIFAR_STATS);
  const classes = [...data.classes];
  const train = limitSplit('train', checkSplit('train', data.train, classes), options.trainLimit);
  const test = limitSplit('test', checkSplit('test', data.test, classes), options.testLimit);
  const batchesPerEpoch = Math.ceil(train.count / batchSize);

  const makeBatch = (
    split: Split,
    order: Uint32Array | null,
    start: number,
    end: number,
    fill: (image: number, slot: number, x: Float32Array) => void,
  ): Batch => {
    const size = end - start;
    // [batch, 32, 32, 3]. A fresh array per batch: the CPU backend keeps a reference to it
    // rather than copying.
    const x = new Float32Array(size * IMAGE_LENGTH);
    const y = new Int32Array(size);
    for (let slot = 0; slot < size; slot++) {
      const image = order === null ? start + slot : order[start + slot];
      fill(image, slot, x);
      y[slot] = split.labels[image];
    }
    return {
      x: tf.tensor4d(x, [size, 32, 32, 3], 'float32'),
      y: tf.tensor1d(y, 'int32'),
    };
  };

  return {
    classes,
    trainCount: train.count,
    validCount: test.count,
    batchSize,
    batchesPerEpoch,
    async *train(epoch: number): AsyncGenerator<Batch> {
      if (!Number.isInteger(epoch) || epoch < 0) {
        throw new RangeError(`Expected epoch to be a whole number >= 0, but got ${epoch}.`);
      }
      // Order and augmentation come from separate streams of (seed, epoch): turning
      // augmentation off leaves the order unchanged, and epoch k needs no epochs before it.
      const order = shuffledIndices(train.count, createRandom(deriveSeed(seed, epoch, 0)));
      const random = createRandom(deriveSeed(seed, epoch, 1));
      const fill = augment
        ? (image: number, slot: number, x: Float32Array) =>
            augmentInto(train.images, image, drawAugmentation(random), padMode, table, x, slot)
        : (image: number, slot: number, x: Float32Array) =>
            normaliseInto(train.images, image, table, x, slot);
      for (let start = 0; start < train.count; start += batchSize) {
        yield makeBatch(train, order, start, Math.min(start + batchSize, train.count), fill);
      }
    },
    async *valid(): AsyncGenerator<Batch> {
      const fill = (image: number, slot: number, x: Float32Array) =>
        normaliseInto(test.images, image, table, x, slot);
      for (let start = 0; start < test.count; start += batchSize) {
        yield makeBatch(test, null, start, Math.min(start + batchSize, test.count), fill);
      }
    },
  };
}

function checkCount(name: string, value: number | undefined): void {
  if (value !== undefined && (!Number.isInteger(value) || value <= 0)) {
    throw new RangeError(`Expected ${name} to be a whole number >= 1, but got ${value}.`);
  }
}

function checkSplit(name: string, split: Split, classes: string[]): Split {
  const { images, labels, count } = split ?? {};
  if (!Number.isInteger(count) || count <= 0) {
    throw new RangeError(
      `Expected the ${name} split to hold at least one image, but its count is ${count}.`,
    );
  }
  if (!(images instanceof Uint8Array) || images.length !== count * IMAGE_LENGTH) {
    throw new RangeError(
      `Expected ${name}.images to be a Uint8Array of ${count} * 32 * 32 * 3 = ` +
        `${count * IMAGE_LENGTH} bytes (NHWC), but got ${describe(images)}.`,
    );
  }
  if (!(labels instanceof Uint8Array) || labels.length !== count) {
    throw new RangeError(
      `Expected ${name}.labels to be a Uint8Array of ${count} labels, but got ${describe(labels)}.`,
    );
  }
  for (let i = 0; i < count; i++) {
    if (labels[i] >= classes.length) {
      throw new RangeError(
        `Expected ${name}.labels to be class indices below ${classes.length} ` +
          `(${classes.length} classes), but label ${i} is ${labels[i]}.`,
      );
    }
  }
  return split;
}

function limitSplit(name: string, split: Split, limit: number | undefined): Split {
  checkCount(`${name}Limit`, limit);
  if (limit === undefined || limit >= split.count) return split;
  // Views, not copies: the first `limit` images of the split.
  return {
    images: split.images.subarray(0, limit * IMAGE_LENGTH),
    labels: split.labels.subarray(0, limit),
    count: limit,
  };
}

function describe(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    return `a ${value.constructor.name} of ${(value as Uint8Array).length} elements`;
  }
  return value === undefined ? 'undefined' : typeof value;
}
