import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { globalMaxPool } from '../../src/models/GlobalMaxPool';
import { GLOBAL_MAX_POOL } from '../../src/models/optionalKernels';

const [N, H, W, C] = [3, 4, 5, 6];

/** Values with ties: small integers, so most channels have their maximum more than once. */
function input(): Float32Array {
  const x = new Float32Array(N * H * W * C);
  for (let i = 0; i < x.length; i++) x[i] = (i * 7919) % 5;
  return x;
}

/** The pool and its gradient (upstream gradient dy[n, c] = n * C + c + 1) in plain loops. */
function reference(x: Float32Array): { y: number[]; dx: number[] } {
  const y: number[] = [];
  const dx = new Array<number>(x.length).fill(0);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      let best = -Infinity;
      let first = 0;
      for (let s = 0; s < H * W; s++) {
        const v = x[(n * H * W + s) * C + c];
        if (v > best) [best, first] = [v, s];
      }
      y.push(best);
      dx[(n * H * W + first) * C + c] = n * C + c + 1;
    }
  }
  return { y, dx };
}

describe('globalMaxPool', () => {
  for (const backend of ['cpu', 'wasm'] as const) {
    it(`takes each channel's maximum and sends its gradient to the first of tied maxima, on ${backend}`, async () => {
      await tf.setBackend(backend);
      if (backend === 'wasm') {
        registerWasmKernels();
        assert.ok(tf.getKernel(GLOBAL_MAX_POOL, 'wasm'), 'the wasm kernel is registered');
      }
      const values = input();
      const want = reference(values);
      const [y, dx] = tf.tidy(() => {
        const x = tf.tensor4d(values, [N, H, W, C]);
        const dy = tf.range(1, N * C + 1).reshape([N, C]);
        const f = (xx: tf.Tensor) => tf.sum(tf.mul(globalMaxPool(xx as tf.Tensor4D), dy));
        return [globalMaxPool(x), tf.grad(f)(x)].map((t) => Array.from(t.dataSync()));
      });
      assert.deepEqual(y, want.y);
      assert.deepEqual(dx, want.dx);
    });
  }
});
