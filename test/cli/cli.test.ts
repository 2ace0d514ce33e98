// The built CLI, spawned as a user runs it: help, summary, train on a tiny archive served from
// 127.0.0.1, lr-find, save then evaluate and predict, and every bad input exiting 1 with a
// message and no stack trace.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { COMMANDS } from '../../src/cli/options';
import { MODEL_NAMES, MODELS } from '../../src/models/registry';
import { classPng, makeCifarArchive, serveFile } from '../helpers/cifarArchive';
import { CIFAR_CLASSES } from '../helpers/dataFixtures';

const BIN = path.resolve(__dirname, '..', '..', '..', 'bin', 'cifar-nets.js');

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI in a child process without blocking this one (the test's server must answer). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, DEBUG: '', ...env }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const status = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
        resolve({ status, stdout, stderr });
      },
    );
  });
}

function assertFails(run: Run, pattern: RegExp): void {
  assert.equal(run.status, 1, `exit status (stderr: ${run.stderr})`);
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /^\s+at /m, 'no stack trace');
  assert.equal(run.stdout, '', 'nothing on stdout');
}

describe('cifar-nets CLI', () => {
  let work: string;
  let archive: string;
  let server: Awaited<ReturnType<typeof serveFile>>;
  let cacheDir: string;

  before(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'cifar-nets-cli-'));
    archive = await makeCifarArchive(4, 2);
    server = await serveFile(archive);
    cacheDir = path.join(work, 'cache');
  });
  after(async () => {
    await server.close();
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(path.dirname(archive), { recursive: true, force: true });
  });

  /** The flags of every run on the tiny archive: where it is, the shared cache, wasm. */
  const onData = (data: string) => ['--data', data, '--cache-dir', cacheDir, '--backend', 'wasm'];

  it('--help lists every command, and each command --help every option', async () => {
    const top = await cli(['--help']);
    assert.equal(top.status, 0);
    for (const command of COMMANDS) assert.match(top.stdout, new RegExp(`\\b${command.name}\\b`));
    for (const command of COMMANDS) {
      const help = await cli([command.name, '--help']);
      assert.equal(help.status, 0);
      for (const option of command.options) {
        assert.ok(
          help.stdout.includes(option.flags),
          `${command.name} --help shows ${option.flags}`,
        );
      }
    }
  });

  it('summary --json gives PyTorch parameter totals for all five models', async () => {
    for (const name of MODEL_NAMES) {
      const run = await cli(['summary', '--model', name, '--json', '--backend', 'cpu']);
      assert.equal(run.status, 0, run.stderr);
      const summary = JSON.parse(run.stdout);
      assert.equal(summary.totalParams, MODELS[name].params, name);
      assert.ok(summary.layers.length > 0);
    }
  });

  it('trains on an archive downloaded from 127.0.0.1, saves, evaluates and predicts', async () => {
    const modelDir = path.join(work, 'model');
    const train = await cli([
      'train',
      '--model',
      'conv',
      '--fit',
      '1e-2:1',
      '--fit',
      '1e-2:1:1',
      '--batch-size',
      '8',
      '--seed',
      '1',
      ...onData(server.url),
      '--save',
      modelDir,
      '--json',
    ]);
    assert.equal(train.status, 0, train.stderr);
    const result = JSON.parse(train.stdout);
    assert.equal(result.backend, 'wasm');
    assert.equal(result.model, 'conv');
    assert.equal(result.params, MODELS.conv.params);
    assert.equal(result.history.length, 2);
    for (const row of result.history) {
      for (const key of [
        'epoch',
        'lr',
        'trainLoss',
        'validLoss',
        'accuracy',
        'seconds',
        'imagesPerSec',
      ]) {
        assert.equal(typeof row[key], 'number', `history ${key}`);
      }
    }
    assert.equal(result.accuracy, result.history[1].accuracy);
    assert.match(train.stderr, /backend: wasm/);

    const evaluate = await cli(['evaluate', modelDir, ...onData(archive), '--json']);
    assert.equal(evaluate.status, 0, evaluate.stderr);
    const evaluation = JSON.parse(evaluate.stdout);
    assert.ok(evaluation.accuracy >= 0 && evaluation.accuracy <= 1);
    assert.equal(Object.keys(evaluation.perClass).length, 10);
    const counted = evaluation.confusion.flat().reduce((a: number, b: number) => a + b, 0);
    assert.equal(counted, 20, 'every test image is in the confusion matrix');

    const image = path.join(work, 'ship.png');
    fs.writeFileSync(image, classPng(8, 0));
    const predict = await cli(['predict', modelDir, image, '--json', '--backend', 'wasm']);
    assert.equal(predict.status, 0, predict.stderr);
    const { predictions } = JSON.parse(predict.stdout);
    assert.equal(predictions[0].top.length, 3);
    for (const t of predictions[0].top) {
      assert.ok(CIFAR_CLASSES.includes(t.class), `class ${t.class}`);
    }
    const total = predictions[0].top.reduce(
      (s: number, t: { probability: number }) => s + t.probability,
      0,
    );
    assert.ok(total > 0 && total <= 1 + 1e-6);
  });

  it("lesson --json runs the lesson's fits and sets each model beside the lesson", async () => {
    const run = await cli([
      'lesson',
      '--models',
      'simple,conv2',
      '--batch-size',
      '16',
      '--seed',
      '2',
      ...onData(archive),
      '--json',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const { backend, rows } = JSON.parse(run.stdout);
    assert.equal(backend, 'wasm');
    assert.deepEqual(
      rows.map((r: { model: string; fits: string; epochs: number; lessonAccuracy: number }) => [
        r.model,
        r.fits,
        r.epochs,
        r.lessonAccuracy,
      ]),
      [
        ['simple', '0.01:2 0.01:2:1', 4, 0.469],
        ['conv2', '0.1:2 0.1:2:1', 4, 0.518],
      ],
    );
    for (const row of rows) assert.ok(row.accuracy >= 0 && row.secondsPerEpoch > 0);
    assert.match(run.stderr, /simple: accuracy [\d.]+ \(lesson 0\.469\)/);
  });

  // With the threaded wasm build, which must also let the process end when the work is done.
  it('lr-find --json on tiny data gives rates, losses and a suggestion', async () => {
    const plot = path.join(work, 'lr.svg');
    const run = await cli([
      'lr-find',
      '--wasm-threads',
      '2',
      '--model',
      'simple',
      '--num-it',
      '30',
      '--end-lr',
      '100',
      '--batch-size',
      '8',
      ...onData(archive),
      '--plot',
      plot,
      '--json',
    ]);
    assert.equal(run.status, 0, run.stderr);
    const result = JSON.parse(run.stdout);
    assert.equal(result.lrs.length, result.losses.length);
    assert.ok(result.lrs.length > 0);
    assert.ok(result.suggestedLr > 0);
    assert.equal(typeof result.stoppedEarly, 'boolean');
    assert.match(fs.readFileSync(plot, 'utf8'), /^<svg/);
  });

  describe('bad input exits 1 with a message and no stack trace', () => {
    const cases: [string, () => string[], RegExp][] = [
      [
        'unknown model',
        () => ['summary', '--model', 'resnet'],
        /resnet.*Allowed choices are simple/,
      ],
      ['unknown command', () => ['fly'], /unknown command 'fly'/],
      ['unknown option', () => ['train', '--speed', 'fast'], /unknown option '--speed'/],
      [
        'a rate that is not a number',
        () => ['train', '--lr', 'abc'],
        /Expected --lr to be a positive number, but got 'abc'/,
      ],
      [
        'a count that is not positive',
        () => ['train', '--epochs', '0'],
        /Expected --epochs to be a positive integer, but got '0'/,
      ],
      [
        'a size that is not a number',
        () => ['train', '--batch-size', '-3'],
        /Expected --batch-size to be a positive integer/,
      ],
      ['a bad --fit', () => ['train', '--fit', '0.1'], /Expected --fit as lr:nCycle/],
    ];
    for (const [what, args, pattern] of cases) {
      it(what, async () => assertFails(await cli(args()), pattern));
    }

    it('a missing data path', async () => {
      const missing = path.join(work, 'nowhere', 'cifar.tgz');
      const run = await cli([
        'train',
        '--data',
        missing,
        '--cache-dir',
        cacheDir,
        '--backend',
        'cpu',
      ]);
      assertFails(run, /nowhere/);
    });

    it('no network for the data URL', async () => {
      const run = await cli([
        'train',
        '--data',
        'http://127.0.0.1:9/cifar.tgz',
        '--cache-dir',
        path.join(work, 'c2'),
        '--backend',
        'cpu',
        '--quiet',
      ]);
      assertFails(run, /127\.0\.0\.1:9/);
      assert.match(run.stderr, /--data/, 'says how to point at a local copy');
    });

    it('a model folder that does not load', async () => {
      const image = path.join(work, 'cat.png');
      fs.writeFileSync(image, classPng(3, 0));
      const run = await cli(['predict', path.join(work, 'no-model'), image, '--backend', 'cpu']);
      assertFails(run, /no-model/);
    });

    it('an image that is not a PNG', async () => {
      const notPng = path.join(work, 'note.png');
      fs.writeFileSync(notPng, 'hello');
      const run = await cli(['predict', path.join(work, 'model'), notPng, '--backend', 'cpu']);
      assertFails(
        run,
        /Expected .*note\.png to be a PNG image, but it does not start with the PNG/,
      );
    });

    it('a stack trace only with --verbose', async () => {
      const image = path.join(work, 'cat.png');
      fs.writeFileSync(image, classPng(3, 0));
      const run = await cli([
        'predict',
        path.join(work, 'no-model'),
        image,
        '--verbose',
        '--backend',
        'cpu',
      ]);
      assert.equal(run.status, 1);
      assert.match(run.stderr, /^\s+at /m);
    });
  });
});
