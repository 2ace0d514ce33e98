import * as tf from '@tensorflow/tfjs';

import type { Batch, DataLoader } from '../data/Batch';
import {
  checkResumable,
  CheckpointError,
  LEARNER_FORMAT,
  LEARNER_FORMAT_VERSION,
  weightShapes,
  type CheckpointPosition,
  type CheckpointState,
  type SavedLearnerMetadata,
} from './checkpoint';
import { EpochProgress } from './EpochProgress';
import { epochHeader, formatEpochRow, type EpochRecord } from './history';
import { accuracy, nllLoss } from './loss';
import { loadLearnerState, remapOptimizerWeights, saveLearnerState } from './modelIO';
import {
  createOptimizer,
  disposeFreshWeights,
  disposeSnapshot,
  optimizerExtras,
  restoreOptimizer,
  setLearningRate,
  snapshotOptimizer,
  type OptimizerName,
} from './optimizer';
import {
  checkFitSpec,
  describeFitSpec,
  epochsIn,
  FitSpecError,
  lrAt,
  normalizeFitSpec,
  type FitSpec,
} from './schedule';
import { SmoothedLoss, type SmoothedLossState } from './smoothLoss';
import { suggestLr } from './suggestLr';

/** How a Learner trains and reports. Every field is optional. */
export interface LearnerOptions {
  /** `'sgd'` (default): momentum SGD as fastai 0.7; `'adam'`: PyTorch's Adam defaults. */
  optimizer?: OptimizerName;
  /** SGD's momentum. Default 0.9, fastai 0.7's. Ignored by Adam. */
  momentum?: number;
  /** L2 penalty added to the gradients, `grad + weightDecay * w`, as PyTorch's. Default 0. */
  weightDecay?: number;
  /** Where the per-epoch rows go; stderr by default, null for none. */
  log?: ((line: string) => void) | null;
  /** A progress bar per epoch on stderr. Default: only when stderr is a terminal. */
  progress?: boolean;
  /** Save a checkpoint here at the end of every epoch, for `fitPlan(plan, { resume: true })`. */
  checkpointDir?: string;
  /**
   * The model's short name in the registry, e.g. 'convbn', written into saved folders and
   * checked when resuming. Default: the model's own name.
   */
  modelName?: string;
}

/** lrFind's sweep. */
export interface LrFindOptions {
  /** The first rate. Default 1e-5. */
  startLr?: number;
  /** The rate the sweep grows toward. Default 10. */
  endLr?: number;
  /** Iterations of the sweep. Default: one epoch's batches. */
  numIt?: number;
}

/** What lrFind found. */
export interface LrFindResult {
  /** The rate of each iteration kept, growing geometrically. */
  lrs: number[];
  /** The smoothed loss after each of those iterations. */
  losses: number[];
  /** The rate to try; NaN when the sweep kept too few points to suggest one. */
  suggestedLr: number;
  /** The rule that gave `suggestedLr`, in words. */
  suggestion: string;
  /** True when the loss blew up (not finite, or 4 times the best) before the last iteration. */
  stoppedEarly: boolean;
}

/** Thrown when the training loss stops being a finite number: the rate is far too high. */
export class TrainingDivergedError extends Error {
  override name = 'TrainingDivergedError';
}

/**
 * The weight each new batch loss gets is 1 - SMOOTHING: fastai's `avg_mom` of 0.98 for the
 * training loss and for lrFind.
 */
const SMOOTHING = 0.98;

/**
 * Trains a model on a DataLoader the way fastai 0.7's `ConvLearner.from_model_data` does:
 * momentum SGD (or Adam), the negative log-likelihood of the model's log-softmax output,
 * accuracy as the metric, `fit` with SGDR cycles, and `lrFind`.
 *
 * Porting note: fastai 0.7 makes a fresh optimiser, with zero momentum, for every `fit`
 * call. Here one optimiser lives as long as the learner, so chained fits carry momentum over,
 * as the PyTorch reference run does, and a checkpoint's optimiser state is the whole state.
 */
