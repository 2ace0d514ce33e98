import * as tf from '@tensorflow/tfjs';
import { Command, CommanderError, Option } from 'commander';
import { COMMANDS, type CommandSpec, type OptionSpec } from './options';
import { runEvaluate } from './commands/evaluate';
import { runLesson } from './commands/lesson';
import { runLrFind } from './commands/lrFind';
import { runPredict } from './commands/predict';
import { runSummary } from './commands/summary';
import { runTrain } from './commands/train';

/** What each command does with its parsed options and positional arguments. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Action = (options: any, ...args: any[]) => Promise<void>;
const ACTIONS: Record<string, Action> = {
  train: runTrain,
  'lr-find': runLrFind,
  summary: runSummary,
  evaluate: runEvaluate,
  predict: runPredict,
  lesson: runLesson,
};

function flagName(flags: string): string {
  return flags.split(/[ ,]/)[0];
}

function toOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.choices) option.choices(spec.choices);
  if (spec.default !== undefined) option.default(spec.default);
  const parse = spec.parse;
  if (parse) {
    const flag = flagName(spec.flags);
    option.argParser((text: string, previous: unknown) => {
      const value = parse(flag, text);
      // Commander hands a repeatable option its default (or nothing) as `previous` at first.
      return spec.repeatable ? [...(Array.isArray(previous) ? previous : []), value] : value;
    });
  }
  return option;
}

function toCommand(spec: CommandSpec, program: Command): Command {
  const command = program.command(spec.name).description(spec.description);
  for (const arg of spec.args ?? []) command.argument(arg.name, arg.description);
  for (const option of spec.options) command.addOption(toOption(option));
  command.action(async (...args: unknown[]) => {
    // Commander passes the positional arguments, then the options, then the command.
    const positional = args.slice(0, -2);
    await ACTIONS[spec.name](args[args.length - 2], ...positional);
  });
  return command;
}

/** The whole program, for main and for tests that read its help. */
export function buildProgram(): Command {
  const { version } = require('../../../package.json') as { version: string };
  const program = new Command('cifar-nets')
    .description("fastai lesson 7's CIFAR-10 models on TensorFlow.js: train, find a rate, evaluate")
    .version(version)
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ writeErr: () => {} });
  for (const spec of COMMANDS) {
    toCommand(spec, program)
      .exitOverride()
      .configureOutput({ writeErr: () => {} });
  }
  return program;
}

function wantsStack(argv: string[]): boolean {
  return argv.includes('--verbose') || Boolean(process.env.DEBUG);
}

/** Runs the CLI on `argv` (process.argv's shape) and returns the exit status. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  // Production mode skips debug checks and the cpu backend's banner recommending tfjs-node:
  // the CLI already says which backend it took and why.
  tf.enableProdMode();
  try {
    if (argv.length <= 2) {
      process.stdout.write(program.helpInformation());
      return 0;
    }
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help and --version
      const command = argv.slice(2).find((a) => COMMANDS.some((c) => c.name === a));
      const help = command ? `cifar-nets ${command} --help` : 'cifar-nets --help';
      process.stderr.write(
        `${err.message.replace(/^error: /, 'cifar-nets: ')}\nRun '${help}' to see what it takes.\n`,
      );
      return 1;
    }
    const error = err as Error;
    const known = error instanceof Error && error.name !== 'Error' && error.name !== 'TypeError';
    const message = known ? error.message : `Unexpected error: ${error?.message ?? String(err)}`;
    process.stderr.write(`cifar-nets: ${message}\n`);
    if (wantsStack(argv) && error?.stack) process.stderr.write(`${error.stack}\n`);
    else if (!known) process.stderr.write('Run again with --verbose to see where it happened.\n');
    return 1;
  }
}
