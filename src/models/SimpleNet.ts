import * as tf from '@tensorflow/tfjs';
import { logSoftmax } from './LogSoftmax';
import { CIFAR_INPUT_SHAPE, type ModelOptions } from './modelOptions';
import { seedSequence, torchInit } from './torchInit';

/**
 * The lesson's fully connected net, e.g. `SimpleNet([3072, 40, 10])`: flatten the image,
 * dense layers with ReLU between them, log-softmax out. `layers[0]` must equal the number
 * of pixel values in the input (32 * 32 * 3 = 3072 for CIFAR-10).
 */
export function SimpleNet(layers: number[], options: ModelOptions = {}): tf.Sequential {
  const inputShape = options.inputShape ?? CIFAR_INPUT_SHAPE;
  const inputSize = inputShape[0] * inputShape[1] * inputShape[2];
  if (layers.length < 2 || layers[0] !== inputSize) {
    throw new Error(
      `Expected SimpleNet layers to start with the input size ${inputSize} and name at least ` +
        `one more layer, but got [${layers.join(', ')}].`,
    );
  }
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name: 'SimpleNet' });
  model.add(tf.layers.flatten({ inputShape, name: 'flatten' }));
  for (let i = 0; i < layers.length - 1; i++) {
    const last = i === layers.length - 2;
    model.add(
      tf.layers.dense({
        units: layers[i + 1],
        activation: last ? 'linear' : 'relu',
        name: `layers.${i}`,
        ...torchInit(layers[i], nextSeed),
      }),
    );
  }
  model.add(logSoftmax({ name: 'log_softmax' }));
  return model;
}
