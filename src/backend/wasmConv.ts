import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { RELU_BIAS_GRAD, type ReluAttrs } from '../models/optionalKernels';
import {
  addParts,
  addr,
  byImages,
  byPixels,
  DOUBLE,
  FLOAT,
  Scratch,
  runnerOf,
  withScratch,
  WasmKernelError,
  type Runner,
} from './wasmModule';

/**
 * The convolution kernels of the wasm backend, forward and both gradients, run by the SIMD
 * kernels of ./kernels/conv.c on the backend's own heap (./wasmModule).
 *
 * Stock TensorFlow.js 4.22 on wasm has no Conv2DBackpropFilter, a scalar-loop
 * Conv2DBackpropInput, and an XNNPACK forward convolution that packs its weights again on
 * every call. The kernels here treat all three as small matrix products over the pixels, run
 * in wasm with no copies of the tensors, and on the threaded build split the batch among
 * threads.
 *
 * Supported: NHWC, float32, dilation 1, any stride and padding; FusedConv2D with a bias and a
 * linear or ReLU activation. Anything else goes to the stock kernel, or throws for the
 * gradients, which have none. Also here: RELU_BIAS_GRAD (src/models/optionalKernels.ts), the
 * gradient through a convolution's bias and ReLU, from ./kernels/channels.c.
 */

type Info = tf.TensorInfo;
export type Shape4 = [number, number, number, number];

export interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: number | [number, number];
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

/** One convolution's geometry, NHWC: x [n, h, w, c] -> y [n, outH, outW, f]. */
interface Geometry {
  n: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  f: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  top: number;
  left: number;
  /** The padded input's height and width: every row and column some window reads. */
  hp: number;
  wp: number;
}

function supported(attrs: ConvAttrs): boolean {
  const d = attrs.dilations ?? 1;
  const dilated = Array.isArray(d) ? d.some((v) => v !== 1) : d !== 1;
  return !dilated && (attrs.dataFormat ?? 'NHWC') === 'NHWC';
}

