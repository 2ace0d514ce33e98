import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { convBiasRelu, type ConvBiasReluAttrs } from '../../src/models/convBiasRelu';
import { RELU_BIAS_GRAD } from '../../src/models/optionalKernels';
import { assertClose } from '../helpers/convCases';
import { randomValues } from '../helpers/randomValues';

const PAD: ConvBiasReluAttrs['pad'] = [
  [0, 0],
  [1, 1],
  [1, 1],
  [0, 0],
];

/** The op written out with standard ops, left to autodiff: the reference. */
function plain(x: tf.Tensor4D, w: tf.Tensor4D, b: tf.Tensor1D, attrs: ConvBiasReluAttrs) {
  const y = tf.add(tf.conv2d(x, w, attrs.strides, attrs.pad), b) as tf.Tensor4D;
  return attrs.relu ? tf.relu(y) : y;
}

/** Output and the gradients of x, w and b of sum(op(x, w, b) * r), as arrays. */
function results(op: typeof plain, attrs: ConvBiasReluAttrs): Float32Array[] {
  return tf.tidy(() => {
    const x = tf.tensor4d(randomValues(3 * 9 * 8 * 5, 1), [3, 9, 8, 5]);
    const w = tf.tensor4d(randomValues(3 * 3 * 5 * 6, 2), [3, 3, 5, 6]);
    const b = tf.tensor1d(randomValues(6, 3));
    const y = op(x, w, b, attrs);
    const r = tf.tensor(randomValues(y.size, 4), y.shape);
    const loss = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) =>
      tf.sum(tf.mul(op(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D, attrs), r));
    return [y, ...tf.grads(loss)([x, w, b])].map((t) => t.dataSync() as Float32Array);
  });
}

describe('convBiasRelu', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    for (const [strides, pad, relu] of [
      [1, PAD, true],
      [2, 'valid', true],
      [2, PAD, false],
    ] as [number, ConvBiasReluAttrs['pad'], boolean][]) {
      const attrs = { strides, pad, relu };
      it(`gives the output and gradients of conv2d + bias${relu ? ' + relu' : ''}, strides ${strides}, pad ${JSON.stringify(pad)}, on ${backend}`, async () => {
        await tf.setBackend(backend);
        if (backend === 'wasm') {
          registerWasmKernels();
          assert.ok(tf.getKernel(RELU_BIAS_GRAD, 'wasm'), 'the wasm kernel is registered');
        }
        const want = results(plain, attrs);
        const got = results(convBiasRelu, attrs);
        ['y', 'dx', 'dw', 'db'].forEach((what, i) => assertClose(got[i], want[i], what));
      });
    }
  }

  it("computes no input gradient when only the filter's and the bias's are asked for", async () => {
    // A model's first layer: its input is data, and the backward pass should not convolve
    // for a gradient nothing uses.
    await tf.setBackend('cpu');
    const x = tf.tensor4d(randomValues(2 * 6 * 6 * 3, 5), [2, 6, 6, 3]);
    const w = tf.variable(tf.tensor4d(randomValues(3 * 3 * 3 * 4, 6), [3, 3, 3, 4]));
    const b = tf.variable(tf.tensor1d(randomValues(4, 7)));
    const loss = () =>
      tf.sum(
        convBiasRelu(x, w as tf.Tensor4D, b as tf.Tensor1D, { strides: 1, pad: PAD, relu: true }),
      ) as tf.Scalar;
    const info = await tf.profile(() => {
      const { value, grads } = tf.variableGrads(loss, [w, b]);
      tf.dispose([value, ...Object.values(grads)]);
    });
    const kernels = info.kernels.map((k) => k.name);
    assert.ok(kernels.includes('Conv2DBackpropFilter'), kernels.join(', '));
    assert.ok(!kernels.includes('Conv2DBackpropInput'), kernels.join(', '));
    tf.dispose([x, w, b]);
  });

  for (const backend of ['cpu', 'wasm'] as const) {
    it(`leaves no tensor and no backend buffer behind on ${backend}`, async () => {
      await tf.setBackend(backend);
      if (backend === 'wasm') registerWasmKernels();
      const buffers = () =>
        (tf.backend() as tf.KernelBackend & { numDataIds(): number }).numDataIds();
      const x = tf.tensor4d(randomValues(2 * 6 * 6 * 3, 8), [2, 6, 6, 3]);
      const w = tf.variable(tf.tensor4d(randomValues(3 * 3 * 3 * 4, 9), [3, 3, 3, 4]));
      const b = tf.variable(tf.tensor1d(randomValues(4, 10)));
      const step = () => {
        const f = (xx: tf.Tensor) =>
          tf.sum(
            convBiasRelu(xx as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D, {
              strides: 2,
              pad: PAD,
              relu: true,
            }),
          );
        const { value, grads } = tf.variableGrads(() => f(x) as tf.Scalar, [w, b]);
        tf.dispose([value, ...Object.values(grads), tf.grad(f)(x)]);
      };
      step(); // warm-up
      const [tensors, data] = [tf.memory().numTensors, buffers()];
      step();
      assert.equal(tf.memory().numTensors, tensors);
      assert.equal(buffers(), data);
      tf.dispose([x, w, b]);
    });
  }
});
