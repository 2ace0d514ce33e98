import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { BATCH_NORM, BATCH_NORM_GRAD, type ReluAttrs } from '../models/optionalKernels';
import { addParts, addr, byPixels, DOUBLE, runnerOf, Scratch, WasmKernelError } from './wasmModule';

/**
 * The batch norm kernels of src/models/optionalKernels.ts on the wasm backend, run by
 * ./kernels/channels.c: forward as two passes of per-channel sums and one that writes the
 * output; backward as one pass of sums and one that writes the gradient, with the ReLU folded
 * into both. Composed of standard ops instead, the layer costs about twenty passes over its
 * activations (see src/models/bnNormalize.ts).
 *
 * Sums are taken in double precision, per thread over its share of the pixels, and added up
 * here; the per-channel arithmetic between the passes is done here too, on [c] numbers.
 */

type Info = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function check(kernel: string, x: Info, c: number, vectors: Record<string, Info>): void {
  if (x.shape.length !== 4 || x.dtype !== 'float32') {
    throw new WasmKernelError(
      `${kernel} on wasm expected a float32 x of rank 4 (NHWC), but got a ${x.dtype} of ` +
        `shape [${x.shape.join(', ')}].`,
    );
  }
  for (const [name, t] of Object.entries(vectors)) {
    if (t.shape.length !== 1 || t.shape[0] !== c || t.dtype !== 'float32') {
      throw new WasmKernelError(
        `${kernel} on wasm expected ${name} to be float32 of shape [${c}] (x's channels), but ` +
          `got ${t.dtype} of shape [${t.shape.join(', ')}].`,
      );
    }
  }
}

/** Float32 views of tensors of the heap; fetch after the last allocation (growth detaches). */
function f32(backend: BackendWasm, t: Info, length: number): Float32Array {
  return new Float32Array(backend.wasm.HEAPU8.buffer, addr(backend, t), length);
}

function batchNorm(args: KernelArgs): Info[] {
  const backend = args.backend as BackendWasm;
  const { x, m, a } = args.inputs as { x: Info; m: Info; a: Info };
  const { relu } = args.attrs as unknown as ReluAttrs;
  const c = x.shape[3];
  check(BATCH_NORM, x, c, { m, a });
  const pixels = x.shape[0] * x.shape[1] * x.shape[2];
  const r = runnerOf(backend);
  const s = new Scratch(backend);
  try {
    const y = s.alloc(x.shape);
    const mean = s.alloc([c]);
    const std = s.alloc([c]);
    const scale = s.alloc([c]);
    const shift = s.alloc([c]);
    const sums = s.alloc([(r.threads * c * DOUBLE) / 4]);
    const xAt = addr(backend, x);
    const flag = relu ? 1 : 0;
    const perThread = (i: number) => [addr(backend, sums) + i * c * DOUBLE];

    r.run('bn_sum', byPixels(r, pixels, [xAt, c, flag], perThread));
    const total = addParts(backend, sums, r.threads, c);
    f32(backend, mean, c).set(total.map((v) => v / pixels));

    const squares = byPixels(r, pixels, [xAt, c, flag, addr(backend, mean)], perThread);
    r.run('bn_sum_squares', squares);
    const sq = addParts(backend, sums, r.threads, c);
    const [mv, sv, scv, shv] = [mean, std, scale, shift].map((t) => f32(backend, t, c));
    const [mIn, aIn] = [m, a].map((t) => f32(backend, t, c));
    for (let j = 0; j < c; j++) {
      sv[j] = Math.sqrt(sq[j] / (pixels - 1));
      scv[j] = mIn[j] / sv[j];
      shv[j] = aIn[j] - mv[j] * scv[j];
    }

    const apply = [xAt, c, flag, addr(backend, scale), addr(backend, shift), addr(backend, y)];
    r.run(
      'bn_apply',
      byPixels(r, pixels, apply, () => []),
    );
    return [s.keep(y), s.keep(mean), s.keep(std)];
  } finally {
    s.freeAll();
  }
}

function batchNormGrad(args: KernelArgs): Info[] {
  const backend = args.backend as BackendWasm;
  const { dy, x, mean, std, m } = args.inputs as Record<string, Info>;
  const { relu } = args.attrs as unknown as ReluAttrs;
  const c = x.shape[3];
  check(BATCH_NORM_GRAD, x, c, { mean, std, m });
  check(BATCH_NORM_GRAD, dy, c, {});
  const pixels = x.shape[0] * x.shape[1] * x.shape[2];
  const r = runnerOf(backend);
  const s = new Scratch(backend);
  try {
    const dx = s.alloc(x.shape);
    const dm = s.alloc([c]);
    const da = s.alloc([c]);
    const k1 = s.alloc([c]);
    const k2 = s.alloc([c]);
    const shift = s.alloc([c]);
    const sums = s.alloc([(r.threads * 2 * c * DOUBLE) / 4]);
    const flag = relu ? 1 : 0;
    const inputs = [addr(backend, dy), addr(backend, x), c, flag, addr(backend, mean)];
    const perThread = (i: number) => [addr(backend, sums) + i * 2 * c * DOUBLE];

    r.run('bn_grad_sums', byPixels(r, pixels, inputs, perThread));
    const total = addParts(backend, sums, r.threads, 2 * c);
    const [sd, mv, dmv, dav, k1v, k2v, shv] = [std, m, dm, da, k1, k2, shift].map((t) =>
      f32(backend, t, c),
    );
    for (let j = 0; j < c; j++) {
      // See bnNormalize: da = sum(dy), dCen = sum(dy * (y - mean)).
      const sumDy = total[j];
      const dCen = total[c + j];
      dav[j] = sumDy;
      dmv[j] = dCen / sd[j];
      k1v[j] = mv[j] / sd[j];
      k2v[j] = (k1v[j] * dCen) / (sd[j] * sd[j] * (pixels - 1));
      shv[j] = (k1v[j] * sumDy) / pixels;
    }

    const apply = [...inputs, addr(backend, k1), addr(backend, k2), addr(backend, shift)];
    r.run(
      'bn_grad_apply',
      byPixels(r, pixels, [...apply, addr(backend, dx)], () => []),
    );
    return [s.keep(dx), s.keep(dm), s.keep(da)];
  } finally {
    s.freeAll();
  }
}

const configs: tf.KernelConfig[] = [
  { kernelName: BATCH_NORM, backendName: 'wasm', kernelFunc: batchNorm as tf.KernelFunc },
  { kernelName: BATCH_NORM_GRAD, backendName: 'wasm', kernelFunc: batchNormGrad as tf.KernelFunc },
];

/** Registers the batch norm kernels on the wasm backend. Safe to call more than once. */
export function registerWasmBatchNormKernels(): void {
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}
