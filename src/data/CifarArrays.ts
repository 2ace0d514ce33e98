/** One split of the data set, decoded. */
export interface Split {
  /** NHWC uint8 pixels: `count * 32 * 32 * 3` bytes, image after image, RGB interleaved. */
  images: Uint8Array;
  /** One class index a image, `0 <= label < classes.length`. */
  labels: Uint8Array;
  /** Number of images. */
  count: number;
}

/** CIFAR-10 (or a data set shaped like it) in memory. */
export interface CifarArrays {
  /** Class names in index order: sorted, so airplane is 0 and truck is 9. */
  classes: string[];
  train: Split;
  /** The lesson validates on the test split. */
  test: Split;
}

/** CIFAR-10's class names, sorted as the loader indexes them (airplane 0 ... truck 9). */
export const CIFAR_CLASSES: readonly string[] = Object.freeze([
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
]);
