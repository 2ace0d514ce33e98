import * as tf from '@tensorflow/tfjs';
import { addHead, checkConvArgs } from './ConvNet';
import { CIFAR_INPUT_SHAPE, type ModelOptions } from './modelOptions';
import { seedSequence, torchInit } from './torchInit';

/**
 * The lesson's `ConvLayer(ni, nf)`: a 3x3 stride-2 convolution with padding 1, then ReLU.
 *
 * Porting note: PyTorch's `padding=1` pads one pixel on every side; TensorFlow's 'same' at
 * stride 2 pads an even-sized input at the bottom and right only, which shifts every output.
 * So the padding is its own layer and the convolution is 'valid'.
 */
export function ConvLayer(
  ni: number,
  nf: number,
  name: string,
  nextSeed = seedSequence(),
  inputShape?: [number, number, number],
): tf.layers.Layer[] {
  return [
    tf.layers.zeroPadding2d({
      padding: 1,
      name: `${name}.pad`,
      ...(inputShape ? { inputShape } : {}),
    }),
    tf.layers.conv2d({
      filters: nf,
      kernelSize: 3,
      strides: 2,
      padding: 'valid',
      activation: 'relu',
      name: `${name}.conv`,
      ...torchInit(ni * 9, nextSeed),
    }),
  ];
}

/** The lesson's `ConvNet2(layers, c)`: ConvLayers (32 -> 16 -> 8 -> 4), global max pool, dense. */
export function ConvNet2(layers: number[], c: number, options: ModelOptions = {}): tf.Sequential {
  checkConvArgs('ConvNet2', layers, c);
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name: 'ConvNet2' });
  for (let i = 0; i < layers.length - 1; i++) {
    const inputShape = i === 0 ? (options.inputShape ?? CIFAR_INPUT_SHAPE) : undefined;
    for (const layer of ConvLayer(layers[i], layers[i + 1], `layers.${i}`, nextSeed, inputShape)) {
      model.add(layer);
    }
  }
  addHead(model, layers[layers.length - 1], c, nextSeed);
  return model;
}
