import type * as tf from '@tensorflow/tfjs';

import type { EpochRecord } from './history';
import type { LearnerMetadata } from './modelIO';
import type { OptimizerName } from './optimizer';
import { describeFitSpec, type FitSpec } from './schedule';
import type { SmoothedLossState } from './smoothLoss';

/** Marks model.json metadata written by a Learner, and its layout's version. */
export const LEARNER_FORMAT = 'cifar-nets-learner';
export const LEARNER_FORMAT_VERSION = 1;

/** Thrown when a checkpoint cannot continue this run: another plan, data or model. */
export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/** Where a plan stands after an epoch: the fit, and the epochs of it already done. */
export interface CheckpointPosition {
  /** Index into the plan of the fit under way. */
  fitIndex: number;
  /** Epochs of that fit finished; equal to its length once the fit is done. */
  epochInFit: number;
}

/** The data a run's schedule and batches depend on; a resume must see the same. */
export interface DataSignature {
  trainCount: number;
  batchSize: number;
  batchesPerEpoch: number;
}

/** What a checkpoint adds to a saved learner: enough to carry on at the next epoch. */
export interface CheckpointState {
  plan: FitSpec[];
  position: CheckpointPosition;
  /** Index into `history` of the plan's first epoch. */
  planStart: number;
  /** The training-loss smoother of the fit under way. */
  smoother: SmoothedLossState;
  data: DataSignature;
}

/** The JSON a Learner keeps in a saved folder's model.json (modelIO's metadata). */
export interface SavedLearnerMetadata extends LearnerMetadata {
  /** Short model name, e.g. 'convbn'; modelIO checks it when loading. */
  model: string;
  format: typeof LEARNER_FORMAT;
  formatVersion: typeof LEARNER_FORMAT_VERSION;
  optimizer: {
    name: OptimizerName;
    momentum: number;
    weightDecay: number;
    /** State the optimiser's getWeights leaves out (Adam's powers of beta). */
    extras: Record<string, number>;
  };
  /** Class names in label order, so a saved model can name its predictions. */
  classes: string[];
  /** Shape of every model weight, in `model.weights` order. */
  weightShapes: number[][];
  history: EpochRecord[];
  /** Present in checkpoints written during fitPlan, absent from `learner.save`. */
  checkpoint?: CheckpointState;
}

/** Shapes of all the model's weights, trainable or not, in order. */
export function weightShapes(model: tf.LayersModel): number[][] {
  return model.weights.map((w) => [...w.shape] as number[]);
}

/**
 * Checks that the learner metadata read from `dir` can continue `plan` on `model` with `data`,
 * and returns its checkpoint part. Every mismatch is a CheckpointError saying what the folder
 * holds, what this run has and what to do.
 */
export function checkResumable(
  dir: string,
  metadata: Partial<SavedLearnerMetadata>,
  expected: {
    plan: FitSpec[];
    model: tf.LayersModel;
    data: DataSignature;
    optimizer: Omit<SavedLearnerMetadata['optimizer'], 'extras'>;
  },
): CheckpointState {
  const fresh = 'or start afresh without resume (the CLI: drop --resume)';
  if (metadata.format !== LEARNER_FORMAT || metadata.formatVersion !== LEARNER_FORMAT_VERSION) {
    throw new CheckpointError(
      `Expected a ${LEARNER_FORMAT} checkpoint, version ${LEARNER_FORMAT_VERSION}, in ${dir}, ` +
        `but its metadata says format ${JSON.stringify(metadata.format)}, version ` +
        `${JSON.stringify(metadata.formatVersion)}; choose the folder a Learner checkpointed ` +
        `to, ${fresh}.`,
    );
  }
  const checkpoint = metadata.checkpoint;
  if (checkpoint === undefined) {
    throw new CheckpointError(
      `Expected a checkpoint in ${dir}, but it holds a model saved with learner.save, ` +
        `which has no schedule position; give the folder passed as checkpointDir, ${fresh}.`,
    );
  }
  const savedShapes = JSON.stringify(metadata.weightShapes);
  const shapes = JSON.stringify(weightShapes(expected.model));
  if (savedShapes !== shapes) {
    throw new CheckpointError(
      `Expected the checkpoint in ${dir} to hold this model's weights (shapes ${shapes}), ` +
        `but it holds another model's (shapes ${savedShapes}); resume with the model that ` +
        `wrote it, ${fresh}.`,
    );
  }
  const planText = (plan: FitSpec[]) => plan.map(describeFitSpec).join(' ');
  if (JSON.stringify(checkpoint.plan) !== JSON.stringify(expected.plan)) {
    throw new CheckpointError(
      `Expected the checkpoint in ${dir} to come from the plan ${planText(expected.plan)}, ` +
        `but it was written by ${planText(checkpoint.plan)}; resume with the same fits ` +
        `(the CLI: the same --fit options), ${fresh}.`,
    );
  }
  for (const key of ['trainCount', 'batchSize', 'batchesPerEpoch'] as const) {
    if (checkpoint.data[key] !== expected.data[key]) {
      throw new CheckpointError(
        `Expected the same data as the checkpointed run, but its ${key} was ` +
          `${checkpoint.data[key]} and this run's is ${expected.data[key]}; resume with the ` +
          `same data options (batch size, limits), ${fresh}.`,
      );
    }
  }
  for (const key of ['name', 'momentum', 'weightDecay'] as const) {
    if (metadata.optimizer?.[key] !== expected.optimizer[key]) {
      throw new CheckpointError(
        `Expected the checkpoint in ${dir} to come from an optimiser with ${key} ` +
          `${expected.optimizer[key]}, as this run's, but it was written with ` +
          `${metadata.optimizer?.[key]}; resume with the same optimiser options, ${fresh}.`,
      );
    }
  }
  return checkpoint;
}
