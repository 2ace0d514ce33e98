/**
 * Names and attributes of two optional kernels that a backend may register to run the
 * lesson's batch norm (bnNormalize) in fewer passes over memory; cifar-nets registers them on
 * the wasm backend (src/backend/wasmBatchNorm.ts). Where they are not registered, bnNormalize
 * composes the same computation from standard ops.
 *
 * BATCH_NORM:      inputs { x [n, h, w, c], m [c], a [c] }, attrs { relu }
 *                  -> [ y [n, h, w, c], mean [c], std [c] ]
 * BATCH_NORM_GRAD: inputs { dy, x, mean, std, m }, attrs { relu } -> [ dx, dm, da ]
 *
 * With relu, x is the convolution's output and the op normalises relu(x).
 */
export const BATCH_NORM = 'CifarNetsBatchNorm';
export const BATCH_NORM_GRAD = 'CifarNetsBatchNormGrad';

export interface BatchNormAttrs {
  relu: boolean;
}
