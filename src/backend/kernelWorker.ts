import { workerData } from 'node:worker_threads';
import { JOB, readJob, waitForChange, type Kernels, type PoolShared } from './kernelPool';

/**
 * A thread of the kernel pool (./kernelPool): instantiates the kernels on the shared heap,
 * then waits for jobs and runs its part of each. It never returns; the pool unrefs it so that
 * it does not keep the process alive.
 */
const shared = workerData as PoolShared;
type Instance = { exports: Kernels };
const api = (
  globalThis as unknown as { WebAssembly: { Instance: new (m: object, i: object) => Instance } }
).WebAssembly;
const kernels = new api.Instance(shared.module, { env: { memory: shared.memory } }).exports;
const control = new Int32Array(shared.control);
let seen = 0;
for (;;) {
  seen = waitForChange(control, JOB.seq, seen);
  const job = readJob(control, shared.index, shared.names);
  try {
    if (job !== undefined) kernels[job.name](...job.args);
  } catch {
    Atomics.store(control, JOB.failed, 1);
  }
  Atomics.add(control, JOB.done, 1);
  Atomics.notify(control, JOB.done);
}
