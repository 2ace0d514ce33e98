import * as tf from '@tensorflow/tfjs';
import { Conv2d } from './Conv2d';
import { addHead, checkConvArgs } from './ConvNet';
import { CIFAR_INPUT_SHAPE, type ModelOptions } from './modelOptions';
import { seedSequence } from './torchInit';

/**
 * The lesson's `ConvLayer(ni, nf)`: a 3x3 stride-2 convolution with padding 1 on every side,
 * then ReLU. (TensorFlow's 'same' would pad an even-sized input at the bottom and right only;
 * Conv2d pads as PyTorch does.)
 */
export function ConvLayer(
  ni: number,
  nf: number,
  name: string,
  nextSeed = seedSequence(),
  inputShape?: [number, number, number],
): Conv2d {
  return new Conv2d({
    ...(inputShape ? { inputShape } : {}),
    inChannels: ni,
    filters: nf,
    kernelSize: 3,
    strides: 2,
    padding: 1,
    relu: true,
    name: `${name}.conv`,
    seed: nextSeed(),
  });
}

/** The lesson's `ConvNet2(layers, c)`: ConvLayers (32 -> 16 -> 8 -> 4), global max pool, dense. */
export function ConvNet2(layers: number[], c: number, options: ModelOptions = {}): tf.Sequential {
  checkConvArgs('ConvNet2', layers, c);
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name: 'ConvNet2' });
  for (let i = 0; i < layers.length - 1; i++) {
    const inputShape = i === 0 ? (options.inputShape ?? CIFAR_INPUT_SHAPE) : undefined;
    model.add(ConvLayer(layers[i], layers[i + 1], `layers.${i}`, nextSeed, inputShape));
  }
  addHead(model, layers[layers.length - 1], c, nextSeed);
  return model;
}
