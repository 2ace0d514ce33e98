import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { assertClose } from '../helpers/assertClose';
import { randomValues } from '../helpers/randomValues';

interface Product {
  a: number[];
  b: number[];
  transposeA: boolean;
  transposeB: boolean;
}

function product({ a, b, transposeA, transposeB }: Product, seed: number) {
  return tf.tidy(() => {
    const size = (shape: number[]) => shape.reduce((p, d) => p * d, 1);
    const ta = tf.tensor(randomValues(size(a), seed), a);
    const tb = tf.tensor(randomValues(size(b), seed + 1), b);
    const y = tf.matMul(ta, tb, transposeA, transposeB);
    return { shape: y.shape, values: y.dataSync() as Float32Array };
  });
}

describe('wasm BatchMatMul for transposed products', () => {
  before(async () => {
    assert.ok(await tf.setBackend('wasm'), 'the wasm backend should load');
    registerWasmKernels();
  });

  const cases: [string, Product][] = [
    [
      "a dense layer's weight gradient, aᵀ·b",
      { a: [37, 21], b: [37, 10], transposeA: true, transposeB: false },
    ],
    [
      'aᵀ·b with a column count off the 8-wide tile',
      { a: [5, 3], b: [5, 13], transposeA: true, transposeB: false },
    ],
    [
      "a dense layer's input gradient, a·bᵀ",
      { a: [33, 10], b: [19, 10], transposeA: false, transposeB: true },
    ],
    [
      'a·bᵀ with a batch axis of one',
      { a: [1, 9, 17], b: [1, 4, 17], transposeA: false, transposeB: true },
    ],
    [
      'aᵀ·b of rank 3 and rank 2',
      { a: [1, 12, 7], b: [12, 6], transposeA: true, transposeB: false },
    ],
    [
      'the plain product (stock kernel)',
      { a: [6, 11], b: [11, 5], transposeA: false, transposeB: false },
    ],
    ['aᵀ·bᵀ (stock kernel)', { a: [8, 6], b: [3, 8], transposeA: true, transposeB: true }],
    [
      'a batch of three, aᵀ·b (stock kernel)',
      { a: [3, 5, 4], b: [3, 5, 2], transposeA: true, transposeB: false },
    ],
  ];
  cases.forEach(([what, c], i) => {
    it(`computes ${what} as the cpu backend does`, async () => {
      await tf.setBackend('cpu');
      const want = product(c, 10 * i);
      await tf.setBackend('wasm');
      const got = product(c, 10 * i);
      assert.deepEqual(got.shape, want.shape);
      assertClose(got.values, want.values, { what });
    });
  });

  it("gives a dense layer's gradients as the cpu backend does, and leaks nothing", async () => {
    const grads = () =>
      tf.tidy(() => {
        const x = tf.tensor2d(randomValues(64 * 48, 1), [64, 48]);
        const w = tf.tensor2d(randomValues(48 * 24, 2), [48, 24]);
        const v = tf.tensor2d(randomValues(24 * 10, 3), [24, 10]);
        const f = (w: tf.Tensor, v: tf.Tensor) => tf.matMul(tf.relu(tf.matMul(x, w)), v).sum();
        return tf
          .grads(f)([w, v])
          .map((g) => g.dataSync() as Float32Array);
      });
    await tf.setBackend('cpu');
    const want = grads();
    await tf.setBackend('wasm');
    grads(); // warm-up: kernels set up their caches on first use
    const tensors = tf.memory().numTensors;
    const backend = tf.backend() as tf.KernelBackend & { numDataIds(): number };
    const buffers = backend.numDataIds();
    const got = grads();
    assertClose(got[0], want[0], { what: 'dW' });
    assertClose(got[1], want[1], { what: 'dV' });
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.equal(backend.numDataIds(), buffers, 'backend buffers leaked');
  });

  it('leaves the mismatch message of inner sizes to the stock kernel', async () => {
    await tf.setBackend('wasm');
    const a = tf.zeros([4, 3]);
    const b = tf.zeros([5, 2]);
    assert.throws(() => tf.matMul(a, b, true, false), /inner shapes \(4\) and \(5\)/);
    tf.dispose([a, b]);
  });

  it('is registered once however often registerWasmKernels runs', () => {
    const first = tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc;
    registerWasmKernels();
    assert.equal(tf.getKernel('BatchMatMul', 'wasm')?.kernelFunc, first);
  });
});
