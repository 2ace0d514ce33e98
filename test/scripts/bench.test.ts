import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, it } from 'node:test';

// dist/test/scripts/bench.test.js -> dist/scripts/bench.js
const BENCH = path.join(__dirname, '..', '..', 'scripts', 'bench.js');

function bench(...args: string[]) {
  return spawnSync(process.execPath, [BENCH, ...args], { encoding: 'utf8', timeout: 120_000 });
}

describe('scripts/bench', () => {
  it("prints one JSON document of the issue's shape under --json", () => {
    const run = bench(
      '--json',
      '--backend',
      'wasm',
      '--model',
      'simple',
      '--steps',
      '1',
      '--batch-size',
      '16',
    );
    assert.equal(run.status, 0, run.stderr);
    const doc = JSON.parse(run.stdout);
    assert.deepEqual(Object.keys(doc).sort(), ['backend', 'pipelineBatchesPerSec', 'results']);
    assert.equal(doc.backend, 'wasm');
    assert.equal(doc.results.length, 1);
    const [r] = doc.results;
    assert.deepEqual(Object.keys(r).sort(), [
      'imagesPerSec',
      'inferenceImagesPerSec',
      'model',
      'peakRssMb',
    ]);
    assert.equal(r.model, 'simple');
    for (const key of ['imagesPerSec', 'inferenceImagesPerSec', 'peakRssMb']) {
      assert.ok(r[key] > 0, `${key} should be positive, got ${r[key]}`);
    }
    assert.ok(doc.pipelineBatchesPerSec > 0);
  });

  it('says what was expected when a flag is wrong, and exits 1', () => {
    const model = bench('--model', 'resnet');
    assert.equal(model.status, 1);
    assert.match(model.stderr, /Expected a model name of simple, .*but got 'resnet'/);
    const steps = bench('--steps', '0');
    assert.equal(steps.status, 1);
    assert.match(steps.stderr, /Expected --steps to be a whole number >= 1/);
  });
});
