import * as tf from '@tensorflow/tfjs';

/**
 * Mean negative log-likelihood of log-probabilities, PyTorch's `F.nll_loss`.
 * `logProbs` [batch, classes], `labels` [batch] int32 class indices.
 */
export function nllLoss(logProbs: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const classes = logProbs.shape[logProbs.shape.length - 1];
    const picked = tf.sum(tf.mul(logProbs, tf.oneHot(tf.cast(labels, 'int32'), classes)), -1);
    return tf.neg(tf.mean(picked)) as tf.Scalar;
  });
}

/** Fraction of rows whose largest log-probability is at the label. */
export function accuracy(logProbs: tf.Tensor, labels: tf.Tensor): tf.Scalar {
  return tf.tidy(() =>
    tf.mean(tf.cast(tf.equal(tf.argMax(logProbs, -1), tf.cast(labels, 'int32')), 'float32')),
  ) as tf.Scalar;
}
