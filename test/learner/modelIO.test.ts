// Saving and loading models and learner state: what is saved predicts exactly as before (BnLayer
// statistics included), a browser can fetch it over http, optimizer state resumes training bit
// for bit, and broken or foreign folders fail with a ModelLoadError instead of a half-loaded
// model.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../../src/backend/selectBackend';
import { nllLoss } from '../../src/learner/loss';
import {
  fileSystemHandler,
  loadLearnerState,
  MODEL_JSON,
  ModelLoadError,
  ModelSaveError,
  OPTIMIZER_BIN,
  OPTIMIZER_JSON,
  remapOptimizerWeights,
  restoreOptimizerWeights,
  saveLearnerState,
  WEIGHTS_BIN,
} from '../../src/learner/modelIO';
import { createModel } from '../../src/models';
import { startLoopbackServer } from '../helpers/loopbackServer';

let root: string;

before(async () => {
  await selectBackend('cpu', { log: null });
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'cifar-nets-modelIO-'));
});

after(async () => {
  await fs.rm(root, { recursive: true, force: true });
});

/** Eight small random images [8, 32, 32, 3] and their labels [8], the same for every seed. */
function batch(seed: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return {
    x: tf.randomNormal([8, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
    y: tf.tensor1d([0, 1, 2, 3, 4, 5, 6, 7], 'int32'),
  };
}

/** One SGD-with-momentum step on `model`, its variables in model order. */
function step(model: tf.LayersModel, optimizer: tf.Optimizer, x: tf.Tensor, y: tf.Tensor): void {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const loss = optimizer.minimize(
    () => nllLoss(model.apply(x, { training: true }) as tf.Tensor, y),
    false,
    vars,
  );
  loss?.dispose();
}

async function predict(model: tf.LayersModel, x: tf.Tensor): Promise<Float32Array> {
  const out = model.predict(x) as tf.Tensor;
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

async function siblings(dir: string): Promise<string[]> {
  return (await fs.readdir(path.dirname(dir))).filter((f) =>
    f.startsWith(`.${path.basename(dir)}.`),
  );
}

describe('saveLearnerState and loadLearnerState', () => {
  it('round-trips convbn exactly, BnLayer statistics included', async () => {
    const model = createModel('convbn', { seed: 1 });
    const { x, y } = batch(2);
    // A training-mode pass stores this batch's statistics; they must not be the initial 0 and 1.
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const statsBefore = model.getWeights().filter((_, i) => !model.weights[i].trainable);
    assert.ok(statsBefore.length > 0, 'convbn has non-trainable statistics');
    const expected = await predict(model, x);

    const dir = path.join(root, 'convbn');
    await saveLearnerState(dir, { model, metadata: { model: 'convbn', epoch: 3 } });
    assert.deepEqual((await fs.readdir(dir)).sort(), [MODEL_JSON, WEIGHTS_BIN]);
    assert.deepEqual(await siblings(dir), [], 'no temporary folder left beside the save');

    const loaded = await loadLearnerState(dir, { expectedModel: 'convbn' });
    assert.deepEqual(loaded.metadata, { model: 'convbn', epoch: 3 });
    assert.equal(loaded.optimizerWeights, null);
    assert.deepEqual(await predict(loaded.model, x), expected);
    const statsAfter = loaded.model
      .getWeights()
      .filter((_, i) => !loaded.model.weights[i].trainable);
    for (let i = 0; i < statsBefore.length; i++) {
      assert.deepEqual(await statsAfter[i].data(), await statsBefore[i].data());
    }
    tf.dispose([x, y]);
  });

  it('writes the standard layers format that model.json readers expect', async () => {
    const model = createModel('simple', { seed: 1 });
    const dir = path.join(root, 'format');
    await saveLearnerState(dir, { model, metadata: { model: 'simple' } });
    const json = JSON.parse(await fs.readFile(path.join(dir, MODEL_JSON), 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.match(json.generatedBy, /TensorFlow\.js/);
    assert.equal(json.convertedBy, null);
    assert.deepEqual(json.weightsManifest[0].paths, [WEIGHTS_BIN]);
    assert.equal(json.weightsManifest[0].weights.length, model.weights.length);
    assert.deepEqual(json.userDefinedMetadata, { cifarNets: { model: 'simple' } });
    const bytes = (await fs.stat(path.join(dir, WEIGHTS_BIN))).size;
    assert.equal(bytes, 123_330 * 4);
  });

  it('replaces an older save in place', async () => {
    const dir = path.join(root, 'replace');
    await saveLearnerState(dir, {
      model: createModel('conv', { seed: 1 }),
      metadata: { model: 'conv' },
    });
    await fs.writeFile(path.join(dir, 'stale.txt'), 'from the old save');
    await saveLearnerState(dir, {
      model: createModel('conv2', { seed: 1 }),
      metadata: { model: 'conv2' },
    });
    assert.deepEqual((await fs.readdir(dir)).sort(), [MODEL_JSON, WEIGHTS_BIN]);
    assert.equal((await loadLearnerState(dir)).metadata.model, 'conv2');
    assert.deepEqual(await siblings(dir), []);
  });

  it('resumes momentum SGD exactly where it stopped', async () => {
    const { x, y } = batch(3);
    const model = createModel('convbn', { seed: 4 });
    const optimizer = tf.train.momentum(0.01, 0.9);
    step(model, optimizer, x, y);
    step(model, optimizer, x, y);
    const saved = await optimizer.getWeights();
    assert.equal(saved.length, 1 + model.trainableWeights.length, 'iter plus one slot a weight');

    const dir = path.join(root, 'momentum');
    await saveLearnerState(dir, { model, optimizerWeights: saved, metadata: { model: 'convbn' } });
    assert.deepEqual((await fs.readdir(dir)).sort(), [
      MODEL_JSON,
      OPTIMIZER_BIN,
      OPTIMIZER_JSON,
      WEIGHTS_BIN,
    ]);
    const loaded = await loadLearnerState(dir, { expectedModel: 'convbn' });
    assert.ok(loaded.optimizerWeights);
    // The names now point at the loaded model's own variables, whose suffixes differ.
    const names = new Set(loaded.model.weights.map((w) => w.name));
    for (const w of loaded.optimizerWeights.slice(1)) {
      assert.ok(names.has(w.name.slice(0, w.name.lastIndexOf('/'))), w.name);
    }
    for (let i = 0; i < saved.length; i++) {
      assert.equal(loaded.optimizerWeights[i].tensor.dtype, saved[i].tensor.dtype);
      assert.deepEqual(
        await loaded.optimizerWeights[i].tensor.data(),
        await saved[i].tensor.data(),
      );
    }

    const resumed = tf.train.momentum(0.01, 0.9);
    await restoreOptimizerWeights(resumed, loaded.optimizerWeights);
    tf.dispose(loaded.optimizerWeights.map((w) => w.tensor));
    step(model, optimizer, x, y);
    step(loaded.model, resumed, x, y);
    assert.equal(resumed.iterations, optimizer.iterations);
    const a = model.getWeights();
    const b = loaded.model.getWeights();
    for (let i = 0; i < a.length; i++) {
      assert.deepEqual(await b[i].data(), await a[i].data(), `weight ${model.weights[i].name}`);
    }
    tf.dispose([x, y]);
  });

  it('remaps optimizer weights onto another instance of the architecture', async () => {
    const { x, y } = batch(5);
    const a = createModel('conv', { seed: 1 });
    const b = createModel('conv', { seed: 1 });
    const optimizer = tf.train.momentum(0.01, 0.9);
    step(a, optimizer, x, y);
    const remapped = remapOptimizerWeights(await optimizer.getWeights(), a, b);
    assert.equal(remapped[0].name, 'iter');
    assert.equal(remapped[1].name, `${b.trainableWeights[0].name}/momentum`);
    assert.notEqual(remapped[1].name, `${a.trainableWeights[0].name}/momentum`);
    tf.dispose([x, y]);
  });

  it('refuses optimizer state that belongs to another model', async () => {
    const dir = path.join(root, 'foreign-optimizer');
    const weights = [{ name: 'someone.else/kernel_9/momentum', tensor: tf.zeros([2]) }];
    await assert.rejects(
      saveLearnerState(dir, {
        model: createModel('simple'),
        optimizerWeights: weights,
        metadata: { model: 'simple' },
      }),
      (err: unknown) => err instanceof ModelSaveError && /someone\.else/.test(err.message),
    );
    await assert.rejects(fs.stat(dir), { code: 'ENOENT' });
  });
});

describe('loading broken or foreign folders', () => {
  let good: string;

  before(async () => {
    good = path.join(root, 'good');
    const optimizer = tf.train.momentum(0.01, 0.9);
    const model = createModel('conv', { seed: 1 });
    const { x, y } = batch(6);
    step(model, optimizer, x, y);
    await saveLearnerState(good, {
      model,
      optimizerWeights: await optimizer.getWeights(),
      metadata: { model: 'conv' },
    });
  });

  /** A copy of the good save with `damage` done to it. */
  async function damaged(name: string, damage: (dir: string) => Promise<void>): Promise<string> {
    const dir = path.join(root, name);
    await fs.cp(good, dir, { recursive: true });
    await damage(dir);
    return dir;
  }

  async function assertLoadError(dir: string, pattern: RegExp, expectedModel?: string) {
    await assert.rejects(loadLearnerState(dir, { expectedModel }), (err: unknown) => {
      assert.ok(err instanceof ModelLoadError, `a ModelLoadError, got ${err}`);
      assert.equal(err.dir, dir);
      assert.ok(err.message.includes(dir), 'the message names the folder');
      assert.match(err.message, pattern);
      return true;
    });
  }

  it('a missing folder', async () => {
    await assertLoadError(path.join(root, 'nothing-here'), /does not exist.*check the path/);
  });

  it('model.json missing', async () => {
    const dir = await damaged('no-json', (d) => fs.rm(path.join(d, MODEL_JSON)));
    await assertLoadError(dir, /model\.json is missing.*save the model again/);
  });

  it('model.json cut short', async () => {
    const dir = await damaged('short-json', async (d) => {
      const text = await fs.readFile(path.join(d, MODEL_JSON), 'utf8');
      await fs.writeFile(path.join(d, MODEL_JSON), text.slice(0, text.length / 2));
    });
    await assertLoadError(dir, /not valid JSON/);
  });

  it('weights.bin missing', async () => {
    const dir = await damaged('no-weights', (d) => fs.rm(path.join(d, WEIGHTS_BIN)));
    await assertLoadError(dir, /weights\.bin is missing/);
  });

  it('weights.bin cut short', async () => {
    const dir = await damaged('short-weights', (d) => fs.truncate(path.join(d, WEIGHTS_BIN), 1000));
    await assertLoadError(dir, /hold 1000 bytes, but .* needs 149960/);
  });

  it('optimizer.bin cut short', async () => {
    const dir = await damaged('short-optimizer', (d) =>
      fs.truncate(path.join(d, OPTIMIZER_BIN), 8),
    );
    await assertLoadError(dir, /optimizer\.bin holds 8 bytes/);
  });

  it('another model than expected', async () => {
    await assertLoadError(good, /expected a saved 'convbn' model, but it holds 'conv'/, 'convbn');
  });

  it('a plain model.save folder, which has no learner metadata', async () => {
    const dir = path.join(root, 'plain');
    await createModel('conv').save(`file://${dir}`);
    await assertLoadError(dir, /plain model.*tf\.loadLayersModel/);
  });
});

describe('failed saves leave nothing half-written', () => {
  it('when the parent of the target is a file', async () => {
    const file = path.join(root, 'a-file');
    await fs.writeFile(file, 'not a folder');
    const dir = path.join(file, 'model');
    await assert.rejects(
      saveLearnerState(dir, { model: createModel('simple'), metadata: { model: 'simple' } }),
      (err: unknown) => err instanceof ModelSaveError && err.dir === dir,
    );
    assert.equal(await fs.readFile(file, 'utf8'), 'not a folder');
    assert.deepEqual(
      (await fs.readdir(root)).filter((f) => f.startsWith('.a-file')),
      [],
    );
  });

  it('when writing fails midway, the older save survives', async () => {
    const dir = path.join(root, 'survivor');
    const model = createModel('conv', { seed: 1 });
    await saveLearnerState(dir, { model, metadata: { model: 'conv', epoch: 1 } });
    // A handler whose extra file cannot be written (a folder path inside a file name) fails
    // after model weights were written to the temporary folder.
    const handler = fileSystemHandler(dir, { extraFiles: { 'no/such/folder.txt': 'x' } });
    await assert.rejects(model.save(handler), ModelSaveError);
    assert.equal((await loadLearnerState(dir)).metadata.epoch, 1);
    assert.deepEqual(await siblings(dir), []);
  });
});

describe('file:// and http:// URLs', () => {
  it('model.save and tf.loadLayersModel with file:// URLs', async () => {
    const model = createModel('convbn', { seed: 7 });
    const { x } = batch(8);
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const dir = path.join(root, 'url');
    await model.save(`file://${dir}`);
    const loaded = await tf.loadLayersModel(`file://${dir}/${MODEL_JSON}`);
    assert.deepEqual(await predict(loaded, x), await predict(model, x));
    tf.dispose(x);
  });

  it('a browser-style http load of the saved folder', async () => {
    const model = createModel('convbn', { seed: 9 });
    const { x } = batch(10);
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const dir = path.join(root, 'served');
    await saveLearnerState(dir, { model, metadata: { model: 'convbn' } });

    // A static file server, as a browser would meet: GET /<file> -> the file's bytes.
    const requested: string[] = [];
    const server = await startLoopbackServer(async (req, res) => {
      const name = path.basename(new URL(req.url ?? '/', 'http://x').pathname);
      requested.push(name);
      try {
        const body = await fs.readFile(path.join(dir, name));
        const type = name.endsWith('.json') ? 'application/json' : 'application/octet-stream';
        res.writeHead(200, { 'content-type': type }).end(body);
      } catch {
        res.writeHead(404).end();
      }
    });
    try {
      const loaded = await tf.loadLayersModel(`${server.base}/${MODEL_JSON}`);
      assert.deepEqual(requested, [MODEL_JSON, WEIGHTS_BIN]);
      assert.deepEqual(await predict(loaded, x), await predict(model, x));
      assert.deepEqual(loaded.getUserDefinedMetadata(), { cifarNets: { model: 'convbn' } });
    } finally {
      await server.close();
    }
    tf.dispose(x);
  });
});

describe('file:// routing beside another handler', () => {
  it('stands aside for a handler that already claims the URL, as tfjs-node would', async () => {
    // Routers cannot be unregistered, so this one claims only its own folder name.
    let claimed = 0;
    const other: tf.io.IOHandler = {
      save: async (artifacts) => {
        claimed++;
        return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
      },
    };
    tf.io.registerSaveRouter(
      (url) => (String(url).includes('claimed-elsewhere') ? other : null) as tf.io.IOHandler,
    );
    const dir = path.join(root, 'claimed-elsewhere');
    await createModel('simple').save(`file://${dir}`);
    assert.equal(claimed, 1);
    await assert.rejects(fs.stat(dir), { code: 'ENOENT' }, 'this module wrote nothing');
  });
});

describe('on the wasm backend', () => {
  it('round-trips convbn2 exactly', async () => {
    await selectBackend('wasm', { log: null });
    const model = createModel('convbn2', { seed: 11 });
    const { x } = batch(12);
    tf.dispose(model.apply(x, { training: true }) as tf.Tensor);
    const dir = path.join(root, 'wasm');
    await saveLearnerState(dir, { model, metadata: { model: 'convbn2' } });
    const loaded = await loadLearnerState(dir, { expectedModel: 'convbn2' });
    assert.deepEqual(await predict(loaded.model, x), await predict(model, x));
    tf.dispose(x);
  });
});
