/**
 * Names and attributes of optional kernels that a backend may register to run the models'
 * own ops in fewer passes over memory; cifar-nets registers them on the wasm backend
 * (src/backend/wasmBatchNorm.ts, src/backend/wasmConv.ts). Where a backend has none, the ops
 * compose the same computation from standard ones.
 *
 * BATCH_NORM:      inputs { x [n, h, w, c], m [c], a [c] }, attrs { relu }
 *                  -> [ y [n, h, w, c], mean [c], std [c] ]
 * BATCH_NORM_GRAD: inputs { dy, x, mean, std, m }, attrs { relu } -> [ dx, dm, da ]
 *   The lesson's batch norm (bnNormalize); with relu, x is the convolution's output and the
 *   op normalises relu(x).
 *
 * RELU_BIAS_GRAD:  inputs { dy [n, h, w, c], y [n, h, w, c] }, attrs { relu }
 *                  -> [ g [n, h, w, c], db [c] ]
 *   Through a convolution's bias and ReLU (convBiasRelu): g = dy where y > 0 (everywhere
 *   without relu), else 0; db = g summed over n, h and w.
 */
export const BATCH_NORM = 'CifarNetsBatchNorm';
export const BATCH_NORM_GRAD = 'CifarNetsBatchNormGrad';
export const RELU_BIAS_GRAD = 'CifarNetsReluBiasGrad';

/** The attributes of every kernel above. */
export interface ReluAttrs {
  relu: boolean;
}
