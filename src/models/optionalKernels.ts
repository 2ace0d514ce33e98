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
 *
 * GLOBAL_MAX_POOL:      inputs { x [n, h, w, c] } -> [ y [n, c], at [n, c] int32 ]
 * GLOBAL_MAX_POOL_GRAD: inputs { dy [n, c], at [n, c] }, attrs { height, width } -> dx
 *   The largest value of each image's channel, and the first position (h * w order) where it
 *   is: the gradient goes to that position only, as in PyTorch (globalMaxPool).
 */
export const BATCH_NORM = 'CifarNetsBatchNorm';
export const BATCH_NORM_GRAD = 'CifarNetsBatchNormGrad';
export const RELU_BIAS_GRAD = 'CifarNetsReluBiasGrad';
export const GLOBAL_MAX_POOL = 'CifarNetsGlobalMaxPool';
export const GLOBAL_MAX_POOL_GRAD = 'CifarNetsGlobalMaxPoolGrad';

/** The attributes of the batch norm and bias kernels. */
export interface ReluAttrs {
  relu: boolean;
}

/** The attributes of GLOBAL_MAX_POOL_GRAD: the input's spatial size. */
export interface PoolGradAttrs {
  height: number;
  width: number;
}
