import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels } from '../../src/backend/wasmGradients';
import { registerThreadedWasmBackend, WasmThreadsError } from '../../src/backend/wasmThreads';

describe('threaded wasm backend in Node', () => {
  it('rejects a thread count that is not a whole number >= 1', () => {
    assert.throws(() => registerThreadedWasmBackend(0), WasmThreadsError);
    assert.throws(() => registerThreadedWasmBackend(1.5), WasmThreadsError);
  });

  it('starts two threads and trains a convolution as the cpu backend does', async () => {
    registerThreadedWasmBackend(2);
    assert.ok(await tf.setBackend('wasm'), 'the threaded wasm backend should load');
    registerWasmGradientKernels();
    assert.equal(getThreadsCount(), 2);

    const grads = () =>
      tf.tidy(() => {
        const x = tf
          .range(0, 2 * 9 * 9 * 4)
          .reshape([2, 9, 9, 4])
          .div(100) as tf.Tensor4D;
        const w = tf
          .range(0, 3 * 3 * 4 * 6)
          .reshape([3, 3, 4, 6])
          .div(-50) as tf.Tensor4D;
        const f = (a: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.square(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')));
        return tf
          .grads(f)([x, w])
          .map((g) => g.dataSync() as Float32Array);
      });
    const got = grads();
    await tf.setBackend('cpu');
    const want = grads();
    for (let i = 0; i < want.length; i++) {
      const scale = Math.max(1, ...want[i].map(Math.abs));
      want[i].forEach((v, j) => assert.ok(Math.abs(got[i][j] - v) <= 1e-4 * scale, `${i}/${j}`));
    }
  });

  it('refuses to replace a wasm backend that is already running', () => {
    assert.throws(() => registerThreadedWasmBackend(2), /already initialised/);
  });
});