export class Learner {
  /** One row a finished epoch, over the learner's life (and the checkpoint it resumed). */
  history: EpochRecord[] = [];

  /** The optimiser; its rate is set by the schedule before every step. */
  readonly optimizer: tf.Optimizer;
  private readonly optimizerName: OptimizerName;
  private readonly momentum: number;
  private readonly modelName: string;
  private readonly weightDecay: number;
  private readonly log: ((line: string) => void) | null;
  private readonly progress: boolean;
  private readonly checkpointDir?: string;

  constructor(
    readonly model: tf.LayersModel,
    readonly data: DataLoader,
    options: LearnerOptions = {},
  ) {
    this.optimizerName = options.optimizer ?? 'sgd';
    const momentum = options.momentum ?? 0.9;
    if (!(momentum >= 0 && momentum < 1)) {
      throw new RangeError(`Expected momentum to be in [0, 1), but got ${momentum}.`);
    }
    this.momentum = momentum;
    this.modelName = options.modelName ?? model.name;
    this.weightDecay = options.weightDecay ?? 0;
    if (!(this.weightDecay >= 0 && Number.isFinite(this.weightDecay))) {
      throw new RangeError(
        `Expected weightDecay to be a number >= 0, but got ${options.weightDecay}.`,
      );
    }
    // The rate is set before every step; this one is never used.
    this.optimizer = createOptimizer(this.optimizerName, 1e-3, momentum);
    this.log =
      options.log === undefined ? (line) => process.stderr.write(`${line}\n`) : options.log;
    this.progress = options.progress ?? process.stderr.isTTY === true;
    this.checkpointDir = options.checkpointDir;
  }

  /**
   * fastai 0.7's `learn.fit(lr, nCycle, cycle_len=, cycle_mult=)`: without `cycleLen`,
   * `nCycle` epochs at the constant rate `lr`; with it, `nCycle` cosine-annealed cycles, each
   * `cycleMult` times longer than the last (see lrAt). Returns this fit's epochs.
   */
  fit(
    lr: number,
    nCycle: number,
    opts: { cycleLen?: number; cycleMult?: number } = {},
  ): Promise<EpochRecord[]> {
    return this.fitPlan([{ lr, nCycle, ...opts }]);
  }

  /**
   * Runs fits one after another, as the lesson's consecutive `learn.fit` calls (the CLI's
   * `--fit 3e-2:2 --fit 1e-1:4:1`). Each fit restarts its schedule and its smoothed loss.
   * With `checkpointDir`, a checkpoint is written after every epoch; `resume` continues from
   * the one there, at the epoch after it, and the result is the one an uninterrupted run
   * would have reached. Returns the plan's epochs, including those before a resume.
   */
  async fitPlan(plan: FitSpec[], opts: { resume?: boolean } = {}): Promise<EpochRecord[]> {
    if (!Array.isArray(plan) || plan.length === 0) {
      throw new FitSpecError('Expected a plan of at least one fit, but got none.');
    }
    plan.forEach(checkFitSpec);
    const cleanPlan = plan.map(normalizeFitSpec);
    let position: CheckpointPosition = { fitIndex: 0, epochInFit: 0 };
    let smoother = new SmoothedLoss(SMOOTHING);
    let planStart = this.history.length;
    if (opts.resume) {
      if (this.checkpointDir === undefined) {
        throw new CheckpointError(
          'Expected a checkpointDir to resume from, but the learner has none; ' +
            'give the folder of the interrupted run (the CLI: --checkpoint <dir>).',
        );
      }
      const resumed = await this.restoreCheckpoint(this.checkpointDir, cleanPlan);
      ({ position, planStart } = resumed);
      smoother = new SmoothedLoss(SMOOTHING, resumed.smoother);
    }
    this.log?.(epochHeader());
    if (opts.resume) {
      const left = cleanPlan.length - position.fitIndex;
      this.log?.(
        `resumed from ${this.checkpointDir} after epoch ${this.history.length}` +
          (left === 0 ? '; the plan was already complete' : ''),
      );
      for (const record of this.history.slice(planStart)) this.log?.(formatEpochRow(record));
    }
    for (let fitIndex = position.fitIndex; fitIndex < cleanPlan.length; fitIndex++) {
      const spec = cleanPlan[fitIndex];
      const epochs = epochsIn(spec);
      const first = fitIndex === position.fitIndex ? position.epochInFit : 0;
      if (first === 0) smoother = new SmoothedLoss(SMOOTHING);
      for (let epochInFit = first; epochInFit < epochs; epochInFit++) {
        const record = await this.runEpoch(spec, epochInFit, smoother);
        this.history.push(record);
        this.log?.(formatEpochRow(record));
        if (this.checkpointDir !== undefined) {
          await this.writeFolder(this.checkpointDir, {
            plan: cleanPlan,
            position: { fitIndex, epochInFit: epochInFit + 1 },
            planStart,
            smoother: smoother.state(),
            data: this.dataSignature(),
          });
        }
      }
    }
    return this.history.slice(planStart);
  }

