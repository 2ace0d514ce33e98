/**
 * fastai 0.7's CIFAR-10 transforms, written as plain loops over typed arrays so that they are
 * fast, allocate nothing per image, and can be checked value by value.
 *
 * Images are NHWC uint8: one image is 32 * 32 * 3 bytes, row by row, RGB interleaved.
 */
import type { Random } from './random';

/** Height and width of a CIFAR-10 image. */
export const IMAGE_SIZE = 32;
/** Channels of a CIFAR-10 image (RGB). */
export const CHANNELS = 3;
/** Bytes (or floats) in one image: 32 * 32 * 3. */
export const IMAGE_LENGTH = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
/** Padding added before the random crop: the lesson's `sz // 8`. */
export const PAD = IMAGE_SIZE / 8;

/** Per-channel mean and standard deviation of pixels scaled to 0..1, in RGB order. */
export interface ChannelStats {
  mean: number[];
  std: number[];
}

/** The lesson's CIFAR-10 statistics (`stats` in lesson7-cifar10). */
export const CIFAR_STATS: Readonly<ChannelStats> = Object.freeze({
  mean: [0.4914, 0.48216, 0.44653],
  std: [0.24703, 0.24349, 0.26159],
});

/**
 * How the 4-pixel border is filled before cropping. `'reflect'` is fastai's default,
 * OpenCV's BORDER_REFLECT, which repeats the edge pixel (`fedcba|abcdefgh|hgfedcb`, what
 * `tf.mirrorPad` calls `'symmetric'`); `'zeros'` pads with black pixels.
 */
export type PadMode = 'reflect' | 'zeros';

/** The random part of one image's training transform. */
export interface Augmentation {
  /** Mirror the padded image left-right before cropping. */
  flip: boolean;
  /** Row of the crop's top-left corner in the 40x40 padded image, 0..7. */
  top: number;
  /** Column of the crop's top-left corner in the (flipped) padded image, 0..7. */
  left: number;
}

/**
 * Draws one image's augmentation the way fastai 0.7 does: RandomFlip (`U < 0.5`), then
 * RandomCrop's offsets `floor(U * 8)` for the row and then the column.
 */
export function drawAugmentation(random: Random): Augmentation {
  const flip = random() < 0.5;
  const top = Math.floor(random() * 2 * PAD);
  const left = Math.floor(random() * 2 * PAD);
  return { flip, top, left };
}

/**
 * A lookup table from (channel, pixel byte) to the normalised float32, `table[c * 256 + p]`.
 *
 * Each value is computed in float32 steps as fastai does on its float32 arrays,
 * `(float32(p / 255) - mean[c]) / std[c]`, so batches match the lesson's bit for bit rather
 * than to a tolerance, and normalising costs one lookup per value.
 */
export function normalisationTable(stats: ChannelStats = CIFAR_STATS): Float32Array {
  checkStats(stats);
  const table = new Float32Array(CHANNELS * 256);
  for (let c = 0; c < CHANNELS; c++) {
    const mean = Math.fround(stats.mean[c]);
    const std = Math.fround(stats.std[c]);
    for (let p = 0; p < 256; p++) {
      table[c * 256 + p] = Math.fround(Math.fround(p / 255) - mean) / std;
    }
  }
  return table;
}

function checkStats(stats: ChannelStats): void {
  const ok = (values: unknown, positive: boolean): boolean =>
    Array.isArray(values) &&
    values.length === CHANNELS &&
    values.every((v) => typeof v === 'number' && Number.isFinite(v) && (!positive || v > 0));
  if (!ok(stats?.mean, false) || !ok(stats?.std, true)) {
    throw new RangeError(
      `Expected stats to be { mean: [r, g, b], std: [r, g, b] } with finite numbers and ` +
        `positive std, but got ${JSON.stringify(stats)}. Use CIFAR_STATS or computeStats().`,
    );
  }
}

/**
 * Writes image `index` of `images`, normalised and otherwise unchanged, into `out` at image
 * slot `outIndex`. This is the validation transform: the lesson pads and centre-crops, which
 * gives the image back.
 */
export function normaliseInto(
  images: Uint8Array,
  index: number,
  table: Float32Array,
  out: Float32Array,
  outIndex: number,
): void {
  const src = index * IMAGE_LENGTH;
  const dst = outIndex * IMAGE_LENGTH;
  for (let i = 0; i < IMAGE_LENGTH; i += CHANNELS) {
    out[dst + i] = table[images[src + i]];
    out[dst + i + 1] = table[256 + images[src + i + 1]];
    out[dst + i + 2] = table[512 + images[src + i + 2]];
  }
}

/**
 * Writes image `index` of `images` into `out` at slot `outIndex` with fastai's training
 * transform: pad 4 pixels (`padMode`), flip left-right if `aug.flip`, crop 32x32 at
 * (`aug.top`, `aug.left`) of the padded image, normalise through `table`.
 *
 * Nothing is padded or copied: each output pixel is read straight from the source pixel it
 * comes from, or from a black pixel where zero padding shows.
 */
