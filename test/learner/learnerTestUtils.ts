/** Helpers for the learner tests: exact snapshots of weights and optimiser state. */
import type * as tf from '@tensorflow/tfjs';
import type { DataLoader } from '../../src/data';

/** Every model weight (trainable or not) as raw bytes, for bit-for-bit comparison. */
export async function weightBytes(model: tf.LayersModel): Promise<Buffer[]> {
  return Promise.all(
    model.weights.map(async (w) => Buffer.from((await w.read().data()).slice().buffer)),
  );
}

/** The optimiser's weights (iteration count, slots) as names and raw bytes. */
export async function optimizerBytes(
  optimizer: tf.Optimizer,
): Promise<{ count: number; values: Buffer[] }> {
  const weights = await optimizer.getWeights();
  const values = await Promise.all(
    weights.map(async ({ tensor }) => Buffer.from((await tensor.data()).slice().buffer)),
  );
  weights[0].tensor.dispose(); // the iteration count is a fresh scalar
  return { count: weights.length, values };
}

/**
 * `loader`, except that `train(crashEpoch)` fails after its first batch, as a run killed in
 * the middle of that epoch.
 */
export function crashingLoader(loader: DataLoader, crashEpoch: number): DataLoader {
  return {
    classes: loader.classes,
    trainCount: loader.trainCount,
    validCount: loader.validCount,
    batchSize: loader.batchSize,
    batchesPerEpoch: loader.batchesPerEpoch,
    valid: () => loader.valid(),
    async *train(epoch: number) {
      let batches = 0;
      for await (const batch of loader.train(epoch)) {
        if (epoch === crashEpoch && batches === 1) {
          batch.x.dispose();
          batch.y.dispose();
          throw new Error('simulated crash');
        }
        batches++;
        yield batch;
      }
    },
  };
}
