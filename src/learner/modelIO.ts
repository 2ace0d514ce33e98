import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
// The models' custom layers (BnLayer, GlobalMaxPool, LogSoftmax) must be registered before a
// saved topology that names them can be rebuilt.
import '../models';
import { replaceFolderAtomic, writeAndSync } from './atomicWrite';

/** File names inside a saved folder; model.json and weights.bin are TensorFlow.js's own. */
export const MODEL_JSON = 'model.json';
export const WEIGHTS_BIN = 'weights.bin';
export const OPTIMIZER_JSON = 'optimizer.json';
export const OPTIMIZER_BIN = 'optimizer.bin';

/** The key under model.json's `userDefinedMetadata` that holds the learner's metadata. */
export const METADATA_KEY = 'cifarNets';

/** URL scheme of the save and load routers, as tfjs-node spells it: `file:///abs/dir`. */
export const FILE_SCHEME = 'file://';

const OPTIMIZER_FORMAT = 'cifar-nets-optimizer';

/** Reading a saved folder failed: it is missing, half-written, or holds another model. */
export class ModelLoadError extends Error {
  /** The folder (or model.json) that could not be loaded. */
  readonly dir: string;

  constructor(message: string, dir: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelLoadError';
    this.dir = dir;
  }
}

/** Writing a saved folder failed; the folder is left as it was before the save. */
export class ModelSaveError extends Error {
  /** The folder that was to be written. */
  readonly dir: string;

  constructor(message: string, dir: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ModelSaveError';
    this.dir = dir;
  }
}

export interface FileSystemHandlerOptions {
  /**
   * Short name of the model the folder must hold, e.g. 'convbn', compared with
   * `userDefinedMetadata.cifarNets.model` before any weights are read. A different or missing
   * name is a {@link ModelLoadError}.
   */
  expectedModel?: string;
  /** More files to write into the saved folder, by file name, in the same atomic step. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** One optimizer weight, as `optimizer.getWeights()` gives it (tfjs does not export the type). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

/** The learner's metadata: the model's short name, plus whatever the learner keeps. */
export interface LearnerMetadata {
  /** Short name from the models registry, e.g. 'convbn'. */
  model: string;
  // Everything else (history, schedule position, ...) is the learner's; JSON values only.
  [key: string]: any;
}

/** What {@link saveLearnerState} writes. */
export interface LearnerState<M extends LearnerMetadata = LearnerMetadata> {
  model: tf.LayersModel;
  /** `await optimizer.getWeights()` of the optimizer training `model`; omit for none. */
  optimizerWeights?: NamedTensor[] | null;
  /** Stored in model.json under `userDefinedMetadata.cifarNets`; must survive JSON. */
  metadata: M;
}

/** What {@link loadLearnerState} gives back. */
export interface LoadedLearnerState<M extends LearnerMetadata = LearnerMetadata> {
  model: tf.LayersModel;
  /**
   * The optimizer's state, named after the variables of the returned `model`, ready for
   * {@link restoreOptimizerWeights}; null when the state was saved without one. The caller
   * owns these tensors and disposes them once restored.
   */
  optimizerWeights: NamedTensor[] | null;
  metadata: M;
}

/**
 * An IOHandler that saves and loads the TensorFlow.js layers format in a folder of the local
 * file system: `model.json` (topology, weights manifest, metadata) and `weights.bin`, exactly
 * what `tf.loadLayersModel('https://…/model.json')` fetches in a browser.
 *
 * The wasm and cpu backends come without such a handler; only tfjs-node registers one.
 *
 * @param location A folder; for loading also the path of a model.json in it.
 */
export function fileSystemHandler(
  location: string,
  options: FileSystemHandlerOptions = {},
): tf.io.IOHandler {
  return {
    save: (artifacts) => saveArtifacts(location, artifacts, options.extraFiles ?? {}),
    load: () => loadArtifacts(location, options.expectedModel),
  };
}

let consultingOthers = false;
// A global marker, not a module variable: two copies of this module (say, from src and dist)
// must not both register, or every file:// URL would have two handlers.
const ROUTERS_REGISTERED = Symbol.for('cifar-nets.fileRouters');

/**
 * Lets `model.save('file:///dir')` and `tf.loadLayersModel('file:///dir/model.json')` use
 * {@link fileSystemHandler}. As in tfjs-node, `file:///abs` is an absolute path and
 * `file://rel` a relative one. The routers stand aside whenever another handler answers for
 * the same URL (tfjs-node's, whether it was loaded before or after this module), as TensorFlow.js
 * refuses a URL that two handlers claim. Called when this module is imported; calling it again
 * does nothing.
 */
export function registerFileRouters(): void {
  const registry = globalThis as { [ROUTERS_REGISTERED]?: boolean };
  if (registry[ROUTERS_REGISTERED]) return;
  registry[ROUTERS_REGISTERED] = true;
  tf.io.registerSaveRouter((url) => fileRoute(url, 'save'));
  tf.io.registerLoadRouter((url) => fileRoute(url, 'load'));
}

function fileRoute(url: string | string[], kind: 'save' | 'load'): tf.io.IOHandler {
  // The router type says IOHandler, but the registry expects null for "not mine".
  const notMine = null as unknown as tf.io.IOHandler;
  if (consultingOthers || typeof url !== 'string' || !url.startsWith(FILE_SCHEME)) return notMine;
  consultingOthers = true;
  try {
    const others = kind === 'save' ? tf.io.getSaveHandlers(url) : tf.io.getLoadHandlers(url);
    if (others.length > 0) return notMine;
  } finally {
    consultingOthers = false;
  }
  return fileSystemHandler(url.slice(FILE_SCHEME.length));
}

registerFileRouters();

/**
 * Saves a model with the learner's metadata and, if given, the optimizer's state, as one atomic
 * folder: model.json (metadata under `userDefinedMetadata.cifarNets`), weights.bin,
 * optimizer.json and optimizer.bin. A reader sees the old folder or the new one, never a mix.
 *
 * @throws ModelSaveError if the folder cannot be written or the optimizer state does not belong
 *   to `model`.
 */
export async function saveLearnerState<M extends LearnerMetadata>(
  dir: string,
  state: LearnerState<M>,
): Promise<void> {
  const { model, optimizerWeights, metadata } = state;
  if (typeof metadata?.model !== 'string') {
    throw new ModelSaveError(
      `Expected metadata.model to be the model's short name, e.g. 'convbn', but got ` +
        `${JSON.stringify(metadata?.model)}; pass the name the model was created with.`,
      dir,
    );
  }
  const extraFiles: Record<string, string | Uint8Array> = {};
  if (optimizerWeights) {
    const { json, bin } = await encodeOptimizerWeights(optimizerWeights, model, dir);
    extraFiles[OPTIMIZER_JSON] = json;
    extraFiles[OPTIMIZER_BIN] = bin;
  }
  const handler = fileSystemHandler(dir, { extraFiles });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) =>
      handler.save!({
        ...artifacts,
        userDefinedMetadata: { ...artifacts.userDefinedMetadata, [METADATA_KEY]: metadata },
      }),
    ),
  );
}