  /**
   * fastai 0.7's `learn.lr_find()`: trains with a rate growing geometrically from `startLr`
   * toward `endLr` (iteration `k` of `n` at `startLr * (endLr / startLr)^(k / n)`), smooths
   * the loss as training does, and stops once the smoothed loss is not finite or exceeds 4
   * times the best seen after the tenth iteration. The weights (BnLayer statistics included)
   * and the optimiser state are put back exactly afterwards.
   */
  async lrFind(opts: LrFindOptions = {}): Promise<LrFindResult> {
    const startLr = opts.startLr ?? 1e-5;
    const endLr = opts.endLr ?? 10;
    const numIt = opts.numIt ?? this.data.batchesPerEpoch;
    for (const [name, value] of [
      ['startLr', startLr],
      ['endLr', endLr],
    ] as const) {
      if (!(Number.isFinite(value) && value > 0)) {
        throw new RangeError(`Expected ${name} to be a positive number, but got ${value}.`);
      }
    }
    if (!(endLr > startLr)) {
      throw new RangeError(
        `Expected endLr to be above startLr (${startLr}), but got ${endLr}; ` +
          'the sweep grows the rate from startLr to endLr.',
      );
    }
    if (!Number.isInteger(numIt) || numIt < 1) {
      throw new RangeError(`Expected numIt to be a whole number >= 1, but got ${numIt}.`);
    }

    const weights = this.model.weights.map((w) => tf.clone(w.read()));
    const optimizerState = await snapshotOptimizer(this.optimizer);
    const lrs: number[] = [];
    const losses: number[] = [];
    let stoppedEarly = false;
    const bar = new EpochProgress(this.progress, 'lr-find', numIt);
    try {
      const smoother = new SmoothedLoss(SMOOTHING);
      let best = Infinity;
      let k = 0;
      // More iterations than an epoch has batches go on into the next epochs' batches.
      for (let epoch = this.history.length; k < numIt && !stoppedEarly; epoch++) {
        const kBefore = k;
        for await (const batch of this.data.train(epoch)) {
          const lr = startLr * (endLr / startLr) ** (k / numIt);
          setLearningRate(this.optimizer, lr);
          const images = batch.x.shape[0];
          const loss = smoother.add(await this.step(batch));
          bar.tick(images, loss);
          // fastai checks before it records: the point that blew up is not kept.
          if (!Number.isFinite(loss) || loss > 4 * best) {
            stoppedEarly = true;
            break;
          }
          lrs.push(lr);
          losses.push(loss);
          // fastai's `iteration > 10`, with the iteration counted from 0.
          if (loss < best && k > 10) best = loss;
          if (++k >= numIt) break;
        }
        if (k === kBefore && !stoppedEarly) {
          throw new RangeError(
            `Expected training batches for lrFind, but the loader gave none for epoch ${epoch}.`,
          );
        }
      }
    } finally {
      bar.stop();
      this.model.weights.forEach((w, i) => w.write(weights[i]));
      tf.dispose(weights);
      await restoreOptimizer(this.optimizer, optimizerState);
      disposeSnapshot(optimizerState);
    }
    return { lrs, losses, ...suggestLr(lrs, losses), stoppedEarly };
  }

