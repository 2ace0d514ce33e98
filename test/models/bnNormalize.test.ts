import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { BATCH_NORM } from '../../src/models/optionalKernels';
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
  // On cpu it is composed of standard ops; on wasm it runs the backend's own kernels
  // (src/backend/wasmBatchNorm.ts). With relu it normalises relu(x), the ReLU inside the op.
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const relu of [false, true]) {
      it(`gives the output and the gradients of the plain formula on ${backend}${relu ? ', with the ReLU inside' : ''}`, async () => {
        await tf.setBackend(backend);
        if (backend === 'wasm') {
          registerWasmKernels();
          assert.ok(tf.getKernel(BATCH_NORM, 'wasm'), 'the wasm batch norm kernel is registered');
        }
        tf.tidy(() => {
          // relu(x) has ties at zero, where the mask's edge is.
          const x = tf.tensor4d(randomValues(3 * 5 * 4 * 6, 1), [3, 5, 4, 6]);
          const m = tf.tensor1d(randomValues(6, 2)).add(1) as tf.Tensor1D;
          const a = tf.tensor1d(randomValues(6, 3));
          const r = tf.tensor4d(randomValues(3 * 5 * 4 * 6, 4), [3, 5, 4, 6]); // weights outputs
          const reference = (xx: tf.Tensor4D, mm: tf.Tensor1D, aa: tf.Tensor1D) =>
            plain(relu ? tf.relu(xx) : xx, mm, aa);
          const tested = (xx: tf.Tensor4D, mm: tf.Tensor1D, aa: tf.Tensor1D) =>
            bnNormalize(xx, mm, aa, undefined, relu);
          const loss = (f: typeof plain) => (xx: tf.Tensor, mm: tf.Tensor, aa: tf.Tensor) =>
            tf.sum(tf.mul(f(xx as tf.Tensor4D, mm as tf.Tensor1D, aa as tf.Tensor1D), r));
          assertClose(tested(x, m, a), reference(x, m, a), 'output');
          const want = tf.grads(loss(reference))([x, m, a]);
          const got = tf.grads(loss(tested))([x, m, a]);
          ['dx', 'dm', 'da'].forEach((what, i) => assertClose(got[i], want[i], what));
        });
      });
    }
  }

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`reports the batch mean and unbiased std per channel on ${backend}`, async () => {
      await tf.setBackend(backend);
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
  }

  it('rejects fewer than two values a channel, and mismatched m or a', () => {
    const one = tf.zeros([1, 1, 1, 3]) as tf.Tensor4D;
    assert.throws(() => bnNormalize(one, tf.ones([3]), tf.zeros([3])), /at least 2 values/);
    const y = tf.zeros([2, 2, 2, 3]) as tf.Tensor4D;
    assert.throws(() => bnNormalize(y, tf.ones([4]), tf.zeros([3])), /Expected m and a/);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`leaves no tensor and no backend buffer behind on ${backend}`, async () => {
      await tf.setBackend(backend);
      const buffers = () =>
        (tf.backend() as tf.KernelBackend & { numDataIds(): number }).numDataIds();
      const y = tf.tensor4d(randomValues(2 * 3 * 3 * 4, 9), [2, 3, 3, 4]);
      const m = tf.variable(tf.ones([4])) as tf.Variable<tf.Rank.R1>;
      const a = tf.variable(tf.zeros([4])) as tf.Variable<tf.Rank.R1>;
      const loss = () => tf.sum(tf.square(bnNormalize(y, m, a, undefined, true))) as tf.Scalar;
      const warmUp = tf.variableGrads(loss, [m, a]);
      tf.dispose([warmUp.value, ...Object.values(warmUp.grads)]);
      const [tensors, data] = [tf.memory().numTensors, buffers()];
      const { value, grads } = tf.variableGrads(loss, [m, a]);
      tf.dispose([value, ...Object.values(grads)]);
      assert.equal(tf.memory().numTensors, tensors);
      assert.equal(buffers(), data);
      tf.dispose([y, m, a]);
    });
  }
});
