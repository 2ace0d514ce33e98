import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Sum and Mean over leading axes for the wasm backend.
 *
 * Training reduces [batch, h, w, channels] over [0, 1, 2] all the time: bias gradients,
 * the lesson's batch statistics and their gradients. The stock wasm kernels reduce only
 * innermost axes, so they first transpose the whole tensor with a slow generic Transpose
 * (about 4 ns an element at batch 256). Summing rows into a per-channel accumulator needs no
 * transpose and reads memory once. Every other reduction goes to the stock kernel.
 */

type Info = tf.TensorInfo;

interface ReduceAttrs {
  axis: number | number[];
  keepDims: boolean;
}

/**
 * If `axes` are exactly the leading `k` axes of `shape` (and not all of them), the number of
 * rows reduced and the length of each row; otherwise null.
 */
function leadingSplit(shape: number[], axis: number | number[]) {
  const axes = tf.util.parseAxisParam(axis, shape).sort((a, b) => a - b);
  if (axes.length === 0 || axes.length >= shape.length) return null;
  if (!axes.every((a, i) => a === i)) return null;
  const rows = shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const width = shape.slice(axes.length).reduce((a, b) => a * b, 1);
  return { axes, rows, width };
}

/**
 * Column sums of a [rows, width] float32 block at `x0`, into `out0`, times `scale`. The
 * accumulator is float64 (JavaScript numbers), so sums over 10^5 rows lose nothing to order.
 * Eight rows a pass: one accumulator update per eight loads, which V8 runs about 2.5 times
 * faster than a row at a time.
 */
function sumRows(
  heap: Float32Array,
  x0: number,
  out0: number,
  rows: number,
  width: number,
  scale: number,
): void {
  const w = width;
  const acc = new Float64Array(w);
  let at = x0;
  let r = 0;
  for (; r + 8 <= rows; r += 8) {
    for (let j = 0; j < w; j++) {
      const p = at + j;
      acc[j] +=
        heap[p] +
        heap[p + w] +
        (heap[p + 2 * w] + heap[p + 3 * w]) +
        (heap[p + 4 * w] + heap[p + 5 * w] + (heap[p + 6 * w] + heap[p + 7 * w]));
    }
    at += 8 * w;
  }
  for (; r < rows; r++) {
    for (let j = 0; j < w; j++) acc[j] += heap[at + j];
    at += w;
  }
  for (let j = 0; j < w; j++) heap[out0 + j] = acc[j] * scale;
}

function makeReduction(name: 'Sum' | 'Mean', stock: tf.KernelConfig): tf.KernelConfig {
  const kernelFunc = (args: {
    inputs: tf.NamedTensorInfoMap;
    backend: unknown;
    attrs?: tf.NamedAttrMap;
  }): Info | Info[] => {
    const { x } = args.inputs as { x: Info };
    const { axis, keepDims } = args.attrs as unknown as ReduceAttrs;
    const split = x.dtype === 'float32' ? leadingSplit(x.shape, axis) : null;
    if (split === null) return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]);
    const backend = args.backend as BackendWasm;
    const outShape = keepDims
      ? x.shape.map((n, i) => (i < split.axes.length ? 1 : n))
      : x.shape.slice(split.axes.length);
    const out = backend.makeOutput(outShape, 'float32');
    const heap = new Float32Array(backend.wasm.HEAPU8.buffer);
    const offset = (t: Info) => backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
    const scale = name === 'Mean' ? 1 / split.rows : 1;
    sumRows(heap, offset(x), offset(out), split.rows, split.width, scale);
    return out;
  };
  // The stock setup (its binding into the wasm module) still runs: other reductions use it.
  return { kernelName: name, backendName: 'wasm', setupFunc: stock.setupFunc, kernelFunc };
}

const installed = new Map<string, tf.KernelFunc>();

/**
 * Replaces the wasm backend's Sum and Mean by versions that reduce leading axes without a
 * transpose, falling back to the stock kernels for everything else. Safe to call more than
 * once.
 */
export function registerWasmReductionKernels(): void {
  for (const name of ['Sum', 'Mean'] as const) {
    const current = tf.getKernel(name, 'wasm');
    if (current === undefined) {
      throw new Error(
        `Expected the wasm backend's ${name} kernel to be registered, but it is not. ` +
          "Import '@tensorflow/tfjs-backend-wasm' first.",
      );
    }
    if (installed.get(name) === current.kernelFunc) continue;
    const config = makeReduction(name, current);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(config);
    installed.set(name, config.kernelFunc);
  }
}
