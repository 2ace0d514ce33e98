import * as tf from '@tensorflow/tfjs';
import { bnLayer } from './BnLayer';
import { Conv2d } from './Conv2d';
import { addHead, checkConvArgs } from './ConvNet';
import { CIFAR_INPUT_SHAPE, type ModelOptions } from './modelOptions';
import { seedSequence } from './torchInit';

/** The lesson's first layer of both batch-norm nets: 5x5, stride 1, padding 2, no ReLU. */
function addConv1(
  model: tf.Sequential,
  nf: number,
  options: ModelOptions,
  nextSeed: () => number | undefined,
) {
  const inputShape = options.inputShape ?? CIFAR_INPUT_SHAPE;
  model.add(
    new Conv2d({
      inputShape,
      inChannels: inputShape[2],
      filters: nf,
      kernelSize: 5,
      padding: 2,
      name: 'conv1',
      seed: nextSeed(),
    }),
  );
}

/**
 * The lesson's `ConvBnNet(layers, c)`, e.g. `([10, 20, 40, 80, 160], 10)`: conv1 from 3 to
 * `layers[0]` channels, then a stride-2 BnLayer per step (32 -> 16 -> 8 -> 4 -> 2), global
 * max pool, dense to `c`.
 */
export function ConvBnNet(layers: number[], c: number, options: ModelOptions = {}): tf.Sequential {
  return convBnNet('ConvBnNet', layers, c, false, options);
}

/**
 * The lesson's `ConvBnNet2(layers, c)`: as ConvBnNet, with a stride-1 BnLayer after each
 * stride-2 one.
 */
export function ConvBnNet2(layers: number[], c: number, options: ModelOptions = {}): tf.Sequential {
  return convBnNet('ConvBnNet2', layers, c, true, options);
}

function convBnNet(
  name: string,
  layers: number[],
  c: number,
  deeper: boolean,
  options: ModelOptions,
): tf.Sequential {
  checkConvArgs(name, layers, c);
  const nextSeed = seedSequence(options.seed);
  const model = tf.sequential({ name });
  addConv1(model, layers[0], options, nextSeed);
  for (let i = 0; i < layers.length - 1; i++) {
    model.add(bnLayer(layers[i], layers[i + 1], 2, 3, { name: `layers.${i}`, seed: nextSeed() }));
    if (deeper) {
      model.add(
        bnLayer(layers[i + 1], layers[i + 1], 1, 3, { name: `layers2.${i}`, seed: nextSeed() }),
      );
    }
  }
  addHead(model, layers[layers.length - 1], c, nextSeed);
  return model;
}
