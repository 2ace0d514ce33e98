import * as fs from 'node:fs';
import * as path from 'node:path';
import { historyToCsv, type FitSpec } from '../../learner';
import { writeFileAtomic } from '../../learner/atomicWrite';
import type { ModelName } from '../../models';
import { summarize } from '../../learner/summary';
import { CliError } from '../CliError';
import {
  createLearner,
  loadData,
  logger,
  printResult,
  startBackend,
  type CommonOptions,
  type DataOptions,
} from '../context';
import { formatFit } from '../parsers';

export interface TrainOptions extends CommonOptions, DataOptions {
  model: ModelName;
  lr: number;
  epochs: number;
  cycleLen?: number;
  cycleMult: number;
  fit?: FitSpec[];
  weightDecay: number;
  optimizer: 'sgd' | 'adam';
  save?: string;
  checkpoint?: string;
  resume?: boolean;
  history?: string;
}

/** The fits to run: the --fit chain, or the one fit that --lr, --epochs and --cycle-* make. */
export function trainPlan(options: TrainOptions): FitSpec[] {
  if (options.fit?.length) return options.fit;
  const cycles =
    options.cycleLen === undefined
      ? {}
      : { cycleLen: options.cycleLen, cycleMult: options.cycleMult };
  return [{ lr: options.lr, nCycle: options.epochs, ...cycles }];
}

export async function runTrain(options: TrainOptions): Promise<void> {
  if (options.resume && !options.checkpoint) {
    throw new CliError('Expected --checkpoint <dir> with --resume, to say where to resume from.');
  }
  if (options.history && !/\.(json|csv)$/i.test(options.history)) {
    throw new CliError(
      `Expected --history to name a .json or .csv file, but got '${options.history}'.`,
    );
  }
  const backend = await startBackend(options);
  const data = await loadData(options);
  const learner = createLearner(options, options.model, data, {
    optimizer: options.optimizer,
    weightDecay: options.weightDecay,
    checkpointDir: options.checkpoint,
  });
  const plan = trainPlan(options);
  logger(options)?.(
    `training ${options.model} on ${data.trainCount} images, fits ${plan.map(formatFit).join(' ')}`,
  );
  const history = await learner.fitPlan(plan, { resume: options.resume });
  if (options.save) await learner.save(options.save);
  if (options.history) {
    const text = options.history.toLowerCase().endsWith('.csv')
      ? historyToCsv(history)
      : `${JSON.stringify(history, null, 2)}\n`;
    fs.mkdirSync(path.dirname(path.resolve(options.history)), { recursive: true });
    await writeFileAtomic(options.history, text);
  }
  const last = history[history.length - 1];
  const params = summarize(learner.model).totalParams;
  printResult(
    options,
    { backend, model: options.model, params, history, accuracy: last?.accuracy ?? null },
    () =>
      `${options.model}: accuracy ${last.accuracy.toFixed(4)}, valid loss ` +
      `${last.validLoss.toFixed(4)} after ${history.length} epochs on ${backend}` +
      (options.save ? `; saved to ${options.save}` : ''),
  );
  learner.dispose();
  learner.model.dispose();
}
