import { BACKEND_NAMES } from '../backend/selectBackend';
import { MODEL_NAMES } from '../models/registry';
import {
  fitSpec,
  nonNegativeInteger,
  nonNegativeNumber,
  positiveInteger,
  positiveNumber,
  type Parser,
} from './parsers';

/**
 * Every option of the CLI, defined once as data: the commands are built from it, and so is
 * the README's CLI reference (scripts/cliReference.ts), which a test keeps in step.
 */
export interface OptionSpec {
  /** Commander's flags, the argument named after its unit: '--lr <rate>', '--timeout <ms>'. */
  flags: string;
  description: string;
  /** The default, as shown in --help. */
  default?: string | number | boolean;
  /** Turns the text into a value, or throws a CliError naming the flag. */
  parse?: Parser<unknown>;
  /** May be given more than once; the values are collected in order. */
  repeatable?: boolean;
  choices?: readonly string[];
}

export interface CommandSpec {
  name: string;
  /** Positional arguments in Commander's form, e.g. '<model-dir>'. */
  args?: { name: string; description: string }[];
  description: string;
  options: OptionSpec[];
}

export const LESSON_URL = 'http://pjreddie.com/media/files/cifar.tgz';

const model: OptionSpec = {
  flags: '--model <name>',
  description: 'model to build, by its short name',
  default: 'convbn',
  choices: MODEL_NAMES,
};
const backend: OptionSpec = {
  flags: '--backend <name>',
  description: 'TensorFlow.js backend; auto takes the best that loads (tensorflow, wasm, cpu)',
  default: 'auto',
  choices: ['auto', ...BACKEND_NAMES],
};
const wasmThreads: OptionSpec = {
  flags: '--wasm-threads <n>',
  description:
    'threads for the wasm backend (default: one a CPU, up to 8); 1 loads its ' +
    'single-threaded build, more its threaded build (~80 MB more memory)',
  parse: positiveInteger,
};
const json: OptionSpec = {
  flags: '--json',
  description: 'print exactly one JSON document on stdout and nothing else',
};
const quiet: OptionSpec = {
  flags: '--quiet',
  description: 'no progress bars or per-epoch rows on stderr',
};
const verbose: OptionSpec = {
  flags: '--verbose',
  description: 'print the stack trace of an error (so does the DEBUG environment variable)',
};
const batchSize: OptionSpec = {
  flags: '--batch-size <images>',
  description: 'images per mini-batch',
  default: 256,
  parse: positiveInteger,
};
const seed: OptionSpec = {
  flags: '--seed <n>',
  description: 'seed for initial weights, shuffling and augmentation (default: random)',
  parse: nonNegativeInteger,
};
const data: OptionSpec[] = [
  {
    flags: '--data <path-or-url>',
    description:
      'CIFAR-10 as an http(s) URL of cifar.tgz, a path to a .tgz, or an extracted folder',
    default: LESSON_URL,
  },
  {
    flags: '--cache-dir <dir>',
    description:
      'folder for downloads and decoded data (default: $CIFAR_NETS_CACHE or ~/.cache/cifar-nets)',
  },
  {
    flags: '--train-limit <images>',
    description: 'use only the first N training images (default: all 50,000)',
    parse: positiveInteger,
  },
  {
    flags: '--test-limit <images>',
    description: 'use only the first N test images (default: all 10,000)',
    parse: positiveInteger,
  },
];
const common = [backend, wasmThreads, json, quiet, verbose];

export const COMMANDS: CommandSpec[] = [
  {
    name: 'train',
    description: "train a model on CIFAR-10 with the lesson's SGD and SGDR cycles",
    options: [
      model,
      {
        flags: '--lr <rate>',
        description: 'learning rate (the peak of each cycle)',
        default: 0.01,
        parse: positiveNumber,
      },
      {
        flags: '--epochs <n>',
        description: 'epochs at a constant rate; with --cycle-len, the number of cycles',
        default: 1,
        parse: positiveInteger,
      },
      {
        flags: '--cycle-len <epochs>',
        description: 'epochs in the first cosine-annealed cycle (default: none, constant rate)',
        parse: positiveInteger,
      },
      {
        flags: '--cycle-mult <n>',
        description: 'each cycle is this many times longer than the one before',
        default: 1,
        parse: positiveInteger,
      },
      {
        flags: '--fit <lr:nCycle[:cycleLen[:cycleMult]]>',
        description:
          'one fit of a chain, as the lesson calls learn.fit; repeat it ' +
          '(--fit 3e-2:2 --fit 1e-1:4:1); replaces --lr, --epochs, --cycle-len, --cycle-mult',
        parse: fitSpec,
        repeatable: true,
      },
      {
        flags: '--weight-decay <wd>',
        description: 'L2 weight decay added to the gradients, as PyTorch SGD weight_decay',
        default: 0,
        parse: nonNegativeNumber,
      },
      {
        flags: '--optimizer <name>',
        description: 'sgd (momentum 0.9, as the lesson) or adam',
        default: 'sgd',
        choices: ['sgd', 'adam'],
      },
      batchSize,
      seed,
      ...data,
      {
        flags: '--save <dir>',
        description: 'save the trained model, optimizer state and history to this folder',
      },
      {
        flags: '--checkpoint <dir>',
        description: 'save a checkpoint to this folder after every epoch',
      },
      { flags: '--resume', description: 'continue from the last complete epoch in --checkpoint' },
      { flags: '--history <file>', description: 'write the per-epoch history as .json or .csv' },
      ...common,
    ],
  },
  {
    name: 'lr-find',
    description: 'learning-rate range test: train with a growing rate and plot the loss',
    options: [
      model,
      {
        flags: '--start-lr <rate>',
        description: 'first learning rate',
        default: 1e-5,
        parse: positiveNumber,
      },
      {
        flags: '--end-lr <rate>',
        description: 'last learning rate',
        default: 10,
        parse: positiveNumber,
      },
      {
        flags: '--num-it <iterations>',
        description: 'iterations to go from --start-lr to --end-lr (default: one epoch)',
        parse: positiveInteger,
      },
      { flags: '--plot <file.svg>', description: 'write the loss against the rate as an SVG file' },
      batchSize,
      seed,
      ...data,
      ...common,
    ],
  },
  {
    name: 'summary',
    description: 'per-layer table of a model: type, output shape and parameters',
    options: [model, backend, json, verbose],
  },
  {
    name: 'evaluate',
    args: [{ name: '<model-dir>', description: 'folder saved by train --save' }],
    description:
      'accuracy, per-class accuracy and confusion matrix of a saved model on the test set',
    options: [batchSize, ...data.filter((o) => !o.flags.startsWith('--train-limit')), ...common],
  },
  {
    name: 'predict',
    args: [
      { name: '<model-dir>', description: 'folder saved by train --save' },
      { name: '<image.png...>', description: '32x32 RGB PNG images' },
    ],
    description: 'the most likely classes of each image, with their probabilities',
    options: [
      {
        flags: '--top <k>',
        description: 'classes to show for each image',
        default: 3,
        parse: positiveInteger,
      },
      ...common,
    ],
  },
  {
    name: 'lesson',
    description: "train every model with the lesson's fits and print the table beside the lesson's",
    options: [
      {
        flags: '--models <names>',
        description: `comma-separated models to run (default: all of ${MODEL_NAMES.join(',')})`,
      },
      batchSize,
      seed,
      ...data,
      ...common,
    ],
  },
];
