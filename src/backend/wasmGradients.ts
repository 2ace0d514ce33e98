import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { registerWasmIdentityKernel } from './wasmIdentity';
import { registerWasmReductionKernels } from './wasmReductions';

/**
 * Convolution gradients for the wasm backend, computed by its fast forward convolution.
 *
 * The stock wasm backend of TensorFlow.js 4.22 has no Conv2DBackpropFilter kernel, so no
 * convnet trains on it, and its Conv2DBackpropInput is plain scalar loops, while its forward
 * Conv2D runs XNNPACK's SIMD convolution. Both gradients here are rewritten as forward
 * convolutions; the data movement around them (transposes, padding, interleaving) is done in
 * JavaScript directly on the wasm heap, which is several times faster than the backend's own
 * Transpose kernel.
 *
 * Only NHWC, dilation 1 and float32 are supported, as in the models; anything else throws.
 */

/** A tensor as a kernel sees it: a handle into the backend's storage and its shape. */
type Info = tf.TensorInfo;
type Shape4 = [number, number, number, number];
type ExplicitPads = [[number, number], [number, number], [number, number], [number, number]];

/** Thrown when a gradient kernel is asked for something it does not implement. */
export class WasmGradientError extends Error {
  override name = 'WasmGradientError';
}

/** Forward geometry, NHWC: x [batch, inH, inW, inC] -> y [batch, outH, outW, outC]. */
interface ConvGeometry {
  batch: number;
  inH: number;
  inW: number;
  inC: number;
  outH: number;
  outW: number;
  outC: number;
  kH: number;
  kW: number;
  strideH: number;
  strideW: number;
  /** Zero rows above and columns left of x in the forward pass; all that the gradients need. */
  padTop: number;
  padLeft: number;
}

interface ConvAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
}