  /** Mean loss and accuracy over the validation batches, the model in inference mode. */
  async validate(): Promise<{ loss: number; accuracy: number }> {
    let lossSum = 0;
    let correct = 0;
    let count = 0;
    for await (const { x, y } of this.data.valid()) {
      try {
        const [loss, acc] = tf.tidy(() => {
          // [batch, classes]
          const logProbs = this.model.apply(x, { training: false }) as tf.Tensor;
          return [nllLoss(logProbs, y), accuracy(logProbs, y)];
        });
        const [lossValue, accValue] = await Promise.all([loss.data(), acc.data()]);
        tf.dispose([loss, acc]);
        const n = x.shape[0];
        // Weighted by batch size, so a short last batch counts as much as its images.
        lossSum += lossValue[0] * n;
        correct += Math.round(accValue[0] * n);
        count += n;
      } finally {
        tf.dispose([x, y]);
      }
    }
    if (count === 0) {
      throw new RangeError('Expected validation batches to validate on, but the loader gave none.');
    }
    return { loss: lossSum / count, accuracy: correct / count };
  }

  /**
   * Saves the model (every weight, BnLayer statistics included), the optimiser state and the
   * history to `dir`, atomically, through modelIO.
   */
  async save(dir: string): Promise<void> {
    await this.writeFolder(dir);
  }

  /** Frees the optimiser's tensors. The model and the data stay the caller's. */
  dispose(): void {
    this.optimizer.dispose();
  }

  /** One epoch of the fit `spec`: its batches, its rates, then validation and the row. */
  private async runEpoch(
    spec: FitSpec,
    epochInFit: number,
    smoother: SmoothedLoss,
  ): Promise<EpochRecord> {
    const itersPerEpoch = this.data.batchesPerEpoch;
    const epoch = this.history.length + 1;
    const startMs = performance.now();
    const bar = new EpochProgress(
      this.progress,
      `epoch ${epoch} (fit ${describeFitSpec(spec)})`,
      itersPerEpoch,
    );
    let iteration = epochInFit * itersPerEpoch;
    let lr = NaN;
    let images = 0;
    try {
      for await (const batch of this.data.train(epoch - 1)) {
        lr = lrAt(spec, iteration, itersPerEpoch);
        setLearningRate(this.optimizer, lr);
        const size = batch.x.shape[0];
        const loss = await this.step(batch);
        if (!Number.isFinite(loss)) {
          throw new TrainingDivergedError(
            `Training diverged: the loss became ${loss} at epoch ${epoch}, iteration ` +
              `${iteration - epochInFit * itersPerEpoch + 1} of ${itersPerEpoch}, ` +
              `with the rate at ${lr.toExponential(2)}. The rate is too high for this model; ` +
              'run lr-find to choose one, and train with a lower rate.',
          );
        }
        images += size;
        bar.tick(size, smoother.add(loss));
        iteration++;
      }
    } finally {
      bar.stop();
    }
    const trainSeconds = (performance.now() - startMs) / 1000;
    const valid = await this.validate();
    if (!Number.isFinite(valid.loss)) {
      throw new TrainingDivergedError(
        `Training diverged: the validation loss after epoch ${epoch} is ${valid.loss}. ` +
          'The rate is probably too high; run lr-find to choose one.',
      );
    }
    return {
      epoch,
      lr,
      trainLoss: smoother.value,
      validLoss: valid.loss,
      accuracy: valid.accuracy,
      seconds: (performance.now() - startMs) / 1000,
      imagesPerSec: images / trainSeconds,
    };
  }

