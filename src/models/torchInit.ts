import * as tf from '@tensorflow/tfjs';

/**
 * PyTorch's default initialisation for Linear and Conv2d, so that a model here starts from
 * the same distribution as the lesson's: weights by kaiming_uniform(a = sqrt(5)), which is
 * U(-1/sqrt(fanIn), 1/sqrt(fanIn)), and biases from the same range. TensorFlow.js would
 * otherwise use Glorot weights and zero biases, which trains differently at the lesson's rates.
 */
export interface TorchInit {
  kernelInitializer: Initializer;
  biasInitializer: Initializer;
}

type Initializer = ReturnType<typeof tf.initializers.zeros>;

/**
 * `fanIn` is in-features for a dense layer, in-channels * kh * kw for a convolution;
 * `nextSeed` (from `seedSequence`) makes the weights reproducible.
 */
export function torchInit(fanIn: number, nextSeed = seedSequence()): TorchInit {
  const bound = 1 / Math.sqrt(fanIn);
  return {
    // varianceScaling's uniform limit is sqrt(3 * scale / fanIn): scale 1/3 gives 1/sqrt(fanIn).
    kernelInitializer: tf.initializers.varianceScaling({
      scale: 1 / 3,
      mode: 'fanIn',
      distribution: 'uniform',
      seed: nextSeed(),
    }),
    biasInitializer: tf.initializers.randomUniform({
      minval: -bound,
      maxval: bound,
      seed: nextSeed(),
    }),
  };
}

/** Hands out a distinct seed for each layer of a model built from one seed. */
export function seedSequence(seed?: number): () => number | undefined {
  let next = seed;
  return () => (next === undefined ? undefined : next++);
}