function geometry(xShape: Shape4, filterShape: Shape4, attrs: ConvAttrs): Geometry {
  const info = tf.backend_util.computeConv2DInfo(
    xShape,
    filterShape,
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  const g = {
    n: info.batchSize,
    h: info.inHeight,
    w: info.inWidth,
    c: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    f: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    sH: info.strideHeight,
    sW: info.strideWidth,
    top: info.padInfo.top,
    left: info.padInfo.left,
  };
  // The padded input covers every window, and at least the input itself.
  const hp = Math.max((g.outH - 1) * g.sH + g.kH, g.top + g.h);
  const wp = Math.max((g.outW - 1) * g.sW + g.kW, g.left + g.w);
  return { ...g, hp, wp };
}

/**
 * Slack after padded inputs: the filter gradient reads up to 3 numbers past a window row, and
 * so past the buffer's end at its last pixel (the numbers read there are multiplied into
 * padding and dropped). A convolution without padding reads x itself, where those reads land
 * on the heap's next malloc chunk header, still inside the heap.
 */
const SLACK = 4;

/** Writes g into the heap as conv.c's struct conv; returns its address. */
function writeGeometry(s: Scratch, g: Geometry): number {
  const fields = [g.n, g.h, g.w, g.c, g.top, g.left, g.hp, g.wp, g.outH, g.outW, g.f];
  fields.push(g.kH, g.kW, g.sH, g.sW);
  const at = addr(s.backend, s.alloc([fields.length]));
  new Int32Array(s.backend.wasm.HEAPU8.buffer, at, fields.length).set(fields);
  return at;
}

/** Where the padded input goes: x itself if the convolution needs no padding. */
function paddedInput(s: Scratch, x: Info, g: Geometry): number {
  const none = g.hp === g.h && g.wp === g.w && g.top === 0 && g.left === 0;
  return none ? addr(s.backend, x) : addr(s.backend, s.alloc([g.n * g.hp * g.wp * g.c + SLACK]));
}

/** Scratch of `size` numbers for each thread: the address of thread i's block (0 if none). */
function perThread(s: Scratch, r: Runner, size: number): (i: number) => number {
  if (size === 0) return () => 0;
  const at = addr(s.backend, s.alloc([r.threads * size]));
  return (i) => at + i * size * FLOAT;
}

/** y = conv(x, filter) + bias, with a ReLU if `relu`. */
export function convForward(
  backend: BackendWasm,
  x: Info,
  filter: Info,
  bias: Info | undefined,
  relu: boolean,
  attrs: ConvAttrs,
): Info {
  const g = geometry(x.shape as Shape4, filter.shape as Shape4, attrs);
  const r = runnerOf(backend);
  return withScratch(backend, (s) => {
    const y = s.alloc([g.n, g.outH, g.outW, g.f]);
    const tiles = Math.ceil(g.f / 8);
    const packed = addr(backend, s.alloc([tiles * 8 * (g.kH * g.kW * g.c + 1)]));
    const biasAt = bias === undefined ? 0 : addr(backend, bias);
    r.k.pack_forward(addr(backend, filter), biasAt, g.kH, g.kW * g.c, g.f, packed);
    const at = writeGeometry(s, g);
    const xp = paddedInput(s, x, g);
    const args = [at, addr(backend, x), xp, packed, relu ? 1 : 0, addr(backend, y)];
    r.run(
      'conv_forward',
      byImages(r, g.n, () => args),
    );
    return s.keep(y);
  });
}

/** The filter gradient: [kH, kW, c, f] from x and dy. */
export function convFilterGrad(
  backend: BackendWasm,
  x: Info,
  dy: Info,
  attrs: ConvAttrs & { filterShape: Shape4 },
): Info {
  const g = geometry(x.shape as Shape4, attrs.filterShape, attrs);
  const r = runnerOf(backend);
  return withScratch(backend, (s) => {
    const dw = s.alloc([g.kH, g.kW, g.c, g.f]);
    const xp = paddedInput(s, x, g);
    const at = writeGeometry(s, g);
    // dy is read in place but for its last rows, which come from a copy padded to 8 filters.
    const tail = addr(backend, s.alloc([Math.max(1, r.k.filter_tail_size(at))]));
    r.k.fill_filter_tail(at, addr(backend, dy), tail);
    // An accumulator, a block of window offsets, and for narrow windows a block of windows.
    const acc = perThread(s, r, r.k.filter_acc_size(at));
    const offsets = perThread(s, r, r.k.chunk_pixels());
    const cols = perThread(s, r, r.k.cols_size(at));
    const args = (i: number) => [
      ...[at, addr(backend, x), xp, addr(backend, dy), tail],
      ...[acc(i), offsets(i), cols(i)],
    ];
    r.run('conv_filter_grad', byImages(r, g.n, args));
    r.k.sum_filter_grads(at, acc(0), r.threads, addr(backend, dw));
    return s.keep(dw);
  });
}

/** The input gradient: dx, of attrs.inputShape, from dy and the filter. */
export function convInputGrad(
  backend: BackendWasm,
  dy: Info,
  filter: Info,
  attrs: ConvAttrs & { inputShape: Shape4 },
): Info {
  const g = geometry(attrs.inputShape, filter.shape as Shape4, attrs);
  const r = runnerOf(backend);
  return withScratch(backend, (s) => {
    const dx = s.alloc([g.n, g.h, g.w, g.c]);
    const K = g.kW * g.c;
    const packed = addr(backend, s.alloc([g.kH * Math.ceil(K / 8) * 8 * g.f]));
    r.k.pack_input_grad(addr(backend, filter), g.kH, K, g.f, packed);
    const dxp = paddedInput(s, dx, g);
    const at = writeGeometry(s, g);
    const args = [at, addr(backend, dy), packed, dxp, addr(backend, dx)];
    r.run(
      'conv_input_grad',
      byImages(r, g.n, () => args),
    );
    return s.keep(dx);
  });
}

/** RELU_BIAS_GRAD (see src/models/optionalKernels.ts): [g, db] from dy and y. */
function reluBiasGrad(args: KernelArgs): Info[] {
  const backend = args.backend as BackendWasm;
  const { dy, y } = args.inputs as { dy: Info; y: Info };
  const { relu } = args.attrs as unknown as ReluAttrs;
  const same = dy.shape.length === y.shape.length && dy.shape.every((n, i) => n === y.shape[i]);
  if (!same || dy.dtype !== 'float32' || y.dtype !== 'float32') {
    throw new WasmKernelError(
      `${RELU_BIAS_GRAD} on wasm expected float32 dy and y of one shape, but got ${dy.dtype} ` +
        `[${dy.shape.join(', ')}] and ${y.dtype} [${y.shape.join(', ')}].`,
    );
  }
  const f = dy.shape[dy.shape.length - 1];
  const pixels = dy.shape.reduce((a, b) => a * b, 1) / f;
  const r = runnerOf(backend);
  const s = new Scratch(backend);
  try {
    // Without the ReLU the gradient passes through unchanged: g shares dy's data.
    const g = relu ? s.alloc(dy.shape) : dy;
    if (!relu) backend.incRef(dy.dataId);
    const db = s.alloc([f]);
    const sums = s.alloc([(r.threads * f * DOUBLE) / FLOAT]);
    const inputs = [addr(backend, dy), addr(backend, y), f, relu ? 1 : 0, addr(backend, g)];
    const perThread = (i: number) => [addr(backend, sums) + i * f * DOUBLE];
    r.run('relu_bias_grad', byPixels(r, pixels, inputs, perThread));
    const total = addParts(backend, sums, r.threads, f);
    new Float32Array(backend.wasm.HEAPU8.buffer, addr(backend, db), f).set(total);
    return [
      relu ? s.keep(g) : { dataId: dy.dataId, shape: dy.shape, dtype: 'float32' },
      s.keep(db),
    ];
  } finally {
    s.freeAll();
  }
}

type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap };

/** The stock kernel's result, for a forward call this file does not cover. */
function delegate(stock: tf.KernelConfig | undefined, kernel: string, args: KernelArgs): Info {
  if (stock === undefined) {
    throw new WasmKernelError(
      `${kernel} on wasm supports NHWC, float32, dilation 1 and a linear or ReLU activation; ` +
        'this call asks for something else, and the backend has no kernel of its own for it. ' +
        'Use the cpu backend for it.',
    );
  }
  return stock.kernelFunc(args as Parameters<tf.KernelFunc>[0]) as Info;
}

/** Gradients have no stock kernel to fall back on: say what is not supported. */
function checkGradient(kernel: string, attrs: ConvAttrs, tensors: Record<string, Info>): void {
  if (!supported(attrs)) {
    throw new WasmKernelError(
      `${kernel} on wasm expected dataFormat 'NHWC' and dilations 1, but got dataFormat ` +
        `'${attrs.dataFormat}' and dilations ${JSON.stringify(attrs.dilations ?? 1)}. ` +
        'Transpose the data to NHWC, or use the cpu backend.',
    );
  }
  for (const [name, t] of Object.entries(tensors)) {
    if (t.dtype !== 'float32') {
      throw new WasmKernelError(`${kernel} on wasm expected float32 ${name}, but got ${t.dtype}.`);
    }
  }
}

function makeConfigs(stock: Map<string, tf.KernelConfig | undefined>): tf.KernelConfig[] {
  const conv2D = (args: KernelArgs): Info => {
    const { x, filter } = args.inputs as { x: Info; filter: Info };
    const attrs = args.attrs as unknown as ConvAttrs;
    if (!supported(attrs) || x.dtype !== 'float32' || filter.dtype !== 'float32') {
      return delegate(stock.get('Conv2D'), 'Conv2D', args);
    }
    return convForward(args.backend as BackendWasm, x, filter, undefined, false, attrs);
  };
  const fusedConv2D = (args: KernelArgs): Info => {
    const { x, filter, bias, preluActivationWeights } = args.inputs as Record<string, Info>;
    const attrs = args.attrs as unknown as ConvAttrs & { activation: string };
    const plainBias =
      bias === undefined || (bias.shape.length === 1 && bias.shape[0] === filter.shape[3]);
    const ok =
      supported(attrs) &&
      plainBias &&
      preluActivationWeights === undefined &&
      (attrs.activation === 'linear' || attrs.activation === 'relu') &&
      [x, filter, bias].every((t) => t === undefined || t.dtype === 'float32');
    if (!ok) return delegate(stock.get('FusedConv2D'), 'FusedConv2D', args);
    return convForward(
      args.backend as BackendWasm,
      x,
      filter,
      bias,
      attrs.activation === 'relu',
      attrs,
    );
  };
  const backpropFilter = (args: KernelArgs): Info => {
    const { x, dy } = args.inputs as { x: Info; dy: Info };
    const attrs = args.attrs as unknown as ConvAttrs & { filterShape: Shape4 };
    checkGradient('Conv2DBackpropFilter', attrs, { x, dy });
    return convFilterGrad(args.backend as BackendWasm, x, dy, attrs);
  };
  const backpropInput = (args: KernelArgs): Info => {
    const { dy, filter } = args.inputs as { dy: Info; filter: Info };
    const attrs = args.attrs as unknown as ConvAttrs & { inputShape: Shape4 };
    checkGradient('Conv2DBackpropInput', attrs, { dy, filter });
    return convInputGrad(args.backend as BackendWasm, dy, filter, attrs);
  };
  const funcs: Record<string, (args: KernelArgs) => Info | Info[]> = {
    Conv2D: conv2D,
    FusedConv2D: fusedConv2D,
    Conv2DBackpropFilter: backpropFilter,
    Conv2DBackpropInput: backpropInput,
  };
  funcs[RELU_BIAS_GRAD] = reluBiasGrad;
  return Object.entries(funcs).map(([kernelName, f]) => ({
    kernelName,
    backendName: 'wasm',
    kernelFunc: f as tf.KernelFunc,
  }));
}

let registered: tf.KernelConfig[] | undefined;
let stockForward: Map<string, tf.KernelConfig | undefined> | undefined;

/**
 * Registers this file's Conv2D, FusedConv2D, Conv2DBackpropFilter and Conv2DBackpropInput on
 * the wasm backend; the stock forward kernels stay behind them for what these do not cover.
 * Safe to call more than once.
 */
export function registerWasmConvKernels(): void {
  if (
    registered !== undefined &&
    registered.every((c) => tf.getKernel(c.kernelName, 'wasm')?.kernelFunc === c.kernelFunc)
  ) {
    return;
  }
  // The package's own forward kernels, taken once: later they are this file's.
  stockForward ??= new Map(['Conv2D', 'FusedConv2D'].map((n) => [n, tf.getKernel(n, 'wasm')]));
  registered ??= makeConfigs(stockForward);
  for (const config of registered) {
    if (tf.getKernel(config.kernelName, 'wasm') !== undefined) {
      tf.unregisterKernel(config.kernelName, 'wasm');
    }
    tf.registerKernel(config);
  }
}
