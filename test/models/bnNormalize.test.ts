import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { bnNormalize } from '../../src/models/bnNormalize';
import { randomValues } from '../helpers/randomValues';

/** The lesson's normalisation written out with tf ops, left to autodiff: the reference. */
function plain(y: tf.Tensor4D, m: tf.Tensor1D, a: tf.Tensor1D): tf.Tensor4D {
  const [batch, h, w] = y.shape;
  const mean = tf.mean(y, [0, 1, 2]);
  const std = tf.sqrt(tf.div(tf.sum(tf.square(tf.sub(y, mean)), [0, 1, 2]), batch * h * w - 1));
  return tf.add(tf.mul(tf.div(tf.sub(y, mean), std), m), a);
}

function assertClose(got: tf.Tensor, want: tf.Tensor, what: string): void {
  assert.deepEqual(got.shape, want.shape, `${what}: shape`);
  const [g, w] = [got.dataSync(), want.dataSync()];
  const scale = Math.max(1, ...Array.from(w, Math.abs));
  for (let i = 0; i < w.length; i++) {
    assert.ok(Math.abs(g[i] - w[i]) <= 1e-4 * scale, `${what}[${i}]: ${g[i]} vs ${w[i]}`);
  }
}

describe('bnNormalize', () => {
  it('gives the output and the gradients of the plain formula', async () => {
    await tf.setBackend('cpu');
    tf.tidy(() => {
      const y = tf.relu(tf.tensor4d(randomValues(3 * 5 * 4 * 6, 1), [3, 5, 4, 6])); // ties at zero
      const m = tf.tensor1d(randomValues(6, 2)).add(1) as tf.Tensor1D;
      const a = tf.tensor1d(randomValues(6, 3));
      const r = tf.tensor4d(randomValues(3 * 5 * 4 * 6, 4), [3, 5, 4, 6]); // weights the outputs
      const loss = (f: typeof plain) => (yy: tf.Tensor, mm: tf.Tensor, aa: tf.Tensor) =>
        tf.sum(tf.mul(f(yy as tf.Tensor4D, mm as tf.Tensor1D, aa as tf.Tensor1D), r));
      assertClose(bnNormalize(y, m, a), plain(y, m, a), 'output');
      const want = tf.grads(loss(plain))([y, m, a]);
      const got = tf.grads(loss((yy, mm, aa) => bnNormalize(yy, mm, aa)))([y, m, a]);
      ['dy', 'dm', 'da'].forEach((what, i) => assertClose(got[i], want[i], what));
    });
  });

  it('reports the batch mean and unbiased std per channel', async () => {
    await tf.setBackend('cpu');
    const y = tf.tensor4d([1, 10, 3, 20, 5, 30, 7, 40], [2, 2, 1, 2]);
    let stats: number[][] = [];
    tf.tidy(() => {
      bnNormalize(y, tf.ones([2]), tf.zeros([2]), (mean, std) => {
        stats = [Array.from(mean.dataSync()), Array.from(std.dataSync())];
      });
    });
    assert.deepEqual(stats[0], [4, 25]);
    // Channel 0 holds 1, 3, 5, 7: squared deviations sum to 20, over n - 1 = 3.
    assert.ok(Math.abs(stats[1][0] - Math.sqrt(20 / 3)) < 1e-6);
    y.dispose();
  });

  it('rejects fewer than two values a channel, and mismatched m or a', () => {
    const one = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    assert.throws(() => bnNormalize(one, tf.ones([3]), tf.zeros([3])), /at least 2 values/);
    const y = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
    assert.throws(() => bnNormalize(y, tf.ones([4]), tf.zeros([3])), /Expected m and a/);
  });

  it('leaves no tensor behind', async () => {
    await tf.setBackend('cpu');
    const y = tf.tensor4d(randomValues(2 * 3 * 3 * 4, 9), [2, 3, 3, 4]);
    const m = tf.variable(tf.ones([4])) as tf.Variable<tf.Rank.R1>;
    const a = tf.variable(tf.zeros([4])) as tf.Variable<tf.Rank.R1>;
    const before = tf.memory().numTensors;
    const loss = () => tf.sum(tf.square(bnNormalize(y, m, a))) as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, [m, a]);
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, before);
    tf.dispose([y, m, a]);
  });
});
