// Checkpoints: a run killed mid-epoch and resumed from its last checkpoint ends exactly where
// an uninterrupted run does; a checkpoint that cannot continue the run is a clear error.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { selectBackend } from '../../src/backend/selectBackend';
import { CheckpointError } from '../../src/learner/checkpoint';
import { Learner, type LearnerOptions } from '../../src/learner/Learner';
import { loadLearnerState, ModelLoadError } from '../../src/learner/modelIO';
import type { FitSpec } from '../../src/learner/schedule';
import { ConvBnNet } from '../../src/models';
import { colourLoader, tinyConvBn } from './colourData';
import { crashingLoader, optimizerBytes, weightBytes } from './learnerTestUtils';

let root: string;
before(async () => {
  await selectBackend('wasm', { log: null });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cifar-nets-resume-'));
});
after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

// Three epochs: a constant-rate fit, then a 2-epoch cosine cycle whose second epoch is the
// one interrupted, so the resume lands inside a fit, with its smoothed loss carried over.
const PLAN: FitSpec[] = [
  { lr: 0.02, nCycle: 1 },
  { lr: 0.1, nCycle: 1, cycleLen: 2 },
];
const timeless = ({ seconds, imagesPerSec, ...rest }: { seconds: number; imagesPerSec: number }) =>
  rest;

describe('fitPlan with checkpoints', () => {
  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`resumed after a crash, equals an uninterrupted run (${optimizer})`, async () => {
      const options: LearnerOptions = { log: null, optimizer, momentum: 0.9 };
      const whole = new Learner(tinyConvBn(), colourLoader(), {
        ...options,
        checkpointDir: path.join(root, `whole-${optimizer}`),
      });
      const expected = await whole.fitPlan(PLAN);
      assert.equal(expected.length, 3);

      const dir = path.join(root, `crash-${optimizer}`);
      const crashed = new Learner(tinyConvBn(), crashingLoader(colourLoader(), 2), {
        ...options,
        checkpointDir: dir,
      });
      await assert.rejects(crashed.fitPlan(PLAN), /simulated crash/);
      crashed.dispose();

      // A new process would build a fresh model and learner; the checkpoint brings them back.
      const lines: string[] = [];
      const resumed = new Learner(tinyConvBn(11), colourLoader(), {
        ...options,
        checkpointDir: dir,
        log: (line) => lines.push(line),
      });
      const history = await resumed.fitPlan(PLAN, { resume: true });

      assert.deepEqual(await weightBytes(resumed.model), await weightBytes(whole.model));
      assert.deepEqual(
        await optimizerBytes(resumed.optimizer),
        await optimizerBytes(whole.optimizer),
      );
      assert.deepEqual(history.map(timeless), expected.map(timeless));
      assert.match(lines[1], /^resumed from .* after epoch 2$/);
      assert.equal(lines.length, 2 + 3, 'header, resume note, two old rows and the new one');
      whole.dispose();
      resumed.dispose();
    });
  }

  it('writes the model, optimiser state and history with learner.save', async () => {
    const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), {
      log: null,
      modelName: 'tiny',
    });
    await learner.fit(0.05, 1);
    const dir = path.join(root, 'saved');
    await learner.save(dir);
    const loaded = await loadLearnerState(dir, { expectedModel: 'tiny' });
    assert.deepEqual(await weightBytes(loaded.model), await weightBytes(learner.model));
    assert.deepEqual(loaded.metadata.history, learner.history);
    assert.equal(loaded.metadata.checkpoint, undefined);
    assert.equal(loaded.optimizerWeights?.length, 1 + learner.model.trainableWeights.length);
    loaded.model.dispose();
    loaded.optimizerWeights?.forEach(({ tensor }) => tensor.dispose());
    learner.dispose();
  });
});

describe('resuming from a checkpoint that cannot continue the run', () => {
  let dir: string;
  before(async () => {
    dir = path.join(root, 'one-epoch');
    const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), {
      log: null,
      checkpointDir: dir,
    });
    await learner.fitPlan([PLAN[0]]);
    learner.dispose();
  });

  const resume = (
    checkpointDir: string | undefined,
    plan = [PLAN[0]],
    model = tinyConvBn(),
    options: LearnerOptions = {},
  ) =>
    new Learner(model, colourLoader({ trainCount: 64 }), {
      log: null,
      checkpointDir,
      ...options,
    }).fitPlan(plan, { resume: true });

  it('says so when there is no checkpoint folder', async () => {
    await assert.rejects(
      resume(path.join(root, 'nothing-here')),
      (err: Error) => err instanceof ModelLoadError && /does not exist/.test(err.message),
    );
    await assert.rejects(
      resume(undefined),
      (err: Error) => err instanceof CheckpointError && /checkpointDir/.test(err.message),
    );
  });

  it('says so when the checkpoint is half-written', async () => {
    const half = path.join(root, 'half');
    await fs.cp(dir, half, { recursive: true });
    const weights = path.join(half, 'weights.bin');
    const bytes = await fs.readFile(weights);
    await fs.writeFile(weights, bytes.subarray(0, bytes.length >> 1));
    await assert.rejects(
      resume(half),
      (err: Error) => err instanceof ModelLoadError && /weights.bin|bytes/.test(err.message),
    );
  });

  it('says so when the checkpoint holds another model', async () => {
    await assert.rejects(
      resume(dir, [PLAN[0]], ConvBnNet([4, 8, 32], 4, { seed: 1 })),
      (err: Error) => err instanceof CheckpointError && /another model/.test(err.message),
    );
    await assert.rejects(
      resume(dir, [PLAN[0]], tinyConvBn(), { modelName: 'convbn' }),
      (err: Error) => err instanceof ModelLoadError && /'convbn'/.test(err.message),
    );
  });

  it('says so when the plan, data or optimiser differ', async () => {
    await assert.rejects(
      resume(dir, [{ lr: 0.03, nCycle: 1 }]),
      (err: Error) =>
        err instanceof CheckpointError &&
        /plan 0.03:1, but it was written by 0.02:1; resume with the same fits/.test(err.message),
    );
    await assert.rejects(
      new Learner(tinyConvBn(), colourLoader({ trainCount: 64, batchSize: 16 }), {
        log: null,
        checkpointDir: dir,
      }).fitPlan([PLAN[0]], { resume: true }),
      (err: Error) => err instanceof CheckpointError && /batchSize was 32/.test(err.message),
    );
    await assert.rejects(
      resume(dir, [PLAN[0]], tinyConvBn(), { optimizer: 'adam' }),
      (err: Error) => err instanceof CheckpointError && /optimiser/.test(err.message),
    );
  });

  it('says so when the folder was written by learner.save, not as a checkpoint', async () => {
    const learner = new Learner(tinyConvBn(), colourLoader({ trainCount: 64 }), { log: null });
    const saved = path.join(root, 'plain-save');
    await learner.save(saved);
    learner.dispose();
    await assert.rejects(
      resume(saved),
      (err: Error) => err instanceof CheckpointError && /learner.save/.test(err.message),
    );
  });

  it('does nothing more when the plan was already complete', async () => {
    const lines: string[] = [];
    const history = await resume(dir, [PLAN[0]], tinyConvBn(), { log: (l) => lines.push(l) });
    assert.equal(history.length, 1);
    assert.match(lines[1], /already complete/);
  });
});
