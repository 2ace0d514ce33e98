// The registry builds each lesson model with PyTorch's parameter count and the shapes the
// lesson's modules give, and rejects an unknown name with the list of known ones.
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { createModel, MODEL_NAMES, MODELS, SimpleNet } from '../../src/models';

const trainable = (model: tf.LayersModel) =>
  model.trainableWeights.reduce((n, w) => n + (w.shape as number[]).reduce((a, b) => a * b, 1), 0);

describe('model registry', () => {
  before(async () => {
    await selectBackend('cpu', { log: null });
  });

  for (const name of MODEL_NAMES) {
    it(`${name} has PyTorch's ${MODELS[name].params} parameters and outputs log-probs`, () => {
      const model = createModel(name, { seed: 1 });
      assert.equal(trainable(model), MODELS[name].params);
      const out = model.predict(tf.randomNormal([2, 32, 32, 3])) as tf.Tensor;
      assert.deepEqual(out.shape, [2, 10]);
      const sums = tf.sum(tf.exp(out), -1).dataSync();
      sums.forEach((s) => assert.ok(Math.abs(s - 1) < 1e-5, `probabilities sum to ${s}`));
    });
  }

  it('gives the lesson shapes: conv 32 -> 15 -> 7 -> 3, conv2 and convbn halve each time', () => {
    const shapes = (name: string) =>
      createModel(name)
        .layers.filter((l) => /^layers\.\d+(\.conv)?$/.test(l.name))
        .map((l) => (l.outputShape as number[])[1]);
    assert.deepEqual(shapes('conv'), [15, 7, 3]);
    assert.deepEqual(shapes('conv2'), [16, 8, 4]);
    assert.deepEqual(shapes('convbn'), [16, 8, 4, 2]);
  });

  it('makes the same weights from the same seed', () => {
    const a = createModel('convbn', { seed: 42 }).getWeights();
    const b = createModel('convbn', { seed: 42 }).getWeights();
    a.forEach((w, i) => assert.deepEqual(w.dataSync(), b[i].dataSync()));
  });

  it('starts biases and weights in PyTorch default range U(-1/sqrt(fanIn), 1/sqrt(fanIn))', () => {
    const [kernel, bias] = createModel('simple', { seed: 3 }).getWeights();
    const bound = 1 / Math.sqrt(3072);
    for (const w of [kernel, bias]) {
      const values = w.dataSync();
      assert.ok(
        values.every((v) => Math.abs(v) <= bound),
        'inside the bound',
      );
      assert.ok(
        values.some((v) => Math.abs(v) > bound / 2),
        'spread over the range',
      );
    }
  });

  it('rejects an unknown model name, listing the known ones', () => {
    assert.throws(
      () => createModel('resnet'),
      /Expected a model name of simple, conv, conv2, convbn, convbn2, but got 'resnet'/,
    );
    assert.throws(() => SimpleNet([100, 10]), /start with the input size 3072/);
  });
});
