import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as wasmBackend from '@tensorflow/tfjs-backend-wasm';
import { setKernelThreads } from './wasmModule';

/**
 * The multithreaded wasm backend in Node.js, which tfjs-backend-wasm 4.22 does not load there.
 *
 * Three things stand in the way, none of which setWasmPaths or setThreadsCount fixes:
 * 1. Its WASM_HAS_MULTITHREAD_SUPPORT flag is hard-wired to false under Node.
 * 2. Forced on, it hands Emscripten a blob: URL for the pthread worker script and a Blob for
 *    the main script; Node's worker_threads takes only file paths, so starting a thread fails
 *    with ERR_WORKER_PATH.
 * 3. Its C++ side caps the XNNPACK thread pool at half of os.cpus().length (assuming two
 *    hyperthreads a core), so a 2-vCPU machine gets one thread whatever setThreadsCount says.
 *
 * registerThreadedWasmBackend re-registers the 'wasm' backend with a factory that loads the
 * threaded SIMD build itself: the worker script is written to a file in the temp folder, and
 * the main script is the package's own file.
 *
 * What the threads are for is the shared memory: this package's kernels (./wasmModule) run on
 * it with a pool of their own, `threads` threads in all. XNNPACK's pool, which the stock
 * kernels use, is kept at one thread (os.cpus() reports 2 while the module initialises): its
 * threads spin after each op, and on two cores that slowed the package's kernels by about a
 * tenth, more than XNNPACK's threads gained for the matrix products they run.
 * Emscripten starts its pool of 8 workers up front (about 10 MB of RSS each).
 */

/** The subset of the Emscripten module that BackendWasm needs, as the package builds it. */
interface EmscriptenModule {
  cwrap(name: string, ret: string | null, args: string[]): (...args: number[]) => unknown;
  tfjs?: Record<string, unknown>;
  PThread?: { runningWorkers: { unref(): void }[] };
}

type ModuleFactory = (config: Record<string, unknown>) => Promise<EmscriptenModule>;

/** Thrown when the threaded backend cannot be set up. */
export class WasmThreadsError extends Error {
  override name = 'WasmThreadsError';
}

function packageDir(): string {
  return path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
}

/** Writes the pthread worker script where worker_threads can load it; returns its path. */
function writeWorkerScript(dir: string): string {
  const source = path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  const { wasmWorkerContents } = require(source) as { wasmWorkerContents: string };
  // The exported text holds raw newlines where the script has "\n" escapes inside string
  // literals; the package escapes them the same way before making its Blob.
  const text = wasmWorkerContents.replace(/\n/g, '\\n');
  const version = wasmBackend.version_wasm;
  const file = path.join(os.tmpdir(), `cifar-nets-tfjs-wasm-${version}-worker.js`);
  if (!fs.existsSync(file) || fs.readFileSync(file, 'utf8') !== text) {
    // Written under a unique name, then renamed: a concurrent process never sees half a file.
    const partial = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(partial, text);
    fs.renameSync(partial, file);
  }
  return file;
}

async function createThreadedBackend(threads: number): Promise<wasmBackend.BackendWasm> {
  const dir = packageDir();
  const mainScript = path.join(dir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const binary = path.join(dir, 'dist', 'tfjs-backend-wasm-threaded-simd.wasm');
  const worker = writeWorkerScript(dir);
  const factory = require(mainScript) as ModuleFactory;

  // The C++ static initialiser sizes XNNPACK's pool as emscripten_num_logical_cores() / 2,
  // which in Node is os.cpus().length / 2: 2 makes it one thread on any machine. It runs while
  // the factory's promise is pending. The module object itself: the namespace import only has
  // getters.
  const osModule = require('node:os') as { cpus: typeof os.cpus };
  const realCpus = osModule.cpus;
  const cpus = realCpus();
  osModule.cpus = () => Array.from({ length: 2 }, (_, i) => cpus[i % cpus.length]);
  let module: EmscriptenModule;
  try {
    module = await factory({
      mainScriptUrlOrBlob: mainScript,
      locateFile: (file: string) =>
        file.endsWith('.worker.js') ? worker : file.endsWith('.wasm') ? binary : file,
    });
  } finally {
    osModule.cpus = realCpus;
  }
  // The same bindings the package's own init() adds.
  module.tfjs = {
    init: module.cwrap('init', null, []),
    initWithThreadsCount: module.cwrap('init_with_threads_count', null, ['number']),
    getThreadsCount: module.cwrap('get_threads_count', 'number', []),
    registerTensor: module.cwrap('register_tensor', null, ['number', 'number', 'number']),
    disposeData: module.cwrap('dispose_data', null, ['number']),
    dispose: module.cwrap('dispose', null, []),
  };
  wasmBackend.setThreadsCount(1);
  const backend = new wasmBackend.BackendWasm(module as never);
  setKernelThreads(backend, threads);
  // The pool's threads wait for work forever, and Emscripten keeps a running thread's worker
  // referenced, which would keep Node from exiting when the program is done.
  for (const running of module.PThread?.runningWorkers ?? []) running.unref();
  const got = wasmBackend.getThreadsCount();
  if (got !== 1) {
    throw new WasmThreadsError(
      `Expected the threaded wasm backend to keep XNNPACK at 1 thread, but it started ${got}. ` +
        'Use the single-threaded wasm backend (do not call registerThreadedWasmBackend).',
    );
  }
  return backend;
}

/**
 * Makes the 'wasm' backend the threaded SIMD build, with `threads` threads for this package's
 * kernels (default: one a CPU). Call before the wasm backend is first set;
 * selectBackend('wasm') then loads it.
 */
export function registerThreadedWasmBackend(threads = os.cpus().length): void {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new WasmThreadsError(`Expected threads to be a whole number >= 1, but got ${threads}.`);
  }
  if (tf.engine().registry.wasm !== undefined) {
    throw new WasmThreadsError(
      'The wasm backend is already initialised, single-threaded. Call ' +
        'registerThreadedWasmBackend before the first tf.setBackend("wasm").',
    );
  }
  tf.removeBackend('wasm');
  // Priority 2, as the package registers it.
  tf.registerBackend('wasm', () => createThreadedBackend(threads), 2);
}
