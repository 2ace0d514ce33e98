import * as tf from '@tensorflow/tfjs';

import type { NamedTensor } from './modelIO';

/** The optimisers a Learner can train with. */
export type OptimizerName = 'sgd' | 'adam';
export const OPTIMIZER_NAMES: readonly OptimizerName[] = ['sgd', 'adam'];

/**
 * Creates the optimiser `name` at rate `lr`.
 *
 * `sgd` is fastai 0.7's default, PyTorch's `SGD(momentum=0.9)` without dampening or Nesterov:
 * `buf = momentum * buf + grad; w -= lr * buf`, which is exactly tf.train.momentum's update.
 * `adam` uses PyTorch's defaults (betas 0.9 and 0.999, eps 1e-8) rather than the backend's
 * epsilon, so that it matches `optim.Adam`.
 */
export function createOptimizer(name: OptimizerName, lr: number, momentum: number): tf.Optimizer {
  switch (name) {
    case 'sgd':
      return tf.train.momentum(lr, momentum);
    case 'adam':
      return tf.train.adam(lr, 0.9, 0.999, 1e-8);
    default:
      throw new RangeError(
        `Expected optimizer to be one of ${OPTIMIZER_NAMES.join(', ')}, but got '${name}'.`,
      );
  }
}

/**
 * Sets the rate the next `applyGradients` uses. tf.train.momentum (an SGDOptimizer) keeps
 * `-lr` in a scalar tensor that only `setLearningRate` refreshes; Adam reads its
 * `learningRate` field at every step and has no setter.
 */
export function setLearningRate(optimizer: tf.Optimizer, lr: number): void {
  const target = optimizer as unknown as {
    setLearningRate?: (lr: number) => void;
    learningRate: number;
  };
  if (typeof target.setLearningRate === 'function') target.setLearningRate(lr);
  else target.learningRate = lr;
}

/** A copy of an optimiser's state that later training does not change. */
export interface OptimizerSnapshot {
  /** getWeights()'s order: the iteration count, then the slots (momentum, or Adam's m and v). */
  weights: NamedTensor[];
  /** Adam's running powers of beta1 and beta2, which getWeights leaves out. */
  extras: Record<string, number>;
}

// Adam's bias-correction powers. setWeights recomputes them as beta^(iterations + 1) with
// `pow`, which need not equal the running product bit for bit, so they are kept and put back.
const ADAM_EXTRAS = ['accBeta1', 'accBeta2'] as const;

/** Copies the optimiser's state; the caller disposes `weights` (see disposeSnapshot). */
export async function snapshotOptimizer(optimizer: tf.Optimizer): Promise<OptimizerSnapshot> {
  const live = await optimizer.getWeights();
  // The slots are the live variables, which later steps replace by assignment, so a clone
  // keeps today's values; the iteration count comes as a fresh scalar already.
  const weights = live.map(({ name, tensor }) => ({
    name,
    tensor: tensor instanceof tf.Variable ? tf.clone(tensor) : tensor,
  }));
  return { weights, extras: await optimizerExtras(optimizer) };
}

/** The optimiser state getWeights leaves out, as plain numbers: Adam's powers of beta. */
export async function optimizerExtras(optimizer: tf.Optimizer): Promise<Record<string, number>> {
  const extras: Record<string, number> = {};
  for (const key of ADAM_EXTRAS) {
    const variable = (optimizer as unknown as Record<string, tf.Variable | undefined>)[key];
    if (variable instanceof tf.Variable) extras[key] = (await variable.data())[0];
  }
  return extras;
}

/**
 * Disposes what getWeights made for the caller (the iteration count), not the optimiser's
 * own slot variables in the same list.
 */
export function disposeFreshWeights(weights: NamedTensor[]): void {
  tf.dispose(weights.map(({ tensor }) => tensor).filter((t) => !(t instanceof tf.Variable)));
}

/**
 * Puts `snapshot` into `optimizer` exactly, disposing the slot variables it replaces (the
 * stock setWeights makes new ones and drops the old without disposing them). The snapshot's
 * tensors stay the caller's to dispose.
 */
export async function restoreOptimizer(
  optimizer: tf.Optimizer,
  snapshot: OptimizerSnapshot,
): Promise<void> {
  const replaced = await optimizer.getWeights();
  if (snapshot.weights.length === 0) {
    throw new RangeError(
      'Expected optimizer weights to start with the iteration count, but got none.',
    );
  }
  await optimizer.setWeights(snapshot.weights);
  tf.dispose(replaced.map(({ tensor }) => tensor));
  for (const key of ADAM_EXTRAS) {
    const variable = (optimizer as unknown as Record<string, tf.Variable | undefined>)[key];
    const value = snapshot.extras[key];
    if (variable instanceof tf.Variable && value !== undefined) {
      tf.tidy(() => variable.assign(tf.scalar(value)));
    }
  }
}

/** Disposes a snapshot's tensors. */
export function disposeSnapshot(snapshot: OptimizerSnapshot): void {
  tf.dispose(snapshot.weights.map(({ tensor }) => tensor));
}
