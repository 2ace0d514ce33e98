// Conv2d pads as PyTorch's nn.Conv2d (every side), adds its bias, applies the optional ReLU,
// and survives serialisation with its config and weights.
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { Conv2d } from '../../src/models';
import { assertClose } from '../helpers/assertClose';

function model(layer: Conv2d, inputShape: [number, number, number]): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape }));
  m.add(layer);
  return m;
}

describe('Conv2d', () => {
  before(async () => {
    await selectBackend('cpu', { log: null });
  });

  it('pads every side at stride 2, where TensorFlow would pad bottom and right only', () => {
    const layer = new Conv2d({
      inChannels: 2,
      filters: 3,
      kernelSize: 3,
      strides: 2,
      padding: 1,
      seed: 4,
    });
    const m = model(layer, [6, 6, 2]);
    assert.deepEqual(m.outputs[0].shape, [null, 3, 3, 3]);
    const x = tf.randomNormal([2, 6, 6, 2], 0, 1, 'float32', 1);
    const [kernel, bias] = layer.getWeights();
    // The same convolution on an input padded by hand, one pixel on every side.
    const padded = tf.pad(x, [
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]) as tf.Tensor4D;
    const expected = tf.add(tf.conv2d(padded, kernel as tf.Tensor4D, 2, 'valid'), bias);
    assertClose((m.predict(x) as tf.Tensor).dataSync(), expected.dataSync(), { what: 'output' });
    const same = tf.conv2d(x as tf.Tensor4D, kernel as tf.Tensor4D, 2, 'same');
    assert.notDeepEqual(Array.from(same.dataSync()), Array.from(expected.dataSync()));
  });

  it('applies ReLU when asked, and starts in PyTorch default range', () => {
    const layer = new Conv2d({ inChannels: 3, filters: 4, kernelSize: 3, relu: true, seed: 2 });
    const m = model(layer, [5, 5, 3]);
    const out = (
      m.predict(tf.randomNormal([3, 5, 5, 3], 0, 1, 'float32', 3)) as tf.Tensor
    ).dataSync();
    assert.ok(
      out.every((v) => v >= 0),
      'no negative output after ReLU',
    );
    const bound = 1 / Math.sqrt(3 * 9);
    for (const w of layer.getWeights()) assert.ok(w.dataSync().every((v) => Math.abs(v) <= bound));
  });

  it('round-trips its config and weights through serialisation', async () => {
    const layer = new Conv2d({
      inChannels: 2,
      filters: 3,
      kernelSize: 5,
      strides: 1,
      padding: 2,
      relu: true,
      name: 'c',
      seed: 9,
    });
    const m = model(layer, [8, 8, 2]);
    const config = layer.getConfig();
    assert.deepEqual(
      [
        config.inChannels,
        config.filters,
        config.kernelSize,
        config.strides,
        config.padding,
        config.relu,
      ],
      [2, 3, 5, 1, 2, true],
    );
    const restored = await tf.models.modelFromJSON({
      modelTopology: m.toJSON(null, false) as never,
    });
    restored.setWeights(m.getWeights());
    assert.equal(restored.getLayer('c').getClassName(), 'Conv2d');
    const x = tf.randomNormal([2, 8, 8, 2], 0, 1, 'float32', 5);
    assertClose(
      (restored.predict(x) as tf.Tensor).dataSync(),
      (m.predict(x) as tf.Tensor).dataSync(),
      { what: 'restored output' },
    );
  });

  it('says what it expected when the input has the wrong number of channels', () => {
    const m = tf.sequential();
    m.add(tf.layers.inputLayer({ inputShape: [6, 6, 5] }));
    assert.throws(
      () => m.add(new Conv2d({ inChannels: 2, filters: 4, kernelSize: 3 })),
      /expected 2 input channels, but got 5/,
    );
    assert.throws(
      () => new Conv2d({ inChannels: 2, filters: 0, kernelSize: 3 }),
      /Expected Conv2d filters to be a positive integer, but got 0/,
    );
  });
});
