import * as tf from '@tensorflow/tfjs';
import { Conv2d } from './Conv2d';
import { globalMaxPool2d } from './GlobalMaxPool';
import { logSoftmax } from './LogSoftmax';
import { CIFAR_INPUT_SHAPE, type ModelOptions } from './modelOptions';
import { seedSequence, torchInit } from './torchInit';

/** Checks the lesson's `(layers, c)` arguments of the conv nets. */
export function checkConvArgs(model: string, layers: number[], c: number): void {
  const ok = (n: number) => Number.isInteger(n) && n > 0;
  if (layers.length < 2 || !layers.every(ok) || !ok(c)) {
    throw new Error(
      `Expected ${model} to get at least two positive integer channel counts and a positive ` +
        `class count, but got layers [${layers.join(', ')}] and c ${c}.`,
    );
  }
}

/** Global max pool, dense to `c` classes, log-softmax: the head of every lesson conv net. */
export function addHead(
  model: tf.Sequential,
  channels: number,
  c: number,
  nextSeed: () => number | undefined,
): void {
  model.add(globalMaxPool2d({ name: 'pool' }));
  model.add(tf.layers.dense({ units: c, name: 'out', ...torchInit(channels, nextSeed) }));
  model.add(logSoftmax({ name: 'log_softmax' }));
}

/**
 * The lesson's first conv net, e.g. `ConvNet([3, 20, 40, 80], 10)`: 3x3 stride-2
 * convolutions without padding (32 -> 15 -> 7 -> 3), ReLU, global max pool, dense to `c`.
 */
export function ConvNet(layers: number[], c: number, options: ModelOptions = {}): tf.Sequential {
  checkConvArgs('ConvNet', layers, c);
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name: 'ConvNet' });
  for (let i = 0; i < layers.length - 1; i++) {
    model.add(
      new Conv2d({
        ...(i === 0 ? { inputShape: options.inputShape ?? CIFAR_INPUT_SHAPE } : {}),
        inChannels: layers[i],
        filters: layers[i + 1],
        kernelSize: 3,
        strides: 2,
        relu: true,
        name: `layers.${i}`,
        seed: nextSeed(),
      }),
    );
  }
  addHead(model, layers[layers.length - 1], c, nextSeed);
  return model;
}
