// Training on tiny data that a narrow ConvBnNet learns in a few steps: the loss falls, the
// tensor count stays flat, a rate far too high is an error, and lrFind leaves no trace.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { Learner, TrainingDivergedError } from '../../src/learner/Learner';
import { epochHeader } from '../../src/learner/history';
import { colourLoader, COLOUR_CLASSES, tinyConvBn } from './colourData';
import { optimizerBytes, weightBytes } from './learnerTestUtils';

before(async () => {
  await selectBackend('wasm', { log: null });
});

describe('Learner.fit', () => {
  it('lowers the loss and raises accuracy above chance, one row an epoch', async () => {
    const lines: string[] = [];
    const learner = new Learner(tinyConvBn(), colourLoader(), { log: (l) => lines.push(l) });
    const before = await learner.validate();
    const history = await learner.fit(0.05, 2);

    assert.equal(history.length, 2);
    assert.deepEqual(
      history.map((r) => [r.epoch, r.lr]),
      [
        [1, 0.05],
        [2, 0.05],
      ],
    );
    const last = history[1];
    assert.ok(last.validLoss < before.loss, `valid loss ${last.validLoss} >= ${before.loss}`);
    assert.ok(last.trainLoss < history[0].trainLoss, 'the smoothed train loss falls');
    assert.ok(last.accuracy > 2 / COLOUR_CLASSES.length, `accuracy ${last.accuracy}`);
    assert.ok(history.every((r) => r.seconds > 0 && r.imagesPerSec > 0));
    assert.deepEqual(learner.history, history);
    assert.equal(lines[0], epochHeader());
    assert.equal(lines.length, 3);
    assert.match(lines[2], /^ +2 +5\.00e-2 +\d\.\d{4} +\d\.\d{4} +\d\.\d{4} /);
    learner.dispose();
  });

  it('keeps the tensor count the same at the end of every epoch', async () => {
    const counts: number[] = [];
    const checkpointDir = await fs.mkdtemp(path.join(os.tmpdir(), 'cifar-nets-count-'));
    const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), {
      log: () => counts.push(tf.memory().numTensors),
      checkpointDir, // saving must not leak either
    });
    // The header is logged before training; the optimiser's slots appear in the first epoch.
    await learner.fitPlan([
      { lr: 0.05, nCycle: 2 },
      { lr: 0.05, nCycle: 2, cycleLen: 1 },
    ]);
    await learner.lrFind({ numIt: 4 });
    await learner.fit(0.01, 1);
    const ends = counts.slice(1, 5).concat(counts.slice(6));
    assert.equal(ends.length, 5);
    assert.ok(
      ends.every((n) => n === ends[0]),
      `tensors at each epoch's end: ${ends.join(', ')}`,
    );
    learner.dispose();
    await fs.rm(checkpointDir, { recursive: true, force: true });
  });

  it('adds weight decay to the gradients, as PyTorch SGD does', async () => {
    // One batch an epoch, so fit(lr, 1) is one step, and the first momentum step is the
    // gradient itself: w1 = w0 - lr * (g + wd * w0). The same start and batch give the same g.
    const data = () => colourLoader({ trainCount: 32, batchSize: 32 });
    const plain = new Learner(tinyConvBn(5), data(), { log: null });
    const decayed = new Learner(tinyConvBn(5), data(), { log: null, weightDecay: 0.1 });
    const w0 = await Promise.all(plain.model.trainableWeights.map((w) => w.read().data()));
    await plain.fit(0.5, 1);
    await decayed.fit(0.5, 1);
    const [a, b] = await Promise.all(
      [plain, decayed].map((l) =>
        Promise.all(l.model.trainableWeights.map((w) => w.read().data())),
      ),
    );
    w0.forEach((start, i) => {
      start.forEach((w, j) => {
        const expected = -0.5 * 0.1 * w;
        assert.ok(Math.abs(b[i][j] - a[i][j] - expected) < 1e-5, `weight ${i}[${j}]`);
      });
    });
    plain.dispose();
    decayed.dispose();
  });

  it('stops with TrainingDivergedError, suggesting lr-find, when the loss blows up', async () => {
    const lines: string[] = [];
    const learner = new Learner(tinyConvBn(), colourLoader(), { log: (l) => lines.push(l) });
    await assert.rejects(
      learner.fit(1e12, 2),
      (err: Error) =>
        err instanceof TrainingDivergedError &&
        /Training diverged: the loss became (NaN|-?Infinity) at epoch 1/.test(err.message) &&
        /lr-find/.test(err.message),
    );
    assert.deepEqual(learner.history, [], 'no NaN rows');
    assert.equal(lines.length, 1, 'only the header was printed');
    learner.dispose();
  });

  it('trains with Adam too', async () => {
    const learner = new Learner(tinyConvBn(), colourLoader(), { log: null, optimizer: 'adam' });
    const before = await learner.validate();
    const [record] = await learner.fit(3e-3, 1);
    assert.ok(record.validLoss < before.loss);
    learner.dispose();
  });
});

describe('Learner.lrFind', () => {
  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`${optimizer}: stops early at a huge endLr, restores all state bit for bit`, async () => {
      const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), {
        log: null,
        optimizer,
      });
      // Train first so the momentum slots and the BnLayer statistics are not at their start.
      await learner.fit(optimizer === 'sgd' ? 0.05 : 3e-3, 1);
      const weights = await weightBytes(learner.model);
      const state = await optimizerBytes(learner.optimizer);
      const tensors = tf.memory().numTensors;

      const numIt = 80;
      const result = await learner.lrFind({ startLr: 1e-4, endLr: 1e8, numIt });

      assert.equal(result.stoppedEarly, true);
      assert.ok(result.lrs.length > 10 && result.lrs.length < numIt, `${result.lrs.length}`);
      assert.equal(result.losses.length, result.lrs.length);
      result.lrs.forEach((lr, k) => assert.equal(lr, 1e-4 * (1e8 / 1e-4) ** (k / numIt)));
      assert.ok(result.losses.every(Number.isFinite));
      assert.ok(result.suggestedLr > 0 && result.suggestedLr < result.lrs.at(-1)!);
      assert.ok(result.suggestion.length > 0);

      assert.deepEqual(await weightBytes(learner.model), weights);
      assert.deepEqual(await optimizerBytes(learner.optimizer), state);
      assert.equal(tf.memory().numTensors, tensors);
      learner.dispose();
    });
  }

  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`leaves ${optimizer} training where it was: fit, lrFind, fit equals fit, fit`, async () => {
      const lr = optimizer === 'sgd' ? 0.05 : 3e-3;
      const run = async (withLrFind: boolean) => {
        const data = colourLoader({ trainCount: 64 });
        const learner = new Learner(tinyConvBn(), data, { log: null, optimizer });
        await learner.fit(lr, 1);
        if (withLrFind) await learner.lrFind({ numIt: 30, endLr: 1e3 });
        await learner.fit(lr, 1);
        const bytes = await weightBytes(learner.model);
        learner.dispose();
        return bytes;
      };
      assert.deepEqual(await run(true), await run(false));
    });
  }

  it('runs past one epoch when numIt asks for more iterations than an epoch has', async () => {
    const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), { log: null });
    const result = await learner.lrFind({ startLr: 1e-5, endLr: 1e-3, numIt: 5 });
    assert.equal(result.lrs.length, 5); // 2 batches an epoch, so three epochs' batches
    assert.equal(result.stoppedEarly, false);
    learner.dispose();
  });
});
