/**
 * Throughput of the lesson's models on each TensorFlow.js backend that loads.
 *
 *   npm run bench -- [--model <name>] [--backend <name>] [--steps <n>] [--batch-size <n>]
 *                    [--wasm-threads <n>] [--json] [--profile]
 *
 * For each backend and model: training images per second at batch 256 (one SGD-momentum step
 * of the NLL loss, median over --steps steps after 2 warm-up steps), inference images per
 * second (same batch, median), and the peak resident memory of the process that ran it.
 * Per backend: training batches per second of the data pipeline with augmentation, on
 * synthetic images (decoding the real data set is not part of a training step).
 *
 * Each (backend, model) runs in its own child process (`--worker`), so that its peak RSS is
 * its own and one model's caches do not slow or speed up the next. Under --json only one
 * backend is measured (--backend's, or the one `auto` picks), so the document names one.
 */
import { spawnSync } from 'node:child_process';
import { Command, InvalidArgumentError, Option } from 'commander';
import type * as tfTypes from '@tensorflow/tfjs';
import { defaultWasmThreads } from '../src/backend/selectBackend';

const WARMUP_STEPS = 2;
const RESULT_PREFIX = 'BENCH_RESULT ';
/** Images in the synthetic data set the pipeline is timed on: 20 batches of 256. */
const PIPELINE_IMAGES = 20 * 256;

/** One model's figures, as `--json` prints them. */
export interface ModelResult {
  model: string;
  imagesPerSec: number;
  inferenceImagesPerSec: number;
  peakRssMb: number;
}

/** The `--json` document. */
export interface BenchReport {
  backend: string;
  results: ModelResult[];
  pipelineBatchesPerSec: number | null;
}

interface BenchOptions {
  model?: string;
  backend?: string;
  steps: number;
  batchSize: number;
  json: boolean;
  profile: boolean;
  wasmThreads: number;
  worker?: string;
}

/** What a worker prints on its result line. */
type WorkerResult =
  | ({ kind: 'model'; backend: string } & ModelResult)
  | { kind: 'pipeline'; backend: string; pipelineBatchesPerSec: number }
  | { kind: 'error'; backend: string; stage: 'backend' | 'run'; message: string };