  /**
   * One optimisation step on `batch`, which it disposes: forward in training mode (BnLayer
   * stores the batch statistics), the loss, gradients for the trainable weights, weight decay,
   * the optimiser's update at its current rate. Returns the batch's loss.
   */
  private async step(batch: Batch): Promise<number> {
    const { x, y } = batch;
    let loss: tf.Scalar;
    try {
      const variables = this.model.trainableWeights.map((w) => w.read() as tf.Variable);
      loss = tf.tidy(() => {
        const { value, grads } = tf.variableGrads(() => {
          // [batch, classes]; BnLayer stores this batch's statistics.
          const logProbs = this.model.apply(x, { training: true }) as tf.Tensor;
          return nllLoss(logProbs, y);
        }, variables);
        // In the variables' order, so the optimiser's slots keep their places across steps.
        const named: { name: string; tensor: tf.Tensor }[] = [];
        for (const v of variables) {
          const grad = grads[v.name];
          if (grad == null) continue;
          named.push({
            name: v.name,
            tensor: this.weightDecay > 0 ? tf.add(grad, tf.mul(v, this.weightDecay)) : grad,
          });
        }
        this.optimizer.applyGradients(named);
        return value;
      });
    } finally {
      tf.dispose([x, y]);
    }
    try {
      return (await loss.data())[0];
    } finally {
      loss.dispose();
    }
  }

  /** Writes the model, the optimiser state and the metadata (with a checkpoint's) to `dir`. */
  private async writeFolder(dir: string, checkpoint?: CheckpointState): Promise<void> {
    const optimizerWeights = await this.optimizer.getWeights();
    try {
      await saveLearnerState<SavedLearnerMetadata>(dir, {
        model: this.model,
        optimizerWeights,
        metadata: {
          model: this.modelName,
          format: LEARNER_FORMAT,
          formatVersion: LEARNER_FORMAT_VERSION,
          optimizer: {
            ...this.optimizerConfig(),
            extras: await optimizerExtras(this.optimizer),
          },
          weightShapes: weightShapes(this.model),
          classes: this.data.classes,
          history: this.history,
          ...(checkpoint && { checkpoint }),
        },
      });
    } finally {
      disposeFreshWeights(optimizerWeights);
    }
  }

  /**
   * Loads the checkpoint in `dir` into this learner after checking it continues `plan`: model
   * weights, optimiser state, history. Returns where the plan stands.
   */
  private async restoreCheckpoint(
    dir: string,
    plan: FitSpec[],
  ): Promise<{ position: CheckpointPosition; planStart: number; smoother: SmoothedLossState }> {
    const loaded = await loadLearnerState<SavedLearnerMetadata>(dir, {
      expectedModel: this.modelName,
    });
    try {
      const checkpoint = checkResumable(dir, loaded.metadata, {
        plan,
        model: this.model,
        data: this.dataSignature(),
        optimizer: this.optimizerConfig(),
      });
      if (loaded.optimizerWeights === null) {
        throw new CheckpointError(
          `Expected optimiser state in the checkpoint ${dir}, but it has none; without it the ` +
            'run cannot continue as it would have. Start afresh without resume.',
        );
      }
      const sources = loaded.model.weights.map((w) => w.read());
      this.model.weights.forEach((w, i) => w.write(sources[i]));
      await restoreOptimizer(this.optimizer, {
        weights: remapOptimizerWeights(loaded.optimizerWeights, loaded.model, this.model),
        extras: loaded.metadata.optimizer.extras,
      });
      this.history = loaded.metadata.history;
      let { fitIndex, epochInFit } = checkpoint.position;
      // A fit that was finished hands over to the next one, with a fresh smoother.
      const fitDone = epochInFit >= epochsIn(plan[fitIndex]);
      if (fitDone) [fitIndex, epochInFit] = [fitIndex + 1, 0];
      return {
        position: { fitIndex, epochInFit },
        planStart: checkpoint.planStart,
        smoother: fitDone ? { average: 0, count: 0 } : checkpoint.smoother,
      };
    } finally {
      loaded.model.dispose();
      tf.dispose((loaded.optimizerWeights ?? []).map(({ tensor }) => tensor));
    }
  }

  private optimizerConfig() {
    return { name: this.optimizerName, momentum: this.momentum, weightDecay: this.weightDecay };
  }

  private dataSignature() {
    return {
      trainCount: this.data.trainCount,
      batchSize: this.data.batchSize,
      batchesPerEpoch: this.data.batchesPerEpoch,
    };
  }
}