function geometry(kernel: string, xShape: Shape4, filterShape: Shape4, attrs: ConvAttrs) {
  if (attrs.dataFormat !== undefined && attrs.dataFormat !== 'NHWC') {
    throw new WasmGradientError(
      `${kernel} on wasm expected dataFormat 'NHWC', but got '${attrs.dataFormat}'. ` +
        'Transpose the data to NHWC, or use the cpu backend.',
    );
  }
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
  const g: ConvGeometry = {
    batch: info.batchSize,
    inH: info.inHeight,
    inW: info.inWidth,
    inC: info.inChannels,
    outH: info.outHeight,
    outW: info.outWidth,
    outC: info.outChannels,
    kH: info.filterHeight,
    kW: info.filterWidth,
    strideH: info.strideHeight,
    strideW: info.strideWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
  return g;
}

function checkDy(kernel: string, dy: Info, g: ConvGeometry): void {
  const want = [g.batch, g.outH, g.outW, g.outC];
  if (dy.shape.length !== 4 || want.some((n, i) => dy.shape[i] !== n)) {
    throw new WasmGradientError(
      `${kernel} on wasm expected dy of shape [${want.join(', ')}] (the forward output), but ` +
        `got [${dy.shape.join(', ')}]. Check the strides and padding passed with it.`,
    );
  }
  if (dy.dtype !== 'float32') {
    throw new WasmGradientError(`${kernel} on wasm expected float32 dy, but got ${dy.dtype}.`);
  }
}

/** Scratch tensors of one kernel call, freed together however the call ends. */
class Scratch {
  private readonly owned: Info[] = [];
  constructor(readonly backend: BackendWasm) {}

  /** A new float32 tensor on the wasm heap; its contents are garbage until written. */
  alloc(shape: number[]): Info {
    const t = this.backend.makeOutput(shape, 'float32');
    this.owned.push(t);
    return t;
  }

  /** Hands `t` to the caller: it outlives this scratch space. */
  keep(t: Info): Info {
    const i = this.owned.indexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    return t;
  }

  /** Frees `t` now rather than at the end of the call. */
  free(t: Info): void {
    const i = this.owned.indexOf(t);
    if (i >= 0) this.owned.splice(i, 1);
    this.backend.disposeData(t.dataId);
  }

  freeAll(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }

  /**
   * The heap as float32, with `t`'s first element at index `offset(t)`. Fetch it after the
   * last allocation: growing wasm memory detaches earlier views.
   */
  heap(): Float32Array {
    return new Float32Array(this.backend.wasm.HEAPU8.buffer);
  }

  offset(t: Info): number {
    return this.backend.dataIdMap.get(t.dataId)!.memoryOffset / 4;
  }

  /** The backend's own forward convolution (XNNPACK), stride 1, NHWC; the result is owned. */
  conv(x: Info, filter: Info, dilations: [number, number], pad: 'valid' | ExplicitPads): Info {
    const out = conv2dKernel()({
      inputs: { x, filter },
      backend: this.backend,
      attrs: { strides: 1, pad, dataFormat: 'NHWC', dilations },
    }) as Info;
    this.owned.push(out);
    return out;
  }
}

function conv2dKernel(): tf.KernelFunc {
  const config = tf.getKernel('Conv2D', 'wasm');
  if (config === undefined) {
    throw new WasmGradientError(
      "Expected the wasm backend's Conv2D kernel to be registered, but it is not. " +
        "Import '@tensorflow/tfjs-backend-wasm' before training on wasm.",
    );
  }
  return config.kernelFunc;
}

function withScratch(backend: BackendWasm, body: (s: Scratch) => Info): Info {
  const s = new Scratch(backend);
  try {
    return body(s);
  } finally {
    s.freeAll();
  }
}

/**
 * dL/dx of y = conv2d(x, w): dx [batch, inH, inW, inC] from dy [batch, outH, outW, outC] and
 * w [kH, kW, inC, outC].
 *
 * With stride s, input row r = s*m + p (phase p in [0, s)) receives only the kernel rows
 * k = p + s*t, from output rows m - t. So each phase (p, q) is a stride-1 correlation of dy
 * with a small spatially flipped, in/out-transposed sub-kernel [T_p, T_q, outC, inC], and
 * the phases interleave into dx. For stride 1 this is one convolution with no interleaving;
 * for stride 2 and a 3x3 kernel, four with kernels 2x2, 2x1, 1x2 and 1x1, which together do
 * exactly the forward pass's multiply-adds (zero-upsampling dy instead would do four times
 * as many).
 */
function conv2DBackpropInput(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): Info {
  const backend = args.backend as BackendWasm;
  const { dy, filter } = args.inputs as { dy: Info; filter: Info };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropInputAttrs;
  const name = 'Conv2DBackpropInput';
  const g = geometry(name, attrs.inputShape, filter.shape as Shape4, attrs);
  checkDy(name, dy, g);
  const { batch, inH, inW, inC, outH, outW, kH, kW, strideH: sH, strideW: sW } = g;

  return withScratch(backend, (s) => {
    const phasesH = phases(kH, sH, g.padTop, inH, outH);
    const phasesW = phases(kW, sW, g.padLeft, inW, outW);
    if (sH === 1 && sW === 1) {
      // One phase whose output is dx itself: no interleaving needed.
      const out = phaseConv(s, dy, filter, g, phasesH[0], phasesW[0]);
      return s.keep(out);
    }
    const dx = s.alloc([batch, inH, inW, inC]);
    const uncovered = [...phasesH, ...phasesW].some((p) => p.taps === 0);
    if (uncovered) {
      // A stride larger than the kernel skips some input rows: their gradient is zero.
      const at = s.offset(dx);
      s.heap().fill(0, at, at + batch * inH * inW * inC);
    }
    for (const ph of phasesH) {
      for (const pw of phasesW) {
        if (ph.count === 0 || pw.count === 0 || ph.taps === 0 || pw.taps === 0) continue;
        const out = phaseConv(s, dy, filter, g, ph, pw); // [batch, ph.count, pw.count, inC]
        // Output index i of this phase is input row sH * (first + i) + phase - padTop.
        const row0 = sH * ph.first + ph.phase - g.padTop;
        const col0 = sW * pw.first + pw.phase - g.padLeft;
        interleave(
          s.heap(),
          s.offset(out),
          s.offset(dx),
          batch,
          ph.count,
          pw.count,
          inH,
          inW,
          inC,
          sH,
          sW,
          row0,
          col0,
        );
        s.free(out);
      }
    }
    return s.keep(dx);
  });
}

/** One phase of the input gradient along one spatial axis; see conv2DBackpropInput. */
interface Phase {
  /** p: the input rows r = s*m + p of the zero-padded input belong to this phase. */
  phase: number;
  /** Kernel taps that reach these rows: k = p + s*t for t < taps. */
  taps: number;
  /** m of the first padded-input row that lies inside the real input. */
  first: number;
  /** How many rows of the real input the phase covers. */
  count: number;
  /** Zero rows of dy needed before and after it (negative: rows of dy to drop). */
  padBefore: number;
  padAfter: number;
}

function phases(k: number, s: number, padTop: number, inSize: number, outSize: number) {
  const list: Phase[] = [];
  for (let p = 0; p < s; p++) {
    const taps = Math.max(0, Math.ceil((k - p) / s));
    const first = Math.ceil((padTop - p) / s);
    const last = Math.floor((inSize - 1 + padTop - p) / s);
    const count = Math.max(0, last - first + 1);
    // Output m of the phase sums dy[first + m - t] * w[p + s*t] over t: a correlation with
    // the flipped taps over dy shifted by first - (taps - 1).
    const padBefore = taps - 1 - first;
    const padAfter = count + taps - 1 - padBefore - outSize;
    list.push({ phase: p, taps, first, count, padBefore, padAfter });
  }
  return list;
}

/**
 * Copies one phase's output [batch, rows, cols, c] (at `src`) into every sH-th row from `row0`
 * and every sW-th column from `col0` of dx [batch, inH, inW, c] (at `dst`).
 *
 * The hot loops of this file are plain functions of numbers: V8 compiles them to tight code,
 * which it does not do for the same loops inside closures.
 */
function interleave(
  heap: Float32Array,
  src: number,
  dst: number,
  batch: number,
  rows: number,
  cols: number,
  inH: number,
  inW: number,
  c: number,
  sH: number,
  sW: number,
  row0: number,
  col0: number,
): void {
  const step = sW * c;
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < rows; i++) {
      let to = dst + ((b * inH + row0 + sH * i) * inW + col0) * c;
      for (let j = 0; j < cols; j++) {
        for (let k = 0; k < c; k++) heap[to + k] = heap[src + k];
        src += c;
        to += step;
      }
    }
  }
}

