import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type * as tf from '@tensorflow/tfjs';
import { getThreadsCount, type BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { KernelPool, type Kernels } from './kernelPool';
import { KERNEL_BUILDS, type KernelBuild } from './kernelBuilds';

/**
 * The wasm module of ./kernels (conv.c, channels.c) on a wasm backend: which build loads,
 * how it shares the backend's memory, the threads that run it, and scratch space on the heap.
 *
 * The module imports the backend's own WebAssembly.Memory, so its functions take tensors by
 * their heap address and work on them in place. On the threaded backend (a shared memory) a
 * pool of worker threads instantiates it on the same heap (./kernelPool), and a kernel call
 * hands each thread its part.
 */

type Info = tf.TensorInfo;

/** Thrown when a wasm kernel cannot run, or is asked for something it does not implement. */
export class WasmKernelError extends Error {
  override name = 'WasmKernelError';
}

/** The members of the WebAssembly JS API used here, which @types/node 20 does not declare. */
export interface WasmMemory {
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
}
interface WasmApi {
  Memory: abstract new () => WasmMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: object };
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** The functions of ./kernels; every pointer is a byte address in the backend's heap. */
export type KernelName =
  | 'cols_size'
  | 'chunk_pixels'
  | 'filter_acc_size'
  | 'filter_tail_size'
  | 'fill_filter_tail'
  | 'pack_forward'
  | 'conv_forward'
  | 'conv_filter_grad'
  | 'sum_filter_grads'
  | 'pack_input_grad'
  | 'conv_input_grad'
  | 'relu_bias_grad'
  | 'global_max_pool'
  | 'global_max_pool_grad'
  | 'bn_sum'
  | 'bn_sum_squares'
  | 'bn_apply'
  | 'bn_grad_sums'
  | 'bn_grad_apply';
export type KernelExports = Record<KernelName, (...args: number[]) => number>;

/** The part of the Emscripten module this file uses. */
interface EmscriptenHeap {
  HEAPU8: Uint8Array;
  wasmMemory?: WasmMemory;
  asm?: { memory?: WasmMemory };
}

/** The backend's memory: the threaded build keeps it on the module, the plain one exports it. */
export function backendMemory(backend: BackendWasm): WasmMemory {
  const module = backend.wasm as unknown as EmscriptenHeap;
  const memory = module.wasmMemory ?? module.asm?.memory;
  if (!(memory instanceof wasmApi.Memory)) {
    throw new WasmKernelError(
      "Expected the wasm backend's module to expose its WebAssembly.Memory (as wasmMemory or " +
        'asm.memory), but it does not. This version of @tensorflow/tfjs-backend-wasm is not ' +
        'supported for training; use 4.22.0.',
    );
  }
  return memory;
}

// From dist/src/backend, where this file runs, to the binaries beside their C sources.
const KERNEL_DIR = path.resolve(__dirname, '..', '..', '..', 'src', 'backend', 'kernels');

function kernelBytes(build: KernelBuild): Uint8Array {
  return fs.readFileSync(path.join(KERNEL_DIR, build.file));
}

/**
 * Which build runs: 'auto' takes relaxed SIMD where the runtime has it. The environment
 * variable CIFAR_NETS_RELAXED_SIMD=0 starts with 'simd' (to compare, or if it misbehaves).
 */
export type KernelSimd = 'auto' | 'simd' | 'relaxed';
let choice: KernelSimd = process.env.CIFAR_NETS_RELAXED_SIMD === '0' ? 'simd' : 'auto';
let relaxed: boolean | undefined;

/**
 * Chooses the build of the kernels for backends that start using them from now on (each
 * backend keeps the one it started with). 'relaxed' throws where the runtime lacks it.
 */
export function setKernelSimd(simd: KernelSimd): void {
  if (simd === 'relaxed' && !relaxedSimdAvailable()) {
    throw new WasmKernelError(
      'Relaxed SIMD was asked for, but this JavaScript runtime cannot compile it. Use Node.js ' +
        "20 or later, or 'auto'.",
    );
  }
  choice = simd;
  for (const close of poolClosers.splice(0)) close();
  runners = new WeakMap();
}

/**
 * Whether this runtime compiles relaxed SIMD (the fused multiply-add). Node 22 and later do;
 * Node 20's V8 has it behind --experimental-wasm-relaxed-simd, which is switched on here if
 * needed.
 */
function relaxedSimdAvailable(): boolean {
  if (relaxed !== undefined) return relaxed;
  const probe = kernelBytes(KERNEL_BUILDS.find((b) => b.relaxed && !b.shared)!);
  if (!wasmApi.validate(probe)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return (relaxed = wasmApi.validate(probe));
}

const modules = new Map<string, object>();

/** The compiled kernels for `memory`: the shared-memory build on the threaded backend. */
function compiled(memory: WasmMemory): object {
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const wanted = choice === 'relaxed' || (choice === 'auto' && relaxedSimdAvailable());
  const build = KERNEL_BUILDS.find((b) => b.shared === shared && b.relaxed === wanted)!;
  let module = modules.get(build.file);
  if (module === undefined) {
    module = new wasmApi.Module(kernelBytes(build));
    modules.set(build.file, module);
  }
  return module;
}

function instantiate(memory: WasmMemory): KernelExports {
  const instance = new wasmApi.Instance(compiled(memory), { env: { memory } });
  return instance.exports as KernelExports;
}

/** The kernels of one backend, and the threads that run them. */
export interface Runner {
  /** The functions, to call on this thread. */
  k: KernelExports;
  threads: number;
  /** Runs a kernel with parts[i] as thread i's arguments (nothing where undefined). */
  run(name: KernelName, parts: (number[] | undefined)[]): void;
}

/** Threads for the kernels of a threaded backend, as its creator set them (see wasmThreads). */
const poolSizes = new WeakMap<BackendWasm, number>();

/** Makes this package's kernels run on `threads` threads on `backend` (a shared memory). */
export function setKernelThreads(backend: BackendWasm, threads: number): void {
  poolSizes.set(backend, threads);
}

function makeRunner(backend: BackendWasm): Runner {
  const memory = backendMemory(backend);
  const k = instantiate(memory);
  const shared = memory.buffer instanceof SharedArrayBuffer;
  const threads = shared ? (poolSizes.get(backend) ?? getThreadsCount()) : 1;
  if (threads === 1) {
    return { k, threads, run: (name, parts) => k[name](...parts[0]!) };
  }
  const pool = new KernelPool(compiled(memory), memory, k as unknown as Kernels, threads);
  poolClosers.push(() => void pool.close());
  return { k, threads, run: (name, parts) => pool.run(name, parts) };
}

export const FLOAT = 4;
export const DOUBLE = 8;

/** Heap allocations of one kernel call, freed together however the call ends. */
export class Scratch {
  private readonly owned: Info[] = [];
  constructor(readonly backend: BackendWasm) {}

  /** A tensor (or plain scratch, shape [size]); contents undefined until written. */
  alloc(shape: number[], dtype: 'float32' | 'int32' = 'float32'): Info {
    const t = this.backend.makeOutput(shape, dtype);
    this.owned.push(t);
    return t;
  }

  /** Hands `t` to the caller: it outlives this call. */
  keep(t: Info): Info {
    this.owned.splice(this.owned.indexOf(t), 1);
    return t;
  }

  freeAll(): void {
    for (const t of this.owned) this.backend.disposeData(t.dataId);
    this.owned.length = 0;
  }
}

export function withScratch(backend: BackendWasm, body: (s: Scratch) => Info): Info {
  const s = new Scratch(backend);
  try {
    return body(s);
  } finally {
    s.freeAll();
  }
}

/** Byte address of a tensor's data in the heap. */
export function addr(backend: BackendWasm, t: Info): number {
  return backend.dataIdMap.get(t.dataId)!.memoryOffset;
}

let runners = new WeakMap<BackendWasm, Runner>();
/** Stops the pools of the runners above, when setKernelSimd replaces them. */
const poolClosers: (() => void)[] = [];

export function runnerOf(backend: BackendWasm): Runner {
  let r = runners.get(backend);
  if (r === undefined) {
    r = makeRunner(backend);
    runners.set(backend, r);
  }
  return r;
}

/** [p0, p1) of `pixels` for each of the runner's threads. */
export function byPixels(r: Runner, pixels: number, args: number[], tail: (i: number) => number[]) {
  return Array.from({ length: r.threads }, (_, i) => [
    ...args,
    ...tail(i),
    Math.round((pixels * i) / r.threads),
    Math.round((pixels * (i + 1)) / r.threads),
  ]);
}

/** The sum over threads of `parts` blocks of `length` doubles, as numbers. */
export function addParts(
  backend: BackendWasm,
  t: Info,
  parts: number,
  length: number,
): Float64Array {
  const all = new Float64Array(backend.wasm.HEAPU8.buffer, addr(backend, t), parts * length);
  const sum = new Float64Array(length);
  for (let i = 0; i < parts; i++) {
    for (let j = 0; j < length; j++) sum[j] += all[i * length + j];
  }
  return sum;
}

/** Each thread's arguments, args(i), then its images [n0, n1) of `images`. */
export function byImages(r: Runner, images: number, args: (i: number) => number[]): number[][] {
  return Array.from({ length: r.threads }, (_, i) => [
    ...args(i),
    Math.round((images * i) / r.threads),
    Math.round((images * (i + 1)) / r.threads),
  ]);
}

/** The threads this package's kernels run on, on `backend`. */
export function kernelThreads(backend: BackendWasm): number {
  return runnerOf(backend).threads;
}
