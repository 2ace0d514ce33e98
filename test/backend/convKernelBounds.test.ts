import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { KERNEL_SOURCE_DIR } from '../../scripts/buildKernels';
import { assertClose } from '../helpers/assertClose';
import { randomValues } from '../helpers/randomValues';

/**
 * conv.c's filter gradient reads dy eight filters at a time, in place, whatever F is. These
 * tests run the plain SIMD build on a memory of its own, with dy as the memory's last bytes:
 * a read past dy's end is then out of bounds and traps, where inside the backend's heap it
 * would go unnoticed.
 */

const PAGE = 65536;

interface Exports {
  filter_acc_size(g: number): number;
  chunk_pixels(): number;
  cols_size(g: number): number;
  filter_tail_pixels(g: number): number;
  filter_tail_size(g: number): number;
  fill_filter_tail(g: number, dy: number, tail: number): void;
  conv_filter_grad(...args: number[]): void;
  sum_filter_grads(g: number, acc: number, parts: number, dw: number): void;
}

interface WasmApi {
  Memory: new (d: { initial: number }) => { buffer: ArrayBuffer };
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object, i: object) => { exports: object };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** A valid, stride-1 convolution of one image: x [1, h, h, c] -> dy [1, oh, oh, f]. */
function filterGradAtMemoryEnd(h: number, c: number, f: number, k: number) {
  const memory = new wasm.Memory({ initial: 2 });
  const bytes = fs.readFileSync(path.join(KERNEL_SOURCE_DIR, 'kernels-simd.wasm'));
  const instance = new wasm.Instance(new wasm.Module(bytes), { env: { memory } });
  const kernels = instance.exports as unknown as Exports;
  const ints = new Int32Array(memory.buffer);
  const floats = new Float32Array(memory.buffer);
  const oh = h - k + 1;
  let top = 64;
  const alloc = (numbers: number) => {
    const at = top;
    top += Math.ceil((numbers * 4) / 16) * 16 + 16;
    return at;
  };
  const g = alloc(15);
  ints.set([1, h, h, c, 0, 0, h, h, oh, oh, f, k, k, 1, 1], g / 4);
  const x = alloc(h * h * c + 4); // 3 numbers of slack past a window row, as the backend's xp
  floats.set(randomValues(h * h * c, 1), x / 4);
  const pixels = oh * oh;
  const dy = PAGE * 2 - pixels * f * 4; // dy ends where the memory ends
  floats.set(randomValues(pixels * f, 2), dy / 4);
  const tailCount = kernels.filter_tail_pixels(g);
  const tail = alloc(Math.max(1, kernels.filter_tail_size(g)));
  kernels.fill_filter_tail(g, dy, tail);
  const acc = alloc(kernels.filter_acc_size(g));
  const offsets = alloc(kernels.chunk_pixels());
  const cols = kernels.cols_size(g) === 0 ? 0 : alloc(kernels.cols_size(g));
  const dw = alloc(k * k * c * f);
  assert.ok(top <= dy, 'the scratch fits below dy');
  kernels.conv_filter_grad(g, x, x, dy, tail, acc, offsets, cols, 0, 1);
  kernels.sum_filter_grads(g, acc, 1, dw);

  // dw[ky, kx, ci, fo] = sum over output pixels of x[oy + ky, ox + kx, ci] * dy[oy, ox, fo]
  const want = new Float32Array(k * k * c * f);
  const xv = floats.subarray(x / 4);
  const dv = floats.subarray(dy / 4);
  for (let ky = 0; ky < k; ky++)
    for (let kx = 0; kx < k; kx++)
      for (let ci = 0; ci < c; ci++)
        for (let fo = 0; fo < f; fo++) {
          let sum = 0;
          for (let oy = 0; oy < oh; oy++)
            for (let ox = 0; ox < oh; ox++) {
              sum += xv[((oy + ky) * h + ox + kx) * c + ci] * dv[(oy * oh + ox) * f + fo];
            }
          want[((ky * k + kx) * c + ci) * f + fo] = sum;
        }
  return { got: floats.slice(dw / 4, dw / 4 + want.length), want, tailCount };
}

describe('conv.c filter gradient with dy at the end of memory', () => {
  // F of 1 and 3 leave several pixels whose reads would pass dy's end (with F = 1 all four of
  // them); 10 one; 8 and 16 none.
  for (const [h, c, f, k] of [
    [4, 2, 1, 3],
    [5, 3, 3, 3],
    [6, 4, 10, 3],
    [5, 16, 8, 1],
    [4, 3, 16, 2],
  ]) {
    it(`reads no further than dy for x [1, ${h}, ${h}, ${c}], ${k}x${k} -> ${f}`, () => {
      const { got, want, tailCount } = filterGradAtMemoryEnd(h, c, f, k);
      // The pixels within FP - F numbers of dy's end, or all of them if there are fewer.
      const pixels = (h - k + 1) ** 2;
      const past = Math.ceil(f / 8) * 8 - f;
      assert.equal(tailCount, Math.min(pixels, Math.ceil(past / f)));
      assertClose(got, want, { what: 'dw' });
    });
  }
});