/** The correlation of one (row, column) phase: [batch, ph.count, pw.count, inC]. */
function phaseConv(s: Scratch, dy: Info, filter: Info, g: ConvGeometry, ph: Phase, pw: Phase) {
  const { inC, outC, kW, strideH: sH, strideW: sW } = g;
  // Sub-kernel [ph.taps, pw.taps, outC, inC]: w flipped in space, in and out swapped.
  const sub = s.alloc([ph.taps, pw.taps, outC, inC]);
  const heap = s.heap();
  const w0 = s.offset(filter); // [kH, kW, inC, outC]
  let dst = s.offset(sub);
  for (let u = 0; u < ph.taps; u++) {
    const kh = ph.phase + sH * (ph.taps - 1 - u);
    for (let v = 0; v < pw.taps; v++) {
      const kw = pw.phase + sW * (pw.taps - 1 - v);
      const tap = w0 + (kh * kW + kw) * inC * outC;
      for (let co = 0; co < outC; co++) {
        for (let ci = 0; ci < inC; ci++) heap[dst++] = heap[tap + ci * outC + co];
      }
    }
  }
  let input = dy;
  let pad: 'valid' | ExplicitPads = [
    [0, 0],
    [ph.padBefore, ph.padAfter],
    [pw.padBefore, pw.padAfter],
    [0, 0],
  ];
  if (Math.min(ph.padBefore, ph.padAfter, pw.padBefore, pw.padAfter) < 0) {
    // Padding wider than the kernel leaves rows of dy that reach no input: XNNPACK takes no
    // negative padding, so copy the window of dy that is used, zero-padded.
    input = window(s, dy, ph, pw);
    pad = 'valid';
  }
  const out = s.conv(input, sub, [1, 1], pad);
  if (input !== dy) s.free(input);
  s.free(sub);
  return out;
}

