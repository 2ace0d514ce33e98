import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * Threads for the wasm kernels of ./wasmModule on the threaded wasm backend.
 *
 * Each worker instantiates the kernels on the backend's shared heap, so a job is no more than
 * a kernel's name and, for every thread, its arguments (its slice of the pixels): no data is
 * copied or posted. The calling thread does the first part itself, then waits until the
 * workers are done. Threads spin a little before they sleep (see SPIN_MS), so that a job in a
 * run of them is handed over in microseconds.
 *
 * Imports nothing of TensorFlow.js: the worker script loads this file too.
 */

/**
 * How long a thread spins on the control block before it sleeps in Atomics.wait, in ms. The
 * jobs of a training step come a millisecond or so apart, and waking a sleeping worker took
 * 0.2 to 0.7 ms on the 2-vCPU machine this was written on (timed on the global max pool's
 * tiny jobs): spinning a little keeps a worker awake through most of a step.
 */
export const SPIN_MS = 2;

/**
 * Waits until control[index] is no longer `value`: spins for up to SPIN_MS, then sleeps.
 * Returns the new value.
 */
export function waitForChange(control: Int32Array, index: number, value: number): number {
  const until = performance.now() + SPIN_MS;
  for (let i = 0; Atomics.load(control, index) === value; i++) {
    if ((i & 1023) === 1023 && performance.now() > until) {
      Atomics.wait(control, index, value);
    }
  }
  return Atomics.load(control, index);
}

/** Word offsets in the control block. */
export const JOB = { seq: 0, done: 1, name: 2, failed: 3, parts: 4 } as const;

/** Most arguments a kernel takes, and most threads a pool has. */
const MAX_ARGS = 24;
export const MAX_THREADS = 16;
const PART = MAX_ARGS + 1;

/** What a worker is started with. */
export interface PoolShared {
  module: object;
  memory: object;
  control: SharedArrayBuffer;
  index: number;
  names: string[];
}

/** Thread `index`'s part of the current job: the kernel and its arguments, or none. */
export function readJob(control: Int32Array, index: number, names: string[]) {
  const at = JOB.parts + index * PART;
  const count = control[at];
  if (count === 0) return undefined;
  const args = Array.from(control.subarray(at + 1, at + 1 + count));
  return { name: names[control[JOB.name]], args };
}

export type Kernels = Record<string, (...args: number[]) => void>;

export class KernelPool {
  private readonly control: Int32Array;
  private readonly names: string[];
  private readonly workers: Worker[] = [];

  constructor(
    module: object,
    memory: object,
    private readonly kernels: Kernels,
    readonly threads: number,
  ) {
    if (threads < 1 || threads > MAX_THREADS) {
      throw new RangeError(`A kernel pool takes 1 to ${MAX_THREADS} threads, not ${threads}.`);
    }
    this.names = Object.keys(kernels);
    const buffer = new SharedArrayBuffer((JOB.parts + threads * PART) * 4);
    this.control = new Int32Array(buffer);
    for (let index = 1; index < threads; index++) {
      const workerData: PoolShared = { module, memory, control: buffer, index, names: this.names };
      const worker = new Worker(path.join(__dirname, 'kernelWorker.js'), { workerData });
      worker.unref();
      this.workers.push(worker);
    }
  }

  /**
   * Runs kernel `name` with `parts[i]` as the arguments of thread i (none where undefined),
   * and returns when every part is done.
   */
  run(name: string, parts: (number[] | undefined)[]): void {
    const c = this.control;
    for (let i = 1; i < this.threads; i++) {
      const args = parts[i] ?? [];
      const at = JOB.parts + i * PART;
      c[at] = args.length;
      for (let j = 0; j < args.length; j++) c[at + 1 + j] = args[j];
    }
    c[JOB.name] = this.names.indexOf(name);
    Atomics.store(c, JOB.done, 0);
    Atomics.store(c, JOB.failed, 0);
    Atomics.add(c, JOB.seq, 1);
    Atomics.notify(c, JOB.seq);
    let error: unknown;
    try {
      if (parts[0] !== undefined) this.kernels[name](...parts[0]);
    } catch (err) {
      error = err;
    }
    const others = this.threads - 1;
    for (let done = Atomics.load(c, JOB.done); done < others;) {
      done = waitForChange(c, JOB.done, done);
    }
    if (error !== undefined) throw error;
    if (Atomics.load(c, JOB.failed) !== 0) {
      throw new Error(`The wasm kernel ${name} failed on a worker thread.`);
    }
  }

  /** Stops the workers; the pool cannot run jobs after this. */
  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}
