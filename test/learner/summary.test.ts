// The summary's totals are PyTorch's parameter counts for each of the lesson's models, and the
// formatted table shows them along with each layer's row.
import * as assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { selectBackend } from '../../src/backend/selectBackend';
import { formatSummary, summarize } from '../../src/learner/summary';
import { createModel, MODEL_NAMES, MODELS } from '../../src/models';

// PyTorch's sum(p.numel() for p in model.parameters()) for the lesson's models, written out
// rather than read from MODELS so that a wrong registry entry cannot hide a wrong count.
const PYTORCH_PARAMS: Record<string, number> = {
  simple: 123_330,
  conv: 37_490,
  conv2: 37_490,
  convbn: 155_970,
  convbn2: 462_570,
};

before(async () => {
  await selectBackend('cpu', { log: null });
});

describe('summarize', () => {
  for (const name of MODEL_NAMES) {
    it(`${name} totals PyTorch's ${PYTORCH_PARAMS[name]} parameters`, () => {
      const summary = summarize(createModel(name, { seed: 1 }));
      assert.equal(summary.totalParams, PYTORCH_PARAMS[name]);
      assert.equal(summary.totalParams, MODELS[name].params);
      const text = formatSummary(summary);
      assert.ok(
        text.includes(`Trainable params: ${PYTORCH_PARAMS[name].toLocaleString('en-US')}`),
        text,
      );
      assert.ok(
        text.includes(
          `Non-trainable params: ${summary.nonTrainableParams.toLocaleString('en-US')}`,
        ),
        text,
      );
    });
  }

  it('gives each layer its name, type, shape, counts and trainability', () => {
    const summary = summarize(createModel('convbn', { seed: 1 }));
    assert.equal(summary.model, 'ConvBnNet');
    assert.deepEqual(summary.layers[0], {
      name: 'conv1',
      type: 'Conv2d',
      outputShape: [null, 32, 32, 10],
      params: 5 * 5 * 3 * 10 + 10,
      buffers: 0,
      trainable: true,
    });
    assert.deepEqual(summary.layers[1], {
      name: 'layers.0',
      type: 'BnLayer',
      outputShape: [null, 16, 16, 20],
      params: 3 * 3 * 10 * 20 + 20 + 20, // kernel, m, a
      buffers: 20 + 20, // means, stds
      trainable: true,
    });
    // Four BnLayers keep a mean and a std per output channel: 2 * (20 + 40 + 80 + 160).
    assert.equal(summary.nonTrainableParams, 600);
    assert.equal(
      summary.layers.reduce((n, l) => n + l.params, 0),
      summary.totalParams,
    );
  });

  it('counts a frozen layer as non-trainable, as Keras does', () => {
    const model = createModel('simple', { seed: 1 });
    model.layers[1].trainable = false;
    const summary = summarize(model);
    assert.equal(summary.layers[1].trainable, false);
    assert.equal(summary.layers[1].params, 0);
    assert.equal(summary.layers[1].buffers, 3072 * 40 + 40);
    assert.equal(summary.totalParams + summary.nonTrainableParams, 123_330);
  });
});

describe('formatSummary', () => {
  it('prints one row per layer with aligned columns and notes what PyTorch leaves out', () => {
    const text = formatSummary(summarize(createModel('convbn', { seed: 1 })));
    const lines = text.split('\n');
    assert.equal(lines[0], 'Model: ConvBnNet');
    const row = lines.find((l) => l.startsWith('layers.0 (BnLayer)'));
    assert.ok(row, text);
    assert.match(row, /^layers\.0 \(BnLayer\)\s+\[batch, 16, 16, 20\]\s+1,840\s+40\s+yes$/);
    const flat = lines.find((l) => l.startsWith('out (Dense)') || l.includes('(GlobalMaxPool)'));
    assert.ok(flat, text);
    assert.ok(text.includes('Trainable params: 155,970'), text);
    assert.ok(
      text.includes('Non-trainable params: 600 (BnLayer statistics; PyTorch does not count'),
      text,
    );
    // Every layer row and the header share column positions: the shape column starts at one
    // offset everywhere.
    const start = lines[2].indexOf('Output shape');
    for (const l of lines.filter((l) => /\[batch/.test(l))) assert.equal(l.indexOf('['), start);
    for (const l of lines) assert.ok(l.length <= 100, `line under 100 columns: ${l}`);
  });

  it('has no non-trainable note for a model without statistics', () => {
    const text = formatSummary(summarize(createModel('conv', { seed: 1 })));
    assert.ok(text.endsWith('Non-trainable params: 0'), text);
  });
});
