import * as tf from '@tensorflow/tfjs';

type LayerArgs = NonNullable<ConstructorParameters<typeof tf.layers.Layer>[0]>;

/**
 * Log-softmax over the last axis: the lesson's `F.log_softmax(x, dim=-1)`. TensorFlow.js
 * has no such activation layer, so the models end with this one; its output pairs with the
 * negative log-likelihood loss.
 */
export class LogSoftmax extends tf.layers.Layer {
  static className = 'LogSoftmax';

  constructor(args: LayerArgs = {}) {
    super(args);
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.logSoftmax(Array.isArray(inputs) ? inputs[0] : inputs));
  }
}
tf.serialization.registerClass(LogSoftmax);

export function logSoftmax(args?: LayerArgs): LogSoftmax {
  return new LogSoftmax(args);
}
