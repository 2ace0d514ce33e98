import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmGradientKernels, WasmGradientError } from '../../src/backend/wasmGradients';
import { randomValues } from '../helpers/randomValues';

// The cpu backend's gradient kernels are the reference. Float32 sums of up to a few hundred
// products differ with the order of summation, so the tolerance is relative to the largest
// gradient entry: |wasm - cpu| <= 1e-4 * max(1, max |cpu|).
const RELATIVE_TOLERANCE = 1e-4;

/** Explicit padding wider than the kernel and different on every side. */
const UNEVEN_PAD: tf.backend_util.ExplicitPadding = [
  [0, 0],
  [4, 1],
  [2, 5],
  [0, 0],
];

type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

interface Case {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: number;
  strides: number | [number, number];
  pad: Pad;
}

/** dL/dx and dL/dw of L = sum(conv2d(x, w) * r) on the current backend, as plain arrays. */
function convGrads(c: Case, seed: number): { dx: Float32Array; dw: Float32Array } {
  return tf.tidy(() => {
    const xShape: [number, number, number, number] = [c.batch, c.h, c.w, c.inC];
    const wShape: [number, number, number, number] = [c.k, c.k, c.inC, c.outC];
    const x = tf.tensor4d(
      randomValues(
        xShape.reduce((a, b) => a * b),
        seed,
      ),
      xShape,
    );
    const w = tf.tensor4d(
      randomValues(
        wShape.reduce((a, b) => a * b),
        seed + 1,
      ),
      wShape,
    );
    const yShape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const r = tf.tensor(
      randomValues(
        yShape.reduce((a, b) => a * b),
        seed + 2,
      ),
      yShape,
    );
    const f = (xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad), r));
    const [dx, dw] = tf.grads(f)([x, w]);
    return { dx: dx.dataSync() as Float32Array, dw: dw.dataSync() as Float32Array };
  });
}

function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(
    worst <= RELATIVE_TOLERANCE * scale,
    `${what}: max |wasm - cpu| = ${worst} exceeds ${RELATIVE_TOLERANCE} * ${scale}`,
  );
}

function describeCase(c: Case): string {
  const pad = typeof c.pad === 'object' ? JSON.stringify(c.pad) : String(c.pad);
  return (
    `x [${c.batch}, ${c.h}, ${c.w}, ${c.inC}], ${c.k}x${c.k} -> ${c.outC}, ` +
    `strides ${JSON.stringify(c.strides)}, pad ${pad}`
  );
}

/** The shapes the lesson's models use, plus odd sizes, even sizes and every padding kind. */
function cases(): Case[] {
  const list: Case[] = [];
  const channels: [number, number][] = [
    [1, 2],
    [3, 4],
    [5, 3],
    [16, 8],
  ];
  const pads: Pad[] = [
    'same',
    'valid',
    1,
    [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  ];
  const sizes: [number, number][] = [
    [7, 7],
    [8, 8],
    [9, 6],
  ];
  let i = 0;
  for (const strides of [1, 2]) {
    for (const pad of pads) {
      for (const [h, w] of sizes) {
        for (const k of [3, 5]) {
          const [inC, outC] = channels[i % channels.length];
          list.push({ batch: 1 + (i % 3), h, w, inC, outC, k, strides, pad });
          i++;
        }
      }
    }
  }
  // Padding wider than the kernel, unequal strides, and a stride larger than a 1x1 kernel.
  list.push({
    batch: 2,
    h: 5,
    w: 5,
    inC: 2,
    outC: 3,
    k: 3,
    strides: 1,
    pad: [
      [0, 0],
      [4, 0],
      [0, 3],
      [0, 0],
    ],
  });
  list.push({
    batch: 2,
    h: 5,
    w: 6,
    inC: 2,
    outC: 3,
    k: 3,
    strides: 2,
    pad: UNEVEN_PAD,
  });
  list.push({ batch: 2, h: 9, w: 8, inC: 3, outC: 5, k: 3, strides: [2, 1], pad: 'same' });
  list.push({ batch: 3, h: 8, w: 7, inC: 4, outC: 2, k: 1, strides: 2, pad: 'valid' });
  // The models' own layers, at a small batch.
  list.push({ batch: 4, h: 32, w: 32, inC: 3, outC: 10, k: 5, strides: 1, pad: 'same' });
  list.push({ batch: 4, h: 32, w: 32, inC: 3, outC: 20, k: 3, strides: 2, pad: 'valid' });
  list.push({ batch: 4, h: 16, w: 16, inC: 20, outC: 40, k: 3, strides: 2, pad: 1 });
  list.push({ batch: 4, h: 4, w: 4, inC: 80, outC: 160, k: 3, strides: 1, pad: 1 });
  return list;
}

describe('wasm convolution gradient kernels', () => {
  before(async () => {
    assert.ok(await tf.setBackend('wasm'), 'the wasm backend should load');
    await tf.ready();
    registerWasmGradientKernels();
  });

  cases().forEach((c, i) => {
    it(`match the cpu backend for ${describeCase(c)}`, async () => {
      await tf.setBackend('cpu');
      const want = convGrads(c, 100 * i);
      await tf.setBackend('wasm');
      const got = convGrads(c, 100 * i);
      assertClose(got.dx, want.dx, 'dx');
      assertClose(got.dw, want.dw, 'dw');
    });
  });

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
    convGrads(c, 7); // warm-up: kernels set up their caches on first use
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
        convGrads({ ...c, strides, pad }, 11);
      }
    }
    assert.equal(tf.memory().numTensors, tensors, 'tensors leaked');
    assert.equal(backend.numDataIds(), buffers, 'backend buffers leaked');
  });

  it('can be registered twice, and replace the stock input gradient once', () => {
    const before = tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc;
    registerWasmGradientKernels();
    assert.equal(tf.getKernel('Conv2DBackpropInput', 'wasm')?.kernelFunc, before);
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm') !== undefined);
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
        err instanceof WasmGradientError &&
        /expected dataFormat 'NHWC'/.test((err as Error).message),
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