/**
 * Loads what {@link saveLearnerState} wrote.
 *
 * @param options.expectedModel The model the caller means to continue, e.g. 'convbn'.
 * @throws ModelLoadError if the folder is missing, half-written, not a learner state, or holds
 *   another model than `expectedModel`.
 */
export async function loadLearnerState<M extends LearnerMetadata = LearnerMetadata>(
  dir: string,
  options: { expectedModel?: string } = {},
): Promise<LoadedLearnerState<M>> {
  let model: tf.LayersModel;
  try {
    model = await tf.loadLayersModel(fileSystemHandler(dir, options));
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    throw new ModelLoadError(
      `Could not rebuild the model saved in ${dir}: ${(err as Error).message}. Expected a ` +
        'topology and weights that TensorFlow.js and this version of cifar-nets can read; ' +
        'save the model again with this version.',
      dir,
      { cause: err },
    );
  }
  const metadata = (model.getUserDefinedMetadata() as Record<string, unknown> | undefined)?.[
    METADATA_KEY
  ] as M | undefined;
  if (metadata == null || typeof metadata !== 'object') {
    model.dispose();
    throw new ModelLoadError(
      `Expected learner state in ${dir} (model.json with userDefinedMetadata.${METADATA_KEY}), ` +
        'but it holds a plain model, as model.save writes. Load it with ' +
        `tf.loadLayersModel('${FILE_SCHEME}${path.resolve(dir)}/${MODEL_JSON}') instead.`,
      dir,
    );
  }
  let optimizerWeights: NamedTensor[] | null;
  try {
    optimizerWeights = await readOptimizerWeights(folderOf(dir), model);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return { model, optimizerWeights, metadata };
}

/**
 * Puts saved optimizer state onto an optimizer, e.g. a fresh `tf.train.momentum(lr, 0.9)` that
 * will train the model {@link loadLearnerState} returned. The optimizer copies the tensors.
 *
 * Porting note: TensorFlow.js optimizers match their slots (momentum, Adam's moments) to
 * variables by position in the gradient list, so the model must be trained with its variables
 * in the same order as before: `model.fit`, or `optimizer.minimize(f, false,
 * model.trainableWeights.map((w) => w.read() as tf.Variable))`.
 */
export async function restoreOptimizerWeights(
  optimizer: tf.Optimizer,
  optimizerWeights: NamedTensor[],
): Promise<void> {
  await optimizer.setWeights(optimizerWeights);
}

/**
 * Renames optimizer weights saved for model `from` to the matching variables of `onto`, a model
 * of the same architecture: weight names carry per-process suffixes ('layers.0/kernel_3') that
 * differ between two instances of one model. Returns new names around the same tensors.
 */
export function remapOptimizerWeights(
  optimizerWeights: NamedTensor[],
  from: tf.LayersModel,
  onto: tf.LayersModel,
): NamedTensor[] {
  const targets = optimizerWeights.map((w) => optimizerTarget(w.name, from));
  return optimizerWeights.map((w, i) => {
    const t = targets[i];
    if (t === null) return w;
    if (t === undefined || onto.weights[t.modelWeight]?.shape.join() !== w.tensor.shape.join()) {
      throw new RangeError(
        `Expected optimizer weight '${w.name}' to belong to a variable of the source model ` +
          'and to have a matching variable in the target model, but found none; remap only ' +
          'between two instances of one architecture.',
      );
    }
    return { name: `${onto.weights[t.modelWeight].name}/${t.slot}`, tensor: w.tensor };
  });
}

// ---------------------------------------------------------------------------------------------
// model.json and weights.bin

function folderOf(location: string): string {
  return location.endsWith('.json') ? path.dirname(location) : location;
}

async function saveArtifacts(
  dir: string,
  artifacts: tf.io.ModelArtifacts,
  extraFiles: Record<string, string | Uint8Array>,
): Promise<tf.io.SaveResult> {
  if (artifacts.modelTopology instanceof ArrayBuffer) {
    throw new ModelSaveError(
      `Expected a layers model with a JSON topology to save in ${dir}, but got a binary ` +
        'topology (a graph model); save a tf.LayersModel.',
      dir,
    );
  }
  if (dir.endsWith('.json')) {
    throw new ModelSaveError(
      `Expected a folder to save into, but got the file path ${dir}; pass its folder, ` +
        `${path.dirname(dir)}, and the model is written as ${MODEL_JSON} inside it.`,
      dir,
    );
  }
  const modelJSON: tf.io.ModelJSON = {
    modelTopology: artifacts.modelTopology as {},
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
  if (artifacts.trainingConfig) modelJSON.trainingConfig = artifacts.trainingConfig;
  if (artifacts.userDefinedMetadata) modelJSON.userDefinedMetadata = artifacts.userDefinedMetadata;
  const weights = new Uint8Array(tf.io.CompositeArrayBuffer.join(artifacts.weightData ?? []));
  try {
    await replaceFolderAtomic(dir, async (temp) => {
      await writeAndSync(path.join(temp, WEIGHTS_BIN), weights);
      for (const [name, data] of Object.entries(extraFiles)) {
        await writeAndSync(path.join(temp, name), data);
      }
      // model.json last: a copy of the folder taken mid-write lacks it and reads as missing.
      await writeAndSync(path.join(temp, MODEL_JSON), JSON.stringify(modelJSON));
    });
  } catch (err) {
    throw new ModelSaveError(
      `Could not save the model to ${dir}: ${(err as Error).message}. Expected a writable ` +
        'folder path whose parent folder exists; nothing was changed there.',
      dir,
      { cause: err },
    );
  }
  return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
}

async function loadArtifacts(
  location: string,
  expectedModel: string | undefined,
): Promise<tf.io.ModelArtifacts> {
  const dir = folderOf(location);
  const jsonPath = location.endsWith('.json') ? location : path.join(dir, MODEL_JSON);
  const fail = (what: string, todo: string, cause?: unknown): never => {
    throw new ModelLoadError(`Cannot load the model in ${dir}: ${what}. ${todo}`, dir, { cause });
  };
  const resave = 'The save was probably interrupted; save the model again.';

  const stat = await fs.stat(dir).catch(() => null);
  if (!stat?.isDirectory()) {
    fail(
      stat ? 'it is a file, not a folder' : 'the folder does not exist',
      `Expected a folder holding ${MODEL_JSON} and ${WEIGHTS_BIN}, as saveLearnerState or ` +
        `model.save('${FILE_SCHEME}…') writes; check the path, or train and save first.`,
    );
  }
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (err) {
    return fail(
      `${path.basename(jsonPath)} is missing or unreadable (${(err as Error).message})`,
      `Expected it beside ${WEIGHTS_BIN}. ${resave}`,
      err,
    );
  }
  let modelJSON: tf.io.ModelJSON;
  try {
    modelJSON = JSON.parse(text);
  } catch (err) {
    return fail(
      `${path.basename(jsonPath)} is not valid JSON (${(err as Error).message})`,
      resave,
      err,
    );
  }
  if (
    modelJSON === null ||
    typeof modelJSON.modelTopology !== 'object' ||
    modelJSON.modelTopology === null ||
    !Array.isArray(modelJSON.weightsManifest)
  ) {
    fail(
      `${path.basename(jsonPath)} lacks modelTopology or weightsManifest`,
      'Expected a TensorFlow.js layers model; pick the folder a layers model was saved to.',
    );
  }
  const saved = (modelJSON.userDefinedMetadata?.[METADATA_KEY] as { model?: unknown } | undefined)
    ?.model;
  if (expectedModel !== undefined && saved !== expectedModel) {
    fail(
      `expected a saved '${expectedModel}' model, but it holds ` +
        (typeof saved === 'string'
          ? `'${saved}'`
          : 'a model saved without a cifar-nets model name'),
      typeof saved === 'string'
        ? `Continue it as '${saved}', or choose a folder saved from '${expectedModel}'.`
        : `Choose a folder written by saveLearnerState for '${expectedModel}'.`,
    );
  }

  const specs: tf.io.WeightsManifestEntry[] = [];
  const buffers: ArrayBuffer[] = [];
  for (const group of modelJSON.weightsManifest) {
    specs.push(...group.weights);
    for (const file of group.paths) {
      buffers.push(await readBinary(path.resolve(dir, file), (what) => fail(what, resave)));
    }
  }
  const weightData = tf.io.CompositeArrayBuffer.join(buffers);
  const needed = bytesNeeded(specs);
  if (needed !== null && needed !== weightData.byteLength) {
    fail(
      `the weight files hold ${weightData.byteLength} bytes, but the manifest in ` +
        `${path.basename(jsonPath)} needs ${needed}`,
      resave,
    );
  }
  return {
    modelTopology: modelJSON.modelTopology,
    format: modelJSON.format,
    generatedBy: modelJSON.generatedBy,
    convertedBy: modelJSON.convertedBy,
    trainingConfig: modelJSON.trainingConfig,
    userDefinedMetadata: modelJSON.userDefinedMetadata,
    weightSpecs: specs,
    weightData,
  };
}

async function readBinary(file: string, fail: (what: string) => never): Promise<ArrayBuffer> {
  try {
    const buf = await fs.readFile(file);
    return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  } catch (err) {
    return fail(`${path.basename(file)} is missing or unreadable (${(err as Error).message})`);
  }
}

const BYTES_PER_VALUE: Record<string, number> = {
  float32: 4,
  int32: 4,
  bool: 1,
  complex64: 8,
  uint8: 1,
  uint16: 2,
  float16: 2,
};

/** Bytes the weights in `specs` take, or null when a string weight makes it unknowable. */
function bytesNeeded(specs: tf.io.WeightsManifestEntry[]): number | null {
  let total = 0;
  for (const spec of specs) {
    const bytes = BYTES_PER_VALUE[spec.quantization?.dtype ?? spec.dtype];
    if (bytes === undefined) return null;
    total += bytes * spec.shape.reduce((n, d) => n * d, 1);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// optimizer.json and optimizer.bin

/** An optimizer weight's place in optimizer.json: a weights-manifest entry plus its owner. */
interface OptimizerEntry extends tf.io.WeightsManifestEntry {
  /** Index into `model.weights` of the variable this slot belongs to; null for 'iter'. */
  modelWeight: number | null;
  /** The optimizer's slot name, e.g. 'momentum' or Adam's 'm'; null for 'iter'. */
  slot: string | null;
}

interface OptimizerJSON {
  format: typeof OPTIMIZER_FORMAT;
  formatVersion: 1;
  /** How many weights the model had; a different model cannot take this state. */
  modelWeights: number;
  paths: string[];
  weights: OptimizerEntry[];
}

/**
 * Which model variable an optimizer weight belongs to. TensorFlow.js names a slot
 * `${variable.name}/${slot}`, and the variable name carries a suffix unique to this process
 * ('layers.0/kernel_3'), so the file stores the variable's index in `model.weights` instead.
 * Returns null for the iteration counter, undefined when no variable matches.
 */
function optimizerTarget(
  name: string,
  model: tf.LayersModel,
): { modelWeight: number; slot: string } | null | undefined {
  if (name === 'iter') return null;
  let best: { modelWeight: number; slot: string } | undefined;
  let bestLength = -1;
  model.weights.forEach((w, i) => {
    // Longest match wins: 'a/kernel_1' must not claim 'a/kernel_12/momentum'.
    if (name.startsWith(`${w.name}/`) && w.name.length > bestLength) {
      best = { modelWeight: i, slot: name.slice(w.name.length + 1) };
      bestLength = w.name.length;
    }
  });
  return best;
}

async function encodeOptimizerWeights(
  weights: NamedTensor[],
  model: tf.LayersModel,
  dir: string,
): Promise<{ json: string; bin: Uint8Array }> {
  const targets = weights.map((w) => {
    const target = optimizerTarget(w.name, model);
    if (target === undefined) {
      throw new ModelSaveError(
        `Expected each optimizer weight to be 'iter' or to start with the name of one of the ` +
          `model's variables, but got '${w.name}'; pass the getWeights() of the optimizer that ` +
          'trains this model.',
        dir,
      );
    }
    return target;
  });
  const { data, specs } = await tf.io.encodeWeights(weights);
  const json: OptimizerJSON = {
    format: OPTIMIZER_FORMAT,
    formatVersion: 1,
    modelWeights: model.weights.length,
    paths: [OPTIMIZER_BIN],
    weights: specs.map((spec, i) => ({
      ...spec,
      modelWeight: targets[i]?.modelWeight ?? null,
      slot: targets[i]?.slot ?? null,
    })),
  };
  return { json: JSON.stringify(json), bin: new Uint8Array(data) };
}

async function readOptimizerWeights(
  dir: string,
  model: tf.LayersModel,
): Promise<NamedTensor[] | null> {
  const jsonPath = path.join(dir, OPTIMIZER_JSON);
  const fail = (what: string, cause?: unknown): never => {
    throw new ModelLoadError(
      `Cannot load the optimizer state in ${dir}: ${what}. Expected ${OPTIMIZER_JSON} and ` +
        `${OPTIMIZER_BIN} as saveLearnerState writes them; save the learner again, or delete ` +
        'both files to resume with a fresh optimizer.',
      dir,
      { cause },
    );
  };
  let text: string;
  try {
    text = await fs.readFile(jsonPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return fail(`${OPTIMIZER_JSON} is unreadable (${(err as Error).message})`, err);
  }
  let json: OptimizerJSON;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return fail(`${OPTIMIZER_JSON} is not valid JSON (${(err as Error).message})`, err);
  }
  if (json?.format !== OPTIMIZER_FORMAT || !Array.isArray(json.weights)) {
    fail(`${OPTIMIZER_JSON} is not in the ${OPTIMIZER_FORMAT} format`);
  }
  if (json.modelWeights !== model.weights.length) {
    fail(
      `it was saved for a model with ${json.modelWeights} weights, but this one has ` +
        `${model.weights.length}`,
    );
  }
  const buffers: ArrayBuffer[] = [];
  for (const file of json.paths) buffers.push(await readBinary(path.join(dir, file), fail));
  const data = tf.io.CompositeArrayBuffer.join(buffers);
  const needed = bytesNeeded(json.weights);
  if (needed !== null && needed !== data.byteLength) {
    fail(`${OPTIMIZER_BIN} holds ${data.byteLength} bytes, but ${OPTIMIZER_JSON} needs ${needed}`);
  }
  const tensors = tf.io.decodeWeights(data, json.weights);
  return json.weights.map((entry) => ({
    name:
      entry.modelWeight === null
        ? entry.name
        : `${model.weights[entry.modelWeight].name}/${entry.slot}`,
    tensor: tensors[entry.name],
  }));
}
