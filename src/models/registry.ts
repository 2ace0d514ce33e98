import type * as tf from '@tensorflow/tfjs';
import { ConvBnNet, ConvBnNet2 } from './ConvBnNet';
import { ConvNet } from './ConvNet';
import { ConvNet2 } from './ConvNet2';
import type { ModelOptions } from './modelOptions';
import { SimpleNet } from './SimpleNet';

export interface ModelEntry {
  /** The lesson's constructor call this entry makes. */
  lesson: string;
  /** Trainable parameters as PyTorch counts them for the lesson's model. */
  params: number;
  /** The lesson's calls of `learn.fit(lr, nCycle, cycle_len=...)` for this model, in order. */
  lessonFits: { lr: number; nCycle: number; cycleLen?: number }[];
  /** The lesson's reported test accuracy: its notebook's, and its blog post's where it differs. */
  lessonAccuracy: { notebook: number; blog?: number };
  create(options?: ModelOptions): tf.LayersModel;
}

/** The lesson's models by their short names; a new model is one more entry. */
export const MODELS = {
  simple: {
    lesson: 'SimpleNet([32*32*3, 40, 10])',
    params: 123_330,
    lessonFits: [
      { lr: 1e-2, nCycle: 2 },
      { lr: 1e-2, nCycle: 2, cycleLen: 1 },
    ],
    lessonAccuracy: { notebook: 0.469, blog: 0.4724 },
    create: (options) => SimpleNet([32 * 32 * 3, 40, 10], options),
  },
  conv: {
    lesson: 'ConvNet([3, 20, 40, 80], 10)',
    params: 37_490,
    lessonFits: [
      { lr: 1e-1, nCycle: 2 },
      { lr: 1e-1, nCycle: 4, cycleLen: 1 },
    ],
    lessonAccuracy: { notebook: 0.599, blog: 0.5817 },
    create: (options) => ConvNet([3, 20, 40, 80], 10, options),
  },
  conv2: {
    lesson: 'ConvNet2([3, 20, 40, 80], 10)',
    params: 37_490,
    lessonFits: [
      { lr: 1e-1, nCycle: 2 },
      { lr: 1e-1, nCycle: 2, cycleLen: 1 },
    ],
    lessonAccuracy: { notebook: 0.518 },
    create: (options) => ConvNet2([3, 20, 40, 80], 10, options),
  },
  convbn: {
    lesson: 'ConvBnNet([10, 20, 40, 80, 160], 10)',
    params: 155_970,
    lessonFits: [
      { lr: 3e-2, nCycle: 2 },
      { lr: 1e-1, nCycle: 4, cycleLen: 1 },
    ],
    lessonAccuracy: { notebook: 0.681, blog: 0.7016 },
    create: (options) => ConvBnNet([10, 20, 40, 80, 160], 10, options),
  },
  convbn2: {
    lesson: 'ConvBnNet2([10, 20, 40, 80, 160], 10)',
    params: 462_570,
    lessonFits: [
      { lr: 1e-2, nCycle: 2 },
      { lr: 1e-2, nCycle: 2, cycleLen: 1 },
    ],
    lessonAccuracy: { notebook: 0.646, blog: 0.664 },
    create: (options) => ConvBnNet2([10, 20, 40, 80, 160], 10, options),
  },
} satisfies Record<string, ModelEntry>;

export type ModelName = keyof typeof MODELS;
export const MODEL_NAMES = Object.keys(MODELS) as ModelName[];

export class UnknownModelError extends Error {
  override name = 'UnknownModelError';
}

/** Checks a model's short name, e.g. from `--model`. */
export function parseModelName(name: string): ModelName {
  if (!Object.hasOwn(MODELS, name)) {
    throw new UnknownModelError(
      `Expected a model name of ${MODEL_NAMES.join(', ')}, but got '${name}'.`,
    );
  }
  return name as ModelName;
}

/** Builds the lesson's model `name`, e.g. `createModel('convbn', { seed: 1 })`. */
export function createModel(name: string, options?: ModelOptions): tf.LayersModel {
  return MODELS[parseModelName(name)].create(options);
}
