// BnLayer as a TensorFlow.js layer: its config and weights survive serialisation, it stores
// the batch statistics in training and reuses them in inference, and the running-statistics
// option averages them with the stated momentum.
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { BnLayer, bnLayer } from '../../src/models';
import { assertClose } from '../helpers/assertClose';

function tinyModel(layer: BnLayer): tf.Sequential {
  const model = tf.sequential();
  model.add(tf.layers.inputLayer({ inputShape: [6, 6, 2] }));
  model.add(layer);
  return model;
}

/** relu(conv(x)) with the layer's kernel and padding 1, by hand: what the layer normalises. */
function convRelu(x: tf.Tensor, layer: BnLayer, strides: number): tf.Tensor4D {
  const kernel = layer.getWeights()[0] as tf.Tensor4D;
  return tf.relu(
    tf.conv2d(x as tf.Tensor4D, kernel, strides, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]),
  );
}

/** Per-channel mean and unbiased std over batch, height and width, computed by hand. */
function channelStats(values: Float32Array, channels: number): { mean: number[]; std: number[] } {
  const n = values.length / channels;
  const mean = Array.from({ length: channels }, (_, c) => {
    let s = 0;
    for (let i = c; i < values.length; i += channels) s += values[i];
    return s / n;
  });
  const std = mean.map((m, c) => {
    let s = 0;
    for (let i = c; i < values.length; i += channels) s += (values[i] - m) ** 2;
    return Math.sqrt(s / (n - 1));
  });
  return { mean, std };
}

describe('BnLayer', () => {
  before(async () => {
    await selectBackend('cpu', { log: null });
  });

  it('has the lesson defaults: stride 2, kernel 3, padding 1, m ones and a zeros', () => {
    const layer = bnLayer(2, 4);
    const model = tinyModel(layer);
    assert.deepEqual(model.outputs[0].shape, [null, 3, 3, 4]);
    assert.deepEqual(
      layer.trainableWeights.map((w) => w.shape),
      [[3, 3, 2, 4], [4], [4]],
    );
    const [, m, a] = layer.getWeights();
    assert.deepEqual(Array.from(m.dataSync()), [1, 1, 1, 1]);
    assert.deepEqual(Array.from(a.dataSync()), [0, 0, 0, 0]);
    assert.equal(layer.nonTrainableWeights.length, 2, 'means and stds are not trained');
  });

  it('normalises by the batch statistics in training and stores them for inference', () => {
    const layer = bnLayer(2, 3, 1, 3, { seed: 3 });
    const model = tinyModel(layer);
    const x = tf.randomNormal([4, 6, 6, 2], 0, 1, 'float32', 7);
    const conv = convRelu(x, layer, 1);
    const { mean, std } = channelStats(conv.dataSync() as Float32Array, 3);
    const trained = model.apply(x, { training: true }) as tf.Tensor;
    const [, , , means, stds] = layer.getWeights();
    assertClose(means.dataSync(), mean, { what: 'stored means' });
    assertClose(stds.dataSync(), std, { what: 'stored stds' });
    // The same input in inference uses the stored statistics, so gives the same output.
    assertClose((model.predict(x) as tf.Tensor).dataSync(), trained.dataSync(), { what: 'eval' });
    // In training the output has per-channel mean 0 and unbiased std 1 (m = 1, a = 0).
    const out = channelStats(trained.dataSync() as Float32Array, 3);
    assertClose(out.mean, [0, 0, 0], { atol: 1e-5, what: 'normalised mean' });
    assertClose(out.std, [1, 1, 1], { what: 'normalised std' });
  });

  it('keeps running statistics with momentum 0.1 when asked', () => {
    const layer = bnLayer(2, 3, 2, 3, { runningStats: true, seed: 1 });
    const model = tinyModel(layer);
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 1);
    model.apply(x, { training: true });
    const y = convRelu(x, layer, 2);
    const { mean, std } = channelStats(y.dataSync() as Float32Array, 3);
    const [, , , means, stds] = layer.getWeights();
    assertClose(
      means.dataSync(),
      mean.map((m) => 0.1 * m),
      { what: 'running means from 0' },
    );
    assertClose(
      stds.dataSync(),
      std.map((s) => 0.9 + 0.1 * s),
      { what: 'running stds from 1' },
    );
  });

  it('round-trips its config and weights through serialisation', () => {
    const layer = bnLayer(2, 4, 1, 3, { runningStats: true, momentum: 0.05, name: 'bn' });
    const model = tinyModel(layer);
    model.apply(tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 2), { training: true });
    const config = layer.getConfig();
    assert.equal(config.inChannels, 2);
    assert.equal(config.filters, 4);
    assert.equal(config.strides, 1);
    assert.equal(config.kernelSize, 3);
    assert.equal(config.runningStats, true);
    assert.equal(config.momentum, 0.05);
    const copy = tf.models.modelFromJSON({ modelTopology: model.toJSON(null, false) as never });
    return copy.then((restored) => {
      restored.setWeights(model.getWeights());
      const x = tf.randomNormal([3, 6, 6, 2], 0, 1, 'float32', 5);
      assert.equal(restored.getLayer('bn').getClassName(), 'BnLayer');
      assertClose(
        (restored.predict(x) as tf.Tensor).dataSync(),
        (model.predict(x) as tf.Tensor).dataSync(),
        { what: 'restored output' },
      );
    });
  });

  it('says what it expected when the input has the wrong number of channels', () => {
    const model = tf.sequential();
    model.add(tf.layers.inputLayer({ inputShape: [6, 6, 5] }));
    assert.throws(() => model.add(bnLayer(2, 4)), /expected 2 input channels, but got 5/);
    assert.throws(() => bnLayer(0, 4), /Expected BnLayer inChannels to be a positive integer/);
  });
});
