// The backend fallback logic: auto takes the first loader that works and keeps why the better
// ones were skipped; a forced backend that cannot load is an error naming the reason.
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import {
  BackendError,
  parseBackendChoice,
  selectBackend,
  type BackendLoader,
} from '../../src/backend/selectBackend';

const failing =
  (message: string): BackendLoader =>
  async () => {
    throw new Error(message);
  };
const cpu: BackendLoader = async () => {
  await tf.setBackend('cpu');
};

describe('selectBackend', () => {
  it('falls through failing loaders to the next, keeping each reason', async () => {
    const lines: string[] = [];
    const chosen = await selectBackend('auto', {
      loaders: { tensorflow: failing('not installed here'), wasm: failing('no wasm today'), cpu },
      log: (line) => lines.push(line),
    });
    assert.equal(chosen.name, 'cpu');
    assert.deepEqual(chosen.skipped, [
      { name: 'tensorflow', reason: 'not installed here' },
      { name: 'wasm', reason: 'no wasm today' },
    ]);
    assert.equal(lines.length, 1, 'the choice is said once');
    assert.equal(
      lines[0],
      'backend: cpu (skipped tensorflow: not installed here; wasm: no wasm today)',
    );
    assert.equal(tf.getBackend(), 'cpu');
  });

  it('takes the best backend that loads and skips nothing then', async () => {
    const chosen = await selectBackend('auto', { loaders: { tensorflow: cpu }, log: null });
    assert.deepEqual(chosen, { name: 'tensorflow', skipped: [] });
  });

  it('says why a forced backend cannot load, and what to do', async () => {
    const loaders = { tensorflow: failing('the loader said no') };
    await assert.rejects(
      selectBackend('tensorflow', { loaders, log: null }),
      (err: Error) =>
        err instanceof BackendError &&
        /Backend 'tensorflow' could not be loaded: the loader said no/.test(err.message) &&
        /--backend wasm/.test(err.message),
    );
  });

  it('names a missing @tensorflow/tfjs-node-gpu with the real loader', async (t) => {
    try {
      require.resolve('@tensorflow/tfjs-node-gpu');
      t.skip('tfjs-node-gpu is installed on this machine');
      return;
    } catch {
      // Not installed, as on machines that cannot download libtensorflow: the case to check.
    }
    await assert.rejects(
      selectBackend('tensorflow', { log: null }),
      /@tensorflow\/tfjs-node-gpu is not installed/,
    );
  });

  it('fails when no backend loads at all', async () => {
    const none = failing('broken');
    await assert.rejects(
      selectBackend('auto', { loaders: { tensorflow: none, wasm: none, cpu: none }, log: null }),
      /No TensorFlow.js backend could be loaded/,
    );
  });

  it('rejects a name that is not a backend', () => {
    assert.throws(
      () => parseBackendChoice('gpu'),
      /Expected a backend of auto, tensorflow, wasm, cpu, but got 'gpu'/,
    );
  });

  it('loads the real wasm backend with the gradient kernels it lacks', async () => {
    const chosen = await selectBackend('wasm', { log: null });
    assert.equal(chosen.name, 'wasm');
    assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'), 'Conv2DBackpropFilter registered');
  });
});
