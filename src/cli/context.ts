import { selectBackend, type BackendChoice, type BackendName } from '../backend/selectBackend';
import { createDataLoader, type DataLoader } from '../data';
import { loadCifar } from '../data/source';
import { Learner, type LearnerOptions } from '../learner/Learner';
import { createModel, type ModelName } from '../models';

/** The options every command shares (see options.ts). */
export interface CommonOptions {
  backend: BackendChoice;
  wasmThreads?: number;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
}

export interface DataOptions {
  data: string;
  cacheDir?: string;
  trainLimit?: number;
  testLimit?: number;
  batchSize: number;
  seed?: number;
}

/** Lines for a person go to stderr, unless --quiet; stdout is for results (or JSON). */
export function logger(options: CommonOptions): ((line: string) => void) | null {
  return options.quiet ? null : (line: string) => process.stderr.write(`${line}\n`);
}

/** Picks the backend and says which, once, on stderr. */
export async function startBackend(options: CommonOptions): Promise<BackendName> {
  const { name } = await selectBackend(options.backend, {
    log: logger(options),
    wasmThreads: options.wasmThreads,
  });
  return name;
}

/** Gets CIFAR-10 (downloading and caching it on the first run) and batches it. */
export async function loadData(options: CommonOptions & DataOptions): Promise<DataLoader> {
  const arrays = await loadCifar({
    data: options.data,
    cacheDir: options.cacheDir,
    quiet: options.quiet,
  });
  return createDataLoader(arrays, {
    batchSize: options.batchSize,
    seed: options.seed,
    trainLimit: options.trainLimit,
    testLimit: options.testLimit,
  });
}

/** Prints a command's result: the JSON document under --json, else the text for a person. */
export function printResult(options: CommonOptions, json: unknown, text: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json)}\n` : `${text()}\n`);
}

/**
 * A fresh model `name` in a Learner that reports as the CLI should: per-epoch rows and bars on
 * stderr for a person, nothing under --json or --quiet.
 */
export function createLearner(
  options: CommonOptions & { seed?: number },
  name: ModelName,
  data: DataLoader,
  learnerOptions: LearnerOptions = {},
): Learner {
  const model = createModel(name, { seed: options.seed });
  return new Learner(model, data, {
    log: options.json ? null : logger(options),
    progress: options.quiet || options.json ? false : undefined,
    modelName: name,
    ...learnerOptions,
  });
}