/** dy [b, outH, outW, c] cut and zero-padded to rows -padBefore .. outH + padAfter - 1. */
function window(s: Scratch, dy: Info, ph: Phase, pw: Phase): Info {
  const [batch, outH, outW, c] = dy.shape;
  const h = ph.padBefore + outH + ph.padAfter;
  const w = pw.padBefore + outW + pw.padAfter;
  const win = s.alloc([batch, h, w, c]);
  const heap = s.heap();
  const src0 = s.offset(dy);
  const dst0 = s.offset(win);
  heap.fill(0, dst0, dst0 + batch * h * w * c);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < h; r++) {
      const sr = r - ph.padBefore;
      if (sr < 0 || sr >= outH) continue;
      for (let q = 0; q < w; q++) {
        const sq = q - pw.padBefore;
        if (sq < 0 || sq >= outW) continue;
        const from = src0 + ((b * outH + sr) * outW + sq) * c;
        heap.copyWithin(dst0 + ((b * h + r) * w + q) * c, from, from + c);
      }
    }
  }
  return win;
}

/**
 * dL/dw of y = conv2d(x, w): dw [kH, kW, inC, outC] from x [batch, inH, inW, inC] and
 * dy [batch, outH, outW, outC].
 *
 * dw[kh, kw, ci, co] = sum over b, i, j of xPadded[b, s*i + kh, s*j + kw, ci] * dy[b, i, j, co],
 * which is a forward convolution of x transposed to [inC, rows, cols, batch] (inC as the batch,
 * the batch as channels) with dy transposed to [outH, outW, batch, outC] as the kernel,
 * dilated by the stride. Its output [inC, kH, kW, outC] is transposed back. The transpose of x
 * also applies the forward padding, and keeps just the (outH - 1) * s + kH rows the kernel
 * reads, so the convolution is 'valid' and comes out exactly kH x kW.
 */
function conv2DBackpropFilter(args: {
  inputs: tf.NamedTensorInfoMap;
  backend: unknown;
  attrs?: tf.NamedAttrMap;
}): Info {
  const backend = args.backend as BackendWasm;
  const { x, dy } = args.inputs as { x: Info; dy: Info };
  const attrs = args.attrs as unknown as tf.Conv2DBackpropFilterAttrs;
  const name = 'Conv2DBackpropFilter';
  if (x.dtype !== 'float32') {
    throw new WasmGradientError(`${name} on wasm expected float32 x, but got ${x.dtype}.`);
  }
  const g = geometry(name, x.shape as Shape4, attrs.filterShape, attrs);
  checkDy(name, dy, g);
  const { batch, inH, inW, inC, outH, outW, outC, kH, kW, strideH: sH, strideW: sW } = g;
  const rows = (outH - 1) * sH + kH;
  const cols = (outW - 1) * sW + kW;

  return withScratch(backend, (s) => {
    const dw = s.alloc([kH, kW, inC, outC]);
    for (let b0 = 0; b0 < batch; b0 += FILTER_GRAD_CHUNK) {
      const nb = Math.min(FILTER_GRAD_CHUNK, batch - b0);
      const xT = s.alloc([inC, rows, cols, nb]);
      // A fresh kernel tensor each chunk: the backend caches XNNPACK operators (with the
      // kernel packed inside) by the kernel's tensor id.
      const dyT = s.alloc([outH, outW, nb, outC]);
      const heap = s.heap();
      transposeX(
        heap,
        s.offset(x),
        s.offset(xT),
        b0,
        nb,
        inH,
        inW,
        inC,
        rows,
        cols,
        g.padTop,
        g.padLeft,
      );
      transposeDy(heap, s.offset(dy), s.offset(dyT), b0, nb, outH * outW, outC);
      const out = s.conv(xT, dyT, [sH, sW], 'valid'); // [inC, kH, kW, outC]
      s.free(xT);
      s.free(dyT);
      addFilter(s.heap(), s.offset(out), s.offset(dw), inC, kH * kW, outC, b0 > 0);
      s.free(out);
    }
    return s.keep(dw);
  });
}

/**
 * Batch entries per filter-gradient convolution. The convolution sums over outH * outW * chunk
 * products per output; XNNPACK streams that whole reduction through cache for each small tile
 * of outputs, so splitting the batch and adding the partial gradients is faster once the
 * reduction is long (measured at batch 256 on the lesson's layers).
 */
