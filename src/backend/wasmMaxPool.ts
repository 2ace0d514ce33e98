import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import {
  GLOBAL_MAX_POOL,
  GLOBAL_MAX_POOL_GRAD,
  type PoolGradAttrs,
} from '../models/optionalKernels';
import { addr, byImages, runnerOf, Scratch, WasmKernelError } from './wasmModule';

/**
 * The global max pool kernels of src/models/optionalKernels.ts on the wasm backend, run by
 * ./kernels/channels.c: one pass for the maxima and where they are, and one that zeroes the
 * input's gradient and places each image's channel gradient at its maximum. The standard ops
 * take a transpose, a max, an argMax, a oneHot, another transpose and a multiply.
 */

type Info = tf.TensorInfo;
type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

function globalMaxPool(args: KernelArgs): Info[] {
  const backend = args.backend as BackendWasm;
  const { x } = args.inputs as { x: Info };
  if (x.shape.length !== 4 || x.dtype !== 'float32') {
    throw new WasmKernelError(
      `${GLOBAL_MAX_POOL} on wasm expected a float32 x of rank 4 (NHWC), but got a ${x.dtype} ` +
        `of shape [${x.shape.join(', ')}].`,
    );
  }
  const [n, h, w, c] = x.shape;
  const r = runnerOf(backend);
  const s = new Scratch(backend);
  try {
    const y = s.alloc([n, c]);
    const at = s.alloc([n, c], 'int32');
    const inputs = [addr(backend, x), h * w, c, addr(backend, y), addr(backend, at)];
    r.run(
      'global_max_pool',
      byImages(r, n, () => inputs),
    );
    return [s.keep(y), s.keep(at)];
  } finally {
    s.freeAll();
  }
}

function globalMaxPoolGrad(args: KernelArgs): Info {
  const backend = args.backend as BackendWasm;
  const { dy, at } = args.inputs as { dy: Info; at: Info };
  const { height, width } = args.attrs as unknown as PoolGradAttrs;
  const [n, c] = dy.shape;
  const ok =
    dy.shape.length === 2 &&
    dy.dtype === 'float32' &&
    at.dtype === 'int32' &&
    at.shape[0] === n &&
    at.shape[1] === c;
  if (!ok) {
    throw new WasmKernelError(
      `${GLOBAL_MAX_POOL_GRAD} on wasm expected float32 dy and int32 at, both [batch, ` +
        `channels], but got ${dy.dtype} [${dy.shape.join(', ')}] and ${at.dtype} ` +
        `[${at.shape.join(', ')}].`,
    );
  }
  const r = runnerOf(backend);
  const s = new Scratch(backend);
  try {
    const dx = s.alloc([n, height, width, c]);
    const inputs = [addr(backend, dy), addr(backend, at), height * width, c, addr(backend, dx)];
    r.run(
      'global_max_pool_grad',
      byImages(r, n, () => inputs),
    );
    return s.keep(dx);
  } finally {
    s.freeAll();
  }
}

const configs: tf.KernelConfig[] = [
  {
    kernelName: GLOBAL_MAX_POOL,
    backendName: 'wasm',
    kernelFunc: globalMaxPool as tf.KernelFunc,
  },
  {
    kernelName: GLOBAL_MAX_POOL_GRAD,
    backendName: 'wasm',
    kernelFunc: globalMaxPoolGrad as tf.KernelFunc,
  },
];

/** Registers the global max pool kernels on the wasm backend. Safe to call more than once. */
export function registerWasmMaxPoolKernels(): void {
  for (const config of configs) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}
