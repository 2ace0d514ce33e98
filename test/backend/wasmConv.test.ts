import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { setKernelSimd, WasmKernelError } from '../../src/backend/wasmModule';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import {
  assertClose,
  assertSameResults,
  cases,
  convResults,
  describeCase,
  UNEVEN_PAD,
  type Case,
  type Pad,
} from '../helpers/convCases';
import { randomValues } from '../helpers/randomValues';

describe('wasm convolution kernels', () => {
  before(async () => {
    assert.ok(await tf.setBackend('wasm'), 'the wasm backend should load');
    await tf.ready();
    registerWasmKernels();
  });

  // Both builds of the kernels: plain SIMD, and relaxed SIMD's fused multiply-add.
  for (const simd of ['simd', 'relaxed'] as const) {
    cases().forEach((c, i) => {
      it(`match the cpu backend with ${simd} for ${describeCase(c)}`, async () => {
        await tf.setBackend('cpu');
        const want = convResults(c, 100 * i);
        await tf.setBackend('wasm');
        setKernelSimd(simd);
        assertSameResults(convResults(c, 100 * i), want);
      });
    });
  }

  it('leave no tensor and no backend buffer behind', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as tf.KernelBackend & { numDataIds(): number };
    const c: Case = {
      batch: 2,
      h: 9,
      w: 8,
      inC: 3,
      outC: 4,
      k: 3,
      strides: 2,
      pad: UNEVEN_PAD,
    };
    convResults(c, 7); // warm-up: kernels set up their caches on first use
    const tensors = tf.memory().numTensors;
    const buffers = backend.numDataIds();
    for (const strides of [1, 2]) {
      for (const pad of [
        'same',
        'valid',
        [
          [0, 0],
          [4, 1],
          [2, 5],
          [0, 0],
        ],
      ] as Pad[]) {
        convResults({ ...c, strides, pad }, 11);
      }
    }
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.equal(backend.numDataIds(), buffers, 'backend buffers leaked');
  });

  it('can be registered twice, replacing the stock kernels once', () => {
    const names = ['Conv2D', 'FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
    const before = names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc);
    registerWasmKernels();
    assert.deepEqual(
      names.map((n) => tf.getKernel(n, 'wasm')?.kernelFunc),
      before,
    );
    assert.ok(before.every((f) => f !== undefined));
  });

  it('leave what they do not cover to the stock kernel: a dilated convolution', async () => {
    await tf.setBackend('wasm');
    const run = () =>
      tf.tidy(() => {
        const x = tf.tensor4d(randomValues(2 * 9 * 9 * 3, 3), [2, 9, 9, 3]);
        const w = tf.tensor4d(randomValues(3 * 3 * 3 * 4, 4), [3, 3, 3, 4]);
        return tf.conv2d(x, w, 1, 'same', 'NHWC', 2).dataSync() as Float32Array;
      });
    const got = run();
    await tf.setBackend('cpu');
    assertClose(got, run(), 'dilated conv2d');
  });

  it('say that relaxed SIMD is there to be used on this Node.js', () => {
    // Node 20 has it behind a V8 flag that the kernels switch on; newer Node has it on.
    assert.doesNotThrow(() => setKernelSimd('relaxed'));
    setKernelSimd('auto');
  });

  it('reject NCHW with a message that says what to do', async () => {
    await tf.setBackend('wasm');
    const x = tf.zeros([1, 2, 5, 5]);
    const dy = tf.zeros([1, 3, 3, 3]);
    assert.throws(
      () =>
        tf.engine().runKernel(
          'Conv2DBackpropFilter',
          { x, dy },
          {
            strides: 1,
            pad: 'valid',
            dataFormat: 'NCHW',
            filterShape: [3, 3, 2, 3],
          },
        ),
      (err: unknown) =>
        err instanceof WasmKernelError &&
        /expected dataFormat 'NHWC'.*but got dataFormat 'NCHW'/.test((err as Error).message),
    );
    tf.dispose([x, dy]);
  });

  it("train a small net of the models' ops one SGD step as the cpu backend does", async () => {
    // conv2d (strided, padded), relu, global max pool, dense, logSoftmax, per-channel mean
    // and std, oneHot and SGD with momentum: every kernel a model's training step needs.
    const step = () => {
      const x = tf.tensor4d(randomValues(4 * 12 * 12 * 3, 5), [4, 12, 12, 3]);
      const labels = tf.tensor1d([1, 0, 3, 2], 'int32');
      const k1 = tf.variable(tf.tensor4d(randomValues(5 * 5 * 3 * 6, 6), [5, 5, 3, 6]));
      const k2 = tf.variable(tf.tensor4d(randomValues(3 * 3 * 6 * 8, 7), [3, 3, 6, 8]));
      const m = tf.variable(tf.ones([8]));
      const dense = tf.variable(tf.tensor2d(randomValues(8 * 4, 8), [8, 4]));
      const opt = tf.train.momentum(0.1, 0.9);
      const loss = () => {
        let y = tf.conv2d(x, k1, 1, 'same');
        y = tf.relu(
          tf.conv2d(
            tf.pad(y, [
              [0, 0],
              [1, 1],
              [1, 1],
              [0, 0],
            ]),
            k2,
            2,
            'valid',
          ),
        );
        const mean = tf.mean(y, [0, 1, 2]);
        const std = tf.sqrt(tf.mean(tf.square(tf.sub(y, mean)), [0, 1, 2]));
        y = tf.mul(tf.div(tf.sub(y, mean), std), m);
        const logp = tf.logSoftmax(tf.matMul(tf.max(y, [1, 2]), dense));
        return tf.neg(tf.mean(tf.sum(tf.mul(tf.oneHot(labels, 4), logp), -1))) as tf.Scalar;
      };
      opt.minimize(loss);
      opt.minimize(loss);
      const out = [k1, k2, m, dense].map((v) => v.dataSync() as Float32Array);
      tf.dispose([x, labels, k1, k2, m, dense]);
      opt.dispose();
      return out;
    };
    await tf.setBackend('cpu');
    const want = step();
    await tf.setBackend('wasm');
    const got = step();
    want.forEach((w, i) => assertClose(got[i], w, `variable ${i}`));
  });
});