const FILTER_GRAD_CHUNK = 64;

/**
 * x [batch, inH, inW, c] (at `x0`), entries b0 .. b0 + nb, to xT [c, rows, cols, nb] (at `t0`)
 * with the forward padding as zeros. The batch is innermost on the write side: each (row, col)
 * reads nb pixels, which stay in cache while every channel is written.
 */
function transposeX(
  heap: Float32Array,
  x0: number,
  t0: number,
  b0: number,
  nb: number,
  inH: number,
  inW: number,
  c: number,
  rows: number,
  cols: number,
  padTop: number,
  padLeft: number,
): void {
  const plane = rows * cols * nb;
  const image = inH * inW * c;
  for (let r = 0; r < rows; r++) {
    const sr = r - padTop;
    for (let q = 0; q < cols; q++) {
      const sq = q - padLeft;
      const dst = t0 + (r * cols + q) * nb;
      if (sr < 0 || sr >= inH || sq < 0 || sq >= inW) {
        for (let k = 0; k < c; k++) heap.fill(0, dst + k * plane, dst + k * plane + nb);
        continue;
      }
      const src = x0 + b0 * image + (sr * inW + sq) * c;
      for (let k = 0; k < c; k++) {
        const d = dst + k * plane;
        let from = src + k;
        for (let b = 0; b < nb; b++) {
          heap[d + b] = heap[from];
          from += image;
        }
      }
    }
  }
}

/** dy [batch, pixels, c] (at `dy0`), entries b0 .. b0 + nb, to [pixels, nb, c] (at `t0`). */
function transposeDy(
  heap: Float32Array,
  dy0: number,
  t0: number,
  b0: number,
  nb: number,
  pixels: number,
  c: number,
): void {
  const image = pixels * c;
  for (let p = 0; p < pixels; p++) {
    let dst = t0 + p * nb * c;
    let src = dy0 + b0 * image + p * c;
    for (let b = 0; b < nb; b++) {
      for (let k = 0; k < c; k++) heap[dst + k] = heap[src + k];
      dst += c;
      src += image;
    }
  }
}

/** out [inC, taps, outC] (at `out0`) written, or added, into dw [taps, inC, outC] (at `dw0`). */
function addFilter(
  heap: Float32Array,
  out0: number,
  dw0: number,
  inC: number,
  taps: number,
  outC: number,
  add: boolean,
): void {
  for (let ci = 0; ci < inC; ci++) {
    for (let t = 0; t < taps; t++) {
      const from = out0 + (ci * taps + t) * outC;
      const to = dw0 + (t * inC + ci) * outC;
      if (add) {
        for (let co = 0; co < outC; co++) heap[to + co] += heap[from + co];
      } else {
        for (let co = 0; co < outC; co++) heap[to + co] = heap[from + co];
      }
    }
  }
}

const backpropInputConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropInput',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropInput as tf.KernelFunc,
};

const backpropFilterConfig: tf.KernelConfig = {
  kernelName: 'Conv2DBackpropFilter',
  backendName: 'wasm',
  kernelFunc: conv2DBackpropFilter as tf.KernelFunc,
};

/**
 * Registers the kernels training needs on the wasm backend: this module's Conv2DBackpropFilter
 * and Conv2DBackpropInput (replacing the stock one), the leading-axes Sum and Mean of
 * ./wasmReductions that every bias and batch-statistics gradient runs through, and the
 * sharing Identity of ./wasmIdentity that saves tensors for the backward pass without a copy.
 * Safe to call more than once; call it once the wasm backend is registered, before the first
 * gradient.
 */
export function registerWasmGradientKernels(): void {
  registerWasmReductionKernels();
  registerWasmIdentityKernel();
  for (const config of [backpropInputConfig, backpropFilterConfig]) {
    const current = tf.getKernel(config.kernelName, 'wasm');
    if (current?.kernelFunc === config.kernelFunc) continue;
    if (current !== undefined) tf.unregisterKernel(config.kernelName, 'wasm');
    tf.registerKernel(config);
  }
}
