import { registerWasmBatchNormKernels } from './wasmBatchNorm';
import { registerWasmConvKernels } from './wasmConv';
import { registerWasmIdentityKernel } from './wasmIdentity';
import { registerWasmMatMulKernel } from './wasmMatMul';
import { registerWasmMaxPoolKernels } from './wasmMaxPool';
import { registerWasmReductionKernels } from './wasmReductions';

/**
 * Registers the kernels that make training on the wasm backend work and run fast: the
 * convolutions of ./wasmConv (forward, and the two gradients the stock backend lacks or runs
 * as scalar loops), the dense layers' gradient products of ./wasmMatMul on those same
 * kernels, the lesson's batch norm of ./wasmBatchNorm, the global max pool of ./wasmMaxPool,
 * the leading-axes Sum and Mean of ./wasmReductions that every bias and batch-statistics
 * gradient runs through, and the sharing Identity of ./wasmIdentity that saves tensors for
 * the backward pass without a copy. Safe to call more than once; call it once the wasm
 * backend is registered, before the first convolution.
 */
export function registerWasmKernels(): void {
  registerWasmReductionKernels();
  registerWasmIdentityKernel();
  registerWasmConvKernels();
  registerWasmMatMulKernel();
  registerWasmBatchNormKernels();
  registerWasmMaxPoolKernels();
}
