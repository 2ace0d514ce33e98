import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';

/** The TensorFlow.js backends cifar-nets can run on, best first. */
export const BACKEND_NAMES = ['tensorflow', 'wasm', 'cpu'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];
export type BackendChoice = BackendName | 'auto';

/** Loads one backend and makes it current, or throws an Error whose message says why not. */
export type BackendLoader = () => Promise<void>;

/** A backend that `auto` passed over, and why. */
export interface SkippedBackend {
  name: BackendName;
  reason: string;
}

export interface BackendSelection {
  name: BackendName;
  skipped: SkippedBackend[];
}

export interface SelectBackendOptions {
  /** Replaces the real loaders, for tests of the fallback logic. */
  loaders?: Partial<Record<BackendName, BackendLoader>>;
  /** Where the one line naming the chosen backend goes; stderr by default, null for none. */
  log?: ((line: string) => void) | null;
  /**
   * Threads for the wasm backend. Default: one a CPU, up to 8 (defaultWasmThreads). 1 loads
   * the package's own single-threaded build; more load its threaded build (see wasmThreads.ts;
   * about 80 MB more memory), whose threads run the convolution and batch norm kernels.
   */
  wasmThreads?: number;
}

/** Most threads the wasm backend takes by default: the threaded build starts a pool of 8. */
export const MAX_DEFAULT_WASM_THREADS = 8;

/** The wasm backend's threads unless told otherwise: one a CPU, up to 8. */
export function defaultWasmThreads(): number {
  return Math.max(1, Math.min(os.cpus().length, MAX_DEFAULT_WASM_THREADS));
}

/** Thrown when a forced backend cannot load, or the choice is not a backend at all. */
export class BackendError extends Error {
  override name = 'BackendError';
}

/** Is `err` "this package is not installed", rather than a failure inside it? */
function isMissingModule(err: unknown, pkg: string): boolean {
  const e = err as { code?: string; message?: string };
  return e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${pkg}'`);
}

/**
 * tfjs-node-gpu runs on the GPU where CUDA 11.2 and cuDNN 8.1 are present and on its native
 * CPU kernels otherwise; plain tfjs-node, when that is what is installed, is the same
 * TensorFlow C library without CUDA. Either registers the backend named 'tensorflow'.
 */
async function loadTensorflow(): Promise<void> {
  const reasons: string[] = [];
  for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
    try {
      require(pkg);
      break;
    } catch (err) {
      reasons.push(
        isMissingModule(err, pkg)
          ? `${pkg} is not installed`
          : `${pkg} failed to load: ${(err as Error).message.split('\n')[0]}`,
      );
    }
  }
  if (tf.findBackend('tensorflow') === null) throw new Error(reasons.join('; '));
  await setOrThrow('tensorflow');
}

async function loadWasm(threads = defaultWasmThreads()): Promise<void> {
  require('@tensorflow/tfjs-backend-wasm');
  if (threads > 1 && tf.engine().registry.wasm === undefined) {
    const { registerThreadedWasmBackend } =
      require('./wasmThreads') as typeof import('./wasmThreads');
    registerThreadedWasmBackend(threads);
  }
  // The stock wasm backend lacks some gradient kernels (Conv2DBackpropFilter among them).
  const { registerWasmKernels } = require('./wasmKernels') as typeof import('./wasmKernels');
  await setOrThrow('wasm');
  registerWasmKernels();
}

async function loadCpu(): Promise<void> {
  await setOrThrow('cpu');
}

async function setOrThrow(name: BackendName): Promise<void> {
  // setBackend reports failure by returning false and logging a warning; make it an error.
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

const REAL_LOADERS: Record<BackendName, BackendLoader> = {
  tensorflow: loadTensorflow,
  wasm: () => loadWasm(),
  cpu: loadCpu,
};

const HOW_TO_FIX: Record<BackendName, string> = {
  tensorflow:
    'Install it with `npm install @tensorflow/tfjs-node-gpu` on a machine that can download ' +
    'libtensorflow (with CUDA 11.2 and cuDNN 8.1 for the GPU), or use --backend wasm.',
  wasm: 'Reinstall the package (npm ci), or use --backend cpu.',
  cpu: 'The pure JavaScript backend ships with @tensorflow/tfjs; reinstall the package (npm ci).',
};

/** Checks a user's backend choice, e.g. from `--backend`. */
export function parseBackendChoice(value: string): BackendChoice {
  if (value === 'auto' || (BACKEND_NAMES as readonly string[]).includes(value)) {
    return value as BackendChoice;
  }
  throw new BackendError(
    `Expected a backend of auto, ${BACKEND_NAMES.join(', ')}, but got '${value}'.`,
  );
}

/**
 * Makes the best backend that loads current: with `auto`, tensorflow then wasm then cpu,
 * each failure kept as the reason it was skipped; a forced choice that fails is a
 * BackendError saying why and what to do. Says the result once, on stderr.
 */
export async function selectBackend(
  choice: BackendChoice = 'auto',
  options: SelectBackendOptions = {},
): Promise<BackendSelection> {
  const wasm = () => loadWasm(options.wasmThreads);
  const loaders = { ...REAL_LOADERS, wasm, ...options.loaders };
  const log =
    options.log === undefined ? (line: string) => process.stderr.write(`${line}\n`) : options.log;
  const parsed = parseBackendChoice(choice);
  const candidates: BackendName[] = parsed === 'auto' ? [...BACKEND_NAMES] : [parsed];
  const skipped: SkippedBackend[] = [];
  for (const name of candidates) {
    try {
      await loaders[name]();
    } catch (err) {
      const reason = (err as Error).message;
      if (choice !== 'auto') {
        throw new BackendError(
          `Backend '${name}' could not be loaded: ${reason}. ${HOW_TO_FIX[name]}`,
        );
      }
      skipped.push({ name, reason });
      continue;
    }
    const why = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
    log?.(`backend: ${name}${why ? ` (skipped ${why})` : ''}`);
    return { name, skipped };
  }
  const reasons = skipped.map((s) => `${s.name}: ${s.reason}`).join('; ');
  throw new BackendError(
    `No TensorFlow.js backend could be loaded: ${reasons}. ` + 'Reinstall the package with npm ci.',
  );
}
