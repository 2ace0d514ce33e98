import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { kernelThreads, setKernelSimd } from '../../src/backend/wasmModule';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { registerThreadedWasmBackend, WasmThreadsError } from '../../src/backend/wasmThreads';
import { bnNormalize } from '../../src/models/bnNormalize';
import { globalMaxPool } from '../../src/models/GlobalMaxPool';
import {
  assertClose,
  assertSameResults,
  cases,
  convResults,
  describeCase,
} from '../helpers/convCases';
import { randomValues } from '../helpers/randomValues';

describe('threaded wasm backend in Node', () => {
  it('rejects a thread count that is not a whole number >= 1', () => {
    assert.throws(() => registerThreadedWasmBackend(0), WasmThreadsError);
    assert.throws(() => registerThreadedWasmBackend(1.5), WasmThreadsError);
  });

  it("starts two threads for the package's kernels", async () => {
    registerThreadedWasmBackend(2);
    assert.ok(await tf.setBackend('wasm'), 'the threaded wasm backend should load');
    registerWasmKernels();
    assert.equal(kernelThreads(tf.backend() as BackendWasm), 2, "the package's kernels");
    assert.equal(getThreadsCount(), 1, "XNNPACK's, kept at one");
  });

  // The convolution kernels split the batch between the two threads: every case at a batch
  // of at least 2 (odd ones too), with both builds of the kernels.
  for (const simd of ['simd', 'relaxed'] as const) {
    cases().forEach((c, i) => {
      const batched = { ...c, batch: 2 + (i % 3) };
      it(`compute as the cpu backend does with ${simd} for ${describeCase(batched)}`, async () => {
        await tf.setBackend('cpu');
        const want = convResults(batched, 100 * i);
        await tf.setBackend('wasm');
        setKernelSimd(simd);
        assertSameResults(convResults(batched, 100 * i), want);
      });
    });
  }

  it('normalises a batch as the cpu backend does, the pixels split between the threads', async () => {
    // 3 * 7 * 5 = 105 pixels: an odd split. Output and all three gradients, ReLU inside.
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomValues(3 * 7 * 5 * 6, 21), [3, 7, 5, 6]);
        const m = tf.tensor1d(randomValues(6, 22)).add(1) as tf.Tensor1D;
        const a = tf.tensor1d(randomValues(6, 23));
        const r = tf.tensor4d(randomValues(3 * 7 * 5 * 6, 24), [3, 7, 5, 6]);
        const f = (xx: tf.Tensor, mm: tf.Tensor, aa: tf.Tensor) =>
          tf.sum(
            tf.mul(
              bnNormalize(xx as tf.Tensor4D, mm as tf.Tensor1D, aa as tf.Tensor1D, undefined, true),
              r,
            ),
          );
        const y = bnNormalize(x, m, a, undefined, true);
        return [y, ...tf.grads(f)([x, m, a])].map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('wasm');
    const got = run();
    await tf.setBackend('cpu');
    const want = run();
    ['y', 'dx', 'dm', 'da'].forEach((what, i) => assertClose(got[i], want[i], what));
  });

  it('pools the maxima as the cpu backend does, the images split between the threads', async () => {
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomValues(5 * 3 * 3 * 7, 31), [5, 3, 3, 7]);
        const r = tf.tensor2d(randomValues(5 * 7, 32), [5, 7]);
        const f = (xx: tf.Tensor) => tf.sum(tf.mul(globalMaxPool(xx as tf.Tensor4D), r));
        return [globalMaxPool(x), tf.grad(f)(x)].map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('wasm');
    const got = run();
    await tf.setBackend('cpu');
    const want = run();
    ['y', 'dx'].forEach((what, i) => assertClose(got[i], want[i], what));
  });

  it('multiplies aᵀ·b and a·bᵀ as the cpu backend does, the rows split between the threads', async () => {
    // 37 rows: an odd split. A dense layer's weight and input gradients. Then aᵀ·b with b of
    // one column and 5 rows: the filter gradient reads every row of b from its padded copy
    // of dy's last rows, and the two threads share them.
    const run = () =>
      tf.tidy(() => {
        const a = tf.tensor2d(randomValues(37 * 19, 41), [37, 19]);
        const b = tf.tensor2d(randomValues(37 * 11, 42), [37, 11]);
        const c = tf.tensor2d(randomValues(13 * 19, 43), [13, 19]);
        const d = tf.tensor2d(randomValues(5 * 6, 44), [5, 6]);
        const e = tf.tensor2d(randomValues(5, 45), [5, 1]);
        const products = [
          tf.matMul(a, b, true, false),
          tf.matMul(a, c, false, true),
          tf.matMul(d, e, true, false),
        ];
        return products.map((t) => t.dataSync() as Float32Array);
      });
    await tf.setBackend('wasm');
    const got = run();
    await tf.setBackend('cpu');
    const want = run();
    ['aᵀ·b', 'a·cᵀ', 'dᵀ·e'].forEach((what, i) => assertClose(got[i], want[i], what));
  });

  it('refuses to replace a wasm backend that is already running', () => {
    assert.throws(() => registerThreadedWasmBackend(2), /already initialised/);
  });
});
