import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmReductionKernels } from '../../src/backend/wasmReductions';
import { randomValues } from '../helpers/randomValues';

type Op = 'sum' | 'mean';

function reduce(
  op: Op,
  shape: number[],
  axis: number | number[],
  keepDims: boolean,
  dtype: tf.DataType,
) {
  return tf.tidy(() => {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = randomValues(n, 3);
    const x =
      dtype === 'int32'
        ? tf.tensor(
            values.map((v) => Math.round(v * 50)),
            shape,
            'int32',
          )
        : tf.tensor(values, shape);
    const y = op === 'sum' ? tf.sum(x, axis, keepDims) : tf.mean(x, axis, keepDims);
    return { shape: y.shape, values: y.dataSync() };
  });
}

describe('wasm Sum and Mean over leading axes', () => {
  before(async () => {
    assert.ok(await tf.setBackend('wasm'));
    registerWasmReductionKernels();
  });

  const cases: [Op, number[], number | number[], boolean, tf.DataType][] = [
    ['sum', [16, 5, 6, 7], [0, 1, 2], false, 'float32'],
    ['mean', [16, 5, 6, 7], [0, 1, 2], true, 'float32'],
    ['sum', [16, 5, 6, 7], [1, 0], false, 'float32'],
    ['mean', [300, 10], 0, false, 'float32'],
    ['sum', [300, 10], -2, true, 'float32'],
    ['sum', [4, 5, 6], [1, 2], false, 'float32'], // innermost: the stock kernel's case
    ['mean', [4, 5, 6], [0, 2], false, 'float32'], // neither: stock
    ['sum', [4, 5, 6], [0, 1, 2], false, 'float32'], // everything: stock
    ['sum', [40, 3], 0, false, 'int32'], // not float32: stock
  ];
  for (const [op, shape, axis, keepDims, dtype] of cases) {
    it(
      `${op} of [${shape}] over ${JSON.stringify(axis)}, keepDims ${keepDims}, ${dtype}, ` +
        'matches the cpu backend',
      async () => {
        await tf.setBackend('cpu');
        const want = reduce(op, shape, axis, keepDims, dtype);
        await tf.setBackend('wasm');
        const got = reduce(op, shape, axis, keepDims, dtype);
        assert.deepEqual(got.shape, want.shape);
        for (let i = 0; i < want.values.length; i++) {
          const tol = 1e-5 * Math.max(1, Math.abs(want.values[i]));
          assert.ok(
            Math.abs(got.values[i] - want.values[i]) <= tol,
            `element ${i}: wasm ${got.values[i]}, cpu ${want.values[i]}`,
          );
        }
      },
    );
  }

  it('leave no tensor or backend buffer behind', async () => {
    await tf.setBackend('wasm');
    const backend = tf.backend() as tf.KernelBackend & { numDataIds(): number };
    reduce('sum', [8, 3, 3, 4], [0, 1, 2], false, 'float32');
    const [tensors, buffers] = [tf.memory().numTensors, backend.numDataIds()];
    reduce('mean', [8, 3, 3, 4], [0, 1, 2], true, 'float32');
    reduce('sum', [8, 3, 3, 4], [1, 2], false, 'float32');
    assert.equal(tf.memory().numTensors, tensors);
    assert.equal(backend.numDataIds(), buffers);
  });
});