function positiveInteger(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n <= 0) {
      // Commander prints it after its own "option '--steps <n>' argument 'x' is invalid."
      throw new InvalidArgumentError(`Expected ${flag} to be a whole number >= 1.`);
    }
    return n;
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function peakRssMb(): number {
  // maxRSS is in kilobytes: the high-water mark of the whole process.
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

// ---------------------------------------------------------------------------------------------
// Worker side: one backend, one model (or the pipeline), one result line on stdout.

async function runWorker(kind: string, opts: BenchOptions): Promise<WorkerResult> {
  const tf: typeof tfTypes = require('@tensorflow/tfjs');
  const { selectBackend } =
    require('../src/backend/selectBackend') as typeof import('../src/backend/selectBackend');
  const choice = opts.backend ?? 'auto';
  let backend: string;
  try {
    const wasmThreads = opts.wasmThreads;
    backend = (await selectBackend(choice as never, { log: null, wasmThreads })).name;
  } catch (err) {
    return { kind: 'error', backend: choice, stage: 'backend', message: (err as Error).message };
  }
  try {
    if (kind === 'pipeline') {
      return { kind: 'pipeline', backend, pipelineBatchesPerSec: await timePipeline(opts) };
    }
    return { kind: 'model', backend, ...(await timeModel(tf, kind, opts)) };
  } catch (err) {
    return { kind: 'error', backend, stage: 'run', message: (err as Error).stack ?? String(err) };
  }
}

async function timeModel(
  tf: typeof tfTypes,
  name: string,
  opts: BenchOptions,
): Promise<ModelResult> {
  const { createModel } =
    require('../src/models/registry') as typeof import('../src/models/registry');
  const { nllLoss } = require('../src/learner/loss') as typeof import('../src/learner/loss');
  const bs = opts.batchSize;
  const model = createModel(name, { seed: 1 });
  // Fixed random inputs: the step's cost does not depend on the pixel values.
  const x = tf.randomNormal([bs, 32, 32, 3], 0, 1, 'float32', 1);
  const y = tf.randomUniform([bs], 0, 10, 'int32', 2);
  const optimizer = tf.train.momentum(0.01, 0.9);
  const vars = model.trainableWeights.map((w) => w.read() as tfTypes.Variable);

  const trainStep = () => {
    const loss = optimizer.minimize(
      () => nllLoss(model.apply(x, { training: true }) as tfTypes.Tensor, y),
      true,
      vars,
    );
    // Reading the loss waits for the step on backends that run asynchronously.
    loss?.dataSync();
    loss?.dispose();
  };
  const inferStep = () => {
    const out = model.predict(x, { batchSize: bs }) as tfTypes.Tensor;
    out.dataSync();
    out.dispose();
  };
  const time = (step: () => void): number => {
    for (let i = 0; i < WARMUP_STEPS; i++) step();
    const ms: number[] = [];
    for (let i = 0; i < opts.steps; i++) {
      const start = performance.now();
      step();
      ms.push(performance.now() - start);
    }
    return median(ms);
  };

  const trainMs = time(trainStep);
  const inferMs = time(inferStep);
  if (opts.profile) await printProfile(tf, name, trainStep);
  return {
    model: name,
    imagesPerSec: Math.round((bs * 1000) / trainMs),
    inferenceImagesPerSec: Math.round((bs * 1000) / inferMs),
    peakRssMb: peakRssMb(),
  };
}

/** Writes the kernels of one training step, slowest first, to stderr. */
async function printProfile(tf: typeof tfTypes, model: string, step: () => void) {
  const byKernel = new Map<string, { ms: number; calls: number }>();
  // tf.profile times each kernel; on wasm and cpu the time is the kernel's own wall time.
  const info = await tf.profile(step);
  for (const k of info.kernels) {
    // A fused op's customGrad shows up both as the op ('fusedConv2d__op') and as its kernel.
    if (k.name.endsWith('__op')) continue;
    const entry = byKernel.get(k.name) ?? { ms: 0, calls: 0 };
    entry.ms += typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    entry.calls++;
    byKernel.set(k.name, entry);
  }
  const total = [...byKernel.values()].reduce((a, b) => a + b.ms, 0);
  const rows = [...byKernel.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 12);
  process.stderr.write(`profile of one training step of ${model} (${total.toFixed(0)} ms):\n`);
  for (const [name, { ms, calls }] of rows) {
    const share = ((100 * ms) / total).toFixed(1).padStart(5);
    const line = `${name.padEnd(24)} ${ms.toFixed(1).padStart(8)} ms ${share}%  x${calls}`;
    process.stderr.write(`  ${line}\n`);
  }
}

async function timePipeline(opts: BenchOptions): Promise<number> {
  const { createDataLoader } = require('../src/data/loader') as typeof import('../src/data/loader');
  const { createRandom } = require('../src/data/random') as typeof import('../src/data/random');
  const { CIFAR_CLASSES } =
    require('../src/data/CifarArrays') as typeof import('../src/data/CifarArrays');
  const random = createRandom(3);
  const images = new Uint8Array(PIPELINE_IMAGES * 32 * 32 * 3);
  for (let i = 0; i < images.length; i++) images[i] = Math.floor(random() * 256);
  const labels = new Uint8Array(PIPELINE_IMAGES).map(() => Math.floor(random() * 10));
  const split = { images, labels, count: PIPELINE_IMAGES };
  const loader = createDataLoader(
    { classes: [...CIFAR_CLASSES], train: split, test: split },
    { batchSize: opts.batchSize, seed: 1, augment: true },
  );
  // One epoch as warm-up, then the median epoch of three, in batches per second.
  const perSec: number[] = [];
  for (let epoch = 0; epoch < 4; epoch++) {
    const start = performance.now();
    let batches = 0;
    for await (const batch of loader.train(epoch)) {
      batch.x.dispose();
      batch.y.dispose();
      batches++;
    }
    if (epoch > 0) perSec.push((batches * 1000) / (performance.now() - start));
  }
  return Math.round(median(perSec) * 10) / 10;
}

// ---------------------------------------------------------------------------------------------
// Parent side: a child process per run, then a table or one JSON document.

function spawnWorker(kind: string, backend: string, opts: BenchOptions): WorkerResult {
  const args = [
    __filename,
    '--worker',
    kind,
    '--backend',
    backend,
    '--steps',
    String(opts.steps),
    '--batch-size',
    String(opts.batchSize),
  ];
  if (opts.profile) args.push('--profile');
  args.push('--wasm-threads', String(opts.wasmThreads));
  const child = spawnSync(process.execPath, args, {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 << 20,
  });
  if (opts.profile)
    process.stderr.write(
      child.stderr
        .split('\n')
        .filter((l) => /^(profile| {2})/.test(l))
        .map((l) => `${l}\n`)
        .join(''),
    );
  const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
  if (line === undefined) {
    const why = child.signal ? `killed by ${child.signal}` : `exit code ${child.status}`;
    const tail = child.stderr.trim().split('\n').slice(-5).join('\n');
    return { kind: 'error', backend, stage: 'run', message: `worker ${kind} ${why}: ${tail}` };
  }
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkerResult;
}

function formatTable(reports: BenchReport[], batchSize: number, threads: number): string {
  const head = ['backend', 'model', 'train img/s', 'infer img/s', 'peak RSS MB'];
  const rows: string[][] = [];
  for (const r of reports) {
    for (const m of r.results) {
      rows.push([
        r.backend,
        m.model,
        String(m.imagesPerSec),
        String(m.inferenceImagesPerSec),
        String(m.peakRssMb),
      ]);
    }
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) =>
    row.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const onWasm = reports.some((r) => r.backend === 'wasm');
  const title =
    `batch size ${batchSize}` + (onWasm ? `, ${threads} wasm thread${threads > 1 ? 's' : ''}` : '');
  const lines = [title, fmt(head), widths.map((w) => '-'.repeat(w)).join('  ')];
  lines.push(...rows.map(fmt), '');
  for (const r of reports) {
    const p = r.pipelineBatchesPerSec === null ? 'n/a' : `${r.pipelineBatchesPerSec}`;
    lines.push(`data pipeline on ${r.backend}: ${p} batches/s with augmentation`);
  }
  return lines.join('\n');
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('bench')
    .description('Training and inference throughput of the lesson models on each backend.')
    .option('--model <name>', 'only this model (simple, conv, conv2, convbn, convbn2)')
    .option(
      '--backend <name>',
      'only this backend (tensorflow, wasm, cpu, or auto); ' +
        'with --json the default is auto, the backend training would use',
    )
    .option('--steps <n>', 'timed steps after 2 warm-up steps', positiveInteger('--steps'), 5)
    .option('--batch-size <n>', 'images a step', positiveInteger('--batch-size'), 256)
    .option('--json', 'print one JSON document on stdout instead of a table', false)
    .option('--profile', 'print the slowest kernels of one training step to stderr', false)
    .option(
      '--wasm-threads <n>',
      'threads of the wasm backend; 1 loads its single-threaded build, more its threaded ' +
        'build (see src/backend/wasmThreads.ts)',
      positiveInteger('--wasm-threads'),
      defaultWasmThreads(),
    )
    .addOption(new Option('--worker <kind>', 'internal: run one model or the pipeline').hideHelp())
    .exitOverride();
  let opts: BenchOptions;
  try {
    program.parse(argv);
    opts = program.opts<BenchOptions>();
  } catch (err) {
    // Commander has already printed its message (or the help, with exit code 0).
    process.exitCode = (err as { exitCode?: number }).exitCode ?? 1;
    return;
  }

  if (opts.worker !== undefined) {
    const result = await runWorker(opts.worker, opts);
    process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`);
    return;
  }

  const { MODEL_NAMES, parseModelName } =
    require('../src/models/registry') as typeof import('../src/models/registry');
  const { BACKEND_NAMES, parseBackendChoice } =
    require('../src/backend/selectBackend') as typeof import('../src/backend/selectBackend');
  let models: string[];
  let backends: string[];
  try {
    models = opts.model === undefined ? MODEL_NAMES : [parseModelName(opts.model)];
    backends =
      opts.backend !== undefined
        ? [parseBackendChoice(opts.backend)]
        : opts.json
          ? ['auto']
          : [...BACKEND_NAMES];
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exitCode = 1;
    return;
  }

  const reports: BenchReport[] = [];
  for (const choice of backends) {
    process.stderr.write(`${choice}: data pipeline\n`);
    const pipeline = spawnWorker('pipeline', choice, opts);
    if (pipeline.kind === 'error' && pipeline.stage === 'backend') {
      process.stderr.write(`Skipping backend ${choice}: ${pipeline.message}\n`);
      continue;
    }
    const report: BenchReport = {
      backend: pipeline.backend,
      results: [],
      pipelineBatchesPerSec: pipeline.kind === 'pipeline' ? pipeline.pipelineBatchesPerSec : null,
    };
    if (pipeline.kind === 'error') process.stderr.write(`pipeline failed: ${pipeline.message}\n`);
    for (const model of models) {
      process.stderr.write(`${report.backend}: ${model}\n`);
      const r = spawnWorker(model, report.backend, opts);
      if (r.kind !== 'model') {
        process.stderr.write(
          `${model} on ${report.backend} failed: ${(r as { message?: string }).message}\n`,
        );
        process.exitCode = 1;
        continue;
      }
      const { model: m, imagesPerSec, inferenceImagesPerSec, peakRssMb: rss } = r;
      report.results.push({ model: m, imagesPerSec, inferenceImagesPerSec, peakRssMb: rss });
    }
    reports.push(report);
  }
  if (reports.length === 0) {
    process.stderr.write('No backend could be loaded; see the reasons above.\n');
    process.exitCode = 1;
    return;
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(reports[0], null, 2)}\n`);
  } else {
    process.stdout.write(`${formatTable(reports, opts.batchSize, opts.wasmThreads)}\n`);
  }
}

if (require.main === module) {
  main(process.argv).catch((err) => {
    process.stderr.write(`${(err as Error).stack ?? err}\n`);
    process.exitCode = 1;
  });
}
