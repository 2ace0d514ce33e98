import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { convFilterGrad, convInputGrad, type ConvAttrs, type Shape4 } from './wasmConv';

/**
 * BatchMatMul on the wasm backend for the two products a dense layer's gradients take: aᵀ·b
 * (the weight gradient, x̃ᵀ·dy) and a·bᵀ (the input gradient, dy·Wᵀ).
 *
 * The stock kernel runs a product through XNNPACK only when `a` is not transposed, and
 * everything else as scalar loops: SimpleNet's weight gradient, [3072, 256] x [256, 40],
 * took 95 ms there against 2 ms for its forward product. Each of the two is a 1x1
 * convolution whose pixels are the rows of the matrices, so the convolution kernels of
 * ./wasmConv compute them in place, on the kernel threads:
 *
 *   aᵀ·b: a [k, m] is x with k pixels of m channels, b [k, n] is dy     -> filter grad [m, n]
 *   a·bᵀ: a [m, k] is dy with m pixels of k channels, b [n, k] a filter -> input grad [m, n]
 *
 * The plain product, aᵀ·bᵀ, a batch of more than one matrix and anything but float32 go to
 * the stock kernel.
 */

type Info = tf.TensorInfo;
type KernelArgs = Parameters<tf.KernelFunc>[0];

interface MatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** A view of `t`'s data with another shape of the same size: no copy. */
function view(t: Info, shape: number[]): Info {
  return { dataId: t.dataId, shape, dtype: t.dtype };
}

const ONE_BY_ONE: ConvAttrs = { strides: 1, pad: 'valid' };

/** The product on the convolution kernels, or undefined where the stock kernel should run. */
function transposedProduct(backend: BackendWasm, a: Info, b: Info, attrs: MatMulAttrs) {
  const { transposeA, transposeB } = attrs;
  const outer = (t: Info) => t.shape.slice(0, -2).reduce((p, d) => p * d, 1);
  if (transposeA === transposeB || outer(a) !== 1 || outer(b) !== 1) return undefined;
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return undefined;
  const [aRows, aCols] = a.shape.slice(-2);
  const [bRows, bCols] = b.shape.slice(-2);
  // The leading axes (all of size 1 here) broadcast as the stock kernel's do.
  const lead = Array<number>(Math.max(a.shape.length, b.shape.length) - 2).fill(1);
  if (transposeA) {
    if (aRows !== bRows) return undefined; // the stock kernel names the mismatch
    const [k, m, n] = [aRows, aCols, bCols];
    const filterShape: Shape4 = [1, 1, m, n];
    const dw = convFilterGrad(backend, view(a, [k, 1, 1, m]), view(b, [k, 1, 1, n]), {
      ...ONE_BY_ONE,
      filterShape,
    });
    return view(dw, [...lead, m, n]);
  }
  if (aCols !== bCols) return undefined;
  const [m, k, n] = [aRows, aCols, bRows];
  const inputShape: Shape4 = [m, 1, 1, n];
  const dx = convInputGrad(backend, view(a, [m, 1, 1, k]), view(b, [1, 1, n, k]), {
    ...ONE_BY_ONE,
    inputShape,
  });
  return view(dx, [...lead, m, n]);
}

let installed: tf.KernelFunc | undefined;

/**
 * Replaces the wasm backend's BatchMatMul by one that computes aᵀ·b and a·bᵀ on the
 * convolution kernels, falling back to the stock kernel for everything else. Safe to call
 * more than once.
 */
export function registerWasmMatMulKernel(): void {
  const stock = tf.getKernel('BatchMatMul', 'wasm');
  if (stock === undefined) {
    throw new Error(
      "Expected the wasm backend's BatchMatMul kernel to be registered, but it is not. " +
        "Import '@tensorflow/tfjs-backend-wasm' first.",
    );
  }
  if (stock.kernelFunc === installed) return;
  const kernelFunc = (args: KernelArgs) => {
    const { a, b } = args.inputs as { a: Info; b: Info };
    const attrs = args.attrs as unknown as MatMulAttrs;
    const backend = args.backend as BackendWasm;
    return transposedProduct(backend, a, b, attrs) ?? stock.kernelFunc(args);
  };
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ ...stock, kernelFunc });
  installed = kernelFunc;
}
