import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { getThreadsCount } from '@tensorflow/tfjs-backend-wasm';
import { setConvSimd } from '../../src/backend/wasmConv';
import { registerWasmKernels } from '../../src/backend/wasmKernels';
import { registerThreadedWasmBackend, WasmThreadsError } from '../../src/backend/wasmThreads';
import { assertSameResults, cases, convResults, describeCase } from '../helpers/convCases';

describe('threaded wasm backend in Node', () => {
  it('rejects a thread count that is not a whole number >= 1', () => {
    assert.throws(() => registerThreadedWasmBackend(0), WasmThreadsError);
    assert.throws(() => registerThreadedWasmBackend(1.5), WasmThreadsError);
  });

  it('starts two threads', async () => {
    registerThreadedWasmBackend(2);
    assert.ok(await tf.setBackend('wasm'), 'the threaded wasm backend should load');
    registerWasmKernels();
    assert.equal(getThreadsCount(), 2);
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
        setConvSimd(simd);
        assertSameResults(convResults(batched, 100 * i), want);
      });
    });
  }

  it('refuses to replace a wasm backend that is already running', () => {
    assert.throws(() => registerThreadedWasmBackend(2), /already initialised/);
  });
});
