import type * as tf from '@tensorflow/tfjs';

/** One mini-batch, ready for a model. The consumer disposes both tensors. */
export interface Batch {
  /** [batch, 32, 32, 3] float32, normalised per channel (and augmented for training). */
  x: tf.Tensor4D;
  /** [batch] int32 class indices. */
  y: tf.Tensor1D;
}

/** What the learner needs from a data set: batches for training and validation. */
export interface DataLoader {
  /** Class names; a label `i` means `classes[i]`. */
  readonly classes: string[];
  readonly trainCount: number;
  readonly validCount: number;
  readonly batchSize: number;
  /** Training batches per epoch: ceil(trainCount / batchSize), the last partial batch kept. */
  readonly batchesPerEpoch: number;
  /**
   * The training batches of one epoch, shuffled and augmented. The order and the
   * augmentation depend only on the loader's seed and `epoch`, so a resumed run sees
   * exactly the batches an uninterrupted one would.
   */
  train(epoch: number): AsyncIterable<Batch>;
  /** The validation batches, in order, without augmentation. */
  valid(): AsyncIterable<Batch>;
}
