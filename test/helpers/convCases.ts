import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { randomValues } from './randomValues';

// The cpu backend's gradient kernels are the reference. Float32 sums of up to a few hundred
// products differ with the order of summation, so the tolerance is relative to the largest
// gradient entry: |wasm - cpu| <= 1e-4 * max(1, max |cpu|).
export const RELATIVE_TOLERANCE = 1e-4;

/** Explicit padding wider than the kernel and different on every side. */
export const UNEVEN_PAD: tf.backend_util.ExplicitPadding = [
  [0, 0],
  [4, 1],
  [2, 5],
  [0, 0],
];

export type Pad = 'same' | 'valid' | number | tf.backend_util.ExplicitPadding;

export interface Case {
  batch: number;
  h: number;
  w: number;
  inC: number;
  outC: number;
  k: number;
  strides: number | [number, number];
  pad: Pad;
}

/** What a convolution case computes on the current backend, as plain arrays. */
export interface ConvResults {
  /** conv2d(x, w) */
  y: Float32Array;
  /** relu(conv2d(x, w) + b), the fused op */
  fused: Float32Array;
  /** dL/dx and dL/dw of L = sum(conv2d(x, w) * r) */
  dx: Float32Array;
  dw: Float32Array;
}

/** Runs case `c` with inputs drawn from `seed` on the current backend. */
export function convResults(c: Case, seed: number): ConvResults {
  return tf.tidy(() => {
    const xShape: [number, number, number, number] = [c.batch, c.h, c.w, c.inC];
    const wShape: [number, number, number, number] = [c.k, c.k, c.inC, c.outC];
    const x = tf.tensor4d(
      randomValues(
        xShape.reduce((a, b) => a * b),
        seed,
      ),
      xShape,
    );
    const w = tf.tensor4d(
      randomValues(
        wShape.reduce((a, b) => a * b),
        seed + 1,
      ),
      wShape,
    );
    const yShape = tf.conv2d(x, w, c.strides, c.pad).shape;
    const r = tf.tensor(
      randomValues(
        yShape.reduce((a, b) => a * b),
        seed + 2,
      ),
      yShape,
    );
    const f = (xx: tf.Tensor, ww: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad), r));
    const [dx, dw] = tf.grads(f)([x, w]);
    const b = tf.tensor1d(randomValues(c.outC, seed + 3));
    const fused = tf.fused.conv2d({
      x,
      filter: w,
      strides: c.strides,
      pad: c.pad,
      bias: b,
      activation: 'relu',
    });
    const y = tf.conv2d(x, w, c.strides, c.pad);
    const arrays = [y, fused, dx, dw].map((t) => t.dataSync() as Float32Array);
    return { y: arrays[0], fused: arrays[1], dx: arrays[2], dw: arrays[3] };
  });
}

export function assertClose(got: Float32Array, want: Float32Array, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  let scale = 1;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  assert.ok(
    worst <= RELATIVE_TOLERANCE * scale,
    `${what}: max |wasm - cpu| = ${worst} exceeds ${RELATIVE_TOLERANCE} * ${scale}`,
  );
}

export function describeCase(c: Case): string {
  const pad = typeof c.pad === 'object' ? JSON.stringify(c.pad) : String(c.pad);
  return (
    `x [${c.batch}, ${c.h}, ${c.w}, ${c.inC}], ${c.k}x${c.k} -> ${c.outC}, ` +
    `strides ${JSON.stringify(c.strides)}, pad ${pad}`
  );
}

/** The shapes the lesson's models use, plus odd sizes, even sizes and every padding kind. */
export function cases(): Case[] {
  const list: Case[] = [];
  const channels: [number, number][] = [
    [1, 2],
    [3, 4],
    [5, 3],
    [16, 8],
  ];
  const pads: Pad[] = [
    'same',
    'valid',
    1,
    [
      [0, 0],
      [2, 0],
      [1, 2],
      [0, 0],
    ],
  ];
  const sizes: [number, number][] = [
    [7, 7],
    [8, 8],
    [9, 6],
  ];
  let i = 0;
  for (const strides of [1, 2]) {
    for (const pad of pads) {
      for (const [h, w] of sizes) {
        for (const k of [3, 5]) {
          const [inC, outC] = channels[i % channels.length];
          list.push({ batch: 1 + (i % 3), h, w, inC, outC, k, strides, pad });
          i++;
        }
      }
    }
  }
  // Padding wider than the kernel, unequal strides, and a stride larger than a 1x1 kernel.
  list.push({
    batch: 2,
    h: 5,
    w: 5,
    inC: 2,
    outC: 3,
    k: 3,
    strides: 1,
    pad: [
      [0, 0],
      [4, 0],
      [0, 3],
      [0, 0],
    ],
  });
  list.push({
    batch: 2,
    h: 5,
    w: 6,
    inC: 2,
    outC: 3,
    k: 3,
    strides: 2,
    pad: UNEVEN_PAD,
  });
  list.push({ batch: 2, h: 9, w: 8, inC: 3, outC: 5, k: 3, strides: [2, 1], pad: 'same' });
  list.push({ batch: 3, h: 8, w: 7, inC: 4, outC: 2, k: 1, strides: 2, pad: 'valid' });
  // The models' own layers, at a small batch.
  list.push({ batch: 4, h: 32, w: 32, inC: 3, outC: 10, k: 5, strides: 1, pad: 'same' });
  list.push({ batch: 4, h: 32, w: 32, inC: 3, outC: 20, k: 3, strides: 2, pad: 'valid' });
  list.push({ batch: 4, h: 16, w: 16, inC: 20, outC: 40, k: 3, strides: 2, pad: 1 });
  list.push({ batch: 4, h: 4, w: 4, inC: 80, outC: 160, k: 3, strides: 1, pad: 1 });
  return list;
}

/** Checks every output of `got` against `want` (the cpu backend's). */
export function assertSameResults(got: ConvResults, want: ConvResults): void {
  for (const key of ['y', 'fused', 'dx', 'dw'] as const) assertClose(got[key], want[key], key);
}
