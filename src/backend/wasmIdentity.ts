import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';

/**
 * Identity for the wasm backend that shares the input's memory instead of copying it.
 *
 * The engine clones every tensor a gradient saves for the backward pass (a conv's input and
 * kernel, a ReLU's output, both sides of a multiply) through the Identity kernel, and the
 * stock wasm Identity copies the data: a dozen full-size copies a training step. Tensors are
 * immutable, so a clone can share the data under a reference count, as the cpu backend's
 * Identity and the wasm backend's own Reshape already do.
 */
function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const { x } = args.inputs as { x: tf.TensorInfo };
  (args.backend as BackendWasm).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

const config: tf.KernelConfig = {
  kernelName: 'Identity',
  backendName: 'wasm',
  kernelFunc: identity as tf.KernelFunc,
};

/** Replaces the wasm backend's copying Identity by a sharing one. Safe to call more than once. */
export function registerWasmIdentityKernel(): void {
  const current = tf.getKernel('Identity', 'wasm');
  if (current?.kernelFunc === config.kernelFunc) return;
  if (current !== undefined) tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel(config);
}