export function augmentInto(
  images: Uint8Array,
  index: number,
  aug: Augmentation,
  padMode: PadMode,
  table: Float32Array,
  out: Float32Array,
  outIndex: number,
): void {
  const src = index * IMAGE_LENGTH;
  let dst = outIndex * IMAGE_LENGTH;
  const zeros = padMode === 'zeros';
  const rows = SOURCE_INDEX[zeros ? 1 : 0][0][aug.top];
  const cols = SOURCE_INDEX[zeros ? 1 : 0][aug.flip ? 1 : 0][aug.left];
  const black0 = table[0];
  const black1 = table[256];
  const black2 = table[512];
  for (let r = 0; r < IMAGE_SIZE; r++) {
    const row = rows[r];
    for (let c = 0; c < IMAGE_SIZE; c++) {
      const col = cols[c];
      if (row < 0 || col < 0) {
        out[dst] = black0;
        out[dst + 1] = black1;
        out[dst + 2] = black2;
      } else {
        const s = src + (row * IMAGE_SIZE + col) * CHANNELS;
        out[dst] = table[images[s]];
        out[dst + 1] = table[256 + images[s + 1]];
        out[dst + 2] = table[512 + images[s + 2]];
      }
      dst += CHANNELS;
    }
  }
}

/**
 * `SOURCE_INDEX[zeros][flip][offset][i]`: the source row or column that output row or column
 * `i` shows, for a crop at `offset` of the padded (and, for columns, flipped) image; -1 where
 * zero padding shows. Worked out once so the per-pixel loop only looks up.
 */
const SOURCE_INDEX: Int8Array[][][] = [false, true].map((zeros) =>
  [false, true].map((flip) =>
    Array.from({ length: 2 * PAD }, (_, offset) =>
      Int8Array.from({ length: IMAGE_SIZE }, (_, i) => {
        // Flipping the 40-wide padded image maps padded column k to 39 - k.
        const padded = flip ? IMAGE_SIZE + 2 * PAD - 1 - (offset + i) : offset + i;
        return sourceIndex(padded - PAD, zeros);
      }),
    ),
  ),
);

/**
 * The source row or column that padded coordinate `i` (relative to the image, so -4..35)
 * shows: BORDER_REFLECT mirrors around the edge including the edge pixel; zero padding
 * returns -1 outside the image.
 */
function sourceIndex(i: number, zeros: boolean): number {
  if (i >= 0 && i < IMAGE_SIZE) return i;
  if (zeros) return -1;
  return i < 0 ? -i - 1 : 2 * IMAGE_SIZE - i - 1;
}

/**
 * Pads one 32x32x3 image to 40x40x3. A plain reference version of what augmentInto does in
 * one pass; useful to look at and to test against.
 */
export function padImage(image: Uint8Array, padMode: PadMode = 'reflect'): Uint8Array {
  const size = IMAGE_SIZE + 2 * PAD;
  const out = new Uint8Array(size * size * CHANNELS);
  for (let r = 0; r < size; r++) {
    const row = sourceIndex(r - PAD, padMode === 'zeros');
    for (let c = 0; c < size; c++) {
      const col = sourceIndex(c - PAD, padMode === 'zeros');
      if (row < 0 || col < 0) continue;
      for (let k = 0; k < CHANNELS; k++) {
        out[(r * size + c) * CHANNELS + k] = image[(row * IMAGE_SIZE + col) * CHANNELS + k];
      }
    }
  }
  return out;
}

/**
 * Per-channel mean and (population) standard deviation of the first `count` images, with
 * pixels scaled to 0..1: how the lesson's stats were computed from the training set.
 */
export function computeStats(
  images: Uint8Array,
  count = images.length / IMAGE_LENGTH,
): ChannelStats {
  if (!Number.isInteger(count) || count <= 0 || count * IMAGE_LENGTH > images.length) {
    throw new RangeError(
      `Expected count to be a whole number of images from 1 to ${Math.floor(
        images.length / IMAGE_LENGTH,
      )}, but got ${count}. Pass NHWC uint8 pixels of 32x32x3 images.`,
    );
  }
  // Sums of bytes and squared bytes stay exact in doubles for far more than 60,000 images.
  const sum = [0, 0, 0];
  const sumSq = [0, 0, 0];
  const n = count * IMAGE_LENGTH;
  for (let i = 0; i < n; i += CHANNELS) {
    for (let c = 0; c < CHANNELS; c++) {
      const p = images[i + c];
      sum[c] += p;
      sumSq[c] += p * p;
    }
  }
  const pixels = n / CHANNELS;
  const mean = sum.map((s) => s / pixels / 255);
  const std = sumSq.map((s, c) => Math.sqrt(Math.max(0, s / pixels / 65025 - mean[c] ** 2)));
  return { mean, std };
}
