/**
 * Training throughput on wasm beside PyTorch's on the same CPU, measured in turns.
 *
 *   npm run compare-torch -- --cifar <folder> [--torch-script <path>] [--rounds <n>]
 *                            [--wasm-threads <n>] [--python <path>]
 *
 * Each round runs `npm run bench -- --json --backend wasm` (one child process per model) and
 * then the PyTorch peer's `speed` command (the lesson's models in PyTorch, batch 256, one
 * SGD-momentum step of the NLL loss, as scripts/bench.ts times it), so that both see the same
 * machine, load and clock. Figures on a shared or virtual machine swing by a third between
 * runs, so the report is the median over rounds of each, and their ratio.
 *
 * Needs PyTorch for the system Python (Debian: apt-get install python3-torch python3-pil) and
 * the peer script, by default ../shared/peer/torch_seed.py beside the project; --cifar is the
 * extracted cifar.tgz (train/ and test/ folders) the peer loads its batch from.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { defaultWasmThreads } from '../src/backend/selectBackend';
import type { BenchReport } from './bench';

interface CompareOptions {
  cifar: string;
  torchScript: string;
  python: string;
  rounds: number;
  wasmThreads: number;
}

const ROOT = path.resolve(__dirname, '..', '..');

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidArgumentError(`expected a whole number >= 1, but got '${value}'.`);
  }
  return n;
}

function run(command: string, args: string[]): string {
  const child = spawnSync(command, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  if (child.error !== undefined || child.status !== 0) {
    const why = child.error?.message ?? `exit code ${child.status}`;
    const tail = (child.stderr ?? '').trim().split('\n').slice(-5).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed (${why}):\n${tail}`);
  }
  return child.stdout;
}

/** Images per second by model from the peer's lines: `conv  params 37490  17743 img/s ...`. */
export function parseTorchSpeed(text: string): Map<string, number> {
  const speeds = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(\w+)\s+params\s+\d+\s+(\d+) img\/s/.exec(line.trim());
    if (match) speeds.set(match[1], Number(match[2]));
  }
  if (speeds.size === 0) {
    throw new Error(`Expected lines like 'conv params 37490 17743 img/s', but got:\n${text}`);
  }
  return speeds;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function main(argv: string[]): void {
  const program = new Command('compare-torch')
    .description("Training throughput on wasm beside the PyTorch peer's, in turns.")
    .requiredOption('--cifar <folder>', 'the extracted cifar.tgz (train/ and test/)')
    .option(
      '--torch-script <path>',
      'the PyTorch peer script',
      path.resolve(ROOT, '..', 'shared', 'peer', 'torch_seed.py'),
    )
    .option('--python <path>', 'a Python with PyTorch', '/usr/bin/python3')
    .option('--rounds <n>', 'turns of each', positiveInteger, 3)
    .option(
      '--wasm-threads <n>',
      'threads of the wasm backend',
      positiveInteger,
      defaultWasmThreads(),
    );
  program.parse(argv);
  const opts = program.opts<CompareOptions>();
  for (const [what, file] of [
    ['--cifar', path.join(opts.cifar, 'train')],
    ['--torch-script', opts.torchScript],
  ]) {
    if (!fs.existsSync(file))
      throw new Error(`${what}: expected ${file} to exist, but it does not.`);
  }

  const ours = new Map<string, number[]>();
  const theirs = new Map<string, number[]>();
  const bench = path.join(ROOT, 'dist', 'scripts', 'bench.js');
  for (let round = 1; round <= opts.rounds; round++) {
    process.stderr.write(`round ${round} of ${opts.rounds}: cifar-nets on wasm...\n`);
    const json = run(process.execPath, [
      bench,
      '--json',
      '--backend',
      'wasm',
      '--wasm-threads',
      String(opts.wasmThreads),
    ]);
    const report = JSON.parse(json) as BenchReport;
    for (const r of report.results)
      ours.set(r.model, [...(ours.get(r.model) ?? []), r.imagesPerSec]);
    process.stderr.write(`round ${round} of ${opts.rounds}: PyTorch...\n`);
    const speeds = parseTorchSpeed(run(opts.python, [opts.torchScript, 'speed', opts.cifar]));
    for (const [model, v] of speeds) theirs.set(model, [...(theirs.get(model) ?? []), v]);
  }

  const rows = [['model', 'cifar-nets', 'PyTorch', 'ratio', 'cifar-nets runs', 'PyTorch runs']];
  for (const [model, mine] of ours) {
    const peer = theirs.get(model) ?? [];
    const [a, b] = [median(mine), peer.length ? median(peer) : NaN];
    rows.push([model, String(Math.round(a)), String(Math.round(b)), (a / b).toFixed(2)]);
    rows[rows.length - 1].push(mine.join(' '), peer.join(' '));
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = [
    `training images/s at batch 256, median of ${opts.rounds} rounds in turns; wasm with ` +
      `${opts.wasmThreads} thread(s), PyTorch with its default (THREADS=2)`,
    ...rows.map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

if (require.main === module) {
  try {
    main(process.argv);
  } catch (err) {
    process.stderr.write(`compare-torch: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
